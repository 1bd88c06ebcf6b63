#include "hpai/site/profile_plan.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/site/cuda_table.hpp"
#include "hpai/site/forward_compat.hpp"
#include "hpai/site/mpi.hpp"
#include "hpai/site/nvidia.hpp"

namespace hpai {

namespace {

std::string base_name(const std::string& p) { return p.substr(p.rfind('/') + 1); }

std::string from(const SourcePos& pos) { return "profile " + pos.str(); }

// Fills the container-private directory kHostDir: a tmpfs made on first use, host
// files bound onto empty files in it, and the symlinks the dynamic linker looks for.
class HostDir {
 public:
  explicit HostDir(ProfileEffect& e) : effect_(e) {}

  // Adds host FILE as DIR/NAME(s): the first name is the file, the others link to it.
  void add(const std::string& dir, const std::string& file, std::vector<std::string> names, const std::string& origin) {
    open();
    const std::string name = base_name(file);
    if (!claim(dir + "/" + name, origin)) return;
    effect_.mounts.push_back(bind_of(file, dir + "/" + name, {.read_only = true, .create = true}, origin));
    for (const auto& n : names) {
      if (n == name || !claim(dir + "/" + n, origin)) continue;
      Mount link;
      link.kind = Mount::Kind::Symlink;
      link.source = name;
      link.target = dir + "/" + n;
      link.create = true;
      link.origin = origin;
      effect_.mounts.push_back(link);
    }
  }
  bool used() const { return opened_; }

 private:
  void open() {
    if (opened_) return;
    opened_ = true;
    Mount m;
    m.kind = Mount::Kind::Tmpfs;
    m.source = "mode=0755";
    m.target = kHostDir;
    m.create = true;
    m.origin = "site profile: injected host files";
    effect_.mounts.push_back(m);
  }
  // One file per name; the first to ask keeps it (driver before profile extras).
  bool claim(const std::string& path, const std::string& origin) {
    auto [it, added] = taken_.emplace(path, origin);
    if (!added) spdlog::debug("{} already injected (from {}); skipping the one from {}", path, it->second, origin);
    return added;
  }

  ProfileEffect& effect_;
  bool opened_ = false;
  std::map<std::string, std::string> taken_;
};

void add_binds(ProfileEffect& e, const std::vector<ProfileBind>& binds) {
  for (const auto& b : binds) {
    if (!b.required && !path_exists(b.source)) {
      e.notes.push_back("skipped optional bind " + b.source + ": not on this host (" + from(b.origin) + ")");
      continue;
    }
    e.mounts.push_back(bind_of(host_source(b.source, from(b.origin)), b.target,
                               {.read_only = b.read_only, .create = true}, from(b.origin)));
  }
}

void add_devices(ProfileEffect& e, const std::vector<ProfileBind>& devices) {
  for (const auto& d : devices) {
    if (!path_exists(d.source)) {
      if (d.required) throw Error("device " + d.source + " is missing on this host (from " + from(d.origin) + ")");
      e.notes.push_back("skipped optional device " + d.source + ": not on this host");
      continue;
    }
    // The host's /dev is bound whole, so devices under it are already there.
    if (d.source.starts_with("/dev/")) continue;
    e.mounts.push_back(bind_of(host_source(d.source, from(d.origin)), d.target, {.create = true}, from(d.origin)));
  }
}

// ---- MPI ----

// The MPI libraries in a prefix directory: per linker name, the most specific version.
// Open MPI's libmpi needs its own libopen-rte and libopen-pal in lockstep (Open MPI
// <= 4), so those count as MPI libraries here too.
std::vector<HostPath> libraries_in_prefix(const HostPath& prefix) {
  DIR* d = opendir(prefix.path.c_str());
  if (!d) throw_errno("can't list MPI prefix " + prefix.path + " (from " + from(prefix.origin) + ")");
  std::map<std::string, std::pair<std::size_t, std::string>> best;
  while (struct dirent* ent = readdir(d)) {
    auto name = parse_library_name(ent->d_name);
    if (!name || name->version.empty()) continue;
    const std::string& l = name->linker_name;
    if (!l.starts_with("libmpi") && l != "libopen-rte" && l != "libopen-pal") continue;
    auto& b = best[name->linker_name];
    if (name->version.size() > b.first) b = {name->version.size(), ent->d_name};
  }
  closedir(d);
  std::vector<HostPath> out;
  for (const auto& [linker, b] : best) out.push_back({prefix.path + "/" + b.second, prefix.origin});
  if (out.empty()) throw Error("no libmpi*.so.N in MPI prefix " + prefix.path + " (from " + from(prefix.origin) + ")");
  return out;
}

void replace_libraries(ProfileEffect& e, HostDir& dir, const ImageFs& host_fs, const std::vector<HostPath>& libs,
                       const std::vector<FoundLibrary>& image_libs, MpiCompat mode, const char* what) {
  for (const auto& hp : libs) {
    auto host = find_library(host_fs, hp.path);
    if (!host)
      throw Error("can't use host MPI library " + hp.path + ": " +
                  (path_exists(hp.path) ? "not a shared library name" : "no such file on host") + " (from " +
                  from(hp.origin) + ")");
    host->file = host_source(host->file, from(hp.origin));
    LibraryReplacement r;
    try {
      r = pair_library(*host, image_libs, mode);
    } catch (const Error& refused) {
      throw Error(std::string(refused.what()) + " (from " + from(hp.origin) + ", " + to_string(mode) +
                  " mode; run with --no-mpi to keep the image's own MPI, or set mpi.compat in the profile)");
    }
    for (const auto& w : r.warnings) e.notes.push_back("warning: " + w);
    if (r.image) {
      e.mounts.push_back(bind_of(host->file, r.image->file, {.read_only = true}, from(hp.origin) + ": " + what));
      e.notes.push_back(std::string(what) + ": host " + host->describe() + " replaces image " + r.image->describe() +
                        " at " + r.image->file + " (" + to_string(mode) + " mode)");
    } else {
      // Nothing to replace: offer it on the library path under its own name and soname.
      std::vector<std::string> names = {base_name(hp.path), host->linker_name + ".so"};
      if (!host->version.empty()) names.push_back(host->linker_name + ".so." + std::to_string(host->version[0]));
      dir.add(kHostLibDir, host->file, names, from(hp.origin) + ": " + what);
      e.notes.push_back(std::string(what) + ": image has no " + host->linker_name + "; host " + host->describe() +
                        " added in " + kHostLibDir);
    }
  }
}

void apply_mpi(ProfileEffect& e, HostDir& dir, const ProfileMpi& m, const ImageFs& image) {
  std::vector<HostPath> libs = profile_mpi_libraries(m);
  if (libs.empty())
    throw Error("profile's mpi section names no host libraries (\"libraries\" or \"prefix\") (from " + from(m.origin) +
                ")");

  auto host_fs = open_directory_image("/");
  std::vector<FoundLibrary> host_libs;
  for (const auto& hp : libs)
    if (auto l = find_library(*host_fs, hp.path)) host_libs.push_back(*l);
  // Only the image libraries that can pair with the host's or tell the MPI family.
  std::set<std::string> wanted = {"libmpi", "libmpich", "libopen-pal", "libopen-rte"};
  std::vector<HostPath> all = libs;
  if (m.dependencies) all.insert(all.end(), m.dependencies->begin(), m.dependencies->end());
  for (const auto& hp : all)
    if (auto n = parse_library_name(base_name(hp.path))) wanted.insert(n->linker_name);
  std::vector<FoundLibrary> image_libs = image_libraries(image, wanted);
  std::optional<MpiFamily> host_family = m.family;
  if (m.family) {
    std::vector<std::string> paths;
    for (const auto& hp : libs) paths.push_back(hp.path);
    if (auto wrong = family_contradiction(*m.family, paths); !wrong.empty())
      throw Error("can't swap MPI: " + wrong + " (from " + from(m.origin) +
                  "; hpai-profile check lists what is wrong; "
                  "--no-mpi keeps the image's MPI)");
  }
  if (auto found = mpi_families(host_libs); !host_family && found.size() == 1) host_family = found.front();
  auto image_families = mpi_families(image_libs);
  if (host_family && !image_families.empty() &&
      std::find(image_families.begin(), image_families.end(), *host_family) == image_families.end())
    throw Error(std::string("can't swap MPI: the image's MPI is ") + to_string(image_families.front()) +
                " and the host's (from " + from(m.origin) + ") is " + to_string(*host_family) +
                "; their ABIs differ (run without the profile's MPI: --no-mpi)");
  // MPICH-ABI libraries promise compatibility within a major; Open MPI's only within a minor.
  MpiCompat mode = m.compat.value_or(host_family == MpiFamily::OpenMpi ? MpiCompat::Strict : MpiCompat::Major);
  if (image_libs.empty())
    e.notes.push_back(
        image.lstat("etc/ld.so.cache")
            ? "MPI: the image's /etc/ld.so.cache lists no MPI library; host MPI libraries go on the library path"
            : "MPI: the image has no /etc/ld.so.cache; host MPI libraries go on the library path");
  replace_libraries(e, dir, *host_fs, libs, image_libs, mode, "MPI");
  if (m.dependencies)
    replace_libraries(e, dir, *host_fs, *m.dependencies, image_libs, MpiCompat::Full, "MPI dependency");
  add_binds(e, m.binds);
  e.env.insert(e.env.end(), m.env.begin(), m.env.end());
}

// ---- NVIDIA ----

std::optional<std::string> image_env(const ImageConfig& config, const std::string& name) {
  for (const auto& e : config.env)
    if (e.starts_with(name + "=")) return e.substr(name.size() + 1);
  return std::nullopt;
}

// CUDA forward compatibility (site/forward_compat: hpai-check's rule): the directory of
// the image's compat libcuda to put ahead of the host's on the search path, or "".
std::string forward_compat_dir(ProfileEffect& e, const ImageFs& image, const ImageConfig& config,
                               const NvidiaDriver& driver, bool allowed) {
  if (find_compat_libcudas(image).empty()) return "";  // what almost every launch asks, and all
  const ImageCuda cuda = find_image_cuda(image, config, {});
  const CudaTable table = CudaTable::builtin();
  ForwardCompat fc = decide_forward_compat(table, cuda.cuda, cuda.compat, driver.version, "");
  std::string brand_note;
  if (fc.verdict == ForwardCompat::Verdict::UseIfDatacenter) {
    // Only now, in a child: NVML never enters hpai-run's own process.
    const NvmlInfo nvml = driver.nvml.empty() ? NvmlInfo{} : query_nvml(driver.nvml);
    if (!nvml.brand.empty()) fc = decide_forward_compat(table, cuda.cuda, cuda.compat, driver.version, nvml.brand);
    brand_note = nvml.brand.empty() ? "GPU brand unknown (" +
                                          (nvml.ok               ? std::string("NVML did not say")
                                           : driver.nvml.empty() ? std::string("no NVML")
                                                                 : nvml.error) +
                                          "): it works on datacenter GPUs only"
                                    : "GPU 0 is a " + nvml.brand + " GPU";
  }
  const std::string host =
      "the host's libcuda " + driver.version + (fc.native.empty() ? "" : " (CUDA " + fc.native + ")");
  const std::string image_cuda = "the image's CUDA " + cuda.cuda + " (" + cuda.source + ")";
  const std::string compat = "the image's " + fc.compat.dir + "/libcuda.so." + fc.compat.version;
  using V = ForwardCompat::Verdict;
  switch (fc.verdict) {
    case V::NotNeeded:
      e.notes.push_back("GPU: CUDA forward compatibility not needed: " + host + " runs " +
                        (cuda.cuda.empty() ? std::string("an image without a CUDA runtime") : image_cuda));
      return "";
    case V::NoCompat:
      e.notes.push_back("GPU: " + image_cuda + " is newer than " + host +
                        " and none of the image's compat libcudas serves it: the host's is used (CUDA may fail "
                        "with error 803)");
      return "";
    case V::WrongGpu:
      e.notes.push_back("GPU: " + compat + " would serve " + image_cuda + ", but " + brand_note +
                        " and forward compatibility works on datacenter GPUs only: " + host + " is used");
      return "";
    case V::Use:
    case V::UseIfDatacenter:
      if (!allowed) {
        e.notes.push_back("GPU: --no-cuda-compat: " + host + " is used, not " + compat + " that " + image_cuda +
                          " needs");
        return "";
      }
      e.notes.push_back("GPU: CUDA forward compatibility: the payload loads " + compat + " ahead of " + host + ": " +
                        image_cuda + " needs it" + (brand_note.empty() ? "" : "; " + brand_note));
      return fc.compat.dir;
  }
  return "";
}

void apply_nvidia(ProfileEffect& e, HostDir& dir, const ProfileNvidia& n, GpuMode mode, const ImageFs& image,
                  const ImageConfig& config, const Environment& host_env, bool cuda_compat, std::string& compat_dir) {
  std::string visible = host_env.get("NVIDIA_VISIBLE_DEVICES").value_or("");
  if (mode == GpuMode::Auto && (visible == "void" || visible == "none")) {
    e.notes.push_back("GPU: NVIDIA_VISIBLE_DEVICES=" + visible + "; no driver injected");
    return;
  }
  NvidiaSearch search;
  search.host_env = &host_env;
  if (n.ld_cache) search.ld_cache = n.ld_cache->path;
  if (n.capabilities) search.capabilities = *n.capabilities;
  // The image (or the job) may ask for capabilities, as with NVIDIA's container toolkit.
  auto asked = host_env.get("NVIDIA_DRIVER_CAPABILITIES");
  if (!asked) asked = image_env(config, "NVIDIA_DRIVER_CAPABILITIES");
  if (asked && !asked->empty()) search.capabilities = *asked == "all" ? kNvidiaCapabilities : split_list(*asked, ',');

  std::optional<NvidiaDriver> driver = discover_nvidia_driver(search);
  if (!driver) {
    std::string why =
        "no NVIDIA driver found: no libcuda.so.<version> or libnvidia-ml.so.<version> in " + search.ld_cache;
    if (mode == GpuMode::On)
      throw Error("GPU support was asked for, but " + why + " (is the driver installed? is ldconfig current?)");
    e.notes.push_back("GPU: " + why + "; GPU support off");
    return;
  }
  const std::string origin = "NVIDIA driver " + driver->version;
  for (const auto& lib : driver->libraries) dir.add(kHostLibDir, lib.path, lib.names, origin);
  for (const auto& lib : n.libraries) {
    std::string file = host_source(lib.path, from(lib.origin));
    auto name = parse_library_name(base_name(lib.path));
    std::vector<std::string> names = {base_name(lib.path)};
    if (name && !name->version.empty()) names.push_back(name->linker_name + ".so." + std::to_string(name->version[0]));
    dir.add(kHostLibDir, file, names, from(lib.origin));
  }
  for (const auto& b : driver->binaries) dir.add(kHostBinDir, b, {}, origin);
  for (const auto& b : n.binaries)
    dir.add(kHostBinDir, host_source(b.path, from(b.origin)), {base_name(b.path)}, from(b.origin));
  for (const auto& ipc : driver->ipc)
    e.mounts.push_back(bind_of(host_source(ipc, origin), ipc, {.create = true}, origin));
  add_devices(e, n.devices);

  if (!driver->binaries.empty() || !n.binaries.empty())
    e.env.push_back({EnvChange::Kind::Append, "PATH", kHostBinDir, origin});
  if (!visible.empty() && visible != "all" && visible != "void" && visible != "none" &&
      !host_env.has("CUDA_VISIBLE_DEVICES"))
    e.env.push_back({EnvChange::Kind::Set, "CUDA_VISIBLE_DEVICES", visible, "NVIDIA_VISIBLE_DEVICES"});
  e.nvml = driver->nvml;
  compat_dir = forward_compat_dir(e, image, config, *driver, cuda_compat);

  std::string caps;
  for (const auto& c : search.capabilities) caps += (caps.empty() ? "" : ",") + c;
  e.notes.push_back("GPU: " + origin + " from " + search.ld_cache + ": " + std::to_string(driver->libraries.size()) +
                    " libraries (" + caps + "), " + std::to_string(driver->binaries.size()) + " binaries, " +
                    std::to_string(driver->devices.size()) + " devices" +
                    (driver->devices.empty() ? " (none on this host)" : " (visible through /dev)"));
}

}  // namespace

std::vector<HostPath> profile_mpi_libraries(const ProfileMpi& m) {
  std::vector<HostPath> libs;
  if (m.libraries) libs = *m.libraries;
  if (m.prefix) {
    auto more = libraries_in_prefix(*m.prefix);
    libs.insert(libs.end(), more.begin(), more.end());
  }
  return libs;
}

ProfileEffect apply_profile(const Profile& profile, const ImageFs& image, const ImageConfig& config,
                            const Environment& host_env, const ProfileSwitches& sw) {
  ProfileEffect e;
  HostDir dir(e);
  add_binds(e, profile.binds);
  add_devices(e, profile.devices);
  e.env = profile.env;
  if (profile.mpi && profile.mpi->enabled.value_or(true)) {
    if (sw.mpi)
      apply_mpi(e, dir, *profile.mpi, image);
    else
      e.notes.push_back("MPI: the profile's host MPI is not injected (--no-mpi)");
  }
  GpuMode gpu = profile.nvidia ? profile.nvidia->enabled.value_or(GpuMode::Auto) : GpuMode::Off;
  if (sw.gpu) gpu = *sw.gpu ? GpuMode::On : GpuMode::Off;
  std::string compat_dir;
  if (gpu != GpuMode::Off)
    apply_nvidia(e, dir, profile.nvidia.value_or(ProfileNvidia{}), gpu, image, config, host_env, sw.cuda_compat,
                 compat_dir);
  // Last, so the injected libraries come first on the search path; the image's CUDA
  // forward-compatibility libraries before them.
  if (dir.used())
    e.env.push_back({EnvChange::Kind::Prepend, "LD_LIBRARY_PATH", kHostLibDir, "injected host libraries"});
  if (!compat_dir.empty())
    e.env.push_back({EnvChange::Kind::Prepend, "LD_LIBRARY_PATH", compat_dir, "CUDA forward compatibility"});
  return e;
}

}  // namespace hpai
