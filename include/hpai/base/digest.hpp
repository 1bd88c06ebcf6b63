// sha256 digests ("sha256:<hex>"), as OCI and docker name their blobs.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace hpai {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::string hex();  // finishes the digest: 64 lowercase hex digits

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "sha256:<64 hex>" -> "<64 hex>"; throws Error for other algorithms or malformed digests.
std::string sha256_hex_of_digest(std::string_view digest, std::string_view what);

std::string sha256_of(std::string_view data);

}  // namespace hpai
