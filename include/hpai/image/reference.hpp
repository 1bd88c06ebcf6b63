// Image references as docker and every registry client spell them:
// [REGISTRY/]REPO[:TAG][@sha256:DIGEST], with Docker Hub's defaults (docker.io,
// "library/" for one-word names) so that a batch script's "pytorch/pytorch:2.3.0"
// means what it means to docker pull.
#pragma once

#include <string>
#include <string_view>

namespace hpai {

inline constexpr const char* kDockerHub = "docker.io";                // as references name it
inline constexpr const char* kDockerHubApi = "registry-1.docker.io";  // where its API answers

struct ImageReference {
  std::string registry;    // "docker.io", "ghcr.io", "localhost:5000"
  std::string repository;  // "library/debian", "nvidia/cuda"
  std::string tag;         // "" when only a digest is given; "latest" when neither is
  std::string digest;      // "sha256:<64 hex>", or ""

  // The host the v2 API is asked on (Docker Hub's differs from its name).
  std::string api_host() const;
  // The reference in full: "docker.io/library/debian:12", "...@sha256:..." when pinned.
  std::string str() const;
  // What the manifest is asked for by: the digest when pinned, else the tag.
  const std::string& manifest_reference() const { return digest.empty() ? tag : digest; }
  // A name for storage: "debian:12" for Docker Hub's library images, else
  // "REGISTRY/REPO:TAG" without "docker.io/" ("nvidia/cuda:12.4.1-base-ubuntu22.04");
  // "@sha256:..." follows when the reference is pinned, so a pin is never satisfied by
  // what a tag named before. Docker Hub names whose first component would read as a
  // registry keep "docker.io/" ("docker.io/localhost/x:1"): two references, one name never.
  std::string storage_name() const;
};

// Parses TEXT by docker's rules: the first component names a registry only when it has
// a '.' or ':' or is "localhost" (or has upper case); repository components are lower
// case letters and digits joined by '.', '_', "__" or dashes; a tag is [A-Za-z0-9_] then
// up to 127 of [A-Za-z0-9_.-]; a digest is sha256 with 64 hex digits. Error (usage)
// naming what is wrong otherwise.
ImageReference parse_image_reference(std::string_view text);

}  // namespace hpai
