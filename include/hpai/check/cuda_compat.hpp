// CUDA and NVIDIA driver compatibility rules: which CUDA version a driver supports
// natively, the minimum driver for CUDA minor-version compatibility (both from the
// data file recipes/cuda-driver-table.json, compiled in), and the NVIDIA_REQUIRE_CUDA
// expression images carry (space = OR, comma = AND; keys cuda, driver, brand, arch).
// Each row of the data file names the NVIDIA table line it was checked against in
// "source" and may carry a "note"; both are for its readers, the rules ignore them.
#pragma once

#include <string>
#include <vector>

namespace hpai {

// Dotted numeric comparison: "470.57.02" vs "470" -> > 0; "12.10" > "12.9".
int compare_versions(const std::string& a, const std::string& b);

class CudaTable {
 public:
  static CudaTable builtin();
  static CudaTable from_json(const std::string& text, const std::string& what);  // Error on a malformed table

  // The newest CUDA version driver DRIVER supports natively ("535.104.05" -> "12.2"); "" when older than the table.
  std::string driver_cuda(const std::string& driver) const;
  // The oldest driver that runs CUDA X.Y through minor version compatibility; "" when the table has no rule.
  std::string minimum_driver(const std::string& cuda) const;
  // False when the row behind driver_cuda(DRIVER) is marked unverified.
  bool verified(const std::string& driver) const;
  const std::string& source() const { return source_; }

 private:
  struct Native {
    std::string driver, cuda;
    bool verified = true;
  };
  struct Minor {
    std::string cuda, driver;
  };
  std::vector<Native> native_;  // by driver, ascending
  std::vector<Minor> minor_;
  std::string source_;
};

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
