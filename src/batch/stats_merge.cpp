// hpai-stats: the per-rank files of one job merged into a table or JSON.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/batch/stats.hpp"

namespace hpai {

std::string merge_stats(const std::vector<std::string>& files, bool json) {
  struct Row {
    std::string file;
    nlohmann::json j;
  };
  std::vector<Row> rows;
  for (const auto& f : files) {
    const std::string text = read_host_file(f, kMaxSmallFile, "stats file " + f);
    try {
      auto j = parse_json(text, "stats file " + f);
      if (j.value("hpai_stats", 0) != 1) throw Error(f + ": not an hpai-run --stats file");
      rows.push_back({f, j});
    } catch (const nlohmann::json::exception& e) {
      throw Error(f + ": " + e.what());
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.j["rank"].is_number() && b.j["rank"].is_number() ? a.j["rank"].get<int>() < b.j["rank"].get<int>()
                                                              : a.file < b.file;
  });
  double wall = 0, user = 0, sys = 0, gpu_util = 0, gpu_mem = 0;
  int gpus = 0;
  long rss = 0;
  std::vector<std::string> failed;
  std::string table = "rank  host                 wall s    user s    sys s   max RSS KiB  status\n";
  for (const auto& r : rows) {
    const auto& j = r.j;
    wall = std::max(wall, j["wall_s"].get<double>());
    user += j["user_s"].get<double>();
    sys += j["sys_s"].get<double>();
    rss = std::max(rss, j["max_rss_kib"].get<long>());
    if (j.contains("gpus") && j["gpus"].is_array())
      for (const auto& g : j["gpus"]) {
        ++gpus;
        gpu_util += g.value("util_mean_pct", 0.0);
        gpu_mem = std::max(gpu_mem, g.value("mem_used_max_mib", 0.0));
      }
    const std::string rank = j["rank"].is_number() ? std::to_string(j["rank"].get<int>()) : "-";
    const std::string status = j["signal"].is_number() ? "killed by " + j.value("signal_name", std::string("?"))
                                                       : "exit " + j["exit_code"].dump();
    if (status != "exit 0") failed.push_back(rank);
    char line[256];
    std::snprintf(line, sizeof line, "%-5s %-18s %9.3f %9.3f %8.3f %13ld  %s\n", rank.c_str(),
                  j["host"].get<std::string>().c_str(), j["wall_s"].get<double>(), j["user_s"].get<double>(),
                  j["sys_s"].get<double>(), j["max_rss_kib"].get<long>(), status.c_str());
    table += line;
  }
  if (json) {
    nlohmann::json out = {{"ranks", rows.size()}, {"wall_s_max", wall}, {"user_s_total", user},
                          {"sys_s_total", sys},   {"max_rss_kib", rss}, {"failed_ranks", failed}};
    if (gpus) out["gpus"] = {{"sampled", gpus}, {"util_mean_pct", gpu_util / gpus}, {"mem_used_max_mib", gpu_mem}};
    return out.dump(2) + "\n";
  }
  char total[256];
  std::snprintf(total, sizeof total,
                "%zu rank(s): slowest %.3f s, CPU %.3f s user + %.3f s sys, largest RSS %ld KiB, %zu failed\n",
                rows.size(), wall, user, sys, rss, failed.size());
  std::string gpu_line;
  if (gpus) {
    char g[160];
    std::snprintf(g, sizeof g, "GPUs: %d sampled, mean utilisation %.1f%%, peak memory in use %.0f MiB\n", gpus,
                  gpu_util / gpus, gpu_mem);
    gpu_line = g;
  }
  return table + total + gpu_line;
}

}  // namespace hpai
