// hpai-image pull: a reference's manifest (through an index to this platform's), its
// config and layers fetched in parallel into the blob cache, then unpacked by the same
// import that reads archives, into storage or straight into a SquashFS file.
#pragma once

#include <string>

#include "hpai/image/image_import.hpp"
#include "hpai/image/reference.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/registry/registry_session.hpp"

namespace hpai {

struct PullOptions {
  std::string reference;     // [REGISTRY/]REPO[:TAG|@sha256:DIGEST]
  std::string name;          // "" = ImageReference::storage_name()
  std::string platform;      // "os/arch[/variant]"; "" = this machine's
  std::string mirror;        // for Docker Hub references: a mirror's host[:port], tried first
  std::string squashfs;      // write the image to this SquashFS file instead of storage
  int jobs = 4;              // layers fetched at once
  bool force = false;        // unpack again even when NAME holds this digest already
  bool progress = false;     // progress bars on stderr (a terminal)
  bool layer_lines = false;  // else a line per layer on stderr (batch logs)
  RegistryOptions registry;
};

struct PullResult {
  ImageReference ref;
  std::string name;             // in storage ("" with --squashfs)
  std::string index_digest;     // "" when the reference named an image manifest
  std::string manifest_digest;  // the image's manifest
  std::string platform;
  int layers = 0;
  int layers_fetched = 0;  // the others were cached
  std::uint64_t bytes_fetched = 0;
  double seconds = 0;
  ImportResult import;
};

PullResult pull_image(const Storage& storage, const PullOptions& options);

// What hpai-image pull prints: name, digest, platform, layers fetched and cached.
std::string pull_summary(const PullResult& result);

// "linux/ppc64le" for --arch ppc64le, "linux/arm/v7" for --arch arm/v7; "" for "".
std::string platform_for_arch(const std::string& arch);

}  // namespace hpai
