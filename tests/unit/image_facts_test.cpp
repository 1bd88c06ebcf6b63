// What an image tells hpai-check about itself, read from real files on disk.
#include "hpai/check/image_facts.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "hpai/image/image_config.hpp"
#include "hpai/image/image_fs.hpp"
#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

// Images on disk: a fake glibc of a chosen version, a file needing a newer one, CUDA
// runtimes by file name, version.json, compat libraries, NVIDIA_REQUIRE_CUDA.
class Facts : public ::testing::Test {
 protected:
  void lib(const std::string& path) {
    mkdirs(dir_.path() + path.substr(0, path.rfind('/')));
    run("echo 'int x(void) { return 1; }' | gcc -x c -shared -fPIC -o '" + dir_.path() + path + "' - 2>&1");
  }
  void config(const std::string& env_json) {
    mkdirs(dir_.path() + "/.hpai");
    std::ofstream(dir_.path() + "/.hpai/image.json")
        << R"({"hpai_image_version": 1, "architecture": "amd64", "os": "linux", "config": {"Env": )" << env_json
        << "}}";
  }
  ImageFacts facts() {
    auto fs = open_directory_image(dir_.path());
    return gather_image_facts(*fs, read_image_config(*fs));
  }
  test::TempDir dir_;
};

TEST_F(Facts, CudaFromLibcudartCompatAndRequire) {
  lib("/usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127");
  lib("/usr/local/cuda-12.4/compat/libcuda.so.550.54.15");
  config(R"(["CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=470,driver<471"])");
  ImageFacts f = facts();
  EXPECT_EQ(f.cuda, "12.4");
  EXPECT_EQ(f.cuda_source, "/usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127");
  EXPECT_EQ(f.compat_drivers, std::vector<std::string>{"550.54.15"});
  EXPECT_EQ(f.require_cuda, "cuda>=12.4 brand=tesla,driver>=470,driver<471");
  EXPECT_EQ(f.arch, "amd64");
}

TEST_F(Facts, CudaFromVersionJsonThenEnv) {
  mkdirs(dir_.path() + "/usr/local/cuda");
  std::ofstream(dir_.path() + "/usr/local/cuda/version.json")
      << R"({"cuda": {"name": "CUDA SDK", "version": "11.8.89"}})";
  config(R"(["CUDA_VERSION=11.0"])");
  EXPECT_EQ(facts().cuda, "11.8");
  EXPECT_EQ(facts().cuda_source, "/usr/local/cuda/version.json");
  std::remove((dir_.path() + "/usr/local/cuda/version.json").c_str());
  EXPECT_EQ(facts().cuda, "11.0");
  EXPECT_EQ(facts().cuda_source, "ENV CUDA_VERSION=11.0");
}

TEST_F(Facts, GlibcOfTheImageAndFilesNeedingMore) {
  // A libc defining up to GLIBC_2.28, and a program built against a newer one.
  const std::string d = dir_.path();
  mkdirs(d + "/lib/x86_64-linux-gnu");
  mkdirs(d + "/usr/bin");
  std::ofstream(d + "/new.map")
      << "GLIBC_2.28 { global: old_sym; local: *; };\nGLIBC_2.34 { global: new_sym; } GLIBC_2.28;\n";
  std::ofstream(d + "/old.map") << "GLIBC_2.28 { global: old_sym; local: *; };\n";
  run("cd '" + d +
      "' && echo 'int old_sym(void){return 0;} int new_sym(void){return 1;}' > l.c && "
      "gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=new.map -o libc.so.6 l.c && "
      "echo 'extern int new_sym(void); int f(void){return new_sym();}' | gcc -x c -shared -fPIC -nostdlib -o "
      "usr/bin/tool - -L. -l:libc.so.6 && "
      "gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=old.map -o "
      "lib/x86_64-linux-gnu/libc.so.6 l.c && "
      "rm libc.so.6 l.c 2>&1");
  config("[]");
  ImageFacts f = facts();
  EXPECT_EQ(f.glibc, "2.28");
  EXPECT_EQ(f.libc, "/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_EQ(f.needs_newer_glibc.size(), 1u);
  EXPECT_EQ(f.needs_newer_glibc[0].file, "/usr/bin/tool");
  EXPECT_EQ(f.needs_newer_glibc[0].version, "2.34");
  EXPECT_GE(f.elf_files_scanned, 1);
}

}  // namespace
}  // namespace hpai
