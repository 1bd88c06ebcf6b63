#include "hpai/image/storage.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hpai/base/error.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

TEST(ImageName, Validation) {
  for (const char* ok :
       {"debian", "debian:12", "pytorch:24.05", "nvcr.io/nvidia/pytorch:24.05-py3", "a@sha256:0f", "x_y-z.1"})
    EXPECT_NO_THROW(validate_image_name(ok)) << ok;
  for (const char* bad :
       {"", ".hidden", "/abs", "a/../b", "a//b", "a/", "sp ace", "semi;colon", "plus+", "-flag", "a/./b"})
    EXPECT_THROW(validate_image_name(bad), Error) << bad;
}

class StorageTest : public ::testing::Test {
 protected:
  test::TempDir tmp_;
  std::string root_ = tmp_.path() + "/store";
};

TEST_F(StorageTest, DefaultLocation) {
  EXPECT_EQ(Storage::from_environment(Environment::from_entries({"HPAI_STORAGE=/x/y/"})).root(), "/x/y");
  EXPECT_EQ(Storage::from_environment(Environment::from_entries({"USER=alice"})).root(), "/var/tmp/alice.hpai");
}

TEST_F(StorageTest, StageCommitListRemove) {
  Storage s(root_);
  {
    NameLock lock = s.lock("nvcr.io/nvidia/pytorch:24.05");
    Staging st = s.stage("nvcr.io/nvidia/pytorch:24.05");
    std::ofstream(st.path() + "/f") << "v1";
    EXPECT_FALSE(s.has("nvcr.io/nvidia/pytorch:24.05")) << "visible before commit";
    st.commit();
  }
  EXPECT_TRUE(s.has("nvcr.io/nvidia/pytorch:24.05"));
  EXPECT_EQ(s.image_dir("nvcr.io/nvidia/pytorch:24.05"), root_ + "/img/nvcr.io+nvidia+pytorch:24.05");
  EXPECT_EQ(s.names(), std::vector<std::string>{"nvcr.io/nvidia/pytorch:24.05"});
  EXPECT_EQ(fs::status(root_).permissions() & fs::perms::all, fs::perms::owner_all);
  {
    NameLock lock = s.lock("nvcr.io/nvidia/pytorch:24.05");
    Staging st = s.stage("nvcr.io/nvidia/pytorch:24.05");
    std::ofstream(st.path() + "/f") << "v2";
    st.commit();  // replaces in one step
  }
  std::ifstream in(s.image_dir("nvcr.io/nvidia/pytorch:24.05") + "/f");
  std::string v;
  in >> v;
  EXPECT_EQ(v, "v2");
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
  NameLock lock = s.lock("nvcr.io/nvidia/pytorch:24.05");
  s.remove("nvcr.io/nvidia/pytorch:24.05");
  EXPECT_TRUE(s.names().empty());
  EXPECT_THROW(s.remove("nvcr.io/nvidia/pytorch:24.05"), Error);
}

TEST_F(StorageTest, UncommittedStagingIsRemoved) {
  Storage s(root_);
  NameLock lock = s.lock("x");
  {
    Staging st = s.stage("x");
    fs::create_directories(st.path() + "/deep/ro");
    fs::permissions(st.path() + "/deep", fs::perms::owner_read | fs::perms::owner_exec);
  }
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
  EXPECT_FALSE(s.has("x"));
}

TEST_F(StorageTest, LeftoversOfKilledImportsAreClearedUnderTheLock) {
  Storage s(root_);
  { NameLock lock = s.lock("x"); }
  fs::create_directories(root_ + "/tmp/x%import.ABC123/usr");      // a killed import of x
  fs::create_directories(root_ + "/tmp/x%rm.ABC123/image");        // a killed removal of x
  fs::create_directories(root_ + "/tmp/x.bar%import.DEF456/usr");  // a running import of x.bar: untouched
  fs::create_directories(root_ + "/tmp/xy%import.ABC123/usr");     // another name's: untouched
  NameLock lock = s.lock("x");  // not only stage(): an import that reuses the image clears them too
  EXPECT_FALSE(fs::exists(root_ + "/tmp/x%import.ABC123"));
  EXPECT_FALSE(fs::exists(root_ + "/tmp/x%rm.ABC123"));
  EXPECT_TRUE(fs::exists(root_ + "/tmp/x.bar%import.DEF456"));
  EXPECT_TRUE(fs::exists(root_ + "/tmp/xy%import.ABC123"));
  Staging st = s.stage("x");
  EXPECT_EQ(fs::path(st.path()).filename().string().substr(0, 9), "x%import.");
}

TEST_F(StorageTest, StorageOthersCanWriteIsRefused) {
  fs::create_directories(root_);
  fs::permissions(root_, fs::perms::owner_all | fs::perms::group_all);  // 0770: the group could swap images
  Storage s(root_);
  try {
    s.has("x");
    FAIL() << "group-writable storage was used";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("others can write it (mode 0770)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chmod go-w " + root_), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.lock("x"), Error);
  fs::permissions(root_, fs::perms::owner_all);
  EXPECT_FALSE(Storage(root_).has("x"));
  if (geteuid() == 0) {  // someone else's storage: only root can make one here
    ASSERT_EQ(chown(root_.c_str(), 4242, 4242), 0);
    try {
      Storage(root_).names();
      FAIL() << "another user's storage was used";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("it belongs to uid 4242, not to you"), std::string::npos) << e.what();
    }
    ASSERT_EQ(chown(root_.c_str(), 0, 0), 0);
  }
}

TEST_F(StorageTest, StorageThroughASymlinkIsItsRealPath) {
  fs::create_directories(tmp_.path() + "/real");
  fs::permissions(tmp_.path() + "/real", fs::perms::owner_all);
  fs::create_directory_symlink(tmp_.path() + "/real", tmp_.path() + "/link");
  EXPECT_EQ(Storage(tmp_.path() + "/link").root(), tmp_.path() + "/real");
}

TEST_F(StorageTest, LockExcludesOtherProcesses) {
  Storage s(root_);
  auto lock = std::make_unique<NameLock>(s.lock("busy"));
  pid_t child = fork();
  if (child == 0) {
    lock.reset();  // fork copied the locked descriptor; the lock is the parent's to release
    Storage again(root_);
    auto start = std::chrono::steady_clock::now();
    NameLock l = again.lock("busy");  // blocks until the parent lets go
    _exit(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250) ? 0 : 1);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  lock.reset();
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child got the lock while it was held";
}

}  // namespace
}  // namespace hpai
