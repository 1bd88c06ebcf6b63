#include "hpai/run/exec.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"

extern char** environ;

namespace hpai {

static_assert(kExitLauncherGone == 128 + SIGKILL, "a rank without its launcher exits as one killed with the job");

void die_with_launcher(pid_t launcher) {
  check(prctl(PR_SET_PDEATHSIG, SIGKILL), "can't set the parent-death signal");
  if (getppid() != launcher) _exit(kExitLauncherGone);  // it died before we asked: as if we had got the signal
}

void exec_payload(const std::vector<std::string>& argv, const Environment& env) {
  if (argv.empty()) throw Error("no command to run", kExitUsage);
  // No setuid binary in the image may gain privilege, whatever the mount flags say.
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "can't set no_new_privs");

  std::vector<std::string> env_strings = env.to_strings();
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  // execvp searches the PATH of the calling process, so the payload's environment
  // must be ours before the call.
  environ = envp.data();
  execvp(cargv[0], cargv.data());
  int err = errno;
  std::string where =
      argv[0].find('/') == std::string::npos ? " (searched PATH=" + env.get("PATH").value_or("") + ")" : "";
  if (err == ENOENT) throw Error("can't run " + argv[0] + ": command not found in the image" + where, kExitExec);
  if (err == EACCES)
    throw Error("can't run " + argv[0] + ": permission denied (not executable, or on a noexec mount)" + where,
                kExitExec);
  if (err == ENOEXEC)
    throw Error("can't run " + argv[0] + ": not an executable format for this machine (wrong CPU architecture?)",
                kExitExec);
  throw Error("can't run " + argv[0] + ": " + std::strerror(err), kExitExec);
}

}  // namespace hpai
