// Which batch launcher started this process, and this rank's place in the job: its
// rank and the job's size, its rank and the rank count on this node, the node's index,
// and an id all ranks of the job step share. Read from the variables each launcher
// sets (Open MPI, MPICH/Hydra, Slurm, LSF jsrun, bare PMIx; see docs/batch.md).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/environment.hpp"

namespace hpai {

enum class Launcher { None, OpenMpi, Hydra, Slurm, Lsf, Pmix };
std::string_view launcher_name(Launcher launcher);

struct RankInfo {
  Launcher launcher = Launcher::None;
  std::optional<int> rank;
  std::optional<int> size;
  std::optional<int> local_rank;
  std::optional<int> local_size;
  std::optional<int> node;      // index of this node in the job (Slurm, LSF)
  std::string job;              // shared by every rank of this job step ("slurm-123.0"); "" if unknown
  std::string local_size_from;  // the variable local_size came from, for messages
};

// Throws Error when a variable the launcher owns is malformed or inconsistent
// ("SLURM_PROCID=x is not a number"): a rank that guesses would join the wrong peers.
RankInfo detect_ranks(const Environment& env);

// The launcher's own process on this node (orted, prted, hydra_pmi_proxy, slurmstepd,
// LSF's res, ...): PARENT, or the nearest of its ancestors by that name when a rank
// was started through a wrapper (mpiexec -n 16 sh -c 'hpai-run ...'), whose shell
// ends with the rank and so says nothing of the job. PARENT when none is found.
pid_t launcher_process(pid_t parent);

// Whether a rank whose parent is PARENT was orphaned: its launcher exited before the
// rank got as far as asking (PARENT is init, and init is no launcher). Nothing then
// would end the rank's container with the job, so the rank must not start.
bool orphaned_rank(pid_t parent);

// Slurm's compressed per-node counts: "2(x3),1" -> {2, 2, 2, 1}.
std::vector<int> expand_slurm_counts(std::string_view text);

// Slurm host lists: "n[01-03,7],login1" -> {"n01", "n02", "n03", "n7", "login1"}.
std::vector<std::string> expand_slurm_hostlist(std::string_view text);

}  // namespace hpai
