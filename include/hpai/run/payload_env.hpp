// The payload's environment, made for each rank from the node's plan (make_plan) and
// the rank's own options and host environment (finish_plan).
#pragma once

#include "hpai/base/environment.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {

Environment make_environment(const RunOptions& options, const HostContext& host, const Plan& plan);

}  // namespace hpai
