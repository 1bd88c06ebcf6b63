#include "hpai/slurm/slurm_task.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/run/container.hpp"
#include "hpai/run/launch.hpp"
#include "hpai/run/node_facts.hpp"
#include "hpai/run/pull_on_demand.hpp"
#include "hpai/slurm/task_reply.hpp"

namespace hpai {

namespace {

UniqueFd open_own(const char* path, int flags) {
  UniqueFd fd(open(path, flags | O_CLOEXEC));
  if (!fd) throw_errno(std::string("can't open ") + path + " of the container");
  return fd;
}

// slurmstepd gives local task 0 alone TMPDIR=/tmp when the task has none (after the
// plugin): every task gets it, which is what /tmp is in the container anyway.
std::vector<std::string> task_environment(const Plan& p) {
  std::vector<std::string> env = p.env.to_strings();
  if (!p.env.has("TMPDIR")) env.push_back("TMPDIR=/tmp");
  return env;
}

// This process built the container and stands in it: its own namespaces and root.
TaskReply reply_from_here(const Plan& p) {
  TaskReply r;
  r.userns = open_own("/proc/self/ns/user", O_RDONLY);
  r.mntns = open_own("/proc/self/ns/mnt", O_RDONLY);
  r.root = open_own("/", O_PATH | O_DIRECTORY);
  r.keeper = getpid();
  r.cwd = p.cwd;
  r.env = task_environment(p);
  return r;
}

}  // namespace

std::string slurm_join_tag(const StepFacts& step) {
  return "slurm-" + step.job + "." + step.step + (step.secret.empty() ? "" : "-" + step.secret);
}

void prepare_slurm_task(const SlurmTask& t) {
  const RunOptions o = run_options_for(t.request, t.site, t.step);
  HostContext host = HostContext::current();  // the task's environment, which slurmstepd gave us
  // This helper's parent is the task; the container goes with the step's slurmstepd.
  host.parent = t.step.slurmstepd;
  if (o.pull) pull_if_missing(o, host, false);
  const std::string key = node_key(o);

  std::optional<JoinOutcome> joined;
  std::optional<JoinSettings> settings;
  if (t.step.local_tasks > 1) {
    JoinRequest request;
    request.count = t.step.local_tasks;
    request.tag = slurm_join_tag(t.step);
    settings = join_settings(request, host);
    settings->peers_from = "Slurm's task count on this node, " + std::to_string(t.step.local_tasks);
    settings->key = key + "\npeers " + std::to_string(settings->peers);
    settings->keeper_stderr = false;  // slurmstepd waits for the end of task 0's stderr
    try {
      joined = join_node(*settings);
    } catch (const JoinUnavailable& e) {
      spdlog::warn("{}; this task builds a container of its own", e.what());
    }
  }
  if (joined && !joined->leader) {
    const JoinTicket& ticket = joined->ticket;
    const Plan p = plan_from_node_facts(ticket.facts, key, o, host);
    TaskReply r;
    r.userns = std::move(joined->ticket.userns);
    r.mntns = std::move(joined->ticket.mntns);
    r.root = std::move(joined->ticket.root);
    r.keeper = ticket.keeper;
    r.cwd = p.cwd;
    r.env = task_environment(p);
    send_task_reply(t.reply_fd, r);
    return;
  }
  // Alone, or the node's first task: the whole plan is made here only.
  const Plan p = make_plan(o, host);
  JoinLeader* leader = joined ? &*joined->leader : nullptr;
  assemble_container(p, leader, leader ? node_facts_to_json(p, key) : "");
  send_task_reply(t.reply_fd, reply_from_here(p));
}

}  // namespace hpai
