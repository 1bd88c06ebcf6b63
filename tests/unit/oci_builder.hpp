// OCI image layouts and docker-save archives for tests, written blob by blob with
// their real digests (as skopeo and docker write them), so that every check of
// image_formats has something true to compare against and something to break.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "hpai/base/digest.hpp"
#include "shell.hpp"
#include "tar_builder.hpp"

namespace hpai::test {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void spit(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// A one-layer image's parts: the layer tar (a file /hello), the config naming its diff_id.
struct ImageParts {
  std::string layer;  // the tar's bytes
  std::string config;
};

inline ImageParts one_layer_image(const std::string& scratch, const std::string& arch = "amd64") {
  {
    TarBuilder t(scratch + "/layer.tar");
    t.dir("etc").file("hello", "hi\n");
  }
  ImageParts p;
  p.layer = slurp(scratch + "/layer.tar");
  nlohmann::json config = {{"architecture", arch},
                           {"os", "linux"},
                           {"config", {{"Env", {"PATH=/bin"}}, {"Cmd", {"/bin/sh"}}}},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + sha256_of(p.layer)}}}}};
  p.config = config.dump();
  return p;
}

// An OCI layout at DIR holding PARTS, tagged REF. Returns the manifest's digest.
inline std::string write_oci_layout(const std::string& dir, const ImageParts& parts, const std::string& ref) {
  mkdirs(dir + "/blobs/sha256");
  auto blob = [&](const std::string& bytes) {
    const std::string hex = sha256_of(bytes);
    spit(dir + "/blobs/sha256/" + hex, bytes);
    return "sha256:" + hex;
  };
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"config",
                              {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", blob(parts.config)},
                               {"size", parts.config.size()}}},
                             {"layers",
                              {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                {"digest", blob(parts.layer)},
                                {"size", parts.layer.size()}}}}};
  const std::string m = manifest.dump();
  const std::string digest = blob(m);
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", digest},
                             {"size", m.size()},
                             {"annotations", {{"org.opencontainers.image.ref.name", ref}}}}}}};
  spit(dir + "/index.json", index.dump());
  spit(dir + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
  return digest;
}

// A docker-save archive's members at DIR (tar them to test the archive form): the
// config named after its digest, the layer, manifest.json listing REPO_TAG.
inline void write_docker_save(const std::string& dir, const ImageParts& parts, const std::string& repo_tag) {
  const std::string layer_dir = sha256_of(parts.layer);  // docker names the layer's directory by a digest
  mkdirs(dir + "/" + layer_dir);
  const std::string config_name = sha256_of(parts.config) + ".json";
  spit(dir + "/" + config_name, parts.config);
  spit(dir + "/" + layer_dir + "/layer.tar", parts.layer);
  nlohmann::json manifest = {
      {{"Config", config_name}, {"RepoTags", {repo_tag}}, {"Layers", {layer_dir + "/layer.tar"}}}};
  spit(dir + "/manifest.json", manifest.dump());
}

}  // namespace hpai::test
