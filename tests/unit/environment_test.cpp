#include "hpai/base/environment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "hpai/base/error.hpp"

namespace hpai {
namespace {

// ch-run(1)'s table of valid assignments, with BAR=bar and UNSET empty.
TEST(Environment, ExpansionFollowsChRunsTable) {
  Environment env = Environment::from_entries({"BAR=bar", "UNSET="});
  struct Case {
    const char* text;
    const char* name;
    const char* value;
  } cases[] = {
      {"FOO=bar", "FOO", "bar"},
      {"FOO=bar=baz", "FOO", "bar=baz"},
      {"FLAGS=-march=foo -mtune=bar", "FLAGS", "-march=foo -mtune=bar"},
      {"FLAGS='-march=foo -mtune=bar'", "FLAGS", "-march=foo -mtune=bar"},
      {"FOO=$BAR", "FOO", "bar"},
      {"FOO=$BAR:baz", "FOO", "bar:baz"},
      {"FOO=", "FOO", ""},
      {"FOO=$UNSET", "FOO", ""},
      {"FOO=baz:$UNSET:qux", "FOO", "baz:qux"},
      {"FOO=:bar:baz::", "FOO", ":bar:baz::"},
      {"FOO=''", "FOO", ""},
      {"FOO=''''", "FOO", "''"},
      {"FOO=\"bar\"", "FOO", "\"bar\""},
      {"FOO=bar # baz", "FOO", "bar # baz"},
      {"FOO=bar\\tbaz", "FOO", "bar\\tbaz"},
      {" FOO=bar", " FOO", "bar"},
      {"FOO= bar", "FOO", " bar"},
      {"$FOO=bar", "$FOO", "bar"},
      {"FOO=$BAR baz:qux", "FOO", "qux"},
      {"'BAZ=qux'", "BAZ", "qux"},       // ch-run(1) documents whole-assignment quotes as stripped
      {"FOO=${BAR}:x", "FOO", "bar:x"},  // hpai extension: ${NAME} items
      {"V=bar:$", "V", "bar:$"},         // a lone $ is no variable (ch-run keeps it)
      {"V=$", "V", "$"},
  };
  for (const auto& c : cases) {
    Assignment a = parse_assignment(c.text, "test");
    EXPECT_EQ(a.name, c.name) << c.text;
    EXPECT_EQ(expand_value(a.value, env), c.value) << c.text;
  }
}

TEST(Environment, InvalidAssignmentsSayWhatIsWrongAndWhere) {
  try {
    parse_assignment("FOO bar", "env.txt:3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "env.txt:3: can't parse variable \"FOO bar\": no '=' separator");
  }
  try {
    parse_assignment("=bar", "--set-env");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--set-env: can't parse variable \"=bar\": empty name");
  }
}

TEST(Environment, FileReadingSkipsEmptyLinesAndNumbersErrors) {
  char path[] = "/tmp/hpai-env-test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "A=1\n\nB='two words'\nbroken line\n";
  try {
    read_assignment_file(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), std::string(path) + ":4: can't parse variable \"broken line\": no '=' separator");
  }
  std::ofstream(path) << "A=1\n\nB='two words'\n";
  auto as = read_assignment_file(path);
  ASSERT_EQ(as.size(), 2u);
  EXPECT_EQ(as[1].value, "two words");
  unlink(path);
  EXPECT_THROW(read_assignment_file("/nonexistent/env"), Error);
}

TEST(Environment, SetGetUnsetKeepOrder) {
  Environment env = Environment::from_entries({"A=1", "B=2", "C=3", "garbage", "=nameless"});
  env.set("B", "two");
  env.set("D", "4");
  EXPECT_TRUE(env.unset("A"));
  EXPECT_FALSE(env.unset("A"));
  EXPECT_EQ(env.to_strings(), (std::vector<std::string>{"B=two", "C=3", "D=4"}));
}

TEST(Environment, UnsetMatchingUsesGlobs) {
  Environment env = Environment::from_entries({"SLURM_A=1", "SLURM_B=2", "OMPI_X=3", "KEEP=4", "WANTED_1=5"});
  EXPECT_EQ(env.unset_matching("SLURM*"), 2u);
  EXPECT_EQ(env.unset_matching("!(WANTED_*)"), 2u);  // FNM_EXTMATCH, as in ch-run's example 4
  EXPECT_EQ(env.to_strings(), std::vector<std::string>{"WANTED_1=5"});
}

TEST(Environment, PathGetsBinAppendedOnlyWhenMissing) {
  EXPECT_EQ(path_with_bin("/usr/bin"), "/usr/bin:/bin");
  EXPECT_EQ(path_with_bin("/bin:/usr/bin"), "/bin:/usr/bin");
  EXPECT_EQ(path_with_bin("/usr/bin:/bin"), "/usr/bin:/bin");
  EXPECT_EQ(path_with_bin("/binx"), "/binx:/bin");
  EXPECT_EQ(path_with_bin(""), "/bin");
}

TEST(Environment, LauncherVariables) {
  for (const char* v : {"SLURM_PROCID", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "JSM_NAMESPACE_RANK",
                        "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LSB_JOBID"})
    EXPECT_TRUE(is_launcher_variable(v)) << v;
  for (const char* v : {"PATH", "HOME", "SLURM", "CUDA_HOME", "LD_LIBRARY_PATH"})
    EXPECT_FALSE(is_launcher_variable(v)) << v;
}

}  // namespace
}  // namespace hpai
