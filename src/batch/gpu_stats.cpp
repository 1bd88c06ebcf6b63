#include "hpai/batch/gpu_stats.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "hpai/base/environment.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

constexpr int kIntervalMs = 250;

// NVML's C API, the few calls used (nvml.h is not needed for these stable ABIs).
struct NvmlUtilization {
  unsigned gpu, memory;
};
struct NvmlMemory {
  unsigned long long total, free, used;
};
using Device = void*;

// The helper: fd 3 ends the sampling (EOF), fd 4 takes the report, one line per device
// "gpu INDEX SAMPLES UTIL_SUM UTIL_MAX MEM_MAX MEM_TOTAL NAME", or "err MESSAGE".
[[noreturn]] void sample_until_stopped(const std::string& lib, const std::vector<int>& wanted) {
  auto reply = [](const std::string& text) {
    ssize_t ignored = write(4, text.data(), text.size());
    (void)ignored;
    _exit(0);
  };
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) reply(std::string("err can't load ") + lib + "\n");
  auto init = reinterpret_cast<int (*)()>(dlsym(h, "nvmlInit_v2"));
  auto count = reinterpret_cast<int (*)(unsigned*)>(dlsym(h, "nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<int (*)(unsigned, Device*)>(dlsym(h, "nvmlDeviceGetHandleByIndex_v2"));
  auto name = reinterpret_cast<int (*)(Device, char*, unsigned)>(dlsym(h, "nvmlDeviceGetName"));
  auto util = reinterpret_cast<int (*)(Device, NvmlUtilization*)>(dlsym(h, "nvmlDeviceGetUtilizationRates"));
  auto memory = reinterpret_cast<int (*)(Device, NvmlMemory*)>(dlsym(h, "nvmlDeviceGetMemoryInfo"));
  if (!init || !count || !handle || !name || !util || !memory) reply("err " + lib + " lacks NVML symbols\n");
  if (int rc = init(); rc != 0) reply("err nvmlInit returned " + std::to_string(rc) + "\n");
  unsigned n = 0;
  if (count(&n) != 0) reply("err nvmlDeviceGetCount failed\n");
  struct Acc {
    int index;
    Device dev;
    std::string name;
    int samples = 0;
    double util_sum = 0;
    unsigned util_max = 0;
    unsigned long long mem_max = 0, mem_total = 0;
  };
  std::vector<Acc> acc;
  std::vector<int> indices = wanted;
  if (indices.empty())
    for (unsigned i = 0; i < n; ++i) indices.push_back(static_cast<int>(i));
  for (int i : indices) {
    Device d = nullptr;
    if (i < 0 || static_cast<unsigned>(i) >= n || handle(static_cast<unsigned>(i), &d) != 0)
      reply("err no GPU " + std::to_string(i) + " (NVML sees " + std::to_string(n) + ")\n");
    char nm[96] = "";
    if (name(d, nm, sizeof nm) != 0) std::strcpy(nm, "?");
    acc.push_back({i, d, nm});
  }
  while (true) {
    for (auto& a : acc) {
      NvmlUtilization u{};
      NvmlMemory m{};
      if (util(a.dev, &u) == 0) {
        ++a.samples;
        a.util_sum += u.gpu;
        a.util_max = std::max(a.util_max, u.gpu);
      }
      if (memory(a.dev, &m) == 0) a.mem_max = std::max(a.mem_max, m.used), a.mem_total = m.total;
    }
    struct pollfd p {
      3, POLLIN, 0
    };
    int r = poll(&p, 1, kIntervalMs);
    if (r > 0 || (r < 0 && errno != EINTR)) break;
  }
  std::ostringstream out;
  for (const auto& a : acc)
    out << "gpu " << a.index << ' ' << a.samples << ' ' << a.util_sum << ' ' << a.util_max << ' ' << a.mem_max << ' '
        << a.mem_total << ' ' << a.name << '\n';
  reply(out.str());
  _exit(0);
}

}  // namespace

std::vector<int> visible_gpu_indices(const std::string& visible) {
  std::vector<int> out;
  if (visible.empty() || visible == "all") return out;
  for (const auto& item : split_list(visible, ',')) {
    if (item.find_first_not_of("0123456789") != std::string::npos) return {};
    out.push_back(std::stoi(item));
  }
  return out;
}

GpuSampler::GpuSampler(const std::string& lib, const std::string& visible) {
  const std::vector<int> wanted = visible_gpu_indices(visible);
  int stop[2], result[2];
  if (pipe2(stop, O_CLOEXEC) != 0) throw_errno("--stats: can't create a pipe for the GPU sampler");
  stop_.reset(stop[1]);
  UniqueFd stop_read(stop[0]);
  if (pipe2(result, O_CLOEXEC) != 0) throw_errno("--stats: can't create a pipe for the GPU sampler");
  result_.reset(result[0]);
  UniqueFd result_write(result[1]);
  pid_ = fork();
  if (pid_ < 0) throw_errno("--stats: can't fork the GPU sampler");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Only its two pipes: no join socket, stats file or image fd stays open in it.
    if (dup2(stop_read.get(), 3) < 0 || dup2(result_write.get(), 4) < 0) _exit(1);
    close_range(5, ~0U, 0);
    sample_until_stopped(lib, wanted);
  }
}

GpuSampler::~GpuSampler() { reap(); }

void GpuSampler::reap() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

GpuReport GpuSampler::stop() {
  GpuReport report;
  if (pid_ <= 0) return {{}, "GPU sampler already stopped"};
  stop_.reset();
  std::string text;
  char buf[1024];
  struct pollfd p {
    result_.get(), POLLIN, 0
  };
  while (true) {
    int r = poll(&p, 1, 2000);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      report.error = "the GPU sampler did not answer";
      break;
    }
    ssize_t n = read(result_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  reap();
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("err ")) report.error = line.substr(4);
    if (!line.starts_with("gpu ")) continue;
    std::istringstream f(line.substr(4));
    GpuUsage g;
    double util_sum = 0;
    unsigned long long mem_max = 0, mem_total = 0;
    f >> g.index >> g.samples >> util_sum >> g.util_max >> mem_max >> mem_total;
    std::getline(f >> std::ws, g.name);
    g.util_mean = g.samples ? util_sum / g.samples : 0;
    g.mem_used_max_mib = static_cast<double>(mem_max) / (1 << 20);
    g.mem_total_mib = static_cast<double>(mem_total) / (1 << 20);
    report.gpus.push_back(g);
  }
  if (report.gpus.empty() && report.error.empty()) report.error = "the GPU sampler died";
  return report;
}

}  // namespace hpai
