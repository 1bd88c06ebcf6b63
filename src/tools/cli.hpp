// The prologue the CLI11 tools share: parse (a usage error exits 64, --help and
// --version 0), logging at the verbosity the flags asked for, then BODY, any error
// reported as one "error:" line with its exit code (base/log.hpp). hpai-run parses by
// hand (run/run_args) and goes straight to init_logging and report_errors.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <string_view>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

inline int run_tool(CLI::App& app, int argc, char** argv, const char* program, const std::function<int()>& verbosity,
                    const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  init_logging(program, verbosity());
  return report_errors(body);
}

// A report as it is, NULs and all (an image's label may hold one; fputs would stop there).
inline void print(std::string_view text, std::FILE* to = stdout) { std::fwrite(text.data(), 1, text.size(), to); }

}  // namespace hpai
