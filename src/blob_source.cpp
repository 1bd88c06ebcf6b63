#include "hpai/blob_source.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "hpai/error.hpp"
#include "hpai/unpack.hpp"

namespace hpai {

namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

std::string normalise(const char* name) {
  auto s = sanitize_member_path(name != nullptr ? name : "");
  return s ? *s : std::string();
}

ArchivePtr open_tar(const std::string& path) {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
    throw Error("can't read archive " + path + ": " + archive_error_string(a.get()));
  return a;
}

// A member's data, read straight from the archive.
class MemberSource : public ByteSource {
 public:
  MemberSource(ArchivePtr a, std::string what) : a_(std::move(a)), what_(std::move(what)) {}
  std::size_t read(void* buf, std::size_t size) override {
    auto n = archive_read_data(a_.get(), buf, size);
    if (n < 0) throw Error("can't read " + what_ + ": " + archive_error_string(a_.get()));
    return static_cast<std::size_t>(n);
  }

 private:
  ArchivePtr a_;
  std::string what_;
};

class DirectoryStore : public BlobStore {
 public:
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {}
  bool has(const std::string& path) const override {
    struct stat st {};
    return stat((root_ + "/" + path).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  std::unique_ptr<ByteSource> open(const std::string& path) const override {
    return std::make_unique<FileSource>(root_ + "/" + path);
  }
  std::string read_small(const std::string& path, std::size_t max) const override {
    FileSource f(root_ + "/" + path);
    if (f.size() > max) throw Error(describe(path) + " is too large (" + std::to_string(f.size()) + " bytes)");
    std::string out;
    drain(f, [&](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); });
    return out;
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
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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
  ArchivePtr a = open_tar(path_);
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    names_.push_back(normalise(archive_entry_pathname(e)));
  if (r != ARCHIVE_EOF) throw Error("can't read archive " + path_ + ": " + archive_error_string(a.get()));
}

bool TarMembers::has(const std::string& name) const {
  std::string want = normalise(name.c_str());
  for (const auto& n : names_)
    if (n == want) return true;
  return false;
}

std::unique_ptr<ByteSource> TarMembers::open(const std::string& name) const {
  std::string want = normalise(name.c_str());
  ArchivePtr a = open_tar(path_);
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (normalise(archive_entry_pathname(e)) == want) return std::make_unique<MemberSource>(std::move(a), path_ + ":" + name);
  }
  if (r != ARCHIVE_EOF) throw Error("can't read archive " + path_ + ": " + archive_error_string(a.get()));
  throw Error("archive " + path_ + " has no member " + name);
}

std::string TarMembers::read_small(const std::string& name, std::size_t max) const {
  auto src = open(name);
  std::string out;
  drain(*src, [&](const void* p, std::size_t n) {
    out.append(static_cast<const char*>(p), n);
    if (out.size() > max) throw Error(path_ + ":" + name + " is too large (over " + std::to_string(max) + " bytes)");
  });
  return out;
}

std::unique_ptr<BlobStore> BlobStore::directory(std::string root) { return std::make_unique<DirectoryStore>(std::move(root)); }
std::unique_ptr<BlobStore> BlobStore::tar(std::string path) { return std::make_unique<TarStore>(std::move(path)); }

void drain(ByteSource& source, const std::function<void(const void*, std::size_t)>& sink) {
  std::vector<char> buf(1 << 20);
  while (std::size_t n = source.read(buf.data(), buf.size()))
    if (sink) sink(buf.data(), n);
}

}  // namespace hpai
