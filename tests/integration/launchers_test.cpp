// Batch launchers end to end: the real hpai-run started per rank by Open MPI's mpiexec,
// MPICH's Hydra and a one-node Slurm (tests/slurm/slurm-cluster.sh), as the
// unprivileged test user and as root. LSF's jsrun can't be installed here: its ranks
// are played by processes given the variables jsrun sets.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

std::string examples(const std::string& path) { return std::string(HPAI_TEST_SOURCE_DIR) + "/examples/" + path; }

class Launchers : public ContainerTest {
 protected:
  std::vector<std::string> mpiexec(int n) {
    std::vector<std::string> argv = {"mpiexec", "--oversubscribe", "-n", std::to_string(n)};
    if (GetParam() == As::Root) argv.push_back("--allow-run-as-root");
    return argv;
  }
  Result run(std::vector<std::string> argv, std::vector<std::string> env = {}, int timeout = 120) {
    return run_as(who(), argv, env, scratch().path(), {}, timeout);
  }
  static std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  void SetUp() override {
    ContainerTest::SetUp();
    shm_before_ = shm_files();
  }
  void TearDown() override {
    // Joining never leaves a file behind, whether ranks ended well or not.
    EXPECT_EQ(shm_files(), shm_before_) << "files left in /dev/shm";
  }

 private:
  std::set<std::string> shm_before_;
};
INSTANTIATE_TEST_SUITE_P(, Launchers, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Launchers, MpiexecRanksShareOneContainerAndSingleCopyWorks) {
  Result r = run(cat(mpiexec(4), {hpai_run(), test_image("debian-mpi"), "--", "sh", "-c",
                                  std::string(kPrintNs) + "; exec mpi_hello_openmpi bw"}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok"), 4) << r;
  auto ns = namespaces(r.out);
  EXPECT_EQ(ns.size(), 1u) << r;  // all four ranks in one user namespace
  Result host = run({"readlink", "/proc/self/ns/user"});
  EXPECT_FALSE(ns.count(host.out.substr(0, host.out.size() - 1))) << r;
  // The ping-pong's large messages use Open MPI's CMA single copy, which fails
  // between sibling user namespaces (EPERM) and works inside a shared one.
  EXPECT_TRUE(contains(r.out, "pingpong: latency")) << r;
}

TEST_P(Launchers, MpiexecWithoutJoinGivesEachRankItsOwnContainer) {
  Result r = run(cat(mpiexec(4), {hpai_run(), "--no-join", test_image("debian-mpi"), "--", "sh", "-c",
                                  std::string(kPrintNs) + "; exec mpi_hello_openmpi"}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok"), 4) << r;
  EXPECT_EQ(namespaces(r.out).size(), 4u) << r;
}

TEST_P(Launchers, HydraRanksShareOneContainer) {
  if (access("/usr/bin/mpiexec.hydra", X_OK) != 0) GTEST_SKIP() << "MPICH's mpiexec.hydra is not installed";
  Result r = run({"mpiexec.hydra", "-n", "4", hpai_run(), test_image("debian-mpi"), "--", "sh", "-c",
                  std::string(kPrintNs) + "; exec mpi_hello_mpich"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok"), 4) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
}

TEST_P(Launchers, FirstRankExitingFirstStrandsNobody) {
  // Rank 0's payload is over before the others even start hpai-run.
  Result r = run(cat(mpiexec(4), {"sh", "-c",
                                  "[ $OMPI_COMM_WORLD_RANK = 0 ] || sleep 1; exec " + hpai_run() + " " +
                                      test_image("busybox") + " -- sh -c '" + kPrintNs + "'"}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "ns user:"), 4) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
}

// The same through a wrapper shell that does not exec (batch scripts do this): rank 0's
// shell ends with its payload, and the node's container must not end with it.
TEST_P(Launchers, FirstRanksWrapperEndingFirstStrandsNobody) {
  Result r = run(cat(mpiexec(4), {"sh", "-c",
                                  "[ $OMPI_COMM_WORLD_RANK = 0 ] || sleep 1; " + hpai_run() + " -v " +
                                      test_image("busybox") + " -- sh -c '" + kPrintNs + "'; echo rank-done"}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "rank-done"), 4) << r;
  EXPECT_EQ(count(r.err, "first rank on this node"), 1) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
}

TEST_P(Launchers, CountTooLowRefusesTheExtraRanks) {
  Result r = run(cat(mpiexec(4), {hpai_run(), "--join-ct=2", test_image("busybox"), "--", "sh", "-c",
                                  std::string("sleep 1; ") + kPrintNs}));
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "this rank is one too many. Is the count wrong?")) << r;
  EXPECT_TRUE(contains(r.err, "from --join-ct=2")) << r;
}

TEST_P(Launchers, CountTooHighWarnsAfterABoundedWait) {
  auto start = std::chrono::steady_clock::now();
  Result r = run(cat(mpiexec(4), {hpai_run(), "--join-ct=5", test_image("busybox"), "--", "sh", "-c", kPrintNs}),
                 {"HPAI_JOIN_TIMEOUT=2"});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  EXPECT_TRUE(contains(r.err, "only 4 of 5 ranks expected on this node (from --join-ct=5) joined within 2 s")) << r;
  EXPECT_LT(took, std::chrono::seconds(20));
}

TEST_P(Launchers, FirstRankKilledWhileBuildingIsReplaced) {
  // The first rank blocks reading its profile from a shared file system that hangs (a
  // FUSE mount whose server is stopped), and is killed there; the waiting ranks elect
  // another, which reads the profile once the file system answers again. (All inside
  // a user namespace of the test user's, where the FUSE mount needs no privilege.)
  const std::string d = scratch().path();
  const std::string launch = hpai_run() + " --join-ct=3 --join-tag=crash-$$ --profile " + d + "/mnt/p.json " +
                             test_image("busybox") + " -- sh -c '" + kPrintNs + "'";
  const std::string scenario = "squashfuse_ll -f " + d + "/p.sqfs " + d +
                               "/mnt & fuse=$!\n"
                               "for i in $(seq 100); do [ -e " +
                               d +
                               "/mnt/p.json ] && break; sleep 0.05; done\n"
                               "kill -STOP $fuse\n"
                               // Stopped, not only signalled: a server thread still in read() takes
                               // the next request (FUSE's FR_SENT) and a rank waiting on it can't be killed.
                               "while grep -qv ') T ' /proc/$fuse/task/*/stat; do sleep 0.01; done\n" +
                               launch + " >" + d +
                               "/a 2>&1 & a=$!\n"
                               "sleep 0.5\n" +
                               launch + " >" + d + "/b 2>&1 & b=$!\n" + launch + " >" + d +
                               "/c 2>&1 & c=$!\n"
                               "sleep 0.5\nkill -9 $a\n"
                               // Resumed before waiting: a rank blocked on a request the server had
                               // already read dies only once that request is answered.
                               "kill -CONT $fuse\nwait $a\necho killed $?\n"
                               "wait $b; echo b $?; wait $c; echo c $?; sleep 2.5; cat " +
                               d + "/b " + d +
                               "/c\n"
                               "umount " +
                               d + "/mnt; kill $fuse 2>/dev/null; exit 0";
  Result r = run({"sh", "-c",
                  "mkdir " + d + "/src " + d + "/mnt && echo '{\"hpai_profile\": 1}' >" + d +
                      "/src/p.json && "
                      "mksquashfs " +
                      d + "/src " + d +
                      "/p.sqfs -quiet -noappend -all-root >/dev/null && "
                      "exec unshare -Urm sh -c \"$0\"",
                  scenario},
                 {"HPAI_JOIN_TIMEOUT=2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "killed 137")) << r;
  EXPECT_TRUE(contains(r.out, "b 0\n")) << r;
  EXPECT_TRUE(contains(r.out, "c 0\n")) << r;
  EXPECT_EQ(count(r.out, "ns user:"), 2) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  EXPECT_TRUE(contains(r.out, "failed before sharing its container; electing again") ||
              contains(r.out, "only 2 of 3 ranks expected"))
      << r;
  EXPECT_TRUE(contains(r.out, "only 2 of 3 ranks expected on this node (from --join-ct=3)")) << r;
}

TEST_P(Launchers, SquashfsIsMountedOncePerNode) {
  const std::string sqfs = scratch().path() + "/bb.sqfs";
  Result mk = run({"mksquashfs", test_image("busybox"), sqfs, "-quiet", "-no-progress", "-no-xattrs"});
  ASSERT_EQ(mk.exit_code, 0) << mk;
  // While the four ranks run, count the squashfuse processes serving them.
  int counted = -1;
  Result r = run_as(who(), cat(mpiexec(4), {hpai_run(), sqfs, "--", "sh", "-c", std::string(kPrintNs) + "; sleep 2"}),
                    {}, scratch().path(), [&](pid_t) {
                      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
                      counted = live_squashfuse(sqfs);
                    });
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  EXPECT_EQ(counted, 1) << r;
}

TEST_P(Launchers, JoinPidEntersARunningContainer) {
  const std::string d = scratch().path();
  Result r =
      run({"sh", "-c",
           hpai_run() + " " + test_image("busybox") + " -- sh -c '" + kPrintNs + "; sleep 3' & p=$!; sleep 1; " +
               hpai_run() + " --join-pid=$p " + test_image("busybox") + " -- sh -c '" + kPrintNs + "'; wait $p"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "ns user:"), 2) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
}

TEST_P(Launchers, SignalsFromTheLauncherReachThePayload) {
  const std::string ready = scratch().path() + "/ready";
  Result r = run_as(who(),
                    {hpai_run(), test_image("busybox"), "--", "sh", "-c",
                     "for s in INT USR1 USR2; do trap \"echo got $s\" $s; done; trap 'echo got TERM; exit 42' TERM; "
                     "touch /tmp/ready; while :; do sleep 0.05; done"},
                    {"TMPDIR=" + scratch().path()}, "/", [&](pid_t pid) {
                      for (int i = 0; i < 200 && access(ready.c_str(), F_OK) != 0; ++i)
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                      for (int sig : {SIGINT, SIGUSR1, SIGUSR2, SIGTERM}) {
                        kill(pid, sig);
                        std::this_thread::sleep_for(std::chrono::milliseconds(300));
                      }
                    });
  EXPECT_EQ(r.exit_code, 42) << r;
  EXPECT_EQ(r.out, "got INT\ngot USR1\ngot USR2\ngot TERM\n") << r;
}

TEST_P(Launchers, LsfJsrunVariables) {
  // Three ranks on this node as jsrun would start them; they join one container and
  // get torch.distributed's variables from JSM_*.
  std::string script;
  for (int i = 0; i < 3; ++i)
    script += "JSM_NAMESPACE_RANK=" + std::to_string(i + 3) + " JSM_NAMESPACE_LOCAL_RANK=" + std::to_string(i) + " " +
              hpai_run() + " --torch-env " + test_image("busybox") + " -- sh -c '" + kPrintNs +
              "; echo torch $RANK/$WORLD_SIZE local $LOCAL_RANK/$LOCAL_WORLD_SIZE master $MASTER_ADDR' & ";
  Result r = run({"sh", "-c", script + "wait"}, {"JSM_NAMESPACE_SIZE=6", "JSM_NAMESPACE_LOCAL_SIZE=3", "LSB_JOBID=4711",
                                                 "LSB_MCPU_HOSTS=batch1 1 " + std::string("localhost") + " 42"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(
        contains(r.out, "torch " + std::to_string(i + 3) + "/6 local " + std::to_string(i) + "/3 master localhost\n"))
        << r;
}

TEST_P(Launchers, GpuPerRankSplitsTheHostsList) {
  Result r = run(cat(mpiexec(2), {"-x", "CUDA_VISIBLE_DEVICES=4,7", hpai_run(), "--gpu-per-rank", test_image("busybox"),
                                  "--", "sh", "-c", "echo rank $OMPI_COMM_WORLD_RANK gpu $CUDA_VISIBLE_DEVICES"}));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "rank 0 gpu 4\n")) << r;
  EXPECT_TRUE(contains(r.out, "rank 1 gpu 7\n")) << r;
}

// Slurm: needs the cluster the test fixture starts (as root).
class Slurm : public Launchers {
 protected:
  void SetUp() override {
    Launchers::SetUp();
    if (access(HPAI_TEST_SLURM_CONF, R_OK) != 0)
      GTEST_SKIP() << "no test Slurm cluster (" << HPAI_TEST_SLURM_CONF
                   << "); tests/slurm/slurm-cluster.sh starts one as root";
  }
  std::vector<std::string> env(std::vector<std::string> extra = {}) {
    extra.push_back(std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF);
    return extra;
  }
};
INSTANTIATE_TEST_SUITE_P(, Slurm, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Slurm, SrunWithPmixSharesOneContainer) {
  Result r = run({"srun", "--mpi=pmix", "-n", "4", hpai_run(), test_image("debian-mpi"), "--", "sh", "-c",
                  std::string(kPrintNs) + "; exec mpi_hello_openmpi bw"},
                 env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok"), 4) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  EXPECT_TRUE(contains(r.out, "pingpong: latency")) << r;
}

TEST_P(Slurm, FailingRankIsReported) {
  Result r = run({"srun", "-n", "2", hpai_run(), test_image("busybox"), "--", "sh", "-c", "exit $((SLURM_PROCID * 5))"},
                 env());
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(contains(r.err, "task 1: Exited with exit code 5")) << r;
}

TEST_P(Slurm, SbatchSrunExample) {
  const std::string out = scratch().path() + "/srun.out";
  Result r = run({"sbatch", "--wait", "-o", out, examples("slurm/srun.sbatch")},
                 env({"HPAI_RUN=" + hpai_run(), "IMAGE=" + test_image("debian-mpi")}));
  ASSERT_EQ(r.exit_code, 0) << r << read_file(out);
  EXPECT_EQ(count(read_file(out), "allreduce ok"), 4) << read_file(out);
}

TEST_P(Slurm, SbatchLrzPatternWithHydra) {
  if (access("/usr/bin/mpiexec.hydra", X_OK) != 0) GTEST_SKIP() << "MPICH's mpiexec.hydra is not installed";
  const std::string out = scratch().path() + "/lrz.out";
  Result r = run({"sbatch", "--wait", "-o", out, examples("slurm/lrz-mpiexec.sbatch")},
                 env({"HPAI_RUN=" + hpai_run(), "IMAGE=" + own_copy("busybox"), "MPIEXEC=mpiexec.hydra",
                      "SITE_BINDS=", "PAYLOAD=env"}));
  const std::string text = read_file(out);
  ASSERT_EQ(r.exit_code, 0) << r << text;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(contains(text, "MPI_LOCALRANKID=" + std::to_string(i) + "\n")) << text;
  EXPECT_EQ(count(text, "HPAI_RUNNING=1"), 4) << text;
}

// LRZ's documented form, for real: sbatch, Hydra's mpiexec, --torch-env -w, on a
// debootstrap'd image with python3-torch and no /etc/hosts; 4 ranks train with gloo
// and end with identical parameters.
TEST_P(Slurm, SbatchLrzPatternTrainsWithTorch) {
  if (access("/usr/bin/mpiexec.hydra", X_OK) != 0) GTEST_SKIP() << "MPICH's mpiexec.hydra is not installed";
  if (access(test_image("debian-torch").c_str(), F_OK) != 0) GTEST_SKIP() << "no debian-torch fixture";
  const std::string img = own_copy("debian-torch");
  ASSERT_FALSE(std::filesystem::exists(img + "/etc/hosts")) << "the point is an image without /etc/hosts";
  ASSERT_EQ(run_as(who(), {"cp", examples("pytorch/train.py"), img + "/opt/train.py"}).exit_code, 0);
  const std::string out = scratch().path() + "/lrz-torch.out";
  Result r = run({"sbatch", "--wait", "--time=5", "-o", out, examples("slurm/lrz-mpiexec.sbatch")},
                 env({"HPAI_RUN=" + hpai_run(), "IMAGE=" + img, "MPIEXEC=mpiexec.hydra",
                      "SITE_BINDS=", "PAYLOAD=python3 /opt/train.py", "STEPS=20"}),
                 280);
  const std::string text = read_file(out);
  ASSERT_EQ(r.exit_code, 0) << r << text;
  std::set<std::string> sums;
  for (int i = 0; i < 4; ++i) {
    const std::string tag = "rank " + std::to_string(i) + "/4: trained 20 steps, parameter sum ";
    auto at = text.find(tag);
    ASSERT_NE(at, std::string::npos) << text;
    sums.insert(text.substr(at + tag.size(), text.find('\n', at) - at - tag.size()));
  }
  EXPECT_EQ(sums.size(), 1u) << "the ranks' parameters differ\n" << text;
}

TEST_P(Slurm, TorchExampleGetsItsVariablesFromSrun) {
  Result r = run({"srun", "-n", "2", hpai_run(), "--torch-env", "-b", examples("pytorch") + ":/mnt",
                  test_image("debian-mpi"), "--", "python3", "/mnt/train.py"},
                 env());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "rank 0/2 local 0 master localhost:")) << r;
  EXPECT_TRUE(contains(r.out, "rank 1/2 local 1 master localhost:")) << r;
}

TEST_P(Slurm, TimeLimitSigtermReachesThePayload) {
  // Slurm counts time limits in minutes: this test takes one to two of them.
  const std::string out = scratch().path() + "/limit.out";
  Result r = run({"sbatch", "--wait", "-o", out, examples("slurm/time-limit.sbatch")},
                 env({"HPAI_RUN=" + hpai_run(), "IMAGE=" + test_image("busybox")}), 280);
  const std::string text = read_file(out);
  EXPECT_TRUE(contains(text, "rank 0: working")) << r << text;
  EXPECT_TRUE(contains(text, "rank 0: SIGTERM at the time limit, checkpointing")) << r << text;
  EXPECT_TRUE(contains(text, "DUE TO TIME LIMIT")) << r << text;
}

}  // namespace
}  // namespace hpai::test

namespace hpai::test {
namespace {

// Processes whose command line holds MARKER (ranks' payloads, and the keeper, which is
// a fork of hpai-run and so keeps its command line).
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> out;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      std::string pid = e->d_name;
      if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoi(pid) == getpid()) continue;
      std::string cmdline = read_file("/proc/" + pid + "/cmdline");
      std::string stat = read_file("/proc/" + pid + "/stat");
      if (contains(cmdline, marker) && !contains(stat, ") Z ")) out.push_back(std::stoi(pid));
    }
    closedir(d);
  }
  return out;
}

// A job torn down leaves no rank and no keeper behind, whatever the timing: the
// launcher TERMed (it forwards the signal), or KILLed (it can't: the ranks die with it).
TEST_P(Launchers, KilledLauncherLeavesNoRankOrKeeperBehind) {
  for (int sig : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(sig == SIGTERM ? "mpiexec got SIGTERM" : "mpiexec got SIGKILL");
    const std::string marker = "teardown-" + std::to_string(getpid()) + "-" + std::to_string(sig);
    // Ranks at every stage: some built or joined and sleeping, one still starting.
    std::vector<std::string> argv = cat(mpiexec(4), {hpai_run(), "--join-tag=" + marker, test_image("busybox"), "--",
                                                     "sh", "-c", "sleep 300; : " + marker});
    Result r = run_as(
        who(), argv, {}, scratch().path(),
        [&](pid_t pid) {
          for (int i = 0; i < 200 && processes_with(marker).size() < 4; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
          kill(pid, sig);
        },
        60);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = processes_with(marker).empty();
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(gone) << processes_with(marker).size() << " processes of the job outlived mpiexec\n" << r;
    for (pid_t p : processes_with(marker)) kill(p, SIGKILL);
  }
}

// A rank whose launcher died before the rank ran (mpiexec killed while forking its
// ranks) is orphaned to init: nothing would end its container with the job, so it must
// not build one. Played here by a rank's variables and a parent that exits first.
TEST_P(Launchers, RankOrphanedBeforeItStartsBuildsNothing) {
  const std::string marker = "orphan-" + std::to_string(getpid());
  const std::string err = scratch().path() + "/rank.err";
  const std::string rank =
      "sleep 1; exec env OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=0 "
      "OMPI_COMM_WORLD_LOCAL_SIZE=2 " +
      hpai_run() + " --join-tag=" + marker + " " + test_image("busybox") + " -- sh -c 'sleep 300; : " + marker +
      "' 2>" + err;
  Result r =
      run_as(who(), {"sh", "-c", "sh -c \"$0\" </dev/null >/dev/null 2>&1 & exit 0", rank}, {}, scratch().path());
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string text;
  for (int i = 0; i < 100 && !contains(text, "\n"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = read_file(err);
  }
  EXPECT_TRUE(contains(text, "launcher exited before the rank started")) << text;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(processes_with(marker).empty())
      << processes_with(marker).size() << " processes of the orphaned rank run on";
  for (pid_t p : processes_with(marker)) kill(p, SIGKILL);
}

}  // namespace
}  // namespace hpai::test
