// hpai-slurm-task: started by hpai's SPANK plugin (spank_hpai.so) in each task of a
// containerized Slurm step, never by hand. It parses the flags the plugin wrote
// (--NAME=VALUE, then the task's command after --) and lets the library build or join
// the node's container and hand it to the task over --reply-fd.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/run/userns.hpp"
#include "hpai/slurm/slurm_task.hpp"

namespace {

int number(const std::string& flag, const std::string& v) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 0)
    throw hpai::Error("hpai-slurm-task: " + flag + "=" + v + " is not a number", hpai::kExitUsage);
  return n;
}

hpai::SlurmTask parse(const std::vector<std::string>& args, int& verbosity) {
  hpai::SlurmTask t;
  std::size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    const std::string& a = args[i];
    if (a == "-v") {
      ++verbosity;
      continue;
    }
    const auto eq = a.find('=');
    const std::string flag = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (flag == "--reply-fd")
      t.reply_fd = number(flag, v);
    else if (flag == "--job")
      t.step.job = v;
    else if (flag == "--step")
      t.step.step = v;
    else if (flag == "--local-tasks")
      t.step.local_tasks = number(flag, v);
    else if (flag == "--slurmstepd")
      t.step.slurmstepd = number(flag, v);
    else if (flag == "--batch-script")
      t.step.batch_script = v;
    else if (flag == "--site-profile")
      t.site.profile = v;
    else if (flag == "--site-storage")
      t.site.storage = v;
    else if (flag == "--no-pull")
      t.site.pull = false;
    else if (flag == "--container-image")
      t.request.image = v;
    else if (flag == "--container-mounts")
      t.request.mounts = v;
    else if (flag == "--container-workdir")
      t.request.workdir = v;
    else if (flag == "--container-env")
      t.request.env = v;
    else if (flag == "--container-profile")
      t.request.profile = v;
    else if (flag == "--container-writable")
      t.request.writable = true;
    else if (flag == "--container-readonly")
      t.request.readonly = true;
    else if (flag == "--container-mount-home")
      t.request.mount_home = true;
    else if (flag == "--container-remap-root")
      t.request.remap_root = true;
    else
      throw hpai::Error("hpai-slurm-task: unknown flag " + a + " (it is started by spank_hpai.so)", hpai::kExitUsage);
  }
  // The join secret comes in the environment (a command line is anyone's to read), and
  // goes from it before the task's environment is made from ours.
  if (const char* secret = std::getenv("HPAI_SLURM_JOIN_SECRET")) {
    t.step.secret = secret;
    unsetenv("HPAI_SLURM_JOIN_SECRET");
  }
  if (i < args.size()) t.step.argv.assign(args.begin() + static_cast<long>(i) + 1, args.end());
  if (t.reply_fd < 0 || t.step.job.empty() || t.step.step.empty() || t.step.slurmstepd <= 1)
    throw hpai::Error(
        "hpai-slurm-task: --reply-fd, --job, --step and --slurmstepd are required (it is started by "
        "spank_hpai.so)",
        hpai::kExitUsage);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hpai;
  exit_if_setuid("hpai");
  int verbosity = 0;
  SlurmTask task;
  try {
    task = parse(std::vector<std::string>(argv + 1, argv + argc), verbosity);
  } catch (const Error& e) {
    std::fprintf(stderr, "hpai[%d]: error: %s\n", static_cast<int>(getpid()), e.what());
    return e.exit_code();
  }
  init_logging("hpai", verbosity);
  return report_errors([&] {
    prepare_slurm_task(task);
    return 0;
  });
}
