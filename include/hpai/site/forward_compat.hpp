// CUDA forward compatibility, one rule for hpai-check (check/check.cpp: will the image
// run on a target?) and hpai-run (site/profile_plan.cpp: which libcuda does the
// payload load?): an image may carry /usr/local/cuda*/compat/libcuda.so.VERSION, a
// newer driver's user-space part, to run a CUDA newer than the host driver supports.
// It is used exactly when the image's CUDA is newer than what the driver supports
// natively, the compat libcuda is of a newer branch than the driver and supports the
// image's CUDA, and the GPU is a datacenter one (NVIDIA: compat fails with error 804
// elsewhere; libnvidia-container's compat_mode and enable-cuda-compat hook use the
// same branch rule).
#pragma once

#include <string>
#include <vector>

#include "hpai/image/image_config.hpp"
#include "hpai/image/image_fs.hpp"
#include "hpai/site/cuda_table.hpp"
#include "hpai/site/mpi.hpp"

namespace hpai {

struct CompatLibcuda {
  std::string version;  // "590.44.01"
  std::string dir;      // in the image: "/usr/local/cuda-13.1/compat"
};

// The image's CUDA runtime and its forward-compatibility libcudas.
struct ImageCuda {
  std::string cuda;    // "12.2"; "" when the image has no CUDA runtime
  std::string source;  // "libcudart.so.12.2.140", "/usr/local/cuda/version.json", "ENV CUDA_VERSION=..."
  std::vector<CompatLibcuda> compat;
};

// The compat libcudas alone: a listing of /usr/local and its cuda* directories' compat/
// (cheap: hpai-run asks it on every launch that injects a driver).
std::vector<CompatLibcuda> find_compat_libcudas(const ImageFs& image);
// The runtime too: LIBS (the image's libraries the linker finds; may be empty) first,
// then the toolkit's usual directories, version.json, ENV CUDA_VERSION.
ImageCuda find_image_cuda(const ImageFs& image, const ImageConfig& config, const std::vector<FoundLibrary>& libs);

// NVIDIA's brand names of datacenter GPUs (NVML's "Tesla", "NVIDIA", ...), lower case.
bool datacenter_brand(const std::string& brand);

struct ForwardCompat {
  enum class Verdict {
    NotNeeded,        // the driver supports the image's CUDA natively (or the image has no CUDA)
    Use,              // COMPAT serves the image on a datacenter GPU
    UseIfDatacenter,  // COMPAT would serve it; the GPU's brand is unknown
    WrongGpu,         // COMPAT would serve it, but the GPU is not a datacenter one
    NoCompat,         // needed, and no compat libcuda of the image serves it
  };
  Verdict verdict = Verdict::NotNeeded;
  CompatLibcuda compat;  // for Use, UseIfDatacenter, WrongGpu
  std::string native;    // the CUDA version DRIVER supports natively ("" when the table doesn't say)
  // Whether hpai-run puts COMPAT ahead of the host's libcuda: where it serves the image
  // and nothing says the GPU can't use it.
  bool use() const { return verdict == Verdict::Use || verdict == Verdict::UseIfDatacenter; }
};

// BRAND: the target's GPU brand ("" unknown). IMAGE_CUDA "": NotNeeded.
ForwardCompat decide_forward_compat(const CudaTable& table, const std::string& image_cuda,
                                    const std::vector<CompatLibcuda>& compat, const std::string& driver,
                                    const std::string& brand);

}  // namespace hpai
