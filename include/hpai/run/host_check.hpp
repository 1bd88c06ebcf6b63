// hpai-check host: can this machine run hpai containers? User namespaces (and the
// sysctls and AppArmor switches that disable them), overlayfs inside one, FUSE for
// SquashFS images, /dev/shm, the NVIDIA driver and devices, the site profile's MPI,
// a batch launcher. Each problem says what an admin changes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/base/verdict.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

struct HostCheck {
  std::string name;
  Verdict verdict = Verdict::Pass;
  std::string message;
  std::string fix;  // what to change, for failures and warnings
};

struct HostCheckOptions {
  std::string proc = "/proc";  // tests point these at fake trees
  std::string dev = "/dev";
  bool try_namespaces = true;  // actually create a user namespace and an overlay in it
  const Profile* profile = nullptr;
  Environment env;
};

std::vector<HostCheck> check_host(const HostCheckOptions& options);

// One line per check (with the fix below a failure or warning), or a JSON array.
std::string host_checks_text(const std::vector<HostCheck>& checks);
std::string host_checks_json(const std::vector<HostCheck>& checks);

}  // namespace hpai
