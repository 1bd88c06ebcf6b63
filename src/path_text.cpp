#include "hpai/path_text.hpp"

#include <vector>

namespace hpai {

void push_components(std::deque<std::string>& todo, std::string_view path, bool front) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = slash + 1;
  }
  todo.insert(front ? todo.begin() : todo.end(), parts.begin(), parts.end());
}

std::optional<std::string> lexically_normal(std::string_view path, bool at_root_stays) {
  std::deque<std::string> parts;
  push_components(parts, path, false);
  std::vector<std::string> kept;
  for (auto& p : parts) {
    if (p != "..") {
      kept.push_back(std::move(p));
    } else if (!kept.empty()) {
      kept.pop_back();
    } else if (!at_root_stays) {
      return std::nullopt;
    }
  }
  std::string out;
  for (const auto& p : kept) out += (out.empty() ? "" : "/") + p;
  return out;
}

}  // namespace hpai
