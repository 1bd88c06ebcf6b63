#include "hpai/slurm/task_reply.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"
#include "hpai/base/fd_passing.hpp"

namespace hpai {

namespace {

constexpr char kHeader[] = "hpai-task-reply 1\n";
constexpr std::size_t kHeaderSize = sizeof kHeader - 1;
constexpr std::size_t kMaxReply = 64u << 20;

}  // namespace

void send_task_reply(int socket, const TaskReply& r) {
  std::string text = std::to_string(r.keeper) + '\0' + r.cwd + '\0';
  for (const auto& e : r.env) {
    if (e.find('\0') != std::string::npos) throw Error("internal error: a NUL in an environment entry");
    text += e;
    text += '\0';
  }
  if (!send_with_fds(socket, std::string_view(kHeader, kHeaderSize), {r.userns.get(), r.mntns.get(), r.root.get()}))
    throw_errno("can't hand the container to the Slurm task");
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = write(socket, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("can't hand the container to the Slurm task");
    done += static_cast<std::size_t>(n);
  }
}

TaskReply receive_task_reply(int socket) {
  char header[kHeaderSize];
  ReceivedFds got = receive_with_fds(socket, header, kHeaderSize, 3);
  if (got.bytes < 0) throw_errno("can't read hpai-slurm-task's reply");
  if (got.bytes == 0) throw Error("hpai-slurm-task ended without handing over a container");
  if (got.fds.size() != 3 || got.truncated) throw Error("hpai-slurm-task's reply carries no container");
  std::string text(header, static_cast<std::size_t>(got.bytes));
  char buf[65536];
  for (;;) {
    const ssize_t n = read(socket, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("can't read hpai-slurm-task's reply");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxReply) throw Error("hpai-slurm-task's reply is over 64 MiB");
  }
  if (text.compare(0, kHeaderSize, kHeader) != 0) throw Error("hpai-slurm-task's reply has an unknown header");
  std::vector<std::string> fields;
  std::size_t start = kHeaderSize;
  while (start < text.size()) {
    const auto end = text.find('\0', start);
    if (end == std::string::npos) throw Error("hpai-slurm-task's reply is cut short");
    fields.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (fields.size() < 2) throw Error("hpai-slurm-task's reply is cut short");
  TaskReply r;
  r.keeper = static_cast<pid_t>(std::strtol(fields[0].c_str(), nullptr, 10));
  r.cwd = fields[1];
  r.env.assign(fields.begin() + 2, fields.end());
  r.userns = std::move(got.fds[0]);
  r.mntns = std::move(got.fds[1]);
  r.root = std::move(got.fds[2]);
  return r;
}

}  // namespace hpai
