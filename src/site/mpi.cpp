#include "hpai/site/mpi.hpp"

#include <algorithm>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/image/elf.hpp"
#include "hpai/image/path_in_root.hpp"

namespace hpai {

namespace {

std::string version_text(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ".") + std::to_string(x);
  return s;
}

std::string dir_name(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

std::string base_name(const std::string& p) { return p.substr(p.rfind('/') + 1); }

}  // namespace

std::string FoundLibrary::describe() const {
  std::string v = version_text(version);
  return linker_name + ".so" + (v.empty() ? "" : "." + v);
}

std::optional<FoundLibrary> find_library(const ImageFs& fs, const std::string& path) {
  auto first = parse_library_name(base_name(path));
  if (!first) return std::nullopt;
  FoundLibrary lib{path, "", first->linker_name, first->version};
  std::string current = path;
  bool trusting_chain = true;
  for (int hops = 0; hops < 40; ++hops) {
    // Resolve the directory fully (inside the image), then look at the last component.
    RootPath dir = resolve_in_root(fs, dir_name(current));
    if (!dir.exists || !dir.is_dir) return std::nullopt;
    std::string rel = dir.relative.empty() ? base_name(current) : dir.relative + "/" + base_name(current);
    auto st = fs.lstat(rel);
    if (!st) return std::nullopt;
    if (st->type != ImageStat::Type::Link) {
      if (st->type != ImageStat::Type::File) return std::nullopt;
      lib.file = "/" + rel;
      return lib;
    }
    std::string target = fs.readlink(rel);
    current = target.starts_with("/") ? target : "/" + (dir.relative.empty() ? target : dir.relative + "/" + target);
    auto next = parse_library_name(base_name(current));
    bool agrees = next && next->linker_name == lib.linker_name && next->version.size() >= lib.version.size() &&
                  std::equal(lib.version.begin(), lib.version.end(), next->version.begin());
    if (!agrees)
      trusting_chain = false;  // the name and its target disagree: keep the name's version
    else if (trusting_chain)
      lib.version = next->version;
  }
  return std::nullopt;  // a symlink loop
}

std::vector<FoundLibrary> image_libraries(const ImageFs& image, const std::set<std::string>& linker_names) {
  std::vector<FoundLibrary> out;
  auto bytes = image.read_file("etc/ld.so.cache", kMaxLdCache);
  if (!bytes) return out;
  // Only the entries asked for are copied out of the cache (an ML image's lists
  // thousands): the native ones, absolute, whose file name has a wanted linker name.
  auto wanted = [&](std::string_view, std::string_view path, std::uint32_t flags) {
    if (!is_native_abi(flags) || path.empty() || path.front() != '/') return false;
    if (linker_names.empty()) return true;
    const std::string_view base = path.substr(path.rfind('/') + 1);
    const std::size_t so = base.find(".so");
    return so != std::string_view::npos && so > 0 && linker_names.count(std::string(base.substr(0, so))) != 0;
  };
  for (const auto& e : parse_ld_cache(*bytes, image.describe() + "/etc/ld.so.cache", wanted)) {
    auto name = parse_library_name(base_name(e.path));
    if (!name || (!linker_names.empty() && linker_names.count(name->linker_name) == 0)) continue;
    if (auto lib = find_library(image, e.path)) out.push_back(*lib);  // stale entries drop out here
  }
  return out;
}

std::vector<MpiFamily> mpi_families(const std::vector<FoundLibrary>& libs) {
  std::vector<MpiFamily> out;
  auto add = [&](MpiFamily f) {
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  };
  for (const auto& l : libs) {
    bool mpi = l.linker_name == "libmpi" && !l.version.empty();
    if (l.linker_name == "libopen-pal" || l.linker_name == "libopen-rte" || (mpi && l.version[0] != 12))
      add(MpiFamily::OpenMpi);
    if (l.linker_name == "libmpich" || (mpi && l.version[0] == 12)) add(MpiFamily::Mpich);
  }
  return out;
}

std::vector<MpiFamily> host_mpi_families(const std::vector<std::string>& paths) {
  auto host_fs = open_directory_image("/");
  std::vector<FoundLibrary> libs;
  for (const auto& p : paths) {
    auto found = find_library(*host_fs, p);
    if (!found) continue;
    libs.push_back(*found);
    try {  // the soname says what the file is, whatever the link to it is called
      if (auto elf = read_elf(found->file, ElfParts::Dynamic); elf && !elf->soname.empty())
        if (auto n = parse_library_name(elf->soname)) libs.push_back({p, found->file, n->linker_name, n->version});
    } catch (const Error&) {
      // not an ELF file we can read: the names alone decide
    }
  }
  return mpi_families(libs);
}

std::string family_contradiction(MpiFamily declared, const std::vector<std::string>& paths) {
  auto found = host_mpi_families(paths);
  if (found.empty() || std::find(found.begin(), found.end(), declared) != found.end()) return "";
  std::string names;
  for (const auto& p : paths) names += (names.empty() ? "" : ", ") + p.substr(p.rfind('/') + 1);
  return std::string("mpi.family is ") + to_string(declared) + ", but the host libraries (" + names + ") are " +
         to_string(found.front()) + "'s (by their names and sonames); fix \"family\" or \"libraries\"";
}

std::string version_incompatibility(const FoundLibrary& host, const FoundLibrary& image, MpiCompat mode,
                                    std::vector<std::string>& warnings) {
  const auto& h = host.version;
  const auto& i = image.version;
  const std::string pair = "image " + image.describe() + " vs host " + host.describe() + ": ";
  if (h.empty())
    return pair + "the host library has no version in its name (need at least " + host.linker_name + ".so.MAJOR)";
  if (i.empty()) return "";  // an unversioned image library: any host version serves
  if (h[0] != i[0])
    return pair + "major versions differ (" + std::to_string(i[0]) + " vs " + std::to_string(h[0]) + ")";
  if (mode == MpiCompat::Major) return "";
  int hm = h.size() > 1 ? h[1] : 0, im = i.size() > 1 ? i[1] : 0;
  if (mode == MpiCompat::Strict && hm != im) return pair + "strict mode needs equal minor versions";
  if (mode == MpiCompat::Full && hm < im) return pair + "full mode needs host minor >= image minor";
  int hp = h.size() > 2 ? h[2] : 0, ip = i.size() > 2 ? i[2] : 0;
  if (hm == im && hp < ip) warnings.push_back(pair + "the image's patch level is newer than the host's");
  return "";
}

LibraryReplacement pair_library(const FoundLibrary& host, const std::vector<FoundLibrary>& image_libs, MpiCompat mode) {
  LibraryReplacement r{host, std::nullopt, {}};
  const FoundLibrary* best = nullptr;
  for (const auto& l : image_libs) {
    if (l.linker_name != host.linker_name) continue;
    // Prefer the image's library of the host's major, then the longest version.
    auto rank = [&](const FoundLibrary& x) {
      bool same_major = !x.version.empty() && !host.version.empty() && x.version[0] == host.version[0];
      return std::make_pair(same_major, x.version.size());
    };
    if (!best || rank(l) > rank(*best)) best = &l;
  }
  if (!best) return r;
  std::string why = version_incompatibility(host, *best, mode, r.warnings);
  if (!why.empty()) throw Error("can't replace the image's MPI library with the host's: " + why);
  r.image = *best;
  return r;
}

}  // namespace hpai
