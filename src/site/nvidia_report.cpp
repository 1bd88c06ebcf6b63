#include "hpai/site/nvidia_report.hpp"

#include <nlohmann/json.hpp>

namespace hpai {

namespace {

std::string capability_of(const NvidiaLibrary& l) { return l.capability.empty() ? "unlisted" : l.capability; }

std::string padded(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

}  // namespace

std::string describe_nvml(const NvmlInfo& i) {
  if (!i.ok) return i.error;
  return "driver " + i.driver_version + ", CUDA " + std::to_string(i.cuda_version / 1000) + "." +
         std::to_string(i.cuda_version % 1000 / 10) + ", " + std::to_string(i.device_count) + " device(s)";
}

std::string driver_report_text(const NvidiaDriver& d, const NvmlInfo& nvml, const std::string& ld_cache) {
  std::string out = "driver:    " + d.version + " (from " + ld_cache + ")\nNVML:      " + describe_nvml(nvml) + "\n";
  for (const auto& l : d.libraries) out += "  " + padded(capability_of(l), 9) + " " + l.path + "\n";
  for (const auto& b : d.binaries) out += "  binary    " + b + "\n";
  for (const auto& v : d.devices) out += "  device    " + v + "\n";
  for (const auto& i : d.ipc) out += "  ipc       " + i + "\n";
  return out;
}

std::string driver_report_json(const NvidiaDriver& d, const NvmlInfo& nvml) {
  using nlohmann::json;
  json j = {{"version", d.version}, {"binaries", d.binaries}, {"devices", d.devices}, {"ipc", d.ipc}};
  j["nvml"] = nvml.ok ? json{{"driver_version", nvml.driver_version},
                             {"cuda_version", nvml.cuda_version},
                             {"devices", nvml.device_count}}
                      : json{{"error", nvml.error}};
  for (const auto& l : d.libraries)
    j["libraries"].push_back({{"path", l.path}, {"names", l.names}, {"capability", capability_of(l)}});
  return j.dump(2) + "\n";
}

}  // namespace hpai
