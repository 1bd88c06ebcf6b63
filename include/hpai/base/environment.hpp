// The payload's environment: host pass-through, image ENV, --set-env/--unset-env
// with Charliecloud ch-run's assignment and expansion rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hpai {

// An ordered set of NAME=VALUE pairs (order kept so the payload sees a stable environment).
class Environment {
 public:
  Environment() = default;
  static Environment from_process();                                         // the launcher's own environ
  static Environment from_entries(const std::vector<std::string>& entries);  // "NAME=VALUE"

  std::optional<std::string> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  void set(std::string_view name, std::string_view value);
  bool unset(std::string_view name);
  // Removes every variable whose name matches GLOB (fnmatch with FNM_EXTMATCH); returns how many.
  std::size_t unset_matching(std::string_view glob);

  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  std::vector<std::string> to_strings() const;  // "NAME=VALUE", for execve

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

struct Assignment {
  std::string name;
  std::string value;
};

// Parses one "NAME=VALUE" assignment. Single quotes around the value (or around the
// whole assignment) are stripped; nothing else is special. ORIGIN names where it came
// from ("--set-env", "env.txt:3") for the error message.
Assignment parse_assignment(std::string_view text, std::string_view origin);

// Reads a file of assignments, one per line, empty lines ignored, no comments (the
// output of printenv is valid input).
std::vector<Assignment> read_assignment_file(const std::string& path);
std::vector<Assignment> parse_assignments(const std::string& text, const std::string& origin);  // the same, from memory

// ch-run's search-path expansion: VALUE is split on ':'; an item "$NAME" (or "${NAME}")
// is replaced by NAME's value in ENV, or dropped with its colon when unset or empty.
std::string expand_value(std::string_view value, const Environment& env);

// One change a site profile makes: set, prepend or append (':'-joined, for search
// paths), or unset names matching a glob. VALUE may use ${NAME} and $NAME, expanded
// against the environment the change is applied to ("$$" is a literal '$').
struct EnvChange {
  enum class Kind { Set, Prepend, Append, Unset };
  Kind kind = Kind::Set;
  std::string name;  // Unset: a glob
  std::string value;
  std::string origin;  // "lrz.json:14:7", for messages
};
void apply_env_change(Environment& env, const EnvChange& change, const Environment& expand_from);
std::string expand_variables(std::string_view text, const Environment& env);

// Appends "/bin" to a PATH-style value that lacks it (images without a merged /usr).
std::string path_with_bin(std::string_view path);

// Host variables a batch launcher or GPU scheduler sets; an image's ENV must not
// override them (an image saying NVIDIA_VISIBLE_DEVICES=all would defeat Slurm's GRES).
bool is_launcher_variable(std::string_view name);

}  // namespace hpai
