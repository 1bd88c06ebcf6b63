#include "hpai/image/blob_source.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/image/archive_handle.hpp"
#include "hpai/image/unpack.hpp"

namespace hpai {

namespace {

// A member name as the archive's index uses it; nullopt for names that leave the
// archive ("..") or name its root: no blob is called that.
std::optional<std::string> normalise(const char* name) {
  auto s = sanitize_member_path(name != nullptr ? name : "");
  if (!s || s->empty()) return std::nullopt;
  return s;
}

// An archive read from its own fd: the check that it is a regular file and the read
// are of one file. The fd lives as long as the archive reads it.
struct OpenTar {
  UniqueFd fd;
  ArchiveReader a;  // declared after FD: destroyed (and done reading) before FD closes
};

OpenTar open_tar(const std::string& path) {
  OpenTar t;
  t.fd = open_regular(AT_FDCWD, path, Resolve::Host, "archive " + path);
  if (!t.fd) throw_errno("can't read archive " + path);
  t.a.reset(archive_read_new());
  archive_read_support_filter_all(t.a.get());
  archive_read_support_format_tar(t.a.get());
  archive_read_support_format_gnutar(t.a.get());
  if (archive_read_open_fd(t.a.get(), t.fd.get(), 1 << 20) != ARCHIVE_OK)
    throw Error("can't read archive " + path + ": " + archive_error_string(t.a.get()));
  return t;
}

// A member's data, read straight from the archive.
class MemberSource : public ByteSource {
 public:
  MemberSource(OpenTar t, std::string what) : t_(std::move(t)), what_(std::move(what)) {}
  std::size_t read(void* buf, std::size_t size) override {
    auto n = archive_read_data(t_.a.get(), buf, size);
    if (n < 0) throw Error("can't read " + what_ + ": " + archive_error_string(t_.a.get()));
    return static_cast<std::size_t>(n);
  }

 private:
  OpenTar t_;  // the archive before its fd: it is freed first
  std::string what_;
};

class DirectoryStore : public BlobStore {
 public:
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {}
  bool has(const std::string& path) const override {
    // There and no directory: a FIFO or device is "there", and refused by name when read.
    struct stat st {};
    return stat((root_ + "/" + path).c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
  }
  std::unique_ptr<ByteSource> open(const std::string& path) const override {
    return std::make_unique<FileSource>(root_ + "/" + path);
  }
  std::string read_small(const std::string& path, std::size_t max) const override {
    return read_host_file(root_ + "/" + path, max, describe(path));
  }
  std::string describe(const std::string& path) const override { return root_ + "/" + path; }

 private:
  std::string root_;
};

class TarStore : public BlobStore {
 public:
  explicit TarStore(std::string path) : members_(std::move(path)) {}
  bool has(const std::string& path) const override { return members_.has(path); }
  std::unique_ptr<ByteSource> open(const std::string& path) const override { return members_.open(path); }
  std::string read_small(const std::string& path, std::size_t max) const override {
    return members_.read_small(path, max);
  }
  std::string describe(const std::string& path) const override { return members_.path() + ":" + path; }

 private:
  TarMembers members_;
};

}  // namespace

FileSource::FileSource(const std::string& path) : path_(path) {
  fd_ = open_regular(AT_FDCWD, path, Resolve::Host, path);  // a FIFO or /dev/zero is no archive
  if (!fd_) throw_errno("can't open " + path);
  struct stat st {};
  if (fstat(fd_.get(), &st) != 0) throw_errno("can't stat " + path);
  size_ = static_cast<std::uint64_t>(st.st_size);
  posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
}

std::size_t FileSource::read(void* buf, std::size_t size) {
  while (true) {
    auto n = ::read(fd_.get(), buf, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw_errno("can't read " + path_);
  }
}

TarMembers::TarMembers(std::string path) : path_(std::move(path)) {
  OpenTar t = open_tar(path_);
  struct archive* a = t.a.get();
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    auto n = normalise(archive_entry_pathname(e));
    if (!n) continue;
    if (is_blob(e)) {
      names_.push_back(*n);
    } else if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e) != nullptr) {
      // docker save writes a layer that two images share once, and a symlink for the other.
      std::string target = archive_entry_symlink(e);
      if (!target.empty() && target.front() != '/') target = n->substr(0, n->rfind('/') + 1) + target;
      if (auto to = resolve_dots(target)) links_[*n] = *to;
    }
  }
  if (r != ARCHIVE_EOF) throw Error("can't read archive " + path_ + ": " + archive_error_string(a));
}

std::optional<std::string> TarMembers::resolve_dots(const std::string& path) {
  auto out = lexically_normal(path, false);  // nullopt: out of the archive
  return out && !out->empty() ? out : std::nullopt;
}

std::optional<std::string> TarMembers::regular_member(const std::string& name) const {
  auto want = normalise(name.c_str());
  for (int hops = 0; want && hops < 8; ++hops) {
    if (std::find(names_.begin(), names_.end(), *want) != names_.end()) return want;
    auto link = links_.find(*want);
    if (link == links_.end()) return std::nullopt;
    want = link->second;
  }
  return std::nullopt;
}

bool TarMembers::is_blob(struct archive_entry* e) {
  // Only a plain file holds data: a directory, link or device "member" read as a blob
  // would be an empty layer the archive never had.
  return archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == nullptr;
}

bool TarMembers::has(const std::string& name) const { return regular_member(name).has_value(); }

std::unique_ptr<ByteSource> TarMembers::open(const std::string& name) const {
  auto want = regular_member(name);
  if (!want) throw Error("archive " + path_ + " has no file " + name);
  OpenTar t = open_tar(path_);
  struct archive* a = t.a.get();
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (is_blob(e) && normalise(archive_entry_pathname(e)) == want)
      return std::make_unique<MemberSource>(std::move(t), path_ + ":" + name);
  }
  if (r != ARCHIVE_EOF) throw Error("can't read archive " + path_ + ": " + archive_error_string(a));
  throw Error("archive " + path_ + " has no member " + name);
}

std::string TarMembers::read_small(const std::string& name, std::size_t max) const {
  auto src = open(name);
  std::string out;
  drain(*src, [&](const void* p, std::size_t n) {
    out.append(static_cast<const char*>(p), n);
    if (out.size() > max)
      throw Error("can't read " + path_ + ":" + name + ": larger than hpai's limit of " + std::to_string(max >> 20) +
                  " MiB for it");
  });
  return out;
}

std::unique_ptr<BlobStore> BlobStore::directory(std::string root) {
  return std::make_unique<DirectoryStore>(std::move(root));
}
std::unique_ptr<BlobStore> BlobStore::tar(std::string path) { return std::make_unique<TarStore>(std::move(path)); }

void drain(ByteSource& source, const std::function<void(const void*, std::size_t)>& sink) {
  std::vector<char> buf(1 << 20);
  while (std::size_t n = source.read(buf.data(), buf.size()))
    if (sink) sink(buf.data(), n);
}

}  // namespace hpai
