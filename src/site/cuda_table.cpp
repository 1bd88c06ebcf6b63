#include "hpai/site/cuda_table.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/site/cuda_table_data.hpp"

namespace hpai {

namespace {

std::vector<long> numbers(const std::string& v) {
  std::vector<long> out;
  for (const auto& part : split_list(v, '.')) {
    std::size_t i = 0;
    while (i < part.size() && std::isdigit(static_cast<unsigned char>(part[i]))) ++i;
    if (i == 0) break;
    out.push_back(std::stol(part.substr(0, i)));
    if (i < part.size()) break;  // "11.4rc1" stops here
  }
  return out;
}

}  // namespace

int compare_versions(const std::string& a, const std::string& b) {
  auto x = numbers(a), y = numbers(b);
  for (std::size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    long p = i < x.size() ? x[i] : 0, q = i < y.size() ? y[i] : 0;
    if (p != q) return p < q ? -1 : 1;
  }
  return 0;
}

CudaTable CudaTable::builtin() {
  return from_json(kBuiltinCudaTable, "the built-in CUDA table (recipes/cuda-driver-table.json)");
}

CudaTable CudaTable::from_json(const std::string& text, const std::string& what) {
  CudaTable t;
  try {
    auto j = parse_json(text, what);
    if (j.value("hpai_cuda_table", 0) != 1)
      throw Error(what + ": not an hpai CUDA table (\"hpai_cuda_table\": 1 missing)");
    t.source_ = j.value("source", "");
    for (const auto& row : j.at("native"))
      t.native_.push_back(
          {row.at("driver").get<std::string>(), row.at("cuda").get<std::string>(), row.value("verified", true)});
    for (const auto& row : j.at("minor_version_compatibility"))
      t.minor_.push_back({row.at("cuda").get<std::string>(), row.at("driver").get<std::string>()});
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": " + e.what());
  }
  std::sort(t.native_.begin(), t.native_.end(),
            [](const Native& a, const Native& b) { return compare_versions(a.driver, b.driver) < 0; });
  return t;
}

std::string CudaTable::driver_cuda(const std::string& driver) const {
  // A driver supports what its branch's first release did: 535.104.05 is a 535 (12.2).
  const auto d = numbers(driver);
  std::string best;
  if (d.empty()) return best;
  for (const auto& n : native_)  // ascending: the last branch at or below D's wins
    if (const auto branch = numbers(n.driver); !branch.empty() && d[0] >= branch[0]) best = n.cuda;
  return best;
}

bool CudaTable::verified(const std::string& driver) const {
  const auto d = numbers(driver);
  bool v = true;
  if (d.empty()) return v;
  for (const auto& n : native_)
    if (const auto branch = numbers(n.driver); !branch.empty() && d[0] >= branch[0]) v = n.verified;
  return v;
}

std::string CudaTable::minimum_driver(const std::string& cuda) const {
  // An exact "10.2" rule first, then the major's ("12").
  auto c = numbers(cuda);
  if (c.empty()) return "";
  for (const auto& m : minor_)
    if (numbers(m.cuda).size() >= 2 && compare_versions(m.cuda, cuda) == 0 && c.size() >= 2) return m.driver;
  for (const auto& m : minor_)
    if (numbers(m.cuda).size() == 1 && numbers(m.cuda)[0] == c[0]) return m.driver;
  return "";
}

}  // namespace hpai
