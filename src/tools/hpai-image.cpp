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
#include "hpai/registry/blob_cache.hpp"
#include "hpai/registry/login.hpp"
#include "hpai/registry/pull.hpp"
#include "hpai/registry/pull_progress.hpp"

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

REGISTRIES
  pull fetches layers in parallel into a blob cache in storage that every image shares
  (a layer already there is not fetched again); gc removes blobs no image uses.
  Credentials come from ~/.docker/config.json (as docker login writes it; hpai-image
  login writes the same) or --creds-file. Compute nodes without internet: pull on a
  login node with --squashfs onto the shared file system, run the file on the nodes.

EXAMPLES
  hpai-image pull nvcr.io/nvidia/pytorch:24.05-py3
  hpai-image pull --arch ppc64le --squashfs /gpfs/proj/img/lammps.sqfs ghcr.io/lab/lammps:2024
  hpai-image import debian.tar.gz debian:12
  hpai-image import ./pytorch-oci:24.05 pytorch:24.05 --platform linux/arm64
  hpai-image list --json
  hpai-image export pytorch:24.05 /scratch/pytorch.sqfs)";

}  // namespace

int main(int argc, char** argv) {
  // Member names are bytes; in a UTF-8 locale libarchive hands pax's UTF-8 names over as
  // they are instead of warning that they "can't be converted" to ASCII.
  if (setlocale(LC_CTYPE, "C.UTF-8") == nullptr) setlocale(LC_CTYPE, "");
  CLI::App app{"hpai-image - pull, import, list, inspect, remove and export container images, without privilege",
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

  PullOptions pull;
  std::string arch, ca_cert, creds_file;
  auto* pull_cmd =
      app.add_subcommand("pull", "fetch [REGISTRY/]REPO[:TAG|@sha256:DIGEST] from a registry into storage");
  pull_cmd->add_option("REF", pull.reference, "image reference, as docker pull takes it")->required();
  pull_cmd->add_option("NAME", pull.name, "image name in storage (default: from the reference)");
  pull_cmd->add_option("--arch", arch, "architecture from a multi-platform image: amd64, arm64, ppc64le, arm/v7");
  pull_cmd->add_option("--platform", pull.platform, "os/arch[/variant] (instead of --arch)");
  pull_cmd->add_option("--squashfs", pull.squashfs, "write a SquashFS file instead of storing the image");
  pull_cmd->add_option("-j,--jobs", pull.jobs, "layers fetched at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  pull_cmd->add_option("--registry-mirror", pull.mirror, "host[:port] asked first for Docker Hub images");
  pull_cmd->add_option("--ca-cert", ca_cert,
                       "CA bundle for the registry's TLS (default: SSL_CERT_FILE, else the system's)");
  pull_cmd->add_option("--creds-file", creds_file,
                       "credentials in docker's config.json format (default: ~/.docker/config.json)");
  pull_cmd->add_flag("--insecure", pull.registry.plain_http, "the registry named speaks plain HTTP (no TLS)");
  pull_cmd->add_flag("-f,--force", pull.force, "unpack again even if NAME holds this image already");

  LoginOptions login_opt;
  auto* login_cmd = app.add_subcommand("login", "check credentials with a registry and store them for pull");
  login_cmd->add_option("REGISTRY", login_opt.registry, "host[:port], or docker.io")->required();
  login_cmd->add_option("-u,--username", login_opt.username, "user name (default: asked)");
  login_cmd->add_flag("--password-stdin", login_opt.password_stdin, "read the password from standard input");
  login_cmd->add_option("--ca-cert", ca_cert, "CA bundle for the registry's TLS");
  login_cmd->add_option("--creds-file", creds_file, "file to store them in (default: ~/.docker/config.json)");
  login_cmd->add_flag("--insecure", login_opt.registry_options.plain_http, "the registry speaks plain HTTP");
  std::string logout_registry;
  auto* logout_cmd = app.add_subcommand("logout", "remove a registry's stored credentials");
  logout_cmd->add_option("REGISTRY", logout_registry, "host[:port], or docker.io")->required();
  logout_cmd->add_option("--creds-file", creds_file, "file they are in (default: ~/.docker/config.json)");

  bool gc_dry_run = false;
  auto* gc_cmd = app.add_subcommand("gc", "remove pulled blobs no stored image uses");
  gc_cmd->add_flag("-n,--dry-run", gc_dry_run, "only say what would be removed");

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

        // Registry settings: the environment's, then the flags'.
        auto registry_options = [&](RegistryOptions o) {
          const RegistryOptions env = registry_options_from(Environment::from_process());
          o.credentials_file = creds_file.empty() ? env.credentials_file : creds_file;
          o.http.ca_file = ca_cert.empty() ? env.http.ca_file : ca_cert;
          o.http.user_agent = std::string("hpai/") + kVersion;
          o.proxy = env.proxy;
          return o;
        };
        if (*pull_cmd) {
          if (!arch.empty() && !pull.platform.empty()) throw Error("give --arch or --platform, not both", kExitUsage);
          if (!arch.empty()) pull.platform = platform_for_arch(arch);
          pull.registry = registry_options(pull.registry);
          pull.progress = quiet == 0 && isatty(2);
          pull.layer_lines = quiet == 0 && !pull.progress;
          PullResult r = pull_image(storage, pull);
          if (quiet == 0) print(pull_summary(r));
        } else if (*login_cmd) {
          login_opt.registry_options = registry_options(login_opt.registry_options);
          std::string file = login(login_opt);
          std::printf("%s: logged in; credentials stored in %s\n", login_opt.registry.c_str(), file.c_str());
        } else if (*logout_cmd) {
          std::string file = registry_options({}).credentials_file;
          if (!logout(logout_registry, file))
            std::printf("%s: no credentials stored in %s\n", logout_registry.c_str(), file.c_str());
          else
            std::printf("%s: credentials removed from %s\n", logout_registry.c_str(), file.c_str());
        } else if (*gc_cmd) {
          GcReport g = BlobCache(storage).gc(storage, gc_dry_run);
          std::printf("%s %d blob(s) and %d unfinished fetch(es), %s; %d blob(s) in use kept\n",
                      gc_dry_run ? "would remove" : "removed", g.removed, g.partials, human_size(g.bytes).c_str(),
                      g.kept);
        } else if (*import_cmd) {
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
