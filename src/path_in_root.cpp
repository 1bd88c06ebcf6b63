#include "hpai/path_in_root.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "hpai/error.hpp"
#include "hpai/fd.hpp"

namespace hpai {

namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's own limit

void push_components(std::deque<std::string>& todo, std::string_view path, bool front) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (front)
    todo.insert(todo.begin(), parts.begin(), parts.end());
  else
    todo.insert(todo.end(), parts.begin(), parts.end());
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

}  // namespace

RootPath resolve_in_root(const std::string& root, std::string_view path) {
  return resolve_in_root(*open_directory_image(root), path);
}

RootPath resolve_in_root(const ImageFs& image, std::string_view path) {
  const std::string root = image.describe();
  if (path.empty() || path.front() != '/') throw Error("container path \"" + std::string(path) + "\" is not absolute");
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
    std::optional<ImageStat> st = image.lstat(join(done));
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
      return {join(done), false, false};
    }
    if (st->type == ImageStat::Type::Link) {
      if (++links > kMaxSymlinks) throw Error("too many symlinks resolving " + std::string(path) + " in image " + root);
      const std::string target = image.readlink(join(done));
      std::string_view t(target);
      done.pop_back();
      if (!t.empty() && t.front() == '/') done.clear();
      push_components(todo, t, true);
      continue;
    }
    const bool is_dir = st->type == ImageStat::Type::Dir;
    if (!todo.empty() && !is_dir)
      throw Error("can't resolve " + std::string(path) + " in image " + root + ": /" + join(done) +
                  " is not a directory");
    if (todo.empty()) return {join(done), true, is_dir};
  }
  if (!image.lstat(join(done))) throw Error("can't examine image root " + root);
  return {join(done), true, true};
}

RootPath make_in_root(const std::string& root, std::string_view path, bool file) {
  RootPath r = resolve_in_root(root, path);
  if (r.exists) return r;
  // RELATIVE is symlink-free up to the first missing component and literal after it,
  // so walking it with O_NOFOLLOW and creating what is missing stays inside ROOT.
  std::deque<std::string> parts;
  push_components(parts, r.relative, false);
  UniqueFd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw_errno("can't open image root " + root);
  std::string walked;
  while (!parts.empty()) {
    std::string part = std::move(parts.front());
    parts.pop_front();
    walked += "/" + part;
    const bool last = parts.empty();
    if (last && file) {
      int fd = openat(dir.get(), part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0 && errno != EEXIST) throw_errno("can't create mount point " + walked + " in image " + root);
      if (fd >= 0) close(fd);
      break;
    }
    if (mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
      throw_errno("can't create mount point " + walked + " in image " + root);
    UniqueFd next(openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) throw_errno("can't open " + walked + " in image " + root);
    dir = std::move(next);
  }
  r = resolve_in_root(root, path);
  if (!r.exists) throw Error("can't create mount point " + std::string(path) + " in image " + root);
  return r;
}

}  // namespace hpai
