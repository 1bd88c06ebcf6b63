// Running a helper program (mksquashfs, squashfuse) and waiting for it.
#pragma once

#include <string>
#include <vector>

namespace hpai {

// Runs ARGV (PATH searched) with stdout/stderr inherited; returns its exit status, or
// 128+N if killed by signal N. Throws Error when it can't be started.
int run_program(const std::vector<std::string>& argv);

// The exit status a shell would report for a wait() status.
int exit_status_from_wait(int status);

}  // namespace hpai
