// A SquashFS image shared by the ranks of a node (one container per node, join), under
// real mpiexec and srun, as the test user and as root: the FUSE server must serve every
// rank until the last one ends, in whatever order ranks end, also when the rank that
// built the container is killed, and then go. Every rank's outcome is checked.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

class SquashfsJoin : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (testing::Test::IsSkipped()) return;
    sqfs_ = scratch().path() + "/bb.sqfs";
    Result mk = run_as(who(), {"mksquashfs", test_image("busybox"), sqfs_, "-quiet", "-no-progress", "-no-xattrs"});
    ASSERT_EQ(mk.exit_code, 0) << mk;
  }
  void TearDown() override {
    // The last rank gone, the server goes (it exits as the namespace dies).
    int left = 0;
    for (int i = 0; i < 100 && (left = live_squashfuse(sqfs_)) > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LE(left, 0) << "squashfuse_ll outlived every rank";
  }
  std::vector<std::string> mpiexec(int n) {
    std::vector<std::string> argv = {"mpiexec", "--oversubscribe", "-n", std::to_string(n)};
    if (GetParam() == As::Root) argv.push_back("--allow-run-as-root");
    return argv;
  }
  // Each rank sleeps as ORDER says (in tenths of a second), then reads from the image;
  // it prints "read ok RANK" only if that worked.
  std::vector<std::string> ranks(const std::string& order, const std::string& rank_var) {
    return {hpai_run(),
            "-v",
            sqfs_,
            "--",
            "sh",
            "-c",
            "r=$" + rank_var + "; t=$(( " + order +
                " )); sleep $((t / 10)).$((t % 10)); "
                "cat /etc/image-release >/dev/null && ls /bin >/dev/null && echo read ok $r"};
  }
  Result run(std::vector<std::string> argv, const std::function<void(pid_t)>& during = {},
             std::vector<std::string> env = {}) {
    return run_as(who(), argv, env, scratch().path(), during, 240);
  }
  std::string sqfs_;
};
INSTANTIATE_TEST_SUITE_P(, SquashfsJoin, ::testing::Values(As::Unprivileged, As::Root), as_name);

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Rank 0 (often the builder) ends at once; the others read after it is gone.
TEST_P(SquashfsJoin, MpiexecRankZeroEndsFirst) {
  for (int n : {16, 64}) {
    SCOPED_TRACE(std::to_string(n) + " ranks");
    Result r = run(cat(mpiexec(n), ranks("r == 0 ? 0 : 10 + r % 7", "OMPI_COMM_WORLD_RANK")));
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(count(r.out, "read ok "), n) << r;
    EXPECT_FALSE(contains(r.err, "Transport endpoint is not connected")) << r;
  }
}

TEST_P(SquashfsJoin, MpiexecRanksEndInScatteredOrder) {
  for (int n : {16, 64}) {
    SCOPED_TRACE(std::to_string(n) + " ranks");
    Result r = run(cat(mpiexec(n), ranks("(r * 7919) % 23", "OMPI_COMM_WORLD_RANK")));
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(count(r.out, "read ok "), n) << r;
  }
}

// The rank that built the container is killed with SIGKILL mid-job: the others keep
// their files. (The launchers are told to carry on after a lost rank.)
void kill_the_builder(const std::string& log, int joiners) {
  // The builder says so under -v: "hpai-run[PID]: info: join: first rank ... building".
  std::regex builder(R"(hpai-run\[(\d+)\]: info: join: first rank on this node)");
  for (int i = 0; i < 400; ++i) {
    std::smatch m;
    std::string text = read_file(log);
    if (std::regex_search(text, m, builder) && count(text, "entering the container") >= joiners) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      kill(std::stoi(m[1]), SIGKILL);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "never saw the builder and its peers\n" << read_file(log);
}

std::string shell_words(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += "'" + a + "' ";
  return line;
}

TEST_P(SquashfsJoin, MpiexecBuilderKilledTheOthersKeepTheirImage) {
  const int n = 16;
  const std::string log = scratch().path() + "/ranks.err";
  auto launcher = mpiexec(n);
  launcher.insert(launcher.begin() + 1, "--enable-recovery");
  Result r = run({"sh", "-c", shell_words(cat(launcher, ranks("20 + r % 5", "OMPI_COMM_WORLD_RANK"))) + "2>" + log},
                 [&](pid_t) { kill_the_builder(log, n - 1); });
  EXPECT_EQ(count(r.out, "read ok "), n - 1) << r << read_file(log);
  EXPECT_FALSE(contains(read_file(log), "Transport endpoint is not connected")) << read_file(log);
}

TEST_P(SquashfsJoin, SrunBuilderKilledTheOthersKeepTheirImage) {
  if (access(HPAI_TEST_SLURM_CONF, R_OK) != 0) GTEST_SKIP() << "no test Slurm cluster";
  const int n = 16;
  const std::string log = scratch().path() + "/tasks.err";
  Result r = run({"sh", "-c",
                  shell_words(cat({"srun", "--kill-on-bad-exit=0", "-n", std::to_string(n)},
                                  ranks("20 + r % 5", "SLURM_PROCID"))) +
                      "2>" + log},
                 [&](pid_t) { kill_the_builder(log, n - 1); }, {std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF});
  EXPECT_EQ(count(r.out, "read ok "), n - 1) << r << read_file(log);
  EXPECT_FALSE(contains(read_file(log), "Transport endpoint is not connected")) << read_file(log);
}

TEST_P(SquashfsJoin, SrunRanksEndInScatteredOrder) {
  if (access(HPAI_TEST_SLURM_CONF, R_OK) != 0) GTEST_SKIP() << "no test Slurm cluster";
  for (int n : {16, 64}) {
    SCOPED_TRACE(std::to_string(n) + " tasks");
    Result r = run(cat({"srun", "--overcommit", "-n", std::to_string(n)}, ranks("(r * 7919) % 23", "SLURM_PROCID")), {},
                   {std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(count(r.out, "read ok "), n) << r;
  }
}

}  // namespace
}  // namespace hpai::test
