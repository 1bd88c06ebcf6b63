// hpai-stats: merge the per-rank files of hpai-run --stats=FILE into one summary.
#include <cstdio>

#include "cli.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/version.hpp"
#include "hpai/batch/stats.hpp"

int main(int argc, char** argv) {
  using namespace hpai;
  CLI::App app{
      "hpai-stats - merge hpai-run --stats files: per-rank table, slowest rank, CPU summed, largest RSS, failed ranks",
      "hpai-stats"};
  app.set_version_flag("-V,--version", std::string("hpai-stats ") + kVersion);
  std::vector<std::string> files;
  bool json = false;
  app.add_option("FILE", files, "files written by hpai-run --stats=FILE (e.g. run.*.json)")->required();
  app.add_flag("--json", json, "print the totals as JSON");
  return run_tool(
      app, argc, argv, "hpai-stats", [&] { return 0; },
      [&]() -> int {
        print(merge_stats(files, json));
        return 0;
      });
}
