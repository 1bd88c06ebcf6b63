// Manifest JSON as OCI layouts and registries serve it: descriptors, the platforms of an
// index, image manifests, and what is refused.
#include "hpai/image/manifest.hpp"

#include <gtest/gtest.h>

#include "error_text.hpp"
#include "hpai/base/error.hpp"

namespace hpai {
namespace {

using nlohmann::json;

const std::string kHex(64, 'a');
const std::string kHex2(64, 'b');

json desc(const std::string& type, const std::string& hex, json extra = json::object()) {
  json d = {{"mediaType", type}, {"digest", "sha256:" + hex}, {"size", 10}};
  d.update(extra);
  return d;
}

using test::error_of;

TEST(Manifest, DescriptorsAreCheckedAsTheyAreRead) {
  Descriptor d = parse_descriptor(desc(kOciManifestType, kHex,
                                       {{"platform", {{"os", "linux"}, {"architecture", "arm"}, {"variant", "v7"}}},
                                        {"annotations", {{"org.opencontainers.image.ref.name", "1.0"}}}}),
                                  "index");
  EXPECT_EQ(d.hex, kHex);
  EXPECT_EQ(d.size, 10);
  EXPECT_EQ(d.platform, "linux/arm/v7");
  EXPECT_EQ(d.ref_name, "1.0");
  EXPECT_EQ(parse_descriptor(json{{"digest", "sha256:" + kHex}}, "x").size, -1);
  EXPECT_NE(error_of([] {
              parse_descriptor(json{{"size", 1}}, "index");
            }).find("without a \"digest\""),
            std::string::npos);
  EXPECT_THROW(parse_descriptor(json{{"digest", "sha512:" + kHex + kHex}}, "x"), Error);
  EXPECT_THROW(parse_descriptor(json{{"digest", "sha256:../../etc/passwd"}}, "x"), Error);
  EXPECT_THROW(parse_descriptor(json{{"digest", "sha256:" + std::string(64, 'A')}}, "x"), Error);
  EXPECT_NE(error_of([] {
              parse_descriptor(desc(kOciManifestType, kHex, {{"size", -1}}), "x");
            }).find("not a byte count"),
            std::string::npos);
  EXPECT_THROW(parse_descriptor(desc(kOciManifestType, kHex, {{"size", "10"}}), "x"), Error);
  EXPECT_THROW(parse_descriptor(desc(kOciManifestType, kHex, {{"mediaType", 7}}), "x"), Error);
  EXPECT_THROW(parse_descriptor(json::array(), "x"), Error);
}

TEST(Manifest, ThePlatformIsPickedOrThePlatformsAreListed) {
  json index = {{"manifests",
                 {desc(kOciManifestType, kHex, {{"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}),
                  desc(kDockerManifestType, kHex2,
                       {{"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}}),
                  // An attestation manifest (buildx) is no image.
                  desc("application/vnd.in-toto+json", std::string(64, 'c'),
                       {{"platform", {{"os", "unknown"}, {"architecture", "unknown"}}}})}}};
  auto entries = index_entries(index, "idx");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(pick_platform(entries, "linux/amd64", "idx").hex, kHex);
  EXPECT_EQ(pick_platform(entries, "linux/arm64", "idx").hex, kHex2);  // v8 implied
  EXPECT_EQ(pick_platform(entries, "linux/arm64/v8", "idx").hex, kHex2);
  const std::string none = error_of([&] { pick_platform(entries, "linux/ppc64le", "idx"); });
  EXPECT_NE(none.find("no image for linux/ppc64le; it has linux/amd64, linux/arm64/v8 (choose"), std::string::npos)
      << none;
  EXPECT_EQ(none.find("unknown"), std::string::npos) << none;
  entries.push_back(entries[0]);
  EXPECT_NE(error_of([&] { pick_platform(entries, "linux/amd64", "idx"); }).find("2 images for linux/amd64"),
            std::string::npos);
  EXPECT_THROW(index_entries(json{{"manifests", 1}}, "idx"), Error);
  EXPECT_THROW(index_entries(json::object(), "idx"), Error);
}

TEST(Manifest, ImageManifestsNameTheirConfigAndLayers) {
  json m = {{"config", desc("application/vnd.oci.image.config.v1+json", kHex)},
            {"layers",
             {desc("application/vnd.oci.image.layer.v1.tar+gzip", kHex2),
              desc("application/vnd.docker.image.rootfs.diff.tar.gzip", kHex)}}};
  ImageManifest im = parse_image_manifest(m, "manifest");
  EXPECT_EQ(im.config.hex, kHex);
  ASSERT_EQ(im.layers.size(), 2u);
  auto refs = layer_refs(im, {kHex, kHex2}, "manifest");
  EXPECT_EQ(refs[0].path, "blobs/sha256/" + kHex2);
  EXPECT_EQ(refs[0].diff_id_hex, kHex);
  EXPECT_EQ(refs[1].size, 10u);
  EXPECT_NE(error_of([&] { layer_refs(im, {kHex}, "manifest"); }).find("2 layers but 1 diff_ids"), std::string::npos);
  EXPECT_TRUE(layer_refs(im, {}, "manifest")[0].diff_id_hex.empty());
  json bad = m;
  bad["layers"][1]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+lz4";
  EXPECT_NE(error_of([&] { parse_image_manifest(bad, "manifest"); }).find("layer 2 has unsupported media type"),
            std::string::npos);
  EXPECT_THROW(parse_image_manifest(json{{"layers", json::array()}}, "m"), Error);
  EXPECT_THROW(parse_image_manifest(json{{"config", desc("x", kHex)}, {"layers", 3}}, "m"), Error);
}

TEST(Manifest, DiffIdsAndMediaTypes) {
  EXPECT_EQ(config_diff_ids(json{{"rootfs", {{"diff_ids", {"sha256:" + kHex}}}}}, "c"), std::vector<std::string>{kHex});
  EXPECT_TRUE(config_diff_ids(json::object(), "c").empty());
  EXPECT_THROW(config_diff_ids(json{{"rootfs", {{"diff_ids", "sha256:" + kHex}}}}, "c"), Error);
  EXPECT_THROW(config_diff_ids(json{{"rootfs", {{"diff_ids", {1}}}}}, "c"), Error);
  EXPECT_TRUE(is_schema1_type("application/vnd.docker.distribution.manifest.v1+prettyjws"));
  EXPECT_TRUE(is_index_type(kDockerListType));
  EXPECT_FALSE(is_image_manifest_type(kOciIndexType));
  EXPECT_TRUE(platform_matches("linux/arm/v7", "linux/arm"));
  EXPECT_FALSE(platform_matches("linux/arm64", "linux/arm"));
  EXPECT_FALSE(platform_matches("linux/arm/v6", "linux/arm/v7"));
}

}  // namespace
}  // namespace hpai
