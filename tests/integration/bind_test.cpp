// Binds, /tmp, --home and --cd on real images.
#include <sys/stat.h>
#include <unistd.h>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Binds : public ContainerTest {
 protected:
  // A host directory with one file, readable by the test user.
  std::string host_data() {
    std::string dir = scratch().path() + "/data";
    run_as(who(), {"mkdir", "-p", dir});
    run_as(who(), {"sh", "-c", "echo host-data > " + dir + "/file"});
    return dir;
  }
};
INSTANTIATE_TEST_SUITE_P(, Binds, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Binds, DefaultBindsAreThere) {
  Result r = hpai({test_image("busybox"), "--", "sh", "-c",
                   "test -c /dev/null && test -r /proc/self/status && test -d /sys/kernel && cat /etc/hosts"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, read_file("/etc/hosts"));  // the host's file, not the image's
}

TEST_P(Binds, ExplicitBindWithDestination) {
  std::string data = host_data();
  Result r = hpai({"-b", data + ":/mnt", test_image("busybox"), "--", "cat", "/mnt/file"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "host-data\n");
}

TEST_P(Binds, SeveralBindsAndAFileBind) {
  std::string data = host_data();
  Result r = hpai({"-b", data + ":/mnt", "--bind", data + "/file:/etc/image-release", "-b", data + ":/work",
                   test_image("busybox"), "--", "sh", "-c", "cat /mnt/file /etc/image-release /work/file"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "host-data\nhost-data\nhost-data\n");
}

TEST_P(Binds, BindDestinationDefaultsToSourceAndIsCreatedWithWriteFake) {
  std::string data = host_data();
  std::string image = own_copy("busybox");
  Result r = hpai({"-W", "-b", data, image, "--", "cat", data + "/file"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "host-data\n");
  struct stat st {};
  EXPECT_NE(stat((image + data).c_str(), &st), 0) << "-W must not create mount points in the image itself";
}

TEST_P(Binds, BindDestinationIsCreatedInTheImageWithWrite) {
  std::string data = host_data();
  std::string image = own_copy("busybox");
  Result r = hpai({"-w", "-b", data + ":/new/deep/dir", image, "--", "cat", "/new/deep/dir/file"});
  ASSERT_EQ(r.exit_code, 0) << r;
  struct stat st {};
  EXPECT_EQ(stat((image + "/new/deep/dir").c_str(), &st), 0);
}

TEST_P(Binds, MissingDestinationInReadOnlyImageIsAClearError) {
  Result r = hpai({"-b", host_data() + ":/no/such/dir", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "/no/such/dir does not exist in image")) << r;
  EXPECT_TRUE(contains(r.err, "read-only (create it in the image, or run with -w or -W)")) << r;
}

TEST_P(Binds, MissingSourceIsAClearError) {
  Result r = hpai({"-b", "/lrz/sys", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "can't bind /lrz/sys: no such file or directory on host (from -b /lrz/sys)")) << r;
}

TEST_P(Binds, RelativeOrRootDestinationIsAUsageError) {
  Result rel = hpai({"-b", "/etc:relative", test_image("busybox"), "--", "true"});
  EXPECT_EQ(rel.exit_code, 64) << rel;
  EXPECT_TRUE(contains(rel.err, "must be an absolute path")) << rel;
  Result root = hpai({"-b", "/etc:/", test_image("busybox"), "--", "true"});
  EXPECT_EQ(root.exit_code, 64) << root;
  EXPECT_TRUE(contains(root.err, "can't bind over the container's /")) << root;
}

TEST_P(Binds, FileOntoDirectoryIsRefused) {
  Result r = hpai({"-b", host_data() + "/file:/mnt", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "a file can't be mounted on a directory")) << r;
}

TEST_P(Binds, DestinationThroughSymlinkStaysInsideTheImage) {
  // The image has /mnt/escape -> ../../../../../../../../etc/hpai-escape-target. In the
  // container that is the image's own /etc/hpai-escape-target; the bind must land
  // there (created in the writable copy), never in the host's /etc.
  std::string data = host_data();
  std::string image = own_copy("busybox");
  std::string host_target = "/etc/hpai-escape-target";
  struct stat st {};
  ASSERT_NE(stat(host_target.c_str(), &st), 0) << "leftover " << host_target;
  Result r = hpai({"-w", "-b", data + ":/mnt/escape/sub", image, "--", "cat", "/etc/hpai-escape-target/sub/file"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "host-data\n");
  EXPECT_NE(stat(host_target.c_str(), &st), 0) << "a mount point was created on the host";
  EXPECT_EQ(stat((image + "/etc/hpai-escape-target/sub").c_str(), &st), 0);
}

TEST_P(Binds, TmpIsTheHostsTmpdirOrPrivate) {
  std::string tmpdir = scratch().path();
  run_as(who(), {"sh", "-c", "echo in-tmpdir > " + tmpdir + "/marker"});
  Result shared = hpai({test_image("busybox"), "--", "sh", "-c", "cat /tmp/marker; echo TMPDIR=${TMPDIR-unset}"},
                       {"TMPDIR=" + tmpdir});
  ASSERT_EQ(shared.exit_code, 0) << shared;
  EXPECT_EQ(shared.out, "in-tmpdir\nTMPDIR=unset\n");
  Result priv =
      hpai({"-t", test_image("busybox"), "--", "sh", "-c", "ls -A /tmp | wc -l; touch /tmp/x && echo writable"},
           {"TMPDIR=" + tmpdir});
  ASSERT_EQ(priv.exit_code, 0) << priv;
  EXPECT_EQ(priv.out, "0\nwritable\n");
}

TEST_P(Binds, HomeBindsTheHostHome) {
  std::string home = scratch().path() + "/home";
  run_as(who(), {"sh", "-c", "mkdir " + home + " && echo in-home > " + home + "/.profile-marker"});
  std::string name = who().name;
  Result r = hpai({"--home", test_image("busybox"), "--", "sh", "-c", "echo $HOME; cat $HOME/.profile-marker"},
                  {"HOME=" + home});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "/home/" + name + "\nin-home\n");
}

TEST_P(Binds, CdSetsTheWorkingDirectory) {
  Result r = hpai({"--cd", "/etc", test_image("busybox"), "--", "pwd"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "/etc\n");
  Result img = hpai({test_image("busybox"), "--", "pwd"});
  EXPECT_EQ(img.out, "/work\n") << "the image's WorkingDir applies without --cd";
  Result none = hpai({"--no-image-env", test_image("busybox"), "--", "pwd"});
  EXPECT_EQ(none.out, "/\n");
}

TEST_P(Binds, CdToMissingDirectoryIsAClearError) {
  Result r = hpai({"-c", "/nope", test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "can't cd to /nope in the image")) << r;
}

}  // namespace
}  // namespace hpai::test
