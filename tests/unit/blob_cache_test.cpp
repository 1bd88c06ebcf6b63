// The blob cache pulls fill: a blob is visible only once its digest and size matched,
// a failed fetch leaves nothing, an interrupted one is resumed, two fetches of one blob
// at once make one, and gc keeps exactly what stored images name.
#include "hpai/registry/blob_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/image/image_config.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

class BlobCacheTest : public ::testing::Test {
 protected:
  Descriptor blob(const std::string& content) {
    Descriptor d;
    d.hex = sha256_of(content);
    d.digest = "sha256:" + d.hex;
    d.size = static_cast<std::int64_t>(content.size());
    return d;
  }
  std::size_t count(const std::string& sub) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_.path() + "/s/blobs/" + sub)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  test::TempDir dir_;
  Storage storage_{dir_.path() + "/s"};
  BlobCache cache_{storage_};
};

TEST_F(BlobCacheTest, AFetchedBlobIsVerifiedThenRenamedInReadOnly) {
  const Descriptor d = blob("layer bytes");
  EXPECT_TRUE(cache_.ensure(d, "layer 1", [](BlobWriter& w) { ASSERT_TRUE(w.write("layer bytes", 11)); }));
  EXPECT_TRUE(cache_.has(d.hex));
  struct stat st {};
  ASSERT_EQ(stat(cache_.path_of(d.hex).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(count("partial"), 0u);
  // Cached: the fetch isn't called again.
  EXPECT_FALSE(cache_.ensure(d, "layer 1", [](BlobWriter&) { FAIL() << "fetched again"; }));
}

TEST_F(BlobCacheTest, WrongBytesTooManyBytesOrAFailedFetchLeaveNothing) {
  const Descriptor d = blob("the right bytes");
  try {
    cache_.ensure(d, "layer 1", [](BlobWriter& w) { w.write("the wrong bytes", 15); });
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not the " + d.digest), std::string::npos) << e.what();
  }
  Descriptor longer = d;
  longer.size = 3;
  try {
    cache_.ensure(d, "x", [](BlobWriter& w) { w.write("the", 3); });  // cut short
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sent 3 bytes, the manifest says 15"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(cache_.has(d.hex));
  EXPECT_THROW(cache_.ensure(longer, "x",
                             [](BlobWriter& w) {
                               EXPECT_FALSE(w.write("four", 4));
                               EXPECT_NE(w.error().find("more than the 3 bytes"), std::string::npos) << w.error();
                               throw Error("stopped");
                             }),
               Error);
  EXPECT_THROW(cache_.ensure(d, "x", [](BlobWriter&) { throw Error("connection refused"); }), Error);
  EXPECT_FALSE(cache_.has(d.hex));
  EXPECT_EQ(count("partial"), 0u);
  EXPECT_EQ(count("sha256"), 0u);
}

TEST_F(BlobCacheTest, AnInterruptedFetchIsResumedWhereItStopped) {
  const Descriptor d = blob("0123456789");
  // A killed pull's partial file.
  std::ofstream(dir_.path() + "/s/blobs/partial/" + d.hex) << "012345";
  EXPECT_TRUE(cache_.ensure(d, "x", [](BlobWriter& w) {
    EXPECT_EQ(w.size(), 6u);
    w.write("6789", 4);
  }));
  EXPECT_TRUE(cache_.has(d.hex));
  // A partial file that is no prefix (the server ignored Range): restarted.
  const Descriptor e = blob("abcdef");
  std::ofstream(dir_.path() + "/s/blobs/partial/" + e.hex) << "xyz";
  EXPECT_TRUE(cache_.ensure(e, "x", [](BlobWriter& w) {
    w.restart();
    w.write("abcdef", 6);
  }));
  // Longer than the blob: started over at once.
  const Descriptor f = blob("ab");
  std::ofstream(dir_.path() + "/s/blobs/partial/" + f.hex) << "abcdef";
  EXPECT_TRUE(cache_.ensure(f, "x", [](BlobWriter& w) {
    EXPECT_EQ(w.size(), 0u);
    w.write("ab", 2);
  }));
}

TEST_F(BlobCacheTest, TwoFetchesOfOneBlobAtOnceMakeOne) {
  const Descriptor d = blob(std::string(100000, 'x'));
  std::atomic<int> fetches{0};
  auto fetch = [&](BlobWriter& w) {
    ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string data(100000, 'x');
    w.write(data.data(), data.size());
  };
  bool a = false, b = false;
  std::thread t([&] { a = cache_.ensure(d, "x", fetch); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BlobCache other(storage_);  // another pull's cache object
  b = other.ensure(d, "x", fetch);
  t.join();
  EXPECT_EQ(fetches, 1);
  EXPECT_NE(a, b);
}

TEST_F(BlobCacheTest, GcKeepsWhatImagesNameAndRemovesTheRest) {
  const Descriptor used = blob("used"), unused = blob("unused");
  for (const auto* d : {&used, &unused})
    cache_.ensure(*d, "x", [&](BlobWriter& w) { w.write(d == &used ? "used" : "unused", d == &used ? 4 : 6); });
  std::ofstream(dir_.path() + "/s/blobs/partial/" + std::string(64, 'e')) << "killed";
  {
    NameLock lock = storage_.lock("img");
    Staging s = storage_.stage("img");
    ImageConfig c;
    c.import.format = "registry";
    c.import.blobs = {used.digest};
    write_image_config(s.path(), c);
    s.commit();
  }
  GcReport dry = cache_.gc(storage_, true);
  EXPECT_EQ(dry.removed, 1);
  EXPECT_EQ(count("sha256"), 2u);
  GcReport g = cache_.gc(storage_, false);
  EXPECT_EQ(g.removed, 1);
  EXPECT_EQ(g.partials, 1);
  EXPECT_EQ(g.kept, 1);
  EXPECT_EQ(g.bytes, 6u + 6u);
  EXPECT_TRUE(cache_.has(used.hex));
  EXPECT_FALSE(cache_.has(unused.hex));
  // An image whose metadata can't be read: its blobs are unknown, nothing is removed.
  {
    NameLock lock = storage_.lock("broken");
    Staging s = storage_.stage("broken");
    fs::create_directories(s.path() + "/.hpai");
    std::ofstream(s.path() + "/.hpai/image.json") << "{not json";
    s.commit();
  }
  cache_.ensure(unused, "x", [](BlobWriter& w) { w.write("unused", 6); });
  EXPECT_THROW(cache_.gc(storage_, false), Error);
  EXPECT_TRUE(cache_.has(unused.hex));
}

}  // namespace
}  // namespace hpai
