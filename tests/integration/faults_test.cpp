// Faults a busy cluster produces: a full disk during an import, and many launches of
// one image at once (64 separate containers, and 64 ranks joining one). Killed
// imports, killed payloads and killed join peers are tested beside their features
// (image_test, run_test, launchers_test).
#include <unistd.h>

#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

using Faults = ContainerTest;

std::string field(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key + "=")) return line.substr(key.size() + 1);
  return "";
}

// A full disk: the storage is a 48 MiB tmpfs, mounted in a user namespace of the test
// user's own (so no privilege is needed), and hpai-image runs in a nested namespace
// mapped back to the user's uid. Everything is looked at before the tmpfs goes.
TEST_P(Faults, DiskFullDuringImportFailsCleanlyAndFreesTheSpace) {
  const std::string dir = scratch().path() + "/small-disk";
  ASSERT_EQ(run_as(who(), {"mkdir", dir}).exit_code, 0);
  const std::string as_me = "unshare -U --map-user=" + std::to_string(who().uid) +
                            " --map-group=" + std::to_string(who().gid) + " -- env HPAI_STORAGE=$1 " + hpai_image();
  const std::string script = "mount -t tmpfs -o size=48m,mode=0700 tmpfs \"$1\" || exit 90\n" + as_me +
                             " import $2 big; echo big-exit=$?\n"
                             "echo tmp-left=$(ls -A \"$1/tmp\" 2>/dev/null | wc -l)\n"
                             "echo img-left=$(ls -A \"$1/img\" 2>/dev/null | wc -l)\n"
                             "echo used-kib=$(du -sk \"$1\" | cut -f1)\n" +
                             as_me + " import $3 small >/dev/null; echo small-exit=$?\n" + as_me + " list\n";
  Result r = run_as(who(), {"unshare", "-Urm", "sh", "-c", script, "sh", dir,
                            test_image("debian-oci") + "/rootfs.tar.gz", test_image("busybox")});
  ASSERT_NE(field(r.out, "big-exit"), "") << r;
  EXPECT_EQ(field(r.out, "big-exit"), "31") << r;
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r;
  EXPECT_EQ(field(r.out, "tmp-left"), "0") << "staging left behind\n" << r;
  EXPECT_EQ(field(r.out, "img-left"), "0") << "a half image is visible\n" << r;
  EXPECT_LT(std::stoi(field(r.out, "used-kib")), 1024) << "the space was not given back\n" << r;
  EXPECT_EQ(field(r.out, "small-exit"), "0") << "the next import fails\n" << r;
  EXPECT_TRUE(contains(r.out, "small")) << r;
}

// 64 launches of one image at once: each its own container (no launcher variables, so
// no join), each exits 0 with its own output in its own mount namespace, nothing is left in /dev/shm or /tmp.
TEST_P(Faults, SixtyFourConcurrentLaunches) {
  const auto shm_before = shm_files();
  constexpr int kN = 64;
  std::vector<Result> results(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          hpai({test_image("busybox"), "--", "sh", "-c",
                "echo launch-" + std::to_string(i) + " $(readlink /proc/self/ns/mnt)"});
    });
  for (auto& t : threads) t.join();
  char host_ns[64] = {};
  ASSERT_GT(readlink("/proc/self/ns/mnt", host_ns, sizeof host_ns - 1), 0);
  for (int i = 0; i < kN; ++i) {
    const Result& r = results[static_cast<std::size_t>(i)];
    EXPECT_EQ(r.exit_code, 0) << "launch " << i << ": " << r;
    const std::string tag = "launch-" + std::to_string(i) + " ";
    ASSERT_TRUE(r.out.starts_with(tag)) << r;
    // Namespace ids are reused once a container is gone, so only "not the host's" holds.
    EXPECT_NE(r.out.substr(tag.size()), std::string(host_ns) + "\n") << r;
  }
  EXPECT_EQ(shm_files(), shm_before);
}

// 64 ranks of one job on one node joining a single container: one namespace, every
// rank runs, the keeper serves them all.
TEST_P(Faults, SixtyFourRanksJoinOneContainer) {
  const auto shm_before = shm_files();
  constexpr int kN = 64;
  const std::string tag = "faults64-" + std::to_string(getpid()) + (GetParam() == As::Root ? "r" : "u");
  std::vector<Result> results(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          hpai({"--join-ct=" + std::to_string(kN), "--join-tag=" + tag, test_image("busybox"), "--", "sh", "-c",
                "echo ns $(readlink /proc/self/ns/user)"});
    });
  for (auto& t : threads) t.join();
  std::set<std::string> user_namespaces;
  for (int i = 0; i < kN; ++i) {
    const Result& r = results[static_cast<std::size_t>(i)];
    EXPECT_EQ(r.exit_code, 0) << "rank " << i << ": " << r;
    if (r.out.starts_with("ns ")) user_namespaces.insert(r.out);
  }
  EXPECT_EQ(user_namespaces.size(), 1u);
  EXPECT_EQ(shm_files(), shm_before);
}

INSTANTIATE_TEST_SUITE_P(, Faults, ::testing::Values(As::Unprivileged, As::Root), as_name);

}  // namespace
}  // namespace hpai::test
