// Opening a path inside a root directory: openat2(2) with RESOLVE_ flags, and the same
// resolution walked by fd where the kernel has no openat2 (before Linux 5.6) or a tool
// hides it (valgrind 3.19, seccomp filters of older container runtimes).
#pragma once

#include <string>

namespace hpai {

// openat2(DIRFD, PATH, {FLAGS, MODE, RESOLVE}); -1 and errno on failure. RESOLVE may
// hold RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS (all that hpai
// uses); without openat2 the walk below gives the same answers.
int openat2_resolve(int dirfd, const std::string& path, int flags, unsigned long long resolve, int mode = 0);

// The walk alone (what openat2_resolve falls back to), for tests: one component at a
// time, each opened O_PATH|O_NOFOLLOW relative to the fd of the one before; a symlink's
// target is read and resolved again from DIRFD when absolute; ".." never climbs above
// DIRFD. No step follows a link by name, so a concurrent rename can't lead out of DIRFD.
int open_in_root_walk(int dirfd, const std::string& path, int flags, unsigned long long resolve, int mode = 0);

}  // namespace hpai
