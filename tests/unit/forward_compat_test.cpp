// The one CUDA forward-compatibility rule hpai-check and hpai-run share.
#include "hpai/site/forward_compat.hpp"

#include <gtest/gtest.h>

#include "hpai/site/nvidia.hpp"

namespace hpai {
namespace {

using V = ForwardCompat::Verdict;

std::vector<CompatLibcuda> compat(std::initializer_list<const char*> versions) {
  std::vector<CompatLibcuda> out;
  for (const char* v : versions) out.push_back({v, "/usr/local/cuda/compat"});
  return out;
}

TEST(ForwardCompat, TheRule) {
  const CudaTable t = CudaTable::builtin();
  // Native: 580 runs CUDA 13.0; nothing to do, compat or not.
  EXPECT_EQ(decide_forward_compat(t, "13.0", compat({"590.44.01"}), "580.95.05", "").verdict, V::NotNeeded);
  EXPECT_EQ(decide_forward_compat(t, "", compat({"590.44.01"}), "580.95.05", "").verdict, V::NotNeeded);
  // Needed and served: by brand.
  auto d = decide_forward_compat(t, "13.1", compat({"590.44.01"}), "580.95.05", "tesla");
  EXPECT_EQ(d.verdict, V::Use);
  EXPECT_EQ(d.compat.version, "590.44.01");
  EXPECT_EQ(d.native, "13.0");
  EXPECT_TRUE(d.use());
  EXPECT_EQ(decide_forward_compat(t, "13.1", compat({"590.44.01"}), "580.95.05", "NVIDIA").verdict, V::Use);
  d = decide_forward_compat(t, "13.1", compat({"590.44.01"}), "580.95.05", "");
  EXPECT_EQ(d.verdict, V::UseIfDatacenter);
  EXPECT_TRUE(d.use());
  d = decide_forward_compat(t, "13.1", compat({"590.44.01"}), "580.95.05", "geforce");
  EXPECT_EQ(d.verdict, V::WrongGpu);
  EXPECT_FALSE(d.use());
  // Never the driver's own branch, an older one, or one too old for the image's CUDA.
  EXPECT_EQ(decide_forward_compat(t, "13.1", compat({"580.126.09"}), "580.95.05", "tesla").verdict, V::NoCompat);
  EXPECT_EQ(decide_forward_compat(t, "12.8", compat({"550.54.15"}), "535.104.05", "tesla").verdict, V::NoCompat);
  EXPECT_EQ(decide_forward_compat(t, "12.8", compat({"570.86.10"}), "535.104.05", "tesla").verdict, V::Use);
  // The first that serves wins, in the image's order.
  d = decide_forward_compat(t, "12.8", compat({"550.54.15", "570.86.10"}), "535.104.05", "tesla");
  EXPECT_EQ(d.compat.version, "570.86.10");
}

TEST(ForwardCompat, NvmlBrands) {
  EXPECT_EQ(nvml_brand_name(2), "tesla");
  EXPECT_EQ(nvml_brand_name(14), "nvidia");
  EXPECT_EQ(nvml_brand_name(5), "geforce");
  EXPECT_EQ(nvml_brand_name(9), "virtual");
  EXPECT_EQ(nvml_brand_name(-1), "");
  EXPECT_TRUE(datacenter_brand(nvml_brand_name(2)));
  EXPECT_TRUE(datacenter_brand(nvml_brand_name(14)));
  EXPECT_FALSE(datacenter_brand(nvml_brand_name(13)));  // NVIDIA RTX: a workstation
  EXPECT_FALSE(datacenter_brand(""));
}

}  // namespace
}  // namespace hpai
