#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/run/passwd.hpp"
#include "hpai/run/userns.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

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

TEST(UserNs, MapLines) {
  IdMap m{1234, 1000, 5678, 100};
  EXPECT_EQ(uid_map_line(m), "1234 1000 1\n");
  EXPECT_EQ(gid_map_line(m), "5678 100 1\n");
  EXPECT_NO_THROW(refuse_setuid());  // the test binary is not setuid
}

class ImageConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
  }
  test::TempDir tmp_;
  std::string root_;
};

TEST_F(ImageConfigTest, RoundTrip) {
  ImageConfig c;
  c.env = {"PATH=/usr/bin", "A=b=c"};
  c.workdir = "/work";
  c.entrypoint = {"/bin/sh", "-c"};
  c.cmd = {"echo hi"};
  c.user = "1000:1000";
  c.architecture = "arm64";
  c.os = "linux";
  c.labels = {{"k", "v"}};
  write_image_config(root_, c);
  ImageConfig r = read_image_config(root_);
  EXPECT_EQ(r.env, c.env);
  EXPECT_EQ(r.workdir, c.workdir);
  EXPECT_EQ(r.entrypoint, c.entrypoint);
  EXPECT_EQ(r.cmd, c.cmd);
  EXPECT_EQ(r.user, c.user);
  EXPECT_EQ(r.architecture, "arm64");
  EXPECT_EQ(r.labels, c.labels);
  EXPECT_EQ(r.metadata_path, root_ + "/.hpai/image.json");
}

TEST_F(ImageConfigTest, NoMetadataIsAnEmptyConfig) {
  ImageConfig r = read_image_config(root_);
  EXPECT_TRUE(r.env.empty());
  EXPECT_TRUE(r.metadata_path.empty());
}

TEST_F(ImageConfigTest, CharliecloudEnvironmentFileIsUsed) {
  fs::create_directories(root_ + "/ch");
  std::ofstream(root_ + "/ch/environment") << "PATH=/opt/bin:/usr/bin\nX='y'\n";
  ImageConfig r = read_image_config(root_);
  EXPECT_EQ(r.env, (std::vector<std::string>{"PATH=/opt/bin:/usr/bin", "X=y"}));
}

TEST_F(ImageConfigTest, MalformedMetadataIsAnError) {
  fs::create_directories(root_ + "/.hpai");
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {"{not json", "is not valid JSON"},
      {"[]", "top level must be an object"},
      {R"({"hpai_image_version": 99})", "hpai_image_version 99 is not supported"},
      {R"({"hpai_image_version": 1, "config": {"Env": "PATH=/bin"}})", "\"Env\" must be a list of strings"},
      {R"({"hpai_image_version": 1, "config": {"Env": ["NOEQUALS"]}})", "Env entry \"NOEQUALS\" is not NAME=VALUE"},
      {R"({"hpai_image_version": 1, "config": {"WorkingDir": 3}})", "\"WorkingDir\" must be a string"},
  };
  for (const auto& c : cases) {
    std::ofstream(root_ + "/.hpai/image.json", std::ios::trunc) << c.json;
    try {
      read_image_config(root_);
      ADD_FAILURE() << "accepted " << c.json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace hpai
