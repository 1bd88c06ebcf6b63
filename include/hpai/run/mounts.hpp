// Where mounts happen: every mount(2), umount2(2) and pivot_root(2) hpai makes goes
// through here, so each is checked and logged the same way.
#pragma once

#include <string>

#include "hpai/base/fd.hpp"

namespace hpai {

// Stops our mounts propagating to the host (and the host's to us).
void make_mounts_private();

void mount_tmpfs(const std::string& target, const std::string& options);
// Binds SRC (recursively: submounts inherited from the host are locked to their
// parents in a user namespace, so a non-recursive bind of /dev or /sys fails) onto an
// O_PATH fd of the target (MountTree::open): no path is looked up again between the
// check and the mount. READ_ONLY is set on the whole cloned tree before it is attached
// (mount_setattr sets only that bit, so the flags the kernel locks, nosuid, nodev,
// noexec, atime, stay), submounts included.
// Both return the new mount's fd (MountTree::mounted records it).
UniqueFd bind_mount_at(const std::string& src, int target_fd, const std::string& target, bool read_only);
UniqueFd mount_tmpfs_at(int target_fd, const std::string& target, const std::string& options);

// overlayfs with userxattr: the only kind an unprivileged user namespace may mount.
void mount_overlay(const std::string& lower, const std::string& upper, const std::string& work,
                   const std::string& target);

// A read-only overlay of TOP over LOWER (no upper or work dir): how mount
// points are added to a read-only image without writing to it.
void mount_overlay_read_only(const std::string& top, const std::string& lower, const std::string& target);

// pivot_root(NEW_ROOT, NEW_ROOT/PUT_OLD), then chdir("/"). NEW_ROOT must be a mount.
void pivot_root_keep_old(const std::string& new_root, const std::string& put_old);

// Makes NEW_ROOT "/" and detaches the previous root with everything under it, so no
// host path stays reachable from the container.
void pivot_root_detach_old(const std::string& new_root);

// Escapes ',' ':' and '\' for an overlayfs lowerdir/upperdir option value.
std::string overlay_escape(const std::string& path);

}  // namespace hpai
