// hpai-check end to end: the real binary on the test images, against the driver
// matrix recipe, a site profile resolved on this host, and this host's readiness.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace hpai::test {
namespace {

std::string recipe(const std::string& name) { return std::string(HPAI_TEST_SOURCE_DIR) + "/recipes/" + name; }

class Check : public ContainerTest {
 protected:
  Result check(std::vector<std::string> args) {
    args.insert(args.begin(), hpai_check());
    return run_as(who(), args, {}, scratch().path());
  }
  // A directory image whose /bin/sh is a ppc64le program (cross compiler), or "" when none.
  std::string ppc64le_image() {
    if (access("/usr/bin/powerpc64le-linux-gnu-gcc", X_OK) != 0) return "";
    const std::string dir = scratch().path() + "/ppc";
    Result r = run_as(who(), {"sh", "-c",
                              "mkdir -p " + dir +
                                  "/bin && echo 'int main(void){return 0;}' | "
                                  "powerpc64le-linux-gnu-gcc -x c -o " +
                                  dir + "/bin/sh -"});
    EXPECT_EQ(r.exit_code, 0) << r;
    return dir;
  }
  // A directory image with a libc defining only up to GLIBC_2.28 (a version script).
  std::string old_glibc_image() {
    const std::string dir = scratch().path() + "/old";
    Result r =
        run_as(who(), {"sh", "-c",
                       "set -e; mkdir -p " + dir + "/lib/x86_64-linux-gnu " + dir + "/bin; cd " + dir +
                           "; echo 'GLIBC_2.28 { global: f; local: *; };' > m; echo 'int f(void){return 0;}' > f.c; "
                           "gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=m -o "
                           "lib/x86_64-linux-gnu/libc.so.6 f.c; "
                           "rm m f.c; cp " +
                           test_image("busybox") + "/bin/busybox bin/sh"});
    EXPECT_EQ(r.exit_code, 0) << r;
    return dir;
  }
};
INSTANTIATE_TEST_SUITE_P(, Check, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Check, MpiImageAgainstTheDriverMatrix) {
  const std::string junit = scratch().path() + "/report.xml";
  Result r =
      check({"image", test_image("debian-mpi"), "--matrix", recipe("driver-matrix.json"), "--json", "--junit", junit});
  EXPECT_EQ(r.exit_code, 1) << r;  // the ppc64le rows fail
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["facts"]["arch"], "amd64");
  EXPECT_EQ(j[0]["facts"]["glibc"], "2.36");
  auto verdict = [&](const std::string& target, const std::string& check) {
    for (const auto& x : j[0]["results"])
      if (x["target"] == target && x["check"] == check) return x["verdict"].get<std::string>();
    return std::string("(none)");
  };
  EXPECT_EQ(verdict("summit-418", "arch"), "fail");
  EXPECT_EQ(verdict("satori-440", "arch"), "fail");
  EXPECT_EQ(verdict("x86-535", "arch"), "pass");
  EXPECT_EQ(verdict("x86-535", "cuda"), "skip");
  EXPECT_EQ(verdict("summit-418", "glibc"), "pass");  // injected libs need 2.17, the image has 2.36
  EXPECT_EQ(verdict("lrz-supermuc-ng", "mpi"), "pass");
  EXPECT_EQ(verdict("generic-debian-openmpi", "mpi"), "pass");
  // The JUnit report is well-formed XML with one testcase per target x check.
  Result xml = run_as(who(), {"python3", "-c",
                              "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); "
                              "print(len(d.getElementsByTagName('testcase')), len(d.getElementsByTagName('failure')))",
                              junit});
  ASSERT_EQ(xml.exit_code, 0) << xml;
  EXPECT_EQ(xml.out, "50 2\n") << xml;  // 10 targets x 5 checks; the two ppc64le arch failures
}

TEST_P(Check, CrossArchitectureImageFailsHere) {
  const std::string ppc = ppc64le_image();
  if (ppc.empty()) GTEST_SKIP() << "no powerpc64le cross compiler (apt-get install gcc-powerpc64le-linux-gnu)";
  Result r = check({"image", ppc});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.out, "the image is ppc64le (ELF header of /bin/sh), the target is amd64")) << r;
  Result summit = check({"image", ppc, "--target", "name=summit,arch=ppc64le,driver=418.67,brand=tesla"});
  EXPECT_EQ(summit.exit_code, 0) << summit;
}

TEST_P(Check, ProfileTargetComparesInjectedLibrariesWithTheImagesGlibc) {
  // generic-debian swaps in the host's Open MPI, built against this host's glibc 2.3x.
  Result old = check({"image", old_glibc_image(), "--profile", recipe("generic-debian.json")});
  EXPECT_EQ(old.exit_code, 1) << old;
  EXPECT_TRUE(contains(old.out, "injected by the target needs GLIBC_2.3")) << old;
  EXPECT_TRUE(contains(old.out, "the image has glibc 2.28")) << old;
  Result fine = check({"image", test_image("debian-mpi"), "--profile", recipe("generic-debian.json")});
  EXPECT_EQ(fine.exit_code, 0) << fine;
}

TEST_P(Check, SelectImagesForASite) {
  const std::string ppc = ppc64le_image();
  std::vector<std::string> args = {"select", "--site", recipe("generic-debian.json"), test_image("debian-mpi"),
                                   old_glibc_image()};
  if (!ppc.empty()) args.push_back(ppc);
  Result r = check(args);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, test_image("debian-mpi") + "\n") << r;
}

TEST_P(Check, ArchivesAndSquashfsImages) {
  // A docker-save archive is imported into a temporary storage, checked, and removed.
  Result docker = check({"image", test_image("debian-oci") + "/docker.tar", "--target", "name=x86,arch=amd64"});
  EXPECT_EQ(docker.exit_code, 0) << docker;
  EXPECT_TRUE(contains(docker.out, "arch amd64, glibc 2.36")) << docker;
  Result leftovers = run_as(
      who(),
      {"sh", "-c", "find /tmp -maxdepth 1 -name 'hpai-check.*' -user " + std::to_string(who().uid) + " | wc -l"});
  EXPECT_EQ(leftovers.out, "0\n") << "the temporary import was not removed";
  const std::string sqfs = scratch().path() + "/bb.sqfs";
  ASSERT_EQ(
      run_as(who(), {"mksquashfs", test_image("busybox"), sqfs, "-quiet", "-no-progress", "-no-xattrs"}).exit_code, 0);
  Result sq = check({"image", sqfs, "--target", "name=summit,arch=ppc64le"});
  EXPECT_EQ(sq.exit_code, 1) << sq;
  EXPECT_TRUE(contains(sq.out, "the image is amd64 (image config), the target is ppc64le")) << sq;
}

TEST_P(Check, CudaImageAgainstAFakeDriverProfileAndTheMatrix) {
  if (access("/usr/local/cuda/lib64/libcudart.so.13", R_OK) != 0)
    GTEST_SKIP() << "no CUDA 13 toolkit at /usr/local/cuda";
  if (access(test_image("fake-driver/etc/ld.so.cache").c_str(), R_OK) != 0) GTEST_SKIP() << "no fake driver fixture";
  // The toolkit's own libcudart in an image; a profile whose driver is the fake
  // 580.95.05 tree made from the toolkit's stub libcuda.
  const std::string img = scratch().path() + "/cuda13";
  Result mk = run_as(
      who(), {"sh", "-c",
              "mkdir -p " + img + "/usr/local/cuda/lib64 " + img + "/bin && cp /usr/local/cuda/lib64/libcudart.so.13 " +
                  img + "/usr/local/cuda/lib64/ && cp " + test_image("busybox") + "/bin/busybox " + img + "/bin/sh"});
  ASSERT_EQ(mk.exit_code, 0) << mk;
  const std::string profile = scratch().path() + "/fake.json";
  write_file(profile, R"({"hpai_profile": 1, "nvidia": {"enabled": true, "ld_cache": ")" + test_image("fake-driver") +
                          R"(/etc/ld.so.cache"}})");
  run_as(root_user(), {"chmod", "a+r", profile});
  Result r = check({"image", img, "--profile", profile, "--matrix", recipe("driver-matrix.json"), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j[0]["facts"]["cuda"], "13.0");
  auto result = [&](const std::string& target) {
    for (const auto& x : j[0]["results"])
      if (x["target"] == target && x["check"] == "cuda")
        return x["verdict"].get<std::string>() + ": " + x["message"].get<std::string>();
    return std::string("(none)");
  };
  EXPECT_TRUE(result("fake").starts_with("pass: CUDA 13.0 runtime")) << result("fake");
  EXPECT_TRUE(contains(result("fake"), "driver 580.95.05 (CUDA 13.0)")) << result("fake");
  EXPECT_TRUE(result("x86-535").starts_with("fail:")) << result("x86-535");
  EXPECT_TRUE(result("x86-580").starts_with("pass:")) << result("x86-580");
}

TEST_P(Check, HostIsReady) {
  Result r = check({"host", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> v;
  for (const auto& c : j) v[c["check"]] = c["verdict"];
  EXPECT_EQ(v["user namespaces"], "pass") << r;
  EXPECT_EQ(v["overlayfs in a user namespace"], "pass") << r;
  EXPECT_EQ(v["/dev/shm"], "pass") << r;
  EXPECT_EQ(v["batch launcher"], "skip") << r;
}

}  // namespace
}  // namespace hpai::test
