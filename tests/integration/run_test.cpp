// hpai-run on real images: running, read-only/-w/-W, exit codes, signals, --dry-run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Run : public ContainerTest {};
INSTANTIATE_TEST_SUITE_P(, Run, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Run, DebianImageRunsCatDebianVersion) {
  std::string image = test_image("debian");
  Result r = hpai({image, "--", "cat", "/etc/debian_version"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, read_file(image + "/etc/debian_version"));
  EXPECT_TRUE(r.out.starts_with("12.")) << r.out;
}

TEST_P(Run, DebianToolsSeeTheUser) {
  Result r = hpai({test_image("debian"), "--", "sh", "-c", "id -un; getent passwd $(id -u) | cut -d: -f1; whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string name = GetParam() == As::Root ? "root" : who().name;
  EXPECT_EQ(r.out, name + "\n" + name + "\n" + name + "\n");
}

TEST_P(Run, RelativeImagePathAndSymlinkToImage) {
  std::string link = scratch().path() + "/img-link";
  ASSERT_EQ(symlink(test_image("busybox").c_str(), link.c_str()), 0);
  Result r = hpai({"img-link", "--", "cat", "/etc/image-release"}, {}, scratch().path());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "busybox image\n");
}

TEST_P(Run, ImageIsReadOnlyByDefault) {
  Result r = hpai({test_image("busybox"), "--", "touch", "/newfile"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "Read-only file system")) << r;
}

TEST_P(Run, WriteFlagWritesIntoTheImage) {
  std::string image = own_copy("busybox");
  Result r = hpai({"-w", image, "--", "sh", "-c", "echo written > /etc/written"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(image + "/etc/written"), "written\n");
}

TEST_P(Run, WriteFakeWritesAnywhereAndLeavesTheImageUntouched) {
  std::string image = own_copy("busybox");
  Result r = hpai({"-W", image, "--", "sh", "-c", "echo x > /etc/new && rm /etc/image-release && cat /etc/new"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "x\n");
  struct stat st {};
  EXPECT_NE(stat((image + "/etc/new").c_str(), &st), 0);
  EXPECT_EQ(read_file(image + "/etc/image-release"), "busybox image\n");
}

TEST_P(Run, WriteFakeOnSomeoneElsesImage) {
  // The shared fixture is owned by root. overlayfs can't copy up a directory whose
  // owner is not mapped in the user namespace, so an unprivileged user writes only
  // into fresh paths of directories it may copy up: none here (EOVERFLOW). Root's ids
  // are mapped, so root writes anywhere. Either way the image is left as it was.
  Result r = hpai({"-W", test_image("busybox"), "--", "sh", "-c", "echo y > /var/tmp/y && cat /var/tmp/y"});
  if (GetParam() == As::Root) {
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "y\n");
  } else {
    EXPECT_NE(r.exit_code, 0) << r;
    EXPECT_TRUE(contains(r.err, "Value too large for defined data type")) << r;
  }
  struct stat st {};
  EXPECT_NE(stat((test_image("busybox") + "/var/tmp/y").c_str(), &st), 0);
}

TEST_P(Run, WriteFakeSizeLimitsTheOverlay) {
  std::string image = own_copy("busybox");
  Result r = hpai({"--write-fake=1m", image, "--", "dd", "if=/dev/zero", "of=/big", "bs=1M", "count=4"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r;
}

TEST_P(Run, WriteAndWriteFakeConflict) {
  Result r = hpai({"-w", "-W", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 64) << r;
  EXPECT_TRUE(contains(r.err, "can't be combined")) << r;
}

TEST_P(Run, ExitStatusIsThePayloads) {
  Result r = hpai({test_image("busybox"), "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(r.exit_code, 7) << r;
}

TEST_P(Run, PayloadKilledBySignalIsReportedAsThatSignal) {
  Result r = hpai({test_image("busybox"), "--", "sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(r.signal, SIGKILL) << r;
  // ... which a shell (srun, batch scripts) reports as 128+N.
  Result sh =
      run_as(who(), {"sh", "-c", hpai_run() + " " + test_image("busybox") + " -- sh -c 'kill -TERM $$'; echo $?"});
  EXPECT_EQ(sh.out, "143\n") << sh;
}

TEST_P(Run, SignalsFromTheLauncherReachThePayload) {
  // What srun does at a time limit: SIGTERM to the process it started. The payload
  // says it is ready (trap installed) through a file in $TMPDIR, the container's /tmp.
  std::string ready = scratch().path() + "/ready";
  Result r = run_as(who(),
                    {hpai_run(), test_image("busybox"), "--", "sh", "-c",
                     "trap 'echo got TERM; exit 42' TERM; touch /tmp/ready; while :; do sleep 0.05; done"},
                    {"TMPDIR=" + scratch().path()}, "/", [&](pid_t pid) {
                      for (int i = 0; i < 400 && access(ready.c_str(), F_OK) != 0; ++i)
                        std::this_thread::sleep_for(std::chrono::milliseconds(25));
                      kill(pid, SIGTERM);
                    });
  EXPECT_EQ(r.exit_code, 42) << r;
  EXPECT_TRUE(contains(r.out, "got TERM")) << r;
}

TEST_P(Run, CommandNotFoundHasItsOwnExitCode) {
  Result r = hpai({test_image("busybox"), "--", "no-such-command"});
  EXPECT_EQ(r.exit_code, 49) << r;
  EXPECT_TRUE(contains(r.err, "can't run no-such-command: command not found in the image")) << r;
}

TEST_P(Run, NonExecutableCommandHasTheExecExitCode) {
  Result r = hpai({test_image("busybox"), "--", "/etc/image-release"});
  EXPECT_EQ(r.exit_code, 49) << r;
  EXPECT_TRUE(contains(r.err, "permission denied")) << r;
}

TEST_P(Run, MissingImageIsALaunchError) {
  Result r = hpai({"/nonexistent/image", "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "can't find image /nonexistent/image: No such file or directory")) << r;
}

TEST_P(Run, ImageThatIsAFileIsRejected) {
  Result r = hpai({test_image("busybox") + "/etc/image-release", "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "is not a directory")) << r;
}

TEST_P(Run, UnknownFlagIsAUsageError) {
  Result r = hpai({"--no-such-flag", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 64) << r;
  EXPECT_TRUE(contains(r.err, "--no-such-flag")) << r;
}

TEST_P(Run, NoCommandRunsTheImagesEntrypointAndCmd) {
  Result r = hpai({test_image("busybox")});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "entrypoint-ran\n");
}

TEST_P(Run, VersionAndHelp) {
  Result v = hpai({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(v.out.starts_with("hpai-run ")) << v;
  Result h = hpai({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* s : {"--bind", "--write-fake", "--set-env", "EXIT STATUS", "EXAMPLES"})
    EXPECT_TRUE(contains(h.out, s)) << s;
}

TEST_P(Run, DryRunPrintsThePlanWithoutRunning) {
  std::string marker = scratch().path() + "/must-not-exist";
  Result r = hpai({"--dry-run", "-b", scratch().path() + ":/mnt", "-W", test_image("busybox"), "--", "touch", marker});
  ASSERT_EQ(r.exit_code, 0) << r;
  for (const char* s : {"namespaces:  user, mount", "/proc -> /proc", "generated passwd -> /etc/passwd", " -> /mnt",
                        "overlay", "set   HPAI_RUNNING=1", "command:     touch"})
    EXPECT_TRUE(contains(r.out, s)) << s << "\n" << r;
  struct stat st {};
  EXPECT_NE(stat(marker.c_str(), &st), 0);
}

TEST_P(Run, DryRunJsonListsEveryMount) {
  Result r = hpai({"--dry-run", "--json", "-t", test_image("busybox"), "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto plan = nlohmann::json::parse(r.out);
  std::vector<std::string> targets;
  for (const auto& m : plan["mounts"]) targets.push_back(m["target"]);
  std::vector<std::string> expected = {"/",           "/dev",       "/proc", "/sys", "/etc/hosts", "/etc/resolv.conf",
                                       "/etc/passwd", "/etc/group", "/tmp"};
  EXPECT_EQ(targets, expected);  // no /etc/machine-id: the busybox image has none, so it is skipped
  EXPECT_EQ(plan["mounts"].back()["type"], "tmpfs");
  EXPECT_EQ(plan["uid_map"]["outside"], who().uid);
  EXPECT_EQ(plan["argv"], nlohmann::json({"true"}));
  EXPECT_EQ(plan["cwd"], "/work");
}

}  // namespace
}  // namespace hpai::test
