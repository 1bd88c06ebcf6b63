// The work hpai-slurm-task does for one task of a Slurm step, started by the SPANK
// plugin from the task process (slurmstepd's fork, right before it execs the task):
// the step's tasks on a node elect one (batch/join); its helper plans and builds the
// container as hpai-run would and hands it to the others through the join keeper;
// every helper then hands the container, the task's environment and its directory to
// its task (task_reply), which enters the container and lets slurmstepd exec there.
//
// The helper is a fresh process, not the task itself: the task is a copy of
// slurmstepd's memory and not dumpable, so it builds nothing (a user namespace needs
// /proc/self writable by the user, which would make that copy readable to the user).
#pragma once

#include "hpai/slurm/container_request.hpp"

namespace hpai {

struct SlurmTask {
  ContainerRequest request;
  SiteSettings site;
  StepFacts step;
  int reply_fd = -1;  // a stream socket to the task (task_reply)
};

// Throws Error (the message hpai-run would print, and its exit code).
void prepare_slurm_task(const SlurmTask& task);

// The join tag of a step: its ranks on a node share one container.
std::string slurm_join_tag(const StepFacts& step);

}  // namespace hpai
