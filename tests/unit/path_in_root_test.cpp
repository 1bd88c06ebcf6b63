#include "hpai/image/path_in_root.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "linked_tree.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

class PathInRoot : public test::LinkedTreeTest {};

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

}  // namespace
}  // namespace hpai
