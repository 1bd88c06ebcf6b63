// --stats: what a payload cost — wall time, user and system CPU, peak resident memory,
// exit status and, where a driver is injected, GPU utilisation and memory — per rank, as JSON to a file or one line on
// stderr, so runs can be compared across platforms. With --stats hpai-run stays as a small parent that forwards signals
// and reports (run/supervise.hpp); without it, it execs in place.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpai/base/fd.hpp"
#include "hpai/batch/gpu_stats.hpp"
#include "hpai/batch/ranks.hpp"

namespace hpai {

struct PayloadStats {
  std::vector<std::string> argv;
  std::string host;
  RankInfo rank;
  std::string started;  // UTC, ISO 8601
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  long max_rss_kib = 0;
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool gpu_sampled = false;  // a driver was injected and NVML asked
  GpuReport gpu;
};

std::string stats_to_json(const PayloadStats& s);
std::string stats_to_line(const PayloadStats& s);

// Where stats go: SPEC "" is stderr; else a host file, "%r" replaced by the rank and
// "%h" by the host name (per-rank files: --stats=run.%r.json). Opened at once, on the
// host side, before any namespace hides the path.
class StatsSink {
 public:
  StatsSink(const std::string& spec, const RankInfo& rank);
  void write(const PayloadStats& s) const;
  const std::string& path() const { return path_; }
  // Starts sampling the GPUs VISIBLE names with NVML from LIBNVIDIA_ML (the host's, when
  // a profile injects the driver); call on the host side, before the namespaces.
  void start_gpu(const std::string& libnvidia_ml, const std::string& visible);
  // What the sampler saw, nullopt when none was started.
  std::optional<GpuReport> finish_gpu() const;

 private:
  std::string path_;
  UniqueFd fd_;
  mutable std::unique_ptr<GpuSampler> gpu_;
};

// Per-rank stats files merged: a table (or JSON) with totals: slowest rank, CPU summed,
// the largest RSS, failed ranks.
std::string merge_stats(const std::vector<std::string>& files, bool json);

}  // namespace hpai
