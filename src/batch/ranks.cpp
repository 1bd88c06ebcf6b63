#include "hpai/batch/ranks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"

namespace hpai {

std::string_view launcher_name(Launcher launcher) {
  switch (launcher) {
    case Launcher::None: return "none";
    case Launcher::OpenMpi: return "Open MPI";
    case Launcher::Hydra: return "MPICH/Hydra";
    case Launcher::Slurm: return "Slurm";
    case Launcher::Lsf: return "LSF jsrun";
    case Launcher::Pmix: return "PMIx";
  }
  return "?";
}

namespace {

int parse_count(std::string_view text, std::string_view what) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    throw Error(std::string(what) + "=" + std::string(text) + " is not a number (set by the batch launcher?)");
  return value;
}

std::optional<int> number(const Environment& env, std::string_view name) {
  auto v = env.get(name);
  if (!v) return std::nullopt;
  return parse_count(*v, name);
}

// The first of NAMES that is set.
std::optional<int> first_number(const Environment& env, std::initializer_list<std::string_view> names) {
  for (auto name : names)
    if (auto n = number(env, name)) return n;
  return std::nullopt;
}

void check_within(const std::optional<int>& index, const std::optional<int>& count, std::string_view what) {
  if (index && count && *index >= *count)
    throw Error("inconsistent launcher environment: " + std::string(what) + " " + std::to_string(*index) +
                " is not below its count " + std::to_string(*count));
}

// The four numbers most launchers export under their own names.
RankInfo from_variables(const Environment& env, Launcher launcher, const char* rank, const char* size,
                        const char* local_rank, const char* local_size) {
  RankInfo r;
  r.launcher = launcher;
  r.rank = number(env, rank);
  r.size = number(env, size);
  r.local_rank = number(env, local_rank);
  r.local_size = number(env, local_size);
  if (r.local_size) r.local_size_from = local_size;
  return r;
}

// "JOB.STEP" of the Slurm step this process runs in; "" outside one.
std::string slurm_step(const Environment& env) {
  auto job = env.get("SLURM_JOB_ID");
  if (!job) job = env.get("SLURM_JOBID");
  auto step = env.get("SLURM_STEP_ID");
  if (!step) step = env.get("SLURM_STEPID");
  return job && step ? *job + "." + *step : "";
}

RankInfo open_mpi(const Environment& env) {
  RankInfo r = from_variables(env, Launcher::OpenMpi, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                              "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE");
  for (auto name : {"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"})
    if (auto v = env.get(name)) {
      r.job = "ompi-" + *v;
      break;
    }
  return r;
}

RankInfo hydra(const Environment& env) {
  RankInfo r = from_variables(env, Launcher::Hydra, "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS");
  // Hydra exports no job id; under Slurm its proxies run in a job step.
  if (auto step = slurm_step(env); !step.empty()) r.job = "hydra-slurm-" + step;
  return r;
}

RankInfo lsf(const Environment& env) {
  RankInfo r = from_variables(env, Launcher::Lsf, "JSM_NAMESPACE_RANK", "JSM_NAMESPACE_SIZE",
                              "JSM_NAMESPACE_LOCAL_RANK", "JSM_NAMESPACE_LOCAL_SIZE");
  if (auto job = env.get("LSB_JOBID")) {
    r.job = "lsf-" + *job;
    // Concurrent jsrun steps of one job differ by their PMIx namespace.
    if (auto ns = env.get("PMIX_NAMESPACE")) r.job += "." + *ns;
  }
  return r;
}

RankInfo slurm(const Environment& env) {
  RankInfo r;
  r.launcher = Launcher::Slurm;
  r.rank = number(env, "SLURM_PROCID");
  r.size = first_number(env, {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"});
  r.local_rank = number(env, "SLURM_LOCALID");
  r.node = number(env, "SLURM_NODEID");
  for (auto name : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}) {
    auto counts_text = env.get(name);
    if (!counts_text) continue;
    std::vector<int> counts;
    try {
      counts = expand_slurm_counts(*counts_text);
    } catch (const Error& e) {
      throw Error(std::string(name) + ": " + e.what());
    }
    int node = r.node.value_or(0);
    if (node >= static_cast<int>(counts.size()))
      throw Error("inconsistent launcher environment: SLURM_NODEID " + std::to_string(node) + " but " + name + "=" +
                  *counts_text + " lists " + std::to_string(counts.size()) + " node(s)");
    r.local_size = counts[static_cast<std::size_t>(node)];
    r.local_size_from = std::string(name) + "=" + *counts_text;
    break;
  }
  if (auto step = slurm_step(env); !step.empty()) r.job = "slurm-" + step;
  return r;
}

RankInfo pmix(const Environment& env) {
  RankInfo r;
  r.launcher = Launcher::Pmix;
  r.rank = number(env, "PMIX_RANK");
  if (auto ns = env.get("PMIX_NAMESPACE")) r.job = "pmix-" + *ns;
  return r;
}

}  // namespace

RankInfo detect_ranks(const Environment& env) {
  // MPI launchers first: under Slurm or LSF, mpiexec's ranks also inherit the
  // allocation's SLURM_*/LSB_* variables, which then describe the job, not the rank.
  RankInfo r;
  if (env.has("OMPI_COMM_WORLD_RANK"))
    r = open_mpi(env);
  else if (env.has("PMI_RANK") && (env.has("MPI_LOCALRANKID") || env.has("PMI_SIZE")))
    r = hydra(env);
  else if (env.has("JSM_NAMESPACE_RANK"))
    r = lsf(env);
  else if (env.has("SLURM_PROCID") && (env.has("SLURM_STEP_ID") || env.has("SLURM_STEPID")))
    r = slurm(env);  // a task of srun; a batch script alone has no step id
  else if (env.has("PMIX_RANK"))
    r = pmix(env);
  else
    return r;
  check_within(r.rank, r.size, "rank");
  check_within(r.local_rank, r.local_size, "local rank");
  if (r.local_size && r.size && *r.local_size > *r.size)
    throw Error("inconsistent launcher environment: " + std::to_string(*r.local_size) + " ranks on this node (" +
                r.local_size_from + ") but " + std::to_string(*r.size) + " in the job");
  return r;
}

std::vector<int> expand_slurm_counts(std::string_view text) {
  std::vector<int> out;
  if (text.empty()) throw Error("empty task count list");
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    int repeat = 1;
    if (auto paren = item.find('('); paren != std::string_view::npos) {
      if (!item.ends_with(')') || item.substr(paren, 2) != "(x")
        throw Error("malformed task count \"" + std::string(item) + "\" (expected N or N(xM))");
      repeat = parse_count(item.substr(paren + 2, item.size() - paren - 3), "repeat");
      item = item.substr(0, paren);
    }
    int count = parse_count(item, "count");
    if (repeat == 0 || repeat > 1'000'000) throw Error("malformed task count repeat in \"" + std::string(text) + "\"");
    out.insert(out.end(), static_cast<std::size_t>(repeat), count);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

namespace {

// "01-03,7" inside brackets, each number keeping its zero padding.
void expand_range_list(const std::string& prefix, std::string_view ranges, const std::string& suffix,
                       std::vector<std::string>& out) {
  std::size_t pos = 0;
  while (pos <= ranges.size()) {
    std::size_t comma = ranges.find(',', pos);
    std::string_view item = ranges.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto dash = item.find('-');
    std::string_view lo = item.substr(0, dash);
    std::string_view hi = dash == std::string_view::npos ? lo : item.substr(dash + 1);
    int a = parse_count(lo, "host range"), b = parse_count(hi, "host range");
    if (b < a || b - a > 1'000'000) throw Error("malformed host range \"" + std::string(item) + "\"");
    for (int i = a; i <= b; ++i) {
      std::string n = std::to_string(i);
      if (n.size() < lo.size()) n.insert(0, lo.size() - n.size(), '0');
      out.push_back(prefix + n + suffix);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
}

}  // namespace

std::vector<std::string> expand_slurm_hostlist(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // A host ends at a comma outside brackets.
    std::size_t end = pos;
    int depth = 0;
    while (end < text.size() && (text[end] != ',' || depth > 0)) {
      if (text[end] == '[') ++depth;
      if (text[end] == ']') --depth;
      ++end;
    }
    std::string_view host = text.substr(pos, end - pos);
    auto open = host.find('[');
    if (open == std::string_view::npos) {
      if (!host.empty()) out.emplace_back(host);
    } else {
      auto close = host.find(']', open);
      if (close == std::string_view::npos) throw Error("malformed host list \"" + std::string(text) + "\"");
      expand_range_list(std::string(host.substr(0, open)), host.substr(open + 1, close - open - 1),
                        std::string(host.substr(close + 1)), out);
    }
    pos = end + 1;
  }
  return out;
}

namespace {

// "NAME" and the parent of PID, from /proc/PID/stat ("1234 (comm) S 1200 ...": the
// name may hold spaces and parentheses, so it ends at the last ')').
struct ProcStat {
  std::string name;
  pid_t ppid = 0;
};
std::optional<ProcStat> process_stat(pid_t pid) {
  char buf[512];
  UniqueFd fd(open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  const ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  const std::string_view text(buf, static_cast<std::size_t>(n));
  const std::size_t open_paren = text.find('('), close_paren = text.rfind(')');
  if (open_paren == std::string_view::npos || close_paren == std::string_view::npos || close_paren < open_paren)
    return std::nullopt;
  ProcStat st;
  st.name = std::string(text.substr(open_paren + 1, close_paren - open_paren - 1));
  const std::string_view rest = text.substr(close_paren + 1);  // " S 1200 ..."
  long v = 0;
  if (std::sscanf(std::string(rest).c_str(), " %*c %ld", &v) != 1) return std::nullopt;
  st.ppid = static_cast<pid_t>(v);
  return st;
}

bool is_launcher_name(const std::string& name) {
  static const std::string_view kLaunchers[] = {
      "orted",           "prted",     "prterun",       "orterun", "mpirun",     "mpiexec",  // Open MPI, PMIx PRRTE
      "hydra_pmi_proxy", "pmi_proxy", "mpiexec.hydra",                                      // MPICH, Intel MPI
      "slurmstepd",      "res",       "jsmd",          "pbs_mom", "flux-broker"};  // Slurm, LSF, jsrun, PBS, Flux
  for (std::string_view l : kLaunchers)
    if (name == l) return true;
  return false;
}

}  // namespace

pid_t launcher_process(pid_t parent) {
  pid_t pid = parent;
  for (int depth = 0; depth < 16 && pid > 1; ++depth) {
    auto st = process_stat(pid);
    if (!st) break;
    if (is_launcher_name(st->name)) return pid;
    pid = st->ppid;
  }
  return parent;
}

bool orphaned_rank(pid_t parent) {
  // 0: the parent is in an outer PID namespace, out of sight, as before.
  if (parent != 1) return false;
  // PID 1 is the launcher itself only where the launcher runs as a container's init.
  auto init = process_stat(1);
  return !(init && is_launcher_name(init->name));
}

}  // namespace hpai
