// What a profile injects: the linker cache reader, library versions, the MPI pairing
// matrix (Sarus' cases, on real .so files and real ldconfig caches), NVIDIA discovery
// on a fake driver tree, and apply_profile's mounts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "hpai/base/error.hpp"
#include "hpai/site/ld_cache.hpp"
#include "hpai/site/mpi.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/profile_plan.hpp"
#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

// A real shared library at DIR/NAME with SONAME, and optional symlinks to it.
void make_lib(const std::string& dir, const std::string& name, const std::string& soname, std::vector<std::string> links = {}) {
  mkdirs(dir);
  run("echo 'int marker(void) { return 1; }' | gcc -x c -shared -fPIC -Wl,-soname," + soname + " -o '" + dir + "/" + name + "' - 2>&1");
  for (const auto& l : links) ASSERT_EQ(symlink(name.c_str(), (dir + "/" + l).c_str()), 0);
}

// The image's /etc/ld.so.cache, made by the real ldconfig inside the image
// (ldconfig -r chroots; a user namespace lets an unprivileged test do that).
void make_image_cache(const std::string& root) {
  mkdirs(root + "/etc");
  run("unshare -Ur ldconfig -X -r '" + root + "' 2>&1");
}

TEST(LdCache, ReadsTheHostCacheLikeLdconfig) {
  std::set<std::pair<std::string, std::string>> ours, theirs;
  for (const auto& e : read_ld_cache("/etc/ld.so.cache")) ours.insert({e.soname, e.path});
  std::string listing = run("ldconfig -p");
  std::size_t pos = listing.find('\n') + 1;  // "N libs found in cache ..."
  while (pos < listing.size()) {
    std::size_t end = listing.find('\n', pos);
    std::string line = listing.substr(pos, end - pos);
    pos = end + 1;
    auto arrow = line.find(" => ");
    if (line.empty() || line[0] != '\t' || arrow == std::string::npos) continue;
    theirs.insert({line.substr(1, line.find(" (") - 1), line.substr(arrow + 4)});
  }
  ASSERT_GT(theirs.size(), 10u);
  EXPECT_EQ(ours, theirs);
}

// The binary search finds exactly what a scan of every entry finds, on the host's cache
// and on one of 3,000 libraries whose names mix digits and letters where the order of
// glibc's comparison (numbers by value, after letters) matters.
TEST(LdCache, PrefixSearchFindsWhatAScanFinds) {
  test::TempDir dir;
  const std::string lib = dir.path() + "/lib";
  mkdirs(lib);
  run("echo 'int f(void){return 0;}' | gcc -shared -fPIC -x c -o '" + dir.path() + "/plain.so' -");
  const char* stems[] = {"libnv", "libnvidia-ml", "libcuda", "libcudart", "libGL", "libGLX_nvidia", "libGLESv2_nvidia",
                         "liba", "libz", "libnv9x", "libnv10x", "libcu", "libEGL_nvidia", "libEGL"};
  int made = 0;
  for (int i = 0; made < 3000; ++i)
    for (const char* stem : stems) {
      const std::string name = std::string(stem) + (i % 3 == 0 ? std::to_string(i) : std::string(1, static_cast<char>('a' + i % 26))) +
                               ".so." + std::to_string(i % 7);
      if (link((dir.path() + "/plain.so").c_str(), (lib + "/" + name).c_str()) == 0) ++made;
    }
  const std::string cache = dir.path() + "/ld.so.cache";
  run("ldconfig -X -C '" + cache + "' -f /dev/null '" + lib + "'");
  const std::vector<std::string_view> prefixes = {"libnv", "libcuda", "libGL", "libEGL", "libOpenCL", "lib", "libc", "libz",
                                                  "libnvidia-", "libGLX_nvidia", "liba", "libq", "libnvid", "libcu"};
  for (const std::string& path : {cache, std::string("/etc/ld.so.cache")}) {
    const auto all = read_ld_cache(path);
    ASSERT_GT(all.size(), path == cache ? 2900u : 10u);
    for (std::string_view p : prefixes) {
      std::multiset<std::pair<std::string, std::string>> scanned, searched;
      for (const auto& e : all)
        if (e.soname.starts_with(p)) scanned.insert({e.soname, e.path});
      for (const auto& e : find_in_ld_cache(path, {p})) searched.insert({e.soname, e.path});
      EXPECT_EQ(searched, scanned) << path << ", prefix " << p;
    }
  }
  EXPECT_THROW(find_in_ld_cache(cache, {"libGLESv2"}), Error);  // digits: not a range in glibc's order
}

TEST(LdCache, RejectsWhatIsNotACache) {
  EXPECT_THROW(parse_ld_cache("hello", "x"), Error);
  EXPECT_THROW(parse_ld_cache(std::string("glibc-ld.so.cache1.1") + std::string(28, '\xff'), "x"), Error);
  std::string truncated = std::string("glibc-ld.so.cache1.1") + std::string("\x05\0\0\0", 4) + std::string(24, '\0');
  EXPECT_THROW(parse_ld_cache(truncated, "x"), Error);
}

TEST(LibraryName, VersionsFromFileNames) {
  auto l = parse_library_name("libmpi.so.12.1.8");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->linker_name, "libmpi");
  EXPECT_EQ(l->version, (std::vector<int>{12, 1, 8}));
  EXPECT_EQ(parse_library_name("libcuda.so.580.95.05")->version_text, "580.95.05");
  EXPECT_TRUE(parse_library_name("libfoo.so")->version.empty());
  EXPECT_EQ(parse_library_name("libfoo.so.1.2rc")->version, std::vector<int>{1});
  EXPECT_FALSE(parse_library_name("libfoo.sock"));
  EXPECT_FALSE(parse_library_name("readme.txt"));
}

// Sarus' MPI hook test matrix: host libmpi.so.12.5.5 against different images.
class MpiMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    make_lib(dir.path() + "/host/lib", "libmpi.so.12.5.5", "libmpi.so.12", {"libmpi.so.12"});
    host_fs = open_directory_image(dir.path() + "/host");
    host = *find_library(*host_fs, "/lib/libmpi.so.12");
  }
  std::vector<FoundLibrary> image(const std::string& name, std::function<void(const std::string&)> fill) {
    std::string root = dir.path() + "/" + name;
    mkdirs(root + "/usr/lib");
    fill(root);
    make_image_cache(root);
    images.push_back(open_directory_image(root));
    return image_libraries(*images.back());
  }
  test::TempDir dir;
  std::unique_ptr<ImageFs> host_fs;
  std::vector<std::unique_ptr<ImageFs>> images;
  FoundLibrary host;
};

TEST_F(MpiMatrix, HostVersionFollowsTheSymlinkChain) {
  EXPECT_EQ(host.describe(), "libmpi.so.12.5.5");
  EXPECT_EQ(host.file, "/lib/libmpi.so.12.5.5");
}

TEST_F(MpiMatrix, Compatible) {
  auto libs = image("same", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.12.5.5", "libmpi.so.12", {"libmpi.so.12"}); });
  LibraryReplacement rep = pair_library(host, libs, MpiCompat::Full);
  ASSERT_TRUE(rep.image);
  EXPECT_EQ(rep.image->file, "/usr/lib/libmpi.so.12.5.5");
  EXPECT_TRUE(rep.warnings.empty());
}

TEST_F(MpiMatrix, CompatibleViaSymlink) {
  auto libs = image("link", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.5.0", "libmpi.so.12");
    ASSERT_EQ(symlink("libmpi.so.12.5.0", (r + "/usr/lib/libmpi.so.12").c_str()), 0);
  });
  LibraryReplacement rep = pair_library(host, libs, MpiCompat::Strict);
  ASSERT_TRUE(rep.image);
  EXPECT_EQ(rep.image->describe(), "libmpi.so.12.5.0");
  EXPECT_EQ(rep.image->file, "/usr/lib/libmpi.so.12.5.0");
}

TEST_F(MpiMatrix, MajorMismatchIsRefusedInEveryMode) {
  auto libs = image("major", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.13.0.0", "libmpi.so.13", {"libmpi.so.13"}); });
  for (MpiCompat mode : {MpiCompat::Major, MpiCompat::Full, MpiCompat::Strict}) {
    try {
      pair_library(host, libs, mode);
      FAIL() << to_string(mode);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("image libmpi.so.13.0.0 vs host libmpi.so.12.5.5: major versions differ"),
                std::string::npos) << e.what();
    }
  }
}

TEST_F(MpiMatrix, MinorMismatchDependsOnTheMode) {
  auto libs = image("minor", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.12.10.5", "libmpi.so.12", {"libmpi.so.12"}); });
  try {
    pair_library(host, libs, MpiCompat::Full);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("image libmpi.so.12.10.5 vs host libmpi.so.12.5.5: full mode needs host minor >= image minor"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(pair_library(host, libs, MpiCompat::Strict), Error);
  EXPECT_TRUE(pair_library(host, libs, MpiCompat::Major).image);
}

TEST_F(MpiMatrix, NewerImagePatchOnlyWarns) {
  auto libs = image("patch", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.12.5.9", "libmpi.so.12", {"libmpi.so.12"}); });
  LibraryReplacement rep = pair_library(host, libs, MpiCompat::Strict);
  ASSERT_TRUE(rep.image);
  ASSERT_EQ(rep.warnings.size(), 1u);
  EXPECT_NE(rep.warnings[0].find("patch level is newer"), std::string::npos);
}

TEST_F(MpiMatrix, NoMpiInImage) {
  auto libs = image("none", [](const std::string& r) { make_lib(r + "/usr/lib", "libz.so.1.2.13", "libz.so.1", {"libz.so.1"}); });
  EXPECT_FALSE(pair_library(host, libs, MpiCompat::Full).image);
  EXPECT_TRUE(mpi_families(libs).empty());
}

TEST_F(MpiMatrix, StaleCacheEntryIsIgnored) {
  auto libs = image("stale", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.12.5.5", "libmpi.so.12", {"libmpi.so.12"}); });
  ASSERT_EQ(libs.size(), 1u);
  std::string root = dir.path() + "/stale";
  ASSERT_EQ(unlink((root + "/usr/lib/libmpi.so.12.5.5").c_str()), 0);
  // A fresh look (an ImageFs answers each question once: a plan reads one snapshot).
  EXPECT_TRUE(image_libraries(*open_directory_image(root)).empty());
}

TEST_F(MpiMatrix, NameIsTrustedWhenTheTargetDisagrees) {
  // Cray: libmpi.so.12 -> libmpich_gnu_71.so.3
  auto libs = image("cray", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpich_gnu_71.so.3", "libmpi.so.12");
    ASSERT_EQ(symlink("libmpich_gnu_71.so.3", (r + "/usr/lib/libmpi.so.12").c_str()), 0);
  });
  LibraryReplacement rep = pair_library(host, libs, MpiCompat::Major);
  ASSERT_TRUE(rep.image);
  EXPECT_EQ(rep.image->describe(), "libmpi.so.12");
  EXPECT_EQ(rep.image->file, "/usr/lib/libmpich_gnu_71.so.3");
  EXPECT_EQ(mpi_families(libs), std::vector<MpiFamily>{MpiFamily::Mpich});
}

TEST_F(MpiMatrix, ApplyProfileBindsOverTheImageOrAddsOnTheLibraryPath) {
  auto libs = image("apply", [](const std::string& r) { make_lib(r + "/usr/lib", "libmpi.so.12.1.0", "libmpi.so.12", {"libmpi.so.12"}); });
  make_lib(dir.path() + "/host/lib", "libfabric.so.1.18.2", "libfabric.so.1", {"libfabric.so.1"});
  Profile p;
  p.mpi = ProfileMpi{};
  p.mpi->family = MpiFamily::Mpich;
  p.mpi->libraries = std::vector<HostPath>{{dir.path() + "/host/lib/libmpi.so.12", {}}};
  p.mpi->dependencies = std::vector<HostPath>{{dir.path() + "/host/lib/libfabric.so.1", {}}};
  ProfileEffect e = apply_profile(p, *images.back(), {}, Environment{}, {});
  ASSERT_GE(e.mounts.size(), 3u);
  EXPECT_EQ(e.mounts[0].source, dir.path() + "/host/lib/libmpi.so.12.5.5");
  EXPECT_EQ(e.mounts[0].target, "/usr/lib/libmpi.so.12.1.0");
  EXPECT_EQ(e.mounts[1].kind, Mount::Kind::Tmpfs);  // the injected-files directory, opened on first use
  EXPECT_EQ(e.mounts[1].target, kHostDir);
  EXPECT_EQ(e.mounts[2].target, std::string(kHostLibDir) + "/libfabric.so.1.18.2");  // the image has none
  bool linked = false;
  for (const auto& m : e.mounts) linked |= m.kind == Mount::Kind::Symlink && m.target == std::string(kHostLibDir) + "/libfabric.so.1";
  EXPECT_TRUE(linked);
  ASSERT_FALSE(e.env.empty());
  EXPECT_EQ(e.env.back().name, "LD_LIBRARY_PATH");
  p.mpi->family = MpiFamily::OpenMpi;
  EXPECT_THROW(apply_profile(p, *images.back(), {}, Environment{}, {}), Error);  // ABI families differ
  EXPECT_TRUE(apply_profile(p, *images.back(), {}, Environment{}, {std::nullopt, false}).mounts.empty());  // --no-mpi
}

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
  EXPECT_EQ(files(*d), (std::set<std::string>{"libcuda.so.580.95.05", "libnvidia-ml.so.580.95.05", "libnvidia-newlib.so.580.95.05"}));
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
  ASSERT_EQ(symlink((t.path() + "/usr/lib64/libnvidia-ml.so.580.95.05").c_str(), (t.path() + "/links/libnvidia-ml.so.1").c_str()), 0);
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
  EXPECT_TRUE(apply_profile(p, *image, {}, Environment::from_entries({"NVIDIA_VISIBLE_DEVICES=void"}), {}).mounts.empty());
  EXPECT_TRUE(apply_profile(p, *image, {}, host, {false, true}).mounts.empty());
  p.nvidia->ld_cache = HostPath{"/etc/ld.so.cache", {}};
  EXPECT_THROW(apply_profile(p, *image, {}, host, {true, true}), Error);
}

}  // namespace
}  // namespace hpai
