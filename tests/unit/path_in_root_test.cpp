#include "hpai/image/path_in_root.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "hpai/run/mount_tree.hpp"
#include "hpai/run/mounts.hpp"
#include "namespaces.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

class PathInRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    fs::create_directories(root_ + "/usr/lib");
    fs::create_directories(root_ + "/etc");
    std::ofstream(root_ + "/etc/passwd") << "x";
    fs::create_symlink("usr/lib", root_ + "/lib");             // relative
    fs::create_symlink("/usr/lib", root_ + "/abslib");         // absolute: means the image's /usr/lib
    fs::create_symlink("../../../../../etc", root_ + "/up");   // climbs above the root
    fs::create_symlink("/etc/passwd", root_ + "/pw");          // to a file
    fs::create_symlink("loop2", root_ + "/loop1");
    fs::create_symlink("loop1", root_ + "/loop2");
    fs::create_symlink("/nonexistent/deeper", root_ + "/dangling");
  }
  test::TempDir tmp_;
  std::string root_;
};

TEST_F(PathInRoot, PlainPaths) {
  EXPECT_EQ(resolve_in_root(root_, "/etc/passwd").relative, "etc/passwd");
  EXPECT_TRUE(resolve_in_root(root_, "/etc/passwd").exists);
  EXPECT_FALSE(resolve_in_root(root_, "/etc/passwd").is_dir);
  EXPECT_EQ(resolve_in_root(root_, "//etc/./").relative, "etc");
  RootPath r = resolve_in_root(root_, "/");
  EXPECT_TRUE(r.exists && r.is_dir);
  EXPECT_EQ(r.under(root_), root_);
}

TEST_F(PathInRoot, SymlinksResolveAsInsideTheContainer) {
  EXPECT_EQ(resolve_in_root(root_, "/lib").relative, "usr/lib");
  EXPECT_EQ(resolve_in_root(root_, "/abslib").relative, "usr/lib");
  EXPECT_EQ(resolve_in_root(root_, "/up/passwd").relative, "etc/passwd");  // ".." stops at the root
  EXPECT_EQ(resolve_in_root(root_, "/pw").relative, "etc/passwd");
  EXPECT_EQ(resolve_in_root(root_, "/usr/lib/../../etc").relative, "etc");
  EXPECT_EQ(resolve_in_root(root_, "/../../etc").relative, "etc");
}

TEST_F(PathInRoot, MissingComponents) {
  RootPath r = resolve_in_root(root_, "/lib/missing/deeper");
  EXPECT_FALSE(r.exists);
  EXPECT_EQ(r.relative, "usr/lib/missing/deeper");
  RootPath d = resolve_in_root(root_, "/dangling/x");
  EXPECT_FALSE(d.exists);
  EXPECT_EQ(d.relative, "nonexistent/deeper/x");
}

TEST_F(PathInRoot, Errors) {
  EXPECT_THROW(resolve_in_root(root_, "relative"), Error);
  EXPECT_THROW(resolve_in_root(root_, "/loop1"), Error);
  try {
    resolve_in_root(root_, "/etc/passwd/x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/etc/passwd is not a directory"), std::string::npos) << e.what();
  }
}

// MountTree runs where hpai-run assembles a container: in its own namespaces.
TEST_F(PathInRoot, MountTreeCreatesInsideTheRootOnly) {
  int rc = test::in_namespaces([&] {
    MountTree tree(root_);
    auto d = tree.open("/up/new/dir", MountTree::Create::Dir, "test");  // through the climbing symlink
    if (!d.fd || !d.is_dir || d.path != "/etc/new/dir" || !fs::is_directory(root_ + "/etc/new/dir")) return 1;
    auto f = tree.open("/dangling/file", MountTree::Create::File, "test");
    if (!f.fd || f.is_dir || !fs::is_regular_file(root_ + "/nonexistent/deeper/file")) return 2;
    if (tree.open("/etc/passwd", MountTree::Create::File, "test").path != "/etc/passwd") return 3;  // existing: kept
    if (tree.open("/../../made", MountTree::Create::Dir, "test").path != "/made" || !fs::is_directory(root_ + "/made"))
      return 4;
    auto missing = tree.open("/lib/missing/deeper", MountTree::Create::No, "test");
    if (missing.fd || missing.path != "/usr/lib/missing/deeper") return 5;
    if (!tree.open("/up/..", MountTree::Create::No, "test").is_root) return 6;  // ".." stops at the root
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

// A destination inside a host bind, directly or through an image symlink, is refused:
// nothing may be created in the host directory. A tmpfs hpai marks as its own is fine.
TEST_F(PathInRoot, MountTreeNeverCreatesOnAHostBind) {
  test::TempDir host;
  fs::create_directories(root_ + "/mnt/0");
  fs::create_directories(root_ + "/scratch");
  fs::create_symlink("/mnt/0/sub", root_ + "/into-bind");
  int rc = test::in_namespaces([&] {
    MountTree tree(root_);
    auto target = tree.open("/mnt/0", MountTree::Create::No, "test");
    UniqueFd bind = bind_mount_at(host.path(), target.fd.get(), "/mnt/0", false);
    tree.mounted(std::move(bind), false, "the bind of host " + host.path() + " at /mnt/0");
    for (const char* path : {"/mnt/0/foo", "/into-bind/x", "/mnt/0/../0/deeper/x"}) {
      try {
        tree.open(path, MountTree::Create::Dir, "-b B:" + std::string(path));
        return 1;
      } catch (const Error& e) {
        if (std::string(e.what()).find("is on the bind of host " + host.path()) == std::string::npos) {
          std::fprintf(stderr, "%s\n", e.what());
          return 2;
        }
      }
    }
    auto scratch = tree.open("/scratch", MountTree::Create::No, "test");
    UniqueFd tmpfs = mount_tmpfs_at(scratch.fd.get(), "/scratch", "mode=0755");
    tree.mounted(std::move(tmpfs), true, "a tmpfs of hpai's at /scratch");
    auto made = tree.open("/scratch/a/b", MountTree::Create::File, "test");
    if (!made.fd || made.is_dir) return 3;
    return fs::is_directory(root_ + "/scratch/a") ? 0 : 4;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(fs::exists(root_ + "/scratch/a")) << "made in the image below the tmpfs";
  EXPECT_TRUE(fs::is_empty(host.path())) << "something was created in the host directory";
}

}  // namespace
}  // namespace hpai
