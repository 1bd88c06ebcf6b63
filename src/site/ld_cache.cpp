#include "hpai/site/ld_cache.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"

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

namespace {

// The new-format table of a cache file, bounds-checked.
class CacheTable {
 public:
  CacheTable(std::string_view b, const std::string& what) : what_(what) {
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
    cache_ = b.substr(base);
    if (cache_.size() < kNewHeader) throw bad("truncated header");
    n_ = u32(cache_, 20);
    if (kNewHeader + n_ * kNewEntry > cache_.size()) throw bad("entry table runs past the end");
  }
  std::uint64_t size() const { return n_; }
  std::uint32_t flags(std::uint64_t i) const { return u32(cache_, entry(i)); }
  std::string_view key(std::uint64_t i) const { return string_at(u32(cache_, entry(i) + 4)); }
  std::string_view value(std::uint64_t i) const { return string_at(u32(cache_, entry(i) + 8)); }
  LdCacheEntry at(std::uint64_t i) const { return {std::string(key(i)), std::string(value(i)), flags(i)}; }

 private:
  static std::size_t entry(std::uint64_t i) { return kNewHeader + static_cast<std::size_t>(i) * kNewEntry; }
  std::string_view string_at(std::uint32_t off) const {
    if (off >= cache_.size()) throw bad("string offset out of range");
    std::size_t end = cache_.find('\0', off);
    if (end == std::string_view::npos) throw bad("unterminated string");
    return cache_.substr(off, end - off);
  }
  Error bad(const std::string& why) const { return Error(what_ + " is not a usable linker cache: " + why); }
  std::string_view cache_;
  std::uint64_t n_ = 0;
  const std::string& what_;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// KEY against the range of keys starting with PREFIX (no digits in it), in glibc's
// _dl_cache_libcmp order (digit runs compare as numbers, after any other character):
// > 0 when KEY is larger than the range's keys, 0 inside it, < 0 smaller.
int compare_prefix(std::string_view key, std::string_view prefix) {
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (i == key.size()) return -1;  // KEY is a proper prefix of PREFIX: smaller
    if (is_digit(key[i])) return 1;  // digits sort after letters: KEY is larger
    if (key[i] != prefix[i]) return key[i] < prefix[i] ? -1 : 1;
  }
  return 0;
}

}  // namespace

std::vector<LdCacheEntry> parse_ld_cache(std::string_view b, const std::string& what, const LdCacheFilter& keep) {
  const CacheTable t(b, what);
  std::vector<LdCacheEntry> out;
  if (!keep) out.reserve(t.size());
  for (std::uint64_t i = 0; i < t.size(); ++i)
    if (!keep || keep(t.key(i), t.value(i), t.flags(i))) out.push_back(t.at(i));
  return out;
}

std::vector<LdCacheEntry> find_in_ld_cache(std::string_view b, const std::string& what,
                                           const std::vector<std::string_view>& prefixes) {
  const CacheTable t(b, what);
  std::vector<LdCacheEntry> out;
  for (std::string_view prefix : prefixes) {
    if (std::any_of(prefix.begin(), prefix.end(), is_digit))
      throw Error("find_in_ld_cache: prefix " + std::string(prefix) + " has digits");
    // The table is in descending order: the first entry not above the range.
    std::uint64_t lo = 0, hi = t.size();
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      if (compare_prefix(t.key(mid), prefix) > 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (std::uint64_t i = lo; i < t.size() && compare_prefix(t.key(i), prefix) == 0; ++i) out.push_back(t.at(i));
  }
  return out;
}

std::vector<LdCacheEntry> read_ld_cache(const std::string& path, const LdCacheFilter& keep) {
  return parse_ld_cache(read_host_file(path, kMaxLdCache, "linker cache " + path), path, keep);
}

std::vector<LdCacheEntry> find_in_ld_cache(const std::string& path, const std::vector<std::string_view>& prefixes) {
  return find_in_ld_cache(read_host_file(path, kMaxLdCache, "linker cache " + path), path, prefixes);
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
