// hpai-run: parse the command line (run_args.cpp, ch-run's rules), then let the library
// plan and run the container.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/version.hpp"
#include "hpai/run/container.hpp"
#include "hpai/run/launch.hpp"
#include "hpai/run/plan.hpp"
#include "hpai/run/plan_format.hpp"
#include "hpai/run/pull_on_demand.hpp"
#include "hpai/run/run_args.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/nvidia_report.hpp"

namespace {

std::string describe_rank(const hpai::RankInfo& r) {
  auto num = [](const std::optional<int>& v) { return v ? std::to_string(*v) : std::string("?"); };
  return ": rank " + num(r.rank) + " of " + num(r.size) + ", local rank " + num(r.local_rank) + " of " +
         num(r.local_size) + (r.node ? ", node " + std::to_string(*r.node) : "") +
         (r.job.empty() ? "" : ", job " + r.job);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hpai;
  // Before anything else: a setuid launcher must not even parse its arguments.
  exit_if_setuid("hpai-run");
  RunCommandLine cl;
  try {
    cl = parse_run_args(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const Error& e) {
    std::fprintf(stderr, "hpai-run[%d]: error: %s\n", static_cast<int>(getpid()), e.what());
    return e.exit_code();
  }
  if (cl.help) {
    std::fputs(run_usage().c_str(), stdout);
    return 0;
  }
  if (cl.version) {
    std::printf("hpai-run %s\n", kVersion);
    return 0;
  }
  init_logging("hpai-run", cl.verbosity);
  for (const auto& w : cl.warnings) spdlog::warn("{}", w);
  for (const auto& n : cl.notes) spdlog::info("{}", n);
  if (cl.feature) {  // ch-run --feature=NAME: the exit status answers
    if (*cl.feature == "list") {
      std::fputs(run_features().c_str(), stdout);
      return 0;
    }
    std::optional<bool> has = has_feature(*cl.feature);
    if (!has) spdlog::error("unknown feature: {} (hpai-run --feature=list lists them)", *cl.feature);
    return has.value_or(false) ? 0 : 1;
  }

  return report_errors([&]() -> int {
    const HostContext host = HostContext::current();
    if (cl.options.pull && pull_if_missing(cl.options, host, cl.dry_run) && cl.dry_run) {
      std::printf("--pull: %s is not in storage; hpai-image pull would fetch it first\n", cl.options.image.c_str());
      return 0;
    }
    if (cl.dry_run) {
      Plan plan = make_plan(cl.options, host);
      if (plan.rank.launcher != Launcher::None)
        plan.notes.push_back("launcher: " + std::string(launcher_name(plan.rank.launcher)) + describe_rank(plan.rank));
      if (cl.join.pid)
        plan.notes.push_back("join: entering the container of process " + std::to_string(*cl.join.pid));
      else
        plan.notes.push_back(describe_join(join_settings(cl.join, host)));
      // Only a dry run asks NVML (in a child process): a launch needs just the file names.
      if (!plan.nvml.empty()) plan.notes.push_back("GPU: NVML: " + describe_nvml(query_nvml(plan.nvml)));
      std::fputs((cl.json ? plan_to_json(plan) : plan_to_text(plan)).c_str(), stdout);
      return 0;
    }
    launch(cl.options, cl.join, host);
  });
}
