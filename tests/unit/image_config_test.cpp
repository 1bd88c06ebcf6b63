// An image's configuration: hpai's metadata round trip, Charliecloud's environment file,
// and malformed metadata.
#include "hpai/image/image_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpai/base/error.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

namespace fs = std::filesystem;

class ImageConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = tmp_.path(); }
  test::TempDir tmp_;
  std::string root_;
};

TEST_F(ImageConfigTest, RoundTrip) {
  ImageConfig c;
  c.env = {"PATH=/usr/bin", "A=b=c"};
  c.workdir = "/work";
  c.entrypoint = {"/bin/sh", "-c"};
  c.cmd = {"echo hi"};
  c.user = "1000:1000";
  c.architecture = "arm64";
  c.os = "linux";
  c.labels = {{"k", "v"}};
  write_image_config(root_, c);
  ImageConfig r = read_image_config(root_);
  EXPECT_EQ(r.env, c.env);
  EXPECT_EQ(r.workdir, c.workdir);
  EXPECT_EQ(r.entrypoint, c.entrypoint);
  EXPECT_EQ(r.cmd, c.cmd);
  EXPECT_EQ(r.user, c.user);
  EXPECT_EQ(r.architecture, "arm64");
  EXPECT_EQ(r.labels, c.labels);
  EXPECT_EQ(r.metadata_path, root_ + "/.hpai/image.json");
}

TEST_F(ImageConfigTest, NoMetadataIsAnEmptyConfig) {
  ImageConfig r = read_image_config(root_);
  EXPECT_TRUE(r.env.empty());
  EXPECT_TRUE(r.metadata_path.empty());
}

TEST_F(ImageConfigTest, CharliecloudEnvironmentFileIsUsed) {
  fs::create_directories(root_ + "/ch");
  std::ofstream(root_ + "/ch/environment") << "PATH=/opt/bin:/usr/bin\nX='y'\n";
  ImageConfig r = read_image_config(root_);
  EXPECT_EQ(r.env, (std::vector<std::string>{"PATH=/opt/bin:/usr/bin", "X=y"}));
}

TEST_F(ImageConfigTest, MalformedMetadataIsAnError) {
  fs::create_directories(root_ + "/.hpai");
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {"{not json", "is not valid JSON"},
      {"[]", "top level must be an object"},
      {R"({"hpai_image_version": 99})", "hpai_image_version 99 is not supported"},
      {R"({"hpai_image_version": 1, "config": {"Env": "PATH=/bin"}})", "\"Env\" must be a list of strings"},
      {R"({"hpai_image_version": 1, "config": {"Env": ["NOEQUALS"]}})", "Env entry \"NOEQUALS\" is not NAME=VALUE"},
      {R"({"hpai_image_version": 1, "config": {"WorkingDir": 3}})", "\"WorkingDir\" must be a string"},
  };
  for (const auto& c : cases) {
    std::ofstream(root_ + "/.hpai/image.json", std::ios::trunc) << c.json;
    try {
      read_image_config(root_);
      ADD_FAILURE() << "accepted " << c.json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace hpai
