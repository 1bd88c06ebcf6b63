// Where hpai-check's targets come from: a driver matrix file (docs/driver-matrix.md),
// a site profile resolved on its own host, this host, or one inline description.
#pragma once

#include <string>
#include <vector>

#include "hpai/check/check.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

inline constexpr int kMatrixSchemaVersion = 1;

// Throws Error listing every problem as FILE:LINE:COL: ... (with did-you-mean for keys).
std::vector<Target> read_matrix(const std::string& path);
std::vector<Target> parse_matrix(const std::string& text, const std::string& file);

// "name=summit,arch=ppc64le,driver=418.67,brand=tesla,gpu_arch=7.0,glibc=2.17"
Target target_from_spec(const std::string& spec);

// The machine a site profile describes, as seen from that machine (this host): its
// architecture, the NVIDIA driver it would inject, the newest GLIBC version those
// libraries and the profile's MPI libraries need, and the MPI it swaps in.
Target target_from_profile(const Profile& profile);

// This host, without a profile: architecture and NVIDIA driver (from /etc/ld.so.cache).
Target this_host_target();

std::string host_architecture();  // OCI spelling of uname -m

}  // namespace hpai
