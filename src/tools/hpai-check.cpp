// hpai-check: parse the command line, then let the library read images and targets
// and compare them.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/version.hpp"
#include "hpai/check/check_report.hpp"
#include "hpai/check/targets.hpp"
#include "hpai/run/host_check.hpp"
#include "hpai/site/profile.hpp"

namespace {

constexpr const char* kDescription = R"(hpai-check - will this image run there? will this host run hpai?

  hpai-check image IMAGE... [--matrix FILE] [--profile P] [--target SPEC] [--host]
  hpai-check select --site PROFILE IMAGE...
  hpai-check host [--profile P]

Checks each image against each target: CPU architecture, CUDA runtime vs NVIDIA driver
(native, minor-version and forward compatibility), NVIDIA_REQUIRE_CUDA, glibc (the
image's own files and the host libraries a site injects), MPI ABI. Exit status 0 when
nothing failed, 1 when a check failed, 31 when an image or target can't be read,
64 for a bad command line. docs/driver-matrix.md describes matrix files.)";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text)) hpai::throw_errno("can't write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hpai;
  CLI::App app{kDescription, "hpai-check"};
  app.set_version_flag("-V,--version", std::string("hpai-check ") + kVersion);
  app.require_subcommand(1);
  int verbose = 0;
  app.add_flag("-v,--verbose", verbose, "more messages");

  std::vector<std::string> images, matrices, profiles, specs;
  std::string storage, junit, cuda_table, site;
  bool json = false, host_target = false;

  auto* image_cmd = app.add_subcommand("image", "check images against targets (default target: this host)");
  image_cmd->add_option("IMAGE", images, "image directory, SquashFS file, archive or OCI layout, or a name in storage")
      ->required();
  image_cmd
      ->add_option("--matrix", matrices,
                   "a driver matrix file of targets, or the name of an installed one (repeatable)")
      ->type_name("FILE|NAME");
  image_cmd->add_option("--profile", profiles, "a site profile, resolved on this host, as a target (repeatable)")
      ->type_name("NAME|FILE");
  image_cmd->add_option("--target", specs, "one target: name=N,arch=A,driver=D,brand=B,gpu_arch=X,glibc=G (repeatable)")
      ->type_name("SPEC");
  image_cmd->add_flag("--host", host_target, "this host as a target (the default when no other is given)");

  auto* select_cmd = app.add_subcommand("select", "print the images that pass every check on a site");
  select_cmd->add_option("--site", site, "the site's profile")->required()->type_name("PROFILE");
  select_cmd->add_option("IMAGE", images, "images to choose from")->required();

  auto* host_cmd = app.add_subcommand("host", "can this host run hpai containers?");
  host_cmd->add_option("--profile", profiles, "also check this site profile's paths here")->type_name("NAME|FILE");

  for (auto* cmd : {image_cmd, select_cmd, host_cmd}) {
    cmd->add_option("-s,--storage", storage, "image storage directory for names")->type_name("DIR");
    cmd->add_flag("--json", json, "print JSON");
  }
  for (auto* cmd : {image_cmd, select_cmd}) {
    cmd->add_option("--junit", junit, "also write JUnit XML (one testcase per image x target x check)")
        ->type_name("FILE");
    cmd->add_option("--cuda-table", cuda_table,
                    "CUDA/driver rules instead of the built-in recipes/cuda-driver-table.json")
        ->type_name("FILE");
  }

  return run_tool(
      app, argc, argv, "hpai-check", [&] { return verbose; },
      [&]() -> int {
        const Environment env = Environment::from_process();
        const auto search = profile_search_path(env);
        if (host_cmd->parsed()) {
          HostCheckOptions o;
          o.env = env;
          std::optional<Profile> p;
          if (!profiles.empty()) p = load_profile(find_profile(profiles.front(), search), search);
          o.profile = p ? &*p : nullptr;
          auto checks = check_host(o);
          print((json ? host_checks_json(checks) : host_checks_text(checks)));
          return std::any_of(checks.begin(), checks.end(),
                             [](const HostCheck& c) { return c.verdict == Verdict::Fail; })
                     ? 1
                     : 0;
        }

        CudaTable table = CudaTable::builtin();
        if (!cuda_table.empty()) {
          table = CudaTable::from_json(read_host_file(cuda_table, kMaxJsonDocument, "CUDA table " + cuda_table),
                                       cuda_table);
        }
        std::vector<Target> targets;
        if (select_cmd->parsed()) profiles = {site};
        for (const auto& m : matrices) {
          // A bare name is an installed one: --matrix driver-matrix is share/hpai/driver-matrix.json.
          const std::string installed = installed_data_dir() + "/" + m + (m.ends_with(".json") ? "" : ".json");
          auto more = read_matrix(m.find('/') == std::string::npos && access(m.c_str(), F_OK) != 0 ? installed : m);
          targets.insert(targets.end(), more.begin(), more.end());
        }
        for (const auto& p : profiles)
          targets.push_back(target_from_profile(load_profile(find_profile(p, search), search)));
        for (const auto& s : specs) targets.push_back(target_from_spec(s));
        if (host_target || targets.empty()) targets.push_back(this_host_target());

        std::vector<ImageReport> reports;
        bool failed = false;
        for (const auto& arg : images) {
          InspectedImage image(arg, storage);
          ImageReport rep;
          rep.facts = gather_image_facts(image.fs(), image.config());
          rep.facts.image = arg;
          for (const auto& t : targets) {
            auto r = check_image(rep.facts, t, table);
            rep.results.insert(rep.results.end(), r.begin(), r.end());
          }
          failed |= !all_passed(rep.results);
          reports.push_back(std::move(rep));
        }
        if (!junit.empty()) write_file(junit, report_junit(reports));
        if (select_cmd->parsed()) {
          // The images fit for the site, one per line (a pilot picks from these).
          for (const auto& rep : reports)
            if (all_passed(rep.results)) std::puts(rep.facts.image.c_str());
          if (json) print(report_json(reports), stderr);
          return std::any_of(reports.begin(), reports.end(), [](const ImageReport& r) { return all_passed(r.results); })
                     ? 0
                     : 1;
        }
        print((json ? report_json(reports) : report_text(reports)));
        return failed ? 1 : 0;
      });
}
