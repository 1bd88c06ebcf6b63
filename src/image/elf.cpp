#include "hpai/image/elf.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"

namespace hpai {

namespace {

constexpr std::uint32_t kShtDynamic = 6;
constexpr std::uint32_t kShtGnuVerdef = 0x6ffffffd;
constexpr std::uint32_t kShtGnuVerneed = 0x6ffffffe;
constexpr std::int64_t kDtNeeded = 1;
constexpr std::int64_t kDtSoname = 14;
constexpr std::uint64_t kMaxSection = 64 << 20;  // no sane dynamic table or string table is larger

// Bounds-checked reads of one ELF file, in its byte order and class.
class Reader {
 public:
  using ReadAt = std::function<std::string(std::uint64_t offset, std::size_t size)>;
  Reader(ReadAt read, std::uint64_t size, std::string what)
      : read_(std::move(read)), size_(size), what_(std::move(what)) {}

  std::string bytes(std::uint64_t offset, std::uint64_t size) const {
    if (offset > size_ || size > size_ - offset || size > kMaxSection)
      throw Error(what_ + ": malformed ELF file (a table at offset " + std::to_string(offset) + " runs past the end)");
    return read_(offset, static_cast<std::size_t>(size));
  }
  void set_format(bool is64, bool little) {
    is64_ = is64;
    little_ = little;
  }
  bool is64() const { return is64_; }
  // An unsigned integer of N bytes at OFF in BUF.
  std::uint64_t uint(const std::string& buf, std::size_t off, int n) const {
    if (off + static_cast<std::size_t>(n) > buf.size()) throw Error(what_ + ": malformed ELF file (truncated entry)");
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      auto byte = static_cast<std::uint64_t>(
          static_cast<unsigned char>(buf[off + static_cast<std::size_t>(little_ ? n - 1 - i : i)]));
      v = (v << 8) | byte;
    }
    return v;
  }
  std::uint64_t word(const std::string& buf, std::size_t off) const { return uint(buf, off, is64_ ? 8 : 4); }
  const std::string& what() const { return what_; }

 private:
  ReadAt read_;
  std::uint64_t size_;
  std::string what_;
  bool is64_ = true;
  bool little_ = true;
};

struct Section {
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t link = 0;
  std::uint32_t info = 0;
};

std::vector<Section> sections(const Reader& r, const std::string& header) {
  const bool is64 = r.is64();
  const std::uint64_t shoff = r.word(header, is64 ? 40 : 32);
  const std::uint64_t shentsize = r.uint(header, is64 ? 58 : 46, 2);
  const std::uint64_t shnum = r.uint(header, is64 ? 60 : 48, 2);
  std::vector<Section> out;
  if (shoff == 0 || shnum == 0) return out;  // no section headers (stripped hard): nothing to read
  if (shentsize < (is64 ? 64u : 40u))
    throw Error(r.what() + ": malformed ELF file (section header size " + std::to_string(shentsize) + ")");
  const std::string table = r.bytes(shoff, shentsize * shnum);
  for (std::uint64_t i = 0; i < shnum; ++i) {
    const std::size_t b = static_cast<std::size_t>(i * shentsize);
    Section s;
    s.type = static_cast<std::uint32_t>(r.uint(table, b + 4, 4));
    s.offset = r.word(table, b + (is64 ? 24 : 16));
    s.size = r.word(table, b + (is64 ? 32 : 20));
    s.link = static_cast<std::uint32_t>(r.uint(table, b + (is64 ? 40 : 24), 4));
    s.info = static_cast<std::uint32_t>(r.uint(table, b + (is64 ? 44 : 28), 4));
    out.push_back(s);
  }
  return out;
}

// A string table, read where it is asked: a library's .dynstr holds every symbol's
// name (tens of KiB in libmpi), of which the tables read here name a few dozen.
class Strings {
 public:
  Strings(const Reader& r, const Section& s) : r_(r), s_(s) {}
  std::string at(std::uint64_t index) const {
    if (index >= s_.size) throw Error(r_.what() + ": malformed ELF file (string index out of range)");
    for (std::uint64_t want = 256;; want *= 4) {
      const std::uint64_t n = std::min(want, s_.size - index);
      const std::string chunk = r_.bytes(s_.offset + index, n);
      const std::size_t len = strnlen(chunk.data(), chunk.size());
      if (len < chunk.size() || n == s_.size - index || want >= kMaxSection) return chunk.substr(0, len);
    }
  }

 private:
  const Reader& r_;
  Section s_;
};

Strings linked_strings(const Reader& r, const std::vector<Section>& all, const Section& s) {
  if (s.link >= all.size()) throw Error(r.what() + ": malformed ELF file (bad string table link)");
  return Strings(r, all[s.link]);
}

void read_dynamic(const Reader& r, const std::vector<Section>& all, const Section& s, ElfInfo& info) {
  const Strings strings = linked_strings(r, all, s);
  const std::string table = r.bytes(s.offset, s.size);
  const std::size_t entry = r.is64() ? 16 : 8;
  for (std::size_t off = 0; off + entry <= table.size(); off += entry) {
    const auto tag = static_cast<std::int64_t>(r.word(table, off));
    const std::uint64_t value = r.word(table, off + entry / 2);
    if (tag == 0) break;  // DT_NULL
    if (tag == kDtNeeded) info.needed.push_back(strings.at(value));
    if (tag == kDtSoname) info.soname = strings.at(value);
  }
}

void read_verneed(const Reader& r, const std::vector<Section>& all, const Section& s, ElfInfo& info) {
  const Strings strings = linked_strings(r, all, s);
  const std::string table = r.bytes(s.offset, s.size);
  std::size_t off = 0;
  for (std::uint32_t i = 0; i < s.info; ++i) {
    ElfVersionNeed need;
    need.file = strings.at(r.uint(table, off + 4, 4));
    const auto count = r.uint(table, off + 2, 2);
    std::size_t aux = off + r.uint(table, off + 8, 4);
    for (std::uint64_t j = 0; j < count; ++j) {
      need.versions.push_back(strings.at(r.uint(table, aux + 8, 4)));
      const auto next = r.uint(table, aux + 12, 4);
      if (next == 0) break;
      aux += next;
    }
    info.version_needs.push_back(std::move(need));
    const auto next = r.uint(table, off + 12, 4);
    if (next == 0) break;
    off += next;
  }
}

void read_verdef(const Reader& r, const std::vector<Section>& all, const Section& s, ElfInfo& info) {
  const Strings strings = linked_strings(r, all, s);
  const std::string table = r.bytes(s.offset, s.size);
  std::size_t off = 0;
  for (std::uint32_t i = 0; i < s.info; ++i) {
    const auto flags = r.uint(table, off + 2, 2);
    const std::size_t aux = off + r.uint(table, off + 12, 4);
    if (!(flags & 1))  // VER_FLG_BASE names the file itself
      info.version_defs.push_back(strings.at(r.uint(table, aux, 4)));
    const auto next = r.uint(table, off + 16, 4);
    if (next == 0) break;
    off += next;
  }
}

std::optional<ElfInfo> parse(Reader& r, std::uint64_t size, ElfParts parts = ElfParts::All) {
  if (size < 16) return std::nullopt;
  const std::string ident = r.bytes(0, 16);
  if (ident.compare(0, 4,
                    "\x7f"
                    "ELF") != 0)
    return std::nullopt;
  const int cls = ident[4], data = ident[5];
  if ((cls != 1 && cls != 2) || (data != 1 && data != 2))
    throw Error(r.what() + ": malformed ELF file (class " + std::to_string(cls) + ", byte order " +
                std::to_string(data) + ")");
  r.set_format(cls == 2, data == 1);
  const std::string header = r.bytes(0, cls == 2 ? 64 : 52);
  ElfInfo info;
  info.is_64 = cls == 2;
  info.little_endian = data == 1;
  info.type = static_cast<std::uint16_t>(r.uint(header, 16, 2));
  info.machine = static_cast<std::uint16_t>(r.uint(header, 18, 2));
  const auto all = sections(r, header);
  for (const auto& s : all) {
    if (s.type == kShtDynamic) read_dynamic(r, all, s, info);
    if (parts == ElfParts::Dynamic) continue;
    if (s.type == kShtGnuVerneed) read_verneed(r, all, s, info);
    if (s.type == kShtGnuVerdef) read_verdef(r, all, s, info);
  }
  return info;
}

}  // namespace

std::optional<ElfInfo> parse_elf(const std::string& bytes, const std::string& what) {
  Reader r([&](std::uint64_t off, std::size_t n) { return bytes.substr(static_cast<std::size_t>(off), n); },
           bytes.size(), what);
  return parse(r, bytes.size());
}

std::optional<ElfInfo> read_elf(const std::string& path, ElfParts parts) {
  // O_NONBLOCK: a FIFO where a library should be must not hang the check.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) throw_errno("can't open " + path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) throw_errno("can't stat " + path);
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  Reader r(
      [&](std::uint64_t off, std::size_t n) {
        std::string buf = read_range(fd.get(), off, n, path);
        if (buf.size() < n) throw Error(path + ": malformed ELF file (truncated)");
        return buf;
      },
      static_cast<std::uint64_t>(st.st_size), path);
  return parse(r, static_cast<std::uint64_t>(st.st_size), parts);
}

std::optional<ElfInfo> read_elf(const ImageFs& image, const std::string& rel) {
  auto st = image.lstat(rel);
  if (!st || st->type != ImageStat::Type::File) return std::nullopt;
  const std::string what = image.describe() + "/" + rel;
  Reader r(
      [&](std::uint64_t off, std::size_t n) {
        auto bytes = image.read_range(rel, off, n);
        if (!bytes || bytes->size() != n) throw Error(what + ": malformed ELF file (truncated)");
        return *bytes;
      },
      st->size, what);
  return parse(r, st->size);
}

std::string elf_architecture(const ElfInfo& e) {
  switch (e.machine) {
    case 3: return "386";
    case 40: return "arm";
    case 62: return "amd64";
    case 183: return "arm64";
    case 21: return e.little_endian ? "ppc64le" : "ppc64";
    case 243: return e.is_64 ? "riscv64" : "riscv32";
    case 22: return "s390x";
    default: return "";
  }
}

std::optional<std::pair<int, int>> glibc_version(const std::string& name) {
  if (!name.starts_with("GLIBC_")) return std::nullopt;
  int major = 0, minor = 0;
  char extra = 0;
  if (std::sscanf(name.c_str() + 6, "%d.%d%c", &major, &minor, &extra) < 2) return std::nullopt;
  return std::make_pair(major, minor);
}

std::string highest_glibc_needed(const std::vector<ElfVersionNeed>& needs) {
  std::optional<std::pair<int, int>> best;
  for (const auto& n : needs)
    for (const auto& v : n.versions)
      if (auto g = glibc_version(v); g && (!best || *g > *best)) best = g;
  return best ? std::to_string(best->first) + "." + std::to_string(best->second) : "";
}

}  // namespace hpai
