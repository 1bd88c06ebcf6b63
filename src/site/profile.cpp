#include "hpai/site/profile.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>

#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/site/profile_file.hpp"

namespace hpai {

using nlohmann::json;

const char* to_string(MpiFamily f) { return f == MpiFamily::Mpich ? "mpich" : "openmpi"; }
const char* to_string(MpiCompat c) {
  switch (c) {
    case MpiCompat::Major: return "major";
    case MpiCompat::Full: return "full";
    case MpiCompat::Strict: return "strict";
  }
  return "?";
}

std::string ProfileDiagnostic::str() const {
  return where.str() + (severity == Severity::Error ? ": error: " : ": warning: ") + message;
}

bool has_errors(const Diagnostics& d) {
  return std::any_of(d.begin(), d.end(),
                     [](const auto& x) { return x.severity == ProfileDiagnostic::Severity::Error; });
}

std::string closest_match(const std::string& word, const std::vector<std::string>& choices) {
  // Levenshtein distance; a suggestion is offered within a third of the word's length.
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diag = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : choices) {
    std::size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

namespace {

// "/", "//./", "/././": nothing but the root.
bool is_root_path(const std::string& path) {
  for (std::string_view part : split_fields(path, '/'))
    if (!part.empty() && part != ".") return false;
  return true;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// Walks one profile file, checking each value's type and converting it; every problem
// becomes a diagnostic at the value's position and parsing goes on.
class Reader {
 public:
  Reader(const JsonSource& src, Diagnostics& diags) : src_(src), diags_(diags) {}

  SourcePos at(const std::string& ptr) const { return src_.where(ptr); }
  void error(const std::string& ptr, const std::string& msg) {
    diags_.push_back({ProfileDiagnostic::Severity::Error, at(ptr), msg});
  }

  // Reports unknown members of an object; false when J is not an object.
  bool object(const std::string& ptr, const json& j, const std::string& what, const std::vector<std::string>& keys) {
    if (!j.is_object()) {
      error(ptr, what + " must be an object, not " + j.type_name());
      return false;
    }
    for (const auto& [k, v] : j.items()) {
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
      std::string guess = closest_match(k, keys);
      error(json_pointer_child(ptr, k),
            "unknown key \"" + k + "\" in " + what +
                (guess.empty() ? " (known keys: " + join(keys) + ")" : "; did you mean \"" + guess + "\"?"));
    }
    return true;
  }
  std::optional<std::string> string(const std::string& ptr, const json& j, const std::string& what) {
    if (j.is_string()) return j.get<std::string>();
    error(ptr, what + " must be a string, not " + j.type_name());
    return std::nullopt;
  }
  std::optional<bool> boolean(const std::string& ptr, const json& j, const std::string& what) {
    if (j.is_boolean()) return j.get<bool>();
    error(ptr, what + " must be true or false, not " + j.dump());
    return std::nullopt;
  }
  std::optional<std::string> path(const std::string& ptr, const json& j, const std::string& what) {
    auto s = string(ptr, j, what);
    if (!s) return s;
    if (s->empty() || s->front() != '/') {
      error(ptr, what + " \"" + *s + "\" must be an absolute path");
      return std::nullopt;
    }
    // A NUL would cut the path short at the syscall: "/opt\0/etc" would bind /opt.
    if (s->find('\0') != std::string::npos) {
      error(ptr, what + " contains a NUL character");
      return std::nullopt;
    }
    if ((*s + "/").find("/../") != std::string::npos) {
      error(ptr, what + " \"" + *s + "\" must not contain \"..\" (write the path it means)");
      return std::nullopt;
    }
    return s;
  }
  std::optional<std::string> choice(const std::string& ptr, const json& j, const std::string& what,
                                    const std::vector<std::string>& choices) {
    auto s = string(ptr, j, what);
    if (!s || std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
    std::string guess = closest_match(*s, choices);
    error(ptr, what + " \"" + *s + "\" is not one of " + join(choices) +
                   (guess.empty() ? "" : "; did you mean \"" + guess + "\"?"));
    return std::nullopt;
  }
  template <typename F>
  void array(const std::string& ptr, const json& j, const std::string& what, F each) {
    if (!j.is_array()) {
      error(ptr, what + " must be an array, not " + j.type_name());
      return;
    }
    for (std::size_t i = 0; i < j.size(); ++i) each(json_pointer_child(ptr, std::to_string(i)), j[i]);
  }
  std::vector<HostPath> paths(const std::string& ptr, const json& j, const std::string& what) {
    std::vector<HostPath> out;
    array(ptr, j, what, [&](const std::string& p, const json& e) {
      if (auto s = path(p, e, what + " entry")) out.push_back({*s, at(p)});
    });
    return out;
  }

  // "binds": ["/a", {"source": "/b", "target": "/c", "required": false, "read_only": true}]
  std::vector<ProfileBind> binds(const std::string& ptr, const json& j, const std::string& what) {
    std::vector<ProfileBind> out;
    array(ptr, j, what, [&](const std::string& p, const json& e) {
      ProfileBind b;
      b.origin = at(p);
      if (e.is_string()) {
        if (auto s = path(p, e, what + " entry")) b.source = b.target = *s;
      } else if (object(p, e, what + " entry", {"source", "target", "required", "read_only"})) {
        if (!e.contains("source")) error(p, what + " entry needs a \"source\"");
        if (e.contains("source")) b.source = path(json_pointer_child(p, "source"), e["source"], "source").value_or("");
        b.target = b.source;
        if (e.contains("target")) b.target = path(json_pointer_child(p, "target"), e["target"], "target").value_or("");
        if (e.contains("required"))
          b.required = boolean(json_pointer_child(p, "required"), e["required"], "required").value_or(true);
        if (e.contains("read_only"))
          b.read_only = boolean(json_pointer_child(p, "read_only"), e["read_only"], "read_only").value_or(false);
      } else {
        return;
      }
      if (!b.target.empty() && is_root_path(b.target)) {
        error(p, what + " entry can't bind over the container's /");
        return;
      }
      if (!b.source.empty() && !b.target.empty()) out.push_back(b);
    });
    return out;
  }

  // "devices": ["/dev/infiniband", {"path": "/dev/hfi1_0", "required": false}]
  std::vector<ProfileBind> devices(const std::string& ptr, const json& j) {
    std::vector<ProfileBind> out;
    array(ptr, j, "devices", [&](const std::string& p, const json& e) {
      ProfileBind d;
      d.origin = at(p);
      if (e.is_string()) {
        d.source = path(p, e, "device").value_or("");
      } else if (object(p, e, "device entry", {"path", "required"})) {
        if (!e.contains("path")) error(p, "device entry needs a \"path\"");
        if (e.contains("path")) d.source = path(json_pointer_child(p, "path"), e["path"], "device path").value_or("");
        if (e.contains("required"))
          d.required = boolean(json_pointer_child(p, "required"), e["required"], "required").value_or(true);
      }
      d.target = d.source;
      if (!d.source.empty()) out.push_back(d);
    });
    return out;
  }

  // "env": {"set": {...}, "prepend": {...}, "append": {...}, "unset": [...]}
  std::vector<EnvChange> env(const std::string& ptr, const json& j) {
    std::vector<EnvChange> out;
    if (!object(ptr, j, "env", {"unset", "set", "prepend", "append"})) return out;
    std::vector<std::string> seen;
    auto valid_name = [](const std::string& n) {
      return !n.empty() && !std::isdigit(static_cast<unsigned char>(n[0])) &&
             std::all_of(n.begin(), n.end(),
                         [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    };
    // Applied in this order; within one profile a name appears once, so the order of
    // keys in the file (which JSON doesn't keep) never matters.
    if (j.contains("unset")) {
      array(json_pointer_child(ptr, "unset"), j["unset"], "env.unset", [&](const std::string& p, const json& e) {
        auto g = string(p, e, "env.unset entry");
        if (g && g->find('\0') != std::string::npos)
          error(p, "env.unset entry contains a NUL character");
        else if (g)
          out.push_back({EnvChange::Kind::Unset, *g, "", at(p).str()});
      });
    }
    const std::pair<const char*, EnvChange::Kind> kinds[] = {
        {"set", EnvChange::Kind::Set}, {"prepend", EnvChange::Kind::Prepend}, {"append", EnvChange::Kind::Append}};
    for (const auto& [key, kind] : kinds) {
      if (!j.contains(key)) continue;
      std::string p = json_pointer_child(ptr, key);
      const json& section = j[key];
      if (!section.is_object()) {
        error(p, std::string("env.") + key + " must be an object of NAME: VALUE, not " + section.type_name());
        continue;
      }
      for (const auto& [name, value] : section.items()) {
        std::string vp = json_pointer_child(p, name);
        if (!valid_name(name)) {
          error(vp, "\"" + name + "\" is not a valid environment variable name");
          continue;
        }
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
          error(vp, name + " appears more than once in env (set, prepend and append of one profile can't combine)");
          continue;
        }
        seen.push_back(name);
        auto v = string(vp, value, "value of " + name);
        if (v && v->find('\0') != std::string::npos) {
          // The environment can't hold it: the value would be cut short at the NUL.
          error(vp, "value of " + name + " contains a NUL character");
          continue;
        }
        if (v) out.push_back({kind, name, *v, at(vp).str()});
      }
    }
    return out;
  }

  ProfileMpi mpi(const std::string& ptr, const json& j) {
    ProfileMpi m;
    m.origin = at(ptr);
    if (!object(ptr, j, "mpi", {"enabled", "family", "compat", "libraries", "prefix", "dependencies", "binds", "env"}))
      return m;
    auto child = [&](const char* k) { return json_pointer_child(ptr, k); };
    if (j.contains("enabled")) m.enabled = boolean(child("enabled"), j["enabled"], "mpi.enabled");
    if (j.contains("family")) {
      if (auto f = choice(child("family"), j["family"], "mpi.family", {"mpich", "openmpi"}))
        m.family = *f == "mpich" ? MpiFamily::Mpich : MpiFamily::OpenMpi;
    }
    if (j.contains("compat")) {
      if (auto c = choice(child("compat"), j["compat"], "mpi.compat", {"major", "full", "strict"}))
        m.compat = *c == "major" ? MpiCompat::Major : *c == "full" ? MpiCompat::Full : MpiCompat::Strict;
    }
    if (j.contains("libraries")) m.libraries = paths(child("libraries"), j["libraries"], "mpi.libraries");
    if (j.contains("prefix")) {
      if (auto p = path(child("prefix"), j["prefix"], "mpi.prefix")) m.prefix = HostPath{*p, at(child("prefix"))};
    }
    if (j.contains("dependencies"))
      m.dependencies = paths(child("dependencies"), j["dependencies"], "mpi.dependencies");
    if (j.contains("binds")) m.binds = binds(child("binds"), j["binds"], "mpi.binds");
    if (j.contains("env")) m.env = env(child("env"), j["env"]);
    return m;
  }

  ProfileNvidia nvidia(const std::string& ptr, const json& j) {
    ProfileNvidia n;
    n.origin = at(ptr);
    if (!object(ptr, j, "nvidia", {"enabled", "capabilities", "ld_cache", "libraries", "binaries", "devices"}))
      return n;
    auto child = [&](const char* k) { return json_pointer_child(ptr, k); };
    if (j.contains("enabled")) {
      const json& e = j["enabled"];
      if (e.is_boolean())
        n.enabled = e.get<bool>() ? GpuMode::On : GpuMode::Off;
      else if (e == "auto")
        n.enabled = GpuMode::Auto;
      else
        error(child("enabled"), "nvidia.enabled must be true, false or \"auto\", not " + e.dump());
    }
    if (j.contains("capabilities")) {
      std::vector<std::string> caps;
      array(child("capabilities"), j["capabilities"], "nvidia.capabilities", [&](const std::string& p, const json& e) {
        std::vector<std::string> allowed = kNvidiaCapabilities;
        allowed.push_back("all");
        if (auto c = choice(p, e, "capability", allowed)) {
          if (*c == "all")
            caps = kNvidiaCapabilities;
          else if (std::find(caps.begin(), caps.end(), *c) == caps.end())
            caps.push_back(*c);
        }
      });
      n.capabilities = caps;
    }
    if (j.contains("ld_cache")) {
      if (auto p = path(child("ld_cache"), j["ld_cache"], "nvidia.ld_cache"))
        n.ld_cache = HostPath{*p, at(child("ld_cache"))};
    }
    if (j.contains("libraries")) n.libraries = paths(child("libraries"), j["libraries"], "nvidia.libraries");
    if (j.contains("binaries")) n.binaries = paths(child("binaries"), j["binaries"], "nvidia.binaries");
    if (j.contains("devices")) n.devices = devices(child("devices"), j["devices"]);
    return n;
  }

  // "launcher": {"torch_env": true, "gpu_per_rank": false}
  ProfileLauncher launcher(const std::string& ptr, const json& j) {
    ProfileLauncher l;
    if (!object(ptr, j, "launcher", {"torch_env", "gpu_per_rank"})) return l;
    auto flag = [&](const char* key, std::optional<bool>& to) {
      if (j.contains(key)) to = boolean(json_pointer_child(ptr, key), j[key], key);
    };
    flag("torch_env", l.torch_env);
    flag("gpu_per_rank", l.gpu_per_rank);
    return l;
  }

 private:
  const JsonSource& src_;
  Diagnostics& diags_;
};

}  // namespace

ProfileFile parse_profile_file(const JsonSource& src, Diagnostics& diags) {
  Reader r(src, diags);
  ProfileFile f;
  const json& root = src.root();
  f.own.files = {src.file()};
  f.own.name = std::filesystem::path(src.file()).stem().string();
  if (!r.object(
          "", root, "a profile",
          {"hpai_profile", "name", "description", "extends", "binds", "devices", "env", "mpi", "nvidia", "launcher"}))
    return f;
  if (!root.contains("hpai_profile")) {
    r.error("", "not an hpai site profile: \"hpai_profile\": " + std::to_string(kProfileSchemaVersion) +
                    " (the schema version) is missing");
  } else if (root["hpai_profile"] != kProfileSchemaVersion) {
    r.error("/hpai_profile", "unsupported profile schema version " + root["hpai_profile"].dump() +
                                 "; this hpai reads version " + std::to_string(kProfileSchemaVersion));
  }
  if (root.contains("name")) f.own.name = r.string("/name", root["name"], "name").value_or(f.own.name);
  if (root.contains("description"))
    f.own.description = r.string("/description", root["description"], "description").value_or("");
  if (root.contains("extends")) {
    const json& e = root["extends"];
    if (e.is_string()) {
      f.extends.push_back({e.get<std::string>(), r.at("/extends")});
    } else {
      r.array("/extends", e, "extends", [&](const std::string& p, const json& x) {
        if (auto s = r.string(p, x, "extends entry")) f.extends.push_back({*s, r.at(p)});
      });
    }
  }
  if (root.contains("binds")) f.own.binds = r.binds("/binds", root["binds"], "binds");
  if (root.contains("devices")) f.own.devices = r.devices("/devices", root["devices"]);
  if (root.contains("env")) f.own.env = r.env("/env", root["env"]);
  if (root.contains("mpi")) f.own.mpi = r.mpi("/mpi", root["mpi"]);
  if (root.contains("nvidia")) f.own.nvidia = r.nvidia("/nvidia", root["nvidia"]);
  if (root.contains("launcher")) f.own.launcher = r.launcher("/launcher", root["launcher"]);
  return f;
}

}  // namespace hpai
