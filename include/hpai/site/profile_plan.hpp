// Applying a site profile to one launch: its binds, devices and environment, the
// host MPI libraries in place of the image's, and the NVIDIA driver's libraries and
// binaries in a container-private directory. The result is a list of mounts and
// environment changes that make_plan places; nothing here touches the image.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpai/base/mount_spec.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/image/image_fs.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

// Host files injected into the container live here: a tmpfs, so read-only images
// work and nothing is written to the image. lib/ goes first on LD_LIBRARY_PATH, so an
// image's own libcuda (a stub, say) can't shadow the host driver.
inline constexpr const char* kHostDir = "/.hpai/host";
inline constexpr const char* kHostLibDir = "/.hpai/host/lib";
inline constexpr const char* kHostBinDir = "/.hpai/host/bin";

struct ProfileSwitches {
  std::optional<bool> gpu;  // --gpu / --no-gpu; nullopt: as the profile says
  bool mpi = true;          // false: --no-mpi
  bool cuda_compat = true;  // false: --no-cuda-compat (the image's forward-compat libcuda is never used)
};

struct ProfileEffect {
  std::vector<Mount> mounts;       // in order
  std::vector<EnvChange> env;      // applied after the image's ENV, before --set-env
  std::vector<std::string> notes;  // decisions worth showing in --dry-run
  std::string nvml;                // host libnvidia-ml, when a driver was injected
};

// The host MPI libraries a profile names: its "libraries", then those in its "prefix".
std::vector<HostPath> profile_mpi_libraries(const ProfileMpi& mpi);

ProfileEffect apply_profile(const Profile& profile, const ImageFs& image, const ImageConfig& config,
                            const Environment& host_env, const ProfileSwitches& switches);

}  // namespace hpai
