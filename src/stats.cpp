#include "hpai/stats.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hpai/bounded_read.hpp"
#include "hpai/error.hpp"
#include "hpai/exec.hpp"

namespace hpai {

namespace {

volatile sig_atomic_t g_child = 0;

void forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

std::string replace_all(std::string s, const std::string& what, const std::string& with) {
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + with.size())) s.replace(p, what.size(), with);
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
                      {"signal_name", s.signal == 0 ? nlohmann::json(nullptr) : nlohmann::json(std::string("SIG") + sigabbrev_np(s.signal))}};
  if (s.gpu_sampled) {
    nlohmann::json gpus = nlohmann::json::array();
    for (const auto& g : s.gpu.gpus)
      gpus.push_back({{"index", g.index}, {"name", g.name}, {"util_mean_pct", g.util_mean}, {"util_max_pct", g.util_max},
                      {"mem_used_max_mib", g.mem_used_max_mib}, {"mem_total_mib", g.mem_total_mib}, {"samples", g.samples}});
    j["gpus"] = gpus;
    if (!s.gpu.error.empty()) j["gpu_error"] = s.gpu.error;
  }
  return j.dump() + "\n";
}

std::string stats_to_line(const PayloadStats& s) {
  std::string gpu;
  for (const auto& g : s.gpu.gpus) {
    char one[160];
    std::snprintf(one, sizeof one, ", GPU %d util %.0f%% (max %d%%) mem %.0f/%.0f MiB", g.index, g.util_mean, g.util_max,
                  g.mem_used_max_mib, g.mem_total_mib);
    gpu += one;
  }
  if (s.gpu_sampled && !s.gpu.error.empty()) gpu += ", GPU: " + s.gpu.error;
  char buf[512];
  std::snprintf(buf, sizeof buf, "hpai-run: stats:%s wall %.3f s, user %.3f s, sys %.3f s, max RSS %ld KiB, %s",
                s.rank.rank ? (" rank " + std::to_string(*s.rank.rank) + (s.rank.size ? "/" + std::to_string(*s.rank.size) : "") + ",").c_str() : "",
                s.wall_s, s.user_s, s.sys_s, s.max_rss_kib,
                s.signal ? (std::string("killed by SIG") + sigabbrev_np(s.signal)).c_str() : ("exit " + std::to_string(s.exit_code)).c_str());
  return buf + gpu + "\n";
}

StatsSink::StatsSink(const std::string& spec, const RankInfo& rank) {
  if (spec.empty()) return;
  path_ = replace_all(replace_all(spec, "%r", rank.rank ? std::to_string(*rank.rank) : "0"), "%h", hostname());
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

void run_supervised(const std::vector<std::string>& argv, const Environment& env, const StatsSink& sink, const RankInfo& rank) {
  PayloadStats s;
  s.argv = argv;
  s.host = hostname();
  s.rank = rank;
  s.started = utc_now();
  const auto start = std::chrono::steady_clock::now();
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("--stats: can't fork the payload");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the payload never outlives its supervisor
    try {
      exec_payload(argv, env);
    } catch (const Error& e) {
      std::fprintf(stderr, "hpai-run: error: %s\n", e.what());
      _exit(e.exit_code());
    }
  }
  g_child = pid;
  struct sigaction sa {};
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM}) sigaction(sig, &sa, nullptr);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) throw_errno("--stats: wait4");
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.user_s = seconds(ru.ru_utime);
  s.sys_s = seconds(ru.ru_stime);
  s.max_rss_kib = ru.ru_maxrss;
  if (WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  if (auto gpu = sink.finish_gpu()) {
    s.gpu_sampled = true;
    s.gpu = *gpu;
  }
  sink.write(s);
  if (s.signal) {
    // End as the payload did, so srun and mpiexec report the same signal.
    signal(s.signal, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, s.signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    kill(getpid(), s.signal);
    _exit(128 + s.signal);
  }
  _exit(s.exit_code);
}

std::string merge_stats(const std::vector<std::string>& files, bool json) {
  struct Row {
    std::string file;
    nlohmann::json j;
  };
  std::vector<Row> rows;
  for (const auto& f : files) {
    const std::string text = read_host_file(f, kMaxSmallFile, "stats file " + f);
    try {
      auto j = nlohmann::json::parse(text);
      if (j.value("hpai_stats", 0) != 1) throw Error(f + ": not an hpai-run --stats file");
      rows.push_back({f, j});
    } catch (const nlohmann::json::exception& e) {
      throw Error(f + ": " + e.what());
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.j["rank"].is_number() && b.j["rank"].is_number() ? a.j["rank"].get<int>() < b.j["rank"].get<int>() : a.file < b.file;
  });
  double wall = 0, user = 0, sys = 0, gpu_util = 0, gpu_mem = 0;
  int gpus = 0;
  long rss = 0;
  std::vector<std::string> failed;
  std::string table = "rank  host                 wall s    user s    sys s   max RSS KiB  status\n";
  for (const auto& r : rows) {
    const auto& j = r.j;
    wall = std::max(wall, j["wall_s"].get<double>());
    user += j["user_s"].get<double>();
    sys += j["sys_s"].get<double>();
    rss = std::max(rss, j["max_rss_kib"].get<long>());
    if (j.contains("gpus") && j["gpus"].is_array())
      for (const auto& g : j["gpus"]) {
        ++gpus;
        gpu_util += g.value("util_mean_pct", 0.0);
        gpu_mem = std::max(gpu_mem, g.value("mem_used_max_mib", 0.0));
      }
    const std::string rank = j["rank"].is_number() ? std::to_string(j["rank"].get<int>()) : "-";
    const std::string status = j["signal"].is_number() ? "killed by " + j.value("signal_name", std::string("?")) : "exit " + j["exit_code"].dump();
    if (status != "exit 0") failed.push_back(rank);
    char line[256];
    std::snprintf(line, sizeof line, "%-5s %-18s %9.3f %9.3f %8.3f %13ld  %s\n", rank.c_str(), j["host"].get<std::string>().c_str(),
                  j["wall_s"].get<double>(), j["user_s"].get<double>(), j["sys_s"].get<double>(), j["max_rss_kib"].get<long>(),
                  status.c_str());
    table += line;
  }
  if (json) {
    nlohmann::json out = {{"ranks", rows.size()}, {"wall_s_max", wall}, {"user_s_total", user}, {"sys_s_total", sys},
                          {"max_rss_kib", rss}, {"failed_ranks", failed}};
    if (gpus) out["gpus"] = {{"sampled", gpus}, {"util_mean_pct", gpu_util / gpus}, {"mem_used_max_mib", gpu_mem}};
    return out.dump(2) + "\n";
  }
  char total[256];
  std::snprintf(total, sizeof total, "%zu rank(s): slowest %.3f s, CPU %.3f s user + %.3f s sys, largest RSS %ld KiB, %zu failed\n",
                rows.size(), wall, user, sys, rss, failed.size());
  std::string gpu_line;
  if (gpus) {
    char g[160];
    std::snprintf(g, sizeof g, "GPUs: %d sampled, mean utilisation %.1f%%, peak memory in use %.0f MiB\n", gpus, gpu_util / gpus, gpu_mem);
    gpu_line = g;
  }
  return table + total + gpu_line;
}

}  // namespace hpai
