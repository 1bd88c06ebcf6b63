// Errors carry a message a user can act on, and the exit code hpai-run returns for them.
#pragma once

#include <stdexcept>
#include <string>

namespace hpai {

// Exit codes of the launcher itself. Anything else is the payload's own status
// (128+N when the payload died of signal N). 31 and 49 match current Charliecloud's
// ch-run (since 0.39; 0.31 exits 1 for every error), so scripts that test for them work.
enum ExitCode : int {
  kExitUsage = 64,              // bad command line (EX_USAGE)
  kExitLaunch = 31,             // the container could not be set up
  kExitExec = 49,               // the command could not be executed in the image (not found, not executable)
  kExitLauncherGone = 128 + 9,  // a rank's launcher died before the payload ran: as if SIGKILLed with the job
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = kExitLaunch)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Throws Error("WHAT: strerror(errno)").
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int err);

// Checks a syscall-style result (-1 and errno on failure).
inline long check(long rc, const std::string& what) {
  if (rc == -1) throw_errno(what);
  return rc;
}

}  // namespace hpai
