#include "hpai/squashfs_mount.hpp"

#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "hpai/error.hpp"
#include "hpai/log.hpp"

namespace hpai {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;

// exec by a non-root uid drops capabilities; squashfuse needs CAP_SYS_ADMIN (in our
// user namespace only) to mount, so it is passed on as an ambient capability.
bool keep_sys_admin_across_exec() {
  struct __user_cap_header_struct header {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_SYS_ADMIN / 32].inheritable |= 1u << (CAP_SYS_ADMIN % 32);
  if (syscall(SYS_capset, &header, data) != 0) return false;
  return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) == 0;
}

}  // namespace

void require_fuse(const std::string& what) {
  if (access("/dev/fuse", R_OK | W_OK) != 0)
    throw_errno("can't mount SquashFS image " + what + ": /dev/fuse is not usable (an administrator loads the fuse module "
                "and makes /dev/fuse mode 0666; or unpack the image with hpai-image import and run the directory)");
}

void mount_squashfs(int image_fd, const std::string& mountpoint, const std::string& what) {
  require_fuse(what);
  const std::string source = "/proc/self/fd/" + std::to_string(image_fd);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw_errno("can't fork squashfuse");
  if (pid == 0) {
    // Ignored signals stay ignored across exec, and libfuse only claims signals left
    // at their default: SIGINT from a terminal or SIGTERM at a Slurm time limit must
    // reach the payload, not take its files away while it checkpoints.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signal(sig, SIG_IGN);
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);  // the payload is already gone
    if (chdir("/") != 0) _exit(127);
    if (!keep_sys_admin_across_exec()) dprintf(2, "hpai-run: can't pass CAP_SYS_ADMIN to squashfuse: %s\n", strerror(errno));
    execlp("squashfuse_ll", "squashfuse_ll", "-f", source.c_str(), mountpoint.c_str(), static_cast<char*>(nullptr));
    dprintf(2, "hpai-run: can't run squashfuse_ll: %s (install Debian's squashfuse)\n", strerror(errno));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    struct statfs sf {};
    if (statfs(mountpoint.c_str(), &sf) == 0 && sf.f_type == kFuseSuperMagic) break;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      throw Error("can't mount SquashFS image " + what + ": squashfuse_ll exited with status " +
                  std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + " (see its message above)");
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      throw Error("can't mount SquashFS image " + what + ": squashfuse_ll did not mount it within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  spdlog::debug("squashfuse_ll (pid {}) mounted {} at {}", pid, what, mountpoint);
}

}  // namespace hpai
