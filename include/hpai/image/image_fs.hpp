// Reading an image before it is mounted: a directory on the host, or a SquashFS file
// read in-process with libsquashfuse. The plan inspects images through this, so a
// SquashFS image is checked (mount points, metadata) exactly like a directory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpai/base/fd.hpp"

namespace hpai {

struct ImageStat {
  enum class Type { Dir, File, Link, Other };
  Type type = Type::Other;
  std::uint64_t size = 0;
};

// An ImageFs answers each question from the image once (a directory image keeps what
// it looked up): a plan reads one consistent snapshot, and the mounts, made later,
// resolve their targets again. Open a new one to see changes.
class ImageFs {
 public:
  virtual ~ImageFs() = default;
  // REL is relative to the image root, no leading '/', "" for the root; symlinks are not followed.
  virtual std::optional<ImageStat> lstat(const std::string& rel) const = 0;
  virtual std::string readlink(const std::string& rel) const = 0;
  // nullopt when missing; Error when larger than MAX or unreadable.
  virtual std::optional<std::string> read_file(const std::string& rel, std::size_t max = 16 << 20) const = 0;
  // SIZE bytes at OFFSET of file REL (fewer at its end); nullopt when missing.
  virtual std::optional<std::string> read_range(const std::string& rel, std::uint64_t offset,
                                                std::size_t size) const = 0;
  // The names in directory REL (no "." or ".."); empty when REL is no directory.
  virtual std::vector<std::string> list(const std::string& rel) const = 0;
  virtual std::string describe() const = 0;  // the image's path, for messages

  // A container path PATH looked up in one step when no symlink lies on its way (the
  // common case): its canonical form is then PATH itself, normalised. nullopt means
  // "walk it" (resolve_in_root does). EXISTS/IS_DIR as RootPath's; REL as its relative.
  struct Fast {
    std::string rel;
    bool exists = false;
    bool is_dir = false;
  };
  virtual std::optional<Fast> resolve_fast(const std::string& path) const {
    (void)path;
    return std::nullopt;
  }
};

std::unique_ptr<ImageFs> open_directory_image(const std::string& root);
std::unique_ptr<ImageFs> open_squashfs_image(const std::string& file);
// FD: the file open already (open_squashfs_file); read through a duplicate of it.
std::unique_ptr<ImageFs> open_squashfs_image(int fd, const std::string& file);

// FILE opened once for everything a launch reads of it (the plan, squashfuse), when it
// is a regular file that starts with the SquashFS magic; else an empty fd.
UniqueFd open_squashfs_file(const std::string& file);
bool is_squashfs_file(const std::string& file);

}  // namespace hpai
