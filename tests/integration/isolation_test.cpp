// What the container must not be able to do (checks from Charliecloud's suite).
#include <unistd.h>

#include "harness.hpp"

namespace hpai::test {
namespace {

class Isolation : public ContainerTest {};
INSTANTIATE_TEST_SUITE_P(, Isolation, ::testing::Values(As::Unprivileged, As::Root), as_name);

std::string host_ns(const char* kind) {
  char buf[64] = {};
  auto n = readlink((std::string("/proc/self/ns/") + kind).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

TEST_P(Isolation, UserAndMountNamespacesDifferFromTheHost) {
  Result r = hpai({test_image("busybox"), "--", "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/mnt"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(contains(r.out, host_ns("user"))) << r;
  EXPECT_FALSE(contains(r.out, host_ns("mnt"))) << r;
  EXPECT_TRUE(r.out.starts_with("user:[")) << r;
}

TEST_P(Isolation, MknodFailsEvenAsContainerRoot) {
  Result r = hpai({"-u", "0", "-t", test_image("busybox"), "--", "mknod", "/tmp/null", "c", "1", "3"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "Operation not permitted")) << r;
}

TEST_P(Isolation, SetgroupsFails) {
  for (const char* uid : {"0", "1000"}) {
    Result r = hpai({"-u", uid, test_image("busybox"), "--", "probe", "setgroups"});
    EXPECT_EQ(r.exit_code, 0) << "uid " << uid << ": " << r;
    EXPECT_TRUE(contains(r.out, "blocked: setgroups")) << r;
  }
}

TEST_P(Isolation, SeteuidToRootFails) {
  Result r = hpai({"-u", "1000", test_image("busybox"), "--", "probe", "seteuid-root"});
  EXPECT_EQ(r.exit_code, 0) << r;
}

TEST_P(Isolation, ChrootEscapeFindsNoHostRoot) {
  // A file that exists on the host but not in the container (the image directory is
  // not bound into itself); -t keeps the host's /tmp out of view.
  std::string marker = test_image("busybox") + "/etc/image-release";
  Result r = hpai({"-u", "0", "-t", test_image("busybox"), "--", "probe", "chroot-escape", marker});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "blocked")) << r;
}

TEST_P(Isolation, HostRootCannotBeRemounted) {
  Result r = hpai({"-u", "0", test_image("busybox"), "--", "mount", "-o", "remount,rw", "/"});
  EXPECT_NE(r.exit_code, 0) << r;
  Result proc = hpai({"-u", "0", test_image("busybox"), "--", "mount", "-o", "remount,ro", "/proc"});
  EXPECT_NE(proc.exit_code, 0) << proc;
}

TEST_P(Isolation, NoHostMountIsVisibleBesideTheBinds) {
  Result r = hpai({test_image("busybox"), "--", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(contains(r.out, "/oldroot")) << r;
  EXPECT_FALSE(contains(r.out, "/newroot")) << r;
}

TEST_P(Isolation, PrivilegedPortCannotBeBound) {
  Result r = hpai({"-u", "0", test_image("busybox"), "--", "timeout", "2", "nc", "-l", "-p", "80"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "Permission denied")) << r;
}

TEST_P(Isolation, HostInitCannotBeSignalled) {
  if (GetParam() == As::Root)
    GTEST_SKIP() << "host root keeps its uid inside, so signalling its own processes is allowed";
  Result r = hpai({"-u", "0", test_image("busybox"), "--", "kill", "-0", "1"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "Operation not permitted")) << r;
}

TEST_P(Isolation, NoNewPrivilegesIsSet) {
  Result r = hpai({test_image("busybox"), "--", "grep", "NoNewPrivs", "/proc/self/status"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "NoNewPrivs:\t1")) << r;
}

}  // namespace
}  // namespace hpai::test
