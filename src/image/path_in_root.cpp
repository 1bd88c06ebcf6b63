#include "hpai/image/path_in_root.hpp"

#include <deque>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

RootPath resolve_in_root(const std::string& root, std::string_view path) {
  return resolve_in_root(*open_directory_image(root), path);
}

RootPath resolve_in_root(const ImageFs& image, std::string_view path) {
  if (path.empty() || path.front() != '/') throw Error("container path \"" + std::string(path) + "\" is not absolute");
  if (auto fast = image.resolve_fast(std::string(path))) return {fast->rel, fast->exists, fast->is_dir};
  const std::string root = image.describe();
  std::deque<std::string> todo;
  push_components(todo, path, false);
  std::vector<std::string> done;  // resolved, symlink-free components
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(part);
    std::optional<ImageStat> st = image.lstat(join_path(done));
    if (!st) {
      // Missing: what follows cannot be a symlink, so the rest is taken literally.
      while (!todo.empty()) {
        if (todo.front() == "..") {
          if (!done.empty()) done.pop_back();
        } else {
          done.push_back(todo.front());
        }
        todo.pop_front();
      }
      return {join_path(done), false, false};
    }
    if (st->type == ImageStat::Type::Link) {
      if (++links > kMaxSymlinks) throw Error("too many symlinks resolving " + std::string(path) + " in image " + root);
      const std::string target = image.readlink(join_path(done));
      done.pop_back();
      if (!target.empty() && target.front() == '/') done.clear();
      push_components(todo, target, true);
      continue;
    }
    const bool is_dir = st->type == ImageStat::Type::Dir;
    if (!todo.empty() && !is_dir)
      throw Error("can't resolve " + std::string(path) + " in image " + root + ": /" + join_path(done) +
                  " is not a directory");
    if (todo.empty()) return {join_path(done), true, is_dir};
  }
  if (!image.lstat(join_path(done))) throw Error("can't examine image root " + root);
  return {join_path(done), true, true};
}

}  // namespace hpai
