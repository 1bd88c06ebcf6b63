// The Slurm plugin's options (pyxis' names) turned into hpai-run's, and the reply a
// task gets from hpai-slurm-task.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "error_text.hpp"
#include "hpai/slurm/container_request.hpp"
#include "hpai/slurm/slurm_task.hpp"
#include "hpai/slurm/task_reply.hpp"

namespace hpai {
namespace {

using test::error_of;

TEST(ContainerMounts, PyxisSyntax) {
  auto b = parse_container_mounts("/scratch:/data:ro,/home/u,./rel:/x:rw+rbind");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].source, "/scratch");
  EXPECT_EQ(b[0].target, "/data");
  EXPECT_TRUE(b[0].read_only);
  EXPECT_TRUE(b[0].create);  // pyxis makes a missing DST
  EXPECT_EQ(b[0].origin, "--container-mounts=/scratch:/data:ro");
  EXPECT_EQ(b[1].source, "/home/u");
  EXPECT_EQ(b[1].target, "/home/u");
  EXPECT_FALSE(b[1].read_only);
  EXPECT_EQ(b[2].source, "./rel");
  EXPECT_FALSE(b[2].read_only);
}

TEST(ContainerMounts, RefusesWhatItCannotDo) {
  EXPECT_NE(error_of([] { parse_container_mounts("/a:/b,,/c"); }).find("empty entry"), std::string::npos);
  EXPECT_NE(error_of([] { parse_container_mounts("/a:b"); }).find("must be an absolute path"), std::string::npos);
  EXPECT_NE(error_of([] { parse_container_mounts("tmpfs:/b"); }).find("must be a path"), std::string::npos);
  EXPECT_NE(error_of([] { parse_container_mounts("/a:/"); }).find("over the container's /"), std::string::npos);
  EXPECT_NE(error_of([] { parse_container_mounts("/a:/b:ro:x"); }).find("SRC[:DST[:FLAGS]]"), std::string::npos);
  const std::string e = error_of([] { parse_container_mounts("/a:/b:ro+nosuid"); });
  EXPECT_NE(e.find("unknown mount flag \"nosuid\""), std::string::npos) << e;
  EXPECT_NE(error_of([] { parse_container_mounts("/a::ro"); }).find("empty"), std::string::npos);
}

TEST(ContainerImage, PathsNamesAndEnrootReferences) {
  EXPECT_TRUE(parse_container_image("/images/x.sqfs").path);
  EXPECT_TRUE(parse_container_image("./x").path);
  EXPECT_TRUE(parse_container_image("../x").path);
  auto n = parse_container_image("debian:12");
  EXPECT_FALSE(n.path);
  EXPECT_EQ(n.image, "debian:12");
  EXPECT_EQ(parse_container_image("nvcr.io#nvidia/pytorch:24.01-py3").image, "nvcr.io/nvidia/pytorch:24.01-py3");
  EXPECT_NE(error_of([] { parse_container_image("user@nvcr.io#nvidia/x"); }).find("hpai-image login"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_container_image("#x"); }).find("REGISTRY#IMAGE"), std::string::npos);
  EXPECT_NE(error_of([] { parse_container_image(""); }).find("empty"), std::string::npos);
  // A digest's @ is no user.
  EXPECT_EQ(parse_container_image("debian@sha256:abc").image, "debian@sha256:abc");
}

TEST(ContainerRequest, BecomesHpaiRunOptions) {
  ContainerRequest r;
  r.image = "debian:12";
  r.mounts = "/data:/data:ro";
  r.workdir = "/work";
  r.env = "HOME,MY_VAR";
  r.writable = true;
  SiteSettings site;
  site.profile = "lrz";
  site.storage = "/var/hpai";
  StepFacts step;
  step.argv = {"python", "train.py"};
  RunOptions o = run_options_for(r, site, step);
  EXPECT_EQ(o.image, "debian:12");
  EXPECT_TRUE(o.pull);
  EXPECT_EQ(o.storage, "/var/hpai");
  ASSERT_EQ(o.binds.size(), 1u);
  EXPECT_TRUE(o.binds[0].read_only);
  EXPECT_EQ(o.cd, "/work");
  EXPECT_TRUE(o.write_fake.has_value());
  EXPECT_EQ(o.profile, "lrz");
  ASSERT_EQ(o.env_ops.size(), 2u);
  EXPECT_EQ(o.env_ops[1].kind, EnvOp::Kind::Host);
  EXPECT_EQ(o.env_ops[1].arg, "MY_VAR");
  EXPECT_EQ(o.command, step.argv);

  r.profile = "none";  // the job's choice beats the site's
  site.pull = false;
  o = run_options_for(r, site, step);
  EXPECT_TRUE(o.no_profile);
  EXPECT_FALSE(o.profile.has_value());
  EXPECT_FALSE(o.pull);

  r.profile = "";
  r.image = "/images/x.sqfs";
  site.pull = true;
  EXPECT_FALSE(run_options_for(r, site, step).pull);  // a path is never pulled
}

TEST(ContainerRequest, BatchScriptIsBoundReadOnly) {
  ContainerRequest r;
  r.image = "/img";
  StepFacts step;
  step.batch_script = "/var/spool/slurmd/job00042/slurm_script";
  RunOptions o = run_options_for(r, {}, step);
  ASSERT_EQ(o.binds.size(), 1u);
  EXPECT_EQ(o.binds[0].source, step.batch_script);
  EXPECT_EQ(o.binds[0].target, step.batch_script);
  EXPECT_TRUE(o.binds[0].read_only);
  EXPECT_TRUE(o.binds[0].create);
}

TEST(ContainerRequest, RefusesContradictions) {
  ContainerRequest r;
  r.image = "/img";
  r.writable = r.readonly = true;
  EXPECT_NE(error_of([&] { run_options_for(r, {}, {}); }).find("can't be combined"), std::string::npos);
  r.readonly = false;
  r.workdir = "relative";
  EXPECT_NE(error_of([&] { run_options_for(r, {}, {}); }).find("absolute path"), std::string::npos);
  r.workdir = "";
  r.env = "OK,1BAD";
  EXPECT_NE(error_of([&] { run_options_for(r, {}, {}); }).find("\"1BAD\" is not a variable name"), std::string::npos);
}

TEST(SlurmTask, JoinTagIsPerStep) {
  StepFacts a, b;
  a.job = b.job = "42";
  a.step = "0";
  b.step = "batch";
  EXPECT_EQ(slurm_join_tag(a), "slurm-42.0");
  EXPECT_NE(slurm_join_tag(a), slurm_join_tag(b));
}

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
  UniqueFd a, b;
};

TEST(TaskReply, RoundTripWithDescriptorsAndALargeEnvironment) {
  Pair p;
  TaskReply out;
  out.userns.reset(open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
  out.mntns.reset(open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  out.root.reset(open("/", O_PATH | O_CLOEXEC));
  out.keeper = 1234;
  out.cwd = "/work dir";
  out.env = {"A=1", "EMPTY=", "SPACES=a  b", "EQ=x=y", "BIG=" + std::string(1 << 20, 'x')};
  // Over a socket buffer: the sender must not need the reader to finish first.
  std::thread sender([&] {
    send_task_reply(p.a.get(), out);
    p.a.reset();
  });
  TaskReply in = receive_task_reply(p.b.get());
  sender.join();
  EXPECT_EQ(in.keeper, 1234);
  EXPECT_EQ(in.cwd, "/work dir");
  EXPECT_EQ(in.env, out.env);
  struct stat mine {
  }, got{};
  ASSERT_EQ(fstat(out.userns.get(), &mine), 0);
  ASSERT_EQ(fstat(in.userns.get(), &got), 0);
  EXPECT_EQ(mine.st_ino, got.st_ino);
  EXPECT_TRUE(in.mntns && in.root);
  EXPECT_EQ(fcntl(in.root.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(TaskReply, AHelperThatSaysNothingOrGarbageIsAnError) {
  {
    Pair p;
    p.a.reset();
    EXPECT_NE(error_of([&] { receive_task_reply(p.b.get()); }).find("without handing over a container"),
              std::string::npos);
  }
  {
    Pair p;
    ASSERT_EQ(write(p.a.get(), "hello", 5), 5);
    p.a.reset();
    EXPECT_NE(error_of([&] { receive_task_reply(p.b.get()); }).find("carries no container"), std::string::npos);
  }
}

}  // namespace
}  // namespace hpai
