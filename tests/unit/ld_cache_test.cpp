// The linker cache reader (against the real ldconfig) and library names and versions.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "fake_libs.hpp"
#include "hpai/base/error.hpp"
#include "hpai/site/ld_cache.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::make_image_cache;
using test::make_lib;
using test::mkdirs;
using test::run;

TEST(LdCache, ReadsTheHostCacheLikeLdconfig) {
  std::set<std::pair<std::string, std::string>> ours, theirs;
  for (const auto& e : read_ld_cache("/etc/ld.so.cache")) ours.insert({e.soname, e.path});
  std::string listing = run("ldconfig -p");
  std::size_t pos = listing.find('\n') + 1;  // "N libs found in cache ..."
  while (pos < listing.size()) {
    std::size_t end = listing.find('\n', pos);
    std::string line = listing.substr(pos, end - pos);
    pos = end + 1;
    auto arrow = line.find(" => ");
    if (line.empty() || line[0] != '\t' || arrow == std::string::npos) continue;
    theirs.insert({line.substr(1, line.find(" (") - 1), line.substr(arrow + 4)});
  }
  ASSERT_GT(theirs.size(), 10u);
  EXPECT_EQ(ours, theirs);
}

// The binary search finds exactly what a scan of every entry finds, on the host's cache
// and on one of 3,000 libraries whose names mix digits and letters where the order of
// glibc's comparison (numbers by value, after letters) matters.
TEST(LdCache, PrefixSearchFindsWhatAScanFinds) {
  test::TempDir dir;
  const std::string lib = dir.path() + "/lib";
  mkdirs(lib);
  run("echo 'int f(void){return 0;}' | gcc -shared -fPIC -x c -o '" + dir.path() + "/plain.so' -");
  const char* stems[] = {"libnv", "libnvidia-ml", "libcuda", "libcudart", "libGL", "libGLX_nvidia", "libGLESv2_nvidia",
                         "liba",  "libz",         "libnv9x", "libnv10x",  "libcu", "libEGL_nvidia", "libEGL"};
  int made = 0;
  for (int i = 0; made < 3000; ++i)
    for (const char* stem : stems) {
      const std::string name = std::string(stem) +
                               (i % 3 == 0 ? std::to_string(i) : std::string(1, static_cast<char>('a' + i % 26))) +
                               ".so." + std::to_string(i % 7);
      if (link((dir.path() + "/plain.so").c_str(), (lib + "/" + name).c_str()) == 0) ++made;
    }
  const std::string cache = dir.path() + "/ld.so.cache";
  run("ldconfig -X -C '" + cache + "' -f /dev/null '" + lib + "'");
  const std::vector<std::string_view> prefixes = {"libnv", "libcuda", "libGL",   "libEGL",     "libOpenCL",
                                                  "lib",   "libc",    "libz",    "libnvidia-", "libGLX_nvidia",
                                                  "liba",  "libq",    "libnvid", "libcu"};
  for (const std::string& path : {cache, std::string("/etc/ld.so.cache")}) {
    const auto all = read_ld_cache(path);
    ASSERT_GT(all.size(), path == cache ? 2900u : 10u);
    for (std::string_view p : prefixes) {
      std::multiset<std::pair<std::string, std::string>> scanned, searched;
      for (const auto& e : all)
        if (e.soname.starts_with(p)) scanned.insert({e.soname, e.path});
      for (const auto& e : find_in_ld_cache(path, {p})) searched.insert({e.soname, e.path});
      EXPECT_EQ(searched, scanned) << path << ", prefix " << p;
    }
  }
  EXPECT_THROW(find_in_ld_cache(cache, {"libGLESv2"}), Error);  // digits: not a range in glibc's order
}

TEST(LdCache, RejectsWhatIsNotACache) {
  EXPECT_THROW(parse_ld_cache("hello", "x"), Error);
  EXPECT_THROW(parse_ld_cache(std::string("glibc-ld.so.cache1.1") + std::string(28, '\xff'), "x"), Error);
  std::string truncated = std::string("glibc-ld.so.cache1.1") + std::string("\x05\0\0\0", 4) + std::string(24, '\0');
  EXPECT_THROW(parse_ld_cache(truncated, "x"), Error);
}

TEST(LibraryName, VersionsFromFileNames) {
  auto l = parse_library_name("libmpi.so.12.1.8");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->linker_name, "libmpi");
  EXPECT_EQ(l->version, (std::vector<int>{12, 1, 8}));
  EXPECT_EQ(parse_library_name("libcuda.so.580.95.05")->version_text, "580.95.05");
  EXPECT_TRUE(parse_library_name("libfoo.so")->version.empty());
  EXPECT_EQ(parse_library_name("libfoo.so.1.2rc")->version, std::vector<int>{1});
  EXPECT_FALSE(parse_library_name("libfoo.sock"));
  EXPECT_FALSE(parse_library_name("readme.txt"));
}

}  // namespace
}  // namespace hpai
