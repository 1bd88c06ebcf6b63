// Fuzzes what a registry or a user hands the registry client: image references (a
// batch script's argument) and WWW-Authenticate values (a server's header). A parsed
// reference must print back to one that parses to the same thing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hpai/base/error.hpp"
#include "hpai/image/reference.hpp"
#include "hpai/registry/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const hpai::ImageReference r = hpai::parse_image_reference(text);
    const hpai::ImageReference again = hpai::parse_image_reference(r.str());
    if (again.str() != r.str() || again.registry != r.registry || again.repository != r.repository) __builtin_trap();
    (void)r.storage_name();
  } catch (const hpai::Error&) {
  }
  try {
    for (const auto& c : hpai::parse_www_authenticate(text)) {
      if (c.scheme.empty()) __builtin_trap();
      try {
        (void)hpai::token_request_url(c, {hpai::pull_scope("library/debian")});
      } catch (const hpai::Error&) {
      }
    }
  } catch (const hpai::Error&) {
  }
  return 0;
}
