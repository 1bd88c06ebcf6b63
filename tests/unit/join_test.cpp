#include "hpai/batch/join.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hpai/base/error.hpp"
#include "hpai/run/launch.hpp"
#include "hpai/run/node_facts.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {
namespace {

using namespace std::chrono_literals;

HostContext host_with(std::initializer_list<std::string> entries) {
  HostContext h;
  h.uid = getuid();
  h.gid = getgid();
  h.env = Environment::from_entries(entries);
  h.rank = detect_ranks(h.env);
  return h;
}

const std::initializer_list<std::string> kOmpi4 = {"OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=4",
                                                   "OMPI_COMM_WORLD_LOCAL_RANK=1", "OMPI_COMM_WORLD_LOCAL_SIZE=4",
                                                   "PMIX_NAMESPACE=777"};

JoinRequest req(std::optional<bool> join, std::optional<int> count = {}, std::optional<std::string> tag = {},
                std::optional<pid_t> pid = {}) {
  JoinRequest r;
  r.join = join;
  r.count = count;
  r.tag = tag;
  r.pid = pid;
  return r;
}

TEST(JoinSettings, AutomaticUnderALauncher) {
  auto s = join_settings({}, host_with(kOmpi4));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->peers, 4);
  EXPECT_EQ(s->peers_from, "OMPI_COMM_WORLD_LOCAL_SIZE=4");
  EXPECT_EQ(s->tag, "ompi-777");
  EXPECT_EQ(s->timeout, 60s);
  EXPECT_FALSE(join_settings(req(false), host_with(kOmpi4)));  // --no-join
  EXPECT_FALSE(join_settings({}, host_with({"PATH=/bin"})));   // no launcher
  // Alone on its node: nothing to share.
  EXPECT_FALSE(join_settings({}, host_with({"SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_PROCID=0",
                                            "SLURM_STEP_TASKS_PER_NODE=1(x4)", "SLURM_NODEID=2"})));
}

TEST(JoinSettings, ExplicitRequests) {
  auto ct = join_settings(req({}, 3), host_with({"HPAI_JOIN_TIMEOUT=2.5"}));
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->peers, 3);
  EXPECT_EQ(ct->peers_from, "--join-ct=3");
  EXPECT_EQ(ct->tag, "ppid-" + std::to_string(getppid()));
  EXPECT_EQ(ct->timeout, 2500ms);
  auto tagged = join_settings(req({}, {}, "mine"), host_with(kOmpi4));  // --join-tag implies -j
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->tag, "mine");
  EXPECT_EQ(tagged->peers, 4);

  auto usage = [](const JoinRequest& r, const HostContext& h, const std::string& text) {
    try {
      join_settings(r, h);
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  usage(req(true), host_with({"PATH=/bin"}), "give --join-ct=N");
  usage(req({}, 0), host_with({}), "at least 1");
  usage(req(true, {}, {}, 1), host_with({}), "--join-pid can't be combined");
  usage(req(false, 2), host_with({}), "--no-join can't be combined");
  usage(req({}, 2), host_with({"HPAI_JOIN_TIMEOUT=soon"}), "HPAI_JOIN_TIMEOUT=soon");
}

TEST(JoinSocket, NameIsPerUserAndBounded) {
  EXPECT_EQ(join_socket_name(1000, "slurm-12.0"), "hpai-join/1000/slurm-12.0");
  EXPECT_NE(join_socket_name(1000, "t"), join_socket_name(1001, "t"));
  EXPECT_LE(join_socket_name(4294967294u, std::string(500, 'x')).size(), 107u);
}

std::string unique_tag(const char* what) { return std::string("unit-") + what + "-" + std::to_string(getpid()); }

// A forked rank that joins; exit status: 0 = got the facts and three namespace fds,
// 2 = refused with MESSAGE, 3 = other error, 4 = became the leader itself.
pid_t joining_rank(const JoinSettings& s, const std::string& want_facts, const std::string& refusal = "") {
  pid_t pid = fork();
  if (pid != 0) return pid;
  try {
    auto [leader, t] = join_node(s);
    if (leader) _exit(4);
    _exit(t.facts == want_facts && t.userns && t.mntns && t.root ? 0 : 3);
  } catch (const Error& e) {
    _exit(!refusal.empty() && std::string(e.what()).find(refusal) != std::string::npos ? 2 : 3);
  }
}

int exit_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(JoinNode, LeaderServesPeersAndRefusesOneTooMany) {
  JoinSettings s{.peers = 3, .peers_from = "--join-ct=3", .tag = unique_tag("serve"), .timeout = 10s, .key = "k"};
  auto leader = join_node(s).leader;
  ASSERT_TRUE(leader);
  // Peers that arrive while the leader is still building wait for it.
  pid_t a = joining_rank(s, "{\"facts\":1}"), b = joining_rank(s, "{\"facts\":1}");
  usleep(100'000);
  leader->serve("{\"facts\":1}");
  EXPECT_EQ(exit_status(a), 0);
  EXPECT_EQ(exit_status(b), 0);
  // The keeper lives on while this (the first) rank does, and refuses a fourth.
  EXPECT_EQ(exit_status(joining_rank(s, "", "one too many")), 2);
}

// For the Slurm plugin the keeper holds no stderr of the task's: slurmstepd waits for
// the end of each task's output, and a task that died before joining would make it
// wait for the keeper's timeout.
TEST(JoinNode, KeeperWithoutStderrWhenAsked) {
  for (bool keep : {true, false}) {
    JoinSettings s{.peers = 2,
                   .peers_from = "test",
                   .tag = unique_tag(keep ? "stderr-kept" : "stderr-null"),
                   .timeout = 10s,
                   .key = "k"};
    s.keeper_stderr = keep;
    auto leader = join_node(s).leader;
    ASSERT_TRUE(leader);
    leader->serve("{}");
    ASSERT_FALSE(join_node(s).leader);  // the keeper answers
    // The keeper: the process holding the listening socket of the tag's name.
    std::ifstream unix_sockets("/proc/net/unix");
    std::string line, inode;
    while (std::getline(unix_sockets, line))
      if (line.ends_with("@" + join_socket_name(getuid(), s.tag))) {
        std::istringstream fields(line);
        for (int i = 0; i < 7; ++i) fields >> inode;
      }
    ASSERT_FALSE(inode.empty());
    std::string keeper;
    for (const auto& p : std::filesystem::directory_iterator("/proc")) {
      std::error_code ec;
      for (const auto& fd : std::filesystem::directory_iterator(p.path() / "fd", ec))
        if (std::filesystem::read_symlink(fd.path(), ec).string() == "socket:[" + inode + "]" &&
            p.path().filename() != std::to_string(getpid()))
          keeper = p.path().string();
    }
    ASSERT_FALSE(keeper.empty());
    char fd2[256] = {}, mine[256] = {};
    ASSERT_GT(readlink((keeper + "/fd/2").c_str(), fd2, sizeof fd2 - 1), 0);
    ASSERT_GT(readlink("/proc/self/fd/2", mine, sizeof mine - 1), 0);
    if (keep)
      EXPECT_STREQ(fd2, mine);
    else
      EXPECT_STREQ(fd2, "/dev/null");
  }
}

// A rank whose options (or --join-ct) differ is refused before it is counted: the
// matching ranks after it still get in.
TEST(JoinNode, MismatchedRankIsRefusedWithoutTakingASlot) {
  JoinSettings s{.peers = 2, .peers_from = "--join-ct=2", .tag = unique_tag("mismatch"), .timeout = 10s, .key = "k"};
  auto leader = join_node(s).leader;
  ASSERT_TRUE(leader);
  leader->serve("{}");
  JoinSettings other = s;
  other.key = "k with other binds";
  EXPECT_EQ(exit_status(joining_rank(other, "", "options differ from those the node's container was built with")), 2);
  EXPECT_EQ(exit_status(joining_rank(s, "{}")), 0) << "the mismatched rank took the last slot";
}

// A container whose ranks are all gone (its count never reached) steps aside for a
// rank that wants another one, instead of refusing it until the timeout.
TEST(JoinNode, IdleContainerStepsAsideForANewGroup) {
  JoinSettings old{.peers = 2, .peers_from = "--join-ct=2", .tag = unique_tag("idle"), .timeout = 30s, .key = "old"};
  pid_t first = fork();
  if (first == 0) {
    auto leader = join_node(old).leader;
    if (!leader) _exit(4);
    leader->serve("{}");
    _exit(0);  // the first rank ends; its peer never comes
  }
  ASSERT_EQ(exit_status(first), 0);
  JoinSettings fresh = old;
  fresh.peers = 3;
  fresh.key = "new";
  auto start = std::chrono::steady_clock::now();
  auto leader = join_node(fresh).leader;
  EXPECT_TRUE(leader) << "the new group's rank should have been elected";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(JoinNode, LeaderThatDiesBeforeServingIsReplaced) {
  JoinSettings s{.peers = 2, .peers_from = "--join-ct=2", .tag = unique_tag("crash"), .timeout = 10s, .key = "k"};
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t first = fork();
  if (first == 0) {
    auto leader = join_node(s).leader;
    char c = leader ? 'L' : 'J';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    usleep(200'000);
    _exit(9);  // crashes while "building"
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'L');
  auto start = std::chrono::steady_clock::now();
  auto leader = join_node(s).leader;  // waits on the dead leader, then is elected
  EXPECT_TRUE(leader);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(exit_status(first), 9);
  close(ready[0]);
  close(ready[1]);
}

TEST(JoinNode, StuckLeaderTimesOutWithAMessage) {
  JoinSettings s{.peers = 2, .peers_from = "--join-ct=2", .tag = unique_tag("stuck"), .timeout = 300ms, .key = "k"};
  auto leader = join_node(s).leader;
  ASSERT_TRUE(leader);
  pid_t late = fork();
  if (late == 0) {
    try {
      join_node(s);
      _exit(3);
    } catch (const Error& e) {
      _exit(std::string(e.what()).find("waited 0.3 s for the first rank on this node") != std::string::npos ? 0 : 4);
    }
  }
  EXPECT_EQ(exit_status(late), 0);
}

TEST(NodeFacts, RoundTripAndKeyMismatch) {
  RunOptions o;
  o.image = "/some/image";
  o.command = {"true"};
  Plan p;
  p.image = "/some/image";
  p.config.env = {"IMAGE_VAR=1", "PATH=/opt/bin:/usr/bin"};
  p.config.workdir = "/work";
  p.profile_env = {{EnvChange::Kind::Prepend, "LD_LIBRARY_PATH", "/.hpai/host/lib", "p.json:3:4"}};
  p.user = "alice";
  p.launcher.torch_env = true;
  const std::string key = node_key(o);
  const std::string facts = node_facts_to_json(p, key);

  HostContext h = host_with({"PATH=/bin", "HOME=/home/alice", "OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4",
                             "OMPI_COMM_WORLD_LOCAL_RANK=2", "OMPI_COMM_WORLD_LOCAL_SIZE=4", "LD_LIBRARY_PATH=/host"});
  Plan joined = plan_from_node_facts(facts, key, o, h);
  EXPECT_EQ(joined.env.get("IMAGE_VAR"), "1");
  EXPECT_EQ(joined.env.get("LD_LIBRARY_PATH"), "/.hpai/host/lib:/host");
  EXPECT_EQ(joined.env.get("RANK"), "2");            // the profile's torch_env, with this rank's own numbers
  EXPECT_EQ(joined.env.get("HOME"), "/home/alice");  // this rank's own host HOME
  EXPECT_EQ(joined.cwd, "/work");
  EXPECT_EQ(joined.argv, std::vector<std::string>{"true"});

  RunOptions other = o;
  other.binds.push_back(parse_bind_spec("/data"));
  try {
    plan_from_node_facts(facts, node_key(other), other, h);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("built with other options"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hpai
