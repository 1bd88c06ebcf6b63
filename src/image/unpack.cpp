#include "hpai/image/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/fs_at.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/image/image_config.hpp"

namespace hpai {

namespace {

constexpr std::string_view kWhiteout = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

// Every data block of the archive's current entry, in order, to FN(bytes, size, offset);
// Error "WHAT: ..." when the archive can't be read.
void for_each_block(struct archive* a, const std::string& what,
                    const std::function<void(const char*, std::size_t, la_int64_t)>& fn) {
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  while (true) {
    int r = archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return;
    if (r < ARCHIVE_WARN) throw Error(what + ": " + (archive_error_string(a) ? archive_error_string(a) : "read error"));
    fn(static_cast<const char*>(buf), size, offset);
  }
}

int openat2_in_root(int root, const std::string& path, int flags) {
  return openat2_resolve(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

std::pair<std::string, std::string> split(const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

}  // namespace

std::optional<std::string> sanitize_member_path(std::string_view path) {
  std::string out;
  for (std::string_view part : split_fields(path, '/')) {
    if (part == "..") return std::nullopt;
    if (part.size() > 255) return std::nullopt;
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
  }
  if (out.size() >= 4000) return std::nullopt;  // PATH_MAX with room for the root
  return out;
}

LayerWriter::LayerWriter(const std::string& root) : root_(root), old_umask_(umask(0)) {
  root_fd_.reset(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_) throw_errno("can't open unpack directory " + root);
}

LayerWriter::~LayerWriter() { umask(old_umask_); }

int LayerWriter::parent_dir(const std::string& rel_dir, bool create) {
  if (cached_fd_ && rel_dir == cached_path_) return cached_fd_.get();
  forget_parent();
  UniqueFd fd(openat2_in_root(root_fd_.get(), rel_dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd && (errno == ENOENT || errno == ENOTDIR) && create) fd = make_dirs(rel_dir);
  if (!fd) return -1;
  cached_path_ = rel_dir;
  cached_fd_ = std::move(fd);
  return cached_fd_.get();
}

// mkdir -p inside the root. A dangling symlink on the way is followed, inside the
// root, and its target created (as umoci and Docker do); a file on the way is replaced.
UniqueFd LayerWriter::make_dirs(const std::string& rel_dir) {
  std::vector<std::string> todo;
  auto push = [](std::string_view path, std::vector<std::string> base) {
    for (std::string_view part : split_fields(path, '/')) {
      if (part == "..") {
        if (!base.empty()) base.pop_back();
      } else if (!part.empty() && part != ".") {
        base.emplace_back(part);
      }
    }
    return base;
  };
  todo = push(rel_dir, {});
  for (int links = 0; links <= 40; ++links) {
    UniqueFd dir(openat2_in_root(root_fd_.get(), "", O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::string walked;
    bool restarted = false;
    for (std::size_t i = 0; i < todo.size() && !restarted; ++i) {
      const std::string& part = todo[i];
      std::string next_path = walked.empty() ? part : walked + "/" + part;
      UniqueFd next(openat2_in_root(root_fd_.get(), next_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!next) {
        if (errno != ENOENT && errno != ENOTDIR) throw_errno("can't open " + next_path + " in " + root_);
        struct stat st {};
        if (fstatat(dir.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
          std::vector<char> target(static_cast<std::size_t>(st.st_size) + 2);
          auto n = readlinkat(dir.get(), part.c_str(), target.data(), target.size() - 1);
          if (n < 0) throw_errno("can't read symlink " + next_path);
          std::string_view t(target.data(), static_cast<std::size_t>(n));
          std::vector<std::string> base = push(walked, {});
          std::vector<std::string> resolved = push(t, t.starts_with("/") ? std::vector<std::string>{} : base);
          resolved.insert(resolved.end(), todo.begin() + static_cast<std::ptrdiff_t>(i) + 1, todo.end());
          todo = std::move(resolved);
          restarted = true;
          break;
        }
        clear_existing(dir.get(), part, false, next_path);
        if (mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
          throw_errno("can't create directory " + next_path);
        next.reset(openat2_in_root(root_fd_.get(), next_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!next) throw_errno("can't open " + next_path + " in " + root_);
      }
      dir = std::move(next);
      walked = next_path;
    }
    if (!restarted) return dir;
  }
  throw Error("too many symlinks creating " + rel_dir + " in " + root_);
}

// Makes room for a new entry NAME in DIR: anything there goes, except a directory
// when KEEP_DIR (a directory entry over a directory only updates its mode).
void LayerWriter::clear_existing(int dir, const std::string& name, bool keep_dir, const std::string& rel) {
  struct stat st {};
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("can't examine " + rel);
  }
  if (S_ISDIR(st.st_mode) && keep_dir) return;
  remove_at(dir, name.c_str());
  // The cached parent path may have run through what was removed (DIR may be that
  // cached fd, so only now).
  if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) forget_parent();
}

void LayerWriter::whiteout(const std::string& dir, const std::string& name, const std::string& rel) {
  ++stats_.whiteouts;
  if (this_layer_.count(rel) != 0) return;  // a whiteout hides lower layers only
  int parent = parent_dir(dir, false);
  if (parent < 0) return;  // nothing there to delete
  remove_at(parent, name.c_str());
  forget_parent();
}

void LayerWriter::opaque(const std::string& dir) {
  ++stats_.whiteouts;
  int parent = parent_dir(dir, true);
  int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("can't open " + dir);
  forget_parent();
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    throw_errno("can't read " + dir);
  }
  std::vector<std::string> lower;
  while (struct dirent* ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n == "." || n == "..") continue;
    if (this_layer_.count(dir.empty() ? n : dir + "/" + n) == 0) lower.push_back(n);
  }
  for (const auto& n : lower) remove_at(dirfd(d), n.c_str());
  closedir(d);
}

void LayerWriter::begin_layer() {
  this_layer_.clear();
  forget_parent();
}

void LayerWriter::apply(struct archive* a, const std::string& what) {
  begin_layer();
  struct archive_entry* e = nullptr;
  while (true) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw Error(what + ": " + (archive_error_string(a) ? archive_error_string(a) : "unreadable archive"));
    const char* raw = archive_entry_pathname(e);
    if (r == ARCHIVE_WARN)
      spdlog::warn("{}: {}: {}", what, raw ? raw : "(a member with an unreadable name)",
                   archive_error_string(a) ? archive_error_string(a) : "warning");
    if (raw == nullptr) {
      ++stats_.rejected;
      spdlog::warn("{}: skipping a member with an unreadable name", what);
      continue;
    }
    apply_entry(a, e, raw, what);
  }
}

void LayerWriter::apply_entry(struct archive* a, struct archive_entry* e, const char* raw, const std::string& what) {
  auto rel = sanitize_member_path(raw);
  if (!rel) {
    ++stats_.rejected;
    spdlog::warn("{}: skipping {}: path leaves the image (\"..\") or is too long", what, raw);
    return;
  }
  if (rel->empty()) return;  // the root: keep ours
  if (*rel == kMetadataDirName || rel->starts_with(std::string(kMetadataDirName) + "/"))
    return metadata_entry(a, e, *rel, what);
  write_entry(a, e, *rel, what);
}

// The archive's .hpai/: hpai's metadata directory, which no archive gets to shape (a
// symlink there would aim hpai's own writes). Its image.json is kept as data only.
void LayerWriter::metadata_entry(struct archive* a, struct archive_entry* e, const std::string& rel,
                                 const std::string& what) {
  ++stats_.metadata;
  if (rel != kImageMetadataPath || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != nullptr) {
    spdlog::debug("{}: ignoring {} (.hpai/ is hpai's own)", what, rel);
    return;
  }
  if (archive_entry_size_is_set(e) && archive_entry_size(e) > static_cast<la_int64_t>(kMaxJsonDocument))
    throw Error(what + ": " + rel + " is larger than hpai's limit of 16 MiB for image metadata");
  std::string text;
  for_each_block(a, what + ": " + rel, [&](const char* data, std::size_t size, la_int64_t offset) {
    if (static_cast<std::uint64_t>(offset) + size > kMaxJsonDocument)
      throw Error(what + ": " + rel + " is larger than hpai's limit of 16 MiB for image metadata");
    if (text.size() < static_cast<std::size_t>(offset) + size) text.resize(static_cast<std::size_t>(offset) + size);
    text.replace(static_cast<std::size_t>(offset), size, data, size);
  });
  carried_metadata_ = std::move(text);
}

void LayerWriter::write_entry(struct archive* a, struct archive_entry* e, const std::string& rel,
                              const std::string& what) {
  auto [dir, name] = split(rel);
  if (name.starts_with(kWhiteout)) {
    if (name == kOpaque) return opaque(dir);
    std::string target = name.substr(kWhiteout.size());
    if (target.empty() || target == "." || target == "..") {
      ++stats_.rejected;
      spdlog::warn("{}: skipping malformed whiteout {}", what, rel);
      return;
    }
    return whiteout(dir, target, dir.empty() ? target : dir + "/" + target);
  }
  const mode_t type = archive_entry_filetype(e);
  // The host's /dev is bound over the image's; device nodes could not be made anyway.
  if ((rel.starts_with("dev/") && type != AE_IFDIR) || type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO ||
      type == AE_IFSOCK) {
    ++stats_.dropped;
    spdlog::debug("{}: dropping {} (device node, FIFO, socket or /dev content)", what, rel);
    return;
  }
  mode_t perm = archive_entry_perm(e) & 07777;
  if (perm & (S_ISUID | S_ISGID)) {
    ++stats_.setid_stripped;
    perm &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
  }
  int parent = parent_dir(dir, true);
  if (parent < 0) throw_errno("can't open directory " + dir + " in " + root_);
  this_layer_.insert(rel);

  const char* link = archive_entry_hardlink(e);
  if (link != nullptr) {
    auto target = sanitize_member_path(link);
    if (!target || target->empty()) {
      ++stats_.rejected;
      spdlog::warn("{}: skipping hard link {} -> {}: target leaves the image", what, rel, link);
      return;
    }
    auto [tdir, tname] = split(*target);
    std::string tdir_copy = tdir;
    UniqueFd tparent(openat2_in_root(root_fd_.get(), tdir_copy, O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (!tparent || fstatat(tparent.get(), tname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) {
      ++stats_.rejected;
      spdlog::warn("{}: skipping hard link {} -> {}: no such file in the image", what, rel, link);
      return;
    }
    clear_existing(parent, name, false, rel);
    parent = parent_dir(dir, true);
    if (linkat(tparent.get(), tname.c_str(), parent, name.c_str(), 0) != 0)
      throw_errno("can't link " + rel + " to " + link);
    ++stats_.hardlinks;
    return;
  }

  switch (type) {
    case AE_IFDIR: {
      if (mkdirat(parent, name.c_str(), perm | S_IRWXU) != 0) {
        if (errno != EEXIST) throw_errno("can't create directory " + rel);
        clear_existing(parent, name, true, rel);  // keeps a directory, removes anything else
        parent = parent_dir(dir, true);
        if (mkdirat(parent, name.c_str(), perm | S_IRWXU) != 0 && errno != EEXIST)
          throw_errno("can't create directory " + rel);
        if (fchmodat(parent, name.c_str(), perm | S_IRWXU, AT_SYMLINK_NOFOLLOW) != 0 && errno != EOPNOTSUPP)
          throw_errno("can't chmod " + rel);
      }
      ++stats_.dirs;
      return;
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      // Create first, clear only on EEXIST: in a fresh tree that saves a syscall per entry.
      if (symlinkat(target ? target : "", parent, name.c_str()) != 0) {
        if (errno != EEXIST) throw_errno("can't create symlink " + rel);
        clear_existing(parent, name, false, rel);
        parent = parent_dir(dir, true);
        if (symlinkat(target ? target : "", parent, name.c_str()) != 0) throw_errno("can't create symlink " + rel);
      }
      forget_parent();
      ++stats_.symlinks;
      return;
    }
    case AE_IFREG: {
      const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
      UniqueFd fd(openat(parent, name.c_str(), flags, perm | S_IRUSR | S_IWUSR));
      if (!fd && errno == EEXIST) {
        clear_existing(parent, name, false, rel);
        parent = parent_dir(dir, true);
        fd.reset(openat(parent, name.c_str(), flags, perm | S_IRUSR | S_IWUSR));
      }
      if (!fd) throw_errno("can't create " + rel);
      la_int64_t end = 0;
      for_each_block(a, what + ": " + rel, [&](const char* p, std::size_t size, la_int64_t offset) {
        std::size_t left = size;
        off_t at = offset;
        while (left > 0) {
          auto n = pwrite(fd.get(), p, left, at);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw_errno("can't write " + rel);
          p += n, left -= static_cast<std::size_t>(n), at += n;
        }
        stats_.bytes += size;
        end = offset + static_cast<la_int64_t>(size);
      });
      // Sparse files: the holes at the end have no data blocks.
      if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
          ftruncate(fd.get(), archive_entry_size(e)) != 0)
        throw_errno("can't size " + rel);
      struct timespec times[2] = {{0, UTIME_OMIT}, {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
      if (archive_entry_mtime_is_set(e)) futimens(fd.get(), times);
      ++stats_.files;
      return;
    }
    default: ++stats_.dropped; spdlog::debug("{}: dropping {} (unsupported file type)", what, rel);
  }
}

}  // namespace hpai
