// The NVIDIA_REQUIRE_CUDA expression images carry (space = OR, comma = AND; keys cuda,
// driver, brand, arch). The CUDA/driver table itself is site/cuda_table.
#pragma once

#include <string>
#include <vector>

#include "hpai/site/cuda_table.hpp"

namespace hpai {

// Evaluates NVIDIA_REQUIRE_CUDA against a target. Values the target leaves "" (an
// unknown brand, say) make their conditions undecidable.
struct RequireContext {
  std::string cuda;  // the driver's CUDA version
  std::string driver;
  std::string brand;  // tesla, geforce, quadro, nvidia, ...
  std::string arch;   // GPU compute capability "8.0"
};
struct RequireResult {
  enum class State { Satisfied, Unsatisfied, Undecided };
  State state = State::Satisfied;
  std::string detail;  // the failing or undecidable condition(s)
};
// Throws Error when EXPR is malformed ("cuda>>12").
RequireResult evaluate_require_cuda(const std::string& expr, const RequireContext& context);

}  // namespace hpai
