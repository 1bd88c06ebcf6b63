// hpai-run's command line, parsed the way ch-run's (glibc argp) is, so batch scripts
// port unchanged: long options as --name=VALUE or --name VALUE (unique prefixes too),
// short ones bundled (-wt) or with the value attached (-b/x) or next, optional values
// only after '=' (--set-env, --write-fake, --stats), "--opt=" an empty value (never
// the next word). The payload is never parsed: everything from the command's first
// word (after IMAGE and any options that follow it, or after "--") reaches execve
// byte for byte. One table drives the parser and --help alike.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpai/run/launch.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {

struct RunCommandLine {
  RunOptions options;
  JoinRequest join;
  bool dry_run = false;
  bool json = false;
  bool help = false;
  bool version = false;
  int verbosity = 0;                   // -v minus -q
  bool env_no_expand = false;          // applies to every --set-env, before or after it
  std::optional<std::string> feature;  // --feature=NAME: answer and exit
  std::vector<std::string> warnings;   // said once logging is up (deprecated flags)
  std::vector<std::string> notes;      // said with -v (flags hpai has no need for)
};

// Throws Error(kExitUsage) for a bad command line, naming the option.
RunCommandLine parse_run_args(const std::vector<std::string>& args);  // without argv[0]

// --help.
std::string run_usage();

// --feature=NAME: whether this hpai has NAME (exit 0) or not (1); nullopt when the name
// means nothing to hpai. run_features() lists them.
std::optional<bool> has_feature(const std::string& name);
std::string run_features();

}  // namespace hpai
