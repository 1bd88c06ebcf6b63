// Profiles seen from outside: checked against this host (`hpai-profile check`,
// `hpai-check host`) and printed back in their schema, merged (`hpai-profile show`).
#pragma once

#include <nlohmann/json.hpp>

#include "hpai/site/profile.hpp"

namespace hpai {

// Checks a profile against this host: required bind sources, devices, MPI libraries
// and driver cache present. Missing optional things are warnings.
void check_profile_host(const Profile& profile, Diagnostics& diags);

// The merged profile as JSON in the profile schema (what `hpai-profile show` prints).
nlohmann::json profile_to_json(const Profile& profile);

}  // namespace hpai
