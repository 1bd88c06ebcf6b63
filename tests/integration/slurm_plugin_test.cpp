// hpai's SPANK plugin on the suite's one-node Slurm cluster, whose plugstack.conf loads
// it (tests/CMakeLists.txt, as a site would): `srun --container-image=IMG` and
// `#SBATCH --container-image`, as the test user and as root. Every srun of the suite
// runs with the plugin loaded; without its options nothing changes.
#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

std::string own_user_namespace() {
  char buf[64] = {};
  const ssize_t n = readlink("/proc/self/ns/user", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

// Processes still running whose command line has hpai-slurm-task and TEXT: helpers,
// and the node's keeper (a fork of one).
int helpers_with(const std::string& text) {
  int n = 0;
  DIR* proc = opendir("/proc");
  if (!proc) return -1;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmdline = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    if (contains(cmdline, "hpai-slurm-task") && contains(cmdline, text)) ++n;
  }
  closedir(proc);
  return n;
}

class SlurmPlugin : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (testing::Test::IsSkipped()) return;
    if (std::string(HPAI_TEST_SPANK_PLUGIN).empty()) GTEST_SKIP() << "the Slurm plugin is not built (no spank.h)";
    if (access(HPAI_TEST_SLURM_CONF, R_OK) != 0)
      GTEST_SKIP() << "no test Slurm cluster (" << HPAI_TEST_SLURM_CONF
                   << "); tests/slurm/slurm-cluster.sh starts one as root";
    std::string conf = HPAI_TEST_SLURM_CONF;
    conf = conf.substr(0, conf.rfind('/')) + "/plugstack.conf";
    // A cluster without the plugin would make every test below fail in confusing ways.
    ASSERT_TRUE(contains(read_file(conf), HPAI_TEST_SPANK_PLUGIN)) << conf << " does not load the plugin";
  }
  Result slurm(const std::vector<std::string>& argv, std::vector<std::string> env = {}, int timeout = 120) {
    env.push_back(std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF);
    return run_as(who(), argv, env, scratch().path(), {}, timeout);
  }
};
INSTANTIATE_TEST_SUITE_P(, SlurmPlugin, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(SlurmPlugin, FourTasksShareOneContainer) {
  Result r = slurm({"srun", "-n", "4", "--container-image=" + test_image("busybox"), "sh", "-c",
                    std::string(kPrintNs) +
                        "; echo task $SLURM_PROCID local $SLURM_LOCALID of $SLURM_NTASKS $CH_RUNNING "
                        "job-$SLURM_JOB_ID; test -x /bin/busybox && test ! -e /usr/bin/srun && echo image ok"});
  ASSERT_EQ(r.exit_code, 0) << r;
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(count(r.out, "task " + std::to_string(i) + " local " + std::to_string(i) + " of 4 hpai job-"), 1) << r;
  EXPECT_EQ(count(r.out, "image ok"), 4) << r;
  EXPECT_FALSE(contains(r.out, "job-image-value")) << "the image's ENV overrode Slurm's variable\n" << r;
  const auto ns = namespaces(r.out);
  EXPECT_EQ(ns.size(), 1u) << r;
  EXPECT_FALSE(ns.count(own_user_namespace())) << "the tasks ran in the host's user namespace\n" << r;
  // Nothing of hpai's outlives the step (linuxproc can't reap what was reparented to init).
  const auto at = r.out.find(" hpai job-");
  ASSERT_NE(at, std::string::npos) << r;
  const std::string job = r.out.substr(at + 10, r.out.find('\n', at) - at - 10);
  int left = 0;
  for (int i = 0; i < 100 && (left = helpers_with(" --job=" + job + " ")) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(left, 0) << "a helper or keeper of job " << job << " outlived its step";
}

// A step cancelled while its tasks run: srun forwards the signal, the tasks die in the
// container as they would on the host, and the keeper goes with slurmstepd.
TEST_P(SlurmPlugin, CancelledStepLeavesNothing) {
  const std::string marker = "31.4159" + std::to_string(getpid());  // seconds to sleep, and a name to look for
  auto cancel = [](pid_t srun) {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    kill(srun, SIGTERM);
  };
  const auto start = std::chrono::steady_clock::now();
  Result r = run_as(who(), {"srun", "-n", "3", "--container-image=" + test_image("busybox"), "sleep", marker},
                    {std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF}, scratch().path(), cancel, 60);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(25)) << r;
  EXPECT_NE(r.exit_code, 0) << r;
  int left = 0;
  for (int i = 0; i < 100 && (left = helpers_with(marker)) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(left, 0) << "a helper or keeper outlived the cancelled step";
}

TEST_P(SlurmPlugin, WithoutTheOptionNothingChanges) {
  Result r = slurm({"srun", "-n", "2", "sh", "-c", std::string(kPrintNs) + "; echo running=${CH_RUNNING:-no}"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "running=no"), 2) << r;
  EXPECT_EQ(namespaces(r.out), std::set<std::string>{own_user_namespace()}) << r;
}

TEST_P(SlurmPlugin, ArgumentsExitCodesAndEnvironmentPassThrough) {
  // Bytes a shell or a parser could mangle, each printed between brackets.
  Result r = slurm({"srun", "-n", "1", "--container-image=" + test_image("busybox"), "printf", "[%s]\\n", "a  b", "",
                    "*", "$HOME", "'q'", "--container-image=x"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "[a  b]\n[]\n[*]\n[$HOME]\n['q']\n[--container-image=x]\n") << r;

  r = slurm(
      {"srun", "-n", "2", "--container-image=" + test_image("busybox"), "sh", "-c", "exit $((SLURM_PROCID * 5))"});
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(contains(r.err, "task 1: Exited with exit code 5")) << r;

  // The image's ENV wins over the host's, but not for --container-env's names.
  const std::string show = "echo var=$IMAGE_VAR";
  r = slurm({"srun", "-n", "1", "--container-image=" + test_image("busybox"), "sh", "-c", show},
            {"IMAGE_VAR=from-host"});
  EXPECT_EQ(r.out, "var=from-image\n") << r;
  r = slurm(
      {"srun", "-n", "1", "--container-image=" + test_image("busybox"), "--container-env=IMAGE_VAR", "sh", "-c", show},
      {"IMAGE_VAR=from host 'quoted'"});
  EXPECT_EQ(r.out, "var=from host 'quoted'\n") << r;
}

TEST_P(SlurmPlugin, MultiProgAndTmpdirAsWithoutThePlugin) {
  const std::string conf = scratch().path() + "/tasks.conf";
  write_file(conf, "0 echo zero\n1 sh -c 'echo one $CH_RUNNING'\n");
  ASSERT_EQ(chmod(conf.c_str(), 0644), 0);
  Result r = slurm({"srun", "-n", "2", "--container-image=" + test_image("busybox"), "--multi-prog", conf});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "zero\n")) << r;
  EXPECT_TRUE(contains(r.out, "one hpai\n")) << r;
  // Every task has TMPDIR=/tmp, the host's TMPDIR in the container (slurmstepd itself
  // would give it to task 0 alone).
  r = slurm({"srun", "-n", "3", "--container-image=" + test_image("busybox"), "sh", "-c", "echo tmp=$TMPDIR"},
            {"TMPDIR=/var/tmp"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "tmp=/tmp\n"), 3) << r;
}

// Another user binds the join names the next jobs' steps would use, as hpai-run's own
// names can be (hostile_run_test JoinSquat): the plugin's names carry a secret of the
// step, so the tasks still share one container (one overlay they all write).
TEST_P(SlurmPlugin, AnotherUserSquattingJoinNamesDoesNotSplitAStep) {
  if (!running_as_root()) GTEST_SKIP() << "a second user needs root";
  const User squatter = other_user();
  Result cfg = slurm({"scontrol", "show", "config"});
  const auto at = cfg.out.find("NEXT_JOB_ID");
  ASSERT_NE(at, std::string::npos) << cfg;
  const int next = std::stoi(cfg.out.substr(cfg.out.find('=', at) + 1));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(squatter.gid, squatter.gid, squatter.gid) != 0 ||
        setresuid(squatter.uid, squatter.uid, squatter.uid) != 0)
      _exit(1);
    for (int job = next; job < next + 40; ++job) {
      const std::string name = "hpai-join/" + std::to_string(who().uid) + "/slurm-" + std::to_string(job) + ".0";
      int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::memcpy(a.sun_path + 1, name.data(), name.size());
      if (bind(fd, reinterpret_cast<sockaddr*>(&a),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) != 0 ||
          listen(fd, 16) != 0)
        _exit(2);
    }
    if (write(ready[1], "x", 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char x;
  ASSERT_EQ(read(ready[0], &x, 1), 1) << "the squatter could not bind";
  close(ready[0]);
  Result r = slurm({"srun", "-n", "2", "--container-writable", "--container-image=" + test_image("busybox"), "sh", "-c",
                    "touch /made-by-$SLURM_PROCID; sleep 1; ls / | grep -c made-by"});
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "2\n2\n") << "the tasks did not share one container\n" << r;
  EXPECT_FALSE(contains(r.err, "of its own")) << r;
}

TEST_P(SlurmPlugin, RemapRootAndMountHome) {
  Result r = slurm({"srun", "-n", "2", "--container-image=" + test_image("busybox"), "--container-remap-root", "sh",
                    "-c", "echo uid=$(id -u) gid=$(id -g)"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "uid=0 gid=0\nuid=0 gid=0\n") << r;
  r = slurm({"srun", "-n", "1", "--container-image=" + test_image("busybox"), "--container-mount-home", "sh", "-c",
             "echo home=$HOME; test -d \"$HOME\" && echo bound"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "home=/home/" + who().name + "\nbound\n") << r;
}

TEST_P(SlurmPlugin, MountsReadOnlyAndWorkdir) {
  const std::string data = scratch().path() + "/data", out = scratch().path() + "/out";
  ASSERT_EQ(run_as(who(), {"mkdir", "-p", data, out}).exit_code, 0);
  write_file(data + "/file", "from the host\n");
  ASSERT_EQ(chmod((data + "/file").c_str(), 0644), 0);
  Result r =
      slurm({"srun", "-n", "2", "--container-image=" + test_image("busybox"),
             "--container-mounts=" + data + ":/data:ro," + out + ":/results", "--container-workdir=/data", "sh", "-c",
             "echo cwd $(pwd); cat file; touch /data/new 2>/dev/null && echo ro broken; "
             "echo task $SLURM_PROCID > /results/t$SLURM_PROCID"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "cwd /data\n"), 2) << r;  // two tasks' lines may interleave
  EXPECT_EQ(count(r.out, "from the host\n"), 2) << r;
  EXPECT_FALSE(contains(r.out, "ro broken")) << r;
  EXPECT_EQ(read_file(out + "/t0"), "task 0\n");
  EXPECT_EQ(read_file(out + "/t1"), "task 1\n");
  // A mount without DST lands at SRC's path, made if the image lacks it.
  r = slurm({"srun", "-n", "1", "--container-image=" + test_image("busybox"), "--container-mounts=" + data, "cat",
             data + "/file"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "from the host\n") << r;
}

TEST_P(SlurmPlugin, SbatchScriptRunsInTheContainer) {
  const std::string script = scratch().path() + "/job.sh", out = scratch().path() + "/job.out";
  write_file(script, "#!/bin/sh\n#SBATCH --container-image=" + test_image("busybox") + "\n" + kPrintNs +
                         "\necho running=$CH_RUNNING args=$#:$1:$2\n"
                         "test -x /bin/busybox && echo image ok\n"
                         "echo x >> \"$0\" 2>/dev/null && echo script writable\n"
                         "exit 3\n");
  ASSERT_EQ(chmod(script.c_str(), 0644), 0);
  Result r = slurm({"sbatch", "--wait", "-o", out, script, "one", "two words"});
  EXPECT_EQ(r.exit_code, 3) << r << read_file(out);
  const std::string text = read_file(out);
  EXPECT_TRUE(contains(text, "running=hpai args=2:one:two words\n")) << text;
  EXPECT_TRUE(contains(text, "image ok")) << text;
  EXPECT_FALSE(contains(text, "script writable")) << text;
  const auto ns = namespaces(text);
  EXPECT_EQ(ns.size(), 1u) << text;
  EXPECT_FALSE(ns.count(own_user_namespace())) << text;
}

// Every failure: hpai-run's message on srun's stderr, a non-zero status, no hang, and
// never the command run on the host instead.
TEST_P(SlurmPlugin, FailuresReachSrunAndNothingRunsUncontained) {
  const std::string marker = scratch().path() + "/ran-on-host";
  const std::string touch = "touch " + marker;
  struct Case {
    std::vector<std::string> options;
    std::string message;
    int status;
  } cases[] = {
      {{"--container-image=" + scratch().path() + "/no-such-image"}, "can't find image", 31},
      {{"--container-image=no-such-stored-image", "--container-storage-is-not-an-option"}, "unrecognized option", -2},
      {{"--container-image=" + test_image("busybox"), "--container-mounts=/no/such/dir:/mnt"},
       "can't bind /no/such/dir: no such file or directory on host (from --container-mounts=/no/such/dir:/mnt)",
       31},
      {{"--container-image=" + test_image("busybox"), "--container-mounts=/tmp:relative"},
       "must be an absolute path",
       64},
      {{"--container-image=" + test_image("busybox"), "--container-writable", "--container-readonly"},
       "can't be combined",
       -1},
      {{"--container-image=" + test_image("busybox"), "--container-name=keep"}, "not supported yet", -1},
      {{"--container-image=" + test_image("busybox"), "--container-remap-root", "--no-container-remap-root"},
       "--container-remap-root and --no-container-remap-root can't be combined",
       -1},
      {{"--container-mounts=/tmp:/x"}, "--container-mounts needs --container-image", -1},
      {{"--container-image=" + test_image("busybox"), "--container-profile=no-such-profile"}, "no-such-profile", 31},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {"srun", "-n", "2"};
    argv.insert(argv.end(), c.options.begin(), c.options.end());
    argv.insert(argv.end(), {"sh", "-c", touch});
    SCOPED_TRACE(c.options.back());
    const auto start = std::chrono::steady_clock::now();
    Result r = slurm(argv, {}, 90);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60)) << r;
    EXPECT_TRUE(contains(r.err, c.message)) << r;
    if (c.status > 0) {
      EXPECT_EQ(r.exit_code, c.status) << r;
      EXPECT_TRUE(contains(r.err, "Exited with exit code " + std::to_string(c.status))) << r;
    } else {
      EXPECT_NE(r.exit_code, 0) << r;  // refused by srun itself, before any job
    }
    EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran on the host\n" << r;
  }
  // A command the image lacks: hpai-run's message and status (49), not execve's errno.
  Result r = slurm({"srun", "-n", "1", "--container-image=" + test_image("busybox"), "no-such-command"});
  EXPECT_EQ(r.exit_code, 49) << r;
  EXPECT_TRUE(contains(r.err, "can't run no-such-command: command not found in the image")) << r;
}

TEST_P(SlurmPlugin, OpenMpiWithPmixWiresUpInside) {
  Result r = slurm({"srun", "--mpi=pmix", "-n", "4", "--container-image=" + test_image("debian-mpi"), "sh", "-c",
                    std::string(kPrintNs) + "; exec mpi_hello_openmpi bw"},
                   {}, 240);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok"), 4) << r;
  EXPECT_TRUE(contains(r.out, "pingpong: latency")) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
}

TEST_P(SlurmPlugin, SquashfsImageSharedBySixteenTasks) {
  const std::string sqfs = scratch().path() + "/bb.sqfs";
  Result mk = run_as(who(), {"mksquashfs", test_image("busybox"), sqfs, "-quiet", "-no-progress", "-no-xattrs"});
  ASSERT_EQ(mk.exit_code, 0) << mk;
  Result r = slurm({"srun", "-n", "16", "--container-image=" + sqfs, "sh", "-c",
                    std::string(kPrintNs) +
                        "; sleep 0.$((SLURM_PROCID % 7)); cat /etc/image-release >/dev/null && ls /bin >/dev/null && "
                        "echo read ok $SLURM_PROCID"},
                   {}, 240);
  ASSERT_EQ(r.exit_code, 0) << r;
  for (int i = 0; i < 16; ++i) EXPECT_EQ(count(r.out, "read ok " + std::to_string(i) + "\n"), 1) << r;
  EXPECT_EQ(namespaces(r.out).size(), 1u) << r;
  // One server for the node, gone with the step.
  int left = 0;
  for (int i = 0; i < 100 && (left = live_squashfuse(sqfs)) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(left, 0) << "squashfuse_ll outlived the step";
}

}  // namespace
}  // namespace hpai::test
