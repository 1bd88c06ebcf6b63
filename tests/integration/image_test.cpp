// hpai-image on images made by real tools (umoci, skopeo, tar), as the unprivileged
// test user and as root; results compared with `umoci unpack --rootless`.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"
#include "hpai/base/digest.hpp"
#include "hpai/image/image_formats.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return test_image("debian-oci") + "/" + name; }

// path -> "type mode [link target | content sha256]", for comparing unpacked trees.
// Modes are compared as an unprivileged unpacker must leave them: setuid/setgid gone,
// directories u+rwx, files u+rw. /dev is left out: umoci makes empty files for device
// nodes, hpai drops them (the host's /dev is bound over it anyway).
std::map<std::string, std::string> tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().string().substr(root.size() + 1);
    if (rel == ".hpai" || rel.starts_with(".hpai/") || rel == ".hpai-complete" || rel == "dev" ||
        rel.starts_with("dev/"))
      continue;
    struct stat st {};
    lstat(it->path().c_str(), &st);
    mode_t mode = st.st_mode & 0777;
    std::string desc;
    if (S_ISLNK(st.st_mode)) {
      desc = "link " + fs::read_symlink(it->path()).string();
    } else if (S_ISDIR(st.st_mode)) {
      desc = "dir " + std::to_string(mode | 0700);
    } else if (S_ISREG(st.st_mode)) {
      desc = "file " + std::to_string(mode | 0600) + " " + sha256_of(read_file(it->path()));
    } else {
      desc = "other";
    }
    out[rel] = desc;
  }
  return out;
}

void expect_same_tree(const std::string& got, const std::string& want) {
  auto a = tree(got), b = tree(want);
  int shown = 0;
  for (const auto& [path, desc] : b) {
    auto it = a.find(path);
    if (it == a.end()) {
      if (shown++ < 10) ADD_FAILURE() << "missing from import: " << path << " (" << desc << ")";
    } else if (it->second != desc) {
      if (shown++ < 10) ADD_FAILURE() << path << ": import has " << it->second << ", reference has " << desc;
    }
  }
  for (const auto& [path, desc] : a)
    if (b.count(path) == 0 && shown++ < 10) ADD_FAILURE() << "extra in import: " << path << " (" << desc << ")";
  EXPECT_EQ(a.size(), b.size());
}

class Images : public ContainerTest {
 protected:
  Result run(const std::vector<std::string>& args) { return hpai(args, {"HPAI_STORAGE=" + storage()}); }
  std::string dir_of(const std::string& name) {
    auto j = nlohmann::json::parse(image({"inspect", "--json", name}).out);
    return j["path"];
  }
};
INSTANTIATE_TEST_SUITE_P(, Images, ::testing::Values(As::Unprivileged, As::Root), as_name);

TEST_P(Images, OciLayoutMatchesUmociAndRuns) {
  Result r = image({"import", fixture("oci") + ":debian", "deb:oci"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "deb:oci: imported")) << r;
  EXPECT_TRUE(contains(r.out, "2 layers")) << r;
  expect_same_tree(dir_of("deb:oci"), fixture("umoci-ref/rootfs"));
  Result run_it =
      run({"deb:oci", "--", "sh", "-c",
           "cat /etc/debian_version /etc/motd; pwd; echo $HPAI_FIXTURE; test -e /usr/share/doc || echo doc-gone"});
  ASSERT_EQ(run_it.exit_code, 0) << run_it;
  EXPECT_TRUE(contains(run_it.out, "changed by layer 2\n/opt/hpai\nlayered\ndoc-gone\n")) << run_it;
}

TEST_P(Images, OciArchiveAndDockerArchiveMatchUmoci) {
  for (const char* src : {"oci.tar", "docker.tar"}) {
    std::string name = std::string("deb:") + src;
    std::replace(name.begin(), name.end(), '.', '-');
    Result r = image({"import", fixture(src), name});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(contains(r.out, std::string(src) == "oci.tar" ? "(oci-archive, 2 layers" : "(docker-archive, 2 layers"))
        << r;
    expect_same_tree(dir_of(name), fixture("umoci-ref/rootfs"));
  }
  Result runs = run({"deb:docker-tar"});  // no command: the image's Cmd
  EXPECT_EQ(runs.exit_code, 0) << runs;
  EXPECT_EQ(runs.out, "added by layer 2\n");
}

TEST_P(Images, FlatTarGzMatchesItsSourceTree) {
  Result r = image({"import", fixture("rootfs.tar.gz")});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "rootfs: imported")) << r;
  expect_same_tree(dir_of("rootfs"), test_image("debian"));
  EXPECT_EQ(nlohmann::json::parse(image({"inspect", "--json", "rootfs"}).out)["architecture"],
            host_platform().substr(6))
      << "read from the ELF header of /bin/sh, as a flat tar has no config";
  Result run_it = run({"rootfs", "--", "cat", "/etc/debian_version"});
  EXPECT_EQ(run_it.exit_code, 0) << run_it;
}

TEST_P(Images, ListInspectExportRemove) {
  ASSERT_EQ(image({"import", fixture("oci") + ":debian", "deb"}).exit_code, 0);
  auto list = nlohmann::json::parse(image({"list", "--json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "deb");
  EXPECT_EQ(list[0]["layers"], 2);
  EXPECT_EQ(list[0]["architecture"], "amd64");
  EXPECT_TRUE(list[0]["source"]["digest"].get<std::string>().starts_with("sha256:"));
  EXPECT_GT(list[0]["size"].get<std::uint64_t>(), 100u << 20);
  Result text = image({"list"});
  EXPECT_TRUE(contains(text.out, "NAME") && contains(text.out, "deb ")) << text;
  auto insp = nlohmann::json::parse(image({"inspect", "--json", "deb"}).out);
  EXPECT_EQ(insp["config"]["WorkingDir"], "/opt/hpai");
  EXPECT_EQ(insp["config"]["Cmd"], nlohmann::json({"cat", "/opt/hpai/file"}));
  EXPECT_EQ(insp["config"]["Labels"]["org.hpai.fixture"], "yes");

  std::string out = scratch().path() + "/deb.tar.gz";
  Result ex = image({"export", "deb", out});
  ASSERT_EQ(ex.exit_code, 0) << ex;
  Result back = image({"import", out, "deb2"});
  ASSERT_EQ(back.exit_code, 0) << back;
  expect_same_tree(dir_of("deb2"), dir_of("deb"));
  EXPECT_EQ(nlohmann::json::parse(image({"inspect", "--json", "deb2"}).out)["config"]["WorkingDir"], "/opt/hpai")
      << "the exported tar carries the image's metadata";

  std::string sqfs = scratch().path() + "/deb.sqfs";
  Result sq = image({"export", "deb", sqfs});
  ASSERT_EQ(sq.exit_code, 0) << sq;
  EXPECT_GT(fs::file_size(sqfs), 10u << 20);

  std::string dir = dir_of("deb");
  Result rm = image({"rm", "deb"});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_FALSE(fs::exists(dir));
  Result again = image({"rm", "deb"});
  EXPECT_EQ(again.exit_code, 31);
  EXPECT_TRUE(contains(again.err, "no image named deb in storage")) << again;
}

TEST_P(Images, SquashfsRunsWithoutUnpacking) {
  ASSERT_EQ(image({"import", fixture("oci") + ":debian", "deb"}).exit_code, 0);
  std::string sqfs = scratch().path() + "/deb.sqfs";
  ASSERT_EQ(image({"export", "deb", sqfs}).exit_code, 0);
  // The root's file system type: this debootstrap'd image lacks /etc/hosts, so a
  // read-only skeleton layer giving the host's a mount point lies over the FUSE mount.
  Result r = run({sqfs, "--", "sh", "-c",
                  "cat /etc/motd; pwd; echo $HPAI_FIXTURE; awk '$5 == \"/\" {sub(/.* - /, \"\"); print $1}' "
                  "/proc/self/mountinfo; touch /x"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "changed by layer 2\n/opt/hpai\nlayered\noverlay\n") << r;
  EXPECT_TRUE(contains(r.err, "Read-only file system")) << r;
  // What serves it while the payload runs is squashfuse_ll, holding the file open.
  // Polled: under ASan on a loaded machine the mount can take more than a second.
  int serving = -1;
  Result held = run_as(who(), {hpai_run(), sqfs, "--", "sleep", "4"}, {}, "/", [&](pid_t) {
    for (int i = 0; i < 80 && serving < 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      serving = live_squashfuse(sqfs);
    }
  });
  EXPECT_EQ(held.exit_code, 0) << held;
  EXPECT_GE(serving, 1);
  Result w = run({"-W", sqfs, "--", "sh", "-c", "echo x > /opt/hpai/new && cat /opt/hpai/new"});
  EXPECT_EQ(w.exit_code, 0) << w;
  EXPECT_EQ(w.out, "x\n");
  Result dry = run({"--dry-run", sqfs, "--", "true"});
  EXPECT_TRUE(contains(dry.out, "cwd:         /opt/hpai")) << "the plan reads the SquashFS image's metadata\n" << dry;
  Result no_w = run({"-w", sqfs, "--", "true"});
  EXPECT_EQ(no_w.exit_code, 64) << no_w;
  EXPECT_TRUE(contains(no_w.err, "use -W for a writable overlay")) << no_w;
  // squashfuse goes away with the payload.
  for (int i = 0; i < 100 && live_squashfuse(sqfs) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(live_squashfuse(sqfs), 0);
}

TEST(SquashfsNoFuse, ClearErrorWhenDevFuseIsUnusable) {
  if (!running_as_root()) GTEST_SKIP() << "hiding /dev/fuse from the test user takes root";
  User user = test_user();
  ScratchDir dir(user);
  std::string sqfs = dir.path() + "/tiny.sqfs";
  ASSERT_EQ(run_as(user, {"mksquashfs", test_image("busybox"), sqfs, "-quiet", "-no-progress"}).exit_code, 0);
  std::string blocker = dir.path() + "/no-fuse";
  write_file(blocker, "");
  chmod(blocker.c_str(), 0600);
  // A private mount namespace where /dev/fuse is a file only root may open.
  Result r =
      run_as(root_user(),
             {"unshare", "-m", "sh", "-c",
              "mount --bind " + blocker + " /dev/fuse && exec setpriv --reuid=" + std::to_string(user.uid) +
                  " --regid=" + std::to_string(user.gid) + " --clear-groups " + hpai_run() + " " + sqfs + " -- true"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "/dev/fuse is not usable")) << r;
}

TEST_P(Images, TheUserCanDeleteUnpackedTrees) {
  ASSERT_EQ(image({"import", fixture("rootfs.tar.gz"), "deb"}).exit_code, 0);
  Result rm = run_as(who(), {"rm", "-rf", storage()});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_FALSE(fs::exists(storage()));
}

TEST_P(Images, TamperedBlobFailsAndLeavesNothing) {
  std::string layout = scratch().path() + "/oci";
  ASSERT_EQ(run_as(who(), {"cp", "-r", fixture("oci"), layout}).exit_code, 0);
  // Flip a byte in the smallest layer blob (layer 2).
  std::string smallest;
  for (const auto& e : fs::directory_iterator(layout + "/blobs/sha256"))
    if (fs::file_size(e.path()) > 10000 && (smallest.empty() || fs::file_size(e.path()) < fs::file_size(smallest)))
      smallest = e.path();
  auto flip = [&](std::streamoff at) {
    std::fstream f(smallest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    f.seekp(at);
    c = static_cast<char>(c ^ 0x55);
    f.write(&c, 1);
  };
  // Near the end the stream usually still parses and only the digest differs; in the
  // middle it usually breaks the tar. Either way the digest is what must be reported.
  for (std::streamoff at : {static_cast<std::streamoff>(fs::file_size(smallest)) - 100,
                            static_cast<std::streamoff>(fs::file_size(smallest)) / 2}) {
    flip(at);
    Result r = image({"import", layout + ":debian", "bad"});
    EXPECT_EQ(r.exit_code, 31) << r;
    EXPECT_TRUE(contains(r.err, "does not match the expected sha256:")) << r;
  }
  EXPECT_EQ(nlohmann::json::parse(image({"list", "--json"}).out).size(), 0u);
  EXPECT_TRUE(fs::is_empty(storage() + "/tmp")) << "staging left behind";
}

TEST_P(Images, TruncatedArchiveFailsCleanly) {
  std::string cut = scratch().path() + "/cut.tar.gz";
  ASSERT_EQ(run_as(who(), {"sh", "-c", "head -c 20000000 " + fixture("rootfs.tar.gz") + " > " + cut}).exit_code, 0);
  Result r = image({"import", cut, "cut"});
  EXPECT_EQ(r.exit_code, 31) << r;
  EXPECT_TRUE(contains(r.err, "truncated gzip input")) << r;
  EXPECT_FALSE(contains(image({"list"}).out, "cut"));
  EXPECT_TRUE(fs::is_empty(storage() + "/tmp"));
}

TEST_P(Images, KilledImportLeavesNoImageAndTheNextOneWorks) {
  std::string leftover;
  Result killed = run_as(who(), {hpai_image(), "import", fixture("rootfs.tar.gz"), "k"}, {"HPAI_STORAGE=" + storage()},
                         "/", [&](pid_t pid) {
                           // Wait until the import is writing into its staging directory.
                           for (int i = 0; i < 400; ++i) {
                             std::error_code ec;
                             for (const auto& e : fs::directory_iterator(storage() + "/tmp", ec))
                               if (fs::exists(e.path().string() + "/etc", ec)) leftover = e.path();
                             if (!leftover.empty()) break;
                             std::this_thread::sleep_for(std::chrono::milliseconds(5));
                           }
                           kill(pid, SIGKILL);
                         });
  ASSERT_EQ(killed.signal, SIGKILL) << killed;
  ASSERT_FALSE(leftover.empty()) << "never saw the import start";
  EXPECT_TRUE(fs::exists(leftover));
  EXPECT_EQ(nlohmann::json::parse(image({"list", "--json"}).out).size(), 0u) << "a half image is visible";
  Result again = image({"import", fixture("rootfs.tar.gz"), "k"});
  ASSERT_EQ(again.exit_code, 0) << again;
  EXPECT_FALSE(fs::exists(leftover)) << "the killed import's staging was not cleared";
  EXPECT_EQ(run({"k", "--", "cat", "/etc/debian_version"}).exit_code, 0);
}

TEST_P(Images, ConcurrentImportsOfOneNameYieldOneImage) {
  std::vector<std::string> outs(8);
  std::vector<int> codes(8, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      Result r = image({"import", fixture("oci.tar"), "same"});
      outs[static_cast<std::size_t>(i)] = r.out + r.err;
      codes[static_cast<std::size_t>(i)] = r.exit_code;
    });
  for (auto& t : threads) t.join();
  int imported = 0, reused = 0;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(codes[static_cast<std::size_t>(i)], 0) << outs[static_cast<std::size_t>(i)];
    imported += contains(outs[static_cast<std::size_t>(i)], "same: imported");
    reused += contains(outs[static_cast<std::size_t>(i)], "already imported");
  }
  EXPECT_EQ(imported, 1);
  EXPECT_EQ(reused, 7);
  expect_same_tree(dir_of("same"), fixture("umoci-ref/rootfs"));
  EXPECT_TRUE(fs::is_empty(storage() + "/tmp"));
}

TEST_P(Images, BadInputsSayWhatIsWrong) {
  Result missing = image({"import", "/no/such/file"});
  EXPECT_EQ(missing.exit_code, 31) << missing;
  EXPECT_TRUE(contains(missing.err, "can't import /no/such/file: No such file or directory")) << missing;
  std::string text = scratch().path() + "/notes.txt";
  run_as(who(), {"sh", "-c", "echo hello > " + text});
  Result not_tar = image({"import", text, "x"});
  EXPECT_EQ(not_tar.exit_code, 31) << not_tar;
  EXPECT_TRUE(contains(not_tar.err, "not a tar archive")) << not_tar;
  Result bad_name = image({"import", fixture("rootfs.tar.gz"), "../evil"});
  EXPECT_EQ(bad_name.exit_code, 64) << bad_name;
  EXPECT_TRUE(contains(bad_name.err, "invalid image name")) << bad_name;
  Result bad_tag = image({"import", fixture("oci") + ":nope"});
  EXPECT_EQ(bad_tag.exit_code, 31) << bad_tag;
  EXPECT_TRUE(contains(bad_tag.err, "no image tagged \"nope\" (it has: debian)")) << bad_tag;
  Result wrong_platform = image({"import", fixture("oci"), "x", "--platform", "linux/ppc64le"});
  EXPECT_EQ(wrong_platform.exit_code, 31) << wrong_platform;
  EXPECT_TRUE(contains(wrong_platform.err, "image is for linux/amd64, not linux/ppc64le")) << wrong_platform;
}

}  // namespace
}  // namespace hpai::test
