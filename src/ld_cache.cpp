#include "hpai/ld_cache.hpp"

#include <cstring>
#include <fstream>
#include <sstream>

#include "hpai/bounded_read.hpp"
#include "hpai/error.hpp"

namespace hpai {

namespace {

// Layout from glibc's sysdeps/generic/dl-cache.h.
constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr std::size_t kOldHeader = 16;  // magic[11], pad, uint32 nlibs
constexpr std::size_t kOldEntry = 12;   // int32 flags, uint32 key, value
constexpr std::size_t kNewHeader = 48;  // magic+version[20], nlibs, len_strings, flags+pad, ext offset, unused[3]
constexpr std::size_t kNewEntry = 24;   // int32 flags, uint32 key, value, osversion, uint64 hwcap

constexpr std::uint32_t kFlagTypeMask = 0x00ff;
constexpr std::uint32_t kFlagElfLibc6 = 0x0003;
constexpr std::uint32_t kFlagRequiredMask = 0xff00;

std::uint32_t u32(std::string_view b, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

}  // namespace

std::vector<LdCacheEntry> parse_ld_cache(std::string_view b, const std::string& what) {
  auto bad = [&](const std::string& why) { return Error(what + " is not a usable linker cache: " + why); };
  std::size_t base = 0;
  if (b.starts_with(kOldMagic)) {
    if (b.size() < kOldHeader) throw bad("truncated header");
    std::uint64_t n = u32(b, 12);
    base = kOldHeader + n * kOldEntry;
    base = (base + 7) & ~std::size_t{7};  // the new table follows, 8-byte aligned
    if (base > b.size() || b.substr(base, kNewMagic.size()) != kNewMagic)
      throw bad("old-format cache only (glibc before 2.32 without the new table); run ldconfig");
  } else if (!b.starts_with(kNewMagic)) {
    throw bad("unknown magic");
  }
  std::string_view cache = b.substr(base);
  if (cache.size() < kNewHeader) throw bad("truncated header");
  std::uint64_t n = u32(cache, 20);
  if (kNewHeader + n * kNewEntry > cache.size()) throw bad("entry table runs past the end");
  auto string_at = [&](std::uint32_t off) {
    if (off >= cache.size()) throw bad("string offset out of range");
    std::size_t end = cache.find('\0', off);
    if (end == std::string_view::npos) throw bad("unterminated string");
    return std::string(cache.substr(off, end - off));
  };
  std::vector<LdCacheEntry> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::size_t e = kNewHeader + i * kNewEntry;
    out.push_back({string_at(u32(cache, e + 4)), string_at(u32(cache, e + 8)), u32(cache, e)});
  }
  return out;
}

std::vector<LdCacheEntry> read_ld_cache(const std::string& path) {
  return parse_ld_cache(read_host_file(path, kMaxLdCache, "linker cache " + path), path);
}

bool is_native_abi(std::uint32_t flags) {
  if ((flags & kFlagTypeMask) != kFlagElfLibc6) return false;
#if defined(__x86_64__) && !defined(__ILP32__)
  return (flags & kFlagRequiredMask) == 0x0300;
#elif defined(__aarch64__)
  return (flags & kFlagRequiredMask) == 0x0a00;
#elif defined(__powerpc64__)
  return (flags & kFlagRequiredMask) == 0x0500;
#else
  return true;
#endif
}

std::optional<LibraryName> parse_library_name(std::string_view name) {
  auto so = name.find(".so");
  if (so == std::string_view::npos || so == 0) return std::nullopt;
  std::string_view rest = name.substr(so + 3);
  if (!rest.empty() && rest.front() != '.') return std::nullopt;  // "libfoo.sock"
  LibraryName l;
  l.linker_name = std::string(name.substr(0, so));
  while (rest.size() > 1 && rest.front() == '.') {
    std::size_t i = 1;
    int v = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && i < 10) v = v * 10 + (rest[i++] - '0');
    if (i == 1 || (i < rest.size() && rest[i] != '.')) break;
    l.version.push_back(v);
    l.version_text += (l.version_text.empty() ? "" : ".") + std::string(rest.substr(1, i - 1));
    rest = rest.substr(i);
  }
  return l;
}

}  // namespace hpai
