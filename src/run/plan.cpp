#include "hpai/run/plan.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/log.hpp"
#include "hpai/batch/launcher_env.hpp"
#include "hpai/image/path_in_root.hpp"
#include "hpai/image/storage.hpp"
#include "hpai/run/passwd.hpp"
#include "hpai/run/payload_env.hpp"
#include "hpai/run/placement.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_plan.hpp"

namespace hpai {

std::optional<std::string> shared_file_system(unsigned long f_type) {
  static constexpr std::pair<unsigned long, const char*> kShared[] = {
      {0x6969, "NFS"},        {0x0BD00BD0, "Lustre"}, {0x47504653, "GPFS"}, {0x19830326, "BeeGFS"},
      {0x00C36400, "CephFS"}, {0xAAD7AAEA, "PanFS"},  {0x5346414F, "AFS"},  {0x73757245, "Coda"}};
  for (const auto& [magic, name] : kShared)
    if (f_type == magic) return name;
  return std::nullopt;
}

BindSpec parse_bind_spec(std::string_view arg) {
  BindSpec b;
  b.origin = "-b " + std::string(arg);
  auto colon = arg.find(':');
  b.source = std::string(arg.substr(0, colon));
  b.target = colon == std::string_view::npos ? b.source : std::string(arg.substr(colon + 1));
  if (b.source.empty()) throw Error("--bind " + std::string(arg) + ": empty source", kExitUsage);
  if (b.target.empty()) throw Error("--bind " + std::string(arg) + ": empty destination", kExitUsage);
  if (b.target.front() != '/')
    throw Error("--bind " + std::string(arg) + ": destination " + b.target + " must be an absolute path", kExitUsage);
  if (b.target.find_first_not_of('/') == std::string::npos)
    throw Error("--bind " + std::string(arg) + ": can't bind over the container's /", kExitUsage);
  return b;
}

HostContext HostContext::current() {
  HostContext h;
  h.uid = getuid();
  h.gid = getgid();
  h.env = Environment::from_process();
  h.rank = detect_ranks(h.env);
  h.parent = getppid();
  return h;
}

namespace {

// The image argument: a stored image's directory, or a directory or SquashFS file on
// the host (opened once: squashfuse serves the plan's own open).
struct RunImage {
  std::string path;
  std::shared_ptr<UniqueFd> squashfs;
};
RunImage locate_run_image(const std::string& arg, const HostContext& host, const std::string& storage_dir) {
  LocatedImage image = locate_image(arg, storage_dir, host.env);
  if (image.stored) return {image.path, nullptr};
  if (!is_directory(image.path)) {
    if (UniqueFd fd = open_squashfs_file(image.path)) return {image.path, std::make_shared<UniqueFd>(std::move(fd))};
    throw Error("image " + arg + " is not a directory or a SquashFS file (import archives with hpai-image import)");
  }
  if (image.path == "/") throw Error("image " + arg + " is the host's root directory; give an image directory");
  return {image.path, nullptr};
}

bool image_has(const ImageFs& image, const std::string& path) { return resolve_in_root(image, path).exists; }

// A directory image on a network or parallel file system, under a launcher spreading
// ranks over nodes: every node then walks the image's files on the shared metadata
// servers at start-up, which is what stops jobs scaling past a few hundred nodes. Said
// once per job (rank 0); a statfs only then.
void warn_if_shared_directory_image(const Plan& p, const RankInfo& rank) {
  if (p.squashfs || rank.rank != 0 || !rank.size || !rank.local_size || *rank.size <= *rank.local_size) return;
  struct statfs sf {};
  if (statfs(p.image.c_str(), &sf) != 0) return;
  if (auto name = shared_file_system(static_cast<unsigned long>(sf.f_type)))
    spdlog::warn(
        "image {} is a directory on {} and this job's {} ranks span several nodes: every node reads the "
        "image's metadata from the shared servers at start-up, which does not scale; export it once to "
        "SquashFS (hpai-image export NAME IMG.sqfs, or mksquashfs DIR IMG.sqfs) and run IMG.sqfs",
        p.image, *rank.size, *name);
}

// The profile named with --profile, else the site default, else none.
std::optional<Profile> choose_profile(const RunOptions& o, const HostContext& host) {
  if (o.no_profile) {
    if (o.profile) throw Error("--profile and --no-profile can't be combined", kExitUsage);
    return std::nullopt;
  }
  std::vector<std::string> search = profile_search_path(host.env);
  std::optional<std::string> path = o.profile ? find_profile(*o.profile, search) : find_default_profile(search);
  if (!path) return std::nullopt;
  return load_profile(*path, search);
}

// Step 1: the image, what it says about itself, and how writable its root is.
std::unique_ptr<ImageFs> open_image(Plan& p, const RunOptions& o, const HostContext& host) {
  RunImage located = locate_run_image(o.image, host, o.storage);
  p.image = located.path;
  p.squashfs_fd = located.squashfs;
  p.squashfs = p.squashfs_fd != nullptr;
  if (p.squashfs && o.write)
    throw Error("-w can't write SquashFS image " + p.image + " (read-only by nature); use -W for a writable overlay",
                kExitUsage);
  std::unique_ptr<ImageFs> image =
      p.squashfs ? open_squashfs_image(p.squashfs_fd->get(), p.image) : open_directory_image(p.image);
  p.config = read_image_config(*image);
  p.root_mode = o.write ? RootMode::Writable : o.write_fake ? RootMode::Overlay : RootMode::ReadOnly;
  if (o.write_fake) p.overlay_size = o.write_fake->empty() ? kDefaultOverlaySize : *o.write_fake;
  p.ids = {o.uid.value_or(host.uid), host.uid, o.gid.value_or(host.gid), host.gid};
  return image;
}

// Who the payload is inside: -u/-g's ids, the host user's name, home only with --home.
Identity identity_inside(const Plan& p, const RunOptions& o, const HostContext& host) {
  Identity who = host_identity(host.uid, host.gid, host.env.get("USER").value_or(""));
  who.uid = p.ids.inside_uid;
  who.gid = p.ids.inside_gid;
  if (who.uid == 0) who.user = "root";
  if (!o.home) who.home = "/";
  return who;
}

// Step 2: kernel file systems (required: the payload can't do without them), then the
// host's name resolution and machine id (skipped where the host lacks them). Name
// resolution must be the host's (MPI, NCCL and torch's rendezvous look up peers and
// "localhost"; without /etc/hosts that goes to DNS and can hang until the time limit):
// an image lacking /etc/hosts or /etc/resolv.conf gets a mount point as -b would, from
// the skeleton layer, the overlay, or with -w an empty file in the image.
void add_default_mounts(Plan& p, const ImageFs& image, bool writable) {
  for (const char* dir : {"/dev", "/proc", "/sys"})
    p.mounts.push_back(bind_of(dir, dir, {.create = writable}, "default"));
  for (const char* file : {"/etc/hosts", "/etc/resolv.conf", "/etc/machine-id"}) {
    auto src = real_path(file);
    if (!src) continue;
    const bool name_service = std::strcmp(file, "/etc/machine-id") != 0;
    if (image_has(image, file))
      p.mounts.push_back(bind_of(*src, file, {.read_only = true}, "default"));
    else if (name_service)
      p.mounts.push_back(bind_of(*src, file, {.read_only = true, .create = true}, "default"));
  }
}

// Step 3: /etc/passwd and /etc/group naming the user inside, where the image has them.
void add_identity_files(Plan& p, const ImageFs& image, const Identity& who) {
  for (const char* file : {"/etc/passwd", "/etc/group"}) {
    if (!image_has(image, file)) {
      spdlog::info("image has no {}; not generating one", file);
      continue;
    }
    Mount m;
    m.kind = Mount::Kind::File;
    m.target = file;
    m.file = true;
    m.read_only = true;
    m.source = std::string("generated ") + (file + 5);
    m.content = std::strcmp(file, "/etc/passwd") == 0 ? make_passwd(who) : make_group(who);
    m.origin = "default";
    p.mounts.push_back(std::move(m));
  }
}

// Step 4: /tmp (the host's $TMPDIR, or a private tmpfs with -t) and, with --home, the
// user's home directory under a tmpfs /home.
void add_tmp_and_home(Plan& p, const RunOptions& o, const HostContext& host, const Identity& who, bool writable) {
  if (o.private_tmp) {
    p.mounts.push_back(tmpfs_at("/tmp", "mode=1777", {.create = writable}, "-t"));
  } else {
    std::string tmp = host.env.get("TMPDIR").value_or("/tmp");
    p.mounts.push_back(bind_of(host_source(tmp, "$TMPDIR"), "/tmp", {.create = writable}, "default"));
  }
  if (!o.home) return;
  auto home = host.env.get("HOME");
  if (!home || home->empty()) throw Error("--home: $HOME is not set");
  std::string src = host_source(*home, "--home");
  p.mounts.push_back(tmpfs_at("/home", "mode=755", {.create = writable}, "--home"));
  p.mounts.push_back(bind_of(src, "/home/" + who.user, {.create = true}, "--home"));
}

// Step 5: the site profile's mounts, environment and notes (--gpu alone applies an
// empty profile's driver injection), then the launcher's PMIx rendezvous directories.
void add_site_mounts(Plan& p, const RunOptions& o, const HostContext& host, const ImageFs& image) {
  ProfileEffect effect;
  if (auto profile = choose_profile(o, host)) {
    effect = apply_profile(*profile, image, p.config, host.env, {o.gpu, !o.no_mpi, !o.no_cuda_compat});
    p.profile_files = profile->files;
    p.launcher = profile->launcher;
  } else if (o.gpu.value_or(false)) {
    effect = apply_profile(Profile{}, image, p.config, host.env, {o.gpu, !o.no_mpi, !o.no_cuda_compat});
  }
  p.mounts.insert(p.mounts.end(), effect.mounts.begin(), effect.mounts.end());
  p.notes = effect.notes;
  p.nvml = effect.nvml;
  p.profile_env = effect.env;
  LauncherMounts launcher = launcher_mounts(host.env);
  p.mounts.insert(p.mounts.end(), launcher.mounts.begin(), launcher.mounts.end());
  p.notes.insert(p.notes.end(), launcher.notes.begin(), launcher.notes.end());
}

// Step 6: with -w hpai's metadata stays read-only (a rewritten image.json would break
// every later run); then the user's binds, last: on the command line, the user has the
// final word.
void add_user_binds(Plan& p, const RunOptions& o, const ImageFs& image, bool writable) {
  if (p.root_mode == RootMode::Writable && !p.squashfs) {
    auto dir = image.lstat(kMetadataDirName), meta = image.lstat(kImageMetadataPath);
    if (dir && dir->type == ImageStat::Type::Dir && meta && meta->type == ImageStat::Type::File)
      p.mounts.push_back(bind_of(p.image + "/" + kImageMetadataPath, std::string("/") + kImageMetadataPath,
                                 {.read_only = true}, "image metadata, read-only with -w"));
  }
  for (const auto& b : o.binds)
    p.mounts.push_back(bind_of(host_source(b.source, b.origin), b.target,
                               {.read_only = b.read_only, .create = writable || b.create}, b.origin));
}

}  // namespace

// The node's part of the plan, in the order the container will have it; finish_plan
// adds the rank's.
Plan make_plan(const RunOptions& o, const HostContext& host) {
  if (o.write && o.write_fake) throw Error("-w/--write and -W/--write-fake can't be combined", kExitUsage);
  Plan p;
  std::unique_ptr<ImageFs> image = open_image(p, o, host);  // 1
  const bool writable = p.root_mode != RootMode::ReadOnly;
  const Identity who = identity_inside(p, o, host);
  add_default_mounts(p, *image, writable);               // 2
  if (!o.no_passwd) add_identity_files(p, *image, who);  // 3
  add_tmp_and_home(p, o, host, who, writable);           // 4
  add_site_mounts(p, o, host, *image);                   // 5
  add_user_binds(p, o, *image, writable);                // 6
  place_mounts(p, *image, writable);                     // 7: every target checked against the image and earlier mounts
  warn_if_shared_directory_image(p, host.rank);
  p.user = who.user;
  finish_plan(p, o, host);  // 8: the rank's environment, directory and command
  return p;
}

void finish_plan(Plan& p, const RunOptions& o, const HostContext& host) {
  p.rank = host.rank;
  if (host.rank.launcher != Launcher::None) {
    if (orphaned_rank(host.parent))
      throw Error(
          "this " + std::string(launcher_name(host.rank.launcher)) +
              " rank's launcher exited before the rank started (its parent is now init): not starting a container "
              "that nothing would end with the job",
          kExitLauncherGone);
    if (host.parent > 0) {
      p.launcher_pid = host.parent;
      p.launcher_daemon = launcher_process(host.parent);
    }
  }
  p.host_env = host.env;
  p.env = make_environment(o, host, p);
  p.cwd = o.cd ? *o.cd : (!o.no_image_env && !p.config.workdir.empty() ? p.config.workdir : "/");
  if (o.entrypoint_args) {
    // docker run IMAGE ARGS: the Entrypoint, then ARGS in place of the Cmd.
    p.argv = p.config.entrypoint;
    const auto& args = o.command.empty() ? p.config.cmd : o.command;
    p.argv.insert(p.argv.end(), args.begin(), args.end());
    if (p.argv.empty())
      throw Error("--entrypoint-args: image " + p.image + " has no Entrypoint or Cmd, and no arguments were given",
                  kExitUsage);
  } else if (!o.command.empty()) {
    p.argv = o.command;
  } else {
    p.argv = p.config.entrypoint;
    p.argv.insert(p.argv.end(), p.config.cmd.begin(), p.config.cmd.end());
    if (p.argv.empty())
      throw Error(
          "no command given, and image " + p.image + " has no Entrypoint or Cmd; usage: hpai-run IMAGE -- CMD [ARG...]",
          kExitUsage);
  }
}

}  // namespace hpai
