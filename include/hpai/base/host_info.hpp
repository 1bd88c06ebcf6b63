// This host's name and the time, as stats files and image metadata record them.
#pragma once

#include <string>

namespace hpai {

std::string host_name();  // gethostname(2), "" when it fails
std::string utc_now();    // ISO 8601, "2026-12-01T15:56:11Z"

}  // namespace hpai
