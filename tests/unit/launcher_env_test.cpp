#include "hpai/batch/launcher_env.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

Environment env_of(std::initializer_list<std::string> entries) { return Environment::from_entries(entries); }

RankInfo slurm_rank(int rank, int local) {
  return detect_ranks(env_of({"SLURM_JOB_ID=42", "SLURM_STEP_ID=0", "SLURM_PROCID=" + std::to_string(rank),
                              "SLURM_LOCALID=" + std::to_string(local), "SLURM_NODEID=" + std::to_string(rank / 4),
                              "SLURM_STEP_NUM_TASKS=8", "SLURM_STEP_TASKS_PER_NODE=4(x2)"}));
}

TEST(PmixNames, MapsOldNamesWithoutOverriding) {
  Environment env = env_of({"PMIX_PTL_MODULE=tcp,usock", "PMIX_SECURITY_MODE=munge,native", "PMIX_GDS_MODULE=ds21,hash",
                            "PMIX_MCA_gds=hash"});
  map_pmix_names(env);
  EXPECT_EQ(env.get("PMIX_MCA_ptl"), "tcp,usock");
  EXPECT_EQ(env.get("PMIX_MCA_psec"), "munge,native");
  EXPECT_EQ(env.get("PMIX_MCA_gds"), "hash");  // already set: kept
  Environment none = env_of({"PATH=/bin"});
  map_pmix_names(none);
  EXPECT_EQ(none.entries().size(), 1u);
}

TEST(TorchEnv, FromSlurm) {
  Environment host = env_of({"SLURM_JOB_NODELIST=node[07-08]"});
  Environment env;
  set_torch_env(env, slurm_rank(5, 1), host);
  EXPECT_EQ(env.get("RANK"), "5");
  EXPECT_EQ(env.get("WORLD_SIZE"), "8");
  EXPECT_EQ(env.get("LOCAL_RANK"), "1");
  EXPECT_EQ(env.get("LOCAL_WORLD_SIZE"), "4");
  EXPECT_EQ(env.get("NODE_RANK"), "1");
  EXPECT_EQ(env.get("MASTER_ADDR"), "node07");
  // Every rank of the job computes the same port; another job most likely another.
  Environment other;
  set_torch_env(other, slurm_rank(0, 0), host);
  EXPECT_EQ(env.get("MASTER_PORT"), other.get("MASTER_PORT"));
  int port = std::stoi(*env.get("MASTER_PORT"));
  EXPECT_GE(port, 20000);
  EXPECT_LT(port, 40000);
}

TEST(TorchEnv, HostValuesWin) {
  Environment env;
  set_torch_env(env, slurm_rank(1, 1), env_of({"MASTER_ADDR=10.0.0.1", "MASTER_PORT=1234", "SLURM_JOB_NODELIST=n1"}));
  EXPECT_EQ(env.get("MASTER_ADDR"), "10.0.0.1");
  EXPECT_EQ(env.get("MASTER_PORT"), "1234");
}

TEST(TorchEnv, OpenMpiOneNodeAndManyNodes) {
  auto ompi = [](int size, int local_size) {
    return detect_ranks(
        env_of({"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=" + std::to_string(size),
                "OMPI_COMM_WORLD_LOCAL_RANK=0", "OMPI_COMM_WORLD_LOCAL_SIZE=" + std::to_string(local_size)}));
  };
  Environment env;
  set_torch_env(env, ompi(4, 4), Environment());
  EXPECT_EQ(env.get("MASTER_ADDR"), "127.0.0.1");
  EXPECT_EQ(env.get("MASTER_PORT"), "29500");  // no job id: torch's default
  try {
    set_torch_env(env, ompi(8, 4), Environment());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("export MASTER_ADDR"), std::string::npos) << e.what();
  }
}

TEST(TorchEnv, LsfMasterIsTheFirstComputeHost) {
  RankInfo r = detect_ranks(env_of({"JSM_NAMESPACE_RANK=0", "JSM_NAMESPACE_SIZE=12", "JSM_NAMESPACE_LOCAL_RANK=0",
                                    "JSM_NAMESPACE_LOCAL_SIZE=6", "LSB_JOBID=1"}));
  Environment env;
  set_torch_env(env, r, env_of({"LSB_MCPU_HOSTS=batch3 1 a01n01 42 a01n02 42"}));
  EXPECT_EQ(env.get("MASTER_ADDR"), "a01n01");
}

TEST(TorchEnv, NoLauncherIsAnError) {
  Environment env;
  EXPECT_THROW(set_torch_env(env, RankInfo{}, Environment()), Error);
}

TEST(GpuPerRank, Selection) {
  std::vector<std::string> eight = {"0", "1", "2", "3", "4", "5", "6", "7"};
  EXPECT_EQ(select_gpus(eight, 0, 4), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(select_gpus(eight, 3, 4), (std::vector<std::string>{"6", "7"}));
  EXPECT_EQ(select_gpus({"2", "5", "6", "7"}, 1, 4),
            (std::vector<std::string>{"5"}));  // renumbered from the host's list
  EXPECT_EQ(select_gpus({"0", "1", "2"}, 1, 2), (std::vector<std::string>{"1"}));
  std::vector<std::string> shared;
  for (int r = 0; r < 4; ++r) shared.push_back(select_gpus({"0", "1"}, r, 4).at(0));
  EXPECT_EQ(shared, (std::vector<std::string>{"0", "0", "1", "1"}));
  EXPECT_TRUE(select_gpus({}, 0, 1).empty());
}

TEST(GpuPerRank, HostListFromEnvironmentOrDevices) {
  test::TempDir dev;
  for (const char* n : {"nvidia0", "nvidia1", "nvidia10", "nvidiactl", "nvidia-uvm", "nvidia-caps"})
    std::ofstream(dev.path() + "/" + n) << "";
  EXPECT_EQ(host_gpu_list(Environment(), dev.path()), (std::vector<std::string>{"0", "1", "10"}));
  EXPECT_EQ(host_gpu_list(env_of({"CUDA_VISIBLE_DEVICES=GPU-a1,GPU-b2"}), dev.path()),
            (std::vector<std::string>{"GPU-a1", "GPU-b2"}));
  EXPECT_EQ(host_gpu_list(env_of({"NVIDIA_VISIBLE_DEVICES=3,4"}), dev.path()), (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(host_gpu_list(env_of({"NVIDIA_VISIBLE_DEVICES=all"}), dev.path()).size(), 3u);

  Environment env = env_of({"CUDA_VISIBLE_DEVICES=2,5,6,7"});
  set_gpu_per_rank(env, slurm_rank(6, 2), dev.path());
  EXPECT_EQ(env.get("CUDA_VISIBLE_DEVICES"), "6");
  Environment none;
  test::TempDir empty;
  EXPECT_THROW(set_gpu_per_rank(none, slurm_rank(0, 0), empty.path()), Error);
  EXPECT_THROW(set_gpu_per_rank(env, RankInfo{}, dev.path()), Error);
}

TEST(LauncherMounts, PmixDirectories) {
  test::TempDir server;
  auto mounts =
      launcher_mounts(env_of({"PMIX_SERVER_TMPDIR=" + server.path() + "/", "PMIX_SYSTEM_TMPDIR=/tmp"})).mounts;
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].source, server.path());
  EXPECT_EQ(mounts[0].target, server.path());
  EXPECT_FALSE(mounts[0].read_only);
  EXPECT_TRUE(mounts[0].create);
  EXPECT_EQ(mounts[0].origin, "$PMIX_SERVER_TMPDIR");

  auto [none, notes] = launcher_mounts(env_of({"PMIX_SERVER_TMPDIR=/no/such/dir"}));
  EXPECT_TRUE(none.empty());  // never fatal
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace hpai
