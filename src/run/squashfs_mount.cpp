#include "hpai/run/squashfs_mount.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"
#include "hpai/base/fd_passing.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

namespace {

// The server's descriptors, at fixed numbers once it has closed all others.
constexpr int kImageFd = 3, kSocketFd = 4, kStatusFd = 5;

[[noreturn]] void fail(int status, const std::string& what) {
  const std::string msg = what + ": " + std::strerror(errno);
  ssize_t n = write(status, msg.data(), msg.size());
  (void)n;
  _exit(127);
}

// The grandchild of the launching rank (so no payload's wait() reaps it): waits for the
// mounted /dev/fuse descriptor, then becomes squashfuse_ll serving it.
[[noreturn]] void serve(int image, int socket, int status) {
  // Ignored signals stay ignored across exec, and libfuse only claims signals left at
  // their default: SIGINT from a terminal or SIGTERM at a Slurm time limit must reach
  // the payload, not take its files away while it checkpoints.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signal(sig, SIG_IGN);
  setsid();
  if (chdir("/") != 0) fail(status, "chdir /");
  int devnull = open("/dev/null", O_RDWR);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0) fail(status, "can't open /dev/null");
  // Nothing of the rank's (a PMI socket, the launcher's pipes) may be held past its life.
  const int want[] = {image, socket, status};
  int parked[3];
  for (int i = 0; i < 3; ++i)
    if ((parked[i] = fcntl(want[i], F_DUPFD, 1000)) < 0) fail(status, "fcntl");
  if (syscall(SYS_close_range, 3, 999, 0) != 0) fail(parked[2], "close_range");
  for (int i = 0; i < 3; ++i)
    if (dup2(parked[i], kImageFd + i) < 0) fail(parked[2], "dup2");
  if (syscall(SYS_close_range, kStatusFd + 1, ~0U, 0) != 0) fail(kStatusFd, "close_range");
  fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);  // closed by the exec: the rank's sign that it worked

  char byte = 0;
  ReceivedFds got = receive_with_fds(kSocketFd, &byte, 1, 1, false);  // kept across the exec
  if (got.bytes <= 0 || got.fds.empty()) _exit(0);                    // the rank gave up: nothing to serve
  const int fuse = got.fds[0].release();
  close(kSocketFd);
  const std::string device = "/dev/fd/" + std::to_string(fuse);  // libfuse: an fd already mounted
  const std::string archive = "/dev/fd/" + std::to_string(kImageFd);
  execlp("squashfuse_ll", "squashfuse_ll", "-f", archive.c_str(), device.c_str(), static_cast<char*>(nullptr));
  fail(kStatusFd, "can't run squashfuse_ll (install Debian's squashfuse)");
}

}  // namespace

void require_fuse(const std::string& what) {
  if (access("/dev/fuse", R_OK | W_OK) != 0)
    throw_errno("can't mount SquashFS image " + what +
                ": /dev/fuse is not usable (an administrator loads the fuse module "
                "and makes /dev/fuse mode 0666; or unpack the image with hpai-image import and run the directory)");
}

SquashfsServer SquashfsServer::start(int image_fd, const std::string& image) {
  require_fuse(image);
  int sp[2], pipefd[2];
  check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), "can't create a socket pair for squashfuse");
  UniqueFd ours(sp[0]), theirs(sp[1]);
  check(pipe2(pipefd, O_CLOEXEC), "can't create a pipe for squashfuse");
  UniqueFd status_read(pipefd[0]), status_write(pipefd[1]);
  std::fflush(nullptr);
  pid_t child = fork();
  if (child < 0) throw_errno("can't fork squashfuse");
  if (child == 0) {
    if (fork() != 0) _exit(0);  // the server is reparented; the rank reaps only this one
    serve(image_fd, theirs.get(), status_write.get());
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return SquashfsServer(image, std::move(ours), std::move(status_read));
}

void SquashfsServer::mount(const std::string& mountpoint, uid_t uid, gid_t gid) {
  UniqueFd fuse(open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fuse) throw_errno("can't mount SquashFS image " + image_ + ": can't open /dev/fuse");
  const std::string options = "fd=" + std::to_string(fuse.get()) + ",rootmode=40000,user_id=" + std::to_string(uid) +
                              ",group_id=" + std::to_string(gid);
  spdlog::debug("fuse.squashfuse {} at {} ({})", image_, mountpoint, options);
  if (::mount(image_.c_str(), mountpoint.c_str(), "fuse.squashfuse", MS_RDONLY | MS_NOSUID | MS_NODEV,
              options.c_str()) != 0)
    throw_errno("can't mount SquashFS image " + image_ + " (FUSE in a user namespace needs Linux >= 4.18)");
  // Hand the mount over; ours closes, so the connection lives exactly as long as the
  // server (and the server as long as the mount).
  if (!send_with_fds(socket_.get(), "F", {fuse.get()}))
    throw_errno("can't hand the SquashFS mount of " + image_ + " to squashfuse_ll (it did not start)");
  fuse.reset();
  socket_.reset();
  char why[512];
  ssize_t got;
  do got = read(status_.get(), why, sizeof why);
  while (got < 0 && errno == EINTR);
  if (got > 0)
    throw Error("can't mount SquashFS image " + image_ + ": " + std::string(why, static_cast<std::size_t>(got)));
  status_.reset();
}

}  // namespace hpai
