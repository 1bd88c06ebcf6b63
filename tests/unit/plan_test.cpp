#include "hpai/run/plan.hpp"
#include "hpai/run/plan_format.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

TEST(BindSpec, Parsing) {
  BindSpec a = parse_bind_spec("/lrz/sys");
  EXPECT_EQ(a.source, "/lrz/sys");
  EXPECT_EQ(a.target, "/lrz/sys");
  BindSpec b = parse_bind_spec("/scratch/me:/data");
  EXPECT_EQ(b.source, "/scratch/me");
  EXPECT_EQ(b.target, "/data");
  EXPECT_EQ(b.origin, "-b /scratch/me:/data");
  struct Bad {
    const char* arg;
    const char* message;
  } bad[] = {{":/x", "empty source"},
             {"/x:", "empty destination"},
             {"/x:rel", "must be an absolute path"},
             {"/x:/", "can't bind over the container's /"},
             {"/x://", "can't bind over the container's /"}};
  for (const auto& c : bad) {
    try {
      parse_bind_spec(c.arg);
      ADD_FAILURE() << c.arg;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
      EXPECT_EQ(e.exit_code(), kExitUsage);
    }
  }
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    image_ = dir_ + "/img";
    for (const char* d : {"dev", "proc", "sys", "tmp", "etc", "root", "home", "mnt"})
      fs::create_directories(image_ + "/" + d);
    for (const char* f : {"etc/passwd", "etc/group", "etc/hosts"}) std::ofstream(image_ + "/" + f) << "";
    fs::create_directories(dir_ + "/hosttmp");
    fs::create_directories(dir_ + "/data");
    ImageConfig c;
    c.env = {"PATH=/usr/bin", "IMG=1", "SLURM_JOB_ID=image", "CUDA_VISIBLE_DEVICES=all"};
    c.workdir = "/mnt";
    c.entrypoint = {"/bin/ep"};
    c.cmd = {"arg"};
    write_image_config(image_, c);
    host_.uid = 4000001;  // no host has this id: names come from $USER
    host_.gid = 4000002;
    host_.env = Environment::from_entries(
        {"PATH=/usr/bin:/bin", "HOME=/home/alice", "USER=alice", "TMPDIR=" + dir_ + "/hosttmp", "SLURM_JOB_ID=42"});
    opts_.image = image_;
    opts_.command = {"true"};
  }
  test::TempDir tmp_;

  std::vector<std::string> targets(const Plan& p) {
    std::vector<std::string> t;
    for (const auto& m : p.mounts) t.push_back(m.target);
    return t;
  }
  std::string error_of(const RunOptions& o) {
    try {
      make_plan(o, host_);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::string dir_, image_;
  HostContext host_;
  RunOptions opts_;
};

TEST_F(PlanTest, DefaultMountsInOrder) {
  Plan p = make_plan(opts_, host_);
  EXPECT_EQ(p.image, fs::canonical(image_).string());
  EXPECT_EQ(p.root_mode, RootMode::ReadOnly);
  // The image lacks /etc/resolv.conf: the host's is bound on a mount point from the
  // skeleton layer (name resolution must work). /etc/machine-id is skipped, not an error.
  EXPECT_EQ(targets(p), (std::vector<std::string>{"/dev", "/proc", "/sys", "/etc/hosts", "/etc/resolv.conf",
                                                  "/etc/passwd", "/etc/group", "/tmp"}));
  EXPECT_EQ(p.mounts.back().source, dir_ + "/hosttmp");  // $TMPDIR is the container's /tmp
  EXPECT_TRUE(p.mounts[3].read_only);
  EXPECT_NE(p.mounts[5].content.find(":x:4000001:4000002:"), std::string::npos);
  for (const auto& m : p.mounts) EXPECT_EQ(m.create, m.target == "/etc/resolv.conf") << m.target;
  ASSERT_EQ(p.skeleton.size(), 1u);
  EXPECT_EQ(p.skeleton[0].path, "/etc/resolv.conf");
  EXPECT_TRUE(p.skeleton[0].file);
  // -w creates the mount point in the image, as -b does (the LRZ pattern runs -w on
  // debootstrap images, which have no /etc/hosts); hpai's metadata is kept read-only.
  opts_.write = true;
  Plan w = make_plan(opts_, host_);
  EXPECT_EQ(targets(w), (std::vector<std::string>{"/dev", "/proc", "/sys", "/etc/hosts", "/etc/resolv.conf",
                                                  "/etc/passwd", "/etc/group", "/tmp", "/.hpai/image.json"}));
  EXPECT_TRUE(w.mounts[4].create);
  EXPECT_TRUE(w.skeleton.empty());
}

TEST_F(PlanTest, IdsGoThroughTheMap) {
  opts_.uid = 0;
  opts_.gid = 5;
  Plan p = make_plan(opts_, host_);
  EXPECT_EQ(p.ids.inside_uid, 0u);
  EXPECT_EQ(p.ids.outside_uid, 4000001u);
  EXPECT_EQ(p.ids.inside_gid, 5u);
  EXPECT_EQ(p.ids.outside_gid, 4000002u);
}

TEST_F(PlanTest, ReadOnlyImageNeedsExistingTargets) {
  opts_.binds = {parse_bind_spec(dir_ + "/data:/missing")};
  EXPECT_NE(error_of(opts_).find("can't bind " + dir_ + "/data to /missing: /missing does not exist in image"),
            std::string::npos)
      << error_of(opts_);
  opts_.write_fake = "";
  Plan p = make_plan(opts_, host_);
  EXPECT_TRUE(p.mounts.back().create);
  EXPECT_EQ(p.root_mode, RootMode::Overlay);
}

TEST_F(PlanTest, MissingSourceNamesItsOrigin) {
  opts_.binds = {parse_bind_spec("/lrz/sys")};
  EXPECT_EQ(error_of(opts_), "can't bind /lrz/sys: no such file or directory on host (from -b /lrz/sys)");
}

TEST_F(PlanTest, RequiredKernelMountPoints) {
  fs::remove(image_ + "/proc");
  EXPECT_NE(error_of(opts_).find("/proc does not exist in image"), std::string::npos) << error_of(opts_);
  opts_.write = true;
  EXPECT_NO_THROW(make_plan(opts_, host_));
}

TEST_F(PlanTest, PrivateTmpAndHome) {
  fs::create_directories(dir_ + "/home/alice");
  host_.env.set("HOME", dir_ + "/home/alice");
  opts_.private_tmp = true;
  opts_.home = true;
  Plan p = make_plan(opts_, host_);
  auto t = targets(p);
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(t.end() - 3, t.end()), (std::vector<std::string>{"/tmp", "/home", "/home/alice"}));
  EXPECT_EQ(p.mounts[p.mounts.size() - 3].kind, Mount::Kind::Tmpfs);
  EXPECT_TRUE(p.mounts.back().create);  // inside the /home tmpfs
  EXPECT_EQ(p.env.get("HOME"), "/home/alice");
}

TEST_F(PlanTest, EnvironmentLayers) {
  Plan p = make_plan(opts_, host_);
  EXPECT_EQ(p.env.get("IMG"), "1");
  EXPECT_EQ(p.env.get("PATH"), "/usr/bin:/bin");
  EXPECT_EQ(p.env.get("SLURM_JOB_ID"), "42");           // the host's job id wins
  EXPECT_EQ(p.env.get("CUDA_VISIBLE_DEVICES"), "all");  // not set on the host: the image's applies
  EXPECT_FALSE(p.env.has("TMPDIR"));
  EXPECT_EQ(p.env.get("HOME"), "/home/alice");  // the host's, as with ch-run
  EXPECT_EQ(p.env.get("HPAI_RUNNING"), "1");
  EXPECT_EQ(p.env.get("CH_RUNNING"), "hpai");  // for scripts written for ch-run
  opts_.no_image_env = true;
  opts_.env_ops = {{EnvOp::Kind::Assign, "A=$USER:x", true},
                   {EnvOp::Kind::Assign, "B=$USER", false},
                   {EnvOp::Kind::Unset, "US*", true},
                   {EnvOp::Kind::ImageEnv, "", true}};
  Plan q = make_plan(opts_, host_);
  EXPECT_EQ(q.env.get("A"), "alice:x");
  EXPECT_EQ(q.env.get("B"), "$USER");
  EXPECT_FALSE(q.env.has("USER"));
  EXPECT_EQ(q.env.get("IMG"), "1");
  EXPECT_EQ(q.env.get("SLURM_JOB_ID"), "image") << "an explicit bare --set-env applies the image's ENV as asked";
  opts_.env_ops = {{EnvOp::Kind::Unset, "", true}};
  EXPECT_EQ(error_of(opts_), "--unset-env: GLOB must not be empty");
}

TEST_F(PlanTest, WorkdirAndCommand) {
  EXPECT_EQ(make_plan(opts_, host_).cwd, "/mnt");
  opts_.cd = "/etc";
  EXPECT_EQ(make_plan(opts_, host_).cwd, "/etc");
  opts_.command.clear();
  EXPECT_EQ(make_plan(opts_, host_).argv, (std::vector<std::string>{"/bin/ep", "arg"}));
  fs::remove_all(image_ + "/.hpai");
  EXPECT_NE(error_of(opts_).find("no command given, and image"), std::string::npos);
}

// A path is a path: storage is asked only about names, so one that can't be used (not
// mounted on this node, or planted by another user) fails names, never a path.
TEST_F(PlanTest, APathNeedsNoStorage) {
  fs::create_symlink(dir_ + "/no/such/scratch", dir_ + "/storage");
  host_.env.set("HPAI_STORAGE", dir_ + "/storage");
  EXPECT_EQ(make_plan(opts_, host_).image, fs::canonical(image_).string());
  opts_.image = "stored";
  EXPECT_NE(error_of(opts_).find("storage"), std::string::npos) << error_of(opts_);
}

TEST_F(PlanTest, ImageMustBeADirectoryOtherThanRoot) {
  opts_.image = "/";
  EXPECT_NE(error_of(opts_).find("is the host's root directory"), std::string::npos);
  opts_.image = image_ + "/etc/passwd";
  EXPECT_NE(error_of(opts_).find("is not a directory"), std::string::npos);
  opts_.image = dir_ + "/nope";
  EXPECT_EQ(error_of(opts_), "can't find image " + dir_ + "/nope: No such file or directory");
}

TEST_F(PlanTest, DryRunOutputs) {
  opts_.binds = {parse_bind_spec(dir_ + "/data:/mnt")};
  Plan p = make_plan(opts_, host_);
  std::string text = plan_to_text(p);
  EXPECT_NE(text.find(dir_ + "/data -> /mnt [rw,rec]  (-b " + dir_ + "/data:/mnt)"), std::string::npos) << text;
  EXPECT_NE(text.find("unset TMPDIR"), std::string::npos) << text;
  auto j = nlohmann::json::parse(plan_to_json(p));
  EXPECT_EQ(j["mounts"][0]["target"], "/");
  EXPECT_EQ(j["mounts"].back()["source"], dir_ + "/data");
  EXPECT_EQ(j["environment"]["set"]["IMG"], "1");
  EXPECT_EQ(j["uid_map"]["outside"], 4000001);
}

TEST(SharedFileSystem, KnownMagics) {
  EXPECT_EQ(shared_file_system(0x0BD00BD0), "Lustre");
  EXPECT_EQ(shared_file_system(0x47504653), "GPFS");
  EXPECT_EQ(shared_file_system(0x6969), "NFS");
  EXPECT_EQ(shared_file_system(0x19830326), "BeeGFS");
  EXPECT_EQ(shared_file_system(0x00C36400), "CephFS");
  EXPECT_EQ(shared_file_system(0xEF53), std::nullopt);      // ext4: node-local
  EXPECT_EQ(shared_file_system(0x01021994), std::nullopt);  // tmpfs
}

}  // namespace
}  // namespace hpai
