// What hpai-profile nvidia and hpai-run --dry-run say about the host's NVIDIA driver.
#pragma once

#include <string>

#include "hpai/site/nvidia.hpp"

namespace hpai {

// "driver 550.54.15, CUDA 12.4, 8 device(s)", or NVML's error.
std::string describe_nvml(const NvmlInfo& nvml);

// The driver hpai would inject (found in LD_CACHE) and what NVML says of it.
std::string driver_report_text(const NvidiaDriver& driver, const NvmlInfo& nvml, const std::string& ld_cache);
std::string driver_report_json(const NvidiaDriver& driver, const NvmlInfo& nvml);

}  // namespace hpai
