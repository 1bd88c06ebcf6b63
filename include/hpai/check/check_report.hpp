// hpai-check's results as a table for people, JSON for programs and JUnit XML for CI
// systems (one testcase per image x target x check).
#pragma once

#include <string>
#include <vector>

#include "hpai/check/check.hpp"

namespace hpai {

struct ImageReport {
  ImageFacts facts;
  std::vector<CheckResult> results;
};

std::string report_text(const std::vector<ImageReport>& reports);
std::string report_json(const std::vector<ImageReport>& reports);
std::string report_junit(const std::vector<ImageReport>& reports);

std::string xml_escape(const std::string& text);

}  // namespace hpai
