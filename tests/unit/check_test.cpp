#include "hpai/check/check.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "hpai/check/check_report.hpp"
#include "hpai/base/error.hpp"
#include "hpai/run/host_check.hpp"
#include "hpai/check/image_facts.hpp"
#include "hpai/check/targets.hpp"
#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

TEST(CudaTable, NativeAndMinorVersionRules) {
  CudaTable t = CudaTable::builtin();
  EXPECT_EQ(t.driver_cuda("418.67"), "10.1");
  EXPECT_EQ(t.driver_cuda("450.80.02"), "11.0");
  EXPECT_EQ(t.driver_cuda("470.57.02"), "11.4");
  EXPECT_EQ(t.driver_cuda("535.104.05"), "12.2");
  EXPECT_EQ(t.driver_cuda("550.54.15"), "12.4");
  EXPECT_EQ(t.driver_cuda("580.95.05"), "13.0");
  EXPECT_EQ(t.driver_cuda("396.26"), "");
  EXPECT_EQ(t.minimum_driver("10.2"), "440.33");
  EXPECT_EQ(t.minimum_driver("11.8"), "450.80.02");
  EXPECT_EQ(t.minimum_driver("12.4"), "525.60.13");
  EXPECT_EQ(t.minimum_driver("9.2"), "");
  EXPECT_TRUE(t.verified("470.57.02"));
  EXPECT_FALSE(t.verified("535.104.05"));
  EXPECT_FALSE(t.source().empty());
  EXPECT_THROW(CudaTable::from_json("{\"native\": []}", "x.json"), Error);
}

TEST(CompareVersions, Numeric) {
  EXPECT_GT(compare_versions("12.10", "12.9"), 0);
  EXPECT_EQ(compare_versions("470", "470.0.0"), 0);
  EXPECT_GT(compare_versions("470.57.02", "470"), 0);
  EXPECT_LT(compare_versions("2.28", "2.34"), 0);
}

TEST(RequireCuda, SpaceIsOrCommaIsAnd) {
  const std::string req = "cuda>=12.2 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=525,driver<526";
  using S = RequireResult::State;
  EXPECT_EQ(evaluate_require_cuda(req, {"12.2", "535.104.05", "", ""}).state, S::Satisfied);      // cuda>=12.2
  EXPECT_EQ(evaluate_require_cuda(req, {"11.4", "470.57.02", "tesla", ""}).state, S::Satisfied);  // 2nd group
  auto geforce = evaluate_require_cuda(req, {"11.4", "470.57.02", "geforce", ""});
  EXPECT_EQ(geforce.state, S::Unsatisfied);
  EXPECT_NE(geforce.detail.find("unsatisfied condition: cuda>=12.2"), std::string::npos) << geforce.detail;
  auto unknown = evaluate_require_cuda(req, {"11.4", "470.57.02", "", ""});
  EXPECT_EQ(unknown.state, S::Undecided);
  EXPECT_NE(unknown.detail.find("brand=tesla"), std::string::npos) << unknown.detail;
  EXPECT_EQ(evaluate_require_cuda("cuda>=11.0 arch>=7.0", {"11.0", "450.80.02", "", ""}).state, S::Satisfied);
  EXPECT_EQ(evaluate_require_cuda("", {"11.0", "450", "", ""}).state, S::Satisfied);
  EXPECT_THROW(evaluate_require_cuda("cuda>>12", {"12.0", "525", "", ""}), Error);
  EXPECT_THROW(evaluate_require_cuda("gpu>=1", {"12.0", "525", "", ""}), Error);
  EXPECT_THROW(evaluate_require_cuda("brand>tesla", {"12.0", "525", "tesla", ""}), Error);
}

ImageFacts cuda_image(const std::string& cuda, std::vector<std::string> compat = {}, const std::string& require = "") {
  ImageFacts f;
  f.image = "img";
  f.arch = "amd64";
  f.glibc = "2.35";
  f.cuda = cuda;
  f.cuda_source = "libcudart.so." + cuda + ".0";
  f.compat_drivers = std::move(compat);
  f.require_cuda = require;
  return f;
}

Target gpu(const std::string& driver, const std::string& brand = "") {
  Target t;
  t.name = driver + (brand.empty() ? "" : "/" + brand);
  t.arch = "amd64";
  t.driver = driver;
  t.brand = brand;
  return t;
}

CheckResult result(const std::vector<CheckResult>& all, const std::string& check) {
  for (const auto& r : all)
    if (r.check == check) return r;
  ADD_FAILURE() << "no " << check;
  return {};
}

// The expected verdict per matrix row, one by one.
TEST(CheckImage, CudaAgainstDrivers) {
  const CudaTable table = CudaTable::builtin();
  struct Row {
    ImageFacts image;
    Target target;
    Verdict want;
    const char* says;
  } rows[] = {
      {cuda_image("12.2"), gpu("535.104.05"), Verdict::Pass, "CUDA 12.2 runtime"},
      {cuda_image("12.4"), gpu("550.54.15"), Verdict::Pass, "driver 550.54.15 (CUDA 12.4)"},
      {cuda_image("12.4"), gpu("535.104.05"), Verdict::Warn, "minor version compatibility (driver >= 525.60.13)"},
      {cuda_image("12.4"), gpu("470.57.02"), Verdict::Fail, "error 803/804"},
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02", "tesla"), Verdict::Warn, "forward-compatibility libcuda 550.54.15"},
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02", "geforce"), Verdict::Fail, "error 803/804"},
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02"), Verdict::Warn, "GPU brand is not given"},
      {cuda_image("12.4", {"535.104.05"}), gpu("535.54.03", "tesla"), Verdict::Warn, "minor version"},  // own branch: compat never used
      {cuda_image("11.4"), gpu("418.67"), Verdict::Fail, "at least 450.80.02"},
      {cuda_image("10.1"), gpu("418.67"), Verdict::Pass, "CUDA 10.1"},
      {cuda_image("13.0"), gpu("580.95.05"), Verdict::Pass, "CUDA 13.0"},
      {cuda_image("13.0"), gpu("575.51.03"), Verdict::Fail, "at least 580"},
      {cuda_image("12.2"), gpu(""), Verdict::Warn, "no NVIDIA driver"},
      {cuda_image(""), gpu("535.104.05"), Verdict::Skip, "no CUDA runtime"},
  };
  for (const auto& row : rows) {
    CheckResult r = result(check_image(row.image, row.target, table), "cuda");
    EXPECT_EQ(r.verdict, row.want) << row.target.name << " / CUDA " << row.image.cuda << ": " << r.message;
    EXPECT_NE(r.message.find(row.says), std::string::npos) << r.message;
  }
}

TEST(CheckImage, RequireCudaArchGlibcMpi) {
  const CudaTable table = CudaTable::builtin();
  auto req = result(check_image(cuda_image("12.2", {}, "cuda>=12.2 brand=tesla,driver>=470,driver<471"), gpu("470.57.02", "geforce"), table),
                    "require_cuda");
  EXPECT_EQ(req.verdict, Verdict::Fail);
  EXPECT_NE(req.message.find("unsatisfied condition: cuda>=12.2, please update your driver"), std::string::npos) << req.message;

  ImageFacts ppc = cuda_image("");
  ppc.arch = "ppc64le";
  ppc.arch_source = "ELF header of /bin/sh";
  auto arch = result(check_image(ppc, gpu("535.104.05"), table), "arch");
  EXPECT_EQ(arch.verdict, Verdict::Fail);
  EXPECT_NE(arch.message.find("the image is ppc64le (ELF header of /bin/sh), the target is amd64"), std::string::npos) << arch.message;

  ImageFacts old = cuda_image("");
  old.glibc = "2.28";
  Target site = gpu("535.104.05");
  site.injected_glibc = "2.34";
  site.injected_glibc_from = "/usr/lib64/libnvidia-ml.so.535.104.05";
  auto g = result(check_image(old, site, table), "glibc");
  EXPECT_EQ(g.verdict, Verdict::Fail);
  EXPECT_NE(g.message.find("needs GLIBC_2.34; the image has glibc 2.28"), std::string::npos) << g.message;
  site.injected_glibc = "2.17";
  EXPECT_EQ(result(check_image(old, site, table), "glibc").verdict, Verdict::Pass);
  ImageFacts broken = old;
  broken.needs_newer_glibc = {{"/usr/bin/tool", "2.34"}};
  broken.libc = "/lib/x86_64-linux-gnu/libc.so.6";
  EXPECT_NE(result(check_image(broken, gpu(""), table), "glibc").message.find("the image is inconsistent: /usr/bin/tool needs GLIBC_2.34"),
            std::string::npos);

  auto lib = [](const std::string& name, std::vector<int> v) {
    FoundLibrary l;
    l.path = l.file = "/usr/lib/" + name;
    l.linker_name = name.substr(0, name.find(".so"));
    l.version = std::move(v);
    return l;
  };
  ImageFacts mpich = cuda_image("");
  mpich.mpi_libraries = {lib("libmpi.so.12.2.2", {12, 2, 2})};
  mpich.mpi_families = {MpiFamily::Mpich};
  Target lrz = gpu("");
  lrz.mpi = Target::Mpi{MpiFamily::Mpich, MpiCompat::Major, {lib("libmpi.so.12.0.0", {12, 0, 0})}};
  EXPECT_EQ(result(check_image(mpich, lrz, table), "mpi").verdict, Verdict::Pass);
  lrz.mpi->compat = MpiCompat::Full;
  auto full = result(check_image(mpich, lrz, table), "mpi");
  EXPECT_EQ(full.verdict, Verdict::Fail) << full.message;
  lrz.mpi = Target::Mpi{MpiFamily::OpenMpi, MpiCompat::Strict, {lib("libmpi.so.40.30.4", {40, 30, 4})}};
  auto family = result(check_image(mpich, lrz, table), "mpi");
  EXPECT_EQ(family.verdict, Verdict::Fail);
  EXPECT_NE(family.message.find("different ABIs can't be swapped"), std::string::npos) << family.message;
}

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
        << R"({"hpai_image_version": 1, "architecture": "amd64", "os": "linux", "config": {"Env": )" << env_json << "}}";
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
  std::ofstream(dir_.path() + "/usr/local/cuda/version.json") << R"({"cuda": {"name": "CUDA SDK", "version": "11.8.89"}})";
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
  std::ofstream(d + "/new.map") << "GLIBC_2.28 { global: old_sym; local: *; };\nGLIBC_2.34 { global: new_sym; } GLIBC_2.28;\n";
  std::ofstream(d + "/old.map") << "GLIBC_2.28 { global: old_sym; local: *; };\n";
  run("cd '" + d + "' && echo 'int old_sym(void){return 0;} int new_sym(void){return 1;}' > l.c && "
      "gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=new.map -o libc.so.6 l.c && "
      "echo 'extern int new_sym(void); int f(void){return new_sym();}' | gcc -x c -shared -fPIC -nostdlib -o usr/bin/tool - -L. -l:libc.so.6 && "
      "gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script=old.map -o lib/x86_64-linux-gnu/libc.so.6 l.c && "
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

TEST(Matrix, TheRecipeParsesAndErrorsHavePositions) {
  auto targets = read_matrix(std::string(HPAI_TEST_SOURCE_DIR) + "/recipes/driver-matrix.json");
  ASSERT_GE(targets.size(), 7u);
  std::set<std::string> drivers;
  for (const auto& t : targets) drivers.insert(t.driver.substr(0, 3));
  for (const char* branch : {"418", "450", "470", "525", "535", "550", "580"}) EXPECT_TRUE(drivers.count(branch)) << branch;
  try {
    parse_matrix(R"({"hpai_matrix": 1,
  "targets": [{"name": "a", "arch": "ppc64el", "drivr": "535"}]})",
                 "m.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("m.json:2:48: error: unknown key \"drivr\" in a target; did you mean \"driver\"?"), std::string::npos) << m;
    EXPECT_NE(m.find("unknown architecture \"ppc64el\""), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean \"ppc64le\"?"), std::string::npos) << m;
  }
  EXPECT_THROW(target_from_spec("name=x,drver=1"), Error);
  Target t = target_from_spec("name=summit,arch=ppc64le,driver=418.67,brand=tesla,glibc=2.17");
  EXPECT_EQ(t.arch, "ppc64le");
  EXPECT_EQ(t.injected_glibc, "2.17");
}

TEST(Report, JunitMatchesTheGoldenFileAndIsXml) {
  ImageReport rep;
  rep.facts = cuda_image("12.4");
  rep.facts.image = "pytorch<&>.sqfs";
  rep.results = {{"summit", "arch", Verdict::Fail, "the image is amd64, the target is ppc64le"},
                 {"summit", "cuda", Verdict::Warn, "minor \"version\" compatibility"},
                 {"summit", "mpi", Verdict::Skip, "the target swaps in no host MPI"},
                 {"new", "glibc", Verdict::Pass, "ok"}};
  const std::string xml = report_junit({rep});
  const std::string golden = std::string(HPAI_TEST_SOURCE_DIR) + "/tests/unit/golden/check.junit.xml";
  std::ifstream in(golden);
  std::string want((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(xml, want);
  test::TempDir d;
  std::ofstream(d.path() + "/r.xml") << xml;
  EXPECT_NO_THROW(run("python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '" + d.path() + "/r.xml' 2>&1"));
  auto j = nlohmann::json::parse(report_json({rep}));
  EXPECT_EQ(j[0]["results"][0]["verdict"], "fail");
  EXPECT_EQ(j[0]["passed"], false);
}

TEST(HostCheck, SysctlsThatDisableUserNamespaces) {
  test::TempDir d;
  const std::string proc = d.path() + "/proc";
  mkdirs(proc + "/sys/user");
  mkdirs(proc + "/sys/kernel");
  HostCheckOptions o;
  o.proc = proc;
  o.dev = d.path() + "/dev";
  o.try_namespaces = false;
  auto find = [](const std::vector<HostCheck>& all, const std::string& name) {
    for (const auto& c : all)
      if (c.name == name) return c;
    return HostCheck{"(missing)", Verdict::Skip, "", ""};
  };
  // No /proc/self/ns/user: a kernel without user namespaces.
  auto old = check_host(o);
  EXPECT_EQ(find(old, "user namespaces").verdict, Verdict::Fail);
  EXPECT_NE(find(old, "user namespaces").message.find("Titan-era"), std::string::npos);
  mkdirs(proc + "/self/ns");
  std::ofstream(proc + "/self/ns/user") << "";
  std::ofstream(proc + "/sys/user/max_user_namespaces") << "0\n";
  std::ofstream(proc + "/sys/kernel/unprivileged_userns_clone") << "0\n";
  std::ofstream(proc + "/sys/kernel/apparmor_restrict_unprivileged_userns") << "1\n";
  auto all = check_host(o);
  EXPECT_EQ(find(all, "user.max_user_namespaces").verdict, Verdict::Fail);
  EXPECT_NE(find(all, "user.max_user_namespaces").fix.find("sysctl -w user.max_user_namespaces=15000"), std::string::npos);
  EXPECT_EQ(find(all, "kernel.unprivileged_userns_clone").verdict, Verdict::Fail);
  EXPECT_EQ(find(all, "AppArmor userns restriction").verdict, Verdict::Warn);
  EXPECT_EQ(find(all, "FUSE").verdict, Verdict::Warn);  // no DEV/fuse
  EXPECT_NE(find(all, "FUSE").fix.find("modprobe fuse"), std::string::npos);
  // The kernel's version: RHEL 8's is too old for the mount API, RHEL 9's is not.
  std::ofstream(proc + "/sys/kernel/osrelease") << "4.18.0-553.el8_10.x86_64\n";
  EXPECT_EQ(find(check_host(o), "kernel").verdict, Verdict::Fail);
  EXPECT_NE(find(check_host(o), "kernel").fix.find("5.12"), std::string::npos);
  std::ofstream(proc + "/sys/kernel/osrelease") << "5.14.0-427.el9.x86_64\n";
  EXPECT_EQ(find(check_host(o), "kernel").verdict, Verdict::Pass);
}

TEST(HostCheck, ThisHostCanRunContainers) {
  HostCheckOptions o;
  o.env = Environment::from_process();
  auto all = check_host(o);
  for (const auto& c : all)
    if (c.name == "user namespaces" || c.name == "overlayfs in a user namespace") {
      EXPECT_EQ(c.verdict, Verdict::Pass) << c.message;
    }
}

}  // namespace
}  // namespace hpai
