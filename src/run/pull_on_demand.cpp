#include "hpai/run/pull_on_demand.hpp"

#include <limits.h>
#include <unistd.h>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/subprocess.hpp"
#include "hpai/image/reference.hpp"
#include "hpai/image/storage.hpp"

namespace hpai {

namespace {

// hpai-image from this hpai-run's own directory (an install or a build tree), else PATH.
std::string sibling_hpai_image() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    if (access((dir + "/hpai-image").c_str(), X_OK) == 0) return dir + "/hpai-image";
  }
  return "hpai-image";
}

}  // namespace

void pull_if_missing(const RunOptions& o, const HostContext& host) {
  try {
    locate_image(o.image, o.storage, host.env);
    return;  // stored (or a path): nothing to fetch
  } catch (const Error&) {
    // Not there: pulled below, if it is a reference.
  }
  parse_image_reference(o.image);  // Error (usage) naming what is wrong when it is none
  std::vector<std::string> argv = {sibling_hpai_image()};
  if (!o.storage.empty()) argv.insert(argv.end(), {"-s", o.storage});
  argv.insert(argv.end(), {"pull", o.image});
  spdlog::info("{} is not in storage: pulling it (--pull)", o.image);
  const int rc = run_program(argv);
  if (rc != 0) throw Error("--pull: hpai-image pull " + o.image + " failed (status " + std::to_string(rc) + ")");
}

}  // namespace hpai
