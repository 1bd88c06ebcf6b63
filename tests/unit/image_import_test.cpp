// Format detection, --format names, and whole imports into a private storage: a flat
// tar, an OCI layout, a docker-save tar, a directory; re-imports of the same source
// reused; a :TAG where no tags exist refused.
#include "hpai/image/image_import.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "hpai/base/error.hpp"
#include "oci_builder.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::make_unique<Storage>(d_.path() + "/storage");
    parts_ = test::one_layer_image(d_.path());
  }
  ImportResult import(const std::string& source, const std::string& name) {
    ImportOptions o;
    o.source = source;
    o.name = name;
    return import_image(*storage_, o);
  }
  test::TempDir d_;
  std::unique_ptr<Storage> storage_;
  test::ImageParts parts_;
};

TEST(ImageFormat, NamesRoundTripAndAutoDetects) {
  for (ImageFormat f :
       {ImageFormat::Tar, ImageFormat::Oci, ImageFormat::OciArchive, ImageFormat::DockerArchive, ImageFormat::Dir})
    EXPECT_EQ(parse_image_format(to_string(f)), f);
  EXPECT_EQ(parse_image_format("auto"), std::nullopt);
  try {
    parse_image_format("zip");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage);
    EXPECT_NE(std::string(e.what()).find("unknown format \"zip\""), std::string::npos);
  }
}

TEST_F(ImportTest, EveryFormatIsDetectedFromContent) {
  const std::string oci = d_.path() + "/oci", save = d_.path() + "/save", tree = d_.path() + "/tree";
  test::write_oci_layout(oci, parts_, "1.0");
  test::write_docker_save(save, parts_, "realtest:1");
  mkdirs(tree + "/etc");
  run("tar -C '" + oci + "' -cf '" + d_.path() + "/oci.tar' . && tar -C '" + save + "' -cf '" + d_.path() +
      "/save.tar' .");
  EXPECT_EQ(detect_format(d_.path() + "/layer.tar"), ImageFormat::Tar);
  EXPECT_EQ(detect_format(oci), ImageFormat::Oci);
  EXPECT_EQ(detect_format(d_.path() + "/oci.tar"), ImageFormat::OciArchive);
  EXPECT_EQ(detect_format(d_.path() + "/save.tar"), ImageFormat::DockerArchive);
  EXPECT_EQ(detect_format(tree), ImageFormat::Dir);
  // A layout without its oci-layout file is said to be one, not imported as a tree.
  ASSERT_EQ(unlink((oci + "/oci-layout").c_str()), 0);
  EXPECT_THROW(detect_format(oci), Error);
}

TEST_F(ImportTest, AFlatTarImportsOnceAndIsReusedAfter) {
  ImportResult r = import(d_.path() + "/layer.tar", "flat");
  EXPECT_FALSE(r.reused);
  EXPECT_EQ(r.config.import.format, "tar");
  EXPECT_EQ(r.config.import.layers, 1);
  EXPECT_EQ(r.config.import.digest, "sha256:" + sha256_of(parts_.layer));
  EXPECT_EQ(test::slurp(r.dir + "/hello"), "hi\n");
  struct stat st {};
  ASSERT_EQ(stat(r.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_TRUE(import(d_.path() + "/layer.tar", "flat").reused);
}

TEST_F(ImportTest, AnOciLayoutKeepsItsConfigAndTag) {
  const std::string oci = d_.path() + "/oci";
  const std::string digest = test::write_oci_layout(oci, parts_, "1.0");
  ImportResult r = import(oci + ":1.0", "");
  EXPECT_EQ(r.name, "oci:1.0");  // the layout's name and the tag
  EXPECT_EQ(r.config.import.format, "oci");
  EXPECT_EQ(r.config.import.digest, digest);
  EXPECT_EQ(r.config.cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(test::slurp(r.dir + "/hello"), "hi\n");
}

TEST_F(ImportTest, ADockerSaveTarImports) {
  const std::string save = d_.path() + "/save";
  test::write_docker_save(save, parts_, "realtest:1");
  run("tar -C '" + save + "' -cf '" + d_.path() + "/save.tar' .");
  ImportResult r = import(d_.path() + "/save.tar", "saved");
  EXPECT_EQ(r.config.import.format, "docker-archive");
  EXPECT_EQ(r.config.env, std::vector<std::string>{"PATH=/bin"});
  EXPECT_EQ(test::slurp(r.dir + "/hello"), "hi\n");
}

TEST_F(ImportTest, ATagOnAFlatTarIsAUsageError) {
  ImportOptions o;
  o.source = d_.path() + "/layer.tar";
  o.tag = "1.0";
  o.name = "flat";
  try {
    import_image(*storage_, o);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage);
    EXPECT_NE(std::string(e.what()).find("a :TAG only applies to OCI layouts and docker archives"), std::string::npos);
  }
}

}  // namespace
}  // namespace hpai
