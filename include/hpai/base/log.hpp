// Logging: one stderr logger shared by the library and the tools.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <string_view>

namespace hpai {

// verbosity: 0 = warnings (default), 1 = info (-v), 2 = debug (-vv), 3+ = trace;
// negative = quieter (-q errors only, -qq nothing).
void init_logging(std::string_view program, int verbosity);

// Runs a tool's BODY; an Error or other exception becomes one "error:" line and the
// exit code the tools document (the Error's own, else 31).
int report_errors(const std::function<int()>& body);

}  // namespace hpai
