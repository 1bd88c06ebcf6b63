// Reading image blobs where they are: files of an OCI layout directory, or members of
// a tar (OCI archive, docker-save archive) streamed in place, never copied out first.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpai/base/fd.hpp"

struct archive;
struct archive_entry;

namespace hpai {

// A stream of bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to SIZE bytes into BUF; 0 at the end. Throws Error.
  virtual std::size_t read(void* buf, std::size_t size) = 0;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path);
  std::size_t read(void* buf, std::size_t size) override;
  std::uint64_t size() const { return size_; }

 private:
  std::string path_;
  UniqueFd fd_;
  std::uint64_t size_ = 0;
};

// A tar archive's members by name. Each open() reads the archive from its start and
// skips to the member (seeks over the others when the archive is an uncompressed
// file), so members can be read in any order without unpacking the archive.
class TarMembers {
 public:
  explicit TarMembers(std::string path);
  const std::string& path() const { return path_; }
  bool has(const std::string& name) const;
  std::unique_ptr<ByteSource> open(const std::string& name) const;
  // A small member (JSON) read whole; Error if larger than MAX.
  std::string read_small(const std::string& name, std::size_t max = 16 << 20) const;

 private:
  static bool is_blob(struct archive_entry* e);
  // PATH with "." and ".." resolved; nullopt when it leaves the archive or is empty.
  static std::optional<std::string> resolve_dots(const std::string& path);
  // The regular file NAME is, or leads to through the archive's own symlinks.
  std::optional<std::string> regular_member(const std::string& name) const;
  std::string path_;
  std::vector<std::string> names_;            // of the regular files, normalised ("./" and "/" stripped)
  std::map<std::string, std::string> links_;  // symlink member -> the member it names
};

// Where blobs come from: a directory (OCI layout) or a tar (OCI or docker archive).
class BlobStore {
 public:
  static std::unique_ptr<BlobStore> directory(std::string root);
  static std::unique_ptr<BlobStore> tar(std::string path);
  virtual ~BlobStore() = default;
  virtual bool has(const std::string& path) const = 0;
  virtual std::unique_ptr<ByteSource> open(const std::string& path) const = 0;
  virtual std::string read_small(const std::string& path, std::size_t max = 16 << 20) const = 0;
  virtual std::string describe(const std::string& path) const = 0;  // for messages
};

// Reads SOURCE to its end, feeding every byte to SINK.
void drain(ByteSource& source, const std::function<void(const void*, std::size_t)>& sink = {});

}  // namespace hpai
