// Image references by docker's rules: Docker Hub's defaults, registries with ports,
// tags, digests, and what is refused with a message.
#include "hpai/image/reference.hpp"

#include <gtest/gtest.h>

#include "hpai/base/error.hpp"

namespace hpai {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ImageReference, DockerHubDefaults) {
  ImageReference r = parse_image_reference("debian");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/debian");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.api_host(), "registry-1.docker.io");
  EXPECT_EQ(r.str(), "docker.io/library/debian:latest");
  EXPECT_EQ(r.storage_name(), "debian:latest");
  r = parse_image_reference("pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime");
  EXPECT_EQ(r.repository, "pytorch/pytorch");
  EXPECT_EQ(r.tag, "2.3.0-cuda12.1-cudnn8-runtime");
  EXPECT_EQ(r.storage_name(), "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime");
  for (const char* alias : {"index.docker.io/library/debian:12", "docker.io/debian:12", "docker.io/library/debian:12"})
    EXPECT_EQ(parse_image_reference(alias).str(), "docker.io/library/debian:12") << alias;
  EXPECT_EQ(parse_image_reference("registry-1.docker.io/x").str(), "registry-1.docker.io/x:latest");  // as docker
}

TEST(ImageReference, RegistriesPortsTagsAndDigests) {
  ImageReference r = parse_image_reference("localhost:5000/team/app:1.2");
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "1.2");
  EXPECT_EQ(r.api_host(), "localhost:5000");
  EXPECT_EQ(r.storage_name(), "localhost:5000/team/app:1.2");
  r = parse_image_reference("localhost/app");  // "localhost" is a registry even without a port
  EXPECT_EQ(r.registry, "localhost");
  EXPECT_EQ(r.repository, "app");
  r = parse_image_reference("nvcr.io/nvidia/pytorch:24.05-py3");
  EXPECT_EQ(r.registry, "nvcr.io");
  EXPECT_EQ(r.repository, "nvidia/pytorch");
  r = parse_image_reference("ghcr.io/o/i@" + kDigest);
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, kDigest);
  EXPECT_EQ(r.manifest_reference(), kDigest);
  EXPECT_EQ(r.storage_name(), "ghcr.io/o/i@" + kDigest);
  r = parse_image_reference("ghcr.io/o/i:1@" + kDigest);  // the digest pins, the tag names
  EXPECT_EQ(r.tag, "1");
  EXPECT_EQ(r.manifest_reference(), kDigest);
  EXPECT_EQ(r.str(), "ghcr.io/o/i:1@" + kDigest);
  EXPECT_EQ(r.storage_name(), "ghcr.io/o/i:1@" + kDigest);
  r = parse_image_reference("[::1]:5000/app");
  EXPECT_EQ(r.registry, "[::1]:5000");
  EXPECT_EQ(parse_image_reference("[fe80::1]/app").registry, "[fe80::1]");
  EXPECT_EQ(parse_image_reference("a.b-c__d---e").repository, "library/a.b-c__d---e");
  // Two references never share a storage name: a Docker Hub namespace that reads as a
  // registry keeps docker.io/.
  EXPECT_EQ(parse_image_reference("docker.io/localhost/foo:1").storage_name(), "docker.io/localhost/foo:1");
  EXPECT_EQ(parse_image_reference("localhost/foo:1").storage_name(), "localhost/foo:1");
  EXPECT_EQ(parse_image_reference("docker.io/my.org/app").storage_name(), "docker.io/my.org/app:latest");
  EXPECT_EQ(parse_image_reference("my.org/app").storage_name(), "my.org/app:latest");
  EXPECT_EQ(parse_image_reference("docker.io/library/a.b").storage_name(), "a.b:latest");
  for (const char* text : {"docker.io/localhost/foo:1", "docker.io/my.org/app", "a.b", "ghcr.io/o/i:1"})
    EXPECT_EQ(parse_image_reference(parse_image_reference(text).storage_name()).str(),
              parse_image_reference(text).str())
        << text;
}

TEST(ImageReference, WhatIsNotAReferenceSaysWhy) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {"Debian", "must be lower-case"},
      {"debian:", "tag \"\""},
      {"debian:-x", "tag \"-x\""},
      {"debian:" + std::string(129, 'x'), "tag"},
      {"debian@sha256:abc", "a digest is sha256"},
      {"debian@md5:" + std::string(32, 'a'), "a digest is sha256"},
      {"debian@sha256:" + std::string(64, 'A'), "a digest is sha256"},
      {"a//b", "repository component \"\""},
      {"a/b_/c", "repository component \"b_\""},
      {"a/.b", "repository component \".b\""},
      {"a/b..c", "repository component \"b..c\""},
      {"host:99999/a", "registry \"host:99999\""},
      {"-bad.io/a", "registry \"-bad.io\""},
      {"[::1/a", "registry \"[::1\""},
      {"[::1]x/a", "registry \"[::1]x\""},
      {"caf\xc3\xa9.io/a", "registry"},
      {"debian:t\xc9g", "tag"},
  };
  for (const auto& [text, want] : cases) {
    try {
      parse_image_reference(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage) << text;
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << text << ": " << e.what();
    }
  }
  EXPECT_THROW(parse_image_reference("r.io/" + std::string(260, 'a')), Error);
}

}  // namespace
}  // namespace hpai
