// Resolving a container path inside an image directory on the host, the way the
// kernel will resolve it once the image is "/": absolute symlinks restart at the
// image root and ".." stops there, so no bind target can land outside the image.
#pragma once

#include <string>
#include <string_view>

#include "hpai/image_fs.hpp"

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

// Resolves PATH and creates what is missing: directories, and for the last component a
// directory or (FILE true) an empty file. Returns the resolved path.
RootPath make_in_root(const std::string& root, std::string_view path, bool file);

}  // namespace hpai
