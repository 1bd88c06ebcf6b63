// Ids, generated passwd/group, and the payload's environment (incl. ch-run conformance).
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Identity : public ContainerTest {};
INSTANTIATE_TEST_SUITE_P(, Identity, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Identity, DefaultIdsAreTheHostIds) {
  Result r = hpai({test_image("busybox"), "--", "sh", "-c", "id -u; id -g"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, std::to_string(who().uid) + "\n" + std::to_string(who().gid) + "\n");
}

TEST_P(Identity, UidAndGidGoThroughTheMapOnly) {
  Result r = hpai({"-u", "1234", "-g", "5678", test_image("busybox"), "--", "sh", "-c",
                   "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string uid = std::to_string(who().uid), gid = std::to_string(who().gid);
  EXPECT_TRUE(r.out.starts_with("1234\n5678\n")) << r;
  EXPECT_TRUE(contains(r.out, "1234 " + std::string(10 - uid.size(), ' ') + uid + "          1")) << r;
  EXPECT_TRUE(contains(r.out, "5678 " + std::string(10 - gid.size(), ' ') + gid + "          1")) << r;
}

TEST_P(Identity, GeneratedPasswdAndGroup) {
  Result r =
      hpai({"-u", "1234", "-g", "5678", test_image("busybox"), "--", "sh", "-c", "cat /etc/passwd /etc/group; id"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string name = who().name;
  EXPECT_TRUE(contains(r.out, "root:x:0:0:root:/root:/bin/sh\n")) << r;
  EXPECT_TRUE(contains(r.out, ":x:1234:5678:")) << r;
  EXPECT_TRUE(contains(r.out, "nobody:x:65534:65534:nobody:/:/bin/false\n")) << r;
  EXPECT_TRUE(contains(r.out, "nogroup:x:65534:\n")) << r;
  if (GetParam() == As::Unprivileged) {
    EXPECT_TRUE(contains(r.out, "uid=1234(" + name + ")")) << r;
  }
}

TEST_P(Identity, NoPasswdKeepsTheImagesFiles) {
  Result r = hpai({"--no-passwd", test_image("busybox"), "--", "cat", "/etc/passwd"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "root:x:0:0:image root:/root:/bin/sh\n");
}

TEST(Setuid, SetuidInstallIsRefused) {
  if (!running_as_root()) GTEST_SKIP() << "making a setuid-root copy needs root";
  User user = test_user();
  ScratchDir dir(root_user());
  struct statvfs sv {};
  ASSERT_EQ(statvfs(dir.path().c_str(), &sv), 0);
  if (sv.f_flag & ST_NOSUID) GTEST_SKIP() << dir.path() << " is mounted nosuid";
  // Whether a setuid bit takes effect at all here: not under no_new_privs (a CI runner
  // or a systemd unit may set it, and children inherit it) nor under a security module.
  std::string id = dir.path() + "/id";
  ASSERT_EQ(run_as(root_user(), {"cp", "/usr/bin/id", id}).exit_code, 0);
  ASSERT_EQ(chmod(id.c_str(), 04755), 0);
  Result probe = run_as(user, {id, "-u"});
  ASSERT_EQ(probe.exit_code, 0) << probe;
  if (probe.out != "0\n") {
    const bool nnp = contains(read_file("/proc/self/status"), "NoNewPrivs:\t1");
    GTEST_SKIP() << "a setuid-root copy of id(1) runs with effective uid " << probe.out << "here: "
                 << (nnp ? "this test runs under no_new_privs" : "setuid bits take no effect on this machine");
  }
  std::string copy = dir.path() + "/hpai-run";
  ASSERT_EQ(run_as(root_user(), {"cp", hpai_run(), copy}).exit_code, 0);
  ASSERT_EQ(chmod(copy.c_str(), 04755), 0);
  Result r = run_as(user, {copy, test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "hpai-run[")) << "the documented hpai-run[PID]: error: form\n" << r;
  EXPECT_TRUE(contains(r.err, "installed setuid (real uid " + std::to_string(user.uid) + ", effective uid 0")) << r;
  // Setgid: the message speaks of gids.
  ASSERT_EQ(chmod(copy.c_str(), 02755), 0);
  Result g = run_as(user, {copy, test_image("busybox"), "--", "true"});
  EXPECT_EQ(g.exit_code, 31) << g;
  EXPECT_TRUE(contains(g.err, "installed setgid (real gid " + std::to_string(user.gid) + ", effective gid 0")) << g;
  EXPECT_FALSE(contains(g.err, "uid")) << g;
}

class Env : public ContainerTest {
 protected:
  std::map<std::string, std::string> env_in(const std::vector<std::string>& args,
                                            const std::vector<std::string>& host_env = {}) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {test_image("busybox"), "--", "env"});
    Result r = hpai(a, host_env);
    EXPECT_EQ(r.exit_code, 0) << r;
    std::map<std::string, std::string> vars;
    std::size_t start = 0;
    while (start < r.out.size()) {
      auto nl = r.out.find('\n', start);
      std::string line = r.out.substr(start, nl - start);
      auto eq = line.find('=');
      if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
      start = nl == std::string::npos ? r.out.size() : nl + 1;
    }
    return vars;
  }
};
INSTANTIATE_TEST_SUITE_P(, Env, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Env, HostEnvironmentPassesThroughAndImageEnvApplies) {
  auto v = env_in({}, {"HOST_VAR=from-host", "TMPDIR=/tmp"});
  EXPECT_EQ(v["HOST_VAR"], "from-host");
  EXPECT_EQ(v["IMAGE_VAR"], "from-image");
  EXPECT_EQ(v["PATH"], "/usr/bin:/bin");
  EXPECT_EQ(v["HPAI_RUNNING"], "1");
  EXPECT_EQ(v["CH_RUNNING"], "hpai");
  EXPECT_EQ(v.count("TMPDIR"), 0u);
  EXPECT_EQ(v["HOME"], who().home) << "the host's HOME, as ch-run keeps it";
}

TEST_P(Env, LauncherVariablesFromTheHostBeatTheImage) {
  EXPECT_EQ(env_in({}, {"SLURM_JOB_ID=4242"})["SLURM_JOB_ID"], "4242");
  EXPECT_EQ(env_in({})["SLURM_JOB_ID"], "image-value");
}

TEST_P(Env, NoImageEnvSkipsImageEnv) {
  auto v = env_in({"--no-image-env"}, {"PATH=/host/bin:/usr/bin"});
  EXPECT_EQ(v.count("IMAGE_VAR"), 0u);
  EXPECT_EQ(v["PATH"], "/host/bin:/usr/bin:/bin") << "/bin is appended when missing";
}

TEST_P(Env, SetAndUnsetApplyInCommandLineOrder) {
  std::string file = scratch().path() + "/env.txt";
  write_file(file, "FROM_FILE='quoted value'\n\nPATH=/opt/bin:$PATH\n");
  chmod(file.c_str(), 0644);
  auto v = env_in({"--no-image-env", "--set-env=" + file, "--set-env=A=1", "--set-env=B=2", "--unset-env=A",
                   "--set-env=C=$B:x", "--set-env", "--unset-env=HOST_*"},
                  {"HOST_ONE=1", "HOST_TWO=2", "PATH=/usr/bin:/bin"});
  EXPECT_EQ(v["FROM_FILE"], "quoted value");
  EXPECT_EQ(v.count("A"), 0u);
  EXPECT_EQ(v["C"], "2:x");
  EXPECT_EQ(v["IMAGE_VAR"], "from-image") << "bare --set-env applies the image's ENV at that point";
  EXPECT_EQ(v["PATH"], "/usr/bin:/bin") << "the image's PATH, applied by bare --set-env after the file";
  EXPECT_EQ(v.count("HOST_ONE") + v.count("HOST_TWO"), 0u);
}

// As in ch-run, --env-no-expand applies to every --set-env, given before or after it.
TEST_P(Env, EnvNoExpandKeepsDollarsLiterallyEverywhere) {
  auto v = env_in({"--set-env=X=$HOME", "--env-no-expand", "--set-env=Y=$HOME", "--set-env=Z=bar:$"});
  EXPECT_EQ(v["X"], "$HOME");
  EXPECT_EQ(v["Y"], "$HOME");
  EXPECT_EQ(v["Z"], "bar:$");
  auto e = env_in({"--set-env=V=bar:$", "--set-env=W=$HOME:$"});
  EXPECT_EQ(e["V"], "bar:$") << "a lone $ is kept, as ch-run keeps it";
  EXPECT_EQ(e["W"], who().home + ":$");
}

// As ch-run's: CH_RUNNING survives --unset-env='*' (HPAI_RUNNING is set before it).
TEST_P(Env, ChRunningSurvivesUnsetEverything) {
  Result r = hpai({"--unset-env=*", test_image("busybox"), "--", "/bin/env"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "CH_RUNNING=hpai\n");
  Result some = hpai({"--unset-env=!(KEEP_*)", test_image("busybox"), "--", "/bin/env"}, {"KEEP_A=1"});
  EXPECT_EQ(some.out, "KEEP_A=1\nCH_RUNNING=hpai\n") << some;
}

TEST_P(Env, UnsetPathIsWarnedAboutAndLeftUnset) {
  Result r =
      run_as(who(), {"env", "-u", "PATH", hpai_run(), "--no-image-env", test_image("busybox"), "--", "/bin/env"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(contains(r.out, "PATH=")) << r;
  EXPECT_TRUE(contains(r.err, "warning: $PATH not set")) << r;
}

TEST_P(Env, BareSetEnvWithoutImageEnvWarns) {
  const std::string img = own_copy("busybox");
  std::filesystem::remove(img + "/.hpai/image.json");
  Result r = hpai({"--set-env", img, "--", "true"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "has no ENV")) << r;
}

TEST_P(Env, BadSetEnvIsAClearError) {
  Result r = hpai({"--set-env==x", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "can't parse variable \"=x\": empty name")) << r;
  Result f = hpai({"--set-env=/no/such/file", test_image("busybox"), "--", "true"});
  EXPECT_EQ(f.exit_code, 31) << f;
  EXPECT_TRUE(contains(f.err, "can't read --set-env file /no/such/file")) << f;
}

// The --set-env table from ch-run(1), run through both launchers side by side.
TEST_P(Env, SetEnvMatchesChRun) {
  if (access("/usr/bin/ch-run", X_OK) != 0) GTEST_SKIP() << "ch-run (Debian charliecloud) not installed";
  const std::vector<std::string> assignments = {"FOO=bar",
                                                "FOO2=bar=baz",
                                                "FLAGS=-march=foo -mtune=bar",
                                                "FLAGS2='-march=foo -mtune=bar'",
                                                "F3=$BAR",
                                                "F4=$BAR:baz",
                                                "F5=",
                                                "F6=$UNSET",
                                                "F7=baz:$UNSET:qux",
                                                "F8=:bar:baz::",
                                                "F9=''",
                                                "F10=''''",
                                                "F11=\"bar\"",
                                                "F12=bar # baz",
                                                "F13=b\\tb",
                                                "F14= bar",
                                                "F15=$BAR baz:qux"};
  std::vector<std::string> args;
  for (const auto& a : assignments) args.push_back("--set-env=" + a);
  std::vector<std::string> host = {"BAR=bar", "UNSET="};
  auto ours = env_in(args, host);
  std::vector<std::string> ch = {"/usr/bin/ch-run"};
  ch.insert(ch.end(), args.begin(), args.end());
  ch.insert(ch.end(), {test_image("busybox"), "--", "env"});
  Result theirs = run_as(who(), ch, host);
  ASSERT_EQ(theirs.exit_code, 0) << theirs;
  for (const auto& a : assignments) {
    std::string name = a.substr(0, a.find('='));
    std::string line = "\n" + name + "=";
    auto at = ("\n" + theirs.out).find(line);
    ASSERT_NE(at, std::string::npos) << name << " missing from ch-run output";
    auto rest = ("\n" + theirs.out).substr(at + line.size());
    EXPECT_EQ(ours[name], rest.substr(0, rest.find('\n'))) << "for --set-env=" << a;
  }
}

}  // namespace
}  // namespace hpai::test
