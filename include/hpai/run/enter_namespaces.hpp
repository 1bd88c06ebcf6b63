// Entering a container that another process built: its user namespace, then its mount
// namespace, then its root. One sequence for a joining rank (container.cpp) and for a
// Slurm task (the SPANK plugin, which compiles this file into itself).
#pragma once

#include <sys/types.h>

namespace hpai {

// USERNS, MNTNS: /proc/PID/ns/{user,mnt} of the container; ROOT: its / (O_PATH).
// KEEPER names the process that handed them, for messages. The caller must be
// single-threaded (setns of a user namespace). Throws Error.
void enter_namespaces(int userns, int mntns, int root, pid_t keeper);

}  // namespace hpai
