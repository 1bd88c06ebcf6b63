// Handing file descriptors to another process over a unix socket (SCM_RIGHTS): the
// node's namespaces from the keeper to a joining rank, a mounted /dev/fuse to the
// SquashFS server.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "hpai/base/fd.hpp"

namespace hpai {

// Sends BYTES (at least one) and FDS as one message; MSG_NOSIGNAL, EINTR retried.
// True when every byte went; false with errno otherwise.
bool send_with_fds(int socket, std::string_view bytes, const std::vector<int>& fds);

struct ReceivedFds {
  ssize_t bytes = 0;          // as recvmsg: 0 the peer closed, -1 and errno on failure
  std::vector<UniqueFd> fds;  // what came with it (owned even when the message was cut)
  bool truncated = false;     // the message or its descriptors did not fit
};

// Receives one message into BUF (SIZE bytes) and at most MAX_FDS descriptors.
// CLOEXEC: the descriptors are marked close-on-exec (MSG_CMSG_CLOEXEC); a process
// that passes one on to exec leaves it false.
ReceivedFds receive_with_fds(int socket, char* buf, std::size_t size, std::size_t max_fds, bool cloexec = true);

}  // namespace hpai
