#include "hpai/base/openat2.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <vector>

#include "hpai/base/fd.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

int fail(int err) {
  errno = err;
  return -1;
}

std::atomic<bool> kernel_lacks_openat2{false};

}  // namespace

int open_in_root_walk(int root, const std::string& path, int flags, unsigned long long resolve, int mode) {
  const bool no_symlinks = (resolve & RESOLVE_NO_SYMLINKS) != 0;
  const bool no_magic = no_symlinks || (resolve & RESOLVE_NO_MAGICLINKS) != 0;
  std::deque<std::string> todo;
  push_components(todo, path, false);
  bool want_dir = !path.empty() && path.back() == '/';
  std::vector<UniqueFd> below;  // the directories walked into, innermost last
  auto dir = [&]() { return below.empty() ? root : below.back().get(); };
  int links = 0;
  while (!todo.empty()) {
    const std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {  // lexically, by the walk's own stack: never above ROOT
      if (!below.empty()) below.pop_back();
      continue;
    }
    const bool last = todo.empty();
    UniqueFd fd(openat(dir(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (last && errno == ENOENT && (flags & O_CREAT) && !want_dir)
        return openat(dir(), part.c_str(), flags | O_NOFOLLOW, mode);
      return -1;
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return -1;
    if (S_ISLNK(st.st_mode)) {
      if (last && (flags & O_NOFOLLOW) && !want_dir) return openat(dir(), part.c_str(), flags, mode);
      if (last && (flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);  // O_EXCL follows no link
      if (no_symlinks) return fail(ELOOP);
      struct statfs sf {};
      if (no_magic && fstatfs(fd.get(), &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) return fail(ELOOP);
      if (++links > kMaxSymlinks) return fail(ELOOP);
      char target[4096];
      const ssize_t n = readlinkat(fd.get(), "", target, sizeof target);
      if (n < 0) return -1;
      if (n == 0 || n == static_cast<ssize_t>(sizeof target)) return fail(n == 0 ? ENOENT : ENAMETOOLONG);
      const std::string t(target, static_cast<std::size_t>(n));
      if (t.front() == '/') below.clear();
      if (last) want_dir = t.back() == '/' || want_dir;
      push_components(todo, t, true);
      continue;
    }
    if (last) {
      if (want_dir && !S_ISDIR(st.st_mode)) return fail(ENOTDIR);
      if ((flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);
      // Opened again by name, O_NOFOLLOW: had it become a symlink since, this fails.
      return openat(dir(), part.c_str(), flags | O_NOFOLLOW, mode);
    }
    if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR);
    below.push_back(std::move(fd));
  }
  // The path ends in a directory already open (the root, or after a "..").
  if ((flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);
  return openat(dir(), ".", flags & ~O_NOFOLLOW, mode);
}

int openat2_resolve(int dirfd, const std::string& path, int flags, unsigned long long resolve, int mode) {
  if (!kernel_lacks_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags);
    how.mode = static_cast<std::uint64_t>(mode);
    how.resolve = resolve;
    // EAGAIN: a rename or mount anywhere on the node raced a ".." under RESOLVE_IN_ROOT
    // and the kernel would not vouch for it. Another user's activity must not fail a
    // launch: ask again, and after a few tries let the walk by fd answer.
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int fd = static_cast<int>(syscall(SYS_openat2, dirfd, path.empty() ? "." : path.c_str(), &how, sizeof how));
      if (fd >= 0 || (errno != ENOSYS && errno != EAGAIN)) return fd;
      if (errno == ENOSYS) {
        kernel_lacks_openat2.store(true, std::memory_order_relaxed);
        break;
      }
    }
  }
  return open_in_root_walk(dirfd, path, flags, resolve, mode);
}

}  // namespace hpai
