// What users and site admins ran into, with the real tools as the test user and as
// root: docker archives' tags, docker's Entrypoint rule, import messages, a site
// admin's first profile.
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;

class RealUse : public ContainerTest {};
INSTANTIATE_TEST_SUITE_P(, RealUse, ::testing::Values(As::Unprivileged, As::Root), as_name);

// docker save's RepoTags are REPO:TAG, so SRC:TAG has two colons; a bare TAG or --tag
// pick the image too, and a wrong one lists what the archive has.
TEST_P(RealUse, DockerArchiveTagsWithTheirColons) {
  const std::string tar = test_image("debian-oci") + "/docker.tar";
  Result full = image({"import", tar + ":docker.io/hpai/debian:latest", "a"});
  EXPECT_EQ(full.exit_code, 0) << full;
  Result bare = image({"import", tar + ":latest", "b"});
  EXPECT_EQ(bare.exit_code, 0) << bare;
  Result flag = image({"import", "--tag", "docker.io/hpai/debian:latest", tar, "c"});
  EXPECT_EQ(flag.exit_code, 0) << flag;
  Result wrong = image({"import", tar + ":nope", "d"});
  EXPECT_EQ(wrong.exit_code, 31) << wrong;
  EXPECT_TRUE(
      contains(wrong.err, "no image tagged \"nope\" (it has: docker.io/hpai/debian:latest; pick one with --tag"))
      << wrong;
  Result twice = image({"import", "--tag", "latest", tar + ":latest", "e"});
  EXPECT_EQ(twice.exit_code, 64) << twice;
}

// docker run IMAGE ARGS: the Entrypoint with ARGS in place of its Cmd, spelt
// --entrypoint-args; without it, the words after IMAGE are the command (ch-run's rule).
TEST_P(RealUse, DockersEntrypointRuleHasAFlag) {
  Result args = hpai({"--entrypoint-args", test_image("busybox"), "hello", "world"});
  EXPECT_EQ(args.exit_code, 0) << args;
  EXPECT_EQ(args.out, "hello world\n") << "the image's Entrypoint is /bin/echo";
  Result none = hpai({"--entrypoint-args", test_image("busybox")});
  EXPECT_EQ(none.out, "entrypoint-ran\n") << none;
  Result chrun = hpai({test_image("busybox"), "echo", "as", "command"});
  EXPECT_EQ(chrun.out, "as command\n") << chrun;
  // The image's USER: not applied, and -v says so.
  const std::string img = own_copy("busybox");
  auto meta = nlohmann::json::parse(read_file(img + "/.hpai/image.json"));
  meta["config"]["User"] = "1000:1000";
  fs::permissions(img + "/.hpai/image.json", fs::perms::owner_write, fs::perm_options::add);
  write_file(img + "/.hpai/image.json", meta.dump());
  Result v = hpai({"-v", img, "--", "true"});
  EXPECT_EQ(v.exit_code, 0) << v;
  EXPECT_TRUE(contains(v.err, "the image's USER 1000:1000 is not applied")) << v;
}

TEST_P(RealUse, ImportMessagesSayWhatToDo) {
  // Names that aren't ASCII: no "can't be converted" warning, names kept.
  const std::string tar = scratch().path() + "/utf8.tar";
  const std::string src = scratch().path() + "/utf8";
  fs::create_directories(src + "/caf\xc3\xa9");
  write_file(src + "/\xe6\x97\xa5\xe6\x9c\xac.txt", "x");
  ASSERT_EQ(run_as(root_user(), {"tar", "--format=pax", "-C", src, "-cf", tar, "."}).exit_code, 0);
  run_as(root_user(), {"chmod", "-R", "a+rX", scratch().path()});
  Result u = image({"import", tar, "utf8"});
  EXPECT_EQ(u.exit_code, 0) << u;
  EXPECT_FALSE(contains(u.err, "can't be converted")) << u;
  EXPECT_TRUE(fs::exists(storage() + "/img/utf8/caf\xc3\xa9")) << "the name as the archive spells it";
  // -q: nothing but errors.
  Result q = image({"-q", "import", "--force", tar, "utf8"});
  EXPECT_EQ(q.exit_code, 0) << q;
  EXPECT_EQ(q.out + q.err, "") << q;
  // A tree the user can't read whole (root built it): what is wrong and the way out.
  if (GetParam() == As::Unprivileged && running_as_root()) {
    const std::string tree = scratch().path() + "/rootfs";
    fs::create_directories(tree + "/secret");
    fs::permissions(tree + "/secret", fs::perms::owner_all);  // root's, 0700
    Result r = image({"import", "--format", "dir", tree, "tree"});
    EXPECT_EQ(r.exit_code, 31) << r;
    EXPECT_TRUE(contains(r.err, "can't read " + tree + "/secret: permission denied")) << r;
    EXPECT_TRUE(contains(r.err, "have its owner tar it")) << r;
  }
}

TEST_P(RealUse, ASiteAdminsFirstProfile) {
  const std::string mpich = "/usr/lib/x86_64-linux-gnu/libmpich.so.12";
  if (access(mpich.c_str(), F_OK) != 0) GTEST_SKIP() << "no host MPICH";
  // Open MPI's family with MPICH's libraries: caught by the check and by the run.
  const std::string wrong = profile("wrong-family", R"({"hpai_profile": 1,
  "mpi": {"family": "openmpi", "libraries": [")" + mpich +
                                                        R"("]}})");
  Result check = run_as(who(), {hpai_profile(), "check", wrong});
  EXPECT_EQ(check.exit_code, 1) << check;
  EXPECT_TRUE(contains(
      check.err, wrong + ":2:3: error: mpi.family is openmpi, but the host libraries (libmpich.so.12) are mpich's"))
      << check;
  Result run = hpai({"--profile", wrong, test_image("debian-mpi"), "--", "true"});
  EXPECT_EQ(run.exit_code, 31) << run;
  EXPECT_TRUE(contains(run.err, "--no-mpi keeps the image's MPI")) << run;
  // A trailing comma: FILE:LINE:COL: error: ..., as editors and CI parse it.
  const std::string syntax = profile("syntax", "{\"hpai_profile\": 1,\n  \"binds\": [\"/opt\",],\n}\n");
  Result s = run_as(who(), {hpai_profile(), "check", syntax});
  EXPECT_TRUE(s.err.starts_with(syntax + ":2:20: error: invalid JSON")) << s;
  // "auto" on a node without a driver: quiet.
  const std::string automatic =
      profile("auto", R"({"hpai_profile": 1, "nvidia": {"enabled": "auto", "ld_cache": "/etc/ld.so.cache"}})");
  Result a = hpai({"--profile", automatic, test_image("busybox"), "--", "true"});
  EXPECT_EQ(a.exit_code, 0) << a;
  EXPECT_EQ(a.err, "") << "a CPU node is no reason to warn\n" << a;
  // Profile env can't undo what the job's launcher set (as image ENV can't).
  const std::string env =
      profile("env", R"({"hpai_profile": 1, "env": {"set": {"CUDA_VISIBLE_DEVICES": "0", "SITE": "x"}}})");
  Result e = hpai({"--profile", env, test_image("busybox"), "--", "sh", "-c", "echo $CUDA_VISIBLE_DEVICES $SITE"},
                  {"CUDA_VISIBLE_DEVICES=2,3"});
  EXPECT_EQ(e.out, "2,3 x\n") << e;
}

}  // namespace
}  // namespace hpai::test
