// What an image needs from the machine it runs on, read from its files without running
// it: CPU architecture, glibc version (and image files needing a newer one), CUDA
// runtime and forward-compatibility libraries, NVIDIA_REQUIRE_CUDA, MPI libraries.
// hpai-check compares these facts with targets (check.cpp).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpai/image/image_config.hpp"
#include "hpai/image/image_fs.hpp"
#include "hpai/site/mpi.hpp"

namespace hpai {

struct ImageFacts {
  std::string image;        // as described to the user
  std::string arch;         // OCI spelling; "" unknown
  std::string arch_source;  // "image config", "ELF header of /bin/sh"
  std::string glibc;        // "2.36": the highest GLIBC_x.y the image's libc.so.6 defines; "" when none
  std::string libc;         // where it is
  struct TooNew {
    std::string file;     // in the image
    std::string version;  // "2.38"
  };
  std::vector<TooNew> needs_newer_glibc;  // image files that need more than its own libc has
  int elf_files_scanned = 0;
  std::string cuda;         // runtime version "12.2"; "" when the image has no CUDA
  std::string cuda_source;  // "libcudart.so.12.2.140", "usr/local/cuda/version.json", "ENV CUDA_VERSION"
  std::vector<std::string> compat_drivers;  // versions of the image's /usr/local/cuda*/compat/libcuda.so.VERSION
  std::string require_cuda;                 // ENV NVIDIA_REQUIRE_CUDA
  std::vector<FoundLibrary> mpi_libraries;  // libmpi*, libopen-pal/-rte, libmpich*
  std::vector<MpiFamily> mpi_families;
};

// Reads the facts of IMAGE. Scans at most MAX_ELF files for their glibc needs (the
// image's executables in the usual bin directories and the libraries its linker cache lists).
ImageFacts gather_image_facts(const ImageFs& image, const ImageConfig& config, int max_elf = 4000);

// An image to inspect, however it was given: a directory, a SquashFS file, the name of
// an image in storage, or an archive (tar, docker save, OCI layout or archive), which
// is imported into a temporary storage removed with this object.
class InspectedImage {
 public:
  InspectedImage(const std::string& arg, const std::string& storage_dir);
  ~InspectedImage();
  InspectedImage(const InspectedImage&) = delete;
  InspectedImage& operator=(const InspectedImage&) = delete;
  const ImageFs& fs() const { return *fs_; }
  const ImageConfig& config() const { return config_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string temp_;  // temporary storage of an imported archive
  std::unique_ptr<ImageFs> fs_;
  ImageConfig config_;
};

}  // namespace hpai
