#include "hpai/image/image_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

extern "C" {
#include <squashfuse/squashfuse.h>
}

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

// An image directory on the host, read through an O_PATH fd of its root: every path is
// resolved with openat2(RESOLVE_IN_ROOT), so the image's symlinks (absolute or "..")
// are followed the way they will be inside the container, never onto the host.
class DirectoryImage : public ImageFs {
 public:
  explicit DirectoryImage(std::string root) : root_(std::move(root)) {
    root_fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd_) throw_errno("can't open image " + root_);
  }
  std::optional<ImageStat> lstat(const std::string& rel) const override {
    struct stat st {};
    if (!lstat_at(rel, st)) return std::nullopt;
    ImageStat s;
    s.type = S_ISDIR(st.st_mode)   ? ImageStat::Type::Dir
             : S_ISREG(st.st_mode) ? ImageStat::Type::File
             : S_ISLNK(st.st_mode) ? ImageStat::Type::Link
                                   : ImageStat::Type::Other;
    s.size = static_cast<std::uint64_t>(st.st_size);
    return s;
  }
  std::string readlink(const std::string& rel) const override {
    if (auto hit = links_.find(rel); hit != links_.end()) return hit->second;
    auto [dir, name] = parent_of(rel);
    if (dir < 0) throw_errno("can't read symlink " + describe(rel));
    std::vector<char> buf(4096);
    auto n = ::readlinkat(dir, name.c_str(), buf.data(), buf.size());
    if (n < 0) throw_errno("can't read symlink " + describe(rel));
    return links_.emplace(rel, std::string(buf.data(), static_cast<std::size_t>(n))).first->second;
  }
  std::optional<std::string> read_file(const std::string& rel, std::size_t max) const override {
    return read_file_at(root_fd_.get(), rel, Resolve::InRoot, max, describe(rel));
  }
  std::optional<std::string> read_range(const std::string& rel, std::uint64_t offset, std::size_t size) const override {
    UniqueFd fd = open_regular(root_fd_.get(), rel, Resolve::InRoot, describe(rel));
    if (!fd) return std::nullopt;
    return hpai::read_range(fd.get(), offset, size, describe(rel));
  }
  std::vector<std::string> list(const std::string& rel) const override {
    std::vector<std::string> names;
    int fd = openat2_resolve(root_fd_.get(), rel, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC,
                             RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return names;
      throw_errno("can't list " + describe(rel));
    }
    DIR* d = fdopendir(fd);
    if (!d) {
      close(fd);
      throw_errno("can't list " + describe(rel));
    }
    while (dirent* e = readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    closedir(d);
    return names;
  }
  std::string describe() const override { return root_; }

  std::optional<Fast> resolve_fast(const std::string& path) const override {
    // A plan asks for some paths twice (is it there? then: where do mounts go?).
    if (auto hit = resolved_.find(path); hit != resolved_.end()) return hit->second;
    auto fast = lookup_fast(path);
    if (fast) resolved_.emplace(path, *fast);
    return fast;
  }

 private:
  std::optional<Fast> lookup_fast(const std::string& path) const {
    // RESOLVE_NO_SYMLINKS: without a symlink on the way, ".." and "." mean what they
    // say, so the path's lexical form is its canonical one, also for a missing part.
    UniqueFd fd(openat2_resolve(root_fd_.get(), path, O_PATH | O_CLOEXEC,
                                RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (!fd && errno != ENOENT) return std::nullopt;  // a symlink (ELOOP), a file on the way: walk
    Fast f;
    f.rel = *lexically_normal(path, true);
    if (!fd) return f;  // missing: a walk would say the same
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return std::nullopt;
    f.exists = true;
    f.is_dir = S_ISDIR(st.st_mode);
    return f;
  }

  std::string describe(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }

  // REL's parent directory (an fd owned by the cache, or -1 with errno set), resolved
  // inside the root, and REL's last component. A plan looks up many names in a few
  // directories (a library's link chain, a profile's libraries in one lib directory):
  // each directory is resolved once, and so stays the same directory for the plan.
  std::pair<int, std::string> parent_of(const std::string& rel) const {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {root_fd_.get(), rel};
    const std::string dir = rel.substr(0, slash);
    auto hit = dirs_.find(dir);
    if (hit == dirs_.end()) {
      UniqueFd fd(openat2_resolve(root_fd_.get(), dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
      const int err = fd ? 0 : errno;
      if (dirs_.size() >= kMaxCached) {  // an unusual plan: no more descriptors kept
        if (!fd) errno = err;
        return {fd ? (spare_ = std::move(fd)).get() : -1, rel.substr(slash + 1)};
      }
      hit = dirs_.emplace(dir, std::make_pair(std::move(fd), err)).first;
    }
    errno = hit->second.second;
    return {hit->second.first ? hit->second.first.get() : -1, rel.substr(slash + 1)};
  }

  bool lstat_at(const std::string& rel, struct stat& st) const {
    if (rel.empty()) {
      if (fstat(root_fd_.get(), &st) != 0) throw_errno("can't examine " + root_);
      return true;
    }
    if (auto hit = stats_.find(rel); hit != stats_.end()) {
      if (hit->second) st = *hit->second;
      return hit->second.has_value();
    }
    auto [dir, name] = parent_of(rel);
    std::optional<struct stat> found;
    if (dir < 0) {
      if (errno != ENOENT && errno != ENOTDIR) throw_errno("can't examine " + describe(rel));
    } else if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      found = st;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      throw_errno("can't examine " + describe(rel));
    }
    if (stats_.size() < kMaxCached) stats_.emplace(rel, found);
    return found.has_value();
  }

  static constexpr std::size_t kMaxCached = 256;

  std::string root_;
  UniqueFd root_fd_;
  mutable std::map<std::string, Fast> resolved_;
  mutable std::map<std::string, std::pair<UniqueFd, int>> dirs_;  // directory -> fd, or -1 and its errno
  mutable UniqueFd spare_;                                        // past kMaxCached: the last one only
  mutable std::map<std::string, std::optional<struct stat>> stats_;
  mutable std::map<std::string, std::string> links_;
};

class SquashfsImage : public ImageFs {
 public:
  SquashfsImage(UniqueFd fd, std::string file) : file_(std::move(file)), fd_(std::move(fd)) {
    sqfs_err err = sqfs_init(&fs_, fd_.get(), 0);
    if (err != SQFS_OK)
      throw Error("can't read SquashFS image " + file_ + ": not a SquashFS 4 image, or a compression this build lacks");
    open_ = true;
  }
  ~SquashfsImage() override {
    if (open_) sqfs_destroy(&fs_);
  }
  std::optional<ImageStat> lstat(const std::string& rel) const override {
    sqfs_inode inode;
    if (!lookup(rel, inode)) return std::nullopt;
    ImageStat s;
    mode_t mode = inode.base.mode;
    s.type = S_ISDIR(mode)   ? ImageStat::Type::Dir
             : S_ISREG(mode) ? ImageStat::Type::File
             : S_ISLNK(mode) ? ImageStat::Type::Link
                             : ImageStat::Type::Other;
    if (S_ISREG(mode)) s.size = inode.xtra.reg.file_size;
    return s;
  }
  std::string readlink(const std::string& rel) const override {
    sqfs_inode inode;
    if (!lookup(rel, inode)) throw Error("no symlink " + rel + " in " + file_);
    // The image says how long; a target longer than PATH_MAX can't be followed anyway.
    if (inode.xtra.symlink_size >= 4096) throw Error("symlink " + rel + " in " + file_ + " is longer than PATH_MAX");
    std::vector<char> buf(inode.xtra.symlink_size + 1);
    size_t size = buf.size();
    if (sqfs_readlink(&fs_, &inode, buf.data(), &size) != SQFS_OK)
      throw Error("can't read symlink " + rel + " in " + file_);
    return std::string(buf.data());
  }
  std::optional<std::string> read_file(const std::string& rel, std::size_t max) const override {
    sqfs_inode inode;
    if (!lookup(rel, inode)) return std::nullopt;
    if (!S_ISREG(inode.base.mode)) throw Error(rel + " in " + file_ + " is not a file");
    if (inode.xtra.reg.file_size > max) throw Error(rel + " in " + file_ + " is too large");
    std::string out(inode.xtra.reg.file_size, '\0');
    sqfs_off_t size = static_cast<sqfs_off_t>(out.size());
    if (size > 0 && sqfs_read_range(&fs_, &inode, 0, &size, out.data()) != SQFS_OK)
      throw Error("can't read " + rel + " in " + file_);
    out.resize(static_cast<std::size_t>(size));
    return out;
  }
  std::optional<std::string> read_range(const std::string& rel, std::uint64_t offset, std::size_t size) const override {
    sqfs_inode inode;
    if (!lookup(rel, inode)) return std::nullopt;
    if (!S_ISREG(inode.base.mode)) throw Error(rel + " in " + file_ + " is not a file");
    if (offset >= inode.xtra.reg.file_size) return std::string();
    std::string out(std::min<std::uint64_t>(size, inode.xtra.reg.file_size - offset), '\0');
    sqfs_off_t n = static_cast<sqfs_off_t>(out.size());
    if (n > 0 && sqfs_read_range(&fs_, &inode, static_cast<sqfs_off_t>(offset), &n, out.data()) != SQFS_OK)
      throw Error("can't read " + rel + " in " + file_);
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  std::vector<std::string> list(const std::string& rel) const override {
    std::vector<std::string> names;
    sqfs_inode inode;
    if (!lookup(rel, inode) || !S_ISDIR(inode.base.mode)) return names;
    sqfs_dir dir;
    if (sqfs_dir_open(&fs_, &inode, &dir, 0) != SQFS_OK) throw Error("can't list " + rel + " in " + file_);
    sqfs_name name;
    sqfs_dir_entry entry;
    sqfs_dentry_init(&entry, name);
    sqfs_err err = SQFS_OK;
    while (sqfs_dir_next(&fs_, &dir, &entry, &err)) names.emplace_back(sqfs_dentry_name(&entry));
    if (err != SQFS_OK) throw Error("can't list " + rel + " in " + file_);
    return names;
  }
  std::string describe() const override { return file_; }

 private:
  bool lookup(const std::string& rel, sqfs_inode& inode) const {
    if (sqfs_inode_get(&fs_, &inode, sqfs_inode_root(&fs_)) != SQFS_OK) throw Error("can't read the root of " + file_);
    if (rel.empty()) return true;
    bool found = false;
    if (sqfs_lookup_path(&fs_, &inode, ("/" + rel).c_str(), &found) != SQFS_OK)
      throw Error("can't look up " + rel + " in " + file_);
    return found;
  }
  std::string file_;
  UniqueFd fd_;
  mutable sqfs fs_{};  // libsquashfuse's calls take non-const pointers, even to read
  bool open_ = false;
};

}  // namespace

std::unique_ptr<ImageFs> open_directory_image(const std::string& root) {
  return std::make_unique<DirectoryImage>(root);
}
std::unique_ptr<ImageFs> open_squashfs_image(const std::string& file) {
  UniqueFd fd = open_regular(AT_FDCWD, file, Resolve::Host, "SquashFS image " + file);
  if (!fd) throw_errno("can't open SquashFS image " + file);
  return std::make_unique<SquashfsImage>(std::move(fd), file);
}

std::unique_ptr<ImageFs> open_squashfs_image(int fd, const std::string& file) {
  UniqueFd dup(fcntl(fd, F_DUPFD_CLOEXEC, 0));  // the same open file: no second open on a shared file system
  if (!dup) throw_errno("can't duplicate the descriptor of SquashFS image " + file);
  return std::make_unique<SquashfsImage>(std::move(dup), file);
}

UniqueFd open_squashfs_file(const std::string& file) {
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return UniqueFd();  // a FIFO or device is no image
  char magic[4] = {};
  if (pread(fd.get(), magic, 4, 0) != 4 || std::memcmp(magic, "hsqs", 4) != 0) return UniqueFd();
  return fd;
}

bool is_squashfs_file(const std::string& file) { return static_cast<bool>(open_squashfs_file(file)); }

}  // namespace hpai
