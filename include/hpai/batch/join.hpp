// One container per node: the ranks of a job on one node elect the first of them to
// build the container; the others enter its user and mount namespaces (ch-run --join).
//
// Everything is node-local and leaves no file behind: the ranks meet on an abstract
// Unix socket (no file in /dev/shm or anywhere; the kernel frees the name with its last
// holder). The first rank to bind the name builds the container, then forks a small
// keeper that holds the namespaces and hands them (as file descriptors) to each rank
// that connects, so a first rank whose payload exits early strands nobody. A rank that
// crashes while building closes the socket and the waiting ranks elect another; the
// keeper counts arrivals and stops after the expected count and the first rank's exit,
// or after the timeout, warning that the count was wrong.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"

namespace hpai {

struct JoinSettings {
  int peers = 0;           // ranks expected on this node, this one included
  std::string peers_from;  // where the count came from ("--join-ct=4"), for messages
  std::string tag;         // ranks with the same tag (and user) share a container
  std::chrono::milliseconds timeout{60'000};
  // What a rank's container must match (node_key() and the rank count): a joining rank
  // says its own, and the keeper admits it only if they agree, so a rank with other
  // options never takes a slot a matching rank needs.
  std::string key;
  // The keeper keeps the first rank's stderr for its "only N of M joined" warning. A
  // launcher that waits for the end of every task's output (slurmstepd, for a task of
  // the Slurm plugin) would wait for the keeper's timeout if a task died before joining.
  bool keeper_stderr = true;
};

// The abstract socket name of a tag, for this user ("hpai-join/1000/slurm-12.0").
std::string join_socket_name(uid_t uid, const std::string& tag);

// What a joining rank receives: the node's namespaces and container root, and the
// node's plan facts (run/node_facts).
struct JoinTicket {
  UniqueFd userns;
  UniqueFd mntns;
  UniqueFd root;
  std::string facts;
  pid_t keeper = 0;
};

// The rank that won the election. It owns the socket until serve() hands it to the keeper.
class JoinLeader {
 public:
  JoinLeader(UniqueFd listener, JoinSettings settings)
      : listener_(std::move(listener)), settings_(std::move(settings)) {}
  // Call once the container is complete, in its namespaces, right before the exec:
  // forks the keeper (detached, its stdio but stderr on /dev/null) and returns. With
  // LAUNCHER (the process that started this rank), the keeper goes when it goes: a job
  // torn down sends no more ranks.
  void serve(const std::string& facts, pid_t launcher = 0);

 private:
  UniqueFd listener_;
  JoinSettings settings_;
};

// The node's join name can't be used: another user holds it (abstract names have no
// permissions). The rank builds its own container instead (launch.cpp).
class JoinUnavailable : public Error {
 public:
  using Error::Error;
};

// What the election made of this rank: the leader (LEADER set), or a rank that joins
// the leader's container (TICKET filled).
struct JoinOutcome {
  std::optional<JoinLeader> leader;
  JoinTicket ticket;
};

// Elects or joins. Throws Error after the timeout, or when the keeper refuses (a rank
// too many); throws JoinUnavailable at once when someone else holds the name,
// listening or not.
JoinOutcome join_node(const JoinSettings& settings);

// The namespaces and root of process PID (--join-pid): the same user's, checked.
JoinTicket ticket_from_pid(pid_t pid);

}  // namespace hpai
