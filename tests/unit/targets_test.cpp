// Driver matrices and --target specs: the recipe parses, errors have positions.
#include "hpai/check/targets.hpp"

#include <gtest/gtest.h>

#include <set>

#include "hpai/base/error.hpp"
#include "shell.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

TEST(Matrix, TheRecipeParsesAndErrorsHavePositions) {
  auto targets = read_matrix(std::string(HPAI_TEST_SOURCE_DIR) + "/recipes/driver-matrix.json");
  ASSERT_GE(targets.size(), 7u);
  std::set<std::string> drivers;
  for (const auto& t : targets) drivers.insert(t.driver.substr(0, 3));
  for (const char* branch : {"418", "450", "470", "525", "535", "550", "580"})
    EXPECT_TRUE(drivers.count(branch)) << branch;
  try {
    parse_matrix(R"({"hpai_matrix": 1,
  "targets": [{"name": "a", "arch": "ppc64el", "drivr": "535"}]})",
                 "m.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("m.json:2:48: error: unknown key \"drivr\" in a target; did you mean \"driver\"?"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("unknown architecture \"ppc64el\""), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean \"ppc64le\"?"), std::string::npos) << m;
  }
  EXPECT_THROW(target_from_spec("name=x,drver=1"), Error);
  Target t = target_from_spec("name=summit,arch=ppc64le,driver=418.67,brand=tesla,glibc=2.17");
  EXPECT_EQ(t.arch, "ppc64le");
  EXPECT_EQ(t.injected_glibc, "2.17");
}

}  // namespace
}  // namespace hpai
