#include "hpai/image/image_formats.hpp"

#include <sys/utsname.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/image/manifest.hpp"
#include "hpai/image/unpack.hpp"

namespace hpai {

using nlohmann::json;

namespace {

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A member named by manifest.json: it must stay inside the archive and name a file
// ("../../x/layer.tar" would otherwise normalise to the archive's root entry).
std::string member_path(const std::string& path, const std::string& which, const std::string& what) {
  auto clean = sanitize_member_path(path);
  if (!clean || clean->empty() || path.find('\0') != std::string::npos)
    throw Error(what + ": " + which + " path \"" + path + "\" leaves the archive or names no file");
  return *clean;
}

std::string str(const json& j, const char* key, const std::string& what) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_string())
    throw Error(what + ": \"" + key + "\" missing or not a string");
  return j.at(key).get<std::string>();
}

// A blob named by a descriptor, read whole and checked against its digest and size.
std::string read_verified(const BlobStore& store, const json& desc, const std::string& what) {
  std::string hex = sha256_hex_of_digest(str(desc, "digest", what), what);
  std::string path = "blobs/sha256/" + hex;
  if (!store.has(path)) throw Error(what + ": blob " + store.describe(path) + " is missing");
  std::string data = store.read_small(path);
  if (sha256_of(data) != hex)
    throw Error(what + ": " + store.describe(path) + " does not match its digest sha256:" + hex +
                " (corrupt or tampered)");
  if (desc.contains("size") && desc.at("size").is_number_integer() &&
      desc.at("size").get<std::int64_t>() != static_cast<std::int64_t>(data.size()))
    throw Error(what + ": " + store.describe(path) + " is " + std::to_string(data.size()) +
                " bytes, its descriptor says " + desc.at("size").dump());
  return data;
}

struct Candidate {
  json desc;
  std::string platform;  // "" when the index does not say
  std::string ref;
};

void collect(const BlobStore& store, const json& index, const std::string& what, const std::string& inherited_ref,
             std::vector<Candidate>& out, int depth) {
  if (depth > 4) throw Error(what + ": image indexes nested too deeply");
  if (!index.is_object() || !index.contains("manifests") || !index.at("manifests").is_array())
    throw Error(what + ": no \"manifests\" list");
  for (const auto& d : index.at("manifests")) {
    Descriptor desc = parse_descriptor(d, what);
    std::string ref = desc.ref_name.empty() ? inherited_ref : desc.ref_name;
    if (is_index_type(desc.media_type)) {
      json nested = parse_json(read_verified(store, d, what), what + " nested index");
      collect(store, nested, what + " nested index", ref, out, depth + 1);
    } else if (is_image_manifest_type(desc.media_type)) {
      out.push_back({d, desc.platform, ref});
    } else {
      spdlog::debug("{}: ignoring manifest of type {}", what, desc.media_type);  // attestations, signatures
    }
  }
}

}  // namespace

std::string host_platform() {
  struct utsname u {};
  uname(&u);
  std::string m = u.machine;
  std::string arch = m == "x86_64"    ? "amd64"
                     : m == "aarch64" ? "arm64"
                     : m == "ppc64le" ? "ppc64le"
                     : m == "s390x"   ? "s390x"
                                      : m;
  return "linux/" + arch;
}

ResolvedImage resolve_oci(const BlobStore& store, const std::string& platform, const std::string& tag) {
  if (!store.has("oci-layout")) throw Error(store.describe("oci-layout") + " missing: not an OCI image layout");
  json layout = parse_json(store.read_small("oci-layout", 4096), store.describe("oci-layout"));
  const std::string layout_version = layout.is_object() && layout.contains("imageLayoutVersion")
                                         ? str(layout, "imageLayoutVersion", store.describe("oci-layout"))
                                         : "(none)";
  if (layout_version != "1.0.0")
    throw Error(store.describe("oci-layout") + ": unsupported imageLayoutVersion " + layout_version);
  const std::string index_what = store.describe("index.json");
  json index = parse_json(store.read_small("index.json"), index_what);
  std::vector<Candidate> all;
  collect(store, index, index_what, "", all, 0);
  std::vector<Candidate> picked;
  for (auto& c : all)
    if (tag.empty() || c.ref == tag) picked.push_back(c);
  if (picked.empty()) {
    std::string refs;
    for (const auto& c : all) refs += (refs.empty() ? "" : ", ") + (c.ref.empty() ? "(untagged)" : c.ref);
    throw Error(index_what + ": no image tagged \"" + tag + "\" (it has: " + (refs.empty() ? "none" : refs) + ")");
  }
  const std::string want = platform.empty() ? host_platform() : platform;
  if (picked.size() > 1) {
    std::vector<Candidate> match;
    for (auto& c : picked)
      if (platform_matches(c.platform, want)) match.push_back(c);
    if (match.size() != 1) {
      std::string list;
      for (const auto& c : picked)
        list += "\n  " + (c.platform.empty() ? "(platform not given)" : c.platform) +
                (c.ref.empty() ? "" : "  tag " + c.ref);
      throw Error(index_what + ": " + std::to_string(picked.size()) + " images and " +
                  (match.empty() ? "none" : std::to_string(match.size())) + " for platform " + want +
                  "; choose with --platform (and the tag with SRC:TAG):" + list);
    }
    picked = match;
  }
  const Candidate& c = picked.front();
  ResolvedImage r;
  r.ref_name = c.ref;
  r.manifest_digest = str(c.desc, "digest", index_what);
  const std::string mwhat = store.describe("blobs/sha256/" + sha256_hex_of_digest(r.manifest_digest, index_what));
  json manifest = parse_json(read_verified(store, c.desc, index_what), mwhat);
  ImageManifest m = parse_image_manifest(manifest, mwhat);
  r.config_json = read_verified(store, manifest.at("config"), mwhat + " config");
  json config = parse_json(r.config_json, mwhat + " config");
  if (!platform.empty() && !platform_matches(platform_of(config, mwhat + " config"), platform))
    throw Error(mwhat + ": image is for " + platform_of(config, mwhat + " config") + ", not " + platform);
  r.layers = layer_refs(m, config_diff_ids(config, mwhat + " config"), mwhat);
  for (std::size_t i = 0; i < r.layers.size(); ++i)
    if (!store.has(r.layers[i].path))
      throw Error(mwhat + ": layer " + std::to_string(i + 1) + " blob " + store.describe(r.layers[i].path) +
                  " is missing");
  return r;
}

ResolvedImage resolve_docker_archive(const BlobStore& store, const std::string& tag) {
  const std::string what = store.describe("manifest.json");
  json manifest = parse_json(store.read_small("manifest.json"), what);
  if (!manifest.is_array() || manifest.empty()) throw Error(what + ": expected a non-empty list of images");
  const json* entry = nullptr;
  std::string tags;
  for (const auto& m : manifest) {
    std::vector<std::string> repo_tags;
    if (m.contains("RepoTags") && m.at("RepoTags").is_array())
      for (const auto& t : m.at("RepoTags"))
        if (t.is_string()) repo_tags.push_back(t.get<std::string>());
    for (const auto& t : repo_tags) tags += (tags.empty() ? "" : ", ") + t;
    // "REPO:TAG" as docker spells it; a bare TAG matches its tag part ("1" for "realtest:1").
    bool match =
        tag.empty() || std::any_of(repo_tags.begin(), repo_tags.end(), [&](const std::string& t) {
          return t == tag || (tag.find(':') == std::string::npos && t.size() > tag.size() && t.ends_with(":" + tag));
        });
    if (match && entry == nullptr)
      entry = &m;
    else if (match)
      throw Error(
          what + ": " +
          (tag.empty() ? std::string("the archive holds several images") : "\"" + tag + "\" names several images") +
          " (" + tags + "); choose one with --tag REPO:TAG");
  }
  if (entry == nullptr)
    throw Error(what + ": no image tagged \"" + tag + "\" (it has: " + (tags.empty() ? "none" : tags) +
                "; pick one with --tag REPO:TAG)");
  ResolvedImage r;
  if (entry->contains("RepoTags") && entry->at("RepoTags").is_array() && !entry->at("RepoTags").empty() &&
      entry->at("RepoTags")[0].is_string())
    r.ref_name = entry->at("RepoTags")[0].get<std::string>();
  const std::string config_path = member_path(str(*entry, "Config", what), "config", what);
  if (!store.has(config_path)) throw Error(what + ": config " + store.describe(config_path) + " is missing");
  r.config_json = store.read_small(config_path);
  std::string config_hex = sha256_of(r.config_json);
  // Docker names the config after its digest ("<hex>.json", or "blobs/sha256/<hex>");
  // a name in upper case is the same digest and is checked all the same.
  std::string base =
      ascii_lower(config_path.substr(config_path.rfind('/') == std::string::npos ? 0 : config_path.rfind('/') + 1));
  if (base.ends_with(".json")) base.resize(base.size() - 5);
  if (is_hex64(base) && base != config_hex)
    throw Error(store.describe(config_path) + " does not match its digest sha256:" + base + " (corrupt or tampered)");
  r.manifest_digest = "sha256:" + config_hex;
  json config = parse_json(r.config_json, store.describe(config_path));
  auto ids = config_diff_ids(config, store.describe(config_path));
  if (!entry->contains("Layers") || !entry->at("Layers").is_array()) throw Error(what + ": no \"Layers\" list");
  const auto& layers = entry->at("Layers");
  if (ids.size() != layers.size())
    throw Error(what + ": " + std::to_string(layers.size()) + " layers but " + std::to_string(ids.size()) +
                " diff_ids in the config; can't verify the layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].is_string()) throw Error(what + ": layer paths must be strings");
    LayerRef l;
    l.path = member_path(layers[i].get<std::string>(), "layer " + std::to_string(i + 1), what);
    l.diff_id_hex = ids[i];
    if (l.path.starts_with("blobs/sha256/") && is_hex64(ascii_lower(l.path.substr(13))))
      l.blob_hex = ascii_lower(l.path.substr(13));
    if (!store.has(l.path)) throw Error(what + ": layer " + store.describe(l.path) + " is missing");
    r.layers.push_back(l);
  }
  return r;
}

}  // namespace hpai
