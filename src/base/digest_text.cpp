// Digest names as text, apart from the hashing in digest.cpp: a reader of references
// (hpai-run resolving an image) then links no libcrypto, whose loading alone cost a
// launch 2.5 M instructions in the dynamic linker.
#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"

namespace hpai {

std::string sha256_hex_of_digest(std::string_view digest, std::string_view what) {
  if (!digest.starts_with("sha256:"))
    throw Error(std::string(what) + ": digest \"" + std::string(digest) +
                "\" is not sha256 (only sha256 is supported)");
  std::string_view hex = digest.substr(7);
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    throw Error(std::string(what) + ": malformed digest \"" + std::string(digest) + "\"");
  return std::string(hex);
}

}  // namespace hpai
