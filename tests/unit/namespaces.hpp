// Running a test's body in fresh user and mount namespaces, in a child process, so it
// can mount without privilege and nothing it mounts outlives it.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "hpai/run/mounts.hpp"
#include "hpai/run/userns.hpp"

namespace hpai::test {

// FN returns the child's exit status (0: passed); an exception gives 100.
template <typename Fn>
int in_namespaces(Fn fn) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    try {
      enter_user_namespace({getuid(), getuid(), getgid(), getgid()});
      make_mounts_private();
      _exit(fn());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      _exit(100);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace hpai::test
