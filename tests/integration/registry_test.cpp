// hpai-image pull against real registries on loopback (tests/registry/: docker-registry
// with TLS and htpasswd, one behind a token server, one on plain HTTP, and a server
// that misbehaves on purpose), as the test user and as root: auth flows, multi-arch
// indexes, the shared blob cache, resumes, retries, and failures that leave nothing.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace hpai::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// $HPAI_TEST_REGISTRY_DIR: a fixture started elsewhere (registry-fixture.py start DIR).
std::string registry_dir() { return env_or("HPAI_TEST_REGISTRY_DIR", HPAI_TEST_REGISTRY_DIR); }

const json& fixture() {
  static const json doc = [] {
    std::ifstream in(registry_dir() + "/fixture.json");
    return in ? json::parse(in) : json();
  }();
  return doc;
}

class Pull : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped()) return;
    // No fixture is a failure where it could have started (the suite's fixture test
    // failed, or ran after us); a machine without docker-registry skips.
    if (fixture().is_null() && access("/usr/bin/docker-registry", X_OK) != 0)
      GTEST_SKIP() << "docker-registry is not installed (apt-get install docker-registry)";
    ASSERT_FALSE(fixture().is_null()) << "no registry fixture " << registry_dir() << "/fixture.json: see ctest's "
                                      << "fixture.registry.start";
    run_as(who(), {"mkdir", "-p", scratch().path() + "/docker"});
  }
  std::string host(const char* server) { return fixture()[server]["host"].get<std::string>(); }
  std::string password(const char* server) { return fixture()[server]["password"].get<std::string>(); }
  std::string ref(const char* server, const char* image) {
    const json& i = fixture()["images"][image];
    return host(server) + "/" + i["repository"].get<std::string>() + ":" + i["tag"].get<std::string>();
  }
  std::string digest(const char* image) { return fixture()["images"][image]["manifest_digest"]; }
  std::vector<std::string> env(bool with_ca = true) {
    std::vector<std::string> e = {"HPAI_STORAGE=" + storage(), "DOCKER_CONFIG=" + scratch().path() + "/docker"};
    if (with_ca) e.push_back("SSL_CERT_FILE=" + fixture()["ca"].get<std::string>());
    return e;
  }
  Result pull(std::vector<std::string> args, bool with_ca = true) {
    args.insert(args.begin(), {hpai_image(), "pull"});
    return run_as(who(), args, env(with_ca), "/", {}, 300);
  }
  Result tool(std::vector<std::string> args) {
    args.insert(args.begin(), hpai_image());
    return run_as(who(), args, env(), "/", {}, 300);
  }
  Result login(const char* server, const std::string& pw) {
    return run_as(who(),
                  {"sh", "-c", "printf '%s\\n' \"$1\" | \"$2\" login -u hpai --password-stdin \"$3\"", "sh", pw,
                   hpai_image(), host(server)},
                  env(), "/", {}, 120);
  }
  Result run(const std::string& image, const std::vector<std::string>& cmd, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {hpai_run()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(image);
    argv.push_back("--");
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return run_as(who(), argv, env(), "/", {}, 300);
  }
  json counts(const char* server) {
    Result r = run_as(who(), {"curl", "-s", "--cacert", fixture()["ca"].get<std::string>(),
                              fixture()[server]["counts_url"].get<std::string>()});
    return json::parse(r.out);
  }
  void reset(const char* server) {
    run_as(who(), {"curl", "-s", "-X", "POST", "--cacert", fixture()["ca"].get<std::string>(),
                   fixture()[server]["reset_url"].get<std::string>()});
  }
  int blob_gets(const char* server, const std::string& blob) {
    int n = 0;
    const json all = counts(server);
    for (const auto& [k, v] : all.items())
      if (k.starts_with("GET ") && k.ends_with("/blobs/" + blob)) n += v.get<int>();
    return n;
  }
  std::vector<std::string> files(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
    return out;
  }
  // Nothing half-made: no image, no staging, no partial blob.
  void expect_nothing_left(const std::string& name) {
    EXPECT_FALSE(fs::exists(storage() + "/img/" + name)) << name;
    EXPECT_TRUE(files(storage() + "/tmp").empty());
    EXPECT_TRUE(files(storage() + "/blobs/partial").empty());
  }
};

TEST_P(Pull, BasicAuthRegistryWantsALoginThenPullsAndRuns) {
  const std::string r = ref("basic", "busybox");
  Result anon = pull({r});
  EXPECT_NE(anon.exit_code, 0) << anon;
  EXPECT_TRUE(contains(anon.err, "not authorized") && contains(anon.err, "hpai-image login " + host("basic"))) << anon;
  EXPECT_TRUE(contains(anon.err, "hpai/busybox")) << anon;  // names the repository

  Result bad = login("basic", "wrong");
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_FALSE(fs::exists(scratch().path() + "/docker/config.json"));

  Result in = login("basic", password("basic"));
  ASSERT_EQ(in.exit_code, 0) << in;
  struct stat st {};
  ASSERT_EQ(stat((scratch().path() + "/docker/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, who().uid);
  json cfg = json::parse(read_file(scratch().path() + "/docker/config.json"));
  EXPECT_TRUE(cfg["auths"].contains(host("basic"))) << cfg.dump();

  Result ok = pull({r});
  ASSERT_EQ(ok.exit_code, 0) << ok;
  EXPECT_TRUE(contains(ok.out, digest("busybox"))) << ok;
  Result out = run(r, {"/bin/sh", "-c", "echo pulled=$HPAI_PULLED"}, {"-v"});
  EXPECT_EQ(out.exit_code, 0) << out;
  EXPECT_TRUE(contains(out.out, "pulled=yes")) << out;
  EXPECT_TRUE(contains(out.err, r + " " + digest("busybox"))) << out;  // -v: which image ran
  Result plan = run(r, {"/bin/true"}, {"--dry-run"});
  EXPECT_TRUE(contains(plan.out, "source:      " + r + " (registry, " + digest("busybox") + ")")) << plan;
  // The digest is in the metadata, inspect and list show it.
  Result inspect = tool({"inspect", "--json", r});
  ASSERT_EQ(inspect.exit_code, 0) << inspect;
  EXPECT_TRUE(contains(inspect.out, digest("busybox"))) << inspect;
  EXPECT_TRUE(contains(inspect.out, "registry")) << inspect;
  // Again: the digest is the same, nothing is fetched or unpacked.
  Result again = pull({r});
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_TRUE(contains(again.out, "up to date")) << again;

  Result out_ = tool({"logout", host("basic")});
  EXPECT_EQ(out_.exit_code, 0) << out_;
  cfg = json::parse(read_file(scratch().path() + "/docker/config.json"));
  EXPECT_FALSE(cfg["auths"].contains(host("basic"))) << cfg.dump();
}

TEST_P(Pull, CredentialsFileMustBePrivate) {
  const std::string file = scratch().path() + "/creds.json";
  const std::string auth =
      run_as(who(), {"sh", "-c", "printf 'hpai:%s' \"$1\" | base64 -w0", "sh", password("basic")}).out;
  write_file(file, "{\"auths\": {\"" + host("basic") + "\": {\"auth\": \"" + auth + "\"}}}");
  run_as(root_user(), {"chown", std::to_string(who().uid), file});
  run_as(root_user(), {"chmod", "644", file});
  Result open = pull({"--creds-file", file, ref("basic", "busybox")});
  EXPECT_NE(open.exit_code, 0) << open;
  EXPECT_TRUE(contains(open.err, "chmod 600")) << open;
  run_as(root_user(), {"chmod", "600", file});
  Result ok = pull({"--creds-file", file, ref("basic", "busybox")});
  EXPECT_EQ(ok.exit_code, 0) << ok;
}

TEST_P(Pull, TokenRealmAnonymousForPublicAndLoginForPrivateOneTokenPerPull) {
  const std::string pub = ref("token", "busybox-public");
  reset("token");
  Result ok = pull({pub});
  ASSERT_EQ(ok.exit_code, 0) << ok;
  // One token for the manifest, the config and the layer: cached per scope.
  EXPECT_EQ(counts("token").value("GET /token", 0), 1) << counts("token").dump();

  const std::string priv = host("token") + "/hpai/busybox:1";
  Result anon = pull({priv});
  EXPECT_NE(anon.exit_code, 0) << anon;
  EXPECT_TRUE(contains(anon.err, "hpai-image login")) << anon;
  Result bad = login("token", "wrong");
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_TRUE(contains(bad.err, "refused")) << bad;
  ASSERT_EQ(login("token", password("token")).exit_code, 0);
  Result mine = pull({priv});
  EXPECT_EQ(mine.exit_code, 0) << mine;
}

TEST_P(Pull, MultiArchIndexPicksThePlatformOrListsThem) {
  for (const char* image : {"multi", "multi-docker"}) {
    SCOPED_TRACE(image);
    ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
    const std::string r = ref("basic", image);
    Result here = pull({r});
    ASSERT_EQ(here.exit_code, 0) << here;
    EXPECT_TRUE(contains(here.out, "linux/amd64")) << here;
    EXPECT_EQ(run(r, {"/bin/sh", "-c", "echo hello"}).out, "hello\n");

    Result ppc = pull({"--arch", "ppc64le", r, std::string("ppc-") + image});
    ASSERT_EQ(ppc.exit_code, 0) << ppc;
    const std::string dir = storage() + "/img/ppc-" + image;
    const std::string hello = read_file(dir + "/bin/hello");
    ASSERT_GT(hello.size(), 20u);
    EXPECT_EQ(hello.substr(0, 4),
              "\x7f"
              "ELF");
    EXPECT_EQ(static_cast<unsigned char>(hello[18]), 21);  // e_machine EM_PPC64, little endian
    EXPECT_TRUE(contains(tool({"inspect", std::string("ppc-") + image}).out, "ppc64le"));

    Result arm = pull({"--arch", "arm64", r, std::string("arm-") + image});
    ASSERT_EQ(arm.exit_code, 0) << arm;
    EXPECT_EQ(read_file(storage() + "/img/arm-" + image + "/etc/arch"), "arm64\n");

    Result none = pull({"--arch", "s390x", r, "none"});
    EXPECT_NE(none.exit_code, 0) << none;
    EXPECT_TRUE(contains(none.err, "linux/s390x") && contains(none.err, "linux/amd64") &&
                contains(none.err, "linux/arm64/v8") && contains(none.err, "linux/ppc64le"))
        << none;
  }
}

TEST_P(Pull, DockerSchema2AndPinnedDigests) {
  ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
  Result d = pull({ref("basic", "busybox-docker")});
  EXPECT_EQ(d.exit_code, 0) << d;
  const std::string pinned = host("basic") + "/hpai/busybox@" + digest("busybox");
  Result p = pull({pinned});
  ASSERT_EQ(p.exit_code, 0) << p;
  EXPECT_EQ(run(pinned, {"/bin/true"}).exit_code, 0);
  const std::string wrong = host("basic") + "/hpai/busybox@sha256:" + std::string(64, 'a');
  Result w = pull({wrong});
  EXPECT_NE(w.exit_code, 0) << w;
  EXPECT_TRUE(contains(w.err, "not found")) << w;
}

TEST_P(Pull, PlainHttpOnlyWithInsecureAndTlsNeedsTheSiteCa) {
  const std::string r = ref("plain", "busybox");
  Result tls = pull({r});
  EXPECT_NE(tls.exit_code, 0) << tls;
  Result ok = pull({"--insecure", r});
  EXPECT_EQ(ok.exit_code, 0) << ok;
  Result hub = pull({"--insecure", "debian:12"});
  EXPECT_EQ(hub.exit_code, 64) << hub;
  Result no_ca = pull({"--creds-file", "/nonexistent", ref("basic", "busybox")}, false);
  EXPECT_NE(no_ca.exit_code, 0) << no_ca;
  EXPECT_TRUE(contains(no_ca.err, "--ca-cert")) << no_ca;
  // A CA path is read as the project reads any file: bounded, regular files only.
  const std::string fifo = scratch().path() + "/ca.fifo", link = scratch().path() + "/ca.link";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  ASSERT_EQ(symlink("/nonexistent/ca.crt", link.c_str()), 0);
  for (const std::string& bad : {std::string("/dev/zero"), fifo, link}) {
    Result b = pull({"--ca-cert", bad, ref("basic", "busybox")});
    EXPECT_NE(b.exit_code, 0) << bad << b;
    EXPECT_TRUE(contains(b.err, "CA bundle " + bad)) << b;
  }
}

TEST_P(Pull, ProxiesFromTheEnvironmentAndDockerHubMirrors) {
  ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
  const std::string r = ref("basic", "busybox");
  std::vector<std::string> e = env();
  e.push_back("https_proxy=http://127.0.0.1:9");  // nothing listens: the proxy is asked, and fails
  Result proxied = run_as(who(), {hpai_image(), "pull", r}, e, "/", {}, 300);
  EXPECT_NE(proxied.exit_code, 0) << proxied;
  EXPECT_TRUE(contains(proxied.err, "https_proxy")) << proxied;
  e.push_back("no_proxy=127.0.0.1");
  Result direct = run_as(who(), {hpai_image(), "pull", r}, e, "/", {}, 300);
  EXPECT_EQ(direct.exit_code, 0) << direct;
  // Through a real CONNECT proxy (tests/registry/connect_proxy.py; it lives as long as
  // its stdin, our pipe).
  const std::string port_file = scratch().path() + "/proxy.port", log = scratch().path() + "/proxy.log";
  FILE* proxy = popen(("/usr/bin/python3 " + std::string(HPAI_TEST_SOURCE_DIR) + "/tests/registry/connect_proxy.py " +
                       port_file + " " + log)
                          .c_str(),
                      "w");
  ASSERT_NE(proxy, nullptr);
  for (int i = 0; i < 100 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(port_file));
  std::vector<std::string> through = env();
  through.push_back("https_proxy=http://127.0.0.1:" + read_file(port_file));
  Result tunnelled = run_as(who(), {hpai_image(), "pull", "--force", r}, through, "/", {}, 300);
  pclose(proxy);
  EXPECT_EQ(tunnelled.exit_code, 0) << tunnelled;
  EXPECT_TRUE(contains(read_file(log), "CONNECT " + host("basic"))) << read_file(log);

  if (!fixture()["images"].contains("busybox-hub")) GTEST_SKIP() << "fixture has no library/busybox";
  Result mirrored = pull({"--registry-mirror", host("basic"), "busybox:1"});
  ASSERT_EQ(mirrored.exit_code, 0) << mirrored;
  EXPECT_TRUE(contains(mirrored.out, "busybox:1: pulled docker.io/library/busybox:1")) << mirrored;
  EXPECT_EQ(run("busybox:1", {"/bin/true"}).exit_code, 0);
  EXPECT_EQ(run("docker.io/library/busybox:1", {"/bin/true"}).exit_code, 0);  // the reference finds it too
}

TEST_P(Pull, SharedBaseLayersAreFetchedOnceAndGcKeepsWhatImagesUse) {
  if (!fixture()["images"].contains("debian-extra")) GTEST_SKIP() << "fixture has no debian images";
  ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
  Result a = pull({ref("basic", "debian")});
  ASSERT_EQ(a.exit_code, 0) << a;
  EXPECT_TRUE(contains(a.out, "2 layers, 2 fetched")) << a;
  Result b = pull({ref("basic", "debian-extra")});
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_TRUE(contains(b.out, "3 layers, 1 fetched")) << b;
  EXPECT_TRUE(contains(b.out, "2 cached")) << b;
  EXPECT_TRUE(contains(b.err, "already in the blob cache")) << b;  // the batch log's line per layer
  EXPECT_EQ(files(storage() + "/blobs/sha256").size(), 5u);        // 3 layers, 2 configs

  ASSERT_EQ(tool({"rm", ref("basic", "debian-extra")}).exit_code, 0);
  Result gc = tool({"gc"});
  ASSERT_EQ(gc.exit_code, 0) << gc;
  EXPECT_TRUE(contains(gc.out, "removed 2 blob(s)")) << gc;
  EXPECT_EQ(files(storage() + "/blobs/sha256").size(), 3u);
  EXPECT_EQ(run(ref("basic", "debian"), {"/bin/true"}).exit_code, 0);
}

TEST_P(Pull, TwoPullsAtOnceFetchEachBlobOnce) {
  const std::string r = host("faulty") + "/slow/busybox:1";
  const std::string layer = fixture()["images"]["busybox"]["layers"][0];
  reset("faulty");
  Result one, two;
  std::thread t([&] { one = pull({r, "one"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  two = pull({r, "two"});
  t.join();
  EXPECT_EQ(one.exit_code, 0) << one;
  EXPECT_EQ(two.exit_code, 0) << two;
  EXPECT_EQ(blob_gets("faulty", layer), 1) << counts("faulty").dump();
}

TEST_P(Pull, ATerminalGetsABarPerLayerAndATotal) {
  const std::string r = host("faulty") + "/slow/busybox:1";
  // script(1) gives the pull a terminal; what it drew comes back on stdout.
  Result t = run_as(who(), {"script", "-qec", hpai_image() + " pull " + r + " bar", "/dev/null"}, env(), "/", {}, 300);
  ASSERT_EQ(t.exit_code, 0) << t;
  EXPECT_TRUE(contains(t.out, "sha256:")) << t;
  EXPECT_TRUE(contains(t.out, "fetching")) << t;
  EXPECT_TRUE(contains(t.out, "total ")) << t;
  EXPECT_TRUE(contains(t.out, "MiB/s") || contains(t.out, "KiB/s")) << t;
  EXPECT_TRUE(contains(t.out, "\x1b[1A")) << t;                     // redrawn in place
  EXPECT_FALSE(contains(t.out, "already in the blob cache")) << t;  // no log lines on a terminal
}

TEST_P(Pull, RanksOfANodeWithPullAskTheRegistryOnce) {
  const std::string r = host("faulty") + "/ok/busybox:1";
  reset("faulty");
  std::vector<std::thread> ranks;
  std::vector<Result> results(8);
  for (int i = 0; i < 8; ++i) ranks.emplace_back([&, i] { results[i] = run(r, {"/bin/true"}, {"--pull"}); });
  for (auto& t : ranks) t.join();
  for (const auto& res : results) EXPECT_EQ(res.exit_code, 0) << res;
  EXPECT_EQ(counts("faulty").value("GET /v2/ok/busybox/manifests/1", 0), 1) << counts("faulty").dump();
}

// The Slurm plugin with a registry reference: the node's first task pulls it, once,
// and all tasks run in it (the suite's cluster loads the plugin: slurm_plugin_test.cpp).
TEST_P(Pull, SrunContainerImageFromARegistryIsPulledOncePerNode) {
  if (std::string(HPAI_TEST_SPANK_PLUGIN).empty() || access(HPAI_TEST_SLURM_CONF, R_OK) != 0)
    GTEST_SKIP() << "no test Slurm cluster with hpai's plugin";
  const std::string r = host("faulty") + "/ok/busybox:1";
  reset("faulty");
  std::vector<std::string> e = env();
  e.push_back(std::string("SLURM_CONF=") + HPAI_TEST_SLURM_CONF);
  Result res =
      run_as(who(), {"srun", "-n", "4", "--container-image=" + r, "sh", "-c", "echo task $SLURM_PROCID $CH_RUNNING"}, e,
             scratch().path(), {}, 300);
  ASSERT_EQ(res.exit_code, 0) << res;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(contains(res.out, "task " + std::to_string(i) + " hpai\n")) << res;
  EXPECT_EQ(counts("faulty").value("GET /v2/ok/busybox/manifests/1", 0), 1) << counts("faulty").dump();
  // Stored: the next step asks the registry nothing.
  reset("faulty");
  res = run_as(who(), {"srun", "-n", "2", "--container-image=" + r, "true"}, e, scratch().path(), {}, 300);
  EXPECT_EQ(res.exit_code, 0) << res;
  EXPECT_EQ(counts("faulty").value("GET /v2/ok/busybox/manifests/1", 0), 0) << counts("faulty").dump();
}

TEST_P(Pull, BrokenConnectionsResumeAndRateLimitsAreWaitedOut) {
  const std::string layer = fixture()["images"]["busybox"]["layers"][0];
  for (const char* behaviour : {"drop", "norange"}) {
    SCOPED_TRACE(behaviour);
    reset("faulty");
    Result r = pull({host("faulty") + "/" + behaviour + "/busybox:1", behaviour});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(blob_gets("faulty", layer), 2) << counts("faulty").dump();
    EXPECT_EQ(run(behaviour, {"/bin/true"}).exit_code, 0);
    ASSERT_EQ(tool({"rm", behaviour}).exit_code, 0);
    ASSERT_EQ(tool({"gc"}).exit_code, 0);
  }
  reset("faulty");
  const auto start = std::chrono::steady_clock::now();
  Result limited = pull({host("faulty") + "/ratelimit/busybox:1", "limited"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(limited.exit_code, 0) << limited;
  EXPECT_GE(took, 2.0);  // Retry-After: 1, twice for the manifest alone
}

TEST_P(Pull, BrokenRegistriesFailWithTheCauseAndLeaveNothing) {
  struct Case {
    const char* repo;
    const char* says;
  } cases[] = {
      {"baddigest/busybox:1", "not the sha256:"},
      {"schema1/busybox:1", "schema 1"},
      {"auth401/busybox:1", "not authorized"},
      {"forbidden/busybox:1", "access denied"},
      {"missing/busybox:1", "not found"},
      {"nosize/busybox:1", "layer 1 has no size in the manifest"},
      {"bigmanifest/busybox:1", "larger than 4194304 bytes"},
      {"endless/busybox:1", "HTTP 500"},
      {"escape/busybox:1", "\\x1b]0;PWNED\\x07\\x1b[2Jall good"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.repo);
    const auto start = std::chrono::steady_clock::now();
    Result r = pull({host("faulty") + "/" + c.repo, "broken"});
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));  // no server holds a pull
    EXPECT_NE(r.exit_code, 0) << r;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r;  // no terminal escape gets through
    EXPECT_TRUE(contains(r.err, c.says)) << r;
    EXPECT_TRUE(contains(r.err, host("faulty"))) << r;
    expect_nothing_left("broken");
  }
  const std::string bad_layer = fixture()["images"]["busybox"]["layers"][0];
  EXPECT_FALSE(fs::exists(storage() + "/blobs/sha256/" + bad_layer.substr(7)));
}

TEST_P(Pull, AKilledPullLeavesNoImageAndTheNextOneFinishes) {
  const std::string r = host("faulty") + "/slow/busybox:1";
  pid_t child = 0;
  std::thread killer;
  Result killed = run_as(who(), {hpai_image(), "pull", r, "k"}, env(), "/", [&](pid_t pid) {
    child = pid;
    killer = std::thread([pid] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      kill(pid, SIGKILL);
    });
  });
  killer.join();
  EXPECT_EQ(killed.signal, SIGKILL) << killed;
  EXPECT_FALSE(fs::exists(storage() + "/img/k"));
  EXPECT_TRUE(files(storage() + "/blobs/sha256").size() <= 1u);  // the config at most
  Result again = pull({r, "k"});
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_TRUE(files(storage() + "/blobs/partial").empty());
}

TEST_P(Pull, StraightToSquashfsAndRunWithPull) {
  ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
  const std::string sqfs = scratch().path() + "/busybox.sqfs";
  Result s = pull({"--squashfs", sqfs, ref("basic", "busybox")});
  ASSERT_EQ(s.exit_code, 0) << s;
  EXPECT_TRUE(fs::is_regular_file(sqfs));
  EXPECT_TRUE(files(storage() + "/img").empty());
  EXPECT_TRUE(files(storage() + "/tmp").empty());
  Result on = run(sqfs, {"/bin/sh", "-c", "echo from-sqfs"});
  EXPECT_EQ(on.exit_code, 0) << on;
  EXPECT_EQ(on.out, "from-sqfs\n");

  const std::string r = ref("basic", "busybox-docker");
  Result without = run(r, {"/bin/true"});
  EXPECT_NE(without.exit_code, 0) << without;
  EXPECT_TRUE(contains(without.err, "hpai-image pull")) << without;
  Result dry = run(r, {"/bin/true"}, {"--pull", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_TRUE(contains(dry.out, "hpai-image pull would fetch it")) << dry;
  EXPECT_TRUE(files(storage() + "/img").empty());  // a dry run fetches nothing
  // A file that isn't there is never taken for a Docker Hub image of that name.
  Result file = run("proj/app.sqfs", {"/bin/true"}, {"--pull"});
  EXPECT_NE(file.exit_code, 0) << file;
  EXPECT_TRUE(contains(file.err, "no such file")) << file;
  EXPECT_FALSE(contains(file.err, "docker.io")) << file;
  Result with = run(r, {"/bin/sh", "-c", "echo pulled-and-ran"}, {"--pull"});
  EXPECT_EQ(with.exit_code, 0) << with;
  EXPECT_TRUE(contains(with.out, "pulled-and-ran")) << with;
}

TEST_P(Pull, DiskFullFailsCleanly) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to mount a small tmpfs";
  if (!fixture()["images"].contains("debian")) GTEST_SKIP() << "fixture has no debian images";
  ASSERT_EQ(login("basic", password("basic")).exit_code, 0);
  // 8 MiB: the layers (60 MiB compressed) don't fit, said before anything is fetched.
  // 80 MiB: they do, the unpacked tree (160 MiB) doesn't.
  for (const char* size : {"8m", "80m"}) {
    SCOPED_TRACE(size);
    run_as(root_user(), {"mkdir", "-p", storage()});
    ASSERT_EQ(run_as(root_user(),
                     {"mount", "-t", "tmpfs", "-o",
                      std::string("size=") + size + ",mode=0700,uid=" + std::to_string(who().uid), "tmpfs", storage()})
                  .exit_code,
              0);
    Result r = pull({ref("basic", "debian")});
    EXPECT_NE(r.exit_code, 0) << r;
    EXPECT_TRUE(contains(r.err, std::string(size) == "8m" ? "has 8.0 MiB free" : "No space left on device")) << r;
    EXPECT_TRUE(files(storage() + "/blobs/partial").empty());
    EXPECT_TRUE(files(storage() + "/img").empty());
    EXPECT_TRUE(files(storage() + "/tmp").empty());
    run_as(root_user(), {"umount", storage()});
  }
}

INSTANTIATE_TEST_SUITE_P(, Pull, ::testing::Values(As::Unprivileged, As::Root), as_name);

}  // namespace
}  // namespace hpai::test
