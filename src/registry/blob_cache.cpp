#include "hpai/registry/blob_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/image/image_config.hpp"

namespace hpai {

namespace {

UniqueFd lock_file(const std::string& path, int how) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("can't open lock file " + path);
  while (flock(fd.get(), how) != 0)
    if (errno != EINTR) throw_errno("can't lock " + path);
  return fd;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

BlobWriter::BlobWriter(UniqueFd fd, std::string path, std::int64_t expected_size)
    : fd_(std::move(fd)), path_(std::move(path)), expected_(expected_size), hash_(std::make_unique<Sha256>()) {
  // What an interrupted fetch left: hashed again (a hash state can't be saved), then
  // appended to.
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = read(fd_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("can't read " + path_);
    if (n == 0) break;
    hash_->update(buf.data(), static_cast<std::size_t>(n));
    size_ += static_cast<std::uint64_t>(n);
  }
  if (expected_ >= 0 && size_ > static_cast<std::uint64_t>(expected_)) restart();
}

bool BlobWriter::write(const char* data, std::size_t n) {
  if (expected_ >= 0 && size_ + n > static_cast<std::uint64_t>(expected_)) {
    error_ = "the registry sent more than the " + std::to_string(expected_) + " bytes its manifest says";
    return false;
  }
  hash_->update(data, n);
  while (n > 0) {
    ssize_t w = ::write(fd_.get(), data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = "can't write " + path_ + ": " + std::strerror(errno) +
               (errno == ENOSPC || errno == EDQUOT
                    ? " (free space there, hpai-image gc removes unused blobs, or pull into other storage with -s DIR)"
                    : "");
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    size_ += static_cast<std::uint64_t>(w);
  }
  return true;
}

void BlobWriter::restart() {
  check(ftruncate(fd_.get(), 0), "can't truncate " + path_);
  check(lseek(fd_.get(), 0, SEEK_SET), "can't seek " + path_);
  hash_ = std::make_unique<Sha256>();
  size_ = 0;
}

std::string BlobWriter::finish_hex() { return hash_->hex(); }

BlobCache::BlobCache(const Storage& storage) : root_(storage.root()) {
  for (const char* sub : {"blobs/sha256", "blobs/partial", "blobs/lock"}) storage.make_area(sub);
}

bool BlobCache::has(const std::string& hex) const {
  struct stat st {};
  return lstat(path_of(hex).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

UniqueFd BlobCache::hold() const { return lock_file(root_ + "/lock/blobs", LOCK_SH); }

bool BlobCache::ensure(const Descriptor& d, const std::string& what,
                       const std::function<void(BlobWriter&)>& fetch) const {
  if (sha256_hex_of_digest(d.digest, what) != d.hex) throw Error(what + ": not a sha256 digest: " + d.digest);
  if (has(d.hex)) return false;
  UniqueFd lock = lock_file(root_ + "/blobs/lock/" + d.hex, LOCK_EX);
  if (has(d.hex)) return false;  // another pull fetched it while this one waited
  const std::string partial = root_ + "/blobs/partial/" + d.hex;
  UniqueFd fd(open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("can't create " + partial);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) throw Error(partial + " is not a regular file");
  try {
    BlobWriter writer(std::move(fd), partial, d.size);
    if (writer.size() > 0)
      spdlog::debug("{}: resuming after the {} bytes an earlier pull fetched", what, writer.size());
    fetch(writer);
    if (d.size >= 0 && writer.size() != static_cast<std::uint64_t>(d.size))
      throw Error(what + ": the registry sent " + std::to_string(writer.size()) + " bytes, the manifest says " +
                  std::to_string(d.size) + "; nothing was imported");
    const std::string got = writer.finish_hex();
    if (got != d.hex)
      throw Error(what + ": the registry sent data with sha256:" + got + ", not the " + d.digest +
                  " the manifest names (corrupted on the way, or tampered with); nothing was imported");
    // Durable before it is visible: a crash must not leave a truncated blob under a
    // digest name.
    check(fdatasync(writer.fd()), "can't sync " + partial);
    check(fchmod(writer.fd(), 0444), "can't chmod " + partial);
    check(rename(partial.c_str(), path_of(d.hex).c_str()), "can't move " + partial + " into the blob cache");
  } catch (...) {
    unlink(partial.c_str());
    throw;
  }
  return true;
}

GcReport BlobCache::gc(const Storage& storage, bool dry_run) const {
  UniqueFd lock = lock_file(root_ + "/lock/blobs", LOCK_EX);
  std::set<std::string> keep;
  for (const auto& name : storage.names()) {
    ImageConfig c;
    try {
      c = read_image_config(storage.image_dir(name));
    } catch (const Error& e) {
      throw Error("gc: can't tell which blobs image " + name + " uses: " + e.what() +
                  "; nothing was removed (hpai-image rm " + name + ", then gc again)");
    }
    for (const auto& b : c.import.blobs)
      if (b.starts_with("sha256:")) keep.insert(b.substr(7));
  }
  GcReport report;
  const std::string blobs = root_ + "/blobs/sha256";
  for (const auto& hex : entries(blobs)) {
    if (keep.count(hex) != 0) {
      ++report.kept;
      continue;
    }
    struct stat st {};
    const std::string path = blobs + "/" + hex;
    if (lstat(path.c_str(), &st) != 0) continue;
    if (!dry_run && unlink(path.c_str()) != 0) throw_errno("can't remove " + path);
    ++report.removed;
    report.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  // No pull runs (the exclusive lock says so): a partial file is a killed pull's.
  for (const auto& hex : entries(root_ + "/blobs/partial")) {
    const std::string path = root_ + "/blobs/partial/" + hex;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    if (!dry_run && unlink(path.c_str()) != 0) throw_errno("can't remove " + path);
    ++report.partials;
    report.bytes += static_cast<std::uint64_t>(st.st_size);
  }
  if (!dry_run)
    for (const auto& hex : entries(root_ + "/blobs/lock")) unlink((root_ + "/blobs/lock/" + hex).c_str());
  return report;
}

}  // namespace hpai
