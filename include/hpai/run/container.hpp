// Carries out a Plan: namespaces, the image root, every mount, pivot_root, exec.
// One flat, checked sequence (read it top to bottom in container.cpp).
#pragma once

#include <string>

#include "hpai/batch/join.hpp"
#include "hpai/batch/stats.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {

// Never returns: it execs the payload, or throws Error. With LEADER, the finished
// container is offered to the node's other ranks (FACTS: node_facts_to_json) first.
// With STATS, the payload runs as a child and its costs go there (--stats).
[[noreturn]] void run_container(const Plan& plan, JoinLeader* leader = nullptr, const std::string& facts = "",
                                const StatsSink* stats = nullptr);

// run_container without the payload: the finished container is this process's root
// and cwd (the Slurm plugin's builder hands it to the step's tasks).
void assemble_container(const Plan& plan, JoinLeader* leader, const std::string& facts);

// A joining rank: enters the namespaces and root of TICKET, then execs PLAN's payload.
[[noreturn]] void enter_container(const JoinTicket& ticket, const Plan& plan, const StatsSink* stats = nullptr);

}  // namespace hpai
