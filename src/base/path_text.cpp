#include "hpai/base/path_text.hpp"

#include <vector>

namespace hpai {

std::vector<std::string> split_list(std::string_view text, char sep) {
  std::vector<std::string> out;
  for (std::string_view item : split_fields(text, sep))
    if (!item.empty()) out.emplace_back(item);
  return out;
}

std::string join_path(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

bool is_plain_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return false;
  for (std::string_view part : split_fields(path.substr(1), '/'))
    if (part.empty() || part == "." || part == "..") return false;
  return true;
}

void push_components(std::deque<std::string>& todo, std::string_view path, bool front) {
  std::vector<std::string> parts;
  for (std::string_view part : split_fields(path, '/'))
    if (!part.empty() && part != ".") parts.emplace_back(part);
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
  return join_path(kept);
}

}  // namespace hpai
