// The CUDA/driver table: which CUDA version a driver supports natively, and the minimum
// driver for CUDA minor-version compatibility (the data file recipes/cuda-driver-table.json,
// compiled in). Each row names the NVIDIA table line it was checked against in "source"
// and may carry a "note"; both are for its readers, the rules ignore them. hpai-check's
// verdicts and hpai-run's forward compatibility (forward_compat) both read it.
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

}  // namespace hpai
