// The user namespace's id maps and the refusal to run setuid.
#include "hpai/run/userns.hpp"

#include <gtest/gtest.h>

namespace hpai {
namespace {

TEST(UserNs, MapLines) {
  IdMap m{1234, 1000, 5678, 100};
  EXPECT_EQ(uid_map_line(m), "1234 1000 1\n");
  EXPECT_EQ(gid_map_line(m), "5678 100 1\n");
  EXPECT_NO_THROW(refuse_setuid());  // the test binary is not setuid
}

}  // namespace
}  // namespace hpai
