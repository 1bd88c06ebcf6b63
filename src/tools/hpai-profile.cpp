// hpai-profile: parse the command line, then let the library check, show and list
// site profiles and describe the host's NVIDIA driver.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/version.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/nvidia_report.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_report.hpp"

namespace {

using namespace hpai;

constexpr const char* kFooter = R"(
Profiles are JSON files (docs/site-profiles.md). A NAME is looked up as NAME.json in
$HPAI_PROFILE_PATH (':'-separated), then in the system profile directory; the site
default is default.json there, applied by hpai-run when no --profile is given.

EXIT STATUS
  0 every profile checked is valid (warnings allowed), 1 one has errors, 64 bad usage.

EXAMPLES
  hpai-profile check /etc/hpai/profiles/lrz.json
  hpai-profile check --schema-only recipes/*.json      # on a machine that isn't the site
  hpai-profile show lrz --json
  hpai-profile nvidia)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hpai-profile - check, show and list hpai site profiles", "hpai-profile"};
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("hpai-profile ") + kVersion);
  app.require_subcommand(1);
  int verbose = 0, quiet = 0;
  app.add_flag("-v,--verbose", verbose, "more messages (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "fewer messages");

  std::vector<std::string> names;
  bool schema_only = false, as_json = false;
  auto* check_cmd =
      app.add_subcommand("check", "validate profiles: schema, then this host's paths, libraries and driver");
  check_cmd->add_option("PROFILE", names, "profile names or files")->required();
  check_cmd->add_flag("--schema-only", schema_only, "check the file only, not this host (for recipes of other sites)");
  check_cmd->add_flag("--json", as_json, "print diagnostics as JSON");

  std::string name;
  auto* show_cmd =
      app.add_subcommand("show", "print a profile merged with those it extends (default: the site default)");
  show_cmd->add_option("PROFILE", name, "profile name or file");

  auto* list_cmd = app.add_subcommand("list", "list the profiles on the search path");

  std::string ld_cache = "/etc/ld.so.cache";
  std::vector<std::string> caps = kNvidiaCapabilities;
  auto* nvidia_cmd = app.add_subcommand("nvidia", "show the NVIDIA driver hpai would inject on this host");
  nvidia_cmd->add_option("--ld-cache", ld_cache, "linker cache to read")->capture_default_str();
  nvidia_cmd->add_flag("--json", as_json, "as JSON");

  return run_tool(
      app, argc, argv, "hpai-profile", [&] { return verbose - quiet; },
      [&]() -> int {
        const Environment env = Environment::from_process();
        const std::vector<std::string> search = profile_search_path(env);

        if (*check_cmd) {
          std::vector<ProfileCheck> checks;
          for (const auto& n : names) {
            checks.push_back(check_profile_named(n, search, schema_only));
            if (as_json) continue;
            for (const auto& d : checks.back().diags) print(d.str() + "\n", stderr);
            print(profile_check_line(checks.back()));
          }
          if (as_json) print(profile_checks_json(checks));
          return std::any_of(checks.begin(), checks.end(), [](const ProfileCheck& c) { return has_errors(c.diags); })
                     ? 1
                     : 0;
        }
        if (*show_cmd) {
          std::optional<std::string> path = name.empty() ? find_default_profile(search) : find_profile(name, search);
          if (!path) throw Error("no site default profile (default.json) on the search path; name one");
          print(profile_show_json(load_profile(*path, search)));
          return 0;
        }
        if (*list_cmd) {
          print(profile_listing(search));
          return 0;
        }
        // nvidia
        NvidiaSearch s;
        s.ld_cache = ld_cache;
        s.capabilities = caps;
        s.host_env = &env;
        auto d = discover_nvidia_driver(s);
        if (!d) {
          std::printf("no NVIDIA driver: no libcuda.so.<version> or libnvidia-ml.so.<version> in %s\n",
                      ld_cache.c_str());
          return 1;
        }
        NvmlInfo nvml;
        if (d->nvml.empty())
          nvml.error = "no libnvidia-ml";
        else
          nvml = query_nvml(d->nvml);
        print((as_json ? driver_report_json(*d, nvml) : driver_report_text(*d, nvml, ld_cache)));
        return 0;
      });
}
