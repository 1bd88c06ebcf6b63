// The CUDA/driver table (native, minor-version and forward compatibility) and
// NVIDIA_REQUIRE_CUDA expressions.
#include "hpai/check/cuda_compat.hpp"

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"
#include "hpai/site/cuda_table_data.hpp"
#include "shell.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

TEST(CudaTable, NativeAndMinorVersionRules) {
  CudaTable t = CudaTable::builtin();
  EXPECT_EQ(t.driver_cuda("418.67"), "10.1");
  EXPECT_EQ(t.driver_cuda("450.80.02"), "11.0");
  EXPECT_EQ(t.driver_cuda("450.51.05"), "11.0");  // CUDA 11.0.2 GA's driver
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
  EXPECT_TRUE(t.verified("535.104.05"));  // every row is checked against NVIDIA's tables now
  EXPECT_TRUE(t.verified("580.95.05"));
  EXPECT_FALSE(t.source().empty());
  EXPECT_THROW(CudaTable::from_json("{\"native\": []}", "x.json"), Error);
}

TEST(CudaTable, RowsCarryTheirSourceAndANote) {
  // "source" and "note" are for readers of the file; the rules don't use them.
  CudaTable t = CudaTable::from_json(R"({"hpai_cuda_table": 1, "source": "a test",
    "native": [{"driver": "535.54.03", "cuda": "12.2", "verified": true, "source": "Table 3: CUDA 12.2 GA >=535.54.03"},
               {"driver": "550.54.14", "cuda": "12.4", "verified": false, "note": "not found in NVIDIA's text"}],
    "minor_version_compatibility": [{"cuda": "12", "driver": "525.60.13", "source": "Table 2", "note": "n"}]})",
                                     "x.json");
  EXPECT_EQ(t.driver_cuda("535.104.05"), "12.2");
  EXPECT_TRUE(t.verified("535.104.05"));
  EXPECT_EQ(t.driver_cuda("550.54.15"), "12.4");
  EXPECT_FALSE(t.verified("550.54.15"));
  EXPECT_EQ(t.minimum_driver("12.4"), "525.60.13");
}

TEST(CudaTable, BuiltinIsTheRecipeAndEveryRowNamesItsSource) {
  std::ifstream in(std::string(HPAI_TEST_SOURCE_DIR) + "/recipes/cuda-driver-table.json");
  const std::string recipe((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(recipe.empty());
  // CMake reads the file when it configures: an edit needs a re-run of cmake to be compiled in.
  EXPECT_TRUE(nlohmann::json::parse(kBuiltinCudaTable) == nlohmann::json::parse(recipe))
      << "the compiled-in CUDA table is older than recipes/cuda-driver-table.json: re-run cmake";
  const auto j = nlohmann::json::parse(recipe);
  for (const char* list : {"native", "minor_version_compatibility"})
    for (const auto& row : j.at(list)) {
      EXPECT_FALSE(row.value("source", "").empty()) << list << ": " << row.dump();
      if (!row.value("verified", true)) {
        EXPECT_FALSE(row.value("note", "").empty()) << list << ": " << row.dump();
      }
    }
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
