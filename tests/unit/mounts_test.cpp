#include "hpai/run/mounts.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "namespaces.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

TEST(Mounts, OverlayEscape) {
  EXPECT_EQ(overlay_escape("/plain/path"), "/plain/path");
  EXPECT_EQ(overlay_escape("/a,b:c\\d"), "/a\\,b\\:c\\\\d");
}

using test::in_namespaces;

TEST(Mounts, ReadOnlyBindRefusesWritesAndKeepsTheSourceWritable) {
  test::TempDir tmp;
  const std::string& dir = tmp.path();
  std::filesystem::create_directories(dir + "/src");
  std::filesystem::create_directories(dir + "/dst");
  int rc = in_namespaces([&] {
    UniqueFd dst(open((dir + "/dst").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    bind_mount_at(dir + "/src", dst.get(), dir + "/dst", true);
    int fd = open((dir + "/dst/f").c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0 || errno != EROFS) return 1;
    fd = open((dir + "/src/f").c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return 2;
    close(fd);
    mount_tmpfs(dir + "/dst", "size=1m");
    std::ofstream(dir + "/dst/in-tmpfs") << "x";
    return std::filesystem::exists(dir + "/src/in-tmpfs") ? 3 : 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/src/f"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/dst/in-tmpfs")) << "a mount leaked out of the namespace";
}

TEST(Mounts, FailuresNameThePaths) {
  int rc = in_namespaces([] {
    try {
      UniqueFd dst(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
      bind_mount_at("/nonexistent-src", dst.get(), "/nonexistent-dst", false);
    } catch (const std::exception& e) {
      return std::string(e.what()) == "can't bind /nonexistent-src on /nonexistent-dst: No such file or directory" ? 0
                                                                                                                   : 1;
    }
    return 2;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace hpai
