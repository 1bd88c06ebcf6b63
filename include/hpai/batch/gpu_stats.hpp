// GPU use of a payload, for --stats: a helper process forked on the host side, before
// any namespace is made, loads NVML (never into hpai-run itself, as query_nvml) and
// samples the payload's GPUs every 250 ms until the payload ends: utilisation (mean
// and peak, NVML's own per-sample average) and the peak of device memory in use.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "hpai/base/fd.hpp"

namespace hpai {

struct GpuUsage {
  int index = 0;
  std::string name;
  double util_mean = 0;  // percent
  int util_max = 0;
  double mem_used_max_mib = 0;  // whole device: NVML can't attribute memory to a namespace
  double mem_total_mib = 0;
  int samples = 0;
};

struct GpuReport {
  std::vector<GpuUsage> gpus;
  std::string error;  // why there is nothing (NVML failed, no such device)
};

// Which devices a payload sees, from its CUDA_VISIBLE_DEVICES (else
// NVIDIA_VISIBLE_DEVICES): indices, or "all"/"" for all. UUIDs and MIG names select all
// (NVML would be needed to map them; the report names each device).
std::vector<int> visible_gpu_indices(const std::string& visible);

class GpuSampler {
 public:
  GpuSampler(const std::string& libnvidia_ml, const std::string& visible);
  ~GpuSampler();
  GpuSampler(const GpuSampler&) = delete;
  GpuSampler& operator=(const GpuSampler&) = delete;
  // Ends the sampling and returns what was seen (once; later calls return an error).
  GpuReport stop();

 private:
  void reap();  // ends the helper (if still there) and waits for it
  pid_t pid_ = -1;
  UniqueFd stop_, result_;
};

}  // namespace hpai
