// What hpai needs to know of an ELF file without running it: its machine (x86_64,
// aarch64, ppc64le, ...), its soname and needed libraries, the symbol versions it
// needs from each library (GLIBC_2.34 from libc.so.6) and those it defines. Both
// classes and byte orders are read; the file is never mapped executable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpai/image/image_fs.hpp"

namespace hpai {

struct ElfVersionNeed {
  std::string file;                   // "libc.so.6"
  std::vector<std::string> versions;  // "GLIBC_2.34", ...
};

struct ElfInfo {
  std::uint16_t machine = 0;  // e_machine
  bool is_64 = false;
  bool little_endian = true;
  std::uint16_t type = 0;  // ET_EXEC, ET_DYN, ...
  std::string soname;
  std::vector<std::string> needed;
  std::vector<ElfVersionNeed> version_needs;
  std::vector<std::string> version_defs;  // versions the file defines (a libc: GLIBC_2.2.5 ... GLIBC_2.36)
};

// Reads PATH; nullopt when it is not an ELF file. Throws Error when it claims to be
// one but is truncated or malformed (a message naming the file and what is wrong).
// ElfParts::Dynamic reads the header and the dynamic table only (soname, needed), not
// the symbol versions: what a launch asks of a host library.
enum class ElfParts { All, Dynamic };
std::optional<ElfInfo> read_elf(const std::string& path, ElfParts parts = ElfParts::All);
// File REL of IMAGE (not followed if a symlink).
std::optional<ElfInfo> read_elf(const ImageFs& image, const std::string& rel);
// The same from bytes in memory (WHAT names them in messages).
std::optional<ElfInfo> parse_elf(const std::string& bytes, const std::string& what);

// The architecture in OCI spelling, from the ELF header: amd64, arm64, ppc64le, ppc64,
// 386, arm, riscv64, s390x; "" for others.
std::string elf_architecture(const ElfInfo& elf);

// "GLIBC_2.34" -> {2, 34}; nullopt for other names.
std::optional<std::pair<int, int>> glibc_version(const std::string& version_name);
// The highest GLIBC_x.y among NEEDS (any file), e.g. "2.34"; "" when none.
std::string highest_glibc_needed(const std::vector<ElfVersionNeed>& needs);

}  // namespace hpai
