#include "hpai/batch/launcher_env.hpp"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

// Slurm's SlurmdSpoolDir as the common packagings lay it out; slurmd doesn't tell tasks.
constexpr const char* kSlurmdSpoolDirs[] = {"/var/spool/slurmd", "/var/spool/slurm/d", "/var/spool/slurm/slurmd",
                                            "/var/lib/slurm/slurmd", "/var/lib/slurmd"};

}  // namespace

LauncherMounts launcher_mounts(const Environment& host) {
  LauncherMounts result;
  std::vector<std::string>& notes = result.notes;
  std::vector<std::pair<std::string, std::string>> wanted;  // path, where it came from
  for (const char* name : {"PMIX_SERVER_TMPDIR", "PMIX_SYSTEM_TMPDIR"})
    if (auto v = host.get(name); v && !v->empty()) wanted.push_back({*v, std::string("$") + name});
  auto job = host.get("SLURM_JOB_ID"), step = host.get("SLURM_STEP_ID");
  if (job && step)
    for (const char* spool : kSlurmdSpoolDirs) {
      std::string dir = std::string(spool) + "/pmix." + *job + "." + *step;
      if (is_directory(dir)) wanted.push_back({dir, "Slurm's PMIx spool"});
    }
  std::vector<Mount>& out = result.mounts;
  std::vector<std::string> seen;
  for (const auto& [path, origin] : wanted) {
    auto resolved = real_path(path);
    if (!resolved || !is_directory(*resolved)) {
      notes.push_back("launcher: " + origin + " " + path + " is not a directory on this host; not bound");
      continue;
    }
    const std::string& real = *resolved;
    // The system-wide temp dir itself (PMIX_SYSTEM_TMPDIR=/tmp) is already the container's
    // /tmp, or deliberately not (-t): binding it would undo that.
    if (real == "/" || real == "/tmp" || real == "/var/tmp" || real == "/dev/shm") continue;
    if (std::find(seen.begin(), seen.end(), real) != seen.end()) continue;
    seen.push_back(real);
    out.push_back(bind_of(real, real, {.create = true}, origin));
    out.back().optional = true;  // e.g. under a $TMPDIR that is not /tmp: the job may not need it
    notes.push_back("launcher: binding " + origin + " " + real + " (PMIx rendezvous)");
  }
  return result;
}

void map_pmix_names(Environment& env) {
  static constexpr std::pair<const char*, const char*> kNames[] = {{"PMIX_PTL_MODULE", "PMIX_MCA_ptl"},
                                                                   {"PMIX_SECURITY_MODE", "PMIX_MCA_psec"},
                                                                   {"PMIX_GDS_MODULE", "PMIX_MCA_gds"}};
  for (const auto& [old_name, new_name] : kNames) {
    auto v = env.get(old_name);
    if (v && !env.has(new_name)) env.set(new_name, *v);
  }
}

namespace {

// A port every rank of the job computes alike, spread over 20000-39999 so that
// concurrent jobs on a node rarely collide (FNV-1a of the job id).
std::string port_for_job(const std::string& job) {
  if (job.empty()) return "29500";  // torch's own default
  std::uint32_t h = 2166136261u;
  for (unsigned char c : job) h = (h ^ c) * 16777619u;
  return std::to_string(20000 + h % 20000);
}

// LSB_MCPU_HOSTS="batch1 1 node1 42 node2 42": on Summit-like systems the first host is
// the launch node with one slot; the payload's master is the first compute host.
std::optional<std::string> lsf_master(const std::string& mcpu_hosts) {
  std::istringstream in(mcpu_hosts);
  std::vector<std::pair<std::string, std::string>> hosts;
  std::string host, slots;
  while (in >> host >> slots) hosts.push_back({host, slots});
  if (hosts.empty()) return std::nullopt;
  if (hosts.size() > 1 && hosts[0].second == "1") return hosts[1].first;
  return hosts[0].first;
}

std::string need(const std::optional<int>& v, const char* what, const RankInfo& r) {
  if (!v)
    throw Error(std::string("--torch-env: the ") + std::string(launcher_name(r.launcher)) +
                " environment does not give " + what);
  return std::to_string(*v);
}

}  // namespace

void set_torch_env(Environment& env, const RankInfo& r, const Environment& host) {
  if (r.launcher == Launcher::None)
    throw Error(
        "--torch-env: no batch launcher detected (no OMPI_*, PMI_*, SLURM_* or JSM_* rank variables); "
        "start hpai-run with mpiexec, srun or jsrun, or set RANK/WORLD_SIZE yourself");
  env.set("RANK", need(r.rank, "the rank", r));
  env.set("WORLD_SIZE", need(r.size, "the job size", r));
  env.set("LOCAL_RANK", need(r.local_rank, "the local rank", r));
  if (r.local_size) env.set("LOCAL_WORLD_SIZE", std::to_string(*r.local_size));
  if (r.node) env.set("NODE_RANK", std::to_string(*r.node));

  std::optional<std::string> addr = host.get("MASTER_ADDR");
  if (!addr) {
    std::optional<std::string> list = host.get("SLURM_STEP_NODELIST");
    if (!list) list = host.get("SLURM_JOB_NODELIST");
    if (list) {
      auto hosts = expand_slurm_hostlist(*list);
      if (!hosts.empty()) addr = hosts.front();
    } else if (auto mcpu = host.get("LSB_MCPU_HOSTS")) {
      addr = lsf_master(*mcpu);
    } else if (r.size && r.local_size && *r.size == *r.local_size) {
      addr = "127.0.0.1";  // every rank is on this node
    }
  }
  if (!addr)
    throw Error("--torch-env: can't tell the master's address: the " + std::string(launcher_name(r.launcher)) +
                " environment lists no hosts and the job spans nodes; export MASTER_ADDR before starting the job");
  env.set("MASTER_ADDR", *addr);
  env.set("MASTER_PORT", host.get("MASTER_PORT").value_or(port_for_job(r.job)));
}

std::vector<std::string> host_gpu_list(const Environment& env, const std::string& dev_dir) {
  if (auto cvd = env.get("CUDA_VISIBLE_DEVICES"); cvd && !cvd->empty()) return split_list(*cvd, ',');
  if (auto nvd = env.get("NVIDIA_VISIBLE_DEVICES");
      nvd && *nvd != "all" && *nvd != "none" && *nvd != "void" && !nvd->empty())
    return split_list(*nvd, ',');
  std::vector<int> indices;
  if (DIR* d = opendir(dev_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n.size() > 6 && n.starts_with("nvidia") &&
          std::all_of(n.begin() + 6, n.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        indices.push_back(std::stoi(std::string(n.substr(6))));
    }
    closedir(d);
  }
  std::sort(indices.begin(), indices.end());
  std::vector<std::string> out;
  for (int i : indices) out.push_back(std::to_string(i));
  return out;
}

std::vector<std::string> select_gpus(const std::vector<std::string>& gpus, int local_rank, int local_size) {
  if (gpus.empty() || local_size <= 0 || local_rank < 0 || local_rank >= local_size) return {};
  const int n = static_cast<int>(gpus.size());
  if (n >= local_size) {
    const int each = n / local_size;
    return {gpus.begin() + local_rank * each, gpus.begin() + (local_rank + 1) * each};
  }
  // More ranks than GPUs: neighbours share (4 ranks on 2 GPUs: 0,0,1,1), which keeps a
  // rank's GPU on its socket when ranks are placed in order.
  return {gpus[static_cast<std::size_t>(static_cast<long>(local_rank) * n / local_size)]};
}

void set_gpu_per_rank(Environment& env, const RankInfo& r, const std::string& dev_dir) {
  if (!r.local_rank || !r.local_size)
    throw Error("--gpu-per-rank: the local rank and rank count on this node are unknown (" +
                (r.launcher == Launcher::None ? std::string("no batch launcher detected")
                                              : std::string(launcher_name(r.launcher)) + " does not set them") +
                ")");
  auto gpus = host_gpu_list(env, dev_dir);
  if (gpus.empty())
    throw Error("--gpu-per-rank: no GPUs to share: CUDA_VISIBLE_DEVICES is unset and " + dev_dir +
                " has no nvidiaN devices");
  auto mine = select_gpus(gpus, *r.local_rank, *r.local_size);
  std::string joined;
  for (const auto& g : mine) joined += (joined.empty() ? "" : ",") + g;
  env.set("CUDA_VISIBLE_DEVICES", joined);
}

}  // namespace hpai
