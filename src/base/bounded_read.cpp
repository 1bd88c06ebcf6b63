#include "hpai/base/bounded_read.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "hpai/base/error.hpp"

namespace hpai {

namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string mib(std::size_t bytes) {
  return bytes % (1 << 20) == 0 ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
}

}  // namespace

UniqueFd open_regular(int dirfd, const std::string& path, Resolve how, const std::string& what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  UniqueFd fd(how == Resolve::InRoot ? openat2_resolve(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                                     : openat(dirfd, path.c_str(), flags));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return fd;
    throw_errno("can't read " + what);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) throw_errno("can't examine " + what);
  if (!S_ISREG(st.st_mode))
    throw Error("can't read " + what + ": it is " + kind_of(st.st_mode) + ", not a regular file");
  return fd;
}

namespace {

// Fills BUF[0, N) from FD (at OFFSET with pread, else from its position) until N bytes
// or the end of the file; returns how many.
std::size_t read_full(int fd, char* buf, std::size_t n, std::optional<std::uint64_t> offset, const std::string& what) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t got =
        offset ? pread(fd, buf + done, n - done, static_cast<off_t>(*offset + done)) : read(fd, buf + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("can't read " + what);
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

std::string read_bounded(int fd, std::size_t max, const std::string& what) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw_errno("can't examine " + what);
  auto too_large = [&]() {
    return Error("can't read " + what + ": larger than hpai's limit of " + mib(max) + " for it");
  };
  if (static_cast<std::uint64_t>(st.st_size) > max) throw too_large();
  // st_size is a hint (/proc files say 0, a file may grow): read to the end, up to MAX.
  std::string out(std::min<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, max + 1), '\0');
  std::size_t done = 0;
  for (;;) {
    if (done == out.size()) {
      if (out.size() > max) throw too_large();
      out.resize(std::min(out.size() * 2 + 4096, max + 1));
    }
    const std::size_t got = read_full(fd, out.data() + done, out.size() - done, std::nullopt, what);
    done += got;
    if (done < out.size()) break;  // the end of the file
  }
  if (done > max) throw too_large();
  out.resize(done);
  return out;
}

std::optional<std::string> read_file_at(int dirfd, const std::string& path, Resolve how, std::size_t max,
                                        const std::string& what) {
  UniqueFd fd = open_regular(dirfd, path, how, what);
  if (!fd) return std::nullopt;
  return read_bounded(fd.get(), max, what);
}

std::string read_host_file(const std::string& path, std::size_t max, const std::string& what) {
  auto text = read_file_at(AT_FDCWD, path, Resolve::Host, max, what);
  if (!text) throw_errno("can't read " + what, ENOENT);
  return std::move(*text);
}

std::string read_range(int fd, std::uint64_t offset, std::size_t size, const std::string& what) {
  std::string buf(size, '\0');
  buf.resize(read_full(fd, buf.data(), size, offset, what));
  return buf;
}

}  // namespace hpai
