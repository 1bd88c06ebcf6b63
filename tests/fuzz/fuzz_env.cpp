// Fuzzes environment handling: assignment files (--set-env=FILE), ${NAME} expansion in
// profile values and ch-run's ':'-list expansion, and unset globs. The first line is
// taken as a value and a glob too.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hpai/base/environment.hpp"
#include "hpai/base/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  hpai::Environment env = hpai::Environment::from_entries({"HOME=/home/u", "PATH=/usr/bin:/bin", "EMPTY=", "A=a:b"});
  try {
    for (const auto& a : hpai::parse_assignments(text, "fuzz")) env.set(a.name, a.value);
  } catch (const hpai::Error&) {
  }
  const std::string line = text.substr(0, text.find('\n'));
  const std::string expanded = hpai::expand_variables(line, env);
  // No '$' means nothing to expand.
  if (line.find('$') == std::string::npos && expanded != line) __builtin_trap();
  hpai::expand_value(line, env);
  for (auto kind : {hpai::EnvChange::Kind::Set, hpai::EnvChange::Kind::Prepend, hpai::EnvChange::Kind::Append}) {
    hpai::Environment copy = env;
    try {
      hpai::apply_env_change(copy, {kind, "FUZZ", line, "fuzz"}, env);
    } catch (const hpai::Error&) {
    }
  }
  hpai::Environment copy = env;
  copy.unset_matching(line);
  return 0;
}
