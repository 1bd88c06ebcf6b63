#include "hpai/base/environment.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

extern char** environ;

namespace hpai {

Environment Environment::from_process() {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) entries.emplace_back(*e);
  return from_entries(entries);
}

Environment Environment::from_entries(const std::vector<std::string>& entries) {
  Environment env;
  for (const auto& entry : entries) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // not a variable; execve would keep it, we don't
    env.set(std::string_view(entry).substr(0, eq), std::string_view(entry).substr(eq + 1));
  }
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  for (const auto& [k, v] : entries_)
    if (k == name) return v;
  return std::nullopt;
}

void Environment::set(std::string_view name, std::string_view value) {
  for (auto& [k, v] : entries_) {
    if (k == name) {
      v = value;
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::string(value));
}

bool Environment::unset(std::string_view name) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::size_t Environment::unset_matching(std::string_view glob) {
  const std::string pattern(glob);
  auto before = entries_.size();
  std::erase_if(entries_, [&](const auto& e) { return fnmatch(pattern.c_str(), e.first.c_str(), FNM_EXTMATCH) == 0; });
  return before - entries_.size();
}

std::vector<std::string> Environment::to_strings() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [k, v] : entries_) out.push_back(k + "=" + v);
  return out;
}

namespace {

bool quoted(std::string_view s) { return s.size() >= 2 && s.front() == '\'' && s.back() == '\''; }

}  // namespace

Assignment parse_assignment(std::string_view text, std::string_view origin) {
  // ch-run documents --set-env="'NAME=VALUE'" as valid; a name cannot start with a quote.
  if (quoted(text) && text.find('=') != std::string_view::npos) text = text.substr(1, text.size() - 2);
  auto eq = text.find('=');
  if (eq == std::string_view::npos)
    throw Error(std::string(origin) + ": can't parse variable \"" + std::string(text) + "\": no '=' separator");
  if (eq == 0) throw Error(std::string(origin) + ": can't parse variable \"" + std::string(text) + "\": empty name");
  std::string_view value = text.substr(eq + 1);
  if (quoted(value)) value = value.substr(1, value.size() - 2);
  return {std::string(text.substr(0, eq)), std::string(value)};
}

std::vector<Assignment> read_assignment_file(const std::string& path) {
  return parse_assignments(read_host_file(path, kMaxEnvFile, "--set-env file " + path), path);
}

std::vector<Assignment> parse_assignments(const std::string& text, const std::string& origin) {
  std::vector<Assignment> out;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty()) continue;
    out.push_back(parse_assignment(line, origin + ":" + std::to_string(lineno)));
  }
  return out;
}

std::string expand_value(std::string_view value, const Environment& env) {
  std::string out;
  bool first = true;
  for (std::string_view item : split_fields(value, ':')) {
    std::optional<std::string> replacement;
    bool variable = item.size() > 1 && item.front() == '$';  // a lone "$" is kept, as ch-run does
    if (variable) {
      std::string_view name = item.substr(1);
      if (name.size() >= 2 && name.front() == '{' && name.back() == '}') name = name.substr(1, name.size() - 2);
      replacement = env.get(name);
    }
    if (!variable || (replacement && !replacement->empty())) {
      if (!first) out += ':';
      out += variable ? *replacement : std::string(item);
      first = false;
    }
  }
  return out;
}

std::string expand_variables(std::string_view text, const Environment& env) {
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::size_t start = i + 1, end = start;
    bool braced = text[start] == '{';
    if (braced) {
      end = text.find('}', start);
      if (end == std::string_view::npos) {  // "${" never closed: keep it as written
        out += text.substr(i);
        break;
      }
      ++start;
    } else {
      while (end < text.size() && name_char(text[end])) ++end;
      if (end == start) {  // a lone '$'
        out += '$';
        continue;
      }
    }
    out += env.get(text.substr(start, end - start)).value_or("");
    i = braced ? end : end - 1;
  }
  return out;
}

void apply_env_change(Environment& env, const EnvChange& c, const Environment& expand_from) {
  if (c.kind == EnvChange::Kind::Unset) {
    env.unset_matching(c.name);
    return;
  }
  std::string value = expand_variables(c.value, expand_from);
  std::string old = env.get(c.name).value_or("");
  if (c.kind == EnvChange::Kind::Prepend && !old.empty()) value += ":" + old;
  if (c.kind == EnvChange::Kind::Append && !old.empty()) value = old + ":" + value;
  env.set(c.name, value);
}

std::string path_with_bin(std::string_view path) {
  for (std::string_view item : split_fields(path, ':'))
    if (item == "/bin") return std::string(path);
  return path.empty() ? std::string("/bin") : std::string(path) + ":/bin";
}

bool is_launcher_variable(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {"SLURM_", "PMIX_", "PMI_",      "OMPI_",  "PRTE_",
                                                   "JSM_",   "LSB_",  "MPI_LOCAL", "HYDRA_", "FLUX_"};
  for (auto prefix : kPrefixes)
    if (name.starts_with(prefix)) return true;
  return name == "CUDA_VISIBLE_DEVICES" || name == "NVIDIA_VISIBLE_DEVICES" || name == "ROCR_VISIBLE_DEVICES" ||
         name == "GPU_DEVICE_ORDINAL";
}

}  // namespace hpai
