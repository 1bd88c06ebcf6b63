// The generated /etc/passwd and /etc/group: the user inside, fixed entries, no forged fields.
#include "hpai/run/passwd.hpp"

#include <gtest/gtest.h>

namespace hpai {
namespace {

TEST(Passwd, RootNobodyAndTheUser) {
  Identity id{1000, 1000, "alice", "staff", "Alice A.", "/home/alice"};
  EXPECT_EQ(make_passwd(id),
            "root:x:0:0:root:/root:/bin/sh\n"
            "alice:x:1000:1000:Alice A.:/home/alice:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/:/bin/false\n");
  EXPECT_EQ(make_group(id), "root:x:0:\nstaff:x:1000:\nnogroup:x:65534:\n");
}

TEST(Passwd, ContainerRootHasNoSecondEntry) {
  Identity id{0, 0, "root", "root", "", "/"};
  EXPECT_EQ(make_passwd(id), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  EXPECT_EQ(make_group(id), "root:x:0:\nnogroup:x:65534:\n");
}

TEST(Passwd, NamesThatClashWithFixedEntriesAreRenamed) {
  // Host root running with -u 1000: its host name "root" can't also name uid 1000.
  Identity id{1000, 2000, "root", "nogroup", "", "/"};
  EXPECT_NE(make_passwd(id).find("\nuser1000:x:1000:2000:"), std::string::npos) << make_passwd(id);
  EXPECT_NE(make_group(id).find("\ngroup2000:x:2000:\n"), std::string::npos) << make_group(id);
}

TEST(Passwd, GecosCannotForgeFields) {
  Identity id{1000, 1000, "mallory", "m", "x:0:0:\nroot2", "/"};
  std::string pw = make_passwd(id);
  EXPECT_NE(pw.find("mallory:x:1000:1000:x 0 0  root2:/:/bin/sh\n"), std::string::npos) << pw;
}

TEST(Passwd, HostIdentityFallsBackToDummies) {
  Identity id = host_identity(4000000, 4000000, "");
  EXPECT_EQ(id.user, "hpaiuser");
  EXPECT_EQ(id.group, "hpaigroup");
  EXPECT_EQ(host_identity(4000000, 4000000, "fromenv").user, "fromenv");
  EXPECT_EQ(host_identity(0, 0, "").user, "root");
}

}  // namespace
}  // namespace hpai
