#include "hpai/check/check_report.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace hpai {

namespace {

std::string facts_line(const ImageFacts& f) {
  std::string s = "arch " + (f.arch.empty() ? std::string("?") : f.arch);
  s += ", glibc " + (f.glibc.empty() ? std::string("none") : f.glibc);
  s += ", CUDA " + (f.cuda.empty() ? std::string("none") : f.cuda);
  if (!f.compat_drivers.empty()) s += " (compat libcuda " + f.compat_drivers.front() + ")";
  s += ", MPI ";
  if (f.mpi_families.empty()) s += "none";
  for (std::size_t i = 0; i < f.mpi_families.size(); ++i)
    s += (i ? "+" : "") + std::string(to_string(f.mpi_families[i]));
  return s + ", " + std::to_string(f.elf_files_scanned) + " ELF files scanned";
}

int count(const std::vector<CheckResult>& r, Verdict v) {
  return static_cast<int>(std::count_if(r.begin(), r.end(), [&](const CheckResult& c) { return c.verdict == v; }));
}

}  // namespace

std::string report_text(const std::vector<ImageReport>& reports) {
  std::string out;
  for (const auto& rep : reports) {
    out += rep.facts.image + ": " + facts_line(rep.facts) + "\n";
    std::size_t tw = 6, cw = 5;
    for (const auto& r : rep.results) {
      tw = std::max(tw, r.target.size());
      cw = std::max(cw, r.check.size());
    }
    auto pad = [](const std::string& s, std::size_t w) {
      return s + std::string(w > s.size() ? w - s.size() : 0, ' ');
    };
    out += "  " + pad("TARGET", tw) + "  " + pad("CHECK", cw) + "  RESULT  DETAIL\n";
    for (const auto& r : rep.results)
      out += "  " + pad(r.target, tw) + "  " + pad(r.check, cw) + "  " + pad(to_string(r.verdict), 6) + "  " +
             r.message + "\n";
    out += "  " + std::to_string(count(rep.results, Verdict::Fail)) + " failed, " +
           std::to_string(count(rep.results, Verdict::Warn)) + " warnings, " +
           std::to_string(count(rep.results, Verdict::Pass)) + " passed, " +
           std::to_string(count(rep.results, Verdict::Skip)) + " skipped\n";
  }
  return out;
}

std::string report_json(const std::vector<ImageReport>& reports) {
  using nlohmann::json;
  json all = json::array();
  for (const auto& rep : reports) {
    const ImageFacts& f = rep.facts;
    json mpi = json::array();
    for (const auto& l : f.mpi_libraries) mpi.push_back(l.path);
    json too_new = json::array();
    for (const auto& n : f.needs_newer_glibc) too_new.push_back({{"file", n.file}, {"glibc", n.version}});
    json results = json::array();
    for (const auto& r : rep.results)
      results.push_back(
          {{"target", r.target}, {"check", r.check}, {"verdict", to_string(r.verdict)}, {"message", r.message}});
    all.push_back({{"image", f.image},
                   {"facts",
                    {{"arch", f.arch},
                     {"arch_source", f.arch_source},
                     {"glibc", f.glibc},
                     {"libc", f.libc},
                     {"needs_newer_glibc", too_new},
                     {"elf_files_scanned", f.elf_files_scanned},
                     {"cuda", f.cuda},
                     {"cuda_source", f.cuda_source},
                     {"compat_drivers", f.compat_drivers},
                     {"require_cuda", f.require_cuda},
                     {"mpi_libraries", mpi}}},
                   {"results", results},
                   {"passed", all_passed(rep.results)}});
  }
  return all.dump(2) + "\n";
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t')
          out += "?";  // not allowed in XML 1.0
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

std::string report_junit(const std::vector<ImageReport>& reports) {
  int tests = 0, failures = 0, skipped = 0;
  for (const auto& rep : reports) {
    tests += static_cast<int>(rep.results.size());
    failures += count(rep.results, Verdict::Fail);
    skipped += count(rep.results, Verdict::Skip);
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"hpai-check\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
         std::to_string(failures) + "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\">\n";
  for (const auto& rep : reports) {
    const std::string image = xml_escape(rep.facts.image);
    out += "  <testsuite name=\"" + image + "\" tests=\"" + std::to_string(rep.results.size()) + "\" failures=\"" +
           std::to_string(count(rep.results, Verdict::Fail)) + "\" errors=\"0\" skipped=\"" +
           std::to_string(count(rep.results, Verdict::Skip)) + "\">\n";
    for (const auto& r : rep.results) {
      const std::string msg = xml_escape(r.message);
      out +=
          "    <testcase classname=\"" + image + "." + xml_escape(r.target) + "\" name=\"" + xml_escape(r.check) + "\"";
      switch (r.verdict) {
        case Verdict::Pass: out += "/>\n"; break;
        case Verdict::Warn: out += ">\n      <system-out>warning: " + msg + "</system-out>\n    </testcase>\n"; break;
        case Verdict::Skip: out += ">\n      <skipped message=\"" + msg + "\"/>\n    </testcase>\n"; break;
        case Verdict::Fail:
          out += ">\n      <failure message=\"" + msg + "\" type=\"" + xml_escape(r.check) + "\">" + msg +
                 "</failure>\n    </testcase>\n";
          break;
      }
    }
    out += "  </testsuite>\n";
  }
  return out + "</testsuites>\n";
}

}  // namespace hpai
