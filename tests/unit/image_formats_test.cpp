// Manifests resolved from OCI layouts and docker-save archives: tags and platforms
// chosen, every manifest and config checked against its digest before it is believed.
#include "hpai/image/image_formats.hpp"

#include <gtest/gtest.h>

#include "error_text.hpp"
#include "hpai/base/error.hpp"
#include "oci_builder.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;

using test::error_of;

TEST(OciLayout, TagPicksTheManifestAndDigestsAreKept) {
  test::TempDir d;
  const auto parts = test::one_layer_image(d.path());
  const std::string digest = test::write_oci_layout(d.path() + "/oci", parts, "1.0");
  auto store = BlobStore::directory(d.path() + "/oci");
  ResolvedImage r = resolve_oci(*store, "linux/amd64", "1.0");
  EXPECT_EQ(r.manifest_digest, digest);
  EXPECT_EQ(r.ref_name, "1.0");
  EXPECT_EQ(r.config_json, parts.config);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].blob_hex, sha256_of(parts.layer));
  EXPECT_EQ(r.layers[0].diff_id_hex, sha256_of(parts.layer));
  EXPECT_EQ(r.layers[0].path, "blobs/sha256/" + sha256_of(parts.layer));
  EXPECT_EQ(resolve_oci(*store, "linux/amd64", "").manifest_digest, digest);  // the only one: no tag needed
}

TEST(OciLayout, AMissingTagNamesThoseThereAre) {
  test::TempDir d;
  test::write_oci_layout(d.path() + "/oci", test::one_layer_image(d.path()), "1.0");
  auto store = BlobStore::directory(d.path() + "/oci");
  const std::string e = error_of([&] { resolve_oci(*store, "linux/amd64", "2.0"); });
  EXPECT_NE(e.find("no image tagged \"2.0\" (it has: 1.0)"), std::string::npos) << e;
}

TEST(OciLayout, AnotherPlatformIsRefused) {
  test::TempDir d;
  test::write_oci_layout(d.path() + "/oci", test::one_layer_image(d.path(), "arm64"), "1.0");
  auto store = BlobStore::directory(d.path() + "/oci");
  const std::string e = error_of([&] { resolve_oci(*store, "linux/amd64", "1.0"); });
  EXPECT_NE(e.find("image is for linux/arm64, not linux/amd64"), std::string::npos) << e;
}

TEST(OciLayout, AConfigThatIsNotItsDigestIsNotBelieved) {
  test::TempDir d;
  const auto parts = test::one_layer_image(d.path());
  test::write_oci_layout(d.path() + "/oci", parts, "1.0");
  // Rewrite the config blob in place: same name, other bytes.
  std::string tampered = parts.config;
  tampered.replace(tampered.find("amd64"), 5, "arm64");
  test::spit(d.path() + "/oci/blobs/sha256/" + sha256_of(parts.config), tampered);
  auto store = BlobStore::directory(d.path() + "/oci");
  EXPECT_THROW(resolve_oci(*store, "", "1.0"), Error);
}

TEST(OciLayout, AMissingLayerBlobIsNamed) {
  test::TempDir d;
  const auto parts = test::one_layer_image(d.path());
  test::write_oci_layout(d.path() + "/oci", parts, "1.0");
  ASSERT_EQ(unlink((d.path() + "/oci/blobs/sha256/" + sha256_of(parts.layer)).c_str()), 0);
  auto store = BlobStore::directory(d.path() + "/oci");
  const std::string e = error_of([&] { resolve_oci(*store, "linux/amd64", "1.0"); });
  EXPECT_NE(e.find("layer 1 blob"), std::string::npos) << e;
  EXPECT_NE(e.find("is missing"), std::string::npos) << e;
}

TEST(DockerArchive, ABareTagMatchesItsTagPart) {
  test::TempDir d;
  const auto parts = test::one_layer_image(d.path());
  test::write_docker_save(d.path() + "/save", parts, "realtest:1");
  auto store = BlobStore::directory(d.path() + "/save");
  ResolvedImage r = resolve_docker_archive(*store, "1");
  EXPECT_EQ(r.ref_name, "realtest:1");
  EXPECT_EQ(r.manifest_digest, "sha256:" + sha256_of(parts.config));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].path, sha256_of(parts.layer) + "/layer.tar");
  EXPECT_EQ(resolve_docker_archive(*store, "realtest:1").ref_name, "realtest:1");
  const std::string e = error_of([&] { resolve_docker_archive(*store, "other:2"); });
  EXPECT_NE(e.find("no image tagged \"other:2\" (it has: realtest:1"), std::string::npos) << e;
}

TEST(DockerArchive, AConfigThatIsNotItsNameIsNotBelieved) {
  test::TempDir d;
  const auto parts = test::one_layer_image(d.path());
  test::write_docker_save(d.path() + "/save", parts, "realtest:1");
  test::spit(d.path() + "/save/" + sha256_of(parts.config) + ".json", parts.config + " ");
  auto store = BlobStore::directory(d.path() + "/save");
  EXPECT_THROW(resolve_docker_archive(*store, ""), Error);
}

}  // namespace
}  // namespace hpai
