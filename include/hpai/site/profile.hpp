// Site profiles: what a site admin tells hpai about a machine once — directories to
// bind, devices, environment, the host MPI and the NVIDIA driver — in a versioned JSON
// file (docs/site-profiles.md). This module reads and checks profiles, follows
// "extends" and finds them by name; profile_plan.cpp applies one to a launch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/base/source_pos.hpp"

namespace hpai {

inline constexpr int kProfileSchemaVersion = 1;

struct ProfileBind {
  std::string source;  // host path
  std::string target;  // container path (default: source)
  bool required = true;
  bool read_only = false;
  SourcePos origin;
};

struct HostPath {
  std::string path;
  SourcePos origin;
};

enum class MpiFamily { Mpich, OpenMpi };
// How close the host library's version must be to the image's (Sarus' modes):
// Major: same major; Full: same major and host minor >= image minor; Strict: same major.minor.
enum class MpiCompat { Major, Full, Strict };
const char* to_string(MpiFamily f);
const char* to_string(MpiCompat c);

// Fields are optional so that a profile extending another overrides only what it names.
struct ProfileMpi {
  std::optional<bool> enabled;
  std::optional<MpiFamily> family;
  std::optional<MpiCompat> compat;
  std::optional<std::vector<HostPath>> libraries;  // host MPI libraries, e.g. libmpi.so.12
  std::optional<HostPath> prefix;                  // or a directory holding them
  std::optional<std::vector<HostPath>> dependencies;
  std::vector<ProfileBind> binds;
  std::vector<EnvChange> env;
  SourcePos origin;
};

enum class GpuMode { Auto, On, Off };  // Auto: inject when a driver is found
inline const std::vector<std::string> kNvidiaCapabilities = {"compute", "utility", "video", "graphics"};

struct ProfileNvidia {
  std::optional<GpuMode> enabled;
  std::optional<std::vector<std::string>> capabilities;
  std::optional<HostPath> ld_cache;  // default /etc/ld.so.cache
  std::vector<HostPath> libraries;   // beyond those discovered
  std::vector<HostPath> binaries;
  std::vector<ProfileBind> devices;
  SourcePos origin;
};

// How ranks started by a batch launcher are set up (command-line flags override).
struct ProfileLauncher {
  std::optional<bool> torch_env;     // MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK/LOCAL_RANK
  std::optional<bool> gpu_per_rank;  // CUDA_VISIBLE_DEVICES per local rank
};

struct Profile {
  std::string name;
  std::vector<std::string> files;  // the profile and those it extends, base first
  std::string description;
  std::vector<ProfileBind> binds;
  std::vector<ProfileBind> devices;
  std::vector<EnvChange> env;
  std::optional<ProfileMpi> mpi;
  std::optional<ProfileNvidia> nvidia;
  ProfileLauncher launcher;
};

struct ProfileDiagnostic {
  enum class Severity { Error, Warning };
  Severity severity = Severity::Error;
  SourcePos where;
  std::string message;
  std::string str() const;  // "lrz.json:12:5: error: ..."
};
using Diagnostics = std::vector<ProfileDiagnostic>;
bool has_errors(const Diagnostics& d);

// Where profiles named without a path are looked for: $HPAI_PROFILE_PATH (':'-separated),
// then the system directory (/etc/hpai/profiles unless configured otherwise).
std::vector<std::string> profile_search_path(const Environment& env);
std::string system_profile_dir();
// share/hpai beside the installed binaries, and the example profiles (recipes) in it:
// found by name after the search path, and never applied unless named.
std::string installed_data_dir();
std::string recipe_profile_dir();
// NAME_OR_PATH: a path (contains '/' or ends in ".json") or a name looked up as NAME.json.
std::string find_profile(const std::string& name_or_path, const std::vector<std::string>& search_path);
// The site default profile ("default.json" in the search path), applied when no
// profile is named; nullopt when the site has none.
std::optional<std::string> find_default_profile(const std::vector<std::string>& search_path);

// Reads a profile and those it extends, merged; schema problems land in DIAGS with their
// positions. Throws Error only when a file can't be read or parsed at all.
Profile read_profile(const std::string& path, const std::vector<std::string>& search_path, Diagnostics& diags);
// The same, throwing Error listing every problem; what hpai-run uses.
Profile load_profile(const std::string& path, const std::vector<std::string>& search_path);

// Did-you-mean for a misspelt key or value: the closest of CHOICES, or "".
std::string closest_match(const std::string& word, const std::vector<std::string>& choices);

}  // namespace hpai
