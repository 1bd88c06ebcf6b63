// A mount the launch will make, as the planners describe it: the default mounts, a
// site profile's binds and driver files, the launcher's PMIx directories and the
// user's -b all produce these; run/mount_tree and run/container carry them out.
#pragma once

#include <string>

#include "hpai/base/host_fs.hpp"

namespace hpai {

enum class RootMode { ReadOnly, Writable, Overlay };

struct Mount {
  enum class Kind { Bind, Tmpfs, File, Symlink };  // Symlink: made inside an earlier tmpfs, not a mount
  Kind kind = Kind::Bind;
  std::string source;  // Bind: host path; Tmpfs: mount options; File: what it is; Symlink: the link's text
  std::string target;  // path in the container
  bool read_only = false;
  bool create = false;    // a missing target is created (writable image, or inside an earlier tmpfs)
  bool file = false;      // the target is a file, not a directory
  std::string content;    // Kind::File: the bytes to put there
  std::string origin;     // "default", "-b /x", "--home", ...
  bool optional = false;  // dropped with a note where it can't be placed (the launcher's PMIx directories)
};

// How a bind or tmpfs is made: bind_of(src, dst, {.read_only = true}, "default").
struct MountFlags {
  bool read_only = false;
  bool create = false;  // see Mount::create
};

// A bind of host path SRC (symlink-free, existing) at DST.
Mount bind_of(const std::string& src, const std::string& dst, MountFlags flags, const std::string& origin);
// A tmpfs at DST with mount OPTIONS ("mode=1777").
Mount tmpfs_at(const std::string& dst, const std::string& options, MountFlags flags, const std::string& origin);
// SRC's symlink-free host path; Error "can't bind SRC: no such file or directory on host (from ORIGIN)".
std::string host_source(const std::string& src, const std::string& origin);

}  // namespace hpai
