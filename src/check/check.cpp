#include "hpai/check/check.hpp"

#include <algorithm>

#include "hpai/base/error.hpp"
#include "hpai/image/elf.hpp"
#include "hpai/site/forward_compat.hpp"

namespace hpai {

namespace {

CheckResult arch(const ImageFacts& f, const Target& t) {
  if (f.arch.empty())
    return {t.name, "arch", Verdict::Warn, "the image's architecture is unknown (no config, no ELF /bin/sh)"};
  if (t.arch.empty()) return {t.name, "arch", Verdict::Skip, "the target's architecture is not given"};
  if (f.arch != t.arch)
    return {t.name, "arch", Verdict::Fail,
            "the image is " + f.arch + " (" + f.arch_source + "), the target is " + t.arch +
                ": its programs can't run there; build the image for " + t.arch};
  return {t.name, "arch", Verdict::Pass, f.arch};
}

CheckResult cuda(const ImageFacts& f, const Target& t, const CudaTable& table) {
  if (f.cuda.empty()) return {t.name, "cuda", Verdict::Skip, "the image has no CUDA runtime"};
  const std::string what = "CUDA " + f.cuda + " runtime (" + f.cuda_source + ")";
  if (t.driver.empty())
    return {t.name, "cuda", Verdict::Warn, what + ", but the target has no NVIDIA driver: GPU code will fail there"};
  const std::string native = table.driver_cuda(t.driver);
  const std::string drv = "driver " + t.driver + (native.empty() ? "" : " (CUDA " + native + ")");
  if (!native.empty() && compare_versions(f.cuda, native) <= 0)
    return {t.name, "cuda", Verdict::Pass,
            what + " on " + drv + (table.verified(t.driver) ? "" : "; table row unverified")};
  // Forward compatibility: the rule hpai-run applies (site/forward_compat).
  std::vector<CompatLibcuda> compat;
  for (const auto& v : f.compat_drivers) compat.push_back({v, ""});
  const ForwardCompat fc = decide_forward_compat(table, f.cuda, compat, t.driver, t.brand);
  if (fc.verdict == ForwardCompat::Verdict::Use)
    return {t.name, "cuda", Verdict::Warn,
            what + " on " + drv + " through the image's forward-compatibility libcuda " + fc.compat.version +
                " (datacenter GPUs only)"};
  if (fc.verdict == ForwardCompat::Verdict::UseIfDatacenter)
    return {t.name, "cuda", Verdict::Warn,
            what + " on " + drv + " needs the image's forward-compatibility libcuda " + fc.compat.version +
                ", which works on datacenter GPUs only; the target's GPU brand is not given"};
  const std::string minimum = table.minimum_driver(f.cuda);
  if (!minimum.empty() && compare_versions(t.driver, minimum) >= 0)
    return {t.name, "cuda", Verdict::Warn,
            what + " on " + drv + " through minor version compatibility (driver >= " + minimum +
                "): runs, but PTX code built for the newer toolkit can't be JIT-compiled"};
  return {t.name, "cuda", Verdict::Fail,
          what + " needs a driver supporting CUDA " + f.cuda +
              (minimum.empty() ? "" : " (at least " + minimum + " with minor version compatibility)") +
              "; the target has " + drv + ": CUDA fails with error 803/804 (unsupported driver) there"};
}

CheckResult require_cuda(const ImageFacts& f, const Target& t, const CudaTable& table) {
  if (f.require_cuda.empty()) return {t.name, "require_cuda", Verdict::Skip, "the image sets no NVIDIA_REQUIRE_CUDA"};
  if (t.driver.empty()) return {t.name, "require_cuda", Verdict::Skip, "the target has no NVIDIA driver"};
  RequireContext ctx{table.driver_cuda(t.driver), t.driver, t.brand, t.gpu_arch};
  RequireResult r;
  try {
    r = evaluate_require_cuda(f.require_cuda, ctx);
  } catch (const Error& e) {
    return {t.name, "require_cuda", Verdict::Fail, e.what()};
  }
  switch (r.state) {
    case RequireResult::State::Satisfied:
      return {t.name, "require_cuda", Verdict::Pass, "NVIDIA_REQUIRE_CUDA=\"" + f.require_cuda + "\" holds"};
    case RequireResult::State::Undecided:
      return {t.name, "require_cuda", Verdict::Warn, r.detail + " (NVIDIA_REQUIRE_CUDA=\"" + f.require_cuda + "\")"};
    case RequireResult::State::Unsatisfied: break;
  }
  return {t.name, "require_cuda", Verdict::Fail,
          r.detail + ", please update your driver to a newer version, or use an earlier cuda container (driver " +
              t.driver + " supports CUDA " + ctx.cuda + ")"};
}

bool glibc_newer(const std::string& a, const std::string& b) { return compare_versions(a, b) > 0; }

CheckResult glibc(const ImageFacts& f, const Target& t) {
  if (!f.needs_newer_glibc.empty()) {
    const auto& n = f.needs_newer_glibc.front();
    return {
        t.name, "glibc", Verdict::Fail,
        "the image is inconsistent: " + n.file + " needs GLIBC_" + n.version + " but its libc (" + f.libc + ") has " +
            f.glibc +
            (f.needs_newer_glibc.size() > 1 ? " (and " + std::to_string(f.needs_newer_glibc.size() - 1) + " more files)"
                                            : "")};
  }
  if (t.injected_glibc.empty())
    return {t.name, "glibc", f.glibc.empty() ? Verdict::Skip : Verdict::Pass,
            f.glibc.empty() ? "no glibc in the image, and nothing injected"
                            : "glibc " + f.glibc + "; the target injects no host libraries"};
  if (f.glibc.empty())
    return {t.name, "glibc", Verdict::Fail,
            "the target injects host libraries needing GLIBC_" + t.injected_glibc + " (" + t.injected_glibc_from +
                "), but the image has no glibc (musl or static?)"};
  if (glibc_newer(t.injected_glibc, f.glibc))
    return {t.name, "glibc", Verdict::Fail,
            "host library " + t.injected_glibc_from + " injected by the target needs GLIBC_" + t.injected_glibc +
                "; the image has glibc " + f.glibc + ": it fails to load (\"version `GLIBC_" + t.injected_glibc +
                "' not found\"); use a newer base image or --no-gpu/--no-mpi"};
  return {t.name, "glibc", Verdict::Pass,
          "image glibc " + f.glibc + " >= " + t.injected_glibc + " needed by injected host libraries"};
}

CheckResult mpi(const ImageFacts& f, const Target& t) {
  if (!t.mpi) return {t.name, "mpi", Verdict::Skip, "the target swaps in no host MPI"};
  if (f.mpi_libraries.empty()) return {t.name, "mpi", Verdict::Skip, "the image has no MPI library"};
  const auto& m = *t.mpi;
  if (std::find(f.mpi_families.begin(), f.mpi_families.end(), m.family) == f.mpi_families.end())
    return {t.name, "mpi", Verdict::Fail,
            std::string("the image's MPI is ") +
                (f.mpi_families.empty() ? "unknown" : to_string(f.mpi_families.front())) +
                ", the target's host MPI is " + to_string(m.family) +
                ": different ABIs can't be swapped (run with --no-mpi over the image's own MPI)"};
  std::vector<std::string> warnings;
  for (const auto& host : m.libraries) {
    std::vector<FoundLibrary> same;
    for (const auto& l : f.mpi_libraries)
      if (l.linker_name == host.linker_name) same.push_back(l);
    if (same.empty()) continue;  // added on the library path, nothing to clash with
    std::string best_error;
    bool ok = false;
    for (const auto& image_lib : same) {
      std::string why = version_incompatibility(host, image_lib, m.compat, warnings);
      if (why.empty()) {
        ok = true;
        break;
      }
      best_error = why;
    }
    if (!ok) return {t.name, "mpi", Verdict::Fail, best_error + " (" + to_string(m.compat) + " mode)"};
  }
  std::string msg =
      std::string(to_string(m.family)) + " host libraries fit the image's (" + to_string(m.compat) + " mode)";
  if (!warnings.empty()) return {t.name, "mpi", Verdict::Warn, msg + "; " + warnings.front()};
  return {t.name, "mpi", Verdict::Pass, msg};
}

}  // namespace

std::vector<CheckResult> check_image(const ImageFacts& f, const Target& t, const CudaTable& table) {
  return {arch(f, t), cuda(f, t, table), require_cuda(f, t, table), glibc(f, t), mpi(f, t)};
}

bool all_passed(const std::vector<CheckResult>& results) {
  return std::none_of(results.begin(), results.end(), [](const CheckResult& r) { return r.verdict == Verdict::Fail; });
}

}  // namespace hpai
