// hpai-run: parse the command line, then let the library plan and run the container.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "hpai/container.hpp"
#include "hpai/error.hpp"
#include "hpai/launch.hpp"
#include "hpai/log.hpp"
#include "hpai/nvidia.hpp"
#include "hpai/plan.hpp"
#include "hpai/profile.hpp"
#include "hpai/version.hpp"

namespace {

constexpr const char* kDescription = R"(hpai-run - run a command in an HPC container image, without privilege

Runs CMD inside the image directory IMAGE in new user and mount namespaces. No setuid
helper, no daemon: it is started once per rank by mpiexec, srun or jsrun, and it
replaces itself with CMD, so signals reach CMD and CMD's exit status is returned.
Flags follow Charliecloud's ch-run.)";

constexpr const char* kFooter = R"(
The image is read-only unless -w or -W is given. By default the container sees the
host's /dev, /proc, /sys, /etc/hosts, /etc/resolv.conf, /etc/machine-id, its $TMPDIR
(or /tmp) at /tmp, and generated /etc/passwd and /etc/group naming root, nobody and you.

ENVIRONMENT
  The host environment passes through. The image's ENV (IMAGE/.hpai/image.json, or
  Charliecloud's IMAGE/ch/environment) is applied on top, except for launcher and GPU
  variables the host set (SLURM_*, PMIX_*, OMPI_*, CUDA_VISIBLE_DEVICES, ...). Then
  TMPDIR is unset, HOME set, /bin appended to PATH, --set-env and --unset-env applied
  in command-line order, and HPAI_RUNNING=1 set.

EXIT STATUS
  CMD's own status; 128+N if CMD was killed by signal N (as shells report it).
  31  the container could not be set up (message says why)
  49  CMD could not be executed: not found in the image, or not executable
  64  bad command line

EXAMPLES
  hpai-run ./debian -- cat /etc/debian_version
  hpai-run -b /lrz/sys -w ./img -- python train.py
  srun -n 64 hpai-run -b /scratch:/data ./img -- ./simulate
  hpai-run --dry-run --json ./img -- true

See docs/hpai-run.md for the full manual.)";

// ch-run spells optional values only with '=' (--set-env, --write-fake[=SIZE]), so a
// bare flag must not swallow the image path that follows it.
std::vector<std::string> normalize_optional_values(int argc, char** argv) {
  std::vector<std::string> out;
  bool after_separator = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!after_separator && a == "--") after_separator = true;
    if (!after_separator && (a == "-W" || a == "--write-fake")) a = std::string("--write-fake=") + hpai::kDefaultOverlaySize;
    if (!after_separator && a == "--set-env") a = "--set-image-env";
    if (!after_separator && a == "--stats") a = "--stats=-";
    out.push_back(a);
  }
  std::reverse(out.begin(), out.end());  // CLI11 takes the arguments in reverse
  return out;
}

std::string describe_nvml(const hpai::NvmlInfo& i) {
  if (!i.ok) return "GPU: NVML: " + i.error;
  return "GPU: NVML: driver " + i.driver_version + ", CUDA " + std::to_string(i.cuda_version / 1000) + "." +
         std::to_string(i.cuda_version % 1000 / 10) + ", " + std::to_string(i.device_count) + " device(s)";
}

std::string describe_rank(const hpai::RankInfo& r) {
  auto num = [](const std::optional<int>& v) { return v ? std::to_string(*v) : std::string("?"); };
  return ": rank " + num(r.rank) + " of " + num(r.size) + ", local rank " + num(r.local_rank) + " of " + num(r.local_size) +
         (r.node ? ", node " + std::to_string(*r.node) : "") + (r.job.empty() ? "" : ", job " + r.job);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hpai;
  // Before anything else: a setuid launcher must not even parse its arguments.
  try {
    refuse_setuid();
  } catch (const Error& e) {
    std::fprintf(stderr, "hpai-run: error: %s\n", e.what());
    return e.exit_code();
  }

  CLI::App app{kDescription, "hpai-run"};
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("hpai-run ") + kVersion);
  app.get_formatter()->column_width(34);

  RunOptions o;
  std::vector<std::string> binds, set_envs, unset_envs;
  std::string cd, write_fake;
  uid_t uid = 0;
  gid_t gid = 0;
  int verbose = 0, quiet = 0;
  bool dry_run = false, json = false;

  app.add_option("IMAGE", o.image, "image directory, or the name of an imported image")->required();
  app.add_option("-s,--storage", o.storage, "image storage directory (default: $HPAI_STORAGE, else /var/tmp/$USER.hpai)")
      ->type_name("DIR");
  app.add_option("CMD", o.command, "command and arguments to run (after --); default: the image's Entrypoint+Cmd");
  app.add_option("-b,--bind", binds, "bind SRC (a host path) at DST in the container (default DST: SRC); repeatable")
      ->type_name("SRC[:DST]")->allow_extra_args(false);
  auto* cd_opt = app.add_option("-c,--cd", cd, "initial working directory in the container (default: the image's WorkingDir, else /)")
      ->type_name("DIR");
  app.add_flag("-w,--write", o.write, "mount the image read-write (default: read-only)");
  auto* wf_opt = app.add_option("-W,--write-fake", write_fake,
                    "writable tmpfs overlay over the image, discarded at exit; SIZE as for tmpfs (default 12%)")
      ->type_name("[=SIZE]");
  app.add_flag("-t,--private-tmp", o.private_tmp, "private tmpfs at /tmp instead of the host's $TMPDIR");
  app.add_flag("--home", o.home, "bind your host $HOME at /home/$USER and set HOME to it");
  app.add_flag("--no-passwd", o.no_passwd, "don't generate /etc/passwd and /etc/group");
  app.add_flag("--no-image-env", o.no_image_env, "don't apply the image's ENV and WorkingDir");
  auto* set_env = app.add_option("--set-env", set_envs,
                    "set variables: =FILE (host file of NAME=VALUE lines), =NAME=VALUE, or bare for the image's ENV")
      ->type_name("[=FILE|=VAR=VAL]")->allow_extra_args(false);
  bool image_env_seen = false;
  auto* image_env = app.add_flag("--set-image-env", image_env_seen, "bare --set-env: apply the image's ENV here")
      ->group("");  // hidden: users type a bare --set-env
  auto* unset_env = app.add_option("--unset-env", unset_envs, "unset variables whose names match GLOB")
      ->type_name("GLOB")->allow_extra_args(false);
  bool no_expand_seen = false;
  auto* no_expand = app.add_flag("--env-no-expand", no_expand_seen, "don't expand $VAR in --set-env values given after this flag");
  auto* uid_opt = app.add_option("-u,--uid", uid, "run as UID in the container (through the user namespace map)");
  auto* gid_opt = app.add_option("-g,--gid", gid, "run as GID in the container (through the user namespace map)");
  std::string profile;
  auto* profile_opt = app.add_option("--profile", profile,
                    "site profile: a name looked up in $HPAI_PROFILE_PATH, then " + system_profile_dir() +
                    ", or a path (default: the site's default.json there, if any)")
      ->type_name("NAME|FILE");
  app.add_flag("--no-profile", o.no_profile, "apply no site profile, not even the site default");
  bool gpu = false, no_gpu = false;
  app.add_flag("--gpu,--nv", gpu, "inject the host's NVIDIA driver (error if none is found)");
  app.add_flag("--no-gpu", no_gpu, "don't inject the NVIDIA driver, whatever the profile says");
  app.add_flag("--no-mpi", o.no_mpi, "don't replace the image's MPI with the profile's host MPI");
  JoinRequest jr;
  bool join = false, no_join = false;
  int join_ct = 0;
  std::string join_tag;
  pid_t join_pid = 0;
  app.add_flag("-j,--join", join, "share one container among this node's ranks (default: when a launcher says so)");
  auto* join_ct_opt = app.add_option("--join-ct", join_ct, "number of ranks on this node sharing the container (implies -j)")
      ->type_name("N");
  auto* join_tag_opt = app.add_option("--join-tag", join_tag, "ranks with the same TAG share (default: the job step's id; implies -j)")
      ->type_name("TAG");
  auto* join_pid_opt = app.add_option("--join-pid", join_pid, "enter the container of process PID instead of building one")
      ->type_name("PID");
  app.add_flag("--no-join", no_join, "never share: this rank builds its own container");
  bool torch_env = false, no_torch_env = false, gpu_per_rank = false;
  app.add_flag("--torch-env", torch_env, "set MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK from the launcher");
  app.add_flag("--no-torch-env", no_torch_env, "don't, even if the site profile does");
  app.add_flag("--gpu-per-rank", gpu_per_rank, "give each rank on a node its share of the host's GPUs (CUDA_VISIBLE_DEVICES)");
  std::string stats;
  auto* stats_opt = app.add_option("--stats", stats,
                    "report the payload's wall time, CPU, max RSS and exit status: a line on stderr, or JSON "
                    "to FILE (%r: rank, %h: host; merge per-rank files with hpai-stats)")
      ->type_name("[=FILE]");
  app.add_flag("--dry-run", dry_run, "print the plan (namespaces, mounts, environment) and exit");
  app.add_flag("--json", json, "with --dry-run, print the plan as JSON");
  app.add_flag("-v,--verbose", verbose, "more messages (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "fewer messages (-q: errors only, -qq: none)");

  try {
    std::vector<std::string> args = normalize_optional_values(argc, argv);
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  init_logging("hpai-run", verbose - quiet);

  return report_errors([&]() -> int {
    for (const auto& b : binds) o.binds.push_back(parse_bind_spec(b));
    if (*cd_opt) o.cd = cd;
    if (*profile_opt) o.profile = profile;
    if (gpu && no_gpu) throw Error("--gpu and --no-gpu can't be combined", kExitUsage);
    if (gpu || no_gpu) o.gpu = gpu;
    if (*wf_opt) o.write_fake = write_fake;
    if (*uid_opt) o.uid = uid;
    if (*gid_opt) o.gid = gid;
    if (join && no_join) throw Error("--join and --no-join can't be combined", kExitUsage);
    if (join) jr.join = true;
    if (no_join) jr.join = false;
    if (*join_ct_opt) jr.count = join_ct;
    if (*join_tag_opt) jr.tag = join_tag;
    if (*join_pid_opt) jr.pid = join_pid;
    if (torch_env && no_torch_env) throw Error("--torch-env and --no-torch-env can't be combined", kExitUsage);
    if (torch_env || no_torch_env) o.torch_env = torch_env;
    if (gpu_per_rank) o.gpu_per_rank = true;
    if (*stats_opt) o.stats = stats;
    // Rebuild the interleaved order of --set-env/--unset-env/--env-no-expand.
    std::size_t si = 0, ui = 0;
    bool expand = true;
    for (const CLI::Option* opt : app.parse_order()) {
      if (opt == no_expand) {
        expand = false;
      } else if (opt == image_env) {
        o.env_ops.push_back({EnvOp::Kind::ImageEnv, "", expand});
      } else if (opt == set_env) {
        const std::string& v = set_envs.at(si++);
        o.env_ops.push_back({v.find('=') != std::string::npos ? EnvOp::Kind::Assign : EnvOp::Kind::File, v, expand});
      } else if (opt == unset_env) {
        o.env_ops.push_back({EnvOp::Kind::Unset, unset_envs.at(ui++), expand});
      }
    }

    const HostContext host = HostContext::current();
    if (dry_run) {
      Plan plan = make_plan(o, host);
      if (plan.rank.launcher != Launcher::None)
        plan.notes.push_back("launcher: " + std::string(launcher_name(plan.rank.launcher)) + describe_rank(plan.rank));
      if (jr.pid)
        plan.notes.push_back("join: entering the container of process " + std::to_string(*jr.pid));
      else
        plan.notes.push_back(describe_join(join_settings(jr, host)));
      // Only a dry run asks NVML (in a child process): a launch needs just the file names.
      if (!plan.nvml.empty()) plan.notes.push_back(describe_nvml(query_nvml(plan.nvml)));
      std::fputs((json ? plan_to_json(plan) : plan_to_text(plan)).c_str(), stdout);
      return 0;
    }
    launch(o, jr, host);
  });
}
