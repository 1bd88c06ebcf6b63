// hpai-image: parse the command line, then let the library import, list, inspect,
// remove and export images.
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/version.hpp"
#include "hpai/image/image_export.hpp"
#include "hpai/image/image_import.hpp"
#include "hpai/image/image_report.hpp"
#include "hpai/image/storage.hpp"

namespace {

using namespace hpai;

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

}  // namespace

int main(int argc, char** argv) {
  // Member names are bytes; in a UTF-8 locale libarchive hands pax's UTF-8 names over as
  // they are instead of warning that they "can't be converted" to ASCII.
  if (setlocale(LC_CTYPE, "C.UTF-8") == nullptr) setlocale(LC_CTYPE, "");
  CLI::App app{"hpai-image - import, list, inspect, remove and export container images, without privilege",
               "hpai-image"};
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("hpai-image ") + kVersion);
  app.require_subcommand(1);
  std::string storage_dir;
  int verbose = 0, quiet = 0;
  app.add_option("-s,--storage", storage_dir, "storage directory (default: $HPAI_STORAGE, else /var/tmp/$USER.hpai)");
  app.add_flag("-v,--verbose", verbose, "more messages (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "fewer messages; no progress line");

  ImportOptions imp;
  std::string import_format = "auto";
  auto* import_cmd =
      app.add_subcommand("import", "unpack SRC into storage as NAME (default: from the source's tag or file name)");
  import_cmd->add_option("SRC", imp.source, "file or directory; PATH:TAG picks a tag")->required();
  import_cmd->add_option("NAME", imp.name, "image name, e.g. pytorch:24.05");
  import_cmd->add_option("--format", import_format, "auto, tar, docker-archive, oci, oci-archive, dir")
      ->capture_default_str();
  import_cmd->add_option("--platform", imp.platform,
                         "os/arch[/variant] from a multi-platform index (default: this machine)");
  import_cmd->add_option("--tag", imp.tag,
                         "the image to take from a docker archive (REPO:TAG, or TAG) or OCI layout (ref name)");
  import_cmd->add_flag("-f,--force", imp.force, "import again even if this source was imported already");

  bool list_json = false;
  auto* list_cmd = app.add_subcommand("list", "list stored images (name, size, layers, arch, created, source digest)");
  list_cmd->add_flag("--json", list_json, "as JSON");

  std::string name;
  auto* rm_cmd = app.add_subcommand("rm", "remove an image from storage");
  rm_cmd->add_option("NAME", name, "image name")->required();

  bool inspect_json = false;
  auto* inspect_cmd = app.add_subcommand(
      "inspect", "show an image's configuration (env, workdir, entrypoint, cmd, user, arch, labels)");
  inspect_cmd->add_option("NAME", name, "image name")->required();
  inspect_cmd->add_flag("--json", inspect_json, "as JSON");

  std::string out, export_format = "auto";
  auto* export_cmd = app.add_subcommand("export", "write an image to a flat tar or a SquashFS file");
  export_cmd->add_option("NAME", name, "image name")->required();
  export_cmd->add_option("OUT", out, "output file: .tar[.gz|.zst|.xz], .sqfs")->required();
  export_cmd->add_option("--format", export_format, "auto, tar, squashfs")->capture_default_str();

  return run_tool(
      app, argc, argv, "hpai-image", [&] { return verbose - quiet; },
      [&]() -> int {
        Storage storage = Storage::chosen(storage_dir, Environment::from_process());
        auto need = [&](const std::string& n) {
          validate_image_name(n);
          if (!storage.has(n))
            throw Error("no image named " + n + " in storage " + storage.root() + " (hpai-image list shows them)");
          return storage.image_dir(n);
        };

        if (*import_cmd) {
          imp.format = parse_image_format(import_format);
          imp.progress = quiet == 0 && isatty(2);
          ImportResult r = import_image(storage, imp);
          if (quiet == 0) print(import_summary(r));  // with -q the exit status says it all
          if (r.stats.rejected > 0)
            spdlog::warn(
                "{}: skipped {} unsafe member(s) (paths with \"..\" or links leaving the image); -v lists them", r.name,
                r.stats.rejected);
        } else if (*list_cmd) {
          // One image with broken metadata is listed as such; the others as usual.
          std::vector<StoredImage> images = stored_images(storage);
          int broken = 0;
          for (const auto& i : images)
            if (!i.config) {
              ++broken;
              spdlog::warn("{}: {}", i.name, i.error);
            }
          print((list_json ? image_list_json(images) : image_list_text(images)));
          if (broken > 0)
            spdlog::warn("{} image(s) with unreadable metadata; hpai-image rm NAME, then import again", broken);
        } else if (*rm_cmd) {
          need(name);
          NameLock lock = storage.lock(name);
          storage.remove(name);
          std::printf("%s: removed\n", name.c_str());
        } else if (*inspect_cmd) {
          StoredImage image{name, need(name), std::nullopt, ""};
          image.config = read_image_config(image.dir);
          print((inspect_json ? image_inspect_json(image) : image_inspect_text(image)));
        } else if (*export_cmd) {
          std::string dir = need(name);
          NameLock lock = storage.lock(name);
          export_image(dir, out, export_format);
          std::printf("%s: exported to %s\n", name.c_str(), out.c_str());
        }
        return 0;
      });
}
