// MountTree on the linked tree, in a namespace of its own: mount points made inside the
// root only, and never on a bind from the host.
#include "hpai/run/mount_tree.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "hpai/run/mounts.hpp"
#include "linked_tree.hpp"
#include "namespaces.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

class MountTreeTest : public test::LinkedTreeTest {};

// MountTree runs where hpai-run assembles a container: in its own namespaces.
TEST_F(MountTreeTest, CreatesInsideTheRootOnly) {
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
TEST_F(MountTreeTest, NeverCreatesOnAHostBind) {
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
