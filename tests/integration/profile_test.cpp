// Site profiles end to end: the real hpai-run and hpai-profile with profiles on real
// images — a fake NVIDIA driver tree (no GPU needed), the real GPU where one exists,
// MPICH and Open MPI libraries swapped for the host's, binds and environment.
#include <unistd.h>

#include <tuple>

#include "harness.hpp"

namespace hpai::test {
namespace {

std::string recipe(const std::string& name) { return std::string(HPAI_TEST_SOURCE_DIR) + "/recipes/" + name + ".json"; }
class Profiles : public ContainerTest {
 protected:
  std::string fake_driver_profile(const std::string& extra = "") {
    const std::string d = test_image("fake-driver");
    return profile("fake-gpu", R"({"hpai_profile": 1, "nvidia": {"enabled": true, "ld_cache": ")" + d +
                                   R"(/etc/ld.so.cache", "binaries": [")" + d + R"(/bin/nvidia-smi"])" + extra + "}}");
  }
  void need_cuda_fixtures() {
    if (access((test_image("cuda.unavailable")).c_str(), F_OK) == 0)
      GTEST_SKIP() << "CUDA fixtures not built: " << read_file(test_image("cuda.unavailable"));
  }
};
INSTANTIATE_TEST_SUITE_P(, Profiles, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Profiles, HostDriverShadowsTheImagesOwnLibcuda) {
  need_cuda_fixtures();
  // Without the profile the image's own fake libcuda answers (999): the check can fail.
  Result plain = hpai({test_image("cuda"), "--", "cuda_probe"});
  ASSERT_EQ(plain.exit_code, 0) << plain;
  EXPECT_TRUE(contains(plain.out, "cuInit=999 ")) << plain;
  // With it, the host's stub libcuda from the fake driver tree is the one loaded: the
  // NVIDIA stub's cuInit answers 34 (CUDA_ERROR_STUB_LIBRARY).
  Result r = hpai({"--profile", fake_driver_profile(), test_image("cuda"), "--", "sh", "-c",
                   "cuda_probe; nvidia-smi; ls /.hpai/host/lib; echo LD_LIBRARY_PATH=$LD_LIBRARY_PATH"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "cuInit=34 devices=-1 driver_api=0 kernel=-1 lib=/.hpai/host/lib/libcuda.so.1\n")) << r;
  EXPECT_TRUE(contains(r.out, "NVIDIA-SMI fake 580.95.05")) << r;
  EXPECT_TRUE(contains(r.out, "libnvidia-ptxjitcompiler.so.1\n")) << r;       // compute
  EXPECT_TRUE(contains(r.out, "libnvidia-futurething.so.580.95.05\n")) << r;  // unlisted, same version
  EXPECT_FALSE(contains(r.out, "libnvidia-encode")) << r;                     // video: not asked for
  EXPECT_FALSE(contains(r.out, "leftover")) << r;                             // another driver version
  EXPECT_TRUE(contains(r.out, "LD_LIBRARY_PATH=/.hpai/host/lib\n")) << r;
  // Nothing was written into the read-only image.
  EXPECT_NE(access((test_image("cuda") + "/.hpai/host").c_str(), F_OK), 0);
}

// CUDA forward compatibility at run time, hpai-check's rule: an image with CUDA 13.1
// and its compat libcuda 590.44.01 on the fake 580.95.05 driver (CUDA 13.0) loads the
// compat one (here the image's own 999-answering library), unless the GPU is known to be
// no datacenter GPU or --no-cuda-compat says so; CUDA 13.0 needs none.
TEST_P(Profiles, ForwardCompatibilityLibcudaWhenTheRuleSaysSo) {
  need_cuda_fixtures();
  const std::string img = own_copy("cuda");
  const std::string compat = img + "/usr/local/cuda-13.1/compat", lib64 = img + "/usr/local/cuda-13.1/lib64";
  ASSERT_EQ(run_as(who(), {"mkdir", "-p", compat, lib64}).exit_code, 0);
  ASSERT_EQ(
      run_as(who(), {"cp", img + "/usr/lib/x86_64-linux-gnu/libcuda.so.1", compat + "/libcuda.so.590.44.01"}).exit_code,
      0);
  ASSERT_EQ(run_as(who(), {"ln", "-s", "libcuda.so.590.44.01", compat + "/libcuda.so.1"}).exit_code, 0);
  ASSERT_EQ(run_as(who(), {"touch", lib64 + "/libcudart.so.13.1.80"}).exit_code, 0);
  const std::string probe = "cuda_probe; echo LD_LIBRARY_PATH=$LD_LIBRARY_PATH";

  Result r = hpai({"--profile", fake_driver_profile(), img, "--", "sh", "-c", probe});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "cuInit=999 ")) << r;
  EXPECT_TRUE(contains(r.out, "LD_LIBRARY_PATH=/usr/local/cuda-13.1/compat:/.hpai/host/lib\n")) << r;
  Result dry = hpai({"--dry-run", "--profile", fake_driver_profile(), img, "--", "true"});
  EXPECT_TRUE(contains(dry.out,
                       "CUDA forward compatibility: the payload loads the image's "
                       "/usr/local/cuda-13.1/compat/libcuda.so.590.44.01 ahead of the host's libcuda "
                       "580.95.05 (CUDA 13.0): the image's CUDA 13.1"))
      << dry;
  EXPECT_TRUE(contains(dry.out, "GPU brand unknown")) << dry;

  r = hpai({"--profile", fake_driver_profile(), img, "--", "sh", "-c", probe}, {"FAKE_NVML_BRAND=tesla"});
  EXPECT_TRUE(contains(r.out, "LD_LIBRARY_PATH=/usr/local/cuda-13.1/compat:")) << r;
  // Not on a GeForce, and not when the user says no: the host's libcuda.
  for (const auto& [flags, env, why] : {std::tuple<std::vector<std::string>, std::string, std::string>{
                                            {}, "FAKE_NVML_BRAND=geforce", "GPU 0 is a geforce GPU"},
                                        {{"--no-cuda-compat"}, "FAKE_NVML_BRAND=tesla", "--no-cuda-compat"}}) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), {"--profile", fake_driver_profile(), img, "--", "sh", "-c", probe});
    r = hpai(args, {env});
    EXPECT_TRUE(contains(r.out, "cuInit=34 ")) << r;
    EXPECT_TRUE(contains(r.out, "LD_LIBRARY_PATH=/.hpai/host/lib\n")) << r;
    args.insert(args.begin(), "--dry-run");
    EXPECT_TRUE(contains(hpai(args, {env}).out, why)) << why;
  }
  // CUDA 13.0 runs on the 580 driver as it is.
  ASSERT_EQ(run_as(who(), {"mv", lib64 + "/libcudart.so.13.1.80", lib64 + "/libcudart.so.13.0.48"}).exit_code, 0);
  dry = hpai({"--dry-run", "--profile", fake_driver_profile(), img, "--", "true"});
  EXPECT_TRUE(contains(dry.out, "CUDA forward compatibility not needed")) << dry;
  EXPECT_FALSE(contains(dry.out, "/usr/local/cuda-13.1/compat:")) << dry;
}

TEST_P(Profiles, GpuFlagWithoutADriverFailsClearly) {
  std::string empty = scratch().path() + "/nolibs";
  run_as(who(), {"mkdir", "-p", empty});
  run_as(who(), {"ldconfig", "-X", "-C", scratch().path() + "/empty.cache", "-f", "/dev/null", empty});
  std::string p =
      profile("nodriver", R"({"hpai_profile": 1, "nvidia": {"ld_cache": ")" + scratch().path() + R"(/empty.cache"}})");
  Result r = hpai({"--gpu", "--profile", p, test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "GPU support was asked for, but no NVIDIA driver found")) << r;
  // "auto" (the profile's default) just goes without.
  Result a = hpai({"--profile", p, test_image("busybox"), "--", "true"});
  EXPECT_EQ(a.exit_code, 0) << a;
}

TEST_P(Profiles, DryRunListsEveryInjectedLibrary) {
  need_cuda_fixtures();
  Result r = hpai({"--dry-run", "--json", "--profile", fake_driver_profile(), test_image("cuda"), "--", "cuda_probe"});
  ASSERT_EQ(r.exit_code, 0) << r;
  for (const char* lib :
       {"libcuda.so.580.95.05", "libnvidia-ptxjitcompiler.so.580.95.05", "libnvidia-futurething.so.580.95.05"})
    EXPECT_TRUE(contains(r.out, std::string("\"/.hpai/host/lib/") + lib + "\"")) << lib << "\n" << r;
  EXPECT_TRUE(contains(r.out, "GPU: NVIDIA driver 580.95.05")) << r;
  EXPECT_TRUE(contains(r.out, "\"mount_points_added\"")) << r;
}

// On a machine with an NVIDIA GPU the same program runs for real; elsewhere it skips.
TEST_P(Profiles, RealGpuRunsAKernel) {
  need_cuda_fixtures();
  if (access("/dev/nvidiactl", F_OK) != 0) GTEST_SKIP() << "no NVIDIA GPU on this machine (/dev/nvidiactl missing)";
  Result host = run_as(who(), {hpai_profile(), "nvidia"});
  if (host.exit_code != 0) GTEST_SKIP() << "no NVIDIA driver in /etc/ld.so.cache: " << host.out;
  Result r = hpai({"--gpu", "--no-profile", test_image("cuda"), "--", "cuda_probe"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::cerr << "real GPU: " << host.out << r.out;
  EXPECT_TRUE(contains(r.out, "cuInit=0 ")) << r;
  EXPECT_FALSE(contains(r.out, "devices=0 ")) << r;
  EXPECT_TRUE(contains(r.out, "kernel=42 ")) << r;
  EXPECT_TRUE(contains(r.out, "lib=/.hpai/host/lib/libcuda.so.1")) << r;
}

TEST_P(Profiles, HostMpichReplacesTheImagesAndRunsTwoRanks) {
  const std::string host_lib = "/usr/lib/x86_64-linux-gnu/libmpich.so.12";
  if (access(host_lib.c_str(), F_OK) != 0)
    GTEST_SKIP() << "no host MPICH (" << host_lib << "; apt-get install libmpich12)";
  std::string p =
      profile("mpich", R"({"hpai_profile": 1, "mpi": {"family": "mpich", "libraries": [")" + host_lib + R"("]}})");
  Result r = hpai({"--profile", p, test_image("debian-mpi"), "--", "sh", "-c",
                   "mpiexec.mpich -n 2 /usr/local/bin/mpi_hello_mpich; grep libmpich /proc/self/mountinfo"},
                  {"OMPI_ALLOW_RUN_AS_ROOT=1"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok; library /usr/lib/x86_64-linux-gnu/libmpich.so.12.2.2 (MPICH"), 2) << r;
  // The image's library file is a mount of the host's.
  EXPECT_TRUE(
      contains(r.out, "/usr/lib/x86_64-linux-gnu/libmpich.so.12.2.2 /usr/lib/x86_64-linux-gnu/libmpich.so.12.2.2 "))
      << r;
}

TEST_P(Profiles, GenericRecipeSwapsOpenMpi) {
  Result r = hpai({"--profile", recipe("generic-debian"), test_image("debian-mpi"), "--", "sh", "-c",
                   "mpiexec.openmpi --oversubscribe -n 2 /usr/local/bin/mpi_hello_openmpi; grep -c "
                   "'libmpi.so\\|libopen-' /proc/self/mountinfo"},
                  {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count(r.out, "allreduce ok; library /usr/lib/x86_64-linux-gnu/libmpi.so.40"), 2) << r;
  EXPECT_TRUE(contains(r.out, "\n3\n")) << r;  // libmpi, libopen-rte, libopen-pal
  Result env = hpai({"--profile", recipe("generic-debian"), test_image("debian-mpi"), "--", "printenv", "HPAI_SITE"});
  EXPECT_EQ(env.out, "generic-debian\n") << env;
}

TEST_P(Profiles, IncompatibleMpiIsRefusedWithTheReason) {
  std::string lib = scratch().path() + "/lib";
  run_as(who(), {"mkdir", "-p", lib});
  run_as(who(),
         {"sh", "-c",
          "echo 'int x;' | gcc -x c -shared -fPIC -Wl,-soname,libmpich.so.13 -o " + lib + "/libmpich.so.13.0.1 -"});
  std::string p =
      profile("newmpich", R"({"hpai_profile": 1, "mpi": {"libraries": [")" + lib + R"(/libmpich.so.13.0.1"]}})");
  Result r = hpai({"--profile", p, test_image("debian-mpi"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "image libmpich.so.12.2.2 vs host libmpich.so.13.0.1: major versions differ")) << r;
  EXPECT_TRUE(contains(r.err, "(from profile " + p + ":1:")) << "the profile line that asked for it\n" << r;
  EXPECT_TRUE(contains(r.err, "run with --no-mpi to keep the image's own MPI")) << "the way out\n" << r;
  Result skip = hpai({"--no-mpi", "--profile", p, test_image("debian-mpi"), "--", "true"});
  EXPECT_EQ(skip.exit_code, 0) << skip;
}

TEST_P(Profiles, BindsAndEnvironmentOnAReadOnlyImage) {
  std::string data = scratch().path() + "/site";
  run_as(who(), {"mkdir", "-p", data});
  run_as(who(), {"sh", "-c", "echo site-data > " + data + "/file"});
  std::string p = profile("site", R"({"hpai_profile": 1,
  "binds": [{"source": ")" + data + R"(", "target": "/lrz/sys", "read_only": true},
            {"source": "/nonexistent/optional", "required": false}],
  "env": {"set": {"SITE_NAME": "lrz-${USER}"}, "prepend": {"PATH": "/lrz/sys/bin"}, "unset": ["IMAGE_*"]}})");
  Result r = hpai(
      {"--profile", p, test_image("busybox"), "--", "sh", "-c",
       "cat /lrz/sys/file; echo $SITE_NAME; echo $PATH; echo ${IMAGE_VAR:-unset}; touch /lrz/sys/x 2>&1 || echo ro"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "site-data\nlrz-" + who().name + "\n/lrz/sys/bin:/usr/bin:/bin\nunset\n" +
                       "touch: /lrz/sys/x: Read-only file system\nro\n")
      << r;
  EXPECT_NE(access((test_image("busybox") + "/lrz").c_str(), F_OK), 0);  // the image is untouched
  // The user's --set-env still has the last word.
  Result u =
      hpai({"--profile", p, "--set-env=SITE_NAME=mine", test_image("busybox"), "--", "sh", "-c", "echo $SITE_NAME"});
  EXPECT_EQ(u.out, "mine\n") << u;
}

TEST_P(Profiles, MissingRequiredBindNamesTheProfileLine) {
  std::string p = profile("broken", "{\"hpai_profile\": 1,\n  \"binds\": [\n    \"/nonexistent/lrz/sys\"]}");
  Result r = hpai({"--profile", p, test_image("busybox"), "--", "true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(
      r.err, "can't bind /nonexistent/lrz/sys: no such file or directory on host (from profile " + p + ":3:5)"))
      << r;
}

TEST_P(Profiles, SiteDefaultAppliesUnlessNoProfile) {
  profile("default", R"({"hpai_profile": 1, "env": {"set": {"SITE_DEFAULT": "yes"}}})");
  const std::vector<std::string> env = {"HPAI_PROFILE_PATH=" + scratch().path()};
  Result r = hpai({test_image("busybox"), "--", "sh", "-c", "echo ${SITE_DEFAULT:-none}"}, env);
  EXPECT_EQ(r.out, "yes\n") << r;
  Result n = hpai({"--no-profile", test_image("busybox"), "--", "sh", "-c", "echo ${SITE_DEFAULT:-none}"}, env);
  EXPECT_EQ(n.out, "none\n") << n;
  Result named =
      hpai({"--profile", "default", test_image("busybox"), "--", "sh", "-c", "echo ${SITE_DEFAULT:-none}"}, env);
  EXPECT_EQ(named.out, "yes\n") << named;
}

TEST(ProfileCheck, RecipesPassAndErrorsCarryPositions) {
  User u = test_user();
  for (const char* name : {"generic-debian", "lrz-supermuc-ng", "olcf-summit", "osg-glideinwms", "mit-satori"}) {
    Result r = run_as(u, {hpai_profile(), "check", "--schema-only", recipe(name)});
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r;
    EXPECT_TRUE(contains(r.out, ": ok")) << r;
  }
  // The generic recipe also holds on this very host.
  Result host = run_as(u, {hpai_profile(), "check", recipe("generic-debian")});
  EXPECT_EQ(host.exit_code, 0) << host;
  // A site recipe checked against a host that isn't the site: missing required paths.
  Result lrz = run_as(u, {hpai_profile(), "check", recipe("lrz-supermuc-ng")});
  EXPECT_EQ(lrz.exit_code, 1) << lrz;
  EXPECT_TRUE(
      contains(lrz.err, recipe("lrz-supermuc-ng") + ":6:5: error: bind source /lrz/sys: no such file or directory"))
      << lrz;

  ScratchDir dir(u);
  std::string bad = dir.path() + "/bad.json";
  write_file(bad, "{\"hpai_profile\": 1,\n \"nvidia\": {\"capabilites\": [\"compute\"]}}");
  run_as(root_user(), {"chmod", "a+r", bad});
  Result r = run_as(u, {hpai_profile(), "check", bad});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(
      contains(r.err, bad + ":2:13: error: unknown key \"capabilites\" in nvidia; did you mean \"capabilities\"?"))
      << r;
  Result j = run_as(u, {hpai_profile(), "check", "--json", bad});
  EXPECT_TRUE(contains(j.out, "\"line\": 2")) << j;
}

}  // namespace
}  // namespace hpai::test
