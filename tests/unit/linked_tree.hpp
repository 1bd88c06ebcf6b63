// An image tree whose symlinks try every way out: relative, absolute, climbing above
// the root, to a file, in a loop, dangling. Both in-root resolvers are tested on it
// (image/path_in_root, run/mount_tree).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.hpp"

namespace hpai::test {

inline void make_linked_tree(const std::string& root) {
  namespace fs = std::filesystem;
  fs::create_directories(root + "/usr/lib");
  fs::create_directories(root + "/etc");
  std::ofstream(root + "/etc/passwd") << "x";
  fs::create_symlink("usr/lib", root + "/lib");            // relative
  fs::create_symlink("/usr/lib", root + "/abslib");        // absolute: means the image's /usr/lib
  fs::create_symlink("../../../../../etc", root + "/up");  // climbs above the root
  fs::create_symlink("/etc/passwd", root + "/pw");         // to a file
  fs::create_symlink("loop2", root + "/loop1");
  fs::create_symlink("loop1", root + "/loop2");
  fs::create_symlink("/nonexistent/deeper", root + "/dangling");
}

// A fresh linked tree for each test, at root_.
class LinkedTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    make_linked_tree(root_);
  }
  TempDir tmp_;
  std::string root_;
};

}  // namespace hpai::test
