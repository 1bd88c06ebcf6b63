// The payload's environment: the host's, the image's ENV, the site profile's changes,
// the launcher's variables, then the user's --set-env/--unset-env, in that order.
#include "hpai/run/payload_env.hpp"

#include "hpai/base/error.hpp"
#include "hpai/base/log.hpp"
#include "hpai/batch/launcher_env.hpp"

namespace hpai {

namespace {

void apply_image_env(Environment& env, const ImageConfig& config, const Environment& host, bool protect_launcher) {
  for (const auto& entry : config.env) {
    auto a = parse_assignment(entry, "image ENV");
    // ENV baked into an image must not undo what the batch system set for this job.
    if (protect_launcher && is_launcher_variable(a.name) && host.has(a.name)) {
      spdlog::debug("keeping host {} over the image's ENV", a.name);
      continue;
    }
    env.set(a.name, a.value);
  }
}

void apply_assignments(Environment& env, const std::vector<Assignment>& assignments, bool expand) {
  for (const auto& a : assignments) env.set(a.name, expand ? expand_value(a.value, env) : a.value);
}

}  // namespace

Environment make_environment(const RunOptions& o, const HostContext& host, const Plan& p) {
  const ImageConfig& config = p.config;
  Environment env = host.env;
  if (!o.no_image_env) apply_image_env(env, config, host.env, true);
  // The site profile's changes: after the image (the site knows this machine), before
  // the user's own --set-env. Each profile's values expand against what came before it.
  // Like image ENV, they don't undo what the batch system set for this job: the host's
  // CUDA_VISIBLE_DEVICES from Slurm's GPU binding beats a profile's.
  const Environment before_profile = env;
  for (const auto& c : p.profile_env) {
    if (is_launcher_variable(c.name) && host.env.has(c.name)) {
      spdlog::info("keeping the host's {} over the profile's (from {})", c.name, c.origin);
      continue;
    }
    apply_env_change(env, c, before_profile);
  }
  // This rank's launcher variables, before --set-env so the user still has the last word.
  map_pmix_names(env);
  if (o.torch_env.value_or(p.launcher.torch_env.value_or(false))) set_torch_env(env, host.rank, host.env);
  if (o.gpu_per_rank.value_or(p.launcher.gpu_per_rank.value_or(false))) set_gpu_per_rank(env, host.rank, host.dev_dir);
  // TMPDIR names a host path; the host's TMPDIR is what /tmp is in the container.
  env.unset("TMPDIR");
  // HOME stays the host's (or the image ENV's), as with ch-run; --home binds it.
  if (o.home) env.set("HOME", "/home/" + p.user);
  env.set("HPAI_RUNNING", "1");  // before --unset-env, which may remove it
  // /bin appended as ch-run does; an unset PATH is left unset, with ch-run's warning.
  if (auto path = env.get("PATH"))
    env.set("PATH", path_with_bin(*path));
  else
    spdlog::warn("$PATH not set");
  for (const auto& op : o.env_ops) {
    switch (op.kind) {
      case EnvOp::Kind::ImageEnv: {
        if (config.env.empty())
          spdlog::warn("--set-env: image {} has no ENV (in .hpai/image.json or ch/environment); nothing to set",
                       p.image);
        std::vector<Assignment> as;
        for (const auto& e : config.env) as.push_back(parse_assignment(e, "image ENV"));
        apply_assignments(env, as, op.expand);
        break;
      }
      case EnvOp::Kind::File: apply_assignments(env, read_assignment_file(op.arg), op.expand); break;
      case EnvOp::Kind::Assign: apply_assignments(env, {parse_assignment(op.arg, "--set-env")}, op.expand); break;
      case EnvOp::Kind::Host:  // the Slurm plugin's --container-env
        if (auto v = host.env.get(op.arg)) env.set(op.arg, *v);
        break;
      case EnvOp::Kind::Unset:
        if (op.arg.empty()) throw Error("--unset-env: GLOB must not be empty", kExitUsage);
        env.unset_matching(op.arg);
        break;
    }
  }
  // After --unset-env, as ch-run sets it: scripts can always tell they run in a container.
  env.set("CH_RUNNING", "hpai");
  return env;
}

}  // namespace hpai
