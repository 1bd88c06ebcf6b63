// Profiles seen from outside: checked against this host (`hpai-profile check`,
// `hpai-check host`) and printed back in their schema, merged (`hpai-profile show`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hpai/site/profile.hpp"

namespace hpai {

// Checks a profile against this host: required bind sources, devices, MPI libraries
// and driver cache present. Missing optional things are warnings.
void check_profile_host(const Profile& profile, Diagnostics& diags);

// The merged profile as JSON in the profile schema (what `hpai-profile show` prints).
nlohmann::json profile_to_json(const Profile& profile);

// `hpai-profile check NAME`: NAME found, read (with what it extends) and, unless
// SCHEMA_ONLY, checked against this host. A file that can't be read or parsed is a
// diagnostic too (FILE:LINE:COL for JSON syntax), never an exception.
struct ProfileCheck {
  std::string profile;  // the path found, or NAME when none was
  Diagnostics diags;
};
ProfileCheck check_profile_named(const std::string& name, const std::vector<std::string>& search_path,
                                 bool schema_only);
// "PATH: ok", "PATH: ok (with warnings)" or "PATH: INVALID".
std::string profile_check_line(const ProfileCheck& check);
std::string profile_checks_json(const std::vector<ProfileCheck>& checks);
// `hpai-profile show`: PROFILE in its schema, with the files it was merged from.
std::string profile_show_json(const Profile& profile);
// `hpai-profile list`: each directory of SEARCH_PATH and the recipes, with the
// profiles there and their descriptions.
std::string profile_listing(const std::vector<std::string>& search_path);

}  // namespace hpai
