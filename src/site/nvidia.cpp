#include "hpai/site/nvidia.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/site/ld_cache.hpp"

namespace hpai {

namespace {

struct Group {
  const char* capability;
  std::vector<std::string_view> libraries;  // linker names (a trailing '*' matches a prefix)
  std::vector<const char*> binaries;
};

// After libnvidia-container's lists; a library the table lacks is still injected
// (see library_wanted), so a new driver's new library is not lost.
const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"utility",
       {"libnvidia-ml", "libnvidia-cfg", "libnvidia-nscq"},
       {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced"}},
      {"compute",
       {"libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-gpucomp", "libnvidia-ptxjitcompiler",
        "libnvidia-allocator", "libnvidia-nvvm", "libnvidia-pkcs11*", "libnvidia-fatbinaryloader"},
       {"nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}},
      {"video", {"libnvcuvid", "libnvidia-encode", "libvdpau_nvidia", "libnvidia-opticalflow", "libnvidia-fbc"}, {}},
      {"graphics",
       {"libnvidia-glcore", "libnvidia-eglcore", "libnvidia-tls", "libnvidia-glsi", "libGLX_nvidia", "libEGL_nvidia",
        "libGLESv2_nvidia", "libGLESv1_CM_nvidia", "libnvoptix", "libnvidia-rtcore", "libnvidia-glvkspirv",
        "libnvidia-vulkan-producer", "libnvidia-ngx"},
       {}},
  };
  return g;
}

bool wanted(const std::vector<std::string>& caps, const std::string& cap) {
  return std::find(caps.begin(), caps.end(), cap) != caps.end();
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

// realpath() of many files in a few directories (a cache's driver libraries): each
// directory is resolved once, and a symlink whose target stays in its directory
// (libcuda.so.1 -> libcuda.so.580.95.05) is followed there, a readlink a hop instead
// of one per component of the path. "" when the file is missing.
class RealPaths {
 public:
  std::string of(const std::string& path) {
    std::string cur = path;
    for (int hops = 0; hops < 40; ++hops) {
      const std::size_t slash = cur.rfind('/');
      const std::string base = slash == std::string::npos ? "" : cur.substr(slash + 1);
      if (base.empty() || base == "." || base == "..") return real_path(cur);
      const std::string& dir = directory(slash == 0 ? "/" : cur.substr(0, slash));
      if (dir.empty()) return "";
      const std::string file = (dir == "/" ? "" : dir) + "/" + base;
      struct stat st {};
      if (lstat(file.c_str(), &st) != 0) return "";
      if (!S_ISLNK(st.st_mode)) return file;
      char target[PATH_MAX];
      const ssize_t n = readlink(file.c_str(), target, sizeof target - 1);
      if (n <= 0) return "";
      target[n] = '\0';
      cur = target[0] == '/' ? std::string(target) : (dir == "/" ? "" : dir) + "/" + target;
    }
    return "";  // a loop
  }

 private:
  const std::string& directory(const std::string& dir) {
    auto it = dirs_.find(dir);
    if (it == dirs_.end()) it = dirs_.emplace(dir, real_path(dir)).first;
    return it->second;
  }
  std::map<std::string, std::string> dirs_;
};

std::string base_name(const std::string& p) { return p.substr(p.rfind('/') + 1); }

bool executable_file(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

std::string find_in_path(const std::string& name, const std::vector<std::string>& dirs, RealPaths& real) {
  for (const auto& dir : dirs)
    if (executable_file(dir + "/" + name)) return real.of(dir + "/" + name);
  return "";
}

// The driver version: the version of a libcuda or libnvidia-ml file the cache leads to,
// when it has at least major.minor (418.39, 580.95.05).
std::string driver_version(const std::vector<LdCacheEntry>& cache, RealPaths& real) {
  for (const auto& e : cache) {
    if (!is_native_abi(e.flags) || !(e.soname.starts_with("libcuda.so") || e.soname.starts_with("libnvidia-ml.so")))
      continue;
    std::string file = real.of(e.path);
    if (file.empty()) continue;  // a stale entry
    auto name = parse_library_name(base_name(file));
    if (name && name->version.size() >= 2) return name->version_text;
  }
  return "";
}

// The cache entries worth a look, decided in place without a system call: a host
// cache lists hundreds to thousands of libraries, and the driver's directory
// (/usr/lib64) as many files, so neither a readlink per entry nor a listing of the
// directory may be paid at every launch. A driver library's name says NVIDIA
// (libnv*, libcuda*, lib{GLX,EGL,GLES*,vdpau,glxserver}_nvidia); a name the table does
// not know passes as well, and the version of its file decides. (Drivers before 435
// also shipped a libGL.so.VERSION of their own, pre-GLVND; CUDA 11 and later need 450.)
// Where in the cache such names are (find_in_ld_cache: prefixes without digits).
const std::vector<std::string_view> kDriverPrefixes = {
    "libnv", "libcuda", "libGLX_nvidia", "libGLESv", "libEGL_nvidia", "libvdpau_nvidia", "libglxserver_nvidia"};

bool nvidia_name(std::string_view n) {
  return n.starts_with("libnv") || n.starts_with("libcuda") || n.find("_nvidia") != std::string_view::npos;
}

// By the key: the soname is what the linker looks up, and a driver library's says NVIDIA.
bool may_be_driver_library(std::string_view soname, std::uint32_t flags) {
  return is_native_abi(flags) && nvidia_name(soname);
}

void list_devices(const std::string& dev, std::vector<std::string>& out) {
  DIR* d = opendir(dev.c_str());
  if (!d) return;
  std::vector<std::string> found;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "nvidiactl" || n == "nvidia-uvm" || n == "nvidia-uvm-tools" || n == "nvidia-modeset" ||
        (n.size() > 6 && n.starts_with("nvidia") && std::all_of(n.begin() + 6, n.end(), ::isdigit)))
      found.push_back(dev + "/" + n);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

}  // namespace

std::string nvidia_capability(std::string_view linker_name) {
  for (const auto& g : groups())
    for (std::string_view l : g.libraries) {
      if (l.ends_with('*') ? linker_name.starts_with(l.substr(0, l.size() - 1)) : linker_name == l) return g.capability;
    }
  return "";
}

std::optional<NvidiaDriver> discover_nvidia_driver(const NvidiaSearch& s) {
  std::vector<LdCacheEntry> cache;
  for (auto& e : find_in_ld_cache(s.ld_cache, kDriverPrefixes))
    if (may_be_driver_library(e.soname, e.flags)) cache.push_back(std::move(e));
  NvidiaDriver d;
  RealPaths real;
  d.version = driver_version(cache, real);
  if (d.version.empty()) return std::nullopt;
  const std::string suffix = ".so." + d.version;

  std::map<std::string, std::size_t> by_path;  // resolved file -> index in d.libraries
  for (const auto& e : cache) {
    std::string file = real.of(e.path);
    if (file.empty() || !file.ends_with(suffix)) continue;
    auto name = parse_library_name(base_name(file));
    if (!name) continue;
    std::string cap = nvidia_capability(name->linker_name);
    // Unknown libraries of this exact driver version come along with any capability.
    if (!cap.empty() && !wanted(s.capabilities, cap)) continue;
    auto [it, added] = by_path.try_emplace(file, d.libraries.size());
    if (added) {
      d.libraries.push_back({file, {}, cap});
      if (name->linker_name == "libnvidia-ml") d.nvml = file;
    }
    auto& names = d.libraries[it->second].names;
    if (std::find(names.begin(), names.end(), e.soname) == names.end()) names.push_back(e.soname);
  }
  for (auto& lib : d.libraries) {  // the linker name too: some frameworks dlopen("libcuda.so")
    std::string linker = parse_library_name(base_name(lib.path))->linker_name + ".so";
    if (std::find(lib.names.begin(), lib.names.end(), linker) == lib.names.end()) lib.names.push_back(linker);
  }

  std::string path_var = s.host_env ? s.host_env->get("PATH").value_or("") : "";
  path_var += ":/usr/bin:/usr/sbin:/bin:/sbin";
  std::vector<std::string> path_dirs;  // absolute, each once
  for (const auto& dir : split_list(path_var, ':'))
    if (dir.front() == '/' && std::find(path_dirs.begin(), path_dirs.end(), dir) == path_dirs.end())
      path_dirs.push_back(dir);
  for (const auto& g : groups()) {
    if (!wanted(s.capabilities, g.capability)) continue;
    for (const char* b : g.binaries) {
      std::string found = find_in_path(b, path_dirs, real);
      if (!found.empty() && std::find(d.binaries.begin(), d.binaries.end(), found) == d.binaries.end())
        d.binaries.push_back(found);
    }
  }
  list_devices(s.dev_dir, d.devices);
  if (access("/var/run/nvidia-persistenced/socket", F_OK) == 0) d.ipc.push_back("/var/run/nvidia-persistenced/socket");
  if (s.host_env && wanted(s.capabilities, "compute")) {
    auto mps = s.host_env->get("CUDA_MPS_PIPE_DIRECTORY");
    if (mps && !mps->empty() && access(mps->c_str(), F_OK) == 0) d.ipc.push_back(*mps);
  }
  return d;
}

std::string nvml_brand_name(int brand) {
  // nvmlBrandType_t (nvml.h); the virtual and workstation brands are no datacenter GPUs.
  switch (brand) {
    case 1: return "quadro";
    case 2: return "tesla";
    case 3: return "nvs";
    case 4: return "grid";
    case 5: return "geforce";
    case 6: return "titan";
    case 12: return "quadro_rtx";
    case 13: return "nvidia_rtx";
    case 14: return "nvidia";
    case 15: return "geforce_rtx";
    case 16: return "titan_rtx";
    default: return brand >= 7 && brand <= 11 ? "virtual" : "";
  }
}

NvmlInfo query_nvml(const std::string& lib, int timeout_ms) {
  NvmlInfo info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("can't create a pipe for the NVML helper");
  UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = fork();
  if (pid < 0) throw_errno("can't fork the NVML helper");
  if (pid == 0) {
    // The child: only async-signal-safe-ish work and _exit; the answer is one line.
    char out[256];
    auto reply = [&](const char* text) {
      ssize_t ignored = write(wr.get(), text, std::strlen(text));
      (void)ignored;
      _exit(0);
    };
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) reply("err dlopen failed");
    using InitFn = int (*)();
    using VersionFn = int (*)(char*, unsigned);
    using IntFn = int (*)(int*);
    using CountFn = int (*)(unsigned*);
    auto init = reinterpret_cast<InitFn>(dlsym(h, "nvmlInit_v2"));
    auto version = reinterpret_cast<VersionFn>(dlsym(h, "nvmlSystemGetDriverVersion"));
    auto cuda = reinterpret_cast<IntFn>(dlsym(h, "nvmlSystemGetCudaDriverVersion_v2"));
    auto count = reinterpret_cast<CountFn>(dlsym(h, "nvmlDeviceGetCount_v2"));
    if (!init || !version || !cuda || !count) reply("err missing NVML symbols");
    int rc = init();
    if (rc != 0) {
      std::snprintf(out, sizeof out, "err nvmlInit returned %d", rc);
      reply(out);
    }
    char ver[96] = "";
    int cuda_version = 0;
    unsigned n = 0;
    if (version(ver, sizeof ver) != 0 || cuda(&cuda_version) != 0 || count(&n) != 0) reply("err NVML query failed");
    // GPU 0's brand (forward compatibility needs a datacenter GPU); -1: unknown.
    int brand = -1;
    using HandleFn = int (*)(unsigned, void**);
    using BrandFn = int (*)(void*, int*);
    auto handle = reinterpret_cast<HandleFn>(dlsym(h, "nvmlDeviceGetHandleByIndex_v2"));
    auto get_brand = reinterpret_cast<BrandFn>(dlsym(h, "nvmlDeviceGetBrand"));
    void* device = nullptr;
    if (n > 0 && handle && get_brand && (handle(0, &device) != 0 || get_brand(device, &brand) != 0)) brand = -1;
    std::snprintf(out, sizeof out, "ok %s %d %u %d", ver, cuda_version, n, brand);
    reply(out);
  }
  wr.reset();
  std::string line;
  struct pollfd p {
    rd.get(), POLLIN, 0
  };
  while (true) {
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
      kill(pid, SIGKILL);
      info.error = r == 0 ? "NVML did not answer within " + std::to_string(timeout_ms) + " ms" : "poll failed";
      break;
    }
    char buf[256];
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (line.starts_with("ok ")) {
    char ver[96] = "";
    unsigned n = 0;
    int brand = -1;
    if (std::sscanf(line.c_str() + 3, "%95s %d %u %d", ver, &info.cuda_version, &n, &brand) == 4) {
      info.ok = true;
      info.driver_version = ver;
      info.device_count = static_cast<int>(n);
      info.brand = nvml_brand_name(brand);
    }
  } else if (line.starts_with("err ")) {
    info.error = line.substr(4);
  } else if (info.error.empty()) {
    info.error = "the NVML helper died";
  }
  return info;
}

}  // namespace hpai
