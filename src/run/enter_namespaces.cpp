#include "hpai/run/enter_namespaces.hpp"

#include <sched.h>
#include <unistd.h>

#include <string>

#include "hpai/base/error.hpp"

namespace hpai {

void enter_namespaces(int userns, int mntns, int root, pid_t keeper) {
  // User namespace first: it gives the capabilities the mount namespace and chroot need.
  if (setns(userns, CLONE_NEWUSER) != 0)
    throw_errno("join: can't enter the user namespace of the node's container (process " + std::to_string(keeper) +
                ")");
  if (setns(mntns, CLONE_NEWNS) != 0)
    throw_errno("join: can't enter the mount namespace of the node's container (process " + std::to_string(keeper) +
                ")");
  if (fchdir(root) != 0 || chroot(".") != 0) throw_errno("join: can't change root to the node's container");
}

}  // namespace hpai
