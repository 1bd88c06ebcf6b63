#include "hpai/batch/ranks.hpp"

#include <gtest/gtest.h>

#include "hpai/base/error.hpp"

namespace hpai {
namespace {

Environment env_of(std::initializer_list<std::string> entries) { return Environment::from_entries(entries); }

void expect_error(const Environment& env, const std::string& text) {
  try {
    detect_ranks(env);
    ADD_FAILURE() << "no error; wanted: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Ranks, NoLauncher) {
  RankInfo r = detect_ranks(env_of({"PATH=/bin", "HOME=/root"}));
  EXPECT_EQ(r.launcher, Launcher::None);
  EXPECT_FALSE(r.rank);
  EXPECT_FALSE(r.local_size);
}

// As Open MPI 4.1 mpiexec -n 2 sets them (copied from a real run).
TEST(Ranks, OpenMpi) {
  RankInfo r = detect_ranks(env_of({"OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=1",
                                    "OMPI_COMM_WORLD_LOCAL_SIZE=2", "OMPI_MCA_ess_base_jobid=1158414337",
                                    "PMIX_NAMESPACE=1158414337", "PMIX_RANK=1"}));
  EXPECT_EQ(r.launcher, Launcher::OpenMpi);
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.size, 2);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_size, 2);
  EXPECT_EQ(r.job, "ompi-1158414337");
  EXPECT_EQ(r.local_size_from, "OMPI_COMM_WORLD_LOCAL_SIZE");
}

TEST(Ranks, OpenMpiInsideASlurmAllocationIsOpenMpi) {
  RankInfo r =
      detect_ranks(env_of({"SLURM_JOB_ID=7", "SLURM_STEP_ID=0", "SLURM_PROCID=0", "SLURM_STEP_TASKS_PER_NODE=1",
                           "OMPI_COMM_WORLD_RANK=5", "OMPI_COMM_WORLD_SIZE=8", "OMPI_COMM_WORLD_LOCAL_RANK=1",
                           "OMPI_COMM_WORLD_LOCAL_SIZE=4", "OMPI_MCA_ess_base_jobid=99"}));
  EXPECT_EQ(r.launcher, Launcher::OpenMpi);
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.local_size, 4);
  EXPECT_EQ(r.job, "ompi-99");
}

TEST(Ranks, Hydra) {
  RankInfo r = detect_ranks(env_of({"PMI_RANK=3", "PMI_SIZE=4", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", "PMI_FD=6"}));
  EXPECT_EQ(r.launcher, Launcher::Hydra);
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.size, 4);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_size, 2);
  EXPECT_EQ(r.job, "");  // Hydra exports none: the join tag falls back to the parent pid
  RankInfo s = detect_ranks(env_of({"PMI_RANK=0", "PMI_SIZE=2", "MPI_LOCALRANKID=0", "MPI_LOCALNRANKS=1",
                                    "SLURM_JOB_ID=12", "SLURM_STEP_ID=3", "SLURM_PROCID=0"}));
  EXPECT_EQ(s.launcher, Launcher::Hydra);
  EXPECT_EQ(s.job, "hydra-slurm-12.3");
}

// As Slurm 22.05 srun -n 4 sets them (copied from a real run), then the "2(x3)" form.
TEST(Ranks, Slurm) {
  RankInfo r = detect_ranks(
      env_of({"SLURM_JOB_ID=1", "SLURM_LOCALID=2", "SLURM_NODEID=0", "SLURM_PROCID=2", "SLURM_STEPID=0",
              "SLURM_STEP_ID=0", "SLURM_STEP_NUM_TASKS=4", "SLURM_STEP_TASKS_PER_NODE=4", "SLURM_TASKS_PER_NODE=4"}));
  EXPECT_EQ(r.launcher, Launcher::Slurm);
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.size, 4);
  EXPECT_EQ(r.local_rank, 2);
  EXPECT_EQ(r.local_size, 4);
  EXPECT_EQ(r.node, 0);
  EXPECT_EQ(r.job, "slurm-1.0");

  auto on_node = [](int node, int local) {
    return env_of({"SLURM_JOB_ID=9", "SLURM_STEP_ID=1", "SLURM_PROCID=" + std::to_string(node * 2 + local),
                   "SLURM_STEP_NUM_TASKS=7", "SLURM_LOCALID=" + std::to_string(local),
                   "SLURM_NODEID=" + std::to_string(node), "SLURM_STEP_TASKS_PER_NODE=2(x3),1"});
  };
  EXPECT_EQ(detect_ranks(on_node(2, 1)).local_size, 2);
  EXPECT_EQ(detect_ranks(on_node(3, 0)).local_size, 1);
  EXPECT_EQ(detect_ranks(on_node(2, 1)).local_size_from, "SLURM_STEP_TASKS_PER_NODE=2(x3),1");
  expect_error(on_node(4, 0), "SLURM_NODEID 4 but SLURM_STEP_TASKS_PER_NODE=2(x3),1 lists 4 node(s)");
}

TEST(Ranks, SlurmBatchScriptIsNoRank) {
  // sbatch's script has SLURM_PROCID=0 but no step: it is not one of srun's tasks.
  RankInfo r = detect_ranks(env_of({"SLURM_JOB_ID=3", "SLURM_PROCID=0", "SLURM_LOCALID=0", "SLURM_TASKS_PER_NODE=4"}));
  EXPECT_EQ(r.launcher, Launcher::None);
}

TEST(Ranks, LsfJsrun) {
  RankInfo r = detect_ranks(env_of({"JSM_NAMESPACE_RANK=7", "JSM_NAMESPACE_SIZE=12", "JSM_NAMESPACE_LOCAL_RANK=1",
                                    "JSM_NAMESPACE_LOCAL_SIZE=6", "LSB_JOBID=4711", "PMIX_NAMESPACE=4711.2",
                                    "LSB_MCPU_HOSTS=batch1 1 a01n01 42 a01n02 42"}));
  EXPECT_EQ(r.launcher, Launcher::Lsf);
  EXPECT_EQ(r.rank, 7);
  EXPECT_EQ(r.size, 12);
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_size, 6);
  EXPECT_EQ(r.job, "lsf-4711.4711.2");
}

TEST(Ranks, BarePmix) {
  RankInfo r = detect_ranks(env_of({"PMIX_RANK=3", "PMIX_NAMESPACE=prterun-x-1"}));
  EXPECT_EQ(r.launcher, Launcher::Pmix);
  EXPECT_EQ(r.rank, 3);
  EXPECT_FALSE(r.local_size);  // PMIx keeps it in its server; --join needs --join-ct
  EXPECT_EQ(r.job, "pmix-prterun-x-1");
}

TEST(Ranks, MalformedOrInconsistentIsAnError) {
  expect_error(env_of({"SLURM_PROCID=abc", "SLURM_STEP_ID=0"}), "SLURM_PROCID=abc is not a number");
  expect_error(env_of({"OMPI_COMM_WORLD_RANK=4", "OMPI_COMM_WORLD_SIZE=4"}), "rank 4 is not below its count 4");
  expect_error(env_of({"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=0",
                       "OMPI_COMM_WORLD_LOCAL_SIZE=3"}),
               "3 ranks on this node");
  expect_error(env_of({"SLURM_PROCID=0", "SLURM_STEP_ID=0", "SLURM_STEP_TASKS_PER_NODE=2(x"}),
               "SLURM_STEP_TASKS_PER_NODE: malformed task count");
}

TEST(SlurmCounts, Expands) {
  EXPECT_EQ(expand_slurm_counts("4"), (std::vector<int>{4}));
  EXPECT_EQ(expand_slurm_counts("2(x3)"), (std::vector<int>{2, 2, 2}));
  EXPECT_EQ(expand_slurm_counts("2(x3),1"), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(expand_slurm_counts("1,16(x2),3"), (std::vector<int>{1, 16, 16, 3}));
  for (const char* bad : {"", "2(x", "(x3)", "a", "2(y3)", "2(x0)", "2,,3", "-1"})
    EXPECT_THROW(expand_slurm_counts(bad), Error) << bad;
}

TEST(SlurmHostlist, Expands) {
  EXPECT_EQ(expand_slurm_hostlist("n[01-03,7],login1"),
            (std::vector<std::string>{"n01", "n02", "n03", "n7", "login1"}));
  EXPECT_EQ(expand_slurm_hostlist("localhost"), (std::vector<std::string>{"localhost"}));
  EXPECT_EQ(expand_slurm_hostlist("gpu[9-10]-ib,a"), (std::vector<std::string>{"gpu9-ib", "gpu10-ib", "a"}));
  EXPECT_EQ(expand_slurm_hostlist("i[098-100]"), (std::vector<std::string>{"i098", "i099", "i100"}));
  EXPECT_THROW(expand_slurm_hostlist("n[3-1]"), Error);
  EXPECT_THROW(expand_slurm_hostlist("n[1-2"), Error);
}

}  // namespace
}  // namespace hpai
