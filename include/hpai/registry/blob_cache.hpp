// Pulled blobs (layers, configs) by digest, shared by every image of a storage:
//   blobs/sha256/HEX    complete and verified, read-only; what imports read
//   blobs/partial/HEX   being fetched (kept by a killed pull; the next one resumes it)
//   blobs/lock/HEX      flock held while HEX is fetched: a second pull of the same blob
//                       waits for the first, then finds it cached
//   lock/blobs          shared by pulls, exclusive for gc: gc never removes a blob a
//                       pull is about to unpack
// A blob becomes visible only by rename after its sha256 and size matched.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "hpai/base/digest.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/image/manifest.hpp"
#include "hpai/image/storage.hpp"

namespace hpai {

// Where a fetch writes: the partial file, hashed as it grows.
class BlobWriter {
 public:
  BlobWriter(UniqueFd fd, std::string path, std::int64_t expected_size);
  std::uint64_t size() const { return size_; }
  // Appends; false (with error() set) when the disk refuses or more bytes come than
  // the descriptor said. Never throws: it runs inside libcurl's callback.
  bool write(const char* data, std::size_t n);
  // The server ignored a Range: start over.
  void restart();
  const std::string& error() const { return error_; }
  std::string finish_hex();  // the sha256 of what was written
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::string path_;
  std::int64_t expected_;
  std::uint64_t size_ = 0;
  std::unique_ptr<Sha256> hash_;
  std::string error_;
};

struct GcReport {
  int removed = 0;
  std::uint64_t bytes = 0;
  int kept = 0;
  int partials = 0;  // unfinished fetches removed
};

class BlobCache {
 public:
  explicit BlobCache(const Storage& storage);
  // BlobStore::directory(root()) opens "blobs/sha256/HEX".
  const std::string& root() const { return root_; }
  std::string path_of(const std::string& hex) const { return root_ + "/blobs/sha256/" + hex; }
  bool has(const std::string& hex) const;

  // Held for a pull's whole run (LOCK_SH on lock/blobs).
  UniqueFd hold() const;

  // Makes blob D present: nothing to do when cached (false); else, under D's lock,
  // FETCH appends the bytes after the writer's size() (an earlier run's, resumed), then
  // the digest and size are checked and the blob renamed in (true). On any failure the
  // partial file is removed and the Error names WHAT.
  bool ensure(const Descriptor& d, const std::string& what, const std::function<void(BlobWriter&)>& fetch) const;

  // Removes the blobs no image in STORAGE names (ImportInfo::blobs) and unfinished
  // fetches, waiting for running pulls to finish. Error (nothing removed) when an
  // image's metadata can't be read: its blobs would be unknown.
  GcReport gc(const Storage& storage, bool dry_run) const;

 private:
  std::string root_;
};

}  // namespace hpai
