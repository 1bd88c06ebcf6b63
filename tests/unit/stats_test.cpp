// --stats formatting and the GPU selection, without running anything.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hpai/batch/gpu_stats.hpp"
#include "hpai/batch/stats.hpp"

namespace hpai {
namespace {

TEST(VisibleGpus, IndicesAllAndNames) {
  EXPECT_EQ(visible_gpu_indices(""), std::vector<int>{});
  EXPECT_EQ(visible_gpu_indices("all"), std::vector<int>{});
  EXPECT_EQ(visible_gpu_indices("2,5"), (std::vector<int>{2, 5}));
  EXPECT_EQ(visible_gpu_indices("0,,1"), (std::vector<int>{0, 1}));
  // UUIDs and MIG names can't be mapped without NVML: all devices are reported.
  EXPECT_EQ(visible_gpu_indices("GPU-8a1b,GPU-9c2d"), std::vector<int>{});
  EXPECT_EQ(visible_gpu_indices("MIG-GPU-8a1b/1/0"), std::vector<int>{});
}

PayloadStats sample() {
  PayloadStats s;
  s.argv = {"python", "train.py"};
  s.host = "n01";
  s.rank.rank = 3;
  s.rank.size = 8;
  s.wall_s = 12.5;
  s.user_s = 40;
  s.sys_s = 1;
  s.max_rss_kib = 2048;
  s.exit_code = 0;
  return s;
}

TEST(StatsFormat, GpusInTheLineAndTheJson) {
  PayloadStats s = sample();
  s.gpu_sampled = true;
  s.gpu.gpus = {{1, "NVIDIA H100", 87.4, 100, 40960, 81559, 50}};
  EXPECT_EQ(stats_to_line(s),
            "hpai-run: stats: rank 3/8, wall 12.500 s, user 40.000 s, sys 1.000 s, max RSS 2048 KiB, exit 0, "
            "GPU 1 util 87% (max 100%) mem 40960/81559 MiB\n");
  auto j = nlohmann::json::parse(stats_to_json(s));
  ASSERT_EQ(j["gpus"].size(), 1u);
  EXPECT_EQ(j["gpus"][0]["name"], "NVIDIA H100");
  EXPECT_DOUBLE_EQ(j["gpus"][0]["util_mean_pct"].get<double>(), 87.4);
  EXPECT_FALSE(j.contains("gpu_error"));
}

TEST(StatsFormat, NoGpuKeysWithoutADriverAndTheErrorWhenNvmlFailed) {
  PayloadStats s = sample();
  EXPECT_FALSE(nlohmann::json::parse(stats_to_json(s)).contains("gpus"));
  s.gpu_sampled = true;
  s.gpu.error = "nvmlInit returned 9";
  EXPECT_EQ(nlohmann::json::parse(stats_to_json(s))["gpu_error"], "nvmlInit returned 9");
  EXPECT_TRUE(stats_to_line(s).ends_with(", exit 0, GPU: nvmlInit returned 9\n")) << stats_to_line(s);
}

}  // namespace
}  // namespace hpai
