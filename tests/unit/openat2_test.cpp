// The walk that stands in for openat2 where the kernel lacks it must answer exactly as
// the kernel does: the same file, or the same errno, for every path and flag set below
// on a tree of hostile symlinks.
#include "hpai/base/openat2.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hpai/base/fd.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

int kernel_openat2(int dirfd, const std::string& path, int flags, unsigned long long resolve, int mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags);
  how.mode = static_cast<std::uint64_t>(mode);
  how.resolve = resolve;
  // The kernel's answer, asked until no rename elsewhere on the machine races a "..".
  for (;;) {
    const int fd = static_cast<int>(syscall(SYS_openat2, dirfd, path.empty() ? "." : path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) return fd;
  }
}

// "ok DEV:INO TYPE" or "errno N": what an open led to, comparable across the two.
std::string outcome(int fd) {
  if (fd < 0) return "errno " + std::to_string(errno);
  UniqueFd owned(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) return "fstat failed";
  return "ok " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_mode & S_IFMT);
}

class Openat2Walk : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    fs::create_directories(root_ + "/usr/lib/deep/er");
    fs::create_directories(root_ + "/etc");
    fs::create_directories(tmp_.path() + "/outside");
    std::ofstream(root_ + "/etc/passwd") << "x";
    std::ofstream(tmp_.path() + "/outside/secret") << "host";
    fs::create_symlink("usr/lib", root_ + "/lib");
    fs::create_symlink("/usr/lib", root_ + "/abslib");
    fs::create_symlink("../../../../../outside", root_ + "/up");
    fs::create_symlink(tmp_.path() + "/outside", root_ + "/host");  // the host's path, absolute
    fs::create_symlink("/etc/passwd", root_ + "/pw");
    fs::create_symlink("loop2", root_ + "/loop1");
    fs::create_symlink("loop1", root_ + "/loop2");
    fs::create_symlink("/nonexistent/deeper", root_ + "/dangling");
    fs::create_symlink("/etc/new-file", root_ + "/to-new");
    fs::create_symlink("/proc/self/root", root_ + "/procroot");
    fs::create_symlink("../../..", root_ + "/usr/lib/deep/er/top");
    fs::create_symlink("/usr/lib/", root_ + "/slashlib");
    fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fd_);
  }
  // Both ways, in copies of the tree where a flag set creates files.
  void same(const std::string& path, int flags, unsigned long long resolve) {
    SCOPED_TRACE("path \"" + path + "\" flags " + std::to_string(flags) + " resolve " + std::to_string(resolve));
    const int mode = (flags & O_CREAT) ? 0644 : 0;  // openat2 refuses a mode it would not use
    const std::string kernel = outcome(kernel_openat2(fd_.get(), path, flags | O_CLOEXEC, resolve, mode));
    if (flags & O_CREAT) fs::remove(root_ + "/etc/new-file");
    const std::string walk = outcome(open_in_root_walk(fd_.get(), path, flags | O_CLOEXEC, resolve, mode));
    if (flags & O_CREAT) fs::remove(root_ + "/etc/new-file");
    if (kernel.starts_with("ok") && walk.starts_with("ok") && (flags & O_CREAT)) {
      EXPECT_EQ(kernel.substr(kernel.rfind(' ')), walk.substr(walk.rfind(' ')));  // a new file each time
    } else {
      EXPECT_EQ(kernel, walk);
    }
  }
  test::TempDir tmp_;
  std::string root_;
  UniqueFd fd_;
};

TEST_F(Openat2Walk, AnswersAsTheKernelDoes) {
  const std::vector<std::string> paths = {"",
                                          ".",
                                          "/",
                                          "..",
                                          "/..",
                                          "etc",
                                          "etc/",
                                          "/etc/passwd",
                                          "etc/passwd/",
                                          "etc/passwd/x",
                                          "lib",
                                          "lib/",
                                          "lib/deep",
                                          "abslib/deep/er",
                                          "up",
                                          "up/secret",
                                          "host",
                                          "host/secret",
                                          "pw",
                                          "pw/",
                                          "loop1",
                                          "loop1/x",
                                          "dangling",
                                          "dangling/x",
                                          "to-new",
                                          "procroot",
                                          "procroot/etc",
                                          "usr/lib/deep/er/top",
                                          "usr/lib/deep/er/top/etc/passwd",
                                          "slashlib",
                                          "../../etc/passwd",
                                          "usr/../../../etc",
                                          "missing",
                                          "missing/x",
                                          "etc/./passwd",
                                          "//etc//passwd",
                                          "lib/../etc"};
  const std::vector<int> flag_sets = {
      O_PATH, O_PATH | O_NOFOLLOW, O_RDONLY, O_RDONLY | O_DIRECTORY, O_PATH | O_DIRECTORY, O_RDONLY | O_NOFOLLOW};
  const std::vector<unsigned long long> resolves = {RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                                                    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS};
  for (const auto& p : paths)
    for (int f : flag_sets)
      for (auto r : resolves) same(p, f, r);
}

TEST_F(Openat2Walk, CreatesWhereTheKernelCreates) {
  for (const std::string p :
       {"etc/new-file", "to-new", "/etc/new-file", "lib/../etc/new-file", "missing/new", "etc/passwd"})
    for (int f : {O_WRONLY | O_CREAT, O_WRONLY | O_CREAT | O_EXCL, O_WRONLY | O_CREAT | O_NOFOLLOW})
      same(p, f, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  // What was created is inside the root, never beside the host's files.
  EXPECT_FALSE(fs::exists(tmp_.path() + "/outside/new-file"));
}

TEST_F(Openat2Walk, NeverLeavesTheRoot) {
  for (const std::string p : {"up/secret", "host/secret", "../outside/secret", "/../../outside/secret"}) {
    errno = 0;
    int fd = open_in_root_walk(fd_.get(), p, O_RDONLY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    EXPECT_LT(fd, 0) << p << " reached the host's file";
    if (fd >= 0) close(fd);
    EXPECT_EQ(errno, ENOENT) << p;
  }
}

// Renames anywhere on the machine make the kernel refuse a ".." under RESOLVE_IN_ROOT
// with EAGAIN now and then (another user's activity on a shared node): hpai's call
// answers anyway. The renames run in a thread for as long as the opens take.
TEST_F(Openat2Walk, RenamesElsewhereNeverFailAnOpen) {
  std::atomic<bool> stop{false};
  const std::string a = tmp_.path() + "/outside/a", b = tmp_.path() + "/outside/b";
  std::ofstream(a) << "x";
  std::thread renamer([&] {
    while (!stop.load()) {
      if (rename(a.c_str(), b.c_str()) != 0 || rename(b.c_str(), a.c_str()) != 0) break;
    }
  });
  int raw_eagain = 0, failures = 0;
  for (int i = 0; i < 20000; ++i) {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const int raw = static_cast<int>(syscall(SYS_openat2, fd_.get(), "usr/lib/deep/../../../etc/..", &how, sizeof how));
    if (raw >= 0)
      close(raw);
    else if (errno == EAGAIN)
      ++raw_eagain;
    const int fd = openat2_resolve(fd_.get(), "usr/lib/deep/../../../etc/..", O_PATH | O_CLOEXEC,
                                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0)
      close(fd);
    else
      ++failures;
  }
  stop = true;
  renamer.join();
  EXPECT_EQ(failures, 0) << "the raw call got EAGAIN " << raw_eagain << " times";
  RecordProperty("raw_eagain", raw_eagain);
}

}  // namespace
}  // namespace hpai
