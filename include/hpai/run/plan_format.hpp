// --dry-run output: the plan as text for people and as JSON for tools.
#pragma once

#include <string>
#include <vector>

#include "hpai/run/plan.hpp"

namespace hpai {

std::string plan_to_text(const Plan& plan);
// "set NAME=VALUE" / "unset NAME": how the payload's environment differs from the host's.
std::vector<std::string> env_change_lines(const Plan& plan);
std::string plan_to_json(const Plan& plan);

}  // namespace hpai
