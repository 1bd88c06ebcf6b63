#include "hpai/image/image_report.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"

namespace hpai {

using nlohmann::json;

namespace {

json image_json(const StoredImage& i) {
  if (!i.config) return {{"name", i.name}, {"path", i.dir}, {"error", i.error}};
  const ImageConfig& c = *i.config;
  return {{"name", i.name},
          {"path", i.dir},
          {"architecture", c.architecture},
          {"os", c.os},
          {"created", c.import.created},
          {"size", c.import.size},
          {"layers", c.import.layers},
          {"source",
           {{"format", c.import.format},
            {"path", c.import.source},
            {"digest", c.import.digest},
            {"imported", c.import.imported}}},
          {"config",
           {{"Env", c.env},
            {"WorkingDir", c.workdir},
            {"Entrypoint", c.entrypoint},
            {"Cmd", c.cmd},
            {"User", c.user},
            {"Labels", c.labels}}}};
}

std::string printf_string(const char* format, auto... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

}  // namespace

std::string short_digest(const std::string& d) { return d.size() > 19 ? d.substr(0, 19) : d; }

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return printf_string(u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

std::string import_summary(const ImportResult& r) {
  const ImportInfo& i = r.config.import;
  if (r.reused)
    return r.name + ": already imported from " + i.source + " at " + i.imported + " (use --force to import again)\n";
  return printf_string(
      "%s: imported %s (%s, %d layer%s, %s in %llu files; dropped %llu device nodes/FIFOs and %llu entries "
      "of the source's own .hpai/, setuid/setgid stripped from %llu) into %s\n",
      r.name.c_str(), i.source.c_str(), i.format.c_str(), i.layers, i.layers == 1 ? "" : "s",
      human_size(r.stats.bytes).c_str(), static_cast<unsigned long long>(r.stats.files),
      static_cast<unsigned long long>(r.stats.dropped), static_cast<unsigned long long>(r.stats.metadata),
      static_cast<unsigned long long>(r.stats.setid_stripped), r.dir.c_str());
}

std::vector<StoredImage> stored_images(const Storage& storage) {
  std::vector<StoredImage> out;
  for (const auto& n : storage.names()) {
    StoredImage i{n, storage.image_dir(n), std::nullopt, ""};
    try {
      i.config = read_image_config(i.dir);
    } catch (const Error& e) {
      i.error = e.what();
    }
    out.push_back(std::move(i));
  }
  return out;
}

std::string image_list_text(const std::vector<StoredImage>& images) {
  std::string out =
      printf_string("%-32s %10s %6s %-8s %-20s %s\n", "NAME", "SIZE", "LAYERS", "ARCH", "CREATED", "SOURCE DIGEST");
  for (const auto& i : images) {
    if (!i.config) {
      out += printf_string("%-32s %s\n", i.name.c_str(), "(unreadable metadata: see the warning above)");
      continue;
    }
    const ImageConfig& c = *i.config;
    out += printf_string("%-32s %10s %6d %-8s %-20s %s\n", i.name.c_str(), human_size(c.import.size).c_str(),
                         c.import.layers, c.architecture.c_str(), c.import.created.substr(0, 19).c_str(),
                         short_digest(c.import.digest).c_str());
  }
  return out;
}

std::string image_list_json(const std::vector<StoredImage>& images) {
  json all = json::array();
  for (const auto& i : images) all.push_back(image_json(i));
  return all.dump(2) + "\n";
}

std::string image_inspect_json(const StoredImage& image) { return image_json(image).dump(2) + "\n"; }

std::string image_inspect_text(const StoredImage& image) {
  const ImageConfig& c = *image.config;
  std::string out = printf_string(
      "name:        %s\npath:        %s\narchitecture: %s/%s\ncreated:     %s\nsource:      %s (%s, %s)\n",
      image.name.c_str(), image.dir.c_str(), c.os.c_str(), c.architecture.c_str(), c.import.created.c_str(),
      c.import.source.c_str(), c.import.format.c_str(), c.import.digest.c_str());
  out += "workdir:     " + c.workdir + "\nentrypoint:  " + json(c.entrypoint).dump() +
         "\ncmd:         " + json(c.cmd).dump() + "\nuser:        " + c.user + "\nenv:\n";
  for (const auto& e : c.env) out += "  " + e + "\n";
  out += "labels:\n";
  for (const auto& [k, v] : c.labels) out += "  " + k + "=" + v + "\n";
  return out;
}

}  // namespace hpai
