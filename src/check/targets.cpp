#include "hpai/check/targets.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/image/elf.hpp"
#include "hpai/site/mpi.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/profile_plan.hpp"

namespace hpai {

namespace {

using nlohmann::json;

const std::vector<std::string> kTargetKeys = {
    "name", "arch", "driver", "brand", "gpu_arch", "injected_glibc", "injected_glibc_from", "mpi"};
const std::vector<std::string> kArchs = {"amd64", "arm64", "ppc64le", "ppc64", "s390x", "386", "arm", "riscv64"};

FoundLibrary library_by_name(const std::string& name) {
  FoundLibrary l;
  l.path = l.file = name;
  auto parsed = parse_library_name(name.substr(name.rfind('/') + 1));
  if (!parsed) throw Error("\"" + name + "\" is not a shared library name (libNAME.so.VERSION)");
  l.linker_name = parsed->linker_name;
  l.version = parsed->version;
  return l;
}

// The newest GLIBC version any of FILES needs, and which file needs it.
void injected_glibc(const std::vector<std::string>& files, Target& t) {
  for (const auto& f : files) {
    std::optional<ElfInfo> elf;
    try {
      elf = read_elf(f);
    } catch (const Error& e) {
      spdlog::warn("{}", e.what());
    }
    if (!elf) continue;
    std::string need = highest_glibc_needed(elf->version_needs);
    if (!need.empty() && (t.injected_glibc.empty() || compare_versions(need, t.injected_glibc) > 0)) {
      t.injected_glibc = need;
      t.injected_glibc_from = f;
    }
  }
}

}  // namespace

std::string host_architecture() {
  utsname u{};
  if (uname(&u) != 0) return "";
  const std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "ppc64le") return "ppc64le";
  if (m == "ppc64") return "ppc64";
  if (m == "s390x") return "s390x";
  if (m == "riscv64") return "riscv64";
  if (m.size() == 4 && m[0] == 'i' && m.substr(2) == "86") return "386";
  return m;
}

std::vector<Target> parse_matrix(const std::string& text, const std::string& file) {
  JsonSource src = JsonSource::parse(text, file);
  std::vector<std::string> errors;
  auto error = [&](const std::string& ptr, const std::string& msg) {
    errors.push_back(src.where(ptr).str() + ": error: " + msg);
  };
  auto check_keys = [&](const std::string& ptr, const json& j, const std::vector<std::string>& keys,
                        const std::string& what) {
    for (const auto& [k, v] : j.items())
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        std::string guess = closest_match(k, keys);
        error(json_pointer_child(ptr, k),
              "unknown key \"" + k + "\" in " + what + (guess.empty() ? "" : "; did you mean \"" + guess + "\"?"));
      }
  };
  const json& root = src.root();
  std::vector<Target> out;
  if (!root.is_object()) throw Error(file + ": a driver matrix is a JSON object");
  check_keys("", root, {"hpai_matrix", "description", "targets"}, "a driver matrix");
  if (root.value("hpai_matrix", 0) != kMatrixSchemaVersion)
    error("", "not an hpai driver matrix: \"hpai_matrix\": " + std::to_string(kMatrixSchemaVersion) +
                  " is missing or another version");
  if (!root.contains("targets") || !root["targets"].is_array())
    error("", "\"targets\" must be an array of targets");
  else
    for (std::size_t i = 0; i < root["targets"].size(); ++i) {
      const std::string ptr = "/targets/" + std::to_string(i);
      const json& j = root["targets"][i];
      if (!j.is_object()) {
        error(ptr, "a target must be an object");
        continue;
      }
      check_keys(ptr, j, kTargetKeys, "a target");
      Target t;
      t.origin = src.where(ptr).str();
      auto str = [&](const char* key) -> std::string {
        if (!j.contains(key)) return "";
        if (!j[key].is_string()) {
          error(json_pointer_child(ptr, key), std::string(key) + " must be a string");
          return "";
        }
        return j[key].get<std::string>();
      };
      t.name = str("name");
      if (t.name.empty()) error(ptr, "a target needs a \"name\"");
      t.arch = str("arch");
      if (!t.arch.empty() && std::find(kArchs.begin(), kArchs.end(), t.arch) == kArchs.end()) {
        std::string guess = closest_match(t.arch, kArchs);
        error(json_pointer_child(ptr, "arch"), "unknown architecture \"" + t.arch +
                                                   "\" (OCI names: amd64, arm64, ppc64le, ...)" +
                                                   (guess.empty() ? "" : "; did you mean \"" + guess + "\"?"));
      }
      t.driver = str("driver");
      if (!t.driver.empty() && !std::isdigit(static_cast<unsigned char>(t.driver[0])))
        error(json_pointer_child(ptr, "driver"), "driver \"" + t.driver + "\" is not a version like 535.104.05");
      t.brand = str("brand");
      t.gpu_arch = str("gpu_arch");
      t.injected_glibc = str("injected_glibc");
      t.injected_glibc_from =
          j.contains("injected_glibc_from") ? str("injected_glibc_from") : "the site's host libraries";
      if (j.contains("mpi")) {
        const std::string mp = json_pointer_child(ptr, "mpi");
        const json& m = j["mpi"];
        check_keys(mp, m, {"family", "compat", "libraries"}, "mpi");
        Target::Mpi mpi;
        const std::string family = m.value("family", "");
        if (family == "mpich")
          mpi.family = MpiFamily::Mpich;
        else if (family == "openmpi")
          mpi.family = MpiFamily::OpenMpi;
        else
          error(json_pointer_child(mp, "family"), "mpi family must be \"mpich\" or \"openmpi\"");
        const std::string compat = m.value("compat", mpi.family == MpiFamily::OpenMpi ? "strict" : "major");
        if (compat == "major")
          mpi.compat = MpiCompat::Major;
        else if (compat == "full")
          mpi.compat = MpiCompat::Full;
        else if (compat == "strict")
          mpi.compat = MpiCompat::Strict;
        else
          error(json_pointer_child(mp, "compat"), "mpi compat must be major, full or strict");
        if (m.contains("libraries") && m["libraries"].is_array())
          for (std::size_t k = 0; k < m["libraries"].size(); ++k) {
            try {
              mpi.libraries.push_back(library_by_name(m["libraries"][k].get<std::string>()));
            } catch (const std::exception& e) {
              error(json_pointer_child(json_pointer_child(mp, "libraries"), std::to_string(k)), e.what());
            }
          }
        else
          error(mp, "mpi needs \"libraries\": the host MPI library names, e.g. [\"libmpi.so.12.1.8\"]");
        t.mpi = mpi;
      }
      out.push_back(t);
    }
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    throw Error(all);
  }
  return out;
}

std::vector<Target> read_matrix(const std::string& path) {
  return parse_matrix(read_host_file(path, kMaxJsonDocument, "driver matrix " + path), path);
}

Target target_from_spec(const std::string& spec) {
  Target t;
  t.origin = "--target " + spec;
  for (const auto& item : split_list(spec, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) throw Error("--target: \"" + item + "\" is not KEY=VALUE", kExitUsage);
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "name")
      t.name = v;
    else if (k == "arch")
      t.arch = v;
    else if (k == "driver")
      t.driver = v;
    else if (k == "brand")
      t.brand = v;
    else if (k == "gpu_arch")
      t.gpu_arch = v;
    else if (k == "glibc") {
      t.injected_glibc = v;
      t.injected_glibc_from = "the target's host libraries";
    } else {
      std::string guess = closest_match(k, {"name", "arch", "driver", "brand", "gpu_arch", "glibc"});
      throw Error("--target: unknown key \"" + k + "\"" + (guess.empty() ? "" : "; did you mean \"" + guess + "\"?"),
                  kExitUsage);
    }
  }
  if (t.name.empty()) t.name = spec;
  return t;
}

Target this_host_target() {
  Target t;
  t.name = "this host";
  t.origin = "this host";
  t.arch = host_architecture();
  Environment env = Environment::from_process();
  NvidiaSearch search;
  search.host_env = &env;
  if (auto d = discover_nvidia_driver(search)) t.driver = d->version;
  return t;
}

Target target_from_profile(const Profile& p) {
  Target t = this_host_target();
  t.name = p.name;
  t.origin = "profile " + (p.files.empty() ? p.name : p.files.back());
  std::vector<std::string> injected;
  if (p.nvidia && p.nvidia->enabled.value_or(GpuMode::Auto) != GpuMode::Off) {
    Environment env = Environment::from_process();
    NvidiaSearch search;
    search.host_env = &env;
    if (p.nvidia->ld_cache) search.ld_cache = p.nvidia->ld_cache->path;
    if (p.nvidia->capabilities) search.capabilities = *p.nvidia->capabilities;
    auto d = discover_nvidia_driver(search);
    t.driver = d ? d->version : "";
    if (d)
      for (const auto& l : d->libraries) injected.push_back(l.path);
  } else {
    t.driver.clear();
  }
  if (p.mpi && p.mpi->enabled.value_or(true)) {
    auto host_fs = open_directory_image("/");
    Target::Mpi m;
    std::vector<HostPath> libs = profile_mpi_libraries(*p.mpi);
    for (const auto& hp : libs)
      if (auto l = find_library(*host_fs, hp.path)) {
        m.libraries.push_back(*l);
        injected.push_back(l->file);
      }
    auto families = mpi_families(m.libraries);
    m.family = p.mpi->family.value_or(families.size() == 1 ? families.front() : MpiFamily::Mpich);
    m.compat = p.mpi->compat.value_or(m.family == MpiFamily::OpenMpi ? MpiCompat::Strict : MpiCompat::Major);
    if (p.mpi->dependencies)
      for (const auto& dep : *p.mpi->dependencies) injected.push_back(dep.path);
    t.mpi = m;
  }
  injected_glibc(injected, t);
  return t;
}

}  // namespace hpai
