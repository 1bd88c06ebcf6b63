// The dynamic linker's view of libraries: parsing /etc/ld.so.cache (what `ldconfig -p`
// prints) and reading versions from library file names. NVIDIA discovery reads the
// host's cache; MPI injection reads the image's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpai {

struct LdCacheEntry {
  std::string soname;  // the key: "libcuda.so.1"
  std::string path;    // where the linker finds it: "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  std::uint32_t flags = 0;
};

// Parses glibc's cache format ("glibc-ld.so.cache1.1", alone or after the old
// "ld.so-1.7.0" table). Throws Error naming WHAT when the bytes are not such a cache.
// Only the entries KEEP accepts are copied out, KEEP seeing them in place: a host's
// cache lists thousands of libraries, of which a launch wants a few.
using LdCacheFilter = std::function<bool(std::string_view soname, std::string_view path, std::uint32_t flags)>;
std::vector<LdCacheEntry> parse_ld_cache(std::string_view bytes, const std::string& what,
                                         const LdCacheFilter& keep = {});
std::vector<LdCacheEntry> read_ld_cache(const std::string& path, const LdCacheFilter& keep = {});

// The entries whose soname starts with one of PREFIXES (no digits in them), found by
// binary search as the dynamic linker finds a library: ldconfig keeps the table in
// _dl_cache_libcmp order, so this costs the same for 100 entries or 10,000. An entry
// out of order is missed, as the linker would miss it.
std::vector<LdCacheEntry> find_in_ld_cache(std::string_view bytes, const std::string& what,
                                           const std::vector<std::string_view>& prefixes);
std::vector<LdCacheEntry> find_in_ld_cache(const std::string& path, const std::vector<std::string_view>& prefixes);

// True when an entry is for this program's own ABI (x86-64 and not i386 or x32, ...).
bool is_native_abi(std::uint32_t flags);

// "libmpi.so.12.1.8" -> linker name "libmpi", version {12, 1, 8}. Non-numeric version
// parts end the version ("libfoo.so.1.2rc" -> {1}).
struct LibraryName {
  std::string linker_name;
  std::vector<int> version;
  std::string version_text;  // as written: "580.95.05" (leading zeros matter to driver versions)
};
std::optional<LibraryName> parse_library_name(std::string_view file_name);

}  // namespace hpai
