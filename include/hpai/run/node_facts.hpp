// The part of a plan the ranks of one node share: the first rank sends it to the ranks
// that join its container (batch/join), which then read no image or profile.
#pragma once

#include <string>

#include "hpai/run/plan.hpp"

namespace hpai {

// The node facts as JSON, and a plan for a joining rank made from them (no image or
// profile read). NODE_KEY identifies the options that shape the container itself, so a
// rank never joins a container built for another image or other binds.
std::string node_facts_to_json(const Plan& plan, const std::string& node_key);
Plan plan_from_node_facts(const std::string& json, const std::string& node_key, const RunOptions& options,
                          const HostContext& host);
std::string node_key(const RunOptions& options);

}  // namespace hpai
