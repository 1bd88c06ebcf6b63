// NVIDIA driver discovery on a fake driver tree (real .so files, a real ldconfig
// cache), the NVML helper, and apply_profile's driver injection.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "fake_libs.hpp"
#include "hpai/base/error.hpp"
#include "hpai/site/ld_cache.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/profile_plan.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::make_image_cache;
using test::make_lib;
using test::mkdirs;
using test::run;

// A driver tree like a host's: versioned libraries, soname links, a cache from ldconfig.
class FakeDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    lib = dir.path() + "/usr/lib64";
    make_lib(lib, "libcuda.so.580.95.05", "libcuda.so.1", {"libcuda.so.1", "libcuda.so"});
    make_lib(lib, "libnvidia-ml.so.580.95.05", "libnvidia-ml.so.1", {"libnvidia-ml.so.1"});
    make_lib(lib, "libnvidia-newlib.so.580.95.05", "libnvidia-newlib.so.1", {"libnvidia-newlib.so.1"});
    make_lib(lib, "libnvidia-encode.so.580.95.05", "libnvidia-encode.so.1", {"libnvidia-encode.so.1"});
    make_lib(lib, "libnvidia-old.so.470.57.02", "libnvidia-old.so.1", {"libnvidia-old.so.1"});
    cache = dir.path() + "/ld.so.cache";
    run("ldconfig -X -C '" + cache + "' -f /dev/null '" + lib + "'");
  }
  std::set<std::string> files(const NvidiaDriver& d) {
    std::set<std::string> out;
    for (const auto& l : d.libraries) out.insert(l.path.substr(l.path.rfind('/') + 1));
    return out;
  }
  test::TempDir dir;
  std::string lib, cache;
};

TEST_F(FakeDriver, VersionAndLibrariesFromTheCache) {
  NvidiaSearch s;
  s.ld_cache = cache;
  s.dev_dir = dir.path();  // no devices
  auto d = discover_nvidia_driver(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->version, "580.95.05");
  EXPECT_EQ(files(*d), (std::set<std::string>{"libcuda.so.580.95.05", "libnvidia-ml.so.580.95.05",
                                              "libnvidia-newlib.so.580.95.05"}));
  EXPECT_EQ(d->nvml, lib + "/libnvidia-ml.so.580.95.05");
  for (const auto& l : d->libraries) {
    if (l.path.ends_with("libcuda.so.580.95.05")) {
      EXPECT_EQ(l.capability, "compute");
      EXPECT_NE(std::find(l.names.begin(), l.names.end(), "libcuda.so.1"), l.names.end());
      EXPECT_NE(std::find(l.names.begin(), l.names.end(), "libcuda.so"), l.names.end());
    }
  }
  s.capabilities = {"utility", "video"};
  d = discover_nvidia_driver(s);
  EXPECT_EQ(files(*d), (std::set<std::string>{"libnvidia-ml.so.580.95.05", "libnvidia-newlib.so.580.95.05",
                                              "libnvidia-encode.so.580.95.05"}));
}

// Sites link driver directories around (/usr/lib64 -> /opt/nvidia/lib) and soname links
// across directories: what is injected is the file itself, as realpath() names it.
TEST_F(FakeDriver, LibrariesThroughLinkedDirectoriesAreTheRealFiles) {
  test::TempDir t;
  const std::string real = t.path() + "/opt/nvidia/lib";
  make_lib(real, "libcuda.so.580.95.05", "libcuda.so.1");
  make_lib(real, "libnvidia-ml.so.580.95.05", "libnvidia-ml.so.1");
  mkdirs(t.path() + "/usr");
  ASSERT_EQ(symlink("../opt/nvidia/lib", (t.path() + "/usr/lib64").c_str()), 0);
  mkdirs(t.path() + "/links");
  ASSERT_EQ(symlink("../usr/lib64/libcuda.so.580.95.05", (t.path() + "/links/libcuda.so.1").c_str()), 0);
  ASSERT_EQ(symlink((t.path() + "/usr/lib64/libnvidia-ml.so.580.95.05").c_str(),
                    (t.path() + "/links/libnvidia-ml.so.1").c_str()),
            0);
  const std::string c = t.path() + "/cache";
  run("ldconfig -X -C '" + c + "' -f /dev/null '" + t.path() + "/links' '" + t.path() + "/usr/lib64'");
  NvidiaSearch s;
  s.ld_cache = c;
  s.dev_dir = t.path();
  auto d = discover_nvidia_driver(s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->version, "580.95.05");
  std::set<std::string> paths;
  for (const auto& l : d->libraries) paths.insert(l.path);
  EXPECT_EQ(paths, (std::set<std::string>{real + "/libcuda.so.580.95.05", real + "/libnvidia-ml.so.580.95.05"}));
  EXPECT_EQ(d->nvml, real + "/libnvidia-ml.so.580.95.05");
}

TEST_F(FakeDriver, NoDriverWithoutVersionedLibraries) {
  test::TempDir other;
  make_lib(other.path(), "libz.so.1.2.13", "libz.so.1", {"libz.so.1"});
  std::string c = other.path() + "/cache";
  run("ldconfig -X -C '" + c + "' -f /dev/null '" + other.path() + "'");
  NvidiaSearch s;
  s.ld_cache = c;
  EXPECT_FALSE(discover_nvidia_driver(s));
  s.ld_cache = other.path() + "/missing";
  EXPECT_THROW(discover_nvidia_driver(s), Error);
}

TEST_F(FakeDriver, NvmlHelperReportsAFailureWithoutCrashing) {
  NvmlInfo i = query_nvml(lib + "/libnvidia-ml.so.580.95.05", 2000);  // no NVML symbols in the fake
  EXPECT_FALSE(i.ok);
  EXPECT_EQ(i.error, "missing NVML symbols");
  EXPECT_EQ(query_nvml(dir.path() + "/nope.so", 2000).error, "dlopen failed");
}

TEST_F(FakeDriver, ApplyProfileInjectsIntoThePrivateDirectory) {
  test::TempDir img;
  auto image = open_directory_image(img.path());
  Profile p;
  p.nvidia = ProfileNvidia{};
  p.nvidia->ld_cache = HostPath{cache, {}};
  Environment host = Environment::from_entries({"NVIDIA_VISIBLE_DEVICES=1,3"});
  ProfileEffect e = apply_profile(p, *image, {}, host, {});
  std::set<std::string> targets;
  for (const auto& m : e.mounts) targets.insert(m.target);
  EXPECT_TRUE(targets.count(std::string(kHostLibDir) + "/libcuda.so.580.95.05"));
  EXPECT_TRUE(targets.count(std::string(kHostLibDir) + "/libcuda.so.1"));
  EXPECT_FALSE(targets.count(std::string(kHostLibDir) + "/libnvidia-encode.so.580.95.05"));
  bool cvd = false;
  for (const auto& c : e.env) cvd |= c.name == "CUDA_VISIBLE_DEVICES" && c.value == "1,3";
  EXPECT_TRUE(cvd);
  EXPECT_EQ(e.env.back().name, "LD_LIBRARY_PATH");
  // The image may ask for more capabilities, as with NVIDIA's toolkit.
  ImageConfig config;
  config.env = {"NVIDIA_DRIVER_CAPABILITIES=all"};
  e = apply_profile(p, *image, config, Environment{}, {});
  targets.clear();
  for (const auto& m : e.mounts) targets.insert(m.target);
  EXPECT_TRUE(targets.count(std::string(kHostLibDir) + "/libnvidia-encode.so.580.95.05"));
  // void: nothing; --no-gpu: nothing; --gpu with no driver: an error.
  EXPECT_TRUE(
      apply_profile(p, *image, {}, Environment::from_entries({"NVIDIA_VISIBLE_DEVICES=void"}), {}).mounts.empty());
  EXPECT_TRUE(apply_profile(p, *image, {}, host, {false, true}).mounts.empty());
  p.nvidia->ld_cache = HostPath{"/etc/ld.so.cache", {}};
  EXPECT_THROW(apply_profile(p, *image, {}, host, {true, true}), Error);
}

}  // namespace
}  // namespace hpai
