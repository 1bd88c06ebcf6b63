// hpai-profile: parse the command line, then let the library check, show and list
// site profiles and describe the host's NVIDIA driver.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
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
using nlohmann::json;

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

json diagnostics_json(const Diagnostics& diags) {
  json a = json::array();
  for (const auto& d : diags)
    a.push_back({{"severity", d.severity == ProfileDiagnostic::Severity::Error ? "error" : "warning"},
                 {"file", d.where.file},
                 {"line", d.where.line},
                 {"column", d.where.column},
                 {"message", d.message}});
  return a;
}

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
          bool failed = false;
          json all = json::array();
          for (const auto& n : names) {
            Diagnostics diags;
            std::string path;
            try {
              path = find_profile(n, search);
              Profile p = read_profile(path, search, diags);
              if (!schema_only && !has_errors(diags)) check_profile_host(p, diags);
            } catch (const JsonSyntaxError& e) {  // FILE:LINE:COL: error: ..., as editors read it
              diags.push_back({ProfileDiagnostic::Severity::Error, e.pos(), e.message()});
            } catch (const Error& e) {  // unreadable
              diags.push_back({ProfileDiagnostic::Severity::Error, SourcePos{path.empty() ? n : path}, e.what()});
            }
            failed = failed || has_errors(diags);
            if (as_json) {
              all.push_back({{"profile", path.empty() ? n : path},
                             {"valid", !has_errors(diags)},
                             {"diagnostics", diagnostics_json(diags)}});
              continue;
            }
            for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.str().c_str());
            std::printf("%s: %s\n", (path.empty() ? n : path).c_str(),
                        has_errors(diags) ? "INVALID"
                        : diags.empty()   ? "ok"
                                          : "ok (with warnings)");
          }
          if (as_json) std::puts(all.dump(2).c_str());
          return failed ? 1 : 0;
        }
        if (*show_cmd) {
          std::optional<std::string> path = name.empty() ? find_default_profile(search) : find_profile(name, search);
          if (!path) throw Error("no site default profile (default.json) on the search path; name one");
          Profile p = load_profile(*path, search);
          json j = profile_to_json(p);
          j["files"] = p.files;
          std::puts(j.dump(2).c_str());
          return 0;
        }
        if (*list_cmd) {
          std::vector<std::string> dirs = search;
          dirs.push_back(recipe_profile_dir());  // listed last: recipes, active only when named
          for (const auto& dir : dirs) {
            std::error_code ec;
            if (!std::filesystem::is_directory(dir, ec)) {
              std::printf("%s: (none)\n", dir.c_str());
              continue;
            }
            std::printf("%s:%s\n", dir.c_str(),
                        dir == recipe_profile_dir() ? " (recipes: used when named, e.g. --profile NAME)" : "");
            std::vector<std::string> files;
            for (const auto& e : std::filesystem::directory_iterator(dir, ec))
              if (e.path().extension() == ".json") files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
              Diagnostics diags;
              std::string desc;
              try {
                desc = read_profile(f, search, diags).description;
              } catch (const Error& e) {
                desc = "(unreadable)";
              }
              std::printf("  %-20s %s%s\n", std::filesystem::path(f).stem().c_str(),
                          has_errors(diags) ? "(INVALID) " : "", desc.c_str());
            }
          }
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
        NvmlInfo nvml = d->nvml.empty() ? NvmlInfo{false, "", 0, 0, "no libnvidia-ml"} : query_nvml(d->nvml);
        print((as_json ? driver_report_json(*d, nvml) : driver_report_text(*d, nvml, ld_cache)));
        return 0;
      });
}
