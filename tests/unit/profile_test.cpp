// Site profiles: positions in messages, schema checks with suggestions, extends,
// lookup, environment changes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_report.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::string> messages(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(x.str());
  return out;
}

TEST(JsonSource, PositionsPointAtKeysAndElements) {
  JsonSource s = JsonSource::parse(
      "{\n  \"a\": 1,\n  \"list\": [true, \"x\\\"y\", {\"k\": null}],\n  \"n\": -2.5e3\n}\n", "f.json");
  EXPECT_EQ(s.where("/a").str(), "f.json:2:3");
  EXPECT_EQ(s.where("/list").str(), "f.json:3:3");
  EXPECT_EQ(s.where("/list/0").str(), "f.json:3:12");
  EXPECT_EQ(s.where("/list/1").str(), "f.json:3:18");
  EXPECT_EQ(s.where("/list/2").str(), "f.json:3:26");
  EXPECT_EQ(s.where("/list/2/k").str(), "f.json:3:27");
  EXPECT_EQ(s.where("/n").str(), "f.json:4:3");
  EXPECT_EQ(s.where("/missing").str(), "f.json");
}

TEST(JsonSource, SyntaxErrorsNameLineAndColumn) {
  try {
    JsonSource::parse("{\n  \"a\": 1,\n  \"b\" 2\n}", "bad.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json:3:7: invalid JSON"), std::string::npos) << e.what();
  }
}

TEST(Profile, SchemaErrorsCarryPositionsAndSuggestions) {
  test::TempDir dir;
  const std::string f = dir.path() + "/site.json";
  write(f, R"({
  "hpai_profile": 1,
  "bnds": [],
  "binds": [{"source": "/x", "read_only": "yes"}, "relative"],
  "env": {"set": {"A B": "1", "P": "x"}, "prepend": {"P": "y"}},
  "mpi": {"family": "mpch", "compat": "strict", "libraries": "/one"},
  "nvidia": {"enabled": "maybe", "capabilities": ["compute", "vidoe"]}
})");
  Diagnostics d;
  read_profile(f, {}, d);
  std::vector<std::string> expected = {
      f + ":3:3: error: unknown key \"bnds\" in a profile; did you mean \"binds\"?",
      f + ":4:30: error: read_only must be true or false, not \"yes\"",
      f + ":4:51: error: binds entry \"relative\" must be an absolute path",
      f + ":5:19: error: \"A B\" is not a valid environment variable name",
      f + ":5:54: error: P appears more than once in env (set, prepend and append of one profile can't combine)",
      f + ":6:11: error: mpi.family \"mpch\" is not one of mpich, openmpi; did you mean \"mpich\"?",
      f + ":6:49: error: mpi.libraries must be an array, not string",
      f + ":7:14: error: nvidia.enabled must be true, false or \"auto\", not \"maybe\"",
      f + ":7:62: error: capability \"vidoe\" is not one of compute, utility, video, graphics, all; did you mean "
          "\"video\"?",
  };
  EXPECT_EQ(messages(d), expected);
  EXPECT_THROW(load_profile(f, {}), Error);
}

TEST(Profile, VersionIsRequiredAndChecked) {
  test::TempDir dir;
  write(dir.path() + "/none.json", "{\"binds\": []}");
  write(dir.path() + "/future.json", "{\"hpai_profile\": 7}");
  Diagnostics d1, d2;
  read_profile(dir.path() + "/none.json", {}, d1);
  read_profile(dir.path() + "/future.json", {}, d2);
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_NE(d1[0].message.find("\"hpai_profile\": 1"), std::string::npos);
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_NE(d2[0].message.find("unsupported profile schema version 7"), std::string::npos);
}

TEST(Profile, ReadsEverySection) {
  test::TempDir dir;
  const std::string f = dir.path() + "/full.json";
  write(f, R"({"hpai_profile": 1, "description": "d",
    "binds": ["/a", {"source": "/b", "target": "/c", "required": false, "read_only": true}],
    "devices": ["/dev/infiniband", {"path": "/dev/hfi1_0", "required": false}],
    "env": {"unset": ["LD_PRELOAD"], "set": {"X": "1"}, "prepend": {"PATH": "/p"}, "append": {"MANPATH": "/m"}},
    "mpi": {"family": "openmpi", "compat": "full", "prefix": "/opt/mpi/lib", "dependencies": ["/lib/libfabric.so.1"],
            "binds": ["/etc/libibverbs.d"], "env": {"set": {"OMPI_MCA_btl": "^openib"}}},
    "nvidia": {"enabled": "auto", "capabilities": ["all"], "ld_cache": "/c", "libraries": ["/l/libx.so.1"],
               "binaries": ["/b/nvidia-smi"], "devices": ["/dev/nvidia-caps"]}})");
  Diagnostics d;
  Profile p = read_profile(f, {}, d);
  EXPECT_TRUE(d.empty()) << messages(d).front();
  EXPECT_EQ(p.name, "full");
  ASSERT_EQ(p.binds.size(), 2u);
  EXPECT_EQ(p.binds[0].target, "/a");
  EXPECT_TRUE(p.binds[0].required);
  EXPECT_EQ(p.binds[1].target, "/c");
  EXPECT_FALSE(p.binds[1].required);
  EXPECT_TRUE(p.binds[1].read_only);
  ASSERT_EQ(p.devices.size(), 2u);
  EXPECT_FALSE(p.devices[1].required);
  ASSERT_EQ(p.env.size(), 4u);
  EXPECT_EQ(p.env[0].kind, EnvChange::Kind::Unset);  // unset, set, prepend, append
  EXPECT_EQ(p.env[3].kind, EnvChange::Kind::Append);
  ASSERT_TRUE(p.mpi);
  EXPECT_EQ(p.mpi->family, MpiFamily::OpenMpi);
  EXPECT_EQ(p.mpi->compat, MpiCompat::Full);
  EXPECT_EQ(p.mpi->prefix->path, "/opt/mpi/lib");
  EXPECT_EQ(p.mpi->binds.size(), 1u);
  EXPECT_EQ(p.mpi->env.size(), 1u);
  ASSERT_TRUE(p.nvidia);
  EXPECT_EQ(p.nvidia->enabled, GpuMode::Auto);
  EXPECT_EQ(*p.nvidia->capabilities, kNvidiaCapabilities);
  // show prints it back in the same schema, and that reads back the same.
  write(dir.path() + "/again.json", profile_to_json(p).dump());
  Diagnostics d2;
  Profile again = read_profile(dir.path() + "/again.json", {}, d2);
  EXPECT_TRUE(d2.empty());
  EXPECT_EQ(profile_to_json(again).dump(), profile_to_json(p).dump());
}

TEST(Profile, ExtendsMergesListsAndOverridesSettings) {
  test::TempDir dir;
  write(dir.path() + "/base.json", R"({"hpai_profile": 1, "description": "base",
    "binds": ["/base"], "env": {"set": {"A": "base"}},
    "mpi": {"family": "mpich", "libraries": ["/base/libmpi.so.12"]}, "nvidia": {"enabled": "auto"}})");
  write(dir.path() + "/site.json", R"({"hpai_profile": 1, "extends": "base",
    "binds": ["/site"], "env": {"set": {"A": "site"}}, "mpi": {"compat": "strict"}, "nvidia": {"enabled": false}})");
  Diagnostics d;
  Profile p = read_profile(dir.path() + "/site.json", {}, d);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(p.name, "site");
  EXPECT_EQ(p.description, "base");
  ASSERT_EQ(p.files.size(), 2u);
  EXPECT_EQ(p.files[0], dir.path() + "/base.json");
  ASSERT_EQ(p.binds.size(), 2u);
  EXPECT_EQ(p.binds[0].source, "/base");
  EXPECT_EQ(p.binds[1].source, "/site");
  ASSERT_EQ(p.env.size(), 2u);  // applied in order: the site's value wins
  EXPECT_EQ(p.env[1].value, "site");
  EXPECT_EQ(p.mpi->family, MpiFamily::Mpich);
  EXPECT_EQ(p.mpi->compat, MpiCompat::Strict);
  EXPECT_EQ((*p.mpi->libraries)[0].path, "/base/libmpi.so.12");
  EXPECT_EQ(p.nvidia->enabled, GpuMode::Off);
}

TEST(Profile, ExtendsCyclesAndMissingBasesAreErrors) {
  test::TempDir dir;
  write(dir.path() + "/a.json", R"({"hpai_profile": 1, "extends": "b"})");
  write(dir.path() + "/b.json", R"({"hpai_profile": 1, "extends": ["a"]})");
  write(dir.path() + "/c.json", R"({"hpai_profile": 1, "extends": "nowhere"})");
  Diagnostics d;
  read_profile(dir.path() + "/a.json", {}, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("makes a cycle"), std::string::npos);
  EXPECT_EQ(d[0].where.line, 1);
  Diagnostics d2;
  read_profile(dir.path() + "/c.json", {}, d2);
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_NE(d2[0].message.find("no profile named nowhere"), std::string::npos);
}

TEST(Profile, LookupByNameSearchPathAndDefault) {
  test::TempDir dir;
  std::string a = dir.path() + "/a", b = dir.path() + "/b";
  ASSERT_EQ(mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(b.c_str(), 0755), 0);
  write(a + "/lrz.json", "{}");
  write(b + "/lrz.json", "{}");
  write(b + "/default.json", "{}");
  Environment env;
  env.set("HPAI_PROFILE_PATH", a + "::" + b);
  std::vector<std::string> path = profile_search_path(env);
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path.back(), system_profile_dir());
  EXPECT_EQ(find_profile("lrz", path), a + "/lrz.json");  // first on the path wins
  EXPECT_EQ(find_profile(b + "/lrz.json", path), b + "/lrz.json");
  EXPECT_EQ(find_default_profile(path), b + "/default.json");
  EXPECT_FALSE(find_default_profile({a}));
  try {
    find_profile("summit", path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no profile named summit in " + a), std::string::npos);
  }
  EXPECT_THROW(find_profile("./missing.json", path), Error);
}

TEST(Profile, ClosestMatch) {
  EXPECT_EQ(closest_match("bnds", {"binds", "devices"}), "binds");
  EXPECT_EQ(closest_match("libraires", {"libraries", "prefix"}), "libraries");
  EXPECT_EQ(closest_match("zzzzzz", {"binds", "devices"}), "");
}

TEST(EnvChange, SetPrependAppendUnsetWithExpansion) {
  Environment env = Environment::from_entries({"PATH=/usr/bin", "HOME=/h", "LD_PRELOAD=x", "LD_AUDIT=y"});
  const Environment before = env;
  apply_env_change(env, {EnvChange::Kind::Prepend, "PATH", "${HOME}/bin", ""}, before);
  apply_env_change(env, {EnvChange::Kind::Append, "MANPATH", "/m", ""}, before);
  apply_env_change(env, {EnvChange::Kind::Set, "X", "$HOME-$UNSET-$$-${HOME}x-$", ""}, before);
  apply_env_change(env, {EnvChange::Kind::Unset, "LD_*", "", ""}, before);
  EXPECT_EQ(env.get("PATH"), "/h/bin:/usr/bin");
  EXPECT_EQ(env.get("MANPATH"), "/m");
  EXPECT_EQ(env.get("X"), "/h--$-/hx-$");
  EXPECT_FALSE(env.has("LD_PRELOAD"));
  EXPECT_FALSE(env.has("LD_AUDIT"));
  EXPECT_EQ(expand_variables("${unclosed", env), "${unclosed");
}

}  // namespace
}  // namespace hpai
