// What a Slurm job asked of hpai's SPANK plugin (its --container-* options, pyxis'
// names, as the user gave them) and what the site set in plugstack.conf, turned into
// hpai-run's options: one translation, so that a task and hpai-run agree on the
// container.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "hpai/run/plan.hpp"

namespace hpai {

struct ContainerRequest {
  std::string image;        // --container-image: stored name, directory, SquashFS file, registry reference
  std::string mounts;       // --container-mounts=SRC[:DST[:FLAGS]][,...]
  std::string workdir;      // --container-workdir
  std::string env;          // --container-env=NAME[,NAME...]: the host's values win over the image's
  std::string profile;      // --container-profile: a profile name or file, or "none"
  bool writable = false;    // --container-writable: a tmpfs overlay, gone with the step
  bool readonly = false;    // --container-readonly (the default)
  bool mount_home = false;  // --container-mount-home: hpai-run --home
  bool remap_root = false;  // --container-remap-root: uid and gid 0 inside (hpai-run -u 0 -g 0)
};

// plugstack.conf's arguments that reach the task (the plugin keeps the rest).
struct SiteSettings {
  std::string profile;  // profile=: the default profile (a job's --container-profile wins)
  std::string storage;  // storage=: where stored images are (else hpai's default)
  bool pull = true;     // pull=: fetch a registry reference storage lacks (hpai-image pull)
};

// The step a task belongs to, from SPANK's items.
struct StepFacts {
  std::string job;                // S_JOB_ID
  std::string step;               // S_JOB_STEPID, "batch" for the batch script
  int local_tasks = 1;            // S_JOB_LOCAL_TASK_COUNT: they share one container
  std::string batch_script;       // the batch step's script, bound read-only at its own path
  std::vector<std::string> argv;  // S_JOB_ARGV: what slurmstepd will exec in the container
  pid_t slurmstepd = 0;           // the task's parent: the container goes with it
  // Random, made in slurmstepd before the tasks fork (so theirs alone): part of the
  // join name, which another user could otherwise bind first to split the step.
  std::string secret;
};

// hpai-run's options for REQUEST (relative paths are the task's working directory's).
// Throws Error naming the option.
RunOptions run_options_for(const ContainerRequest& request, const SiteSettings& site, const StepFacts& step);

// --container-mounts: SRC[:DST[:FLAGS]] entries separated by commas; FLAGS ro or rw
// (joined with '+', pyxis' way). A missing DST is made, as pyxis does.
std::vector<BindSpec> parse_container_mounts(const std::string& value);

// --container-image: the IMAGE argument hpai-run gets and whether it may be pulled.
// Paths ("/", "./", "../") are files or directories; enroot's REGISTRY#IMAGE is spelled
// REGISTRY/IMAGE; a USER@ prefix is refused (credentials come from hpai-image login).
struct ImageArgument {
  std::string image;
  bool path = false;
};
ImageArgument parse_container_image(const std::string& value);

}  // namespace hpai
