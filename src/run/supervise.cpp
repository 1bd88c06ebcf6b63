#include "hpai/run/supervise.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "hpai/base/error.hpp"
#include "hpai/base/host_info.hpp"
#include "hpai/run/exec.hpp"

namespace hpai {

namespace {

volatile sig_atomic_t g_child = 0;

void forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

void run_supervised(const std::vector<std::string>& argv, const Environment& env, const StatsSink& sink,
                    const RankInfo& rank) {
  PayloadStats s;
  s.argv = argv;
  s.host = host_name();
  s.rank = rank;
  s.started = utc_now();
  const auto start = std::chrono::steady_clock::now();
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("--stats: can't fork the payload");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the payload never outlives its supervisor
    try {
      exec_payload(argv, env);
    } catch (const Error& e) {
      std::fprintf(stderr, "hpai-run: error: %s\n", e.what());
      _exit(e.exit_code());
    }
  }
  g_child = pid;
  struct sigaction sa {};
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM}) sigaction(sig, &sa, nullptr);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) throw_errno("--stats: wait4");
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.user_s = seconds(ru.ru_utime);
  s.sys_s = seconds(ru.ru_stime);
  s.max_rss_kib = ru.ru_maxrss;
  if (WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  if (auto gpu = sink.finish_gpu()) {
    s.gpu_sampled = true;
    s.gpu = *gpu;
  }
  sink.write(s);
  if (s.signal) {
    // End as the payload did, so srun and mpiexec report the same signal.
    signal(s.signal, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, s.signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    kill(getpid(), s.signal);
    _exit(128 + s.signal);
  }
  _exit(s.exit_code);
}

}  // namespace hpai
