// hpai-run's command line as batch scripts written for ch-run use it, with the real
// binary, as the test user and as root: the payload's arguments untouched (also through
// join), empty values, ch-run 0.31's flags, the join decision under -v, messages.
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Cli : public ContainerTest {
 protected:
  std::string image() { return test_image("busybox"); }
  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
};
INSTANTIATE_TEST_SUITE_P(, Cli, ::testing::Values(As::Unprivileged, As::Root), as_name);

// Words CLI11 used to rewrite ("[a,b]" split, "[]" dropped, "--x" taken as an option).
const std::vector<std::string> kWords = {"[a,b]",
                                         "[]",
                                         "{x,y}",
                                         "a,b,c",
                                         "k=v",
                                         "",
                                         "-v",
                                         "--cd=/x",
                                         "--",
                                         "-",
                                         "\xff\xfe\x80 not UTF-8",
                                         "--write",
                                         std::string(100 * 1024, 'y')};

std::string printed(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += "<" + w + ">\n";
  return out;
}

TEST_P(Cli, PayloadArgumentsReachTheCommandByteForByte) {
  std::vector<std::string> args = {image(), "--", "printf", "<%s>\\n"};
  args.insert(args.end(), kWords.begin(), kWords.end());
  Result r = hpai(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, printed(kWords));
  // Without "--": the command's first word ends hpai's options.
  std::vector<std::string> bare = {"-t", image(), "printf", "<%s>\\n"};
  bare.insert(bare.end(), kWords.begin(), kWords.end());
  Result b = hpai(bare);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, printed(kWords));
}

TEST_P(Cli, NoCommandRunsTheImagesEntrypointAndCmd) {
  Result r = hpai({image()});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "entrypoint-ran\n");
}

// Two ranks sharing one container: the joining rank's arguments arrive as untouched.
TEST_P(Cli, PayloadArgumentsSurviveJoin) {
  std::string words;
  for (const auto& w : kWords) words += " " + quote(w);
  const std::string d = scratch().path();
  const std::string rank = hpai_run() + " --join-ct=2 --join-tag=args-$$ " + image() + " -- printf '<%s>\\n'" + words;
  // A script file: one argument may not exceed 128 KiB (MAX_ARG_STRLEN), the words do.
  write_file(d + "/ranks.sh", rank + " >" + d + "/a & " + rank + " >" + d + "/b & wait; cat " + d + "/a " + d + "/b\n");
  Result r = run_as(who(), {"sh", d + "/ranks.sh"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, printed(kWords) + printed(kWords));
}

// "--cd=$DIR" with DIR empty: an error about --cd, not the image taken for the
// directory; nothing after it is eaten.
TEST_P(Cli, EmptyValuesAreErrorsAndSwallowNothing) {
  for (const char* opt : {"--cd=", "--join-tag=", "--unset-env=", "--set-env=", "--profile="}) {
    Result r = hpai({opt, "-v", image(), "--", "true"});
    EXPECT_EQ(r.exit_code, 64) << opt << "\n" << r;
    EXPECT_TRUE(
        contains(r.err, std::string(opt).substr(0, std::string(opt).size() - 1) + ": the value must not be empty"))
        << opt << "\n"
        << r;
  }
}

TEST_P(Cli, ChRunFlagsThatScriptsStillPass) {
  Result nh = hpai({"--no-home", image(), "--", "true"});
  EXPECT_EQ(nh.exit_code, 0) << nh;
  EXPECT_TRUE(contains(nh.err, "--no-home is the default")) << nh;
  EXPECT_EQ(hpai({"--feature=extglob"}).exit_code, 0);
  EXPECT_EQ(hpai({"--feature=squash"}).exit_code, 0);
  EXPECT_EQ(hpai({"--feature=seccomp"}).exit_code, 1);
  Result unknown = hpai({"--feature=warp-drive"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "unknown feature: warp-drive")) << unknown;
  EXPECT_TRUE(contains(hpai({"--feature=list"}).out, "squash")) << "a list of hpai's own features";
  Result m = hpai({"-m", "/var/tmp/somewhere", image(), "--", "true"});
  EXPECT_EQ(m.exit_code, 0) << m;
  Result ssh = hpai({"--ch-ssh", image(), "--", "true"});
  EXPECT_EQ(ssh.exit_code, 64);
  EXPECT_TRUE(contains(ssh.err, "hpai has no ch-ssh")) << ssh;
}

TEST_P(Cli, CommandLineErrorsUseTheDocumentedForm) {
  Result r = hpai({"--bogus", image(), "--", "true"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_TRUE(r.err.starts_with("hpai-run[")) << r;
  EXPECT_TRUE(contains(r.err, "]: error: unknown option --bogus")) << r;
  Result none = hpai({});
  EXPECT_EQ(none.exit_code, 64);
  EXPECT_TRUE(contains(none.err, "]: error: no IMAGE given")) << none;
}

// -v shows the join decision of each rank and what its environment changes.
TEST_P(Cli, VerboseShowsTheJoinDecisionAndTheEnvironment) {
  const std::string d = scratch().path();
  const std::string rank = hpai_run() + " -v --join-ct=2 --join-tag=verbose-$$ " + image() + " -- true";
  Result r = run_as(
      who(), {"sh", "-c", rank + " 2>" + d + "/a & " + rank + " 2>" + d + "/b & wait; cat " + d + "/a " + d + "/b"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "join: 2 rank(s) on this node share one container (count from --join-ct=2, tag verbose-"))
      << r;
  EXPECT_TRUE(contains(r.out, ": building the container (2 ranks expected, from --join-ct=2)")) << r;
  EXPECT_TRUE(contains(r.out, "join: entering the container of tag verbose-")) << r;
  EXPECT_TRUE(contains(r.out, "environment: set HPAI_RUNNING=1")) << r;
  EXPECT_TRUE(contains(r.out, "environment: set CH_RUNNING=hpai")) << r;
}

// A rank that disagrees on --join-ct is refused without taking the slot a matching
// rank then needs.
TEST_P(Cli, ARankWithAnotherJoinCountTakesNoSlot) {
  const std::string d = scratch().path();
  const std::string tag = "--join-tag=slot-$$ ";
  const std::string first =
      hpai_run() + " --join-ct=2 " + tag + image() + " -- sh -c 'readlink /proc/self/ns/mnt; sleep 2'";
  const std::string wrong = hpai_run() + " --join-ct=3 " + tag + image() + " -- true";
  const std::string right = hpai_run() + " --join-ct=2 " + tag + image() + " -- readlink /proc/self/ns/mnt";
  Result r = run_as(
      who(), {"sh", "-c",
              first + " >" + d + "/a & a=$!; sleep 0.5; " + wrong + " 2>" + d + "/w; echo wrong=$?; " + right + " >" +
                  d + "/c; echo right=$?; wait $a; echo first=$?; cat " + d + "/w; cat " + d + "/a " + d + "/c"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "wrong=31")) << r;
  EXPECT_TRUE(contains(r.out, "options differ from those the node's container was built with")) << r;
  EXPECT_TRUE(contains(r.out, "right=0")) << r;
  EXPECT_TRUE(contains(r.out, "first=0")) << r;
  auto ns = r.out.substr(r.out.find("mnt:["));
  EXPECT_EQ(ns.substr(0, ns.find('\n')),
            ns.substr(ns.rfind("mnt:[")).substr(0, ns.substr(ns.rfind("mnt:[")).find('\n')))
      << "the matching rank joined the first one's container\n"
      << r;
}

// ch-run's last resort for the peer count: the allocation's CPUs on this node.
TEST_P(Cli, JoinCountFromSlurmCpusOnNode) {
  Result r = hpai({"-j", "--dry-run", image(), "--", "true"}, {"SLURM_CPUS_ON_NODE=3"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "count from SLURM_CPUS_ON_NODE=3")) << r;
  Result none = hpai({"-j", "--dry-run", image(), "--", "true"});
  EXPECT_EQ(none.exit_code, 64) << none;
}

}  // namespace
}  // namespace hpai::test
