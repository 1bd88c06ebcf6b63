// Registry authentication: WWW-Authenticate challenges as registries send them,
// token requests, and credentials from docker's config file (and its refusal to
// read one others can open).
#include "hpai/registry/auth.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "hpai/base/error.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

TEST(WwwAuthenticate, BearerAsDistributionSendsIt) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c[0].param("service"), "registry.docker.io");
  EXPECT_EQ(c[0].param("scope"), "repository:library/debian:pull");
  EXPECT_EQ(token_request_url(c[0], {}),
            "https://auth.docker.io/"
            "token?service=registry.docker.io&scope=repository%3Alibrary%"
            "2Fdebian%3Apull");
  EXPECT_EQ(token_request_url(c[0], {pull_scope("a/b"), pull_scope("c")}),
            "https://auth.docker.io/"
            "token?service=registry.docker.io&scope=repository%3Aa%2Fb%3Apull&"
            "scope=repository%3Ac%3Apull");
}

TEST(WwwAuthenticate, QuotesCommasEscapesAndSeveralChallenges) {
  auto c = parse_www_authenticate(
      R"(Basic realm="Registry, \"Realm\"" , bearer Realm=https://t.example/token?x=1, error="insufficient_scope")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].param("realm"), R"(Registry, "Realm")");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].param("realm"), "https://t.example/token?x=1");
  EXPECT_EQ(c[1].param("error"), "insufficient_scope");
  EXPECT_EQ(token_request_url(c[1], {"s"}), "https://t.example/token?x=1&scope=s");
  EXPECT_EQ(parse_www_authenticate(R"(Bearer realm="a",,service="b")")[0].param("service"),
            "b");  // empty elements
  EXPECT_THROW(token_request_url(parse_www_authenticate(R"(Bearer realm="https://a/token#x")")[0], {}), Error);
  EXPECT_THROW(token_request_url(parse_www_authenticate(R"(Bearer realm="https://a/to ken")")[0], {}), Error);
  EXPECT_THROW(parse_www_authenticate(R"(Bearer realm="open)"), Error);
  EXPECT_THROW(parse_www_authenticate(""), Error);
  EXPECT_THROW(token_request_url(parse_www_authenticate("Bearer service=x")[0], {}),
               Error);  // no realm
  EXPECT_THROW(token_request_url(parse_www_authenticate("Bearer realm=file:///etc/passwd")[0], {}), Error);
}

class Credentials : public ::testing::Test {
 protected:
  std::string write(const std::string& json, mode_t mode = 0600) {
    const std::string path = dir_.path() + "/config.json";
    std::ofstream(path) << json;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  test::TempDir dir_;
};

TEST_F(Credentials, DockerLoginEntriesByEveryKeyDockerWrites) {
  // "alice:s3cr:t" and "bob:pw" in base64, as docker login writes them.
  const std::string file = write(R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcjp0"},
      "localhost:5000": {"auth": "Ym9iOnB3"},
      "https://ghcr.io/": {"username": "carol", "password": "tok"},
      "quay.io": {"identitytoken": "refresh"}}})");
  auto hub = find_credentials(file, "docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "alice");
  EXPECT_EQ(hub->password, "s3cr:t");  // only the first ':' separates
  auto local = find_credentials(file, "localhost:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "bob");
  EXPECT_EQ(local->password, "pw");
  EXPECT_EQ(find_credentials(file, "ghcr.io")->password, "tok");
  EXPECT_EQ(find_credentials(file, "quay.io")->identity_token, "refresh");
  EXPECT_FALSE(find_credentials(file, "nvcr.io"));
  EXPECT_FALSE(find_credentials(dir_.path() + "/missing.json", "docker.io"));
  EXPECT_EQ(docker_config_path("/home/u", ""), "/home/u/.docker/config.json");
  EXPECT_EQ(docker_config_path("/home/u", "/cfg"), "/cfg/config.json");
}

TEST_F(Credentials, AFileOthersCanOpenOrABrokenEntryIsRefused) {
  try {
    find_credentials(write(R"({"auths": {}})", 0644), "docker.io");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is open to others (mode 644): chmod 600"), std::string::npos) << e.what();
  }
  EXPECT_THROW(find_credentials(write(R"({"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}})"), "r.io"),
               Error);  // "nocolon"
  EXPECT_THROW(find_credentials(write(R"({"auths": {"r.io": {"auth": "!!!"}}})"), "r.io"), Error);
  for (const char* loose : {"YTpiYw==    ", "YQ==YTpi", "YWJj====", "YTpi\nYw=="})  // padding inside, spaces
    EXPECT_THROW(find_credentials(write(std::string(R"({"auths": {"r.io": {"auth": ")") + loose + R"("}}})"), "r.io"),
                 Error)
        << loose;
  EXPECT_EQ(find_credentials(write(R"({"auths": {"r.io": {"auth": "YTpiYw=="}}})"), "r.io")->password, "bc");
  EXPECT_THROW(find_credentials(write("[1]"), "r.io"), Error);
  // A symlink to the user's own private file is followed; the file's own mode
  // counts.
  const std::string real = write(R"({"auths": {"r.io": {"auth": "YTpiYw=="}}})");
  const std::string link = dir_.path() + "/link.json";
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  EXPECT_EQ(find_credentials(link, "r.io")->username, "a");
  // A relative symlink too; a dangling one is no file (no credentials); a FIFO
  // or a device in its place is refused at once, never read (no hang, no
  // endless read).
  const std::string rel = dir_.path() + "/rel.json";
  ASSERT_EQ(symlink("config.json", rel.c_str()), 0);
  EXPECT_EQ(find_credentials(rel, "r.io")->username, "a");
  const std::string dangling = dir_.path() + "/dangling.json";
  ASSERT_EQ(symlink("/nonexistent/config.json", dangling.c_str()), 0);
  EXPECT_FALSE(find_credentials(dangling, "r.io"));
  const std::string fifo = dir_.path() + "/fifo.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(find_credentials(fifo, "r.io"), Error);
  const std::string zero = dir_.path() + "/zero.json";
  ASSERT_EQ(symlink("/dev/zero", zero.c_str()), 0);
  EXPECT_THROW(find_credentials(zero, "r.io"), Error);
  EXPECT_EQ(find_credentials(real, "r.io")->password,
            "bc");  // the file itself is left as it was
  // A helper holds it: anonymous, with a warning.
  EXPECT_FALSE(find_credentials(write(R"({"credsStore": "desktop"})"), "r.io"));
}

TEST_F(Credentials, LoginFilesThemAsDockerDoesAndKeepsTheRest) {
  const std::string file = write(R"({"auths": {"https://index.docker.io/v1/": {"auth": "YTpi"},
      "ghcr.io": {"auth": "YTpi"}}, "credHelpers": {"gcr.io": "gcloud"}, "psFormat": "x"})");
  store_credentials(file, "docker.io", "alice", "pw:with:colons");
  store_credentials(file, "localhost:5000", "bob", "pw");
  store_credentials(file, "localhost:5000", "bob", "new");  // replaced, not added
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(find_credentials(file, "docker.io")->password, "pw:with:colons");
  EXPECT_EQ(find_credentials(file, "localhost:5000")->password, "new");
  EXPECT_EQ(find_credentials(file, "ghcr.io")->username, "a");
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("https://index.docker.io/v1/"), std::string::npos) << text;  // Docker Hub's key, once
  EXPECT_EQ(text.find("https://index.docker.io/v1/"), text.rfind("https://index.docker.io/v1/")) << text;
  EXPECT_NE(text.find("psFormat"), std::string::npos) << text;
  EXPECT_NE(text.find("gcloud"), std::string::npos) << text;
  EXPECT_TRUE(erase_credentials(file, "registry-1.docker.io"));  // however Docker Hub is spelled
  EXPECT_FALSE(find_credentials(file, "docker.io"));
  EXPECT_FALSE(erase_credentials(file, "docker.io"));
  EXPECT_THROW(store_credentials(file, "r.io", "a:b", "pw"), Error);
  // A new file in a new directory: both private.
  const std::string fresh = dir_.path() + "/new/config.json";
  store_credentials(fresh, "r.io", "u", "p");
  ASSERT_EQ(stat((dir_.path() + "/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(find_credentials(fresh, "r.io")->password, "p");
  // A symlinked config.json stays a link; its target gets the entry.
  const std::string link = dir_.path() + "/linked.json";
  ASSERT_EQ(symlink(file.c_str(), link.c_str()), 0);
  store_credentials(link, "l.io", "u", "p");
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(find_credentials(file, "l.io")->password, "p");
  EXPECT_EQ(basic_authorization("a", "b"), "Basic YTpi");
  EXPECT_EQ(encode_base64(""), "");
  EXPECT_EQ(encode_base64("ab"), "YWI=");
}

}  // namespace
}  // namespace hpai
