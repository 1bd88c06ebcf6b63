// Images checked against targets (the verdict per CUDA/driver row, arch, glibc, MPI)
// and the reports: JUnit against its golden file, JSON.
#include "hpai/check/check.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "hpai/base/error.hpp"
#include "hpai/check/check_report.hpp"
#include "hpai/check/image_facts.hpp"
#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

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
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02", "tesla"), Verdict::Warn,
       "forward-compatibility libcuda 550.54.15"},
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02", "geforce"), Verdict::Fail, "error 803/804"},
      {cuda_image("12.4", {"550.54.15"}), gpu("470.57.02"), Verdict::Warn, "GPU brand is not given"},
      {cuda_image("12.4", {"535.104.05"}), gpu("535.54.03", "tesla"), Verdict::Warn,
       "minor version"},  // own branch: compat never used
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
  auto req = result(check_image(cuda_image("12.2", {}, "cuda>=12.2 brand=tesla,driver>=470,driver<471"),
                                gpu("470.57.02", "geforce"), table),
                    "require_cuda");
  EXPECT_EQ(req.verdict, Verdict::Fail);
  EXPECT_NE(req.message.find("unsatisfied condition: cuda>=12.2, please update your driver"), std::string::npos)
      << req.message;

  ImageFacts ppc = cuda_image("");
  ppc.arch = "ppc64le";
  ppc.arch_source = "ELF header of /bin/sh";
  auto arch = result(check_image(ppc, gpu("535.104.05"), table), "arch");
  EXPECT_EQ(arch.verdict, Verdict::Fail);
  EXPECT_NE(arch.message.find("the image is ppc64le (ELF header of /bin/sh), the target is amd64"), std::string::npos)
      << arch.message;

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
  EXPECT_NE(result(check_image(broken, gpu(""), table), "glibc")
                .message.find("the image is inconsistent: /usr/bin/tool needs GLIBC_2.34"),
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
  EXPECT_NO_THROW(run("python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '" + d.path() +
                      "/r.xml' 2>&1"));
  auto j = nlohmann::json::parse(report_json({rep}));
  EXPECT_EQ(j[0]["results"][0]["verdict"], "fail");
  EXPECT_EQ(j[0]["passed"], false);
}

}  // namespace
}  // namespace hpai
