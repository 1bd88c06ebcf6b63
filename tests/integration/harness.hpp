// Runs the real hpai binaries as a chosen user (the unprivileged test user, or root)
// and captures what they print.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace hpai::test {

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct Result {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Result& r);

// Runs ARGV as USER (switching ids when we are root) with a clean environment:
// PATH, HOME, USER, LOGNAME plus EXTRA_ENV ("NAME=VALUE"). WHILE_RUNNING, if given,
// is called with the child's pid once it started.
Result run_as(const User& user, const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
              const std::string& cwd = "/", const std::function<void(pid_t)>& while_running = {},
              int timeout_seconds = 120);

std::string env_or(const char* name, const char* fallback);
std::string hpai_run();                           // path of the hpai-run binary under test
std::string hpai_image();                         // path of the hpai-image binary under test
std::string hpai_profile();                       // path of the hpai-profile binary under test
std::string hpai_check();                         // path of the hpai-check binary under test
std::string test_image(const std::string& name);  // path of a fixture image
User test_user();                                 // the unprivileged user (ourselves when not root)
User other_user();                                // a second one: the other user on a shared node (root only)
User root_user();
bool running_as_root();
std::string read_file(const std::string& path);
// Live squashfuse_ll processes holding FILE open: the servers of that image, whoever
// runs them (zombies awaiting a reaper serve nothing; other tests' servers don't count).
int live_squashfuse(const std::string& file);
void write_file(const std::string& path, const std::string& content);
bool contains(const std::string& haystack, const std::string& needle);
int count(const std::string& text, const std::string& what);  // how often WHAT occurs in TEXT
// A payload's shell command printing "ns USERNS", and the distinct USERNS values in OUT.
inline constexpr const char* kPrintNs = "echo ns $(readlink /proc/self/ns/user)";
std::set<std::string> namespaces(const std::string& out);
// The files in /dev/shm but the MPI libraries' own segments (hpai creates none).
std::set<std::string> shm_files();

// A temporary directory owned by USER, removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const User& owner);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Whether a container test runs hpai as the unprivileged test user or as root.
enum class As { Unprivileged, Root };
std::string as_name(const ::testing::TestParamInfo<As>& info);
inline void PrintTo(As as, std::ostream* os) { *os << (as == As::Root ? "root" : "unprivileged user"); }

class ContainerTest : public ::testing::TestWithParam<As> {
 protected:
  void SetUp() override;
  const User& who() const { return user_; }
  // hpai-run ARGS as this test's user.
  Result hpai(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {},
              const std::string& cwd = "/");
  // A copy of fixture image NAME owned by this test's user (for -w and -W).
  std::string own_copy(const std::string& name);
  // This test's image storage (in its scratch directory), and hpai-image ARGS on it as
  // this test's user (WHILE_RUNNING as run_as's).
  std::string storage() { return scratch().path() + "/storage"; }
  // Writes profile NAME.json with JSON into the scratch directory; returns its path.
  std::string profile(const std::string& name, const std::string& json);
  Result image(const std::vector<std::string>& args, const std::function<void(pid_t)>& while_running = {});
  ScratchDir& scratch() { return *scratch_; }

 private:
  User user_;
  std::unique_ptr<ScratchDir> scratch_;
};

}  // namespace hpai::test
