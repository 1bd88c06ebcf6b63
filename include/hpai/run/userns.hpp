// Where the user namespace is made: unshare(CLONE_NEWUSER|CLONE_NEWNS) and the
// one-line uid/gid maps an unprivileged process may write for itself.
#pragma once

#include <sys/types.h>

#include <string>

namespace hpai {

struct IdMap {
  uid_t inside_uid = 0;
  uid_t outside_uid = 0;
  gid_t inside_gid = 0;
  gid_t outside_gid = 0;
};

// hpai never needs privilege; running setuid/setgid would let users pick ids they do
// not own through -u/-g, so it is refused outright.
void refuse_setuid(const std::string& program = "hpai-run");
// A tool's first call: refuse_setuid, and on refusal "PROGRAM[PID]: error: ..." and out
// at once (nothing to undo, and no exit-time handler is to run with borrowed privilege).
void exit_if_setuid(const std::string& program);

// "INSIDE OUTSIDE 1" lines for /proc/self/{uid,gid}_map.
std::string uid_map_line(const IdMap& map);
std::string gid_map_line(const IdMap& map);

// New user and mount namespaces for the calling (single-threaded) process, with
// setgroups denied (required before an unprivileged gid_map, and it keeps the payload
// from dropping supplementary groups that deny it access on the host).
void enter_user_namespace(const IdMap& map);

}  // namespace hpai
