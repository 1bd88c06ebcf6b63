// spank_hpai.so: hpai as a Slurm SPANK plugin. `srun --container-image=IMG CMD` runs
// each task in one container per node and step (pyxis' option names, so job scripts
// port). The plugin is loaded into srun, sbatch, salloc, slurmd and slurmstepd, so it
// is thin: it registers the options, and in each task (slurmstepd's fork, right
// before the exec) starts hpai-slurm-task, which builds or joins the container
// (src/slurm/slurm_task.cpp); the task then enters it, takes the environment the
// container gives it and returns, and slurmstepd execs the command inside.
// docs/slurm-plugin.md says how a site installs it and what each option does.
#include <dlfcn.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/run/enter_namespaces.hpp"
#include "hpai/slurm/task_reply.hpp"

// spank.h declares the callbacks outside its own extern "C".
extern "C" {
#include <slurm/slurm.h>
#include <slurm/spank.h>
}

// What Slurm looks up in the plugin; nothing else is visible (spank_hpai.map).
#define HPAI_SPANK_EXPORT __attribute__((visibility("default")))
extern "C" {
HPAI_SPANK_EXPORT extern const char plugin_name[] = "hpai";
HPAI_SPANK_EXPORT extern const char plugin_type[] = "spank";
HPAI_SPANK_EXPORT extern const unsigned int plugin_version = SLURM_VERSION_NUMBER;
HPAI_SPANK_EXPORT extern const unsigned int spank_plugin_version = 1;
}

namespace {

constexpr int kExitSetup = 31;  // hpai-run's: the container could not be set up
constexpr int kExitExec = 49;   // hpai-run's: the command is not in the image

std::string slurm_version() {
  return std::to_string(SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER)) + "." +
         std::to_string(SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER));
}

// What plugstack.conf says (key=value arguments).
struct Site {
  std::string helper;  // "": the installed one, beside this plugin (installed_helper)
  std::string profile;
  std::string storage;
  bool sbatch = true;  // sbatch_support: #SBATCH --container-image runs the script in the container
  bool pull = true;
};
Site site;

// The job's options, as given: each option's callback stores its value here (in
// slurmstepd they arrive before task_init, and the forked tasks inherit them).
enum Option {
  kImage,
  kMounts,
  kWorkdir,
  kEnv,
  kProfile,
  kWritable,
  kReadonly,
  kMountHome,
  kNoMountHome,
  kRemapRoot,
  kNoRemapRoot,
  kEntrypoint,
  kNoEntrypoint,
  kName,
  kCount
};
// The "no-" options: hpai's defaults, never passed on; given with their twin, an error.
int twin_of(int val) {
  switch (val) {
    case kNoMountHome: return kMountHome;
    case kNoRemapRoot: return kRemapRoot;
    case kNoEntrypoint: return kEntrypoint;
    default: return -1;
  }
}
struct Value {
  bool set = false;
  std::string text;
};
Value values[kCount];

// Made in slurmstepd before it forks the tasks, so all of them and nobody else know it
// (StepFacts::secret); handed to the helper in its environment, never on a command line.
std::string join_secret;

void make_join_secret() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return;  // then: the plain name
  static const char hex[] = "0123456789abcdef";
  join_secret.clear();
  for (unsigned char b : bytes) {
    join_secret += hex[b >> 4];
    join_secret += hex[b & 15];
  }
}

int store(int val, const char* optarg, int) {
  if (val < 0 || val >= kCount) return -1;
  values[val].set = true;
  values[val].text = optarg ? optarg : "";
  return 0;
}

char* s(const char* text) { return const_cast<char*>(text); }  // spank.h's fields aren't const

spank_option options[] = {
    {s("container-image"), s("IMAGE"),
     s("[hpai] run each task in IMAGE (a stored name, a directory, a SquashFS file or a registry reference), one "
       "container per node"),
     1, kImage, store},
    {s("container-mounts"), s("SRC[:DST[:ro]],..."), s("[hpai] bind host paths into the container"), 1, kMounts, store},
    {s("container-workdir"), s("DIR"), s("[hpai] working directory in the container"), 1, kWorkdir, store},
    {s("container-env"), s("NAME,..."), s("[hpai] these variables keep the host's value over the image's"), 1, kEnv,
     store},
    {s("container-profile"), s("PROFILE"), s("[hpai] site profile to apply (a name, a file, or none)"), 1, kProfile,
     store},
    {s("container-writable"), nullptr, s("[hpai] a writable container (a tmpfs overlay, gone with the step)"), 0,
     kWritable, store},
    {s("container-readonly"), nullptr, s("[hpai] a read-only container (the default)"), 0, kReadonly, store},
    {s("container-mount-home"), nullptr, s("[hpai] bind your home directory at /home/$USER"), 0, kMountHome, store},
    {s("no-container-mount-home"), nullptr, s("[hpai] don't bind your home directory (the default)"), 0, kNoMountHome,
     store},
    {s("container-remap-root"), nullptr, s("[hpai] be root (uid 0) inside the container, through the user namespace"),
     0, kRemapRoot, store},
    {s("no-container-remap-root"), nullptr, s("[hpai] keep your own uid inside (the default)"), 0, kNoRemapRoot, store},
    {s("container-entrypoint"), nullptr, s("[hpai] run the image's entrypoint (not on this Slurm: see docs)"), 0,
     kEntrypoint, store},
    {s("no-container-entrypoint"), nullptr, s("[hpai] don't run the image's entrypoint (the default)"), 0,
     kNoEntrypoint, store},
    {s("container-name"), s("NAME"), s("[hpai] reuse a container between steps (not supported yet: see docs)"), 1,
     kName, store},
};

bool parse_bool(const std::string& v, bool& out) {
  if (v == "1" || v == "true" || v == "yes") return out = true, true;
  if (v == "0" || v == "false" || v == "no") return out = false, true;
  return false;
}

int parse_site(int ac, char** av) {
  for (int i = 0; i < ac; ++i) {
    const std::string a = av[i];
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
    bool ok = eq != std::string::npos;
    if (ok && key == "helper") {
      site.helper = v;
      if (!v.starts_with('/')) {  // a relative one would be looked up in each job's directory
        slurm_error("hpai: plugstack.conf: helper=%s must be an absolute path", v.c_str());
        return -1;
      }
    } else if (ok && key == "profile")
      site.profile = v;
    else if (ok && key == "storage")
      site.storage = v;
    else if (ok && key == "sbatch_support")
      ok = parse_bool(v, site.sbatch);
    else if (ok && key == "pull")
      ok = parse_bool(v, site.pull);
    else if (ok && key == "execute_entrypoint") {
      bool want = false;
      ok = parse_bool(v, want);
      if (ok && want) {
        slurm_error(
            "hpai: plugstack.conf: execute_entrypoint=true can't be done on Slurm %s (no SPANK call changes "
            "a task's command before 23.11)",
            slurm_version().c_str());
        return -1;
      }
    } else {
      slurm_error(
          "hpai: plugstack.conf: unknown argument \"%s\" (known: helper=PATH profile=P storage=DIR "
          "sbatch_support=BOOL pull=BOOL execute_entrypoint=false)",
          av[i]);
      return -1;
    }
    if (!ok) {
      slurm_error("hpai: plugstack.conf: bad value in \"%s\" (a boolean is true or false)", av[i]);
      return -1;
    }
  }
  return 0;
}

// Options this plugin refuses, or "" (checked in srun and sbatch, and again in the
// task: an option can also come in through the environment).
std::string refused_options() {
  if (values[kEntrypoint].set)
    return "--container-entrypoint: Slurm " + slurm_version() +
           " can't change a task's command (SPANK can from 23.11); name the entrypoint in the command instead";
  if (values[kName].set) return "--container-name is not supported yet: each step gets a container of its own";
  if (values[kWritable].set && values[kReadonly].set)
    return "--container-writable and --container-readonly can't be combined";
  for (const auto& o : options)
    if (twin_of(o.val) >= 0 && values[o.val].set && values[twin_of(o.val)].set)
      return std::string("--") + (o.name + 3) + " and --" + o.name + " can't be combined";
  if (!values[kImage].set)
    for (const auto& o : options)
      if (values[o.val].set && twin_of(o.val) < 0) return std::string("--") + o.name + " needs --container-image";
  return "";
}

// hpai-slurm-task where `cmake --install` put it, relative to this plugin's own file.
std::string installed_helper() {
  Dl_info self{};
  if (dladdr(reinterpret_cast<const void*>(&plugin_name), &self) == 0 || !self.dli_fname) return "";
  std::string dir = self.dli_fname;
  dir = dir.substr(0, dir.rfind('/') + 1);
  return dir + HPAI_SLURM_TASK_HELPER;
}

// What hpai-run prints, on the task's stderr (srun's), before the task exits with CODE.
[[noreturn]] void fail(const std::string& message, int code) {
  std::fprintf(stderr, "hpai[%d]: error: %s\n", static_cast<int>(getpid()), message.c_str());
  std::fflush(stderr);
  _exit(code);
}

// The job's options, as hpai-slurm-task's flags.
std::vector<std::string> option_flags() {
  std::vector<std::string> flags;
  for (const auto& o : options) {
    const Value& v = values[o.val];
    if (!v.set || twin_of(o.val) >= 0) continue;
    flags.push_back(std::string("--") + o.name + (o.has_arg ? "=" + v.text : ""));
  }
  return flags;
}

std::string item_error(const char* what, spank_err_t rc) {
  return std::string("can't read ") + what + " from Slurm: " + spank_strerror(rc);
}

// Starts hpai-slurm-task with the job's environment and waits for the container it
// hands over. Its errors went to stderr already: the task exits with its status.
hpai::TaskReply start_helper(char** env, const std::vector<std::string>& args) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    fail(std::string("can't create a socket pair: ") + std::strerror(errno), kExitSetup);
  hpai::UniqueFd ours(pair[0]), theirs(pair[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = env; e && *e; ++e)
    if (std::strncmp(*e, "HPAI_SLURM_JOIN_SECRET=", 23) != 0) envp.push_back(*e);
  const std::string secret = "HPAI_SLURM_JOIN_SECRET=" + join_secret;
  if (!join_secret.empty()) envp.push_back(const_cast<char*>(secret.c_str()));
  envp.push_back(nullptr);
  // posix_spawn (vfork-like): no copy of slurmstepd's page tables per task. Nothing of
  // slurmstepd's but the task's stdio and the socket (as fd 3) reaches the helper.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  pid_t child = 0;
  const int err = posix_spawn(&child, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) fail("can't run " + args[0] + " (plugstack.conf's helper=): " + std::strerror(err), kExitSetup);
  theirs.reset();
  hpai::TaskReply reply;
  std::string problem;
  try {
    reply = hpai::receive_task_reply(ours.get());
  } catch (const hpai::Error& e) {
    problem = e.what();
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    fail(args[0] + " was killed by signal " + std::to_string(WTERMSIG(status)), 128 + WTERMSIG(status));
  if (WEXITSTATUS(status) != 0) _exit(WEXITSTATUS(status));  // it said why
  if (!problem.empty()) fail(problem, kExitSetup);
  return reply;
}

// The task's environment becomes the container's (slurmstepd execs with job->env).
void apply_environment(spank_t sp, const std::vector<std::string>& wanted) {
  std::set<std::string> keep;
  for (const auto& e : wanted) keep.insert(e.substr(0, e.find('=')));
  char** env = nullptr;
  if (spank_get_item(sp, S_JOB_ENV, &env) != ESPANK_SUCCESS || !env)
    fail("can't read the task's environment", kExitSetup);
  std::vector<std::string> drop;
  for (char** e = env; *e; ++e) {
    std::string name(*e, std::strcspn(*e, "="));
    if (!keep.count(name)) drop.push_back(name);
  }
  for (const auto& name : drop)
    if (spank_unsetenv(sp, name.c_str()) != ESPANK_SUCCESS) fail("can't unset " + name + " for the task", kExitSetup);
  for (const auto& e : wanted) {
    const auto eq = e.find('=');
    if (spank_setenv(sp, e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1) != ESPANK_SUCCESS)
      fail("can't set " + e.substr(0, eq) + " for the task", kExitSetup);
  }
}

// slurmstepd looks COMMAND up in the PATH it execs with, by stat() (as here), then execs:
// a command the image lacks gets hpai-run's message and status rather than execve's errno.
void check_command(const std::string& command, const std::vector<std::string>& env) {
  struct stat st {};
  if (command.find('/') != std::string::npos) {
    if (stat(command.c_str(), &st) != 0) fail("can't run " + command + ": command not found in the image", kExitExec);
    return;
  }
  std::string path;
  for (const auto& e : env)
    if (e.starts_with("PATH=")) path = e.substr(5);
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find(':', start), path.size());
    const std::string dir = path.substr(start, end - start);
    if (!dir.empty() && stat((dir + "/" + command).c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return;
    start = end + 1;
  }
  fail("can't run " + command + ": command not found in the image (searched PATH=" + path + ")", kExitExec);
}

void task_init(spank_t sp) {
  if (const std::string problem = refused_options(); !problem.empty()) fail(problem, 64);
  uint32_t job = 0, step = 0, local = 0;
  spank_err_t rc;
  if ((rc = spank_get_item(sp, S_JOB_ID, &job)) != ESPANK_SUCCESS) fail(item_error("the job id", rc), kExitSetup);
  if ((rc = spank_get_item(sp, S_JOB_STEPID, &step)) != ESPANK_SUCCESS) fail(item_error("the step id", rc), kExitSetup);
  if ((rc = spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &local)) != ESPANK_SUCCESS)
    fail(item_error("the local task count", rc), kExitSetup);
  int argc = 0;
  char** argv = nullptr;
  if ((rc = spank_get_item(sp, S_JOB_ARGV, &argc, &argv)) != ESPANK_SUCCESS || argc < 1)
    fail(item_error("the task's command", rc), kExitSetup);
  char** env = nullptr;
  if ((rc = spank_get_item(sp, S_JOB_ENV, &env)) != ESPANK_SUCCESS) fail(item_error("the environment", rc), kExitSetup);
  const bool batch = step == SLURM_BATCH_SCRIPT;
  const pid_t slurmstepd = getppid();

  std::vector<std::string> args = {site.helper.empty() ? installed_helper() : site.helper,
                                   "--reply-fd=3",
                                   "--job=" + std::to_string(job),
                                   "--step=" + (batch ? std::string("batch") : std::to_string(step)),
                                   "--local-tasks=" + std::to_string(local),
                                   "--slurmstepd=" + std::to_string(slurmstepd)};
  if (batch) args.push_back(std::string("--batch-script=") + argv[0]);
  if (!site.profile.empty()) args.push_back("--site-profile=" + site.profile);
  if (!site.storage.empty()) args.push_back("--site-storage=" + site.storage);
  if (!site.pull) args.push_back("--no-pull");
  for (auto& f : option_flags()) args.push_back(std::move(f));
  args.push_back("--");
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);

  hpai::TaskReply reply = start_helper(env, args);
  try {
    hpai::enter_namespaces(reply.userns.get(), reply.mntns.get(), reply.root.get(), reply.keeper);
  } catch (const hpai::Error& e) {
    fail(e.what(), kExitSetup);
  }
  if (chdir(reply.cwd.c_str()) != 0)
    fail("can't cd to " + reply.cwd +
             " in the image (from --container-workdir or the image's WorkingDir): " + std::strerror(errno),
         kExitSetup);
  apply_environment(sp, reply.env);
  // srun --multi-prog: argv is the configuration's name and text, each task's command
  // is slurmstepd's to find in it.
  const bool multi_prog = argc == 2 && std::strchr(argv[1], '\n');
  if (!multi_prog) check_command(argv[0], reply.env);
  // As hpai-run before its exec: nothing in the image gains privilege, and the task
  // goes when slurmstepd goes.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("can't set no_new_privs", kExitSetup);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("can't set the parent-death signal", kExitSetup);
  if (getppid() != slurmstepd) _exit(128 + SIGKILL);
}

}  // namespace

extern "C" {

HPAI_SPANK_EXPORT int slurm_spank_init(spank_t sp, int ac, char** av) {
  if (parse_site(ac, av) != 0) return -1;
  const spank_context_t ctx = spank_context();
  if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR) return 0;
  if (ctx == S_CTX_REMOTE) make_join_secret();
  if (ctx == S_CTX_ALLOCATOR && !site.sbatch) return 0;  // #SBATCH --container-image: an unknown option
  for (auto& o : options)
    if (spank_option_register(sp, &o) != ESPANK_SUCCESS) {
      slurm_error("hpai: can't register --%s", o.name);
      return -1;
    }
  return 0;
}

// In srun, sbatch and salloc: a bad combination fails before the job is queued.
HPAI_SPANK_EXPORT int slurm_spank_init_post_opt(spank_t sp, int, char**) {
  if (spank_remote(sp) == 1) return 0;
  const std::string problem = refused_options();
  if (problem.empty()) return 0;
  slurm_error("hpai: %s", problem.c_str());
  return -1;
}

HPAI_SPANK_EXPORT int slurm_spank_task_init(spank_t sp, int, char**) {
  if (spank_remote(sp) != 1 || !values[kImage].set) return 0;
  uint32_t step = 0;
  if (spank_get_item(sp, S_JOB_STEPID, &step) == ESPANK_SUCCESS && step == SLURM_BATCH_SCRIPT && !site.sbatch) return 0;
  try {
    task_init(sp);
  } catch (const std::exception& e) {
    fail(e.what(), kExitSetup);
  }
  return 0;
}

}  // extern "C"
