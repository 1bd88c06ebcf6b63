#include "hpai/image_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hpai/environment.hpp"
#include "hpai/error.hpp"

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
}

ImageConfig parse_metadata(const std::string& text, const std::string& path) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error("image metadata " + path + " is not valid JSON (byte " + std::to_string(e.byte) +
                "); re-import the image or remove the file");
  } catch (const json::exception& e) {  // a number out of range
    throw Error("image metadata " + path + " is not valid JSON (" + e.what() + "); re-import the image or remove the file");
  }
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
  }
  return c;
}

}  // namespace

ImageConfig read_image_config(const std::string& image_root) { return read_image_config(*open_directory_image(image_root)); }

ImageConfig read_image_config(const ImageFs& image) {
  const std::string meta = image.describe() + "/" + kImageMetadataPath;
  if (auto text = image.read_file(kImageMetadataPath)) return parse_metadata(*text, meta);
  ImageConfig c;
  const std::string ch_env = image.describe() + "/" + kChEnvironmentPath;
  if (auto text = image.read_file(kChEnvironmentPath)) {
    for (const auto& a : parse_assignments(*text, ch_env)) c.env.push_back(a.name + "=" + a.value);
    c.metadata_path = ch_env;
  }
  return c;
}

ImageConfig image_config_from_oci(const std::string& config_json, const std::string& what) {
  json doc;
  try {
    doc = json::parse(config_json);
  } catch (const json::parse_error& e) {
    throw Error(what + " is not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {  // a number out of range
    throw Error(what + " is not valid JSON (" + e.what() + ")");
  }
  if (!doc.is_object()) throw Error(what + ": top level must be an object");
  ImageConfig c;
  read_config_section(doc, what, c);
  c.import.created = string_field(doc, "created", what);
  return c;
}

void write_image_config(const std::string& image_root, const ImageConfig& c) {
  json cfg = {{"Env", c.env}, {"WorkingDir", c.workdir}, {"Entrypoint", c.entrypoint},
              {"Cmd", c.cmd},  {"User", c.user},          {"Labels", c.labels}};
  json doc = {{"hpai_image_version", kImageMetadataVersion},
              {"architecture", c.architecture},
              {"os", c.os},
              {"config", cfg}};
  if (!c.import.format.empty())
    doc["import"] = {{"format", c.import.format},   {"source", c.import.source},
                     {"digest", c.import.digest},   {"created", c.import.created},
                     {"imported", c.import.imported}, {"layers", c.import.layers},
                     {"size", c.import.size},       {"source_size", c.import.source_size},
                     {"source_mtime", c.import.source_mtime}};
  const std::string dir = image_root + "/.hpai";
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("can't create " + dir);
  const std::string final_path = image_root + "/" + kImageMetadataPath;
  const std::string tmp = final_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw_errno("can't write " + tmp);
    out << doc.dump(2) << "\n";
    if (!out.flush()) throw_errno("can't write " + tmp);
  }
  check(rename(tmp.c_str(), final_path.c_str()), "can't rename " + tmp + " to " + final_path);
}

}  // namespace hpai
