#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace hpai::test {

static std::string fs_dirname(const std::string& p) { return std::filesystem::path(p).parent_path().string(); }

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.exit_code << " signal " << r.signal << "\n--- stdout:\n"
            << r.out << "--- stderr:\n"
            << r.err;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string hpai_run() { return env_or("HPAI_RUN", HPAI_TEST_DEFAULT_RUN); }
std::string hpai_image() { return fs_dirname(hpai_run()) + "/hpai-image"; }
std::string hpai_profile() { return fs_dirname(hpai_run()) + "/hpai-profile"; }
std::string hpai_check() { return fs_dirname(hpai_run()) + "/hpai-check"; }
std::string test_image(const std::string& name) {
  return env_or("HPAI_TEST_IMAGES", HPAI_TEST_DEFAULT_IMAGES) + "/" + name;
}
bool running_as_root() { return geteuid() == 0; }

static User user_from_passwd(const struct passwd* pw) { return {pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir}; }

// The user named by $VARIABLE, else FALLBACK, as tests/setup-test-user.sh made it.
User user_named(const char* variable, const char* fallback) {
  const char* name = std::getenv(variable);
  struct passwd* pw = getpwnam(name != nullptr ? name : fallback);
  if (pw == nullptr) {
    std::fprintf(stderr, "test user %s missing: run tests/setup-test-user.sh (ctest does)\n", name ? name : fallback);
    std::abort();
  }
  return user_from_passwd(pw);
}

User test_user() {
  if (!running_as_root()) return user_from_passwd(getpwuid(getuid()));
  return user_named("HPAI_TEST_USER", "hpai-test");
}

User root_user() { return user_from_passwd(getpwuid(0)); }

User other_user() { return user_named("HPAI_TEST_OTHER_USER", "hpai-other"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int live_squashfuse(const std::string& file) {
  namespace fs = std::filesystem;
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(e.path().string() + "/stat");
    if (!contains(stat, "(squashfuse_ll)") || contains(stat, ") Z ")) continue;
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(e.path().string() + "/fd", fd_ec)) {
      std::error_code link_ec;
      if (fs::read_symlink(fd.path(), link_ec).string() == file) {
        ++n;
        break;
      }
    }
  }
  return n;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// /dev/shm but the MPI libraries' own segments, which the MPI ranks of tests running
// in parallel create and remove (hpai creates none at all).
std::set<std::string> shm_files() {
  std::set<std::string> files;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (!n.starts_with("vader_segment.") && !n.starts_with("mpich_") && !n.starts_with("psm") &&
          !n.starts_with("ucx"))
        files.insert(n);
    }
    closedir(d);
  }
  return files;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::set<std::string> namespaces(const std::string& out) {
  std::set<std::string> ns;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("ns ")) ns.insert(line.substr(3));
  return ns;
}

Result run_as(const User& user, const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
              const std::string& cwd, const std::function<void(pid_t)>& while_running, int timeout_seconds) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "HOME=" + user.home, "USER=" + user.name, "LOGNAME=" + user.name};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);  // a group of its own: a timeout ends all of it (below)
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    if (geteuid() == 0 && user.uid != 0) {
      if (setgroups(0, nullptr) != 0 || setresgid(user.gid, user.gid, user.gid) != 0 ||
          setresuid(user.uid, user.uid, user.uid) != 0) {
        perror("switching to the test user");
        _exit(126);
      }
    }
    if (chdir(cwd.c_str()) != 0) {
      perror("chdir");
      _exit(126);
    }
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    execvpe(cargv[0], cargv.data(), cenv.data());
    perror("exec");
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (while_running) while_running(pid);
  Result r;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (open_fds > 0) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      // The whole group: a stopped FUSE server left behind, or a rank stuck on it, would
      // keep the pipes open and the next test's machine busy.
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      r.err += "\n[harness: timed out after " + std::to_string(timeout_seconds) + " s]\n";
      break;
    }
    if (poll(fds, 2, left) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

ScratchDir::ScratchDir(const User& owner) {
  std::string templ = "/tmp/hpai-test.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
  if (geteuid() == 0 && (chown(path_.c_str(), owner.uid, owner.gid) != 0 || chmod(path_.c_str(), 0755) != 0))
    throw std::runtime_error("can't hand " + path_ + " to " + owner.name);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  // Make everything removable first: tests leave read-only directories behind.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec); !ec && it != decltype(it)();
       it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) chmod(it->path().c_str(), 0755);
  std::filesystem::remove_all(path_, ec);
}

std::string as_name(const ::testing::TestParamInfo<As>& info) { return info.param == As::Root ? "AsRoot" : "AsUser"; }

void ContainerTest::SetUp() {
  if (GetParam() == As::Root && !running_as_root()) GTEST_SKIP() << "not root: the as-root variant needs root";
  user_ = GetParam() == As::Root ? root_user() : test_user();
  scratch_ = std::make_unique<ScratchDir>(user_);
}

Result ContainerTest::hpai(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
                           const std::string& cwd) {
  std::vector<std::string> argv = {hpai_run()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_as(user_, argv, extra_env, cwd);
}

Result ContainerTest::image(const std::vector<std::string>& args, const std::function<void(pid_t)>& while_running) {
  std::vector<std::string> argv = {hpai_image()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_as(user_, argv, {"HPAI_STORAGE=" + storage()}, "/", while_running);
}

std::string ContainerTest::profile(const std::string& name, const std::string& json) {
  std::string path = scratch_->path() + "/" + name + ".json";
  write_file(path, json);
  run_as(root_user(), {"chmod", "a+r", path});
  return path;
}

std::string ContainerTest::own_copy(const std::string& name) {
  std::string dst = scratch_->path() + "/" + name;
  Result r = run_as(user_, {"cp", "-a", test_image(name), dst});
  if (r.exit_code != 0) throw std::runtime_error("can't copy image: " + r.err);
  return dst;
}

}  // namespace hpai::test
