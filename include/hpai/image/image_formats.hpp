// Reading what an image is made of from its manifests: OCI image layouts (directory or
// tar) and docker-save archives. Every manifest and config is checked against its
// digest before it is believed; layers are checked while they are unpacked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpai/image/blob_source.hpp"

namespace hpai {

struct LayerRef {
  std::string path;         // in the blob store
  std::string media_type;   // "" for docker-save layers
  std::string blob_hex;     // expected sha256 of the bytes as stored ("" when not named)
  std::string diff_id_hex;  // expected sha256 of the uncompressed tar ("" when unknown)
  std::uint64_t size = 0;   // as declared (0 unknown)
};

struct ResolvedImage {
  std::string config_json;       // the image config, verified
  std::string manifest_digest;   // "sha256:..." of the manifest (OCI) or of the config (docker)
  std::string ref_name;          // tag from the layout or archive ("" when none)
  std::vector<LayerRef> layers;  // bottom first
};

// PLATFORM "os/arch[/variant]" ("" = this machine's); TAG picks among several images.
ResolvedImage resolve_oci(const BlobStore& store, const std::string& platform, const std::string& tag);
ResolvedImage resolve_docker_archive(const BlobStore& store, const std::string& tag);

// This machine's OCI platform, e.g. "linux/amd64".
std::string host_platform();

}  // namespace hpai
