// The image's run-time configuration (ENV, WORKDIR, ENTRYPOINT, CMD, ...) and its
// on-disk form IMAGE/.hpai/image.json, documented in docs/image-metadata.md.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace hpai {

inline constexpr const char* kImageMetadataPath = ".hpai/image.json";  // relative to the image root
inline constexpr const char* kChEnvironmentPath = "ch/environment";    // Charliecloud images' ENV
inline constexpr int kImageMetadataVersion = 1;

struct ImageConfig {
  std::vector<std::string> env;  // "NAME=VALUE", in order
  std::string workdir;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string user;
  std::string architecture;  // OCI spelling: amd64, arm64, ppc64le
  std::string os;
  std::map<std::string, std::string> labels;
  std::string source;  // where this came from, for messages ("" when the image has no metadata)
};

// Reads IMAGE/.hpai/image.json; falls back to Charliecloud's IMAGE/ch/environment for
// ENV; an image with neither yields an empty config. Malformed metadata is an error.
ImageConfig read_image_config(const std::string& image_root);

// Writes IMAGE/.hpai/image.json (atomically: temp file, then rename).
void write_image_config(const std::string& image_root, const ImageConfig& config);

}  // namespace hpai
