// Importing an image into storage: format detection, unpacking into a staging
// directory, metadata, and the atomic rename that makes it visible.
#pragma once

#include <string>

#include "hpai/image/image_config.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/image/unpack.hpp"

namespace hpai {

struct ImportOptions {
  std::string source;     // path; "PATH:TAG" picks a tag in an OCI layout or docker archive
  std::string tag;        // --tag: the tag to pick (instead of :TAG in SOURCE)
  std::string name;       // "" = derived from the source
  std::string format = "auto";  // auto, tar, oci, oci-archive, docker-archive, dir
  std::string platform;   // "" = this machine's, for multi-platform OCI indexes
  bool force = false;     // re-import even when the same source was imported already
  bool progress = false;  // a progress line on stderr (callers pass isatty(2))
};

struct ImportResult {
  std::string name;
  std::string dir;
  bool reused = false;  // the same source was imported already; nothing done
  ImageConfig config;
  UnpackStats stats;
};

// What FILE or directory SOURCE holds: tar, oci, oci-archive, docker-archive or dir.
std::string detect_format(const std::string& source);

ImportResult import_image(const Storage& storage, const ImportOptions& options);

}  // namespace hpai
