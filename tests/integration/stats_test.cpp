// hpai-run --stats and hpai-stats: the payload's costs per rank, exit status and
// signals passed through the supervising parent.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Stats : public ContainerTest {};
INSTANTIATE_TEST_SUITE_P(, Stats, ::testing::Values(As::Unprivileged, As::Root), as_name);

std::string hpai_stats() { return hpai_check().substr(0, hpai_check().rfind('/')) + "/hpai-stats"; }

TEST_P(Stats, LineOnStderrAndTheExitCode) {
  Result r = hpai({"--stats", test_image("busybox"), "--", "sh", "-c",
                   "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_TRUE(contains(r.err, "hpai-run: stats: wall ")) << r;
  EXPECT_TRUE(contains(r.err, ", exit 3\n")) << r;
  double user = -1;
  std::sscanf(r.err.substr(r.err.find(", user ")).c_str(), ", user %lf", &user);
  EXPECT_GT(user, 0.05) << r;  // the loop's CPU time, counted through wait4
}

TEST_P(Stats, JsonFileWhenKilledBySignal) {
  const std::string file = scratch().path() + "/s.json";
  Result r = hpai({"--stats=" + file, test_image("busybox"), "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.signal, SIGTERM) << r;  // the supervisor ends as its payload did
  auto j = nlohmann::json::parse(read_file(file));
  EXPECT_EQ(j["signal"], SIGTERM);
  EXPECT_EQ(j["signal_name"], "SIGTERM");
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_EQ(j["argv"][0], "sh");
  EXPECT_GT(j["max_rss_kib"].get<long>(), 0);
}

// GPU use, from the fake NVML of the fake driver tree (two GPUs at 37% and 80%, 1 and
// 2 GiB in use), sampled by a helper on the host side while the payload runs.
TEST_P(Stats, GpuUtilisationAndMemoryFromNvml) {
  const std::string d = test_image("fake-driver");
  if (access(test_image("cuda.unavailable").c_str(), F_OK) == 0)
    GTEST_SKIP() << "CUDA fixtures not built: " << read_file(test_image("cuda.unavailable"));
  const std::string profile = scratch().path() + "/gpu.json";
  write_file(profile,
             R"({"hpai_profile": 1, "nvidia": {"enabled": true, "ld_cache": ")" + d + R"(/etc/ld.so.cache"}})");
  run_as(root_user(), {"chmod", "a+r", profile});
  const std::string file = scratch().path() + "/gpu-stats.json";
  Result r = hpai({"--stats=" + file, "--profile", profile, test_image("busybox"), "--", "sleep", "0.6"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto j = nlohmann::json::parse(read_file(file));
  ASSERT_EQ(j["gpus"].size(), 2u) << j.dump();
  EXPECT_EQ(j["gpus"][0]["name"], "Fake GPU 0");
  EXPECT_DOUBLE_EQ(j["gpus"][0]["util_mean_pct"].get<double>(), 37);
  EXPECT_EQ(j["gpus"][1]["util_max_pct"], 80);
  EXPECT_DOUBLE_EQ(j["gpus"][1]["mem_used_max_mib"].get<double>(), 2048);
  EXPECT_DOUBLE_EQ(j["gpus"][1]["mem_total_mib"].get<double>(), 81920);
  EXPECT_GE(j["gpus"][0]["samples"].get<int>(), 2);  // every 250 ms over 0.6 s
  EXPECT_FALSE(j.contains("gpu_error"));

  // Only the payload's GPUs; a device NVML doesn't have is said, the payload still runs.
  Result one = hpai({"--stats", "--profile", profile, test_image("busybox"), "--", "true"}, {"CUDA_VISIBLE_DEVICES=1"});
  EXPECT_EQ(one.exit_code, 0) << one;
  EXPECT_TRUE(contains(one.err, ", GPU 1 util 80% (max 80%) mem 2048/81920 MiB\n")) << one;
  EXPECT_FALSE(contains(one.err, "GPU 0")) << one;
  Result bad = hpai({"--stats", "--profile", profile, test_image("busybox"), "--", "true"}, {"CUDA_VISIBLE_DEVICES=5"});
  EXPECT_EQ(bad.exit_code, 0) << bad;
  EXPECT_TRUE(contains(bad.err, ", GPU: no GPU 5 (NVML sees 2)\n")) << bad;

  // Without an injected driver nothing is sampled and the JSON has no "gpus".
  Result plain = hpai({"--stats=" + file, test_image("busybox"), "--", "true"});
  EXPECT_EQ(plain.exit_code, 0) << plain;
  EXPECT_FALSE(nlohmann::json::parse(read_file(file)).contains("gpus"));
}

TEST_P(Stats, SignalsAreForwardedToThePayload) {
  const std::string ready = scratch().path() + "/ready";
  Result r = run_as(
      who(),
      {hpai_run(), "--stats", test_image("busybox"), "--", "sh", "-c",
       "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 7' TERM; touch /tmp/ready; while :; do sleep 0.05; done"},
      {"TMPDIR=" + scratch().path()}, "/", [&](pid_t pid) {
        for (int i = 0; i < 200 && access(ready.c_str(), F_OK) != 0; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        kill(pid, SIGUSR1);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        kill(pid, SIGTERM);
      });
  EXPECT_EQ(r.exit_code, 7) << r;
  EXPECT_EQ(r.out, "got USR1\ngot TERM\n") << r;
  EXPECT_TRUE(contains(r.err, ", exit 7\n")) << r;
}

TEST_P(Stats, PerRankFilesMerged) {
  std::vector<std::string> argv = {"mpiexec", "--oversubscribe", "-n", "3"};
  if (GetParam() == As::Root) argv.push_back("--allow-run-as-root");
  const std::string pattern = scratch().path() + "/run.%r.json";
  for (const auto& a :
       {hpai_run(), "--stats=" + pattern, test_image("busybox"), std::string("--"), std::string("true")})
    argv.push_back(a);
  Result r = run_as(who(), argv, {}, scratch().path());
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    files.push_back(scratch().path() + "/run." + std::to_string(i) + ".json");
    auto j = nlohmann::json::parse(read_file(files.back()));
    EXPECT_EQ(j["rank"], i);
    EXPECT_EQ(j["size"], 3);
    EXPECT_EQ(j["launcher"], "Open MPI");
    EXPECT_EQ(j["exit_code"], 0);
  }
  std::vector<std::string> merge = {hpai_stats()};
  merge.insert(merge.end(), files.begin(), files.end());
  Result m = run_as(who(), merge);
  ASSERT_EQ(m.exit_code, 0) << m;
  EXPECT_TRUE(contains(m.out, "3 rank(s): slowest ")) << m;
  EXPECT_TRUE(contains(m.out, ", 0 failed\n")) << m;
  merge.push_back("--json");
  auto j = nlohmann::json::parse(run_as(who(), merge).out);
  EXPECT_EQ(j["ranks"], 3);
}

}  // namespace
}  // namespace hpai::test
