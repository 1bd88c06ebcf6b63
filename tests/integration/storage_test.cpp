// Image storage on a shared node, with the real hpai-image as the test user and as
// root: names that share a prefix, leftovers of killed imports, broken metadata, the
// modes hpai writes, exports into a directory another user can write.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;

class Storage : public ContainerTest {
 protected:
  std::string big() { return test_image("debian-oci") + "/rootfs.tar.gz"; }
  // A small root file system tar of the busybox test image.
  std::string small() {
    const std::string out = scratch().path() + "/small.tar";
    Result r = run_as(who(), {"tar", "-C", test_image("busybox"), "-cf", out, "."});
    if (r.exit_code != 0) throw std::runtime_error("tar failed: " + r.err);
    return out;
  }
  // Waits until an import of NAME writes into its staging directory; returns it.
  std::string staging_of(const std::string& name) {
    for (int i = 0; i < 1000; ++i) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(storage() + "/tmp", ec))
        if (e.path().filename().string().starts_with(name + "%") && fs::exists(e.path().string() + "/etc", ec))
          return e.path();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "";
  }
};

// Importing "x" must not take "x.bar"'s staging directory for its own leftover.
TEST_P(Storage, NamesSharingAPrefixImportSideBySide) {
  const std::string tar = small();
  Result bar;
  std::thread slow([&] { bar = image({"import", big(), "x.bar"}); });
  ASSERT_FALSE(staging_of("x.bar").empty()) << "never saw x.bar's import start";
  Result x = image({"import", tar, "x"});
  slow.join();
  EXPECT_EQ(x.exit_code, 0) << x;
  EXPECT_EQ(bar.exit_code, 0) << bar;
  auto list = nlohmann::json::parse(image({"list", "--json"}).out);
  EXPECT_EQ(list.size(), 2u) << list.dump();
  EXPECT_TRUE(fs::is_empty(storage() + "/tmp"));
}

// A killed --force import leaves its staging behind; the next import of the name
// clears it even when it only finds the image already there.
TEST_P(Storage, LeftoverOfAKilledForcedImportIsClearedByAReusingImport) {
  ASSERT_EQ(image({"import", big(), "k"}).exit_code, 0);
  std::string leftover;
  Result killed = image({"import", "--force", big(), "k"}, [&](pid_t pid) {
    leftover = staging_of("k");
    kill(pid, SIGKILL);
  });
  ASSERT_FALSE(leftover.empty()) << "never saw the forced import start";
  ASSERT_TRUE(fs::exists(leftover));
  Result again = image({"import", big(), "k"});
  ASSERT_EQ(again.exit_code, 0) << again;
  EXPECT_TRUE(contains(again.out, "already imported")) << again;
  EXPECT_FALSE(fs::exists(leftover)) << "the killed import's staging survived";
}

// One image with broken metadata is listed as broken; the others as usual.
TEST_P(Storage, BrokenMetadataDoesNotHideTheOtherImages) {
  const std::string tar = small();
  ASSERT_EQ(image({"import", tar, "good"}).exit_code, 0);
  ASSERT_EQ(image({"import", tar, "bad"}).exit_code, 0);
  const std::string meta = storage() + "/img/bad/.hpai/image.json";
  fs::permissions(meta, fs::perms::owner_write, fs::perm_options::add);
  write_file(meta, "{ not json");
  Result list = image({"list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list;
  auto j = nlohmann::json::parse(list.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "bad");
  EXPECT_TRUE(contains(j[0].value("error", ""), "not valid JSON")) << j.dump();
  EXPECT_EQ(j[1]["name"], "good");
  EXPECT_FALSE(j[1].contains("error"));
  EXPECT_TRUE(contains(list.err, "bad:")) << list;
  Result text = image({"list"});
  EXPECT_EQ(text.exit_code, 0) << text;
  EXPECT_TRUE(contains(text.out, "good") && contains(text.out, "unreadable metadata")) << text;
  EXPECT_EQ(image({"rm", "bad"}).exit_code, 0);
}

// Nothing hpai writes is world-writable, whatever the umask of the import (which
// unpacks with umask 0 so archive modes come through).
TEST_P(Storage, MetadataAndExportsAreNotWorldWritable) {
  ASSERT_EQ(image({"import", small(), "m"}).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(stat((storage() + "/img/m/.hpai/image.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(stat((storage() + "/img/m/.hpai").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(stat(storage().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  const std::string out = scratch().path() + "/m.tar";
  ASSERT_EQ(image({"export", "m", out}).exit_code, 0);
  Result listing = run_as(who(), {"tar", "-tvf", out, "./.hpai/image.json"});
  EXPECT_TRUE(contains(listing.out, "-rw-r--r--")) << listing;
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0002, 0u);
}

// An export into a directory others can write (a scratch file system): a symlink
// another user plants at the output name is replaced, never written through, and no
// temporary file sits where they could aim one.
TEST_P(Storage, ExportIntoASharedDirectoryIgnoresPlantedLinks) {
  if (!running_as_root()) GTEST_SKIP() << "the other user needs root";
  ASSERT_EQ(image({"import", small(), "e"}).exit_code, 0);
  const std::string shared = scratch().path() + "/shared";
  fs::create_directories(shared);
  fs::permissions(shared, fs::perms::all | fs::perms::sticky_bit);
  const std::string victim = scratch().path() + "/victim";
  write_file(victim, "victim\n");
  fs::permissions(victim, fs::perms::all);
  const User other = other_user();
  for (const char* name : {"e.tar", "e.tar.hpai-tmp", "e.sqfs", "e.sqfs.hpai-tmp"}) {
    Result planted = run_as(other, {"ln", "-s", victim, shared + "/" + name});
    ASSERT_EQ(planted.exit_code, 0) << planted;
  }
  for (const char* name : {"e.tar", "e.sqfs"}) {
    // Root replaces the link; the test user may not replace another user's link in a
    // sticky directory, and says so. Neither writes through it.
    Result ex = image({"export", "e", shared + "/" + name});
    struct stat st {};
    ASSERT_EQ(lstat((shared + "/" + name).c_str(), &st), 0);
    if (GetParam() == As::Root) {
      EXPECT_EQ(ex.exit_code, 0) << ex;
      EXPECT_TRUE(S_ISREG(st.st_mode)) << name << " is not the exported file";
    } else {
      EXPECT_EQ(ex.exit_code, 31) << ex;
      EXPECT_TRUE(contains(ex.err, "can't rename")) << ex;
      EXPECT_TRUE(S_ISLNK(st.st_mode));
    }
  }
  EXPECT_EQ(read_file(victim), "victim\n");
  for (const auto& e : fs::directory_iterator(shared))
    EXPECT_FALSE(e.path().filename().string().starts_with(".hpai-export")) << "temporary directory left: " << e.path();
}

INSTANTIATE_TEST_SUITE_P(, Storage, ::testing::Values(As::Unprivileged, As::Root), as_name);

}  // namespace
}  // namespace hpai::test
