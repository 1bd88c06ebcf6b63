#include "hpai/check/cuda_compat.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "hpai/base/environment.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

RequireResult evaluate_require_cuda(const std::string& expr, const RequireContext& ctx) {
  enum class Truth { True, False, Unknown };
  RequireResult result;
  std::vector<std::string> failed, unknown;
  bool any_true = false, any_unknown = false, any_group = false;
  for (const auto& group : split_list(expr, ' ')) {
    any_group = true;
    Truth g = Truth::True;
    for (const auto& cond : split_list(group, ',')) {
      // key op value, op one of != <= >= < > =
      std::size_t op_at = cond.find_first_of("!<>=");
      if (op_at == std::string::npos || op_at == 0)
        throw Error("NVIDIA_REQUIRE_CUDA: malformed condition \"" + cond + "\" (want KEY OP VALUE, e.g. cuda>=12.2)");
      std::size_t value_at = cond.find_first_not_of("!<>=", op_at);
      const std::string key = ascii_lower(cond.substr(0, op_at));
      const std::string op = cond.substr(op_at, value_at - op_at);
      const std::string value = value_at == std::string::npos ? "" : cond.substr(value_at);
      if (value.empty() || (op != "=" && op != "!=" && op != "<" && op != "<=" && op != ">" && op != ">="))
        throw Error("NVIDIA_REQUIRE_CUDA: malformed condition \"" + cond + "\"");
      std::string have;
      if (key == "cuda")
        have = ctx.cuda;
      else if (key == "driver")
        have = ctx.driver;
      else if (key == "brand")
        have = ctx.brand;
      else if (key == "arch")
        have = ctx.arch;
      else
        throw Error("NVIDIA_REQUIRE_CUDA: unknown key \"" + key + "\" in \"" + cond +
                    "\" (known: cuda, driver, brand, arch)");
      Truth t;
      if (have.empty()) {
        t = Truth::Unknown;
      } else if (key == "brand") {
        bool eq = ascii_lower(have) == ascii_lower(value);
        if (op != "=" && op != "!=") throw Error("NVIDIA_REQUIRE_CUDA: brand takes = or !=, not \"" + op + "\"");
        t = (op == "=") == eq ? Truth::True : Truth::False;
      } else {
        int c = compare_versions(have, value);
        bool ok = op == "="    ? c == 0
                  : op == "!=" ? c != 0
                  : op == "<"  ? c < 0
                  : op == "<=" ? c <= 0
                  : op == ">"  ? c > 0
                               : c >= 0;
        t = ok ? Truth::True : Truth::False;
      }
      if (t == Truth::False) {
        g = Truth::False;
        failed.push_back(cond);
        break;
      }
      if (t == Truth::Unknown) {
        g = Truth::Unknown;
        unknown.push_back(cond);
      }
    }
    if (g == Truth::True) any_true = true;
    if (g == Truth::Unknown) any_unknown = true;
  }
  if (!any_group || any_true) return result;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (any_unknown) {
    result.state = RequireResult::State::Undecided;
    result.detail = "can't decide " + join(unknown) + " for this target";
  } else {
    // As nvidia-container-cli says it: the first alternative's failing condition.
    result.state = RequireResult::State::Unsatisfied;
    result.detail = "unsatisfied condition: " + failed.front();
  }
  return result;
}

}  // namespace hpai
