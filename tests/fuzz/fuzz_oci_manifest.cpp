// Fuzzes the image metadata parsers: OCI index -> manifest -> config, docker save's
// manifest.json, and the image config. The input is three JSON texts separated by
// "\n--\n" (index, manifest, config); "@M", "@C" and "@L" in them become the digests
// of the manifest, the config and a real layer, so the fuzzer gets past digest checks.
// Only hpai::Error may come out: any other exception or crash is a bug.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/image/blob_source.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/image/image_formats.hpp"
#include "hpai/image/manifest.hpp"

namespace {

class StringSource : public hpai::ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = std::min(size, data_.size() - at_);
    data_.copy(static_cast<char*>(buf), n, at_);
    at_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t at_ = 0;
};

class MemoryStore : public hpai::BlobStore {
 public:
  std::map<std::string, std::string> files;
  bool has(const std::string& path) const override { return files.count(path) != 0; }
  std::unique_ptr<hpai::ByteSource> open(const std::string& path) const override {
    return std::make_unique<StringSource>(files.at(path));
  }
  std::string read_small(const std::string& path, std::size_t max) const override {
    const std::string& s = files.at(path);
    if (s.size() > max) throw hpai::Error(path + " too large");
    return s;
  }
  std::string describe(const std::string& path) const override { return "mem:" + path; }
};

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool quiet = (hpai::init_logging("fuzz", -2), true);
  (void)quiet;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string part[3];
  for (int i = 0, start = 0; i < 3; ++i) {
    auto sep = text.find("\n--\n", static_cast<std::size_t>(start));
    part[i] = text.substr(static_cast<std::size_t>(start), sep == std::string::npos ? std::string::npos : sep - start);
    if (sep == std::string::npos) break;
    start = static_cast<int>(sep + 4);
  }
  const std::string layer = std::string(1024, '\0');
  const std::string layer_hex = hpai::sha256_of(layer);
  std::string& config = part[2];
  replace_all(config, "@L", "sha256:" + layer_hex);
  const std::string config_hex = hpai::sha256_of(config);
  std::string& manifest = part[1];
  replace_all(manifest, "@C", "sha256:" + config_hex);
  replace_all(manifest, "@L", "sha256:" + layer_hex);
  const std::string manifest_hex = hpai::sha256_of(manifest);
  std::string& index = part[0];
  replace_all(index, "@M", "sha256:" + manifest_hex);
  replace_all(index, "@C", config_hex);

  MemoryStore oci;
  oci.files["oci-layout"] = R"({"imageLayoutVersion": "1.0.0"})";
  oci.files["index.json"] = index;
  oci.files["blobs/sha256/" + manifest_hex] = manifest;
  oci.files["blobs/sha256/" + config_hex] = config;
  oci.files["blobs/sha256/" + layer_hex] = layer;
  try {
    hpai::resolve_oci(oci, "", "");
  } catch (const hpai::Error&) {
  }
  try {
    hpai::resolve_oci(oci, "linux/arm64", "latest");
  } catch (const hpai::Error&) {
  }
  // The same texts as a registry serves them: an index to pick from, a manifest.
  try {
    auto entries = hpai::index_entries(hpai::parse_json(index, "index"), "index");
    hpai::pick_platform(entries, "linux/amd64", "index");
    hpai::platform_list(entries);
  } catch (const hpai::Error&) {
  }
  try {
    auto m = hpai::parse_image_manifest(hpai::parse_json(manifest, "manifest"), "manifest");
    hpai::layer_refs(m, hpai::config_diff_ids(hpai::parse_json(config, "config"), "config"), "manifest");
  } catch (const hpai::Error&) {
  }
  // The same texts as docker save's manifest.json and config.
  MemoryStore docker;
  docker.files["manifest.json"] = index;
  docker.files[config_hex + ".json"] = config;
  docker.files[layer_hex + "/layer.tar"] = layer;
  try {
    hpai::resolve_docker_archive(docker, "");
  } catch (const hpai::Error&) {
  }
  try {
    hpai::image_config_from_oci(config, "fuzz");
  } catch (const hpai::Error&) {
  }
  return 0;
}
