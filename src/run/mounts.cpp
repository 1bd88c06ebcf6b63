#include "hpai/run/mounts.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

void make_mounts_private() {
  check(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "can't make mounts private");
}

void mount_tmpfs(const std::string& target, const std::string& options) {
  spdlog::debug("tmpfs {} ({})", target, options);
  check(mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()),
        "can't mount tmpfs on " + target + (options.empty() ? "" : " with " + options));
}

namespace {

// Attaches the detached mount TREE at TARGET_FD.
void attach(int tree, int target_fd, const std::string& what) {
  check(move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), "can't mount " + what);
}

}  // namespace

UniqueFd bind_mount_at(const std::string& src, int target_fd, const std::string& target, bool read_only) {
  spdlog::debug("bind {} -> {}{}", src, target, read_only ? " (ro)" : "");
  const std::string what = src + " on " + target;
  UniqueFd tree(open_tree(AT_FDCWD, src.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree) throw_errno("can't bind " + what);
  if (read_only) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    check(mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr),
          "can't make " + what + " read-only");
  }
  attach(tree.get(), target_fd, what);
  return tree;
}

UniqueFd mount_tmpfs_at(int target_fd, const std::string& target, const std::string& options) {
  spdlog::debug("tmpfs {} ({})", target, options);
  const std::string what = "a tmpfs on " + target + (options.empty() ? "" : " with " + options);
  UniqueFd fs(fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fs) throw_errno("can't mount " + what);
  for (const std::string& opt : split_list(options, ',')) {
    auto eq = opt.find('=');
    int rc = eq == std::string::npos
                 ? fsconfig(fs.get(), FSCONFIG_SET_FLAG, opt.c_str(), nullptr, 0)
                 : fsconfig(fs.get(), FSCONFIG_SET_STRING, opt.substr(0, eq).c_str(), opt.substr(eq + 1).c_str(), 0);
    check(rc, "can't mount " + what + " (option " + opt + ")");
  }
  check(fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0), "can't mount " + what);
  UniqueFd mnt(fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!mnt) throw_errno("can't mount " + what);
  attach(mnt.get(), target_fd, what);
  return mnt;
}

std::string overlay_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ',' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void mount_overlay(const std::string& lower, const std::string& upper, const std::string& work,
                   const std::string& target) {
  const std::string options = "lowerdir=" + overlay_escape(lower) + ",upperdir=" + overlay_escape(upper) +
                              ",workdir=" + overlay_escape(work) + ",userxattr";
  spdlog::debug("overlay {} ({})", target, options);
  if (mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0)
    throw_errno("can't mount the --write-fake overlay on " + lower +
                " (overlayfs in a user namespace needs Linux >= 5.11, and the image must not itself be on overlayfs)");
}

void mount_overlay_read_only(const std::string& top, const std::string& lower, const std::string& target) {
  const std::string options = "lowerdir=" + overlay_escape(top) + ":" + overlay_escape(lower);
  spdlog::debug("overlay {} ({})", target, options);
  if (mount("overlay", target.c_str(), "overlay", MS_RDONLY, options.c_str()) != 0)
    throw_errno("can't mount the mount-point overlay on " + lower +
                " (overlayfs in a user namespace needs Linux >= 5.11; with an older kernel, run with -w or create the "
                "mount points in the image)");
}

void pivot_root_keep_old(const std::string& new_root, const std::string& put_old) {
  check(syscall(SYS_pivot_root, new_root.c_str(), (new_root + "/" + put_old).c_str()),
        "can't pivot_root to " + new_root);
  check(chdir("/"), "can't chdir to the new root");
}

void pivot_root_detach_old(const std::string& new_root) {
  check(chdir(new_root.c_str()), "can't chdir to " + new_root);
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching the top
  // of "." then removes it and every mount below it in one step.
  check(syscall(SYS_pivot_root, ".", "."), "can't pivot_root into the image");
  check(umount2(".", MNT_DETACH), "can't detach the host root");
  check(chdir("/"), "can't chdir to / in the image");
}

}  // namespace hpai
