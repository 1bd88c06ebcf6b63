#include "hpai/batch/stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"
#include "hpai/base/host_info.hpp"

namespace hpai {

namespace {

std::string replace_all(std::string s, const std::string& what, const std::string& with) {
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + with.size()))
    s.replace(p, what.size(), with);
  return s;
}

nlohmann::json optional_int(const std::optional<int>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

std::string stats_to_json(const PayloadStats& s) {
  nlohmann::json j = {{"hpai_stats", 1},
                      {"argv", s.argv},
                      {"host", s.host},
                      {"launcher", std::string(launcher_name(s.rank.launcher))},
                      {"rank", optional_int(s.rank.rank)},
                      {"size", optional_int(s.rank.size)},
                      {"local_rank", optional_int(s.rank.local_rank)},
                      {"job", s.rank.job},
                      {"started", s.started},
                      {"wall_s", s.wall_s},
                      {"user_s", s.user_s},
                      {"sys_s", s.sys_s},
                      {"max_rss_kib", s.max_rss_kib},
                      {"exit_code", s.exit_code == -1 ? nlohmann::json(nullptr) : nlohmann::json(s.exit_code)},
                      {"signal", s.signal == 0 ? nlohmann::json(nullptr) : nlohmann::json(s.signal)},
                      {"signal_name", s.signal == 0 ? nlohmann::json(nullptr)
                                                    : nlohmann::json(std::string("SIG") + sigabbrev_np(s.signal))}};
  if (s.gpu_sampled) {
    nlohmann::json gpus = nlohmann::json::array();
    for (const auto& g : s.gpu.gpus)
      gpus.push_back({{"index", g.index},
                      {"name", g.name},
                      {"util_mean_pct", g.util_mean},
                      {"util_max_pct", g.util_max},
                      {"mem_used_max_mib", g.mem_used_max_mib},
                      {"mem_total_mib", g.mem_total_mib},
                      {"samples", g.samples}});
    j["gpus"] = gpus;
    if (!s.gpu.error.empty()) j["gpu_error"] = s.gpu.error;
  }
  return j.dump() + "\n";
}

std::string stats_to_line(const PayloadStats& s) {
  std::string gpu;
  for (const auto& g : s.gpu.gpus) {
    char one[160];
    std::snprintf(one, sizeof one, ", GPU %d util %.0f%% (max %d%%) mem %.0f/%.0f MiB", g.index, g.util_mean,
                  g.util_max, g.mem_used_max_mib, g.mem_total_mib);
    gpu += one;
  }
  if (s.gpu_sampled && !s.gpu.error.empty()) gpu += ", GPU: " + s.gpu.error;
  char buf[512];
  std::snprintf(buf, sizeof buf, "hpai-run: stats:%s wall %.3f s, user %.3f s, sys %.3f s, max RSS %ld KiB, %s",
                s.rank.rank ? (" rank " + std::to_string(*s.rank.rank) +
                               (s.rank.size ? "/" + std::to_string(*s.rank.size) : "") + ",")
                                  .c_str()
                            : "",
                s.wall_s, s.user_s, s.sys_s, s.max_rss_kib,
                s.signal ? (std::string("killed by SIG") + sigabbrev_np(s.signal)).c_str()
                         : ("exit " + std::to_string(s.exit_code)).c_str());
  return buf + gpu + "\n";
}

StatsSink::StatsSink(const std::string& spec, const RankInfo& rank) {
  if (spec.empty()) return;
  path_ = replace_all(replace_all(spec, "%r", rank.rank ? std::to_string(*rank.rank) : "0"), "%h", host_name());
  fd_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("--stats: can't create " + path_);
}

void StatsSink::start_gpu(const std::string& libnvidia_ml, const std::string& visible) {
  gpu_ = std::make_unique<GpuSampler>(libnvidia_ml, visible);
}

std::optional<GpuReport> StatsSink::finish_gpu() const {
  if (!gpu_) return std::nullopt;
  GpuReport r = gpu_->stop();
  gpu_.reset();
  return r;
}

void StatsSink::write(const PayloadStats& s) const {
  const std::string text = fd_ ? stats_to_json(s) : stats_to_line(s);
  const int fd = fd_ ? fd_.get() : 2;
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stats are best effort; the payload's status matters more
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace hpai
