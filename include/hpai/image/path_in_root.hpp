// Resolving a container path inside an image, the way the kernel will resolve it once
// the image is "/": absolute symlinks restart at the image root and ".." stops there.
// resolve_in_root() reads an image (a directory or a SquashFS file) while a launch is
// planned; run/mount_tree.hpp applies the same rule, by fd, to the container being
// assembled.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/fd.hpp"
#include "hpai/image/image_fs.hpp"

namespace hpai {

struct RootPath {
  std::string relative;  // canonical path below the root, no leading '/', "" for the root itself
  bool exists = false;   // false: some component is missing (RELATIVE then ends with the missing part)
  bool is_dir = false;   // when it exists

  std::string under(const std::string& root) const { return relative.empty() ? root : root + "/" + relative; }
};

// Throws Error for a non-absolute PATH, a symlink loop, or a non-directory used as one.
RootPath resolve_in_root(const ImageFs& image, std::string_view path);
RootPath resolve_in_root(const std::string& root, std::string_view path);  // a directory

}  // namespace hpai
