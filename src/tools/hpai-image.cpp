// hpai-image: parse the command line, then let the library import, list, inspect,
// remove and export images.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "hpai/base/error.hpp"
#include "hpai/image/image_export.hpp"
#include "hpai/image/image_import.hpp"
#include "hpai/base/log.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/base/version.hpp"

namespace {

using namespace hpai;
using nlohmann::json;

constexpr const char* kFooter = R"(
Images are unpacked once into storage ($HPAI_STORAGE, else /var/tmp/$USER.hpai, or -s)
and run by name: hpai-run NAME -- CMD. Imports are atomic (a killed import leaves no
image behind) and concurrent imports of one name wait for each other.

FORMATS (detected from content; --format overrides)
  tar             a root file system tar (docker export), .tar .tar.gz .tar.zst .tar.xz
  docker-archive  docker save / skopeo docker-archive: output, read without a daemon
  oci             an OCI image layout directory (skopeo oci:, umoci); SRC:TAG picks a tag
  oci-archive     an OCI layout in a tar
  dir             a plain directory tree

EXAMPLES
  hpai-image import debian.tar.gz debian:12
  hpai-image import ./pytorch-oci:24.05 pytorch:24.05 --platform linux/arm64
  hpai-image list --json
  hpai-image export pytorch:24.05 /scratch/pytorch.sqfs)";

std::string human(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

json to_json(const std::string& name, const std::string& dir, const ImageConfig& c) {
  return {{"name", name},
          {"path", dir},
          {"architecture", c.architecture},
          {"os", c.os},
          {"created", c.import.created},
          {"size", c.import.size},
          {"layers", c.import.layers},
          {"source", {{"format", c.import.format}, {"path", c.import.source}, {"digest", c.import.digest}, {"imported", c.import.imported}}},
          {"config",
           {{"Env", c.env}, {"WorkingDir", c.workdir}, {"Entrypoint", c.entrypoint}, {"Cmd", c.cmd}, {"User", c.user}, {"Labels", c.labels}}}};
}

std::string short_digest(const std::string& d) { return d.size() > 19 ? d.substr(0, 19) : d; }

}  // namespace

int main(int argc, char** argv) {
  // Member names are bytes; in a UTF-8 locale libarchive hands pax's UTF-8 names over as
  // they are instead of warning that they "can't be converted" to ASCII.
  if (setlocale(LC_CTYPE, "C.UTF-8") == nullptr) setlocale(LC_CTYPE, "");
  CLI::App app{"hpai-image - import, list, inspect, remove and export container images, without privilege", "hpai-image"};
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("hpai-image ") + kVersion);
  app.require_subcommand(1);
  std::string storage_dir;
  int verbose = 0, quiet = 0;
  app.add_option("-s,--storage", storage_dir, "storage directory (default: $HPAI_STORAGE, else /var/tmp/$USER.hpai)");
  app.add_flag("-v,--verbose", verbose, "more messages (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "fewer messages; no progress line");

  ImportOptions imp;
  auto* import_cmd = app.add_subcommand("import", "unpack SRC into storage as NAME (default: from the source's tag or file name)");
  import_cmd->add_option("SRC", imp.source, "file or directory; PATH:TAG picks a tag")->required();
  import_cmd->add_option("NAME", imp.name, "image name, e.g. pytorch:24.05");
  import_cmd->add_option("--format", imp.format, "auto, tar, docker-archive, oci, oci-archive, dir")->capture_default_str();
  import_cmd->add_option("--platform", imp.platform, "os/arch[/variant] from a multi-platform index (default: this machine)");
  import_cmd->add_option("--tag", imp.tag, "the image to take from a docker archive (REPO:TAG, or TAG) or OCI layout (ref name)");
  import_cmd->add_flag("-f,--force", imp.force, "import again even if this source was imported already");

  bool list_json = false;
  auto* list_cmd = app.add_subcommand("list", "list stored images (name, size, layers, arch, created, source digest)");
  list_cmd->add_flag("--json", list_json, "as JSON");

  std::string name;
  auto* rm_cmd = app.add_subcommand("rm", "remove an image from storage");
  rm_cmd->add_option("NAME", name, "image name")->required();

  bool inspect_json = false;
  auto* inspect_cmd = app.add_subcommand("inspect", "show an image's configuration (env, workdir, entrypoint, cmd, user, arch, labels)");
  inspect_cmd->add_option("NAME", name, "image name")->required();
  inspect_cmd->add_flag("--json", inspect_json, "as JSON");

  std::string out, export_format = "auto";
  auto* export_cmd = app.add_subcommand("export", "write an image to a flat tar or a SquashFS file");
  export_cmd->add_option("NAME", name, "image name")->required();
  export_cmd->add_option("OUT", out, "output file: .tar[.gz|.zst|.xz], .sqfs")->required();
  export_cmd->add_option("--format", export_format, "auto, tar, squashfs")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  init_logging("hpai-image", verbose - quiet);

  return report_errors([&]() -> int {
    Storage storage = Storage::chosen(storage_dir, Environment::from_process());
    auto need = [&](const std::string& n) {
      validate_image_name(n);
      if (!storage.has(n)) throw Error("no image named " + n + " in storage " + storage.root() + " (hpai-image list shows them)");
      return storage.image_dir(n);
    };

    if (*import_cmd) {
      imp.progress = quiet == 0 && isatty(2);
      ImportResult r = import_image(storage, imp);
      if (quiet == 0 && r.reused)  // with -q the exit status says it all
        std::printf("%s: already imported from %s at %s (use --force to import again)\n", r.name.c_str(),
                    r.config.import.source.c_str(), r.config.import.imported.c_str());
      else if (quiet == 0)
        std::printf("%s: imported %s (%s, %d layer%s, %s in %llu files; dropped %llu device nodes/FIFOs and %llu entries "
                    "of the source's own .hpai/, setuid/setgid stripped from %llu) into %s\n",
                    r.name.c_str(), r.config.import.source.c_str(), r.config.import.format.c_str(), r.config.import.layers,
                    r.config.import.layers == 1 ? "" : "s", human(r.stats.bytes).c_str(),
                    static_cast<unsigned long long>(r.stats.files), static_cast<unsigned long long>(r.stats.dropped),
                    static_cast<unsigned long long>(r.stats.metadata), static_cast<unsigned long long>(r.stats.setid_stripped),
                    r.dir.c_str());
      if (r.stats.rejected > 0)
        spdlog::warn("{}: skipped {} unsafe member(s) (paths with \"..\" or links leaving the image); -v lists them", r.name,
                     r.stats.rejected);
    } else if (*list_cmd) {
      // One image with broken metadata is listed as such; the others as usual.
      json all = json::array();
      int broken = 0;
      for (const auto& n : storage.names()) {
        try {
          all.push_back(to_json(n, storage.image_dir(n), read_image_config(storage.image_dir(n))));
        } catch (const Error& e) {
          ++broken;
          spdlog::warn("{}: {}", n, e.what());
          all.push_back({{"name", n}, {"path", storage.image_dir(n)}, {"error", e.what()}});
        }
      }
      if (list_json) {
        std::puts(all.dump(2).c_str());
      } else {
        std::printf("%-32s %10s %6s %-8s %-20s %s\n", "NAME", "SIZE", "LAYERS", "ARCH", "CREATED", "SOURCE DIGEST");
        for (const auto& i : all)
          if (i.contains("error"))
            std::printf("%-32s %s\n", i["name"].get<std::string>().c_str(), "(unreadable metadata: see the warning above)");
          else
            std::printf("%-32s %10s %6d %-8s %-20s %s\n", i["name"].get<std::string>().c_str(), human(i["size"]).c_str(),
                        i["layers"].get<int>(), i["architecture"].get<std::string>().c_str(),
                        i["created"].get<std::string>().substr(0, 19).c_str(), short_digest(i["source"]["digest"]).c_str());
      }
      if (broken > 0) spdlog::warn("{} image(s) with unreadable metadata; hpai-image rm NAME, then import again", broken);
    } else if (*rm_cmd) {
      need(name);
      NameLock lock = storage.lock(name);
      storage.remove(name);
      std::printf("%s: removed\n", name.c_str());
    } else if (*inspect_cmd) {
      std::string dir = need(name);
      json j = to_json(name, dir, read_image_config(dir));
      if (inspect_json) {
        std::puts(j.dump(2).c_str());
      } else {
        std::printf("name:        %s\npath:        %s\narchitecture: %s/%s\ncreated:     %s\nsource:      %s (%s, %s)\n",
                    name.c_str(), dir.c_str(), j["os"].get<std::string>().c_str(), j["architecture"].get<std::string>().c_str(),
                    j["created"].get<std::string>().c_str(), j["source"]["path"].get<std::string>().c_str(),
                    j["source"]["format"].get<std::string>().c_str(), j["source"]["digest"].get<std::string>().c_str());
        std::printf("workdir:     %s\nentrypoint:  %s\ncmd:         %s\nuser:        %s\nenv:\n", j["config"]["WorkingDir"].get<std::string>().c_str(),
                    j["config"]["Entrypoint"].dump().c_str(), j["config"]["Cmd"].dump().c_str(), j["config"]["User"].get<std::string>().c_str());
        for (const auto& e : j["config"]["Env"]) std::printf("  %s\n", e.get<std::string>().c_str());
        std::printf("labels:\n");
        for (const auto& [k, v] : j["config"]["Labels"].items()) std::printf("  %s=%s\n", k.c_str(), v.get<std::string>().c_str());
      }
    } else if (*export_cmd) {
      std::string dir = need(name);
      NameLock lock = storage.lock(name);
      export_image(dir, out, export_format);
      std::printf("%s: exported to %s\n", name.c_str(), out.c_str());
    }
    return 0;
  });
}
