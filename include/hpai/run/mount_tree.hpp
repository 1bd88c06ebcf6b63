// The container being assembled, walked by file descriptor with path_in_root's rule
// (absolute symlinks restart at the root, ".." stops there). MountTree is where every
// mount point is made: it creates a missing directory or file only on a mount hpai owns
// (the image root, a tmpfs of its own), never on a bind from the host, so no image
// symlink can aim hpai's mkdir at a host directory ($TMPDIR, $HOME, a bind source).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/fd.hpp"

namespace hpai {

// A container root under construction (run time, inside the mount namespace).
class MountTree {
 public:
  // ROOT: the directory that becomes "/"; things may be created on its own mount.
  explicit MountTree(const std::string& root);

  enum class Create { No, Dir, File };
  struct Target {
    UniqueFd fd;       // O_PATH; empty when missing and not created
    std::string path;  // the container path: canonical when walked, else as asked (for messages)
    bool is_dir = false;
    bool is_root = false;  // PATH resolved to the container's own /
  };

  // Resolves PATH inside the root. With CREATE, a missing last component (and missing
  // directories on the way) is made, but only on a mount hpai owns; elsewhere Error
  // naming the mount and ORIGIN (what asked for PATH).
  Target open(std::string_view path, Create create, const std::string& origin);

  // Records the mount just made (MOUNT, from mounts.hpp): OWNED (a tmpfs of hpai's:
  // mount points may be created in it) or not; WHAT describes it for messages. Its
  // mount id is asked only when a mount point is to be created.
  void mounted(UniqueFd mount, bool owned, const std::string& what);

  int root_fd() const { return root_.get(); }

 private:
  struct Made {
    UniqueFd fd;
    bool owned = false;
    std::string what;
    std::optional<std::uint64_t> id;  // its mount id, once asked
  };
  Target walk(std::string_view path, Create create, const std::string& origin);
  std::uint64_t mount_id(int fd, const std::string& path) const;
  void check_may_create(int dir, const std::string& dir_path, const std::string& want, const std::string& origin);

  std::string root_path_;
  UniqueFd root_;
  struct stat root_stat_ {};
  std::vector<Made> made_;
  std::optional<std::uint64_t> root_id_;
};

}  // namespace hpai
