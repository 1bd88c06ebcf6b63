#include "hpai/run/plan.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hpai/base/host_fs.hpp"
#include "hpai/base/error.hpp"
#include "hpai/batch/launcher_env.hpp"
#include "hpai/base/log.hpp"
#include "hpai/run/passwd.hpp"
#include "hpai/image/path_in_root.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_plan.hpp"
#include "hpai/image/storage.hpp"

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

// The image argument: a stored image's directory, or a directory or SquashFS file
// (opened once, into SQUASHFS) on the host.
std::string locate_run_image(const std::string& arg, const HostContext& host, const std::string& storage_dir,
                             std::shared_ptr<UniqueFd>& squashfs) {
  squashfs.reset();
  LocatedImage image = locate_image(arg, Storage::chosen(storage_dir, host.env));
  if (image.stored) return image.path;
  if (!is_directory(image.path)) {
    if (UniqueFd fd = open_squashfs_file(image.path)) {
      squashfs = std::make_shared<UniqueFd>(std::move(fd));
      return image.path;
    }
    throw Error("image " + arg + " is not a directory or a SquashFS file (import archives with hpai-image import)");
  }
  if (image.path == "/") throw Error("image " + arg + " is the host's root directory; give an image directory");
  return image.path;
}

void apply_image_env(Environment& env, const ImageConfig& config, const Environment& host, bool protect_launcher) {
  for (const auto& entry : config.env) {
    auto a = parse_assignment(entry, "image ENV");
    // ENV baked into an image must not undo what the batch system set for this job.
    if (protect_launcher && is_launcher_variable(a.name) && host.has(a.name)) {
      spdlog::debug("keeping host {} over the image's ENV", a.name);
      continue;
    }
    env.set(a.name, a.value);
  }
}

void apply_assignments(Environment& env, const std::vector<Assignment>& assignments, bool expand) {
  for (const auto& a : assignments) env.set(a.name, expand ? expand_value(a.value, env) : a.value);
}

Environment make_environment(const RunOptions& o, const HostContext& host, const Plan& p) {
  const ImageConfig& config = p.config;
  Environment env = host.env;
  if (!o.no_image_env) apply_image_env(env, config, host.env, true);
  // The site profile's changes: after the image (the site knows this machine), before
  // the user's own --set-env. Each profile's values expand against what came before it.
  // Like image ENV, they don't undo what the batch system set for this job: the host's
  // CUDA_VISIBLE_DEVICES from Slurm's GPU binding beats a profile's.
  const Environment before_profile = env;
  for (const auto& c : p.profile_env) {
    if (is_launcher_variable(c.name) && host.env.has(c.name)) {
      spdlog::info("keeping the host's {} over the profile's (from {})", c.name, c.origin);
      continue;
    }
    apply_env_change(env, c, before_profile);
  }
  // This rank's launcher variables, before --set-env so the user still has the last word.
  map_pmix_names(env);
  if (o.torch_env.value_or(p.launcher.torch_env.value_or(false))) set_torch_env(env, host.rank, host.env);
  if (o.gpu_per_rank.value_or(p.launcher.gpu_per_rank.value_or(false))) set_gpu_per_rank(env, host.rank, host.dev_dir);
  // TMPDIR names a host path; the host's TMPDIR is what /tmp is in the container.
  env.unset("TMPDIR");
  // HOME stays the host's (or the image ENV's), as with ch-run; --home binds it.
  if (o.home) env.set("HOME", "/home/" + p.user);
  env.set("HPAI_RUNNING", "1");  // before --unset-env, which may remove it
  // /bin appended as ch-run does; an unset PATH is left unset, with ch-run's warning.
  if (auto path = env.get("PATH"))
    env.set("PATH", path_with_bin(*path));
  else
    spdlog::warn("$PATH not set");
  for (const auto& op : o.env_ops) {
    switch (op.kind) {
      case EnvOp::Kind::ImageEnv: {
        if (config.env.empty())
          spdlog::warn("--set-env: image {} has no ENV (in .hpai/image.json or ch/environment); nothing to set", p.image);
        std::vector<Assignment> as;
        for (const auto& e : config.env) as.push_back(parse_assignment(e, "image ENV"));
        apply_assignments(env, as, op.expand);
        break;
      }
      case EnvOp::Kind::File:
        apply_assignments(env, read_assignment_file(op.arg), op.expand);
        break;
      case EnvOp::Kind::Assign:
        apply_assignments(env, {parse_assignment(op.arg, "--set-env")}, op.expand);
        break;
      case EnvOp::Kind::Unset:
        if (op.arg.empty()) throw Error("--unset-env: GLOB must not be empty", kExitUsage);
        env.unset_matching(op.arg);
        break;
    }
  }
  // After --unset-env, as ch-run sets it: scripts can always tell they run in a container.
  env.set("CH_RUNNING", "hpai");
  return env;
}

// A target the image must already have (read-only image, nothing creates it).
void require_target(const ImageFs& image, const Mount& m, const RootPath& t) {
  if (!t.exists)
    throw Error("can't bind " + m.source + " to " + m.target + ": " + m.target + " does not exist in image " + image.describe() +
                " and the image is read-only (create it in the image, or run with -w or -W) (from " + m.origin + ")");
  if (t.is_dir == m.file)
    throw Error("can't bind " + m.source + " to " + m.target + ": " + (m.file ? "a file" : "a directory") +
                " can't be mounted on " + (t.is_dir ? "a directory" : "a file") + " (from " + m.origin + ")");
}

bool image_has(const ImageFs& image, const std::string& path) { return resolve_in_root(image, path).exists; }

// "/a/b" is "/a" or below it.
bool at_or_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

// Checks every mount's target against the image and the mounts before it, and drops
// those marked optional that can't be placed (with a note). A target resolves inside
// the image (its symlinks followed as in the container); one that resolves to / is
// refused. Below an earlier tmpfs it is made at run time; below an earlier bind it is
// on the host, where hpai never creates anything, so it must exist there. A target in
// the image that the mount may create is made at run time on a writable root, or goes
// into the skeleton layer of a read-only one; any other target must exist, of the
// right type. MountTree checks all of this again, by fd, as the mounts are made.
void place_mounts(Plan& p, const ImageFs& image, bool writable) {
  std::vector<Mount> kept;
  std::vector<std::string> at;  // where each kept mount landed, canonical
  for (Mount& m : p.mounts) {
    auto skip = [&](const std::string& why) {
      if (!m.optional) throw Error("can't mount " + m.source + " on " + m.target + ": " + why + " (from " + m.origin + ")");
      p.notes.push_back("skipped " + m.origin + " " + m.source + ": " + why);
    };
    std::optional<std::size_t> tmpfs;
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (kept[j].kind == Mount::Kind::Tmpfs && m.target.starts_with(kept[j].target + "/")) tmpfs = j;
    if (tmpfs) {  // hpai's own, empty but for what the plan puts there
      kept.push_back(m);
      at.push_back(at[*tmpfs] + m.target.substr(kept[*tmpfs].target.size()));
      continue;
    }
    if (m.kind == Mount::Kind::Symlink) throw Error("internal error: symlink " + m.target + " outside an injected tmpfs");
    RootPath t = resolve_in_root(image, m.target);
    const std::string where = "/" + t.relative;
    if (where == "/") {
      skip(m.target + " is the container's / (in image " + image.describe() + "), which can't be mounted over");
      continue;
    }
    std::optional<std::size_t> bind;  // the last earlier bind at or above WHERE
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (kept[j].kind != Mount::Kind::Tmpfs && at_or_under(where, at[j])) bind = j;
    if (bind && where != at[*bind]) {
      const Mount& b = kept[*bind];
      const std::string host = b.source + where.substr(at[*bind].size());
      struct stat st {};
      if (b.kind == Mount::Kind::File || stat(host.c_str(), &st) != 0) {
        skip(where + " lies inside the bind of " + b.source + " at " + at[*bind] + " (from " + b.origin + "), and " +
             host + " does not exist on the host; hpai creates mount points only in the image or its own tmpfs");
        continue;
      }
      if (S_ISDIR(st.st_mode) == m.file) {
        skip(std::string(m.file ? "a file" : "a directory") + " can't be mounted on " + host + " (inside the bind of " +
             b.source + " at " + at[*bind] + ")");
        continue;
      }
      m.create = false;  // there already, on the host
    } else if (!bind && !(m.create && writable)) {
      if (!t.exists && m.create) {
        p.skeleton.push_back({where, m.file});
      } else if (m.kind == Mount::Kind::Tmpfs && !t.exists) {
        throw Error("can't mount a tmpfs on " + m.target + ": it does not exist in read-only image " + p.image + " (from " +
                    m.origin + ")");
      } else if (m.kind != Mount::Kind::Tmpfs) {
        require_target(image, m, t);
      }
    }
    kept.push_back(m);
    at.push_back(where);
  }
  p.mounts = std::move(kept);
}

// A directory image on a network or parallel file system, under a launcher spreading
// ranks over nodes: every node then walks the image's files on the shared metadata
// servers at start-up, which is what stops jobs scaling past a few hundred nodes. Said
// once per job (rank 0); a statfs only then.
void warn_if_shared_directory_image(const Plan& p, const RankInfo& rank) {
  if (p.squashfs || rank.rank != 0 || !rank.size || !rank.local_size || *rank.size <= *rank.local_size) return;
  struct statfs sf {};
  if (statfs(p.image.c_str(), &sf) != 0) return;
  if (auto name = shared_file_system(static_cast<unsigned long>(sf.f_type)))
    spdlog::warn("image {} is a directory on {} and this job's {} ranks span several nodes: every node reads the "
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

}  // namespace

Plan make_plan(const RunOptions& o, const HostContext& host) {
  if (o.write && o.write_fake) throw Error("-w/--write and -W/--write-fake can't be combined", kExitUsage);
  Plan p;
  p.image = locate_run_image(o.image, host, o.storage, p.squashfs_fd);
  p.squashfs = p.squashfs_fd != nullptr;
  if (p.squashfs && o.write)
    throw Error("-w can't write SquashFS image " + p.image + " (read-only by nature); use -W for a writable overlay", kExitUsage);
  std::unique_ptr<ImageFs> image = p.squashfs ? open_squashfs_image(p.squashfs_fd->get(), p.image) : open_directory_image(p.image);
  p.config = read_image_config(*image);
  p.root_mode = o.write ? RootMode::Writable : o.write_fake ? RootMode::Overlay : RootMode::ReadOnly;
  if (o.write_fake) p.overlay_size = o.write_fake->empty() ? kDefaultOverlaySize : *o.write_fake;
  const bool writable = p.root_mode != RootMode::ReadOnly;
  p.ids = {o.uid.value_or(host.uid), host.uid, o.gid.value_or(host.gid), host.gid};

  Identity who = host_identity(host.uid, host.gid, host.env.get("USER").value_or(""));
  who.uid = p.ids.inside_uid;
  who.gid = p.ids.inside_gid;
  if (who.uid == 0) who.user = "root";
  if (!o.home) who.home = "/";

  // Kernel file systems: required, the payload can't do without them.
  for (const char* dir : {"/dev", "/proc", "/sys"}) p.mounts.push_back(bind_of(dir, dir, {.create = writable}, "default"));
  // Host name resolution and identity: optional, skipped when the host lacks them.
  // Name resolution must be the host's (MPI, NCCL and torch's rendezvous look up peers
  // and "localhost"; without /etc/hosts that goes to DNS and can hang until the time
  // limit): an image lacking /etc/hosts or /etc/resolv.conf gets a mount point as -b
  // would, from the skeleton layer, the overlay, or with -w an empty file in the image.
  for (const char* file : {"/etc/hosts", "/etc/resolv.conf", "/etc/machine-id"}) {
    auto src = real_path(file);
    if (!src) continue;
    const bool name_service = std::strcmp(file, "/etc/machine-id") != 0;
    if (image_has(*image, file))
      p.mounts.push_back(bind_of(*src, file, {.read_only = true}, "default"));
    else if (name_service)
      p.mounts.push_back(bind_of(*src, file, {.read_only = true, .create = true}, "default"));
  }
  if (!o.no_passwd) {
    for (const char* file : {"/etc/passwd", "/etc/group"}) {
      if (!image_has(*image, file)) {
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
  if (o.private_tmp) {
    p.mounts.push_back(tmpfs_at("/tmp", "mode=1777", {.create = writable}, "-t"));
  } else {
    std::string tmp = host.env.get("TMPDIR").value_or("/tmp");
    p.mounts.push_back(bind_of(host_source(tmp, "$TMPDIR"), "/tmp", {.create = writable}, "default"));
  }
  if (o.home) {
    auto home = host.env.get("HOME");
    if (!home || home->empty()) throw Error("--home: $HOME is not set");
    std::string src = host_source(*home, "--home");
    p.mounts.push_back(tmpfs_at("/home", "mode=755", {.create = writable}, "--home"));
    p.mounts.push_back(bind_of(src, "/home/" + who.user, {.create = true}, "--home"));
  }
  ProfileEffect effect;
  if (auto profile = choose_profile(o, host)) {
    effect = apply_profile(*profile, *image, p.config, host.env, {o.gpu, !o.no_mpi});
    p.profile_files = profile->files;
    p.launcher = profile->launcher;
  } else if (o.gpu.value_or(false)) {
    effect = apply_profile(Profile{}, *image, p.config, host.env, {o.gpu, !o.no_mpi});  // --gpu with no profile
  }
  p.mounts.insert(p.mounts.end(), effect.mounts.begin(), effect.mounts.end());
  p.notes = effect.notes;
  p.nvml = effect.nvml;
  p.profile_env = effect.env;
  // The launcher's PMIx rendezvous directories, before the user's binds.
  for (auto& m : launcher_mounts(host.env, p.notes)) p.mounts.push_back(std::move(m));
  // -w: the payload may write the image, but not hpai's metadata (a rewritten
  // image.json would break every later run).
  if (p.root_mode == RootMode::Writable && !p.squashfs) {
    auto dir = image->lstat(kMetadataDirName), meta = image->lstat(kImageMetadataPath);
    if (dir && dir->type == ImageStat::Type::Dir && meta && meta->type == ImageStat::Type::File)
      p.mounts.push_back(bind_of(p.image + "/" + kImageMetadataPath, std::string("/") + kImageMetadataPath, {.read_only = true},
                                 "image metadata, read-only with -w"));
  }
  // The user's binds last: on the command line, the user has the final word.
  for (const auto& b : o.binds) p.mounts.push_back(bind_of(host_source(b.source, b.origin), b.target, {.read_only = b.read_only, .create = writable}, b.origin));
  place_mounts(p, *image, writable);
  warn_if_shared_directory_image(p, host.rank);

  p.user = who.user;
  finish_plan(p, o, host);
  return p;
}

void finish_plan(Plan& p, const RunOptions& o, const HostContext& host) {
  p.rank = host.rank;
  if (host.rank.launcher != Launcher::None) {
    if (orphaned_rank(host.parent))
      throw Error("this " + std::string(launcher_name(host.rank.launcher)) +
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
      throw Error("--entrypoint-args: image " + p.image + " has no Entrypoint or Cmd, and no arguments were given", kExitUsage);
  } else if (!o.command.empty()) {
    p.argv = o.command;
  } else {
    p.argv = p.config.entrypoint;
    p.argv.insert(p.argv.end(), p.config.cmd.begin(), p.config.cmd.end());
    if (p.argv.empty())
      throw Error("no command given, and image " + p.image + " has no Entrypoint or Cmd; usage: hpai-run IMAGE -- CMD [ARG...]",
                  kExitUsage);
  }
}

}  // namespace hpai
