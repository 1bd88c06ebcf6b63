// Finding the host's NVIDIA driver without NVIDIA's tools: its libraries from the
// linker cache (every file whose name ends in the driver version, the rule
// libnvidia-container uses, so new driver libraries are never missed), grouped by
// capability; its binaries, devices and IPC sockets. profile_plan.cpp injects them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/environment.hpp"

namespace hpai {

struct NvidiaLibrary {
  std::string path;                // host file, symlinks resolved: .../libcuda.so.580.95.05
  std::vector<std::string> names;  // names to offer in the container: libcuda.so.1, libcuda.so
  std::string capability;          // compute, utility, video, graphics; "" when not in the table
};

struct NvidiaDriver {
  std::string version;  // "580.95.05", from the library file names
  std::vector<NvidiaLibrary> libraries;
  std::vector<std::string> binaries;  // host paths
  std::vector<std::string> devices;   // /dev/nvidia*, present on the host
  std::vector<std::string> ipc;       // persistenced socket, MPS pipe directory
  std::string nvml;                   // host path of libnvidia-ml, "" when absent
};

struct NvidiaSearch {
  std::string ld_cache = "/etc/ld.so.cache";
  std::vector<std::string> capabilities = {"compute", "utility"};
  const Environment* host_env = nullptr;  // PATH for binaries, CUDA_MPS_PIPE_DIRECTORY
  std::string dev_dir = "/dev";
};

// nullopt when the cache holds no versioned libcuda or libnvidia-ml (no driver here).
std::optional<NvidiaDriver> discover_nvidia_driver(const NvidiaSearch& search);

// The capability a driver library belongs to, by linker name ("libcuda" -> "compute").
std::string nvidia_capability(std::string_view linker_name);

// What NVML says, asked in a forked child so the driver library never enters the
// launcher's own process.
struct NvmlInfo {
  bool ok = false;
  std::string driver_version;
  int cuda_version = 0;  // 12020 means CUDA 12.2
  int device_count = 0;
  std::string brand;  // GPU 0's, lower case as nvml_brand_name says; "" unknown
  std::string error;
};
// NVML's brand number as a name: 2 "tesla", 14 "nvidia", 5 "geforce", ...; "" unknown.
std::string nvml_brand_name(int brand);
NvmlInfo query_nvml(const std::string& libnvidia_ml, int timeout_ms = 5000);

}  // namespace hpai
