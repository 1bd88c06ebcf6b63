#include "hpai/check/image_facts.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/environment.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/image/elf.hpp"
#include "hpai/image/image_import.hpp"
#include "hpai/image/path_in_root.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/site/forward_compat.hpp"
#include "hpai/site/ld_cache.hpp"

namespace hpai {

namespace {

constexpr std::uint64_t kMaxElfSize = 512ull << 20;  // headers are read, not the file; this only skips oddities

std::string rel_of(const std::string& path) { return path.substr(path.find_first_not_of('/')); }

// The image file PATH leads to (symlinks followed inside the image), as a relative path.
std::optional<std::string> resolved(const ImageFs& image, const std::string& path) {
  RootPath p = resolve_in_root(image, path);
  if (!p.exists || p.is_dir) return std::nullopt;
  return p.relative;
}

std::optional<ElfInfo> try_elf(const ImageFs& image, const std::string& rel) {
  try {
    auto st = image.lstat(rel);
    if (!st || st->type != ImageStat::Type::File || st->size < 64 || st->size > kMaxElfSize) return std::nullopt;
    return read_elf(image, rel);
  } catch (const Error& e) {
    spdlog::debug("skipping {}: {}", rel, e.what());
    return std::nullopt;
  }
}

void find_arch(const ImageFs& image, const ImageConfig& config, ImageFacts& f) {
  if (!config.architecture.empty()) {
    f.arch = config.architecture;
    f.arch_source = "image config";
    return;
  }
  for (const char* p : {"/bin/sh", "/usr/bin/env", "/bin/busybox"}) {
    auto rel = resolved(image, p);
    if (!rel) continue;
    if (auto elf = try_elf(image, *rel); elf && !elf_architecture(*elf).empty()) {
      f.arch = elf_architecture(*elf);
      f.arch_source = std::string("ELF header of ") + p;
      return;
    }
  }
}

// glibc: the newest GLIBC_x.y its libc.so.6 defines.
void find_glibc(const ImageFs& image, ImageFacts& f, const std::vector<FoundLibrary>& libs) {
  std::vector<std::string> candidates;
  for (const auto& l : libs)
    if (l.linker_name == "libc" && l.path.ends_with("libc.so.6")) candidates.push_back(l.path);
  for (const char* dir : {"/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/lib/powerpc64le-linux-gnu", "/lib64",
                          "/usr/lib64", "/lib", "/usr/lib"})
    candidates.push_back(std::string(dir) + "/libc.so.6");
  for (const auto& c : candidates) {
    auto rel = resolved(image, c);
    if (!rel) continue;
    auto elf = try_elf(image, *rel);
    if (!elf) continue;
    std::vector<ElfVersionNeed> defs{{"", elf->version_defs}};
    f.glibc = highest_glibc_needed(defs);
    f.libc = "/" + *rel;
    if (!f.glibc.empty()) return;
  }
}

bool newer(const std::string& a, const std::string& b) {  // dotted "2.38" > "2.36"
  auto pa = glibc_version("GLIBC_" + a), pb = glibc_version("GLIBC_" + b);
  return pa && pb && *pa > *pb;
}

void scan_glibc_needs(const ImageFs& image, ImageFacts& f, const std::vector<FoundLibrary>& libs, int max_elf) {
  std::vector<std::string> files;
  for (const char* dir : {"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "opt/conda/bin"})
    for (const auto& name : image.list(dir)) files.push_back(std::string(dir) + "/" + name);
  for (const auto& l : libs) files.push_back(rel_of(l.file));
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  for (const auto& rel : files) {
    if (f.elf_files_scanned >= max_elf) break;
    auto elf = try_elf(image, rel);
    if (!elf) continue;
    ++f.elf_files_scanned;
    std::string need = highest_glibc_needed(elf->version_needs);
    if (!f.glibc.empty() && !need.empty() && newer(need, f.glibc)) f.needs_newer_glibc.push_back({"/" + rel, need});
  }
}

void find_cuda(const ImageFs& image, const ImageConfig& config, ImageFacts& f, const std::vector<FoundLibrary>& libs) {
  ImageCuda c = find_image_cuda(image, config, libs);  // the same facts hpai-run's forward compatibility reads
  f.cuda = c.cuda;
  f.cuda_source = c.source;
  for (const auto& compat : c.compat) f.compat_drivers.push_back(compat.version);
  Environment env = Environment::from_entries(config.env);
  f.require_cuda = env.get("NVIDIA_REQUIRE_CUDA").value_or("");
}

}  // namespace

ImageFacts gather_image_facts(const ImageFs& image, const ImageConfig& config, int max_elf) {
  ImageFacts f;
  f.image = image.describe();
  std::vector<FoundLibrary> libs = image_libraries(image);
  find_arch(image, config, f);
  find_glibc(image, f, libs);
  scan_glibc_needs(image, f, libs, max_elf);
  find_cuda(image, config, f, libs);
  for (const auto& l : libs)
    if (l.linker_name == "libmpi" || l.linker_name == "libmpich" || l.linker_name == "libopen-pal" ||
        l.linker_name == "libopen-rte")
      f.mpi_libraries.push_back(l);
  f.mpi_families = mpi_families(f.mpi_libraries);
  return f;
}

}  // namespace hpai

// InspectedImage lives here: it is how hpai-check gets the images whose facts it reads.
namespace hpai {

InspectedImage::InspectedImage(const std::string& arg, const std::string& storage_dir) : name_(arg) {
  LocatedImage located = locate_image(arg, storage_dir, Environment::from_process());
  struct stat st {};
  if (located.stored) {
    fs_ = open_directory_image(located.path);
  } else {
    const std::string& path = located.path;
    if (stat(path.c_str(), &st) != 0) throw_errno("can't examine image " + path);
    if (S_ISDIR(st.st_mode) && detect_format(path) == ImageFormat::Dir) {
      fs_ = open_directory_image(path);
    } else if (S_ISREG(st.st_mode) && is_squashfs_file(path)) {
      fs_ = open_squashfs_image(path);
    } else {
      // An archive or OCI layout: unpack it once, privately.
      const char* tmp = getenv("TMPDIR");
      std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/hpai-check.XXXXXX";
      if (!mkdtemp(templ.data())) throw_errno("can't create a temporary directory for " + arg);
      temp_ = templ;
      ImportOptions opts;
      opts.source = path;
      opts.name = "checked";
      ImportResult r = import_image(Storage(temp_), opts);
      fs_ = open_directory_image(r.dir);
    }
  }
  config_ = read_image_config(*fs_);
}

InspectedImage::~InspectedImage() {
  fs_.reset();
  if (!temp_.empty()) remove_tree(temp_);
}

}  // namespace hpai
