// What hpai-run does once its flags are parsed: decide whether this rank shares its
// node's container (join), then build the container and exec the payload, or enter the
// container another rank built.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "hpai/batch/join.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {

struct JoinRequest {
  std::optional<bool> join;        // -j / --no-join; nullopt: join when a launcher says > 1 rank on this node
  std::optional<int> count;        // --join-ct (implies -j)
  std::optional<std::string> tag;  // --join-tag (implies -j)
  std::optional<pid_t> pid;        // --join-pid: enter that process's container
  std::optional<std::chrono::milliseconds> timeout;  // else $HPAI_JOIN_TIMEOUT seconds, else 60 s
};

// How this rank joins, or nullopt when it runs a container of its own. Throws Error
// when a join is asked for but the number of ranks on the node can't be known.
std::optional<JoinSettings> join_settings(const JoinRequest& request, const HostContext& host);
std::string describe_join(const std::optional<JoinSettings>& settings);  // for --dry-run

// Never returns: execs the payload, or throws Error.
[[noreturn]] void launch(const RunOptions& options, const JoinRequest& request, const HostContext& host);

}  // namespace hpai
