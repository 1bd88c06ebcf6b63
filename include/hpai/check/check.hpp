// hpai-check's verdicts: an image's facts (image_facts.cpp) against one target machine —
// CPU architecture, CUDA runtime vs driver, NVIDIA_REQUIRE_CUDA, glibc, MPI ABI.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpai/base/verdict.hpp"
#include "hpai/check/cuda_compat.hpp"
#include "hpai/check/image_facts.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

// A machine an image should run on: a row of a driver matrix, a site profile resolved
// on its host, or this host.
struct Target {
  std::string name;
  std::string origin;               // "matrix.json:12:5", "profile lrz.json", "this host"
  std::string arch;                 // OCI spelling; "" unknown
  std::string driver;               // NVIDIA driver version; "" no GPU
  std::string brand;                // tesla/datacenter, geforce, ...; "" unknown
  std::string gpu_arch;             // compute capability "7.0"; "" unknown
  std::string injected_glibc;       // the newest GLIBC_x.y that host libraries injected there need; "" none
  std::string injected_glibc_from;  // which library needs it
  struct Mpi {
    MpiFamily family = MpiFamily::Mpich;
    MpiCompat compat = MpiCompat::Major;
    std::vector<FoundLibrary> libraries;  // host libraries by name (files need not exist here)
  };
  std::optional<Mpi> mpi;
};

struct CheckResult {
  std::string target;
  std::string check;  // arch, cuda, require_cuda, glibc, mpi
  Verdict verdict = Verdict::Pass;
  std::string message;
};

std::vector<CheckResult> check_image(const ImageFacts& image, const Target& target, const CudaTable& table);

// True when no result failed (warnings and skips pass).
bool all_passed(const std::vector<CheckResult>& results);

}  // namespace hpai
