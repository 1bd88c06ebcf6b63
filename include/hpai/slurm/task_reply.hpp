// What hpai-slurm-task hands back to the Slurm task that started it: the container (its
// user namespace, mount namespace and root, as descriptors), the directory to work in
// and the task's complete environment. The plugin then enters the container itself and
// lets slurmstepd exec the task there. Both sides compile this file (the plugin links
// none of hpai's libraries: it is loaded into srun, sbatch and slurmstepd).
#pragma once

#include <string>
#include <vector>

#include "hpai/base/fd.hpp"

namespace hpai {

struct TaskReply {
  UniqueFd userns;
  UniqueFd mntns;
  UniqueFd root;
  pid_t keeper = 0;  // who holds the container, for messages
  std::string cwd;
  std::vector<std::string> env;  // "NAME=VALUE"
};

// On a stream socket: the descriptors with a fixed header, then the text. Throws Error.
void send_task_reply(int socket, const TaskReply& reply);

// Reads one reply to the end of the stream, at most 64 MiB. Throws Error; a stream that
// ends before any byte (the helper failed and said why on stderr) is an Error too.
TaskReply receive_task_reply(int socket);

}  // namespace hpai
