// --stats: hpai-run stays as the payload's parent, forwards signals, and writes what the
// payload cost (batch/stats.hpp) when it ends.
#pragma once

#include <string>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/batch/ranks.hpp"
#include "hpai/batch/stats.hpp"

namespace hpai {

// Forks; the child execs ARGV (as exec_payload), the parent forwards SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT and SIGALRM to it, waits, writes the stats
// and ends as the payload did (its exit code, or the same signal).
[[noreturn]] void run_supervised(const std::vector<std::string>& argv, const Environment& env, const StatsSink& sink,
                                 const RankInfo& rank);

}  // namespace hpai
