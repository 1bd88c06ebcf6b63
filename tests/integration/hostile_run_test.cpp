// Hostile launches (tests/hostile/run-cases.json): images whose symlinks aim hpai's
// mount points at the host, destinations that resolve to the container's /, files
// hpai reads that are FIFOs, devices or too large, storage another user controls.
// Each case runs the real hpai-run as the unprivileged test user and as root and
// checks, byte for byte, that nothing changed outside the image: the bind sources, the
// user's HOME and TMPDIR, the escape directory. And another user squatting a job's
// join name must not stall it.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kEscape = "/tmp/hpai-hostile-escape";

struct RunCase {
  std::string name, about;
  json spec;
};

void PrintTo(const RunCase& c, std::ostream* os) { *os << c.name; }

std::vector<RunCase> load_run_cases() {
  std::ifstream in(std::string(HPAI_TEST_SOURCE_DIR) + "/tests/hostile/run-cases.json");
  auto doc = json::parse(in);
  std::vector<RunCase> out;
  for (const auto& c : doc.at("cases")) out.push_back({c.at("name"), c.at("about"), c});
  return out;
}

// What a directory holds, to compare before and after: each path with its type and,
// for files, its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), dir).string();
    if (it->is_symlink(ec))
      out[rel] = "link -> " + fs::read_symlink(it->path(), ec).string();
    else if (it->is_directory(ec))
      out[rel] = "dir";
    else if (it->is_regular_file(ec))
      out[rel] = "file: " + read_file(it->path().string());
    else
      out[rel] = "other";
  }
  return out;
}

std::string libmpi() {
  for (const char* dir :
       {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/powerpc64le-linux-gnu", "/usr/lib64"})
    if (fs::exists(std::string(dir) + "/libmpi.so.40")) return std::string(dir) + "/libmpi.so.40";
  return "";
}

using Param = std::tuple<RunCase, As>;

class HostileRun : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (std::get<1>(GetParam()) == As::Root && !running_as_root())
      GTEST_SKIP() << "not root: the as-root variant needs root";
    user_ = std::get<1>(GetParam()) == As::Root ? root_user() : test_user();
    if (running_as_root()) other_ = other_user();  // for storage someone else made
    jail_ = std::make_unique<ScratchDir>(user_);
    fs::create_directories(kEscape);
    fs::permissions(kEscape, fs::perms::all | fs::perms::sticky_bit);
  }
  const json& spec() const { return std::get<0>(GetParam()).spec; }
  std::string at(const std::string& rel) const { return jail_->path() + "/" + rel; }
  void own(const std::string& path) {
    if (lchown(path.c_str(), user_.uid, user_.gid) != 0) throw std::runtime_error("can't chown " + path);
  }
  void make_dir(const std::string& path) {
    fs::create_directories(path);
    own(path);
  }
  void make_file(const std::string& path, const std::string& content) {
    write_file(path, content);
    own(path);
  }
  void make_fifo(const std::string& path) {
    if (mkfifo(path.c_str(), 0644) != 0) throw std::runtime_error("can't mkfifo " + path);
    own(path);
  }
  void make_big(const std::string& path, off_t size) {
    make_file(path, "");
    if (truncate(path.c_str(), size) != 0) throw std::runtime_error("can't size " + path);
  }
  std::string expand(std::string s) const {
    for (const auto& [key, value] : vars_)
      for (auto pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + value.size()))
        s.replace(pos, key.size(), value);
    return s;
  }
  json expand(const json& j) const {
    if (j.is_string()) return expand(j.get<std::string>());
    if (j.is_array() || j.is_object()) {
      json out = j;
      for (auto& [k, v] : out.items()) v = expand(v);
      return out;
    }
    return j;
  }
  // The busybox test image with the case's changes; returns its path.
  std::string make_image(const std::string& dst) {
    Result r = run_as(user_, {"cp", "-a", test_image("busybox"), dst});
    if (r.exit_code != 0) throw std::runtime_error("can't copy the image: " + r.err);
    auto list = [&](const char* key) { return spec().value(key, json::array()); };
    for (const auto& p : list("remove")) fs::remove_all(dst + "/" + p.get<std::string>());
    for (const auto& p : list("dirs")) make_dir(dst + "/" + p.get<std::string>());
    const json links = spec().value("links", json::object()), big = spec().value("big_files", json::object());
    for (const auto& [path, target] : links.items()) {
      fs::create_symlink(target.get<std::string>(), dst + "/" + path);
      own(dst + "/" + path);
    }
    for (const auto& p : list("fifos")) make_fifo(dst + "/" + p.get<std::string>());
    for (const auto& [path, size] : big.items()) make_big(dst + "/" + path, size.get<off_t>());
    return dst;
  }
  // Storage holding the busybox image as "busybox", made as the case says.
  std::string make_storage(const std::string& kind) {
    const std::string real = at("storage-real");
    make_dir(real);
    make_dir(real + "/img");
    make_dir(real + "/tmp");
    make_dir(real + "/lock");
    make_image(real + "/img/busybox");
    fs::permissions(real, fs::perms::owner_all);
    if (kind == "private") return real;
    if (kind == "group-writable") fs::permissions(real, fs::perms::owner_all | fs::perms::group_all);
    if (kind == "world-writable") fs::permissions(real, fs::perms::all);
    if (kind == "other-owned" && lchown(real.c_str(), other_.uid, other_.gid) != 0) throw std::runtime_error("chown");
    if (kind == "symlink-by-other") {
      fs::create_directory_symlink(real, at("storage"));
      if (lchown(at("storage").c_str(), other_.uid, other_.gid) != 0) throw std::runtime_error("lchown");
      return at("storage");
    }
    return real;
  }

  User user_, other_;
  std::unique_ptr<ScratchDir> jail_;
  std::map<std::string, std::string> vars_;
};

TEST_P(HostileRun, NothingOutsideTheImageChanges) {
  const RunCase& c = std::get<0>(GetParam());
  SCOPED_TRACE(c.name + ": " + c.about);
  const std::string storage_kind = spec().value("storage", "");
  if (storage_kind != "" && storage_kind != "private" && !running_as_root())
    GTEST_SKIP() << "making storage that is not the user's needs root";
  for (const char* d : {"A", "B", "home", "tmpdir"}) {
    make_dir(at(d));
    make_file(at(d) + "/canary", std::string("canary of ") + d + "\n");
  }
  const json host_dirs = spec().value("host_dirs", json::array()),
             host_files = spec().value("host_files", json::object());
  for (const auto& d : host_dirs) make_dir(at(d.get<std::string>()));
  for (const auto& [path, content] : host_files.items()) make_file(at(path), content);
  make_fifo(at("fifo"));
  make_big(at("big"), 17 << 20);
  vars_ = {{"{IMG}", at("img")},   {"{A}", at("A")},     {"{B}", at("B")},      {"{PROFILE}", at("profile.json")},
           {"{FIFO}", at("fifo")}, {"{BIG}", at("big")}, {"{LIBMPI}", libmpi()}};
  if (spec().dump().find("{LIBMPI}") != std::string::npos && libmpi().empty()) GTEST_SKIP() << "no host libmpi.so.40";
  make_image(at("img"));
  if (spec().contains("profile")) make_file(at("profile.json"), expand(spec().at("profile")).dump(2));
  std::vector<std::string> env = {"HOME=" + at("home"), "TMPDIR=" + at("tmpdir"), "HPAI_STORAGE=" + at("no-storage")};
  std::string cwd = jail_->path();
  if (!storage_kind.empty()) env.back() = "HPAI_STORAGE=" + make_storage(storage_kind);
  if (spec().value("shadow", false)) {  // ./busybox in the working directory, told apart by a marker
    make_dir(at("cwd"));
    make_image(at("cwd/busybox"));
    make_file(at("cwd/busybox/shadow-marker"), "x");
    cwd = at("cwd");
  }
  std::map<std::string, std::map<std::string, std::string>> before;
  for (const char* d : {"A", "B", "home", "tmpdir"}) before[d] = snapshot(at(d));
  before["escape"] = snapshot(kEscape);
  std::map<std::string, std::string> image_files;
  const json unchanged = spec().value("image_unchanged", json::array());
  for (const auto& p : unchanged) image_files[p] = read_file(at("img") + "/" + p.get<std::string>());

  std::vector<std::string> argv = {hpai_run()};
  for (const auto& a : spec().at("args")) argv.push_back(expand(a.get<std::string>()));
  Result r = run_as(user_, argv, env, cwd, {}, 30);

  const std::string expect = spec().at("expect");
  EXPECT_EQ(r.signal, 0) << "crashed: " << r;
  EXPECT_FALSE(contains(r.err, "[harness: timed out")) << "hung: " << r;
  if (expect == "rejected") {
    EXPECT_EQ(r.exit_code, 31) << r;
  } else if (expect == "ran") {
    EXPECT_EQ(r.exit_code, 0) << r;
  } else {  // "failed": the payload's own failure, not hpai's
    EXPECT_TRUE(r.exit_code != 0 && r.exit_code != 31 && r.exit_code != 49) << r;
  }
  const std::string message = spec().value("message", ""), out = spec().value("stdout", "");
  EXPECT_TRUE(contains(r.err, message)) << "expected \"" << message << "\" on stderr\n" << r;
  EXPECT_TRUE(contains(r.out, out)) << "expected \"" << out << "\" on stdout\n" << r;
  for (const char* d : {"A", "B", "home", "tmpdir"})
    EXPECT_EQ(snapshot(at(d)), before[d]) << "host directory " << d << " changed";
  EXPECT_EQ(snapshot(kEscape), before["escape"]) << "something was written to " << kEscape;
  for (const auto& [p, bytes] : image_files) EXPECT_EQ(read_file(at("img") + "/" + p), bytes) << p << " was rewritten";
}

std::string case_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = std::get<0>(info.param).name;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n + (std::get<1>(info.param) == As::Root ? "_AsRoot" : "_AsUser");
}

INSTANTIATE_TEST_SUITE_P(Corpus, HostileRun,
                         ::testing::Combine(::testing::ValuesIn(load_run_cases()),
                                            ::testing::Values(As::Unprivileged, As::Root)),
                         case_name);

// Another user binds the abstract socket a job's ranks would meet on (bound, not
// listening; or listening): the ranks must neither wait out the join timeout nor
// accept that user's namespaces. Each builds its own container, with a warning.
class JoinSquat : public ContainerTest {};

TEST_P(JoinSquat, AnotherUsersSocketDoesNotStallTheJob) {
  if (!running_as_root()) GTEST_SKIP() << "a second user needs root";
  const User squatter = other_user();
  for (bool listening : {false, true}) {
    SCOPED_TRACE(listening ? "squatter listens" : "squatter only binds");
    const std::string tag = std::string("squat-") + (listening ? "l" : "b") + std::to_string(getpid());
    const std::string name = "hpai-join/" + std::to_string(who().uid) + "/" + tag;
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
      if (setresgid(squatter.gid, squatter.gid, squatter.gid) != 0 ||
          setresuid(squatter.uid, squatter.uid, squatter.uid) != 0)
        _exit(1);
      int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::memcpy(a.sun_path + 1, name.data(), name.size());
      if (bind(s, reinterpret_cast<sockaddr*>(&a),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) != 0)
        _exit(2);
      if (listening && listen(s, 16) != 0) _exit(3);
      if (write(ready[1], "x", 1) != 1) _exit(4);
      pause();
      _exit(0);
    }
    close(ready[1]);
    char x;
    ASSERT_EQ(read(ready[0], &x, 1), 1) << "the squatter could not bind";
    close(ready[0]);
    const auto start = std::chrono::steady_clock::now();
    Result r = hpai({"--join-ct=2", "--join-tag=" + tag, test_image("busybox"), "--", "echo", "ran"},
                    {"HPAI_JOIN_TIMEOUT=30"});
    const auto took = std::chrono::steady_clock::now() - start;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(contains(r.out, "ran")) << r;
    EXPECT_TRUE(contains(r.err, "uid " + std::to_string(squatter.uid))) << "the message should name the squatter\n"
                                                                        << r;
    EXPECT_TRUE(contains(r.err, "builds a container of its own")) << r;
    EXPECT_LT(took, std::chrono::seconds(5)) << "waited for the squatter";
  }
}

INSTANTIATE_TEST_SUITE_P(, JoinSquat, ::testing::Values(As::Unprivileged, As::Root), as_name);

}  // namespace
}  // namespace hpai::test
