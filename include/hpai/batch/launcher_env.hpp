// What a batch launcher's ranks need beyond the host environment passing through:
// the PMIx rendezvous directories bound in, PMIx's old variable names mapped to the
// PMIX_MCA_* ones newer clients read, torch.distributed's variables, and a GPU
// selection per local rank.
#pragma once

#include <string>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/base/mount_spec.hpp"
#include "hpai/batch/ranks.hpp"

namespace hpai {

// Binds of the PMIx server's directories (PMIX_SERVER_TMPDIR, PMIX_SYSTEM_TMPDIR, Slurm's
// pmix.JOB.STEP spool directory) that exist on the host. Missing ones are noted, never fatal:
// a rank that can't reach its PMIx server fails in MPI_Init with PMIx's own message.
struct LauncherMounts {
  std::vector<Mount> mounts;
  std::vector<std::string> notes;  // what was bound, and what was not and why
};
LauncherMounts launcher_mounts(const Environment& host);

// PMIX_PTL_MODULE -> PMIX_MCA_ptl, PMIX_SECURITY_MODE -> PMIX_MCA_psec, PMIX_GDS_MODULE ->
// PMIX_MCA_gds, where the new name is not set already.
void map_pmix_names(Environment& env);

// MASTER_ADDR, MASTER_PORT (host values win), WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE,
// NODE_RANK. Throws Error when no launcher tells the rank, or a multi-node job gives no
// way to find the master's address.
void set_torch_env(Environment& env, const RankInfo& rank, const Environment& host);

// The host's GPU ids this job may use: CUDA_VISIBLE_DEVICES, else a list in
// NVIDIA_VISIBLE_DEVICES, else 0..N-1 for the /dev/nvidiaN files in DEV_DIR.
std::vector<std::string> host_gpu_list(const Environment& env, const std::string& dev_dir = "/dev");
// LOCAL_RANK's share of GPUS among LOCAL_SIZE ranks: an equal block each when there are
// enough (8 GPUs, 4 ranks: 2 each), else GPUs shared round-robin.
std::vector<std::string> select_gpus(const std::vector<std::string>& gpus, int local_rank, int local_size);
// CUDA_VISIBLE_DEVICES for this rank; throws Error naming what is missing.
void set_gpu_per_rank(Environment& env, const RankInfo& rank, const std::string& dev_dir = "/dev");

}  // namespace hpai
