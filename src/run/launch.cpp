#include "hpai/run/launch.hpp"

#include <unistd.h>

#include <charconv>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/run/container.hpp"
#include "hpai/run/node_facts.hpp"
#include "hpai/run/plan_format.hpp"

namespace hpai {

namespace {

std::chrono::milliseconds join_timeout(const JoinRequest& r, const Environment& env) {
  if (r.timeout) return *r.timeout;
  if (auto v = env.get("HPAI_JOIN_TIMEOUT")) {
    double s = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), s);
    if (ec != std::errc() || end != v->data() + v->size() || s <= 0)
      throw Error("HPAI_JOIN_TIMEOUT=" + *v + " is not a positive number of seconds", kExitUsage);
    return std::chrono::milliseconds(static_cast<long long>(s * 1000));
  }
  return std::chrono::milliseconds(60'000);
}

}  // namespace

std::optional<JoinSettings> join_settings(const JoinRequest& r, const HostContext& host) {
  if (r.pid && (r.join.value_or(false) || r.count || r.tag))
    throw Error("--join-pid can't be combined with --join, --join-ct or --join-tag", kExitUsage);
  if (r.join == false && (r.count || r.tag))
    throw Error("--no-join can't be combined with --join-ct or --join-tag", kExitUsage);
  if (r.pid || r.join == false) return std::nullopt;
  const bool asked = r.join.value_or(false) || r.count || r.tag;
  const RankInfo& rank = host.rank;
  JoinSettings s;
  if (r.count) {
    if (*r.count < 1) throw Error("--join-ct must be at least 1", kExitUsage);
    s.peers = *r.count;
    s.peers_from = "--join-ct=" + std::to_string(*r.count);
  } else if (rank.local_size) {
    s.peers = *rank.local_size;
    s.peers_from = rank.local_size_from +
                   (rank.local_size_from.find('=') == std::string::npos ? "=" + std::to_string(*rank.local_size) : "");
  } else if (auto cpus = host.env.get("SLURM_CPUS_ON_NODE"); asked && cpus) {
    // ch-run's last resort: a Slurm allocation's CPUs on this node.
    int n = 0;
    auto [end, ec] = std::from_chars(cpus->data(), cpus->data() + cpus->size(), n);
    if (ec != std::errc() || end != cpus->data() + cpus->size() || n < 1)
      throw Error("--join: SLURM_CPUS_ON_NODE=" + *cpus + " is not a count of ranks; give --join-ct=N", kExitUsage);
    s.peers = n;
    s.peers_from = "SLURM_CPUS_ON_NODE=" + *cpus;
  } else if (asked) {
    throw Error(
        "--join: can't tell how many ranks share this node: no launcher variable gives it "
        "(OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS, SLURM_STEP_TASKS_PER_NODE, JSM_NAMESPACE_LOCAL_SIZE, "
        "SLURM_CPUS_ON_NODE); "
        "give --join-ct=N",
        kExitUsage);
  } else {
    return std::nullopt;  // automatic, and nothing says there are peers
  }
  if (s.peers < 2 && !asked) return std::nullopt;  // alone on the node: nothing to share
  s.tag = r.tag ? *r.tag : !rank.job.empty() ? rank.job : "ppid-" + std::to_string(getppid());
  s.timeout = join_timeout(r, host.env);
  return s;
}

std::string describe_join(const std::optional<JoinSettings>& s) {
  if (!s) return "join: no (this rank builds its own container)";
  return "join: " + std::to_string(s->peers) + " rank(s) on this node share one container (count from " +
         s->peers_from + ", tag " + s->tag + ", socket @" + join_socket_name(getuid(), s->tag) + ")";
}

namespace {

// --stats where a profile injects the NVIDIA driver: the GPU sampler starts here, on the
// host side, for the devices the payload will see.
void start_gpu_stats(std::optional<StatsSink>& sink, const Plan& p) {
  if (!sink || p.nvml.empty()) return;
  auto visible = p.env.get("CUDA_VISIBLE_DEVICES");
  if (!visible) visible = p.env.get("NVIDIA_VISIBLE_DEVICES");
  sink->start_gpu(p.nvml, visible.value_or(""));
}

// -v: what this rank's environment differs in from the host's, and where the run
// differs from what docker run would do with the same image.
void log_environment(const Plan& p) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  // What a job log needs to say which image ran: a tag can move, the digest can't.
  if (!p.config.import.source.empty())
    spdlog::info("image {}: {} {}", p.image, p.config.import.source, p.config.import.digest);
  for (const auto& line : env_change_lines(p)) spdlog::info("environment: {}", line);
  if (!p.config.user.empty())
    spdlog::info(
        "the image's USER {} is not applied (docker run would switch to it): the payload runs as you (-u/-g choose "
        "the ids inside), with HOME={}",
        p.config.user, p.env.get("HOME").value_or("(unset)"));
}

// Into a container another rank (or --join-pid's process) built.
[[noreturn]] void enter(std::optional<StatsSink>& sink, const JoinTicket& ticket, const Plan& p) {
  log_environment(p);
  start_gpu_stats(sink, p);
  enter_container(ticket, p, sink ? &*sink : nullptr);
}

// A container of this rank's own: alone, or as its node's first rank (LEADER), which
// then offers FACTS to the ranks that join it.
[[noreturn]] void build(std::optional<StatsSink>& sink, const Plan& p, JoinLeader* leader, const std::string& facts) {
  log_environment(p);
  start_gpu_stats(sink, p);
  run_container(p, leader, facts, sink ? &*sink : nullptr);
}

}  // namespace

void launch(const RunOptions& o, const JoinRequest& r, const HostContext& host) {
  // Opened first, as the user on the host: FILE names a host path.
  std::optional<StatsSink> sink;
  if (o.stats) sink.emplace(*o.stats == "-" ? "" : *o.stats, host.rank);
  std::optional<JoinSettings> settings = r.pid ? std::nullopt : join_settings(r, host);
  if (r.pid) {
    enter(sink, ticket_from_pid(*r.pid), make_plan(o, host));  // --join-pid PID
  } else if (!settings || settings->peers < 2) {
    build(sink, make_plan(o, host), nullptr, "");  // no join: alone on the node
  } else {
    const std::string key = node_key(o);
    settings->key = key + "\npeers " + std::to_string(settings->peers);
    spdlog::info("{}", describe_join(settings));
    std::optional<JoinOutcome> joined;
    try {
      joined = join_node(*settings);
    } catch (const JoinUnavailable& e) {
      // Safe and slower: this rank's own container, as with --no-join.
      spdlog::warn("{}; this rank builds a container of its own (a --join-tag of your own shares one again)", e.what());
    }
    if (!joined) {
      build(sink, make_plan(o, host), nullptr, "");
    } else if (joined->leader) {
      // The first rank: the whole plan (image, profile, SquashFS mount) is made here only.
      Plan p = make_plan(o, host);
      build(sink, p, &*joined->leader, node_facts_to_json(p, key));
    } else {
      const JoinTicket& ticket = joined->ticket;  // a later rank: the leader's facts
      enter(sink, ticket, plan_from_node_facts(ticket.facts, key, o, host));
    }
  }
}

}  // namespace hpai
