// Replacing the launcher with the payload. hpai-run execs in place (no supervisor
// process), so signals from srun/mpiexec reach the payload directly and its exit
// status, or the signal that killed it, is what the launcher sees.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "hpai/base/environment.hpp"

namespace hpai {

// Sets PR_SET_NO_NEW_PRIVS, installs ENV, and execvp()s ARGV (PATH searched in ENV's
// PATH). Throws Error with exit code kExitExec when the command can't be executed.
[[noreturn]] void exec_payload(const std::vector<std::string>& argv, const Environment& env);

// This process gets SIGKILL when LAUNCHER, its parent (the mpiexec, orted, slurmstepd or
// Hydra proxy that started the rank), dies: a torn-down job leaves no rank behind,
// even one its launcher never signalled. Set last before exec: a change of
// credentials (entering a user namespace) clears it. Exits at once if LAUNCHER is
// gone already.
void die_with_launcher(pid_t launcher);

}  // namespace hpai
