// The CUDA/driver table (native, minor-version and forward compatibility) and
// NVIDIA_REQUIRE_CUDA expressions.
#include "hpai/check/cuda_compat.hpp"

#include <gtest/gtest.h>

#include "hpai/base/error.hpp"
#include "shell.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

TEST(CudaTable, NativeAndMinorVersionRules) {
  CudaTable t = CudaTable::builtin();
  EXPECT_EQ(t.driver_cuda("418.67"), "10.1");
  EXPECT_EQ(t.driver_cuda("450.80.02"), "11.0");
  EXPECT_EQ(t.driver_cuda("470.57.02"), "11.4");
  EXPECT_EQ(t.driver_cuda("535.104.05"), "12.2");
  EXPECT_EQ(t.driver_cuda("550.54.15"), "12.4");
  EXPECT_EQ(t.driver_cuda("580.95.05"), "13.0");
  EXPECT_EQ(t.driver_cuda("396.26"), "");
  EXPECT_EQ(t.minimum_driver("10.2"), "440.33");
  EXPECT_EQ(t.minimum_driver("11.8"), "450.80.02");
  EXPECT_EQ(t.minimum_driver("12.4"), "525.60.13");
  EXPECT_EQ(t.minimum_driver("9.2"), "");
  EXPECT_TRUE(t.verified("470.57.02"));
  EXPECT_FALSE(t.verified("535.104.05"));
  EXPECT_FALSE(t.source().empty());
  EXPECT_THROW(CudaTable::from_json("{\"native\": []}", "x.json"), Error);
}

TEST(CompareVersions, Numeric) {
  EXPECT_GT(compare_versions("12.10", "12.9"), 0);
  EXPECT_EQ(compare_versions("470", "470.0.0"), 0);
  EXPECT_GT(compare_versions("470.57.02", "470"), 0);
  EXPECT_LT(compare_versions("2.28", "2.34"), 0);
}

TEST(RequireCuda, SpaceIsOrCommaIsAnd) {
  const std::string req = "cuda>=12.2 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=525,driver<526";
  using S = RequireResult::State;
  EXPECT_EQ(evaluate_require_cuda(req, {"12.2", "535.104.05", "", ""}).state, S::Satisfied);      // cuda>=12.2
  EXPECT_EQ(evaluate_require_cuda(req, {"11.4", "470.57.02", "tesla", ""}).state, S::Satisfied);  // 2nd group
  auto geforce = evaluate_require_cuda(req, {"11.4", "470.57.02", "geforce", ""});
  EXPECT_EQ(geforce.state, S::Unsatisfied);
  EXPECT_NE(geforce.detail.find("unsatisfied condition: cuda>=12.2"), std::string::npos) << geforce.detail;
  auto unknown = evaluate_require_cuda(req, {"11.4", "470.57.02", "", ""});
  EXPECT_EQ(unknown.state, S::Undecided);
  EXPECT_NE(unknown.detail.find("brand=tesla"), std::string::npos) << unknown.detail;
  EXPECT_EQ(evaluate_require_cuda("cuda>=11.0 arch>=7.0", {"11.0", "450.80.02", "", ""}).state, S::Satisfied);
  EXPECT_EQ(evaluate_require_cuda("", {"11.0", "450", "", ""}).state, S::Satisfied);
  EXPECT_THROW(evaluate_require_cuda("cuda>>12", {"12.0", "525", "", ""}), Error);
  EXPECT_THROW(evaluate_require_cuda("gpu>=1", {"12.0", "525", "", ""}), Error);
  EXPECT_THROW(evaluate_require_cuda("brand>tesla", {"12.0", "525", "tesla", ""}), Error);
}

}  // namespace
}  // namespace hpai
