// The launch plan: everything hpai-run will do, computed before any namespace exists
// from the command line and the host's facts. --dry-run prints it; container.cpp
// carries it out. Keeping the two apart makes every decision testable without root.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/mount_spec.hpp"
#include "hpai/batch/ranks.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/run/userns.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

// -b/--bind SRC[:DST]
struct BindSpec {
  std::string source;
  std::string target;
  bool read_only = false;
  bool create = false;  // a missing DST is made (in a skeleton layer if the image is read-only); -b never does
  std::string origin;   // what asked for it, for messages ("-b /data:/mnt")
};
BindSpec parse_bind_spec(std::string_view arg);

// The name of the network or parallel file system with statfs magic F_TYPE (NFS,
// Lustre, GPFS, BeeGFS, CephFS, ...), where a directory image doesn't scale.
std::optional<std::string> shared_file_system(unsigned long f_type);

// One --set-env / --unset-env, kept in command-line order (their order matters).
struct EnvOp {
  enum class Kind { ImageEnv, File, Assign, Unset, Host };  // Host: ARG's host value, byte for byte
  Kind kind = Kind::Assign;
  std::string arg;
  bool expand = true;  // false after --env-no-expand
};

struct RunOptions {
  std::string image;    // a directory, or the name of an image in storage
  std::string storage;  // -s: storage directory ("" = $HPAI_STORAGE or the default)
  std::vector<std::string> command;
  bool entrypoint_args =
      false;  // --entrypoint-args: COMMAND is arguments to the image's Entrypoint (docker run's rule)
  std::vector<BindSpec> binds;
  std::optional<std::string> cd;
  bool write = false;
  std::optional<std::string> write_fake;  // --write-fake[=SIZE]; "" means the default size
  bool private_tmp = false;
  bool home = false;
  bool no_passwd = false;
  bool no_image_env = false;
  bool pull = false;  // --pull: IMAGE is a registry reference to fetch when storage lacks it
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<EnvOp> env_ops;
  // Site profile: a name or path; nullopt uses the site default (if any) unless no_profile.
  std::optional<std::string> profile;
  bool no_profile = false;
  std::optional<bool> gpu;  // --gpu / --no-gpu
  bool no_mpi = false;
  bool no_cuda_compat = false;       // --no-cuda-compat
  std::optional<bool> torch_env;     // --torch-env / --no-torch-env (else the profile's switch)
  std::optional<bool> gpu_per_rank;  // --gpu-per-rank
  std::optional<std::string> stats;  // --stats[=FILE]: "-" for a line on stderr
};

// The host facts a plan depends on; tests make their own.
struct HostContext {
  uid_t uid = 0;
  gid_t gid = 0;
  Environment env;
  RankInfo rank;                 // from the launcher's variables in env
  pid_t parent = 0;              // the process that started hpai-run (the launcher's, for a rank)
  std::string dev_dir = "/dev";  // where /dev/nvidiaN are counted (tests use a fake one)
  static HostContext current();
};

inline constexpr const char* kDefaultOverlaySize = "12%";  // of RAM, as a tmpfs size

struct Plan {
  std::string image;      // absolute, symlink-free host path of the image directory or SquashFS file
  bool squashfs = false;  // IMAGE is a SquashFS file, mounted with squashfuse at run time
  // The SquashFS file, opened once: the plan reads it and squashfuse serves it through
  // this one open (a shared file system sees one open per node).
  std::shared_ptr<UniqueFd> squashfs_fd;
  ImageConfig config;
  RootMode root_mode = RootMode::ReadOnly;
  std::string overlay_size;
  IdMap ids;
  // Mount points a read-only image lacks, for mounts that must create them (a site
  // profile's binds, the injected-driver directory): a read-only overlay layer adds them.
  struct MountPoint {
    std::string path;  // symlink-free, inside the image
    bool file = false;
  };
  std::vector<MountPoint> skeleton;
  std::vector<Mount> mounts;  // in the order they are made, after the image root itself
  Environment env;            // the payload's complete environment
  Environment host_env;       // to show what changed
  std::string cwd;
  std::vector<std::string> argv;
  std::vector<std::string> profile_files;  // the site profile applied and those it extends
  std::vector<std::string> notes;          // what the profile decided (driver, MPI pairing, skipped binds)
  std::string nvml;                        // host libnvidia-ml when a driver is injected (--dry-run asks it)

  // The node's facts each rank finishes its own plan from (env, cwd, argv); ranks that
  // join a node's container get them from the first rank instead of reading the image
  // and the profile themselves.
  std::vector<EnvChange> profile_env;
  std::string user;          // the user's name in the generated /etc/passwd
  ProfileLauncher launcher;  // the profile's torch_env/gpu_per_rank switches
  RankInfo rank;
  pid_t launcher_pid = 0;     // a batch launcher's process that started this rank: the payload dies with it
  pid_t launcher_daemon = 0;  // the launcher's own process (launcher_process): the keeper goes with it
};

Plan make_plan(const RunOptions& options, const HostContext& host);

// The rank part of a plan: environment, working directory and command, from the node
// part above and this rank's own options and host environment.
void finish_plan(Plan& plan, const RunOptions& options, const HostContext& host);

}  // namespace hpai
