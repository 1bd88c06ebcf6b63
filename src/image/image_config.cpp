#include "hpai/image/image_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/environment.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/fs_at.hpp"
#include "hpai/base/json_source.hpp"

namespace hpai {

using nlohmann::json;

namespace {

std::vector<std::string> string_list(const json& j, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(key) || j.at(key).is_null()) return out;
  const json& v = j.at(key);
  if (!v.is_array()) throw Error(where + ": \"" + key + "\" must be a list of strings");
  for (const auto& item : v) {
    if (!item.is_string()) throw Error(where + ": \"" + key + "\" must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string string_field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return {};
  if (!j.at(key).is_string()) throw Error(where + ": \"" + key + "\" must be a string");
  return j.at(key).get<std::string>();
}

// The "config" object of an OCI config and of our metadata file alike.
void read_config_section(const json& doc, const std::string& path, ImageConfig& c) {
  c.architecture = string_field(doc, "architecture", path);
  c.os = string_field(doc, "os", path);
  if (doc.contains("config") && !doc.at("config").is_null()) {
    const json& cfg = doc.at("config");
    if (!cfg.is_object()) throw Error("image metadata " + path + ": \"config\" must be an object");
    c.env = string_list(cfg, "Env", path);
    c.workdir = string_field(cfg, "WorkingDir", path);
    c.entrypoint = string_list(cfg, "Entrypoint", path);
    c.cmd = string_list(cfg, "Cmd", path);
    c.user = string_field(cfg, "User", path);
    if (cfg.contains("Labels") && cfg.at("Labels").is_object())
      for (const auto& [k, v] : cfg.at("Labels").items())
        if (v.is_string()) c.labels[k] = v.get<std::string>();
  }
  for (const auto& e : c.env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      throw Error("image metadata " + path + ": Env entry \"" + e + "\" is not NAME=VALUE");
  // A NUL would silently cut the value at execve.
  auto has_nul = [](const std::string& v) { return v.find('\0') != std::string::npos; };
  auto any_nul = [&](const std::vector<std::string>& l) { return std::any_of(l.begin(), l.end(), has_nul); };
  if (any_nul(c.env) || any_nul(c.entrypoint) || any_nul(c.cmd) || has_nul(c.workdir) || has_nul(c.user))
    throw Error("image metadata " + path + ": Env, Entrypoint, Cmd, WorkingDir or User contains a NUL character");
}

ImageConfig metadata_from_json(const json& doc, const std::string& path) {
  if (!doc.is_object()) throw Error("image metadata " + path + ": top level must be an object");
  int version = doc.value("hpai_image_version", 0);
  if (version != kImageMetadataVersion)
    throw Error("image metadata " + path + ": hpai_image_version " + std::to_string(version) +
                " is not supported (this hpai reads version " + std::to_string(kImageMetadataVersion) + ")");
  ImageConfig c;
  c.metadata_path = path;
  read_config_section(doc, path, c);
  if (doc.contains("import") && doc.at("import").is_object()) {
    const json& i = doc.at("import");
    c.import.format = i.value("format", "");
    c.import.source = i.value("source", "");
    c.import.digest = i.value("digest", "");
    c.import.created = i.value("created", "");
    c.import.imported = i.value("imported", "");
    c.import.layers = i.value("layers", 0);
    c.import.size = i.value("size", std::uint64_t{0});
    c.import.source_size = i.value("source_size", std::uint64_t{0});
    c.import.source_mtime = i.value("source_mtime", std::int64_t{0});
    if (i.contains("blobs")) {
      if (!i.at("blobs").is_array()) throw Error("image metadata " + path + ": import.blobs must be a list");
      for (const auto& b : i.at("blobs")) c.import.blobs.push_back(b.get<std::string>());
    }
  }
  return c;
}

}  // namespace

ImageConfig image_config_from_metadata(const std::string& text, const std::string& path) {
  try {
    return metadata_from_json(parse_json(text, "image metadata " + path), path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; re-import the image or remove the file");
  } catch (const json::exception& e) {  // a value of the wrong type
    throw Error("image metadata " + path + ": " + e.what() + "; re-import the image or remove the file");
  }
}

ImageConfig read_image_config(const std::string& image_root) {
  return read_image_config(*open_directory_image(image_root));
}

ImageConfig read_image_config(const ImageFs& image) {
  const std::string meta = image.describe() + "/" + kImageMetadataPath;
  if (auto text = image.read_file(kImageMetadataPath, kMaxJsonDocument)) return image_config_from_metadata(*text, meta);
  ImageConfig c;
  const std::string ch_env = image.describe() + "/" + kChEnvironmentPath;
  if (auto text = image.read_file(kChEnvironmentPath, kMaxEnvFile)) {
    for (const auto& a : parse_assignments(*text, ch_env)) c.env.push_back(a.name + "=" + a.value);
    c.metadata_path = ch_env;
  }
  return c;
}

ImageConfig image_config_from_oci(const std::string& config_json, const std::string& what) {
  json doc = parse_json(config_json, what);
  if (!doc.is_object()) throw Error(what + ": top level must be an object");
  ImageConfig c;
  read_config_section(doc, what, c);
  c.import.created = string_field(doc, "created", what);
  return c;
}

void write_image_config(const std::string& image_root, const ImageConfig& c) {
  json cfg = {{"Env", c.env}, {"WorkingDir", c.workdir}, {"Entrypoint", c.entrypoint},
              {"Cmd", c.cmd}, {"User", c.user},          {"Labels", c.labels}};
  json doc = {
      {"hpai_image_version", kImageMetadataVersion}, {"architecture", c.architecture}, {"os", c.os}, {"config", cfg}};
  if (!c.import.format.empty())
    doc["import"] = {
        {"format", c.import.format},   {"source", c.import.source},           {"digest", c.import.digest},
        {"created", c.import.created}, {"imported", c.import.imported},       {"layers", c.import.layers},
        {"size", c.import.size},       {"source_size", c.import.source_size}, {"source_mtime", c.import.source_mtime}};
  if (!c.import.blobs.empty()) doc["import"]["blobs"] = c.import.blobs;
  // By fd, in a .hpai made afresh: whatever the unpacked tree had there (a symlink out of
  // the image, a file, a tree) goes first, so nothing can aim this write elsewhere.
  UniqueFd root(open(image_root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) throw_errno("can't open image " + image_root);
  remove_at(root.get(), kMetadataDirName);
  const std::string dir_path = image_root + "/" + kMetadataDirName;
  if (mkdirat(root.get(), kMetadataDirName, 0755) != 0) throw_errno("can't create " + dir_path);
  UniqueFd dir(openat(root.get(), kMetadataDirName, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) throw_errno("can't open " + dir_path);
  if (fchmodat(root.get(), kMetadataDirName, 0755, 0) != 0) throw_errno("can't chmod " + dir_path);
  write_new_file_at(dir.get(), "image.json", doc.dump(2) + "\n", 0644, image_root + "/" + kImageMetadataPath);
}

}  // namespace hpai
