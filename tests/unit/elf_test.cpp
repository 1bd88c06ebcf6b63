#include "hpai/image/elf.hpp"

#include <gnu/libc-version.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "hpai/base/error.hpp"
#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::run;

// A fake "libc.so.6" defining GLIBC_2.17 .. UP_TO (a version script, one symbol per
// version), and a library needing NEED from it: real ELF version definitions and needs.
void fake_glibc(const std::string& dir, const std::string& up_to) {
  const std::vector<std::string> versions = {"2.17", "2.28", "2.34", "2.38"};
  std::string script, code, prev;
  for (const auto& v : versions) {
    std::string sym = "sym_" + v.substr(0, 1) + "_" + v.substr(2);
    script += "GLIBC_" + v + " { global: " + sym + ";" + (prev.empty() ? " local: *;" : "") + " }" +
              (prev.empty() ? "" : " GLIBC_" + prev) + ";\n";
    code += "int " + sym + "(void) { return 1; }\n";
    prev = v;
    if (v == up_to) break;
  }
  test::mkdirs(dir);
  std::ofstream(dir + "/libc.map") << script;
  std::ofstream(dir + "/libc.c") << code;
  run("gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script='" + dir + "/libc.map' -o '" + dir +
      "/libc.so.6' '" + dir + "/libc.c' 2>&1");
}

void needing(const std::string& libc_dir, const std::string& out, const std::string& version) {
  const std::string sym = "sym_" + version.substr(0, 1) + "_" + version.substr(2);
  run("echo 'extern int " + sym + "(void); int use(void) { return " + sym +
      "(); }' | gcc -x c -shared -fPIC -nostdlib -o '" + out + "' - -L'" + libc_dir + "' -l:libc.so.6 2>&1");
}

TEST(Elf, RealHostFiles) {
  auto libc = read_elf("/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_TRUE(libc);
  EXPECT_EQ(elf_architecture(*libc), "amd64");
  EXPECT_EQ(libc->soname, "libc.so.6");
  // Its newest definition is the running glibc's version.
  EXPECT_EQ(highest_glibc_needed({{"", libc->version_defs}}), gnu_get_libc_version());
  auto ls = read_elf("/bin/ls");
  ASSERT_TRUE(ls);
  EXPECT_NE(std::find(ls->needed.begin(), ls->needed.end(), "libc.so.6"), ls->needed.end());
  EXPECT_FALSE(highest_glibc_needed(ls->version_needs).empty());
  EXPECT_FALSE(read_elf("/etc/passwd"));  // not ELF: nothing, no error
}

TEST(Elf, VersionNeedsAndDefinitionsFromVersionScripts) {
  test::TempDir d;
  fake_glibc(d.path() + "/libc", "2.38");
  needing(d.path() + "/libc", d.path() + "/libneeds.so", "2.34");
  auto libc = read_elf(d.path() + "/libc/libc.so.6");
  ASSERT_TRUE(libc);
  EXPECT_EQ(libc->version_defs, (std::vector<std::string>{"GLIBC_2.17", "GLIBC_2.28", "GLIBC_2.34", "GLIBC_2.38"}));
  auto lib = read_elf(d.path() + "/libneeds.so");
  ASSERT_TRUE(lib);
  ASSERT_EQ(lib->version_needs.size(), 1u);
  EXPECT_EQ(lib->version_needs[0].file, "libc.so.6");
  EXPECT_EQ(lib->version_needs[0].versions, std::vector<std::string>{"GLIBC_2.34"});
  EXPECT_EQ(highest_glibc_needed(lib->version_needs), "2.34");
}

TEST(Elf, CrossArchitecture) {
  test::TempDir d;
  bool any = false;
  for (auto [cc, arch] :
       {std::pair{"powerpc64le-linux-gnu-gcc", "ppc64le"}, std::pair{"aarch64-linux-gnu-gcc", "arm64"}}) {
    if (run(std::string("command -v ") + cc + " || true").empty()) continue;
    any = true;
    const std::string out = d.path() + "/" + arch;
    run(std::string("echo 'int main(void) { return 0; }' | ") + cc + " -x c -o '" + out + "' - 2>&1");
    auto e = read_elf(out);
    ASSERT_TRUE(e) << cc;
    EXPECT_EQ(elf_architecture(*e), arch);
    EXPECT_TRUE(e->is_64);
    EXPECT_TRUE(e->little_endian);
    EXPECT_FALSE(highest_glibc_needed(e->version_needs).empty()) << "a dynamic " << arch << " program needs glibc";
  }
  if (!any) GTEST_SKIP() << "no cross compiler (apt-get install gcc-powerpc64le-linux-gnu)";
}

TEST(Elf, HostileFilesAreErrorsNotCrashes) {
  std::string real;
  {
    std::ifstream in("/bin/true", std::ios::binary);
    real.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(real.size(), 1000u);
  EXPECT_THROW(parse_elf(real.substr(0, 40), "cut"), Error);  // header cut short
  std::string bad_sections = real;
  bad_sections[40] = '\xff';  // e_shoff far past the end
  bad_sections[46] = '\x7f';
  try {
    parse_elf(bad_sections, "evil");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("evil: malformed ELF file"), std::string::npos) << e.what();
  }
  std::string bad_class = real;
  bad_class[4] = 7;
  EXPECT_THROW(parse_elf(bad_class, "class"), Error);
  EXPECT_FALSE(parse_elf("#!/bin/sh\necho hi\n", "script"));
  // Every truncation of a real file is either parsed or an Error, never a crash.
  for (std::size_t n = 0; n < real.size(); n += 997) {
    try {
      parse_elf(real.substr(0, n), "prefix");
    } catch (const Error&) {
    }
  }
}

TEST(Elf, GlibcVersionNames) {
  EXPECT_EQ(glibc_version("GLIBC_2.34"), std::make_pair(2, 34));
  EXPECT_EQ(glibc_version("GLIBC_2.2.5"), std::make_pair(2, 2));
  EXPECT_FALSE(glibc_version("GLIBC_PRIVATE"));
  EXPECT_FALSE(glibc_version("GCC_3.0"));
  EXPECT_EQ(highest_glibc_needed({{"libc.so.6", {"GLIBC_2.2.5", "GLIBC_2.17"}}, {"libm.so.6", {"GLIBC_2.29"}}}),
            "2.29");
}

}  // namespace
}  // namespace hpai
