#include "hpai/site/forward_compat.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/environment.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/site/ld_cache.hpp"

namespace hpai {

namespace {

std::string major_minor(const std::vector<int>& v) {
  if (v.size() < 2) return v.empty() ? "" : std::to_string(v[0]);
  return std::to_string(v[0]) + "." + std::to_string(v[1]);
}

std::string major_minor(const std::string& dotted) {
  auto parts = split_list(dotted, '.');
  if (parts.size() < 2) return dotted;
  return parts[0] + "." + parts[1];
}

std::vector<std::string> cuda_dirs(const ImageFs& image) {
  std::vector<std::string> tops;
  for (const auto& top : image.list("usr/local"))
    if (top.starts_with("cuda")) tops.push_back(top);
  std::sort(tops.begin(), tops.end());
  return tops;
}

}  // namespace

std::vector<CompatLibcuda> find_compat_libcudas(const ImageFs& image) {
  std::vector<CompatLibcuda> out;
  for (const auto& top : cuda_dirs(image))
    for (const auto& name : image.list("usr/local/" + top + "/compat")) {
      auto lib = parse_library_name(name);
      if (!lib || lib->linker_name != "libcuda" || lib->version.size() < 2) continue;
      if (std::none_of(out.begin(), out.end(), [&](const CompatLibcuda& c) { return c.version == lib->version_text; }))
        out.push_back({lib->version_text, "/usr/local/" + top + "/compat"});
    }
  return out;
}

ImageCuda find_image_cuda(const ImageFs& image, const ImageConfig& config, const std::vector<FoundLibrary>& libs) {
  ImageCuda f;
  f.compat = find_compat_libcudas(image);
  // What runs: the libcudart the linker finds, else one in the toolkit's usual places.
  for (const auto& l : libs)
    if (l.linker_name == "libcudart" && l.version.size() >= 2) {
      f.cuda = major_minor(l.version);
      f.source = l.describe();
      return f;
    }
  std::vector<std::string> dirs = {"usr/local/cuda/lib64", "usr/local/cuda/lib", "usr/lib/x86_64-linux-gnu"};
  for (const auto& top : cuda_dirs(image)) {
    dirs.push_back("usr/local/" + top + "/lib64");
    for (const auto& t : image.list("usr/local/" + top + "/targets"))
      dirs.push_back("usr/local/" + top + "/targets/" + t + "/lib");
  }
  std::string major_only;  // CUDA 13 ships libcudart.so.13 alone: the major is all its name says
  for (const auto& dir : dirs) {
    for (const auto& name : image.list(dir)) {
      auto lib = parse_library_name(name);
      if (!lib || lib->linker_name != "libcudart" || lib->version.empty()) continue;
      if (lib->version.size() == 1) {
        if (major_only.empty()) major_only = "/" + dir + "/" + name;
        continue;
      }
      f.cuda = major_minor(lib->version);
      f.source = "/" + dir + "/" + name;
      return f;
    }
  }
  if (auto v = image.read_file("usr/local/cuda/version.json", kMaxSmallFile)) {
    try {
      auto j = nlohmann::json::parse(*v);
      f.cuda = major_minor(j.at("cuda").at("version").get<std::string>());
      f.source = "/usr/local/cuda/version.json";
      return f;
    } catch (const nlohmann::json::exception& e) {
      spdlog::warn("{}: /usr/local/cuda/version.json: {}", image.describe(), e.what());
    }
  }
  Environment env = Environment::from_entries(config.env);
  if (auto v = env.get("CUDA_VERSION"); v && !v->empty()) {
    f.cuda = major_minor(*v);
    f.source = "ENV CUDA_VERSION=" + *v;
  } else if (!major_only.empty()) {
    // The major's first release: the least any of its minors needs from a driver.
    f.cuda = major_only.substr(major_only.rfind('.') + 1) + ".0";
    f.source = major_only + " (minor unknown)";
  }
  return f;
}

bool datacenter_brand(const std::string& brand) {
  const std::string b = ascii_lower(brand);
  return b == "tesla" || b == "datacenter" || b == "nvidia" || b == "a100" || b == "h100";
}

ForwardCompat decide_forward_compat(const CudaTable& table, const std::string& image_cuda,
                                    const std::vector<CompatLibcuda>& compat, const std::string& driver,
                                    const std::string& brand) {
  ForwardCompat r;
  r.native = table.driver_cuda(driver);
  if (image_cuda.empty() || (!r.native.empty() && compare_versions(image_cuda, r.native) <= 0)) return r;
  r.verdict = ForwardCompat::Verdict::NoCompat;
  // Never one of the host driver's own branch, never an older one.
  const std::string branch = driver.substr(0, driver.find('.'));
  for (const auto& c : compat) {
    if (c.version.substr(0, c.version.find('.')) == branch || compare_versions(c.version, driver) <= 0) continue;
    const std::string compat_cuda = table.driver_cuda(c.version);
    if (compat_cuda.empty() || compare_versions(image_cuda, compat_cuda) > 0) continue;
    r.compat = c;
    if (datacenter_brand(brand)) {
      r.verdict = ForwardCompat::Verdict::Use;
      return r;
    }
    if (brand.empty()) {
      r.verdict = ForwardCompat::Verdict::UseIfDatacenter;
      return r;
    }
    r.verdict = ForwardCompat::Verdict::WrongGpu;  // a later one can't do better on this GPU
  }
  return r;
}

}  // namespace hpai
