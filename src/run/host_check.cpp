#include "hpai/run/host_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/batch/ranks.hpp"
#include "hpai/run/mounts.hpp"
#include "hpai/run/userns.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/profile_report.hpp"

namespace hpai {

namespace {

constexpr long kTmpfsMagic = 0x01021994;

std::optional<std::string> read_line(const std::string& path) {
  std::optional<std::string> text;
  try {
    text = read_file_at(AT_FDCWD, path, Resolve::Host, kMaxSmallFile, path);
  } catch (const Error&) {
    return std::nullopt;  // unreadable says as little as missing here
  }
  if (!text || text->empty()) return std::nullopt;
  return text->substr(0, text->find('\n'));
}

bool executable_in_path(const std::string& name, const Environment& env) {
  for (const auto& dir : split_list(env.get("PATH").value_or("/usr/bin:/bin"), ':'))
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

// Runs STEP in a child that first enters new user and mount namespaces; "" on success,
// else what failed. The child's errors come back through a pipe.
std::string in_user_namespace(const std::function<void()>& step) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    close(p[0]);
    try {
      enter_user_namespace({getuid(), getuid(), getgid(), getgid()});
      make_mounts_private();
      step();
      _exit(0);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      if (write(p[1], msg.data(), msg.size()) < 0) _exit(2);
      _exit(1);
    }
  }
  close(p[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return msg.empty() ? "the test process failed" : msg;
}

// hpai-run mounts by fd (open_tree, move_mount, fsopen: 5.2), checks mount ids (statx
// STATX_MNT_ID: 5.8) and makes binds read-only recursively (mount_setattr: 5.12).
void kernel(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  auto release = read_line(o.proc + "/sys/kernel/osrelease");
  if (!release) return;
  int major = 0, minor = 0;
  if (std::sscanf(release->c_str(), "%d.%d", &major, &minor) != 2) return;
  if (major > 5 || (major == 5 && minor >= 12))
    out.push_back({"kernel", Verdict::Pass, "Linux " + *release + " has the mount API hpai-run uses (>= 5.12)", ""});
  else
    out.push_back({"kernel", Verdict::Fail,
                   "Linux " + *release +
                       " is older than 5.12: hpai-run needs mount_setattr (5.12), the fd-based mount API "
                       "(5.2) and statx mount ids (5.8) (RHEL 8's 4.18 has none of them)",
                   "a kernel >= 5.12: RHEL/Rocky 9 (5.14), SLES 15 SP4 (5.14), Ubuntu 22.04 (5.15), Debian 12 (6.1)"});
}

void user_namespaces(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  const std::string fix_sysctl = "as root: sysctl -w user.max_user_namespaces=15000 (persist in /etc/sysctl.d/)";
  if (access((o.proc + "/self/ns/user").c_str(), F_OK) != 0) {
    out.push_back(
        {"user namespaces", Verdict::Fail,
         "this kernel has no user namespaces (built without CONFIG_USER_NS, or older than 3.8, as on RHEL 6 / "
         "Titan-era systems)",
         "a kernel with CONFIG_USER_NS=y (RHEL 7.6+ with user.max_user_namespaces > 0, any current distribution)"});
    return;
  }
  bool blocked = false;
  if (auto v = read_line(o.proc + "/sys/user/max_user_namespaces"); v && *v == "0") {
    out.push_back({"user.max_user_namespaces", Verdict::Fail, "is 0: nobody may create a user namespace", fix_sysctl});
    blocked = true;
  }
  if (auto v = read_line(o.proc + "/sys/kernel/unprivileged_userns_clone"); v && *v == "0") {
    out.push_back({"kernel.unprivileged_userns_clone", Verdict::Fail,
                   "is 0 (Debian/Ubuntu patch): only root may create user namespaces",
                   "as root: sysctl -w kernel.unprivileged_userns_clone=1"});
    blocked = true;
  }
  if (auto v = read_line(o.proc + "/sys/kernel/apparmor_restrict_unprivileged_userns"); v && *v == "1") {
    out.push_back({"AppArmor userns restriction", Verdict::Warn,
                   "kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 23.10+): unconfined programs get no "
                   "capabilities in a new user namespace",
                   "an AppArmor profile for hpai-run with \"userns,\" (see docs/hpai-run.md), or sysctl -w "
                   "kernel.apparmor_restrict_unprivileged_userns=0"});
  }
  if (!o.try_namespaces) return;
  std::string err = in_user_namespace([] {});
  if (err.empty())
    out.push_back({"user namespaces", Verdict::Pass, "an unprivileged user and mount namespace can be created", ""});
  else if (!blocked)
    out.push_back({"user namespaces", Verdict::Fail, err,
                   fix_sysctl + "; check seccomp/AppArmor/SELinux policies that deny unshare(CLONE_NEWUSER)"});
  if (!err.empty()) return;
  std::string overlay = in_user_namespace([] {
    mount_tmpfs("/tmp", "mode=0700");
    for (const char* d : {"/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m"})
      if (mkdir(d, 0700) != 0) throw_errno(std::string("mkdir ") + d);
    mount_overlay("/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m");
  });
  if (overlay.empty())
    out.push_back(
        {"overlayfs in a user namespace", Verdict::Pass, "works (-W and read-only images needing mount points)", ""});
  else
    out.push_back(
        {"overlayfs in a user namespace", Verdict::Warn, overlay,
         "a kernel >= 5.11 (unprivileged overlayfs); without it -W fails and read-only images need every mount point"});
}

void fuse(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  const std::string dev = o.dev + "/fuse";
  if (access(dev.c_str(), F_OK) != 0) {
    out.push_back({"FUSE", Verdict::Warn, dev + " is missing: SquashFS images can't be mounted (directories still run)",
                   "as root: modprobe fuse"});
    return;
  }
  int fd = open(dev.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    out.push_back({"FUSE", Verdict::Warn, dev + ": " + std::strerror(errno) + ": SquashFS images can't be mounted",
                   "as root: chmod 666 " + dev + " (a udev rule makes it last)"});
    return;
  }
  close(fd);
  if (!executable_in_path("squashfuse_ll", o.env))
    out.push_back({"FUSE", Verdict::Warn, "squashfuse_ll is not on PATH: SquashFS images can't be mounted",
                   "install squashfuse (Debian: apt-get install squashfuse)"});
  else
    out.push_back({"FUSE", Verdict::Pass, dev + " usable, squashfuse_ll found", ""});
}

void shm(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  const std::string dir = o.dev + "/shm";
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) {
    out.push_back(
        {"/dev/shm", Verdict::Warn,
         dir + ": " + std::strerror(errno) + ": MPI shared-memory transports and Python multiprocessing need it",
         "mount a tmpfs on /dev/shm"});
    return;
  }
  if (access(dir.c_str(), W_OK) != 0)
    out.push_back({"/dev/shm", Verdict::Warn, dir + " is not writable for you", "chmod 1777 /dev/shm"});
  else if (static_cast<long>(fs.f_type) != kTmpfsMagic)
    out.push_back(
        {"/dev/shm", Verdict::Warn, dir + " is not a tmpfs: shared memory goes to disk", "mount a tmpfs on /dev/shm"});
  else
    out.push_back(
        {"/dev/shm", Verdict::Pass,
         "a writable tmpfs of " + std::to_string(fs.f_blocks * static_cast<unsigned long>(fs.f_bsize) >> 20) + " MiB",
         ""});
}

void nvidia(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  NvidiaSearch search;
  search.host_env = &o.env;
  search.dev_dir = o.dev;
  if (o.profile && o.profile->nvidia && o.profile->nvidia->ld_cache)
    search.ld_cache = o.profile->nvidia->ld_cache->path;
  auto d = discover_nvidia_driver(search);
  if (!d) {
    out.push_back({"NVIDIA driver", Verdict::Skip, "none found through " + search.ld_cache, ""});
    return;
  }
  out.push_back(
      {"NVIDIA driver", Verdict::Pass, d->version + ", " + std::to_string(d->libraries.size()) + " libraries", ""});
  bool ctl = false;
  int gpus = 0;
  for (const auto& dev : d->devices) {
    if (dev.ends_with("nvidiactl")) ctl = true;
    if (dev.find_first_of("0123456789", dev.rfind('/')) != std::string::npos &&
        dev.find("nvidia-") == std::string::npos)
      ++gpus;
  }
  if (!ctl || gpus == 0)
    out.push_back({"NVIDIA devices", Verdict::Fail,
                   std::string(ctl ? "" : o.dev + "/nvidiactl missing; ") + std::to_string(gpus) + " GPU device(s)",
                   "load the nvidia kernel module (nvidia-modprobe, or nvidia-persistenced at boot)"});
  else
    out.push_back({"NVIDIA devices", Verdict::Pass, std::to_string(gpus) + " GPU device(s), nvidiactl", ""});
}

void profile(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  if (!o.profile) return;
  Diagnostics diags;
  check_profile_host(*o.profile, diags);
  int errors = 0;
  for (const auto& d : diags) {
    if (d.severity == ProfileDiagnostic::Severity::Error) ++errors;
    out.push_back({"profile " + o.profile->name,
                   d.severity == ProfileDiagnostic::Severity::Error ? Verdict::Fail : Verdict::Warn, d.str(),
                   "fix the profile or the host (hpai-profile check shows the same)"});
  }
  if (diags.empty() || errors == 0)
    out.push_back({"profile " + o.profile->name, Verdict::Pass,
                   "its binds, devices, MPI libraries and driver cache are on this host", ""});
}

void launcher(const HostCheckOptions& o, std::vector<HostCheck>& out) {
  try {
    RankInfo r = detect_ranks(o.env);
    if (r.launcher == Launcher::None)
      out.push_back({"batch launcher", Verdict::Skip,
                     "none in this environment (run under srun/mpiexec/jsrun to check one)", ""});
    else
      out.push_back({"batch launcher", Verdict::Pass,
                     std::string(launcher_name(r.launcher)) +
                         (r.local_size ? ", " + std::to_string(*r.local_size) + " rank(s) on this node" : ""),
                     ""});
  } catch (const Error& e) {
    out.push_back(
        {"batch launcher", Verdict::Fail, e.what(), "check the launcher's environment (a wrapper that rewrites it?)"});
  }
}

}  // namespace

std::vector<HostCheck> check_host(const HostCheckOptions& o) {
  std::vector<HostCheck> out;
  kernel(o, out);
  user_namespaces(o, out);
  fuse(o, out);
  shm(o, out);
  nvidia(o, out);
  profile(o, out);
  launcher(o, out);
  return out;
}

std::string host_checks_text(const std::vector<HostCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    std::string name = c.name, verdict = to_string(c.verdict);
    name.resize(std::max<std::size_t>(name.size(), 34), ' ');
    verdict.resize(5, ' ');
    out += name + " " + verdict + " " + c.message;
    if (!c.fix.empty() && c.verdict != Verdict::Pass) out += "\n" + std::string(41, ' ') + "fix: " + c.fix;
    out += "\n";
  }
  return out;
}

std::string host_checks_json(const std::vector<HostCheck>& checks) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : checks)
    j.push_back({{"check", c.name}, {"verdict", to_string(c.verdict)}, {"message", c.message}, {"fix", c.fix}});
  return j.dump(2) + "\n";
}

}  // namespace hpai
