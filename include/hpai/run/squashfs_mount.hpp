// Where SquashFS images are mounted. hpai makes the FUSE mount itself, inside the
// container's user and mount namespaces, and hands its /dev/fuse descriptor to a
// squashfuse_ll (Debian squashfuse) that was started before those namespaces: the
// server holds no reference to the container's mount namespace, so when the last
// process using the container (the ranks that built or joined it, the join keeper)
// is gone, the namespace and its mount go, and squashfuse_ll, reading ENODEV, exits.
// Its life is the container's, in whatever order ranks end, and also when the rank
// that built the container is killed.
#pragma once

#include <sys/types.h>

#include <string>

#include "hpai/base/fd.hpp"

namespace hpai {

// Throws a clear Error when /dev/fuse can't be used.
void require_fuse(const std::string& what);

class SquashfsServer {
 public:
  // Before the namespaces: starts squashfuse_ll on IMAGE, open as IMAGE_FD (detached,
  // its stdin and stdout on /dev/null, no descriptor of ours but the image), waiting
  // for the mount to serve.
  static SquashfsServer start(int image_fd, const std::string& image);

  // In the container's namespaces: mounts the image read-only at MOUNTPOINT (owned by
  // UID/GID, the ids inside the user namespace) and hands the mount to the server.
  // Returns once squashfuse_ll runs; Error if it can't be started.
  void mount(const std::string& mountpoint, uid_t uid, gid_t gid);

 private:
  SquashfsServer(std::string image, UniqueFd socket, UniqueFd status)
      : image_(std::move(image)), socket_(std::move(socket)), status_(std::move(status)) {}
  std::string image_;
  UniqueFd socket_;  // to the waiting server: the /dev/fuse descriptor goes here
  UniqueFd status_;  // closed by its exec; an error message if the exec fails
};

}  // namespace hpai
