#include "hpai/image/manifest.hpp"

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

using nlohmann::json;

namespace {

// KEY of J as a string: FALLBACK when J has none; an Error naming WHAT when it is there
// but not a string (nlohmann's value() would throw its own type_error).
std::string str_or(const json& j, const char* key, const std::string& fallback, const std::string& what) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_string()) throw Error(what + ": \"" + key + "\" must be a string, not " + j.at(key).type_name());
  return j.at(key).get<std::string>();
}

}  // namespace

bool is_index_type(std::string_view t) { return t == kOciIndexType || t == kDockerListType; }

bool is_image_manifest_type(std::string_view t) { return t == kOciManifestType || t == kDockerManifestType; }

bool is_schema1_type(std::string_view t) {
  return t == "application/vnd.docker.distribution.manifest.v1+json" ||
         t == "application/vnd.docker.distribution.manifest.v1+prettyjws";
}

bool is_layer_type(std::string_view t) {
  static const char* ok[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (const char* o : ok)
    if (t == o) return true;
  return false;
}

Descriptor parse_descriptor(const json& d, const std::string& what) {
  if (!d.is_object()) throw Error(what + ": a descriptor must be an object");
  Descriptor r;
  r.media_type = str_or(d, "mediaType", "", what);
  r.digest = str_or(d, "digest", "", what);
  if (r.digest.empty()) throw Error(what + ": descriptor without a \"digest\"");
  r.hex = sha256_hex_of_digest(r.digest, what);
  if (d.contains("size")) {
    const json& s = d.at("size");
    if (!s.is_number_integer() || s.get<std::int64_t>() < 0)
      throw Error(what + ": descriptor of " + r.digest + " has size " + s.dump() + ", not a byte count");
    r.size = s.get<std::int64_t>();
  }
  if (d.contains("platform")) r.platform = platform_of(d.at("platform"), what);
  if (d.contains("annotations"))
    r.ref_name = str_or(d.at("annotations"), "org.opencontainers.image.ref.name", "", what);
  return r;
}

std::string platform_of(const json& p, const std::string& what) {
  std::string s = str_or(p, "os", "", what) + "/" + str_or(p, "architecture", "", what);
  if (std::string v = str_or(p, "variant", "", what); !v.empty()) s += "/" + v;
  return s;
}

bool platform_matches(const std::string& have, const std::string& want) {
  return have == want || have.starts_with(want + "/");
}

std::vector<Descriptor> index_entries(const json& index, const std::string& what) {
  if (!index.is_object() || !index.contains("manifests") || !index.at("manifests").is_array())
    throw Error(what + ": no \"manifests\" list");
  std::vector<Descriptor> out;
  for (const auto& d : index.at("manifests")) out.push_back(parse_descriptor(d, what));
  return out;
}

std::string platform_list(const std::vector<Descriptor>& entries) {
  std::string list;
  for (const auto& e : entries)
    if (is_image_manifest_type(e.media_type) || e.media_type.empty())
      list += (list.empty() ? "" : ", ") + (e.platform.empty() ? std::string("(platform not given)") : e.platform);
  return list.empty() ? "none" : list;
}

const Descriptor& pick_platform(const std::vector<Descriptor>& entries, const std::string& want,
                                const std::string& what) {
  const Descriptor* found = nullptr;
  int matches = 0;
  for (const auto& e : entries) {
    // Attestations and signatures ("unknown/unknown" manifests, other types) are no images.
    if (!is_image_manifest_type(e.media_type) && !e.media_type.empty()) continue;
    if (!platform_matches(e.platform, want)) continue;
    if (found == nullptr) found = &e;
    ++matches;
  }
  if (matches == 1) return *found;
  throw Error(what + ": " + (matches == 0 ? "no image" : std::to_string(matches) + " images") + " for " + want +
              "; it has " + platform_list(entries) + " (choose one with --arch or --platform)");
}

ImageManifest parse_image_manifest(const json& manifest, const std::string& what) {
  if (!manifest.is_object() || !manifest.contains("config") || !manifest.contains("layers") ||
      !manifest.at("layers").is_array())
    throw Error(what + ": not an image manifest (no config or layers)");
  ImageManifest m;
  m.config = parse_descriptor(manifest.at("config"), what + " config");
  const auto& layers = manifest.at("layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string lwhat = what + " layer " + std::to_string(i + 1);
    Descriptor d = parse_descriptor(layers[i], lwhat);
    if (!is_layer_type(d.media_type)) throw Error(lwhat + " has unsupported media type \"" + d.media_type + "\"");
    m.layers.push_back(std::move(d));
  }
  return m;
}

std::vector<std::string> config_diff_ids(const json& config, const std::string& what) {
  std::vector<std::string> out;
  if (!config.is_object() || !config.contains("rootfs") || !config.at("rootfs").is_object() ||
      !config.at("rootfs").contains("diff_ids"))
    return out;
  const json& ids = config.at("rootfs").at("diff_ids");
  if (!ids.is_array()) throw Error(what + ": rootfs.diff_ids must be a list");
  for (const auto& d : ids) {
    if (!d.is_string()) throw Error(what + ": rootfs.diff_ids must hold strings");
    out.push_back(sha256_hex_of_digest(d.get<std::string>(), what + " diff_id"));
  }
  return out;
}

std::vector<LayerRef> layer_refs(const ImageManifest& m, const std::vector<std::string>& diff_ids,
                                 const std::string& what) {
  if (!diff_ids.empty() && diff_ids.size() != m.layers.size())
    throw Error(what + ": " + std::to_string(m.layers.size()) + " layers but " + std::to_string(diff_ids.size()) +
                " diff_ids in the config");
  std::vector<LayerRef> out;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const Descriptor& d = m.layers[i];
    LayerRef l;
    l.media_type = d.media_type;
    l.blob_hex = d.hex;
    l.path = "blobs/sha256/" + d.hex;
    l.diff_id_hex = diff_ids.empty() ? "" : diff_ids[i];
    l.size = d.size > 0 ? static_cast<std::uint64_t>(d.size) : 0;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace hpai
