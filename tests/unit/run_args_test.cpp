#include "hpai/run/run_args.hpp"

#include <gtest/gtest.h>

#include "hpai/base/error.hpp"

namespace hpai {
namespace {

RunCommandLine parse(const std::vector<std::string>& args) { return parse_run_args(args); }

std::string error_of(const std::vector<std::string>& args) {
  try {
    parse(args);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage) << e.what();
    return e.what();
  }
  return "(no error)";
}

// Everything from the command on reaches execve as it was written: CLI11 used to read
// "[a,b]" as a list, drop "[]", and take "--x" for one of its own options.
TEST(RunArgs, ThePayloadIsPassedThroughByteForByte) {
  const std::vector<std::string> payload = {"echo",
                                            "[a,b]",
                                            "[]",
                                            "{x,y}",
                                            "a,b",
                                            "k=v",
                                            "",
                                            "-v",
                                            "--cd=/x",
                                            "--",
                                            "-",
                                            "\xff\xfe not UTF-8",
                                            std::string(100 * 1024, 'x'),
                                            "-w"};
  std::vector<std::string> args = {"-w", "img", "--"};
  args.insert(args.end(), payload.begin(), payload.end());
  RunCommandLine c = parse(args);
  EXPECT_EQ(c.options.image, "img");
  EXPECT_EQ(c.options.command, payload);
  EXPECT_TRUE(c.options.write);
  EXPECT_EQ(c.verbosity, 0) << "the payload's -v is not hpai's";
  // Without "--", the command's first word ends hpai's options just the same.
  std::vector<std::string> bare = {"img"};
  bare.insert(bare.end(), payload.begin(), payload.end());
  EXPECT_EQ(parse(bare).options.command, payload);
  EXPECT_TRUE(parse({"img"}).options.command.empty()) << "no command: the image's Entrypoint and Cmd";
  EXPECT_EQ(parse({"--", "img", "ls", "-l"}).options.command, (std::vector<std::string>{"ls", "-l"}));
}

TEST(RunArgs, OptionsMayFollowTheImageUntilTheCommand) {
  RunCommandLine c = parse({"img", "-b", "/data", "--cd=/work", "-t", "--", "pwd"});
  EXPECT_EQ(c.options.image, "img");
  ASSERT_EQ(c.options.binds.size(), 1u);
  EXPECT_EQ(*c.options.cd, "/work");
  EXPECT_TRUE(c.options.private_tmp);
  EXPECT_EQ(c.options.command, std::vector<std::string>{"pwd"});
}

// An empty "--opt=" is an empty value, never the next word (a script's --cd=$DIR with
// DIR unset used to take the image for the directory).
TEST(RunArgs, EmptyValuesAreErrorsNotTheNextWord) {
  for (const char* opt : {"--cd=", "--join-tag=", "--unset-env=", "--bind=", "--storage=", "--profile=", "--set-env=",
                          "--write-fake=", "--stats=", "--uid=", "--join-ct="}) {
    std::string e = error_of({opt, "img", "--", "true"});
    EXPECT_NE(e.find("the value must not be empty"), std::string::npos) << opt << ": " << e;
  }
  EXPECT_NE(error_of({"--cd"}).find("--cd needs a value"), std::string::npos);
}

TEST(RunArgs, ValuesAsArgpTakesThem) {
  EXPECT_EQ(*parse({"--cd", "/a", "img"}).options.cd, "/a");
  EXPECT_EQ(*parse({"--cd=/a", "img"}).options.cd, "/a");
  EXPECT_EQ(*parse({"-c", "/a", "img"}).options.cd, "/a");
  EXPECT_EQ(*parse({"-c/a", "img"}).options.cd, "/a");
  RunCommandLine bundled = parse({"-wtvv", "img"});
  EXPECT_TRUE(bundled.options.write && bundled.options.private_tmp);
  EXPECT_EQ(bundled.verbosity, 2);
  EXPECT_EQ(parse({"-wb/x:/y", "img"}).options.binds.at(0).target, "/y");
  EXPECT_EQ(*parse({"--priv", "--cd=/z", "img"}).options.cd, "/z") << "unique prefixes, as getopt_long";
  EXPECT_TRUE(parse({"--priv", "img"}).options.private_tmp);
  // Optional values only after '=': a bare -W must not swallow the image.
  EXPECT_EQ(*parse({"-W", "img"}).options.write_fake, kDefaultOverlaySize);
  EXPECT_EQ(parse({"-W", "img"}).options.image, "img");
  EXPECT_EQ(*parse({"--write-fake=4g", "img"}).options.write_fake, "4g");
  EXPECT_EQ(*parse({"-W4g", "img"}).options.write_fake, "4g");
  EXPECT_EQ(*parse({"--stats", "img"}).options.stats, "-");
  EXPECT_EQ(*parse({"--stats=/tmp/s.%r", "img"}).options.stats, "/tmp/s.%r");
  EXPECT_EQ(*parse({"-u", "0", "-g0", "img"}).options.uid, 0u);
  EXPECT_EQ(*parse({"--join-ct=4", "img"}).join.count, 4);
}

TEST(RunArgs, SetEnvKindsAndEnvNoExpandForAllOfThem) {
  RunCommandLine c = parse({"--set-env", "--set-env=A=$B", "--set-env=/etc/f", "--unset-env=X*", "img"});
  ASSERT_EQ(c.options.env_ops.size(), 4u);
  EXPECT_EQ(c.options.env_ops[0].kind, EnvOp::Kind::ImageEnv);
  EXPECT_EQ(c.options.env_ops[1].kind, EnvOp::Kind::Assign);
  EXPECT_EQ(c.options.env_ops[2].kind, EnvOp::Kind::File);
  EXPECT_EQ(c.options.env_ops[3].kind, EnvOp::Kind::Unset);
  EXPECT_TRUE(c.options.env_ops[1].expand);
  // ch-run's --env-no-expand applies to the whole command line, before it or after.
  RunCommandLine n = parse({"--set-env=A=$B", "--env-no-expand", "--set-env=C=$D", "img"});
  EXPECT_FALSE(n.options.env_ops[0].expand);
  EXPECT_FALSE(n.options.env_ops[1].expand);
}

TEST(RunArgs, ChRunFlagsScriptsStillPass) {
  RunCommandLine nh = parse({"--no-home", "img"});
  ASSERT_EQ(nh.warnings.size(), 1u);
  EXPECT_NE(nh.warnings[0].find("--no-home is the default"), std::string::npos);
  RunCommandLine m = parse({"-m", "/var/tmp/mnt", "img.sqfs"});
  ASSERT_EQ(m.notes.size(), 1u);
  EXPECT_EQ(m.options.image, "img.sqfs");
  EXPECT_EQ(*parse({"--feature=extglob"}).feature, "extglob");
  EXPECT_EQ(has_feature("extglob"), true);
  EXPECT_EQ(has_feature("squash"), true);
  EXPECT_EQ(has_feature("seccomp"), false);
  EXPECT_EQ(has_feature("no-such-thing"), std::nullopt);
  EXPECT_NE(error_of({"--ch-ssh", "img"}).find("hpai has no ch-ssh"), std::string::npos);
  EXPECT_TRUE(parse({"--nv", "img"}).options.gpu.value_or(false));
}

TEST(RunArgs, MistakesSayWhatIsWrong) {
  EXPECT_NE(error_of({"--privte-tmp", "img"}).find("unknown option --privte-tmp; did you mean --private-tmp?"),
            std::string::npos);
  EXPECT_NE(error_of({"--no", "img"}).find("is ambiguous"), std::string::npos);
  EXPECT_NE(error_of({"-Z", "img"}).find("unknown option -Z"), std::string::npos);
  EXPECT_NE(error_of({"--write=yes", "img"}).find("--write takes no value"), std::string::npos);
  EXPECT_NE(error_of({"--join-ct=two", "img"}).find("is not a number"), std::string::npos);
  EXPECT_NE(error_of({"--gpu", "--no-gpu", "img"}).find("can't be combined"), std::string::npos);
  EXPECT_NE(error_of({}).find("no IMAGE given"), std::string::npos);
  EXPECT_NE(error_of({"-w"}).find("no IMAGE given"), std::string::npos);
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_NE(run_usage().find("--write-fake[=SIZE]"), std::string::npos);
  EXPECT_EQ(run_usage().find("--ch-ssh"), std::string::npos) << "refused ch-run flags are not advertised";
}

}  // namespace
}  // namespace hpai
