// The image's run-time configuration (ENV, WORKDIR, ENTRYPOINT, CMD, ...) and its
// on-disk form IMAGE/.hpai/image.json, documented in docs/image-metadata.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hpai/image/image_fs.hpp"

namespace hpai {

inline constexpr const char* kMetadataDirName = ".hpai";               // hpai's own directory in an image
inline constexpr const char* kImageMetadataPath = ".hpai/image.json";  // relative to the image root
inline constexpr const char* kChEnvironmentPath = "ch/environment";    // Charliecloud images' ENV
inline constexpr int kImageMetadataVersion = 1;

// Where an imported image came from (written by hpai-image import).
struct ImportInfo {
  std::string format;    // tar, oci, oci-archive, docker-archive, dir, registry
  std::string source;    // absolute path imported, or the reference pulled
  std::string digest;    // "sha256:..": OCI manifest, docker config, or the tar file itself
  std::string created;   // the image config's "created"
  std::string imported;  // when, UTC, ISO 8601
  int layers = 0;
  std::uint64_t size = 0;  // bytes of file data unpacked
  std::uint64_t source_size = 0;
  std::int64_t source_mtime = 0;   // ns; with source and size: "same source" for re-imports
  std::vector<std::string> blobs;  // pulled images: the cached blobs ("sha256:...") it was made of
};

struct ImageConfig {
  std::vector<std::string> env;  // "NAME=VALUE", in order
  std::string workdir;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string user;
  std::string architecture;  // OCI spelling: amd64, arm64, ppc64le
  std::string os;
  std::map<std::string, std::string> labels;
  ImportInfo import;
  std::string metadata_path;  // the file read, for messages ("" when the image has no metadata)
};

// The parts of an OCI/docker image config hpai keeps; throws Error naming WHAT.
ImageConfig image_config_from_oci(const std::string& config_json, const std::string& what);

// Reads IMAGE/.hpai/image.json; falls back to Charliecloud's IMAGE/ch/environment for
// ENV; an image with neither yields an empty config. Malformed metadata is an error.
ImageConfig read_image_config(const ImageFs& image);
ImageConfig read_image_config(const std::string& image_root);  // a directory

// The metadata file's content (TEXT, read from PATH) as a config; Error naming PATH.
ImageConfig image_config_from_metadata(const std::string& text, const std::string& path);

// Writes IMAGE/.hpai/image.json into a .hpai directory made afresh (whatever was there
// is removed first), by fd, mode 0644: for an image being imported, not yet visible.
void write_image_config(const std::string& image_root, const ImageConfig& config);

}  // namespace hpai
