// OCI and Docker manifest JSON, wherever it comes from (an OCI layout, a registry):
// media types, descriptors, the platforms of an index, an image manifest's config and
// layers. Nothing here reads blobs; callers check every blob against its descriptor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpai/image/image_formats.hpp"

namespace hpai {

inline constexpr const char* kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerManifestType = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerListType = "application/vnd.docker.distribution.manifest.list.v2+json";

bool is_index_type(std::string_view media_type);
bool is_image_manifest_type(std::string_view media_type);
// Docker's schema 1 (v1+json, v1+prettyjws): a format retired in 2019, never unpacked.
bool is_schema1_type(std::string_view media_type);
bool is_layer_type(std::string_view media_type);

// A content descriptor: what a manifest says of a blob.
struct Descriptor {
  std::string media_type;
  std::string digest;      // "sha256:<hex>"
  std::string hex;         // its 64 hex digits
  std::int64_t size = -1;  // -1 when not given
  std::string platform;    // "os/arch[/variant]" for index entries that say, else ""
  std::string ref_name;    // org.opencontainers.image.ref.name, else ""
};

// Error naming WHAT when D is no descriptor (digest missing or not sha256).
Descriptor parse_descriptor(const nlohmann::json& d, const std::string& what);

// "os/arch[/variant]" of a platform object (an index entry's, or an image config).
std::string platform_of(const nlohmann::json& p, const std::string& what);
// "linux/arm64" matches "linux/arm64/v8"; a variant asked for must match.
bool platform_matches(const std::string& have, const std::string& want);

// The entries of an index (OCI index, Docker manifest list), in order.
std::vector<Descriptor> index_entries(const nlohmann::json& index, const std::string& what);

// The one image manifest of ENTRIES for platform WANT; Error listing the platforms the
// index has when none (or several) match.
const Descriptor& pick_platform(const std::vector<Descriptor>& entries, const std::string& want,
                                const std::string& what);
// "linux/amd64, linux/arm64/v8" of the image manifests in ENTRIES.
std::string platform_list(const std::vector<Descriptor>& entries);

struct ImageManifest {
  Descriptor config;
  std::vector<Descriptor> layers;  // bottom first; their media types checked
};
ImageManifest parse_image_manifest(const nlohmann::json& manifest, const std::string& what);

// The config's rootfs.diff_ids (hex), empty when it has none.
std::vector<std::string> config_diff_ids(const nlohmann::json& config, const std::string& what);

// The layers to unpack: M's, at "blobs/sha256/<hex>" of a blob store, with the config's
// diff_ids (whose count must match when given).
std::vector<LayerRef> layer_refs(const ImageManifest& m, const std::vector<std::string>& diff_ids,
                                 const std::string& what);

}  // namespace hpai
