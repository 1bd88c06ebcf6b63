// Where SquashFS images are mounted: squashfuse_ll (Debian squashfuse), started inside
// our user and mount namespaces, where an unprivileged FUSE mount is allowed.
#pragma once

#include <string>

namespace hpai {

// Mounts the SquashFS file open as IMAGE_FD at MOUNTPOINT and returns once it is
// mounted. The squashfuse process ignores the terminal's and the batch system's
// signals (the payload may need its files while handling SIGTERM) and is killed when
// the process that called this — by then the payload — exits. WHAT names the image.
void mount_squashfs(int image_fd, const std::string& mountpoint, const std::string& what);

// Throws a clear Error when /dev/fuse can't be used.
void require_fuse(const std::string& what);

}  // namespace hpai
