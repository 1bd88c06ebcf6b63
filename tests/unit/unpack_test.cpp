#include "hpai/image/unpack.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/image/blob_source.hpp"
#include "hpai/image/layer_stream.hpp"
#include "hpai/image/storage.hpp"
#include "tar_builder.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;
using test::TarBuilder;

TEST(SanitizeMemberPath, Table) {
  struct Case {
    const char* in;
    std::optional<std::string> out;
  } cases[] = {
      {"etc/passwd", "etc/passwd"},
      {"./etc/passwd", "etc/passwd"},
      {"/etc/passwd", "etc/passwd"},
      {"//a//b/", "a/b"},
      {".", ""},
      {"./", ""},
      {"../evil", std::nullopt},
      {"a/../../evil", std::nullopt},
      {"a/..", std::nullopt},
      {"a/.../b", "a/.../b"},
      {"..a/b", "..a/b"},
  };
  for (const auto& c : cases) EXPECT_EQ(sanitize_member_path(c.in), c.out) << c.in;
  EXPECT_EQ(sanitize_member_path(std::string(300, 'x')), std::nullopt);
}

class Unpack : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    root_ = dir_ + "/root";
    host_ = dir_ + "/host";  // stands for anything outside the image
    fs::create_directories(root_);
    fs::create_directories(host_);
  }
  test::TempDir tmp_;

  // Applies the archives at PATHS, in order, as layers.
  UnpackStats apply(std::initializer_list<std::string> paths) {
    LayerWriter w(root_);
    for (const auto& p : paths) {
      FileSource src(p);
      apply_layer(src, w, p);
    }
    return w.stats();
  }
  std::string layer(int n) { return dir_ + "/layer" + std::to_string(n) + ".tar"; }
  bool in_root(const std::string& rel) { return fs::exists(fs::symlink_status(root_ + "/" + rel)); }
  std::string content(const std::string& rel) {
    std::ifstream in(root_ + "/" + rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  mode_t mode(const std::string& rel) {
    struct stat st {};
    lstat((root_ + "/" + rel).c_str(), &st);
    return st.st_mode & 07777;
  }
  std::string dir_, root_, host_;
};

TEST_F(Unpack, DotDotMembersAreSkipped) {
  TarBuilder(layer(1)).file("../evil", "x").file("a/../../evil2", "x").file("ok", "fine");
  UnpackStats s = apply({layer(1)});
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_FALSE(fs::exists(dir_ + "/evil"));
  EXPECT_FALSE(fs::exists(dir_ + "/evil2"));
  EXPECT_EQ(content("ok"), "fine");
}

TEST_F(Unpack, AbsolutePathsLandInsideTheImage) {
  TarBuilder(layer(1)).file(host_ + "/abs", "x");
  apply({layer(1)});
  EXPECT_FALSE(fs::exists(host_ + "/abs"));
  EXPECT_EQ(content(host_.substr(1) + "/abs"), "x");
}

TEST_F(Unpack, NoWriteThroughSymlinks) {
  // Absolute and climbing symlinks to the host directory, then writes through them.
  TarBuilder(layer(1))
      .symlink("abs", host_)
      .file("abs/x", "through absolute")
      .symlink("rel", "../../../../../../../.." + host_)
      .file("rel/y", "through relative");
  apply({layer(1)});
  EXPECT_TRUE(fs::is_empty(host_)) << "wrote outside the image";
  EXPECT_EQ(content(host_.substr(1) + "/x"), "through absolute");  // the image's own copy of that path
  EXPECT_EQ(content(host_.substr(1) + "/y"), "through relative");
}

TEST_F(Unpack, HardLinksStayInside) {
  std::string outside = host_ + "/secret";
  std::ofstream(outside) << "host";
  TarBuilder(layer(1))
      .file("data", "inside")
      .hardlink("good", "data")
      .hardlink("up", "../../host/secret")
      .hardlink("abs", outside)
      .symlink("s", host_)
      .hardlink("via-symlink", "s/secret");
  UnpackStats s = apply({layer(1)});
  EXPECT_EQ(content("good"), "inside");
  EXPECT_EQ(s.hardlinks, 1u);
  EXPECT_EQ(s.rejected, 3u);
  EXPECT_FALSE(in_root("up"));
  EXPECT_FALSE(in_root("abs"));
  EXPECT_FALSE(in_root("via-symlink"));
  EXPECT_EQ(fs::hard_link_count(outside), 1u);
}

TEST_F(Unpack, DevicesFifosAndDevContentAreDropped) {
  TarBuilder(layer(1))
      .dir("dev")
      .special("dev/null", AE_IFCHR)
      .file("dev/shm-file", "x")
      .special("fifo", AE_IFIFO)
      .special("blk", AE_IFBLK);
  UnpackStats s = apply({layer(1)});
  EXPECT_EQ(s.dropped, 4u);
  EXPECT_TRUE(fs::is_directory(root_ + "/dev"));
  EXPECT_TRUE(fs::is_empty(root_ + "/dev"));
  EXPECT_FALSE(in_root("fifo"));
  EXPECT_FALSE(in_root("blk"));
}

TEST_F(Unpack, SetuidSetgidStrippedAndTreesStayRemovable) {
  TarBuilder(layer(1))
      .file("suid", "x", 04755)
      .dir("sgid", 02775)
      .dir("locked", 0000)
      .file("locked/f", "x", 0000)
      .dir("ro", 0555);
  UnpackStats s = apply({layer(1)});
  EXPECT_EQ(s.setid_stripped, 2u);
  EXPECT_EQ(mode("suid"), 0755u);
  EXPECT_EQ(mode("sgid"), 0775u);
  EXPECT_EQ(mode("locked"), 0700u);
  EXPECT_EQ(mode("locked/f"), 0600u);
  EXPECT_EQ(mode("ro"), 0755u);
  EXPECT_NO_THROW(remove_tree(root_));
  EXPECT_FALSE(fs::exists(root_));
}

TEST_F(Unpack, WhiteoutsDeleteLowerLayersOnly) {
  TarBuilder(layer(1)).file("a/b", "1").file("a/c", "1").dir("d").file("d/e", "1").file("same", "1");
  TarBuilder(layer(2)).file("a/.wh.b").file(".wh.d").file("new", "2").file(".wh.new").file("a/z", "2");
  UnpackStats s = apply({layer(1), layer(2)});
  EXPECT_FALSE(in_root("a/b"));
  EXPECT_TRUE(in_root("a/c"));
  EXPECT_FALSE(in_root("d"));
  EXPECT_EQ(content("new"), "2") << "a whiteout does not hide its own layer's file";
  EXPECT_FALSE(in_root("a/.wh.b"));
  EXPECT_EQ(s.whiteouts, 3u);
}

TEST_F(Unpack, OpaqueDirectoriesHideLowerContent) {
  TarBuilder(layer(1)).file("o/old1", "1").file("o/sub/old2", "1").file("keep", "1");
  TarBuilder(layer(2)).file("o/mine", "2").file("o/.wh..wh..opq").file("o/mine2", "2");
  apply({layer(1), layer(2)});
  EXPECT_FALSE(in_root("o/old1"));
  EXPECT_FALSE(in_root("o/sub"));
  EXPECT_EQ(content("o/mine"), "2");
  EXPECT_EQ(content("o/mine2"), "2");
  EXPECT_TRUE(in_root("keep"));
}

TEST_F(Unpack, WhiteoutsCannotEscape) {
  std::ofstream(host_ + "/victim") << "x";
  TarBuilder(layer(1))
      .file("../host/.wh.victim")
      .file(".wh..")
      .file("a/.wh...")
      .symlink("s", host_)
      .file("s/.wh.victim");
  UnpackStats s = apply({layer(1)});
  EXPECT_TRUE(fs::exists(host_ + "/victim"));
  EXPECT_GE(s.rejected, 3u);
}

TEST_F(Unpack, LaterLayersReplaceEntriesOfAnotherType) {
  TarBuilder(layer(1)).file("p", "file").dir("q").file("q/child", "x").symlink("s", "/etc").dir("etc");
  TarBuilder(layer(2)).file("p/inside", "now a dir").file("q", "now a file").file("s/x", "via symlink");
  apply({layer(1), layer(2)});
  EXPECT_EQ(content("p/inside"), "now a dir");
  EXPECT_EQ(content("q"), "now a file");
  EXPECT_EQ(content("etc/x"), "via symlink") << "s -> /etc is the image's /etc";
  EXPECT_FALSE(fs::exists("/etc/x"));
}

TEST_F(Unpack, DigestsCoverTheBlobAndTheTar) {
  TarBuilder(layer(1), true).file("f", std::string(100000, 'x'));
  std::string tar = dir_ + "/plain.tar";
  TarBuilder(tar).file("f", std::string(100000, 'x'));
  LayerWriter w(root_);
  FileSource gz(layer(1));
  LayerDigests d = apply_layer(gz, w, "gz");
  std::ifstream in(layer(1), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(d.blob, sha256_of(ss.str()));
  std::ifstream tin(tar, std::ios::binary);
  std::stringstream ts;
  ts << tin.rdbuf();
  EXPECT_EQ(d.tar, sha256_of(ts.str())) << "the diff_id is the digest of the uncompressed tar";
}

TEST_F(Unpack, TruncatedAndCorruptCompressionFailCleanly) {
  std::string big;
  for (int i = 0; i < 20000; ++i) big += std::to_string(i * 7919) + "\n";
  TarBuilder(layer(1), true).file("f", big).file("g", big);
  std::string truncated = dir_ + "/truncated.tar.gz";
  fs::copy_file(layer(1), truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  try {
    apply({truncated});
    FAIL() << "accepted a truncated layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(truncated), std::string::npos) << e.what();
  }
  std::string corrupt = dir_ + "/corrupt.tar.gz";
  fs::copy_file(layer(1), corrupt);
  {
    std::fstream f(corrupt, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.write("garbage-garbage-garbage", 23);
  }
  EXPECT_THROW(apply({corrupt}), Error);
}

TEST_F(Unpack, EveryLayerCompressionUnpacks) {
  using F = TarBuilder::Filter;
  int n = 1;
  for (F f : {F::None, F::Gzip, F::Zstd, F::Xz, F::Bzip2}) {
    TarBuilder(layer(n), f).file("c" + std::to_string(n), std::string(5000, 'a' + static_cast<char>(n)));
    apply({layer(n)});
    EXPECT_EQ(content("c" + std::to_string(n)), std::string(5000, 'a' + static_cast<char>(n))) << "filter " << n;
    ++n;
  }
}

TEST_F(Unpack, EmptyLayerIsFine) {
  std::ofstream(layer(1)).close();
  EXPECT_NO_THROW(apply({layer(1)}));
}

}  // namespace
}  // namespace hpai
