// Fuzzes the site-profile parser: the input is a profile file. Only hpai::Error may
// come out (a file that can't be parsed at all); schema problems are diagnostics.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static int fd = [] {
    hpai::init_logging("fuzz", -2);
    return memfd_create("profile.json", MFD_CLOEXEC);
  }();
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  hpai::Diagnostics diags;
  try {
    hpai::Profile p = hpai::read_profile(path, {}, diags);
    if (!hpai::has_errors(diags)) hpai::profile_to_json(p);
  } catch (const hpai::Error&) {
  }
  return 0;
}
