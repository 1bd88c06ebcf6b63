// Pairing the host MPI with the image's: Sarus' matrix on real .so files and real
// ldconfig caches, and apply_profile's MPI mounts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "fake_libs.hpp"
#include "hpai/base/error.hpp"
#include "hpai/site/ld_cache.hpp"
#include "hpai/site/mpi.hpp"
#include "hpai/site/profile_plan.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::make_image_cache;
using test::make_lib;
using test::mkdirs;
using test::run;

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
  auto libs = image("same", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.5.5", "libmpi.so.12", {"libmpi.so.12"});
  });
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
  auto libs = image("major", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.13.0.0", "libmpi.so.13", {"libmpi.so.13"});
  });
  for (MpiCompat mode : {MpiCompat::Major, MpiCompat::Full, MpiCompat::Strict}) {
    try {
      pair_library(host, libs, mode);
      FAIL() << to_string(mode);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("image libmpi.so.13.0.0 vs host libmpi.so.12.5.5: major versions differ"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST_F(MpiMatrix, MinorMismatchDependsOnTheMode) {
  auto libs = image("minor", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.10.5", "libmpi.so.12", {"libmpi.so.12"});
  });
  try {
    pair_library(host, libs, MpiCompat::Full);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "image libmpi.so.12.10.5 vs host libmpi.so.12.5.5: full mode needs host minor >= image minor"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(pair_library(host, libs, MpiCompat::Strict), Error);
  EXPECT_TRUE(pair_library(host, libs, MpiCompat::Major).image);
}

TEST_F(MpiMatrix, NewerImagePatchOnlyWarns) {
  auto libs = image("patch", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.5.9", "libmpi.so.12", {"libmpi.so.12"});
  });
  LibraryReplacement rep = pair_library(host, libs, MpiCompat::Strict);
  ASSERT_TRUE(rep.image);
  ASSERT_EQ(rep.warnings.size(), 1u);
  EXPECT_NE(rep.warnings[0].find("patch level is newer"), std::string::npos);
}

TEST_F(MpiMatrix, NoMpiInImage) {
  auto libs = image(
      "none", [](const std::string& r) { make_lib(r + "/usr/lib", "libz.so.1.2.13", "libz.so.1", {"libz.so.1"}); });
  EXPECT_FALSE(pair_library(host, libs, MpiCompat::Full).image);
  EXPECT_TRUE(mpi_families(libs).empty());
}

TEST_F(MpiMatrix, StaleCacheEntryIsIgnored) {
  auto libs = image("stale", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.5.5", "libmpi.so.12", {"libmpi.so.12"});
  });
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
  auto libs = image("apply", [](const std::string& r) {
    make_lib(r + "/usr/lib", "libmpi.so.12.1.0", "libmpi.so.12", {"libmpi.so.12"});
  });
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
  for (const auto& m : e.mounts)
    linked |= m.kind == Mount::Kind::Symlink && m.target == std::string(kHostLibDir) + "/libfabric.so.1";
  EXPECT_TRUE(linked);
  ASSERT_FALSE(e.env.empty());
  EXPECT_EQ(e.env.back().name, "LD_LIBRARY_PATH");
  p.mpi->family = MpiFamily::OpenMpi;
  EXPECT_THROW(apply_profile(p, *images.back(), {}, Environment{}, {}), Error);  // ABI families differ
  EXPECT_TRUE(apply_profile(p, *images.back(), {}, Environment{}, {std::nullopt, false}).mounts.empty());  // --no-mpi
}

}  // namespace
}  // namespace hpai
