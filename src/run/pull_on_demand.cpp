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

// A path, a file name (FILE.sqfs, x.tar.gz), or a name whose first component is a
// directory here: meant as a file, whatever a reference parser would make of it.
bool reads_as_file(const std::string& arg) {
  if (arg.starts_with("/") || arg.starts_with("./") || arg.starts_with("../") || arg.starts_with("~")) return true;
  const std::string last = arg.substr(arg.rfind('/') == std::string::npos ? 0 : arg.rfind('/') + 1);
  for (const char* ext : {".sqfs", ".squashfs", ".sif", ".img", ".tar", ".tgz", ".tar.gz", ".tar.zst", ".tar.xz"})
    if (last.ends_with(ext)) return true;
  const auto slash = arg.find('/');
  return slash != std::string::npos && is_directory(arg.substr(0, slash));
}

}  // namespace

bool pull_if_missing(const RunOptions& o, const HostContext& host, bool dry_run) {
  auto found = [&] {
    try {
      locate_image(o.image, o.storage, host.env);
      return true;  // stored (or a path): nothing to fetch
    } catch (const Error&) {
      return false;
    }
  };
  if (found()) return false;
  if (reads_as_file(o.image))
    throw Error("can't find image " + o.image + ": no such file or directory (--pull fetches registry references, " +
                "not files)");
  const ImageReference ref = parse_image_reference(o.image);  // Error (usage) saying why it is none
  if (dry_run) return true;
  Storage storage = Storage::chosen(o.storage, host.env);
  NameLock lock = storage.lock_pull(ref.storage_name());
  if (found()) return false;  // another rank pulled it meanwhile
  std::vector<std::string> argv = {sibling_hpai_image()};
  if (!o.storage.empty()) argv.insert(argv.end(), {"-s", o.storage});
  argv.insert(argv.end(), {"pull", o.image});
  spdlog::info("{} is not in storage: pulling it (--pull)", o.image);
  const int rc = run_program(argv);
  if (rc != 0) throw Error("--pull: hpai-image pull " + o.image + " failed (status " + std::to_string(rc) + ")");
  return true;
}

}  // namespace hpai
