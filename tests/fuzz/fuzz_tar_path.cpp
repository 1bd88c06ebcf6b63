// Fuzzes the tar member path sanitiser, checking what the unpacker relies on: a result
// never climbs out ("..") nor starts at '/', holds no "." or empty components, and fits
// PATH_MAX below the image root.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hpai/image/unpack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto out = hpai::sanitize_member_path(in);
  if (!out) return 0;
  const std::string& p = *out;
  if (p.size() >= 4000 || p.starts_with('/') || p.ends_with('/')) __builtin_trap();
  std::size_t start = 0;
  while (start < p.size()) {
    auto slash = p.find('/', start);
    std::string_view part(p.data() + start, (slash == std::string::npos ? p.size() : slash) - start);
    if (part.empty() || part == "." || part == ".." || part.size() > 255) __builtin_trap();
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  // Idempotent: sanitising again changes nothing.
  if (hpai::sanitize_member_path(p) != out) __builtin_trap();
  return 0;
}
