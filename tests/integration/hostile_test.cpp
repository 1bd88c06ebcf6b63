// The hostile-input corpus (tests/hostile/cases.json, built by make-corpus.py as a
// fixture): every crafted archive, layout and profile is fed to the real binaries, as
// the unprivileged test user and as root. Each must be rejected with its message and
// leave no image, or be imported with the hostile part made harmless; nothing may
// appear outside the storage, and nothing may crash (the ASan build runs these too).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "harness.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEscape = "/tmp/hpai-hostile-escape";
constexpr const char* kVictim = "/tmp/hpai-hostile-victim";  // what cases aim symlinks and hard links at
constexpr const char* kVictimBytes = "victim: must keep these bytes\n";

struct HostileCase {
  std::string name, kind, about, expect, message;
  std::vector<std::string> absent, regular, no_setid, sparse;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::vector<HostileCase> load_cases() {
  std::ifstream in(std::string(HPAI_TEST_SOURCE_DIR) + "/tests/hostile/cases.json");
  auto doc = nlohmann::json::parse(in);
  std::vector<HostileCase> out;
  auto list = [](const nlohmann::json& c, const char* key) {
    return c.contains(key) ? c.at(key).get<std::vector<std::string>>() : std::vector<std::string>{};
  };
  for (const auto& c : doc.at("cases"))
    out.push_back({c.at("name"), c.at("kind"), c.at("about"), c.at("expect"), c.value("message", ""), list(c, "absent"),
                   list(c, "regular"), list(c, "no_setid"), list(c, "sparse")});
  return out;
}

// Every path below DIR (relative), skipping SKIP.
std::set<std::string> tree(const std::string& dir, const std::string& skip = "") {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!skip.empty() && it->path() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    out.insert(fs::relative(it->path(), dir).string());
  }
  return out;
}

using Param = std::tuple<HostileCase, As>;

class Hostile : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const As as = std::get<1>(GetParam());
    if (as == As::Root && !running_as_root()) GTEST_SKIP() << "not root: the as-root variant needs root";
    user_ = as == As::Root ? root_user() : test_user();
    jail_ = std::make_unique<ScratchDir>(user_);
    // The escape target is world-writable so that an escape would succeed, and show.
    fs::create_directories(kEscape);
    fs::permissions(kEscape, fs::perms::all | fs::perms::sticky_bit);
    // The corpus fixture (make-corpus.py) writes the victim world-writable, so that a
    // write through a link would succeed as any user, and show.
    ASSERT_EQ(read_file(kVictim), kVictimBytes) << kVictim << " is not as the corpus fixture wrote it";
    write_file(jail_->path() + "/outside", "canary\n");
  }
  const HostileCase& c() const { return std::get<0>(GetParam()); }
  std::string storage() const { return jail_->path() + "/storage"; }
  std::string input() const { return test_image("hostile") + "/" + c().name + (c().kind == "profile" ? ".json" : ""); }
  Result image(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {hpai_image()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_as(user_, argv, {"HPAI_STORAGE=" + storage()});
  }
  void check_image(const std::string& root);

  User user_;
  std::unique_ptr<ScratchDir> jail_;
};

void Hostile::check_image(const std::string& root) {
  struct stat st {};
  for (const auto& p : c().absent)
    EXPECT_NE(lstat((root + "/" + p).c_str(), &st), 0) << p << " should not be in the image";
  for (const auto& p : c().regular) {
    ASSERT_EQ(lstat((root + "/" + p).c_str(), &st), 0) << p.substr(0, 200) << " missing from the image";
    EXPECT_TRUE(S_ISREG(st.st_mode)) << p << " is not a regular file";
    EXPECT_EQ(st.st_nlink, 1u) << p << " is linked elsewhere";
  }
  for (const auto& p : c().no_setid) {
    ASSERT_EQ(lstat((root + "/" + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << p << " kept its setuid/setgid bit";
  }
  for (const auto& p : c().sparse) {
    ASSERT_EQ(lstat((root + "/" + p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_size, off_t{1} << 40);
    EXPECT_LT(st.st_blocks * 512, 1 << 20) << p << " is not sparse: " << st.st_blocks * 512 << " bytes on disk";
  }
}

TEST_P(Hostile, RejectedOrNeutralised) {
  SCOPED_TRACE(c().name + ": " + c().about);
  const auto escape_before = tree(kEscape);
  const auto jail_before = tree(jail_->path(), storage());

  if (c().kind == "profile") {
    const auto start = std::chrono::steady_clock::now();
    Result r = run_as(user_, {hpai_profile(), "check", "--schema-only", input()}, {}, "/", {}, 60);
    EXPECT_EQ(r.signal, 0) << r;
    EXPECT_EQ(r.exit_code, c().expect == "accepted" ? 0 : 1) << r;
    EXPECT_TRUE(contains(r.err + r.out, c().message)) << "expected \"" << c().message << "\"\n" << r;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "hpai-profile check took too long";
  } else {
    Result r = run_as(user_, {hpai_image(), "import", input(), "hostile"}, {"HPAI_STORAGE=" + storage()}, "/", {}, 60);
    EXPECT_EQ(r.signal, 0) << "crashed: " << r;
    if (!c().message.empty()) {
      EXPECT_TRUE(contains(r.err, c().message)) << "expected \"" << c().message << "\"\n" << r;
    }
    const std::string root = storage() + "/img/hostile";
    if (c().expect == "rejected") {
      EXPECT_EQ(r.exit_code, 31) << r;
      EXPECT_FALSE(fs::exists(root)) << "a half image is left";
      Result list = image({"list", "--json"});
      EXPECT_EQ(list.exit_code, 0) << list;
    } else {
      ASSERT_EQ(r.exit_code, 0) << r;
      check_image(root);
      Result rm = image({"rm", "hostile"});
      EXPECT_EQ(rm.exit_code, 0) << "the user can't remove the image: " << rm;
      EXPECT_FALSE(fs::exists(root));
    }
    std::error_code ec;
    EXPECT_TRUE(!fs::exists(storage() + "/tmp") || fs::is_empty(storage() + "/tmp", ec)) << "staging left behind";
  }
  EXPECT_EQ(tree(kEscape), escape_before) << "something was written to " << kEscape;
  EXPECT_EQ(tree(jail_->path(), storage()), jail_before) << "something was written beside the storage";
  EXPECT_EQ(read_file(jail_->path() + "/outside"), "canary\n");
  EXPECT_EQ(read_file(kVictim), kVictimBytes) << kVictim << " was written through";
}

std::string case_name(const ::testing::TestParamInfo<Param>& info) {
  std::string n = std::get<0>(info.param).name;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n + (std::get<1>(info.param) == As::Root ? "_AsRoot" : "_AsUser");
}

INSTANTIATE_TEST_SUITE_P(Corpus, Hostile,
                         ::testing::Combine(::testing::ValuesIn(load_cases()),
                                            ::testing::Values(As::Unprivileged, As::Root)),
                         case_name);

}  // namespace
}  // namespace hpai::test
