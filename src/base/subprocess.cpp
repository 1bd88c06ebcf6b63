#include "hpai/base/subprocess.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"

extern char** environ;

namespace hpai {

int exit_status_from_wait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err != 0)
    throw Error("can't run " + argv[0] + ": " + std::strerror(err) + (err == ENOENT ? " (is it installed?)" : ""));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_errno("waitpid for " + argv[0]);
  return exit_status_from_wait(status);
}

}  // namespace hpai
