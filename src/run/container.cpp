#include "hpai/run/container.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/fs_at.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/log.hpp"
#include "hpai/image/path_in_root.hpp"
#include "hpai/run/enter_namespaces.hpp"
#include "hpai/run/exec.hpp"
#include "hpai/run/mount_tree.hpp"
#include "hpai/run/mounts.hpp"
#include "hpai/run/squashfs_mount.hpp"
#include "hpai/run/supervise.hpp"
#include "hpai/run/userns.hpp"

namespace hpai {

namespace {

// Staging area. A private tmpfs over /tmp becomes the root for a moment, with the host
// root moved below it to /oldroot and the image assembled at /newroot (bubblewrap's
// layout). /tmp always exists, and mounting over it in our namespace hides nothing
// from the host; the host's /tmp stays reachable as /oldroot/tmp.
constexpr const char* kStage = "/tmp";
constexpr const char* kOldRoot = "/oldroot";
constexpr const char* kNewRoot = "/newroot";
constexpr const char* kFiles = "/files";
constexpr const char* kOverlay = "/overlay";
constexpr const char* kSquashfs = "/image";     // where a SquashFS image is mounted
constexpr const char* kSkeleton = "/skeleton";  // mount points a read-only image lacks

std::string host_path(const std::string& path) { return kOldRoot + path; }

// A bind of SRC on the staging directory DIR, by fd (mount_setattr makes it read-only:
// no statvfs of the image, whose flags that remount would have had to keep).
void bind_root(const std::string& src, const char* dir, bool read_only) {
  UniqueFd target(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!target) throw_errno(std::string("can't open ") + dir);
  bind_mount_at(src, target.get(), "/", read_only);
}

void mount_image_root(const Plan& p) {
  const std::string image = p.squashfs ? std::string(kSquashfs) : host_path(p.image);
  switch (p.root_mode) {
    case RootMode::ReadOnly:
      if (p.skeleton.empty()) {
        bind_root(image, kNewRoot, true);
        break;
      }
      make_dir(kSkeleton, 0755, "");
      {
        MountTree skeleton(kSkeleton);  // our own tmpfs: every point is made in it
        for (const auto& point : p.skeleton)
          skeleton.open(point.path, point.file ? MountTree::Create::File : MountTree::Create::Dir,
                        "the mount-point layer");
      }
      mount_overlay_read_only(kSkeleton, image, kNewRoot);
      break;
    case RootMode::Writable: bind_root(image, kNewRoot, false); break;
    case RootMode::Overlay:
      make_dir(kOverlay, 0755, "");
      mount_tmpfs(kOverlay, "mode=0755,size=" + p.overlay_size);
      make_dir(std::string(kOverlay) + "/upper", 0755, "");
      make_dir(std::string(kOverlay) + "/work", 0755, "");
      mount_overlay(image, std::string(kOverlay) + "/upper", std::string(kOverlay) + "/work", kNewRoot);
      break;
  }
}

std::string describe(const Mount& m) {
  const std::string what = m.kind == Mount::Kind::Tmpfs  ? "a tmpfs of hpai's"
                           : m.kind == Mount::Kind::File ? "a file of hpai's (" + m.source + ")"
                                                         : "the bind of host " + m.source;
  return what + " at " + m.target + " (from " + m.origin + ")";
}

// One mount of the plan. Its target is resolved inside the container as it is by now
// (earlier mounts included) and made, if it must be, only where hpai owns the mount.
void make_mount(const Plan& p, MountTree& tree, const Mount& m, int index) {
  using Create = MountTree::Create;
  if (m.kind == Mount::Kind::Symlink) {  // inside a tmpfs of ours; the plan checked that
    const auto slash = m.target.rfind('/');
    MountTree::Target dir = tree.open(m.target.substr(0, slash), Create::Dir, m.origin);
    const std::string name = m.target.substr(slash + 1);
    check(symlinkat(m.source.c_str(), dir.fd.get(), name.c_str()),
          "can't create symlink " + m.target + " -> " + m.source);
    return;
  }
  MountTree::Target t = tree.open(m.target, m.create ? (m.file ? Create::File : Create::Dir) : Create::No, m.origin);
  if (!t.fd)  // the plan checked it; the image changed since
    throw Error("can't mount on " + m.target + ": " + t.path + " does not exist in the container (image " + p.image +
                ") (from " + m.origin + ")");
  if (t.is_root) throw Error("can't mount over the container's / (" + m.target + " from " + m.origin + ")");
  if (t.is_dir == m.file)
    throw Error("can't mount " + std::string(m.file ? "a file" : "a directory") + " on " + t.path + " (from " +
                m.origin + "): it is " + (t.is_dir ? "a directory" : "a file") + " in the container");
  UniqueFd made;
  switch (m.kind) {
    case Mount::Kind::Bind: made = bind_mount_at(host_path(m.source), t.fd.get(), t.path, m.read_only); break;
    case Mount::Kind::Tmpfs: made = mount_tmpfs_at(t.fd.get(), t.path, m.source); break;
    case Mount::Kind::File: {
      const std::string file = std::string(kFiles) + "/" + std::to_string(index);
      write_new_file_at(AT_FDCWD, file, m.content, 0644, file);
      made = bind_mount_at(file, t.fd.get(), t.path, m.read_only);
      break;
    }
    case Mount::Kind::Symlink: return;  // made above
  }
  tree.mounted(std::move(made), m.kind == Mount::Kind::Tmpfs, describe(m));
}

}  // namespace

namespace {

[[noreturn]] void start_payload(const Plan& p, const StatsSink* stats) {
  if (p.launcher_pid) die_with_launcher(p.launcher_pid);  // under --stats the supervisor; the payload dies with it
  if (stats) run_supervised(p.argv, p.env, *stats, p.rank);
  exec_payload(p.argv, p.env);
}

}  // namespace

void assemble_container(const Plan& p, JoinLeader* leader, const std::string& facts) {
  // 0. A SquashFS image's server starts outside the namespaces to come, so that it lives
  // exactly as long as the container does (squashfs_mount.hpp).
  std::optional<SquashfsServer> squashfs;
  if (p.squashfs) {
    if (!p.squashfs_fd) throw Error("internal error: SquashFS image " + p.image + " not open");
    squashfs.emplace(SquashfsServer::start(p.squashfs_fd->get(), p.image));
  }

  // 1. User and mount namespaces; nothing we mount from here on is seen by the host.
  enter_user_namespace(p.ids);
  make_mounts_private();

  // 2. The staging root, with the host below it at /oldroot, and a SquashFS image
  // mounted in it (FUSE needs the host's /dev/fuse, reachable until the pivot).
  mount_tmpfs(kStage, "mode=0755");
  for (const char* dir : {kOldRoot, kNewRoot, kFiles, kSquashfs}) make_dir(std::string(kStage) + dir, 0755, "");
  if (squashfs) squashfs->mount(std::string(kStage) + kSquashfs, p.ids.inside_uid, p.ids.inside_gid);
  pivot_root_keep_old(kStage, kOldRoot + 1);

  // 3. The image at /newroot, then every mount of the plan, in order.
  mount_image_root(p);
  {
    MountTree tree(kNewRoot);
    for (std::size_t i = 0; i < p.mounts.size(); ++i) make_mount(p, tree, p.mounts[i], static_cast<int>(i));
  }

  // 4. Into the image; the staging root and the host root go away together.
  pivot_root_detach_old(kNewRoot);
  if (chdir(p.cwd.c_str()) != 0)
    throw_errno("can't cd to " + p.cwd + " in the image (from --cd or the image's WorkingDir)");

  // 5. The node's other ranks may enter now (join.cpp hands them these namespaces).
  if (leader) leader->serve(facts, p.launcher_daemon);
}

void run_container(const Plan& p, JoinLeader* leader, const std::string& facts, const StatsSink* stats) {
  assemble_container(p, leader, facts);
  spdlog::info("executing: {}", p.argv.front());
  start_payload(p, stats);
}

void enter_container(const JoinTicket& t, const Plan& p, const StatsSink* stats) {
  enter_namespaces(t.userns.get(), t.mntns.get(), t.root.get(), t.keeper);
  if (chdir(p.cwd.c_str()) != 0)
    throw_errno("can't cd to " + p.cwd + " in the image (from --cd or the image's WorkingDir)");
  spdlog::info("executing in the node's container: {}", p.argv.front());
  start_payload(p, stats);
}

}  // namespace hpai
