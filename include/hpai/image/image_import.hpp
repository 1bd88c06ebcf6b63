// Importing an image into storage: format detection, unpacking into a staging
// directory, metadata, and the atomic rename that makes it visible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/image/blob_source.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/image/image_formats.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/image/unpack.hpp"

namespace hpai {

// What an import reads: a flat tar (docker export, a root file system tarball), an OCI
// image layout (directory or tar), a docker save archive, or a directory tree.
enum class ImageFormat { Tar, Oci, OciArchive, DockerArchive, Dir };
const char* to_string(ImageFormat format);  // as --format and the image's metadata spell it
// --format NAME: nullopt for "auto" (detect it); Error (usage) for an unknown name.
std::optional<ImageFormat> parse_image_format(std::string_view name);

struct ImportOptions {
  std::string source;                 // path; "PATH:TAG" picks a tag in an OCI layout or docker archive
  std::string tag;                    // --tag: the tag to pick (instead of :TAG in SOURCE)
  std::string name;                   // "" = derived from the source
  std::optional<ImageFormat> format;  // nullopt: detect_format
  std::string platform;               // "" = this machine's, for multi-platform OCI indexes
  bool force = false;                 // re-import even when the same source was imported already
  bool progress = false;              // a progress line on stderr (callers pass isatty(2))
};

struct ImportResult {
  std::string name;
  std::string dir;
  bool reused = false;  // the same source was imported already; nothing done
  ImageConfig config;
  UnpackStats stats;
};

// What FILE or directory SOURCE holds.
ImageFormat detect_format(const std::string& source);

ImportResult import_image(const Storage& storage, const ImportOptions& options);

// An image resolved elsewhere (a registry pull: manifest and config fetched and checked,
// its blobs in STORE), and where it came from for its metadata.
struct ResolvedSource {
  std::string format;              // "registry"
  std::string source;              // the reference, "docker.io/library/debian:12"
  std::vector<std::string> blobs;  // "sha256:..." of config and layers, so gc keeps them
  std::string describe;            // what progress and messages call it
};

// Unpacks IMAGE's layers from STORE into DIR (empty, made by the caller) and writes its
// metadata there.
ImportResult unpack_resolved(const BlobStore& store, const ResolvedImage& image, const ResolvedSource& source,
                             const std::string& dir, bool progress);

// NAME in STORAGE already holds SOURCE at DIGEST: the result that says so (reused),
// else nullopt. A pull asks before it fetches anything; import_resolved again under the
// name's lock.
std::optional<ImportResult> already_imported(const Storage& storage, const std::string& name,
                                             const ResolvedSource& source, const std::string& digest);

// import_image for a resolved image: under NAME's lock, reused when NAME holds this
// source at this digest already (unless FORCE), else unpacked and renamed in atomically.
ImportResult import_resolved(const Storage& storage, const BlobStore& store, const ResolvedImage& image,
                             const ResolvedSource& source, const std::string& name, bool force, bool progress);

}  // namespace hpai
