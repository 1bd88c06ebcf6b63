#include "hpai/run/mount_tree.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

MountTree::MountTree(const std::string& root) : root_path_(root) {
  root_.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) throw_errno("can't open the container root " + root);
  if (fstat(root_.get(), &root_stat_) != 0) throw_errno("can't examine the container root " + root);
}

std::uint64_t MountTree::mount_id(int fd, const std::string& path) const {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0)
    throw_errno("can't examine " + path + " in the container");
  if (!(stx.stx_mask & STATX_MNT_ID))
    throw Error("the kernel does not report mount ids (statx STATX_MNT_ID needs Linux >= 5.8)");
  return stx.stx_mnt_id;
}

void MountTree::mounted(UniqueFd mount, bool owned, const std::string& what) {
  made_.push_back({std::move(mount), owned, what, std::nullopt});
}

void MountTree::check_may_create(int dir, const std::string& dir_path, const std::string& want,
                                 const std::string& origin) {
  const std::uint64_t id = mount_id(dir, dir_path);
  if (!root_id_) root_id_ = mount_id(root_.get(), "/");
  if (id == *root_id_) return;  // the image itself
  std::string where = "a mount that came with a host bind";
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
    if (!it->id) it->id = mount_id(it->fd.get(), it->what);  // a mount's id does not change: asked once
    if (*it->id != id) continue;
    if (it->owned) return;
    where = it->what;
    break;
  }
  throw Error("can't create mount point " + want + " (from " + origin + "): " + dir_path + " is on " + where +
              ", and hpai creates mount points only in the image or in a tmpfs of its own, never on the host "
              "(an image symlink may lead there; bind onto a path that exists, or choose another destination)");
}

MountTree::Target MountTree::open(std::string_view path, Create create, const std::string& origin) {
  if (path.empty() || path.front() != '/') throw Error("container path \"" + std::string(path) + "\" is not absolute");
  // Most targets exist: one openat2 resolves them inside the root, as the walk below
  // would. What is missing, or any trouble, takes the walk (with its checks and messages).
  Target t;
  t.fd.reset(
      openat2_resolve(root_.get(), std::string(path), O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
  struct stat st {};
  if (t.fd && fstat(t.fd.get(), &st) == 0) {
    t.path = std::string(path);
    t.is_dir = S_ISDIR(st.st_mode);
    t.is_root = st.st_dev == root_stat_.st_dev && st.st_ino == root_stat_.st_ino;
    return t;
  }
  // A mount point to create in a directory that exists (a library in /.hpai/host/lib):
  // the directory in one openat2 without symlinks (so PATH, written plainly, is the
  // canonical one), the name made there, on the same checks as the walk's.
  const std::size_t slash = path.rfind('/');
  const std::string name(path.substr(slash + 1));
  if (!t.fd && errno == ENOENT && create != Create::No && slash > 0 && is_plain_path(path)) {
    const std::string dir_path(path.substr(0, slash));
    UniqueFd dir(openat2_resolve(root_.get(), dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (dir && faccessat(dir.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
      check_may_create(dir.get(), dir_path, std::string(path), origin);
      if (create == Create::File) {
        UniqueFd f(openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!f && errno != EEXIST)
          throw_errno("can't create mount point " + std::string(path) + " (from " + origin + ")");
      } else if (mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("can't create mount point " + std::string(path) + " (from " + origin + ")");
      }
      t.fd.reset(openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (t.fd && fstat(t.fd.get(), &st) == 0 && !S_ISLNK(st.st_mode)) {
        t.path = std::string(path);
        t.is_dir = S_ISDIR(st.st_mode);
        return t;
      }
    }
  }
  return walk(path, create, origin);  // a symlink, a missing directory on the way, or trouble
}

MountTree::Target MountTree::walk(std::string_view path, Create create, const std::string& origin) {
  std::deque<std::string> todo;
  push_components(todo, path, false);
  // The directories walked, from the root down, by fd: ".." pops one, so it can never
  // climb above the root, and no path is looked up twice (nothing to race with).
  struct Dir {
    UniqueFd fd;  // empty for the root itself
    std::string name;
  };
  std::vector<Dir> stack;
  stack.push_back({UniqueFd(), ""});
  auto fd_of = [this](const Dir& d) { return d.fd ? d.fd.get() : root_.get(); };
  auto canonical = [&stack](const std::string& more = "") {
    std::string out;
    for (std::size_t i = 1; i < stack.size(); ++i) out += "/" + stack[i].name;
    if (!more.empty()) out += "/" + more;
    return out.empty() ? std::string("/") : out;
  };
  int links = 0;
  bool is_dir = true;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    const int dir = fd_of(stack.back());
    UniqueFd fd(openat(dir, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && errno != ENOENT)
      throw_errno("can't open " + canonical(part) + " in the container (from " + origin + ")");
    if (!fd) {
      if (create == Create::No) {
        std::string rest = canonical(part);
        for (const auto& p : todo) rest += "/" + p;  // literal: nothing below a missing part exists
        return {UniqueFd(), rest, false};
      }
      check_may_create(dir, canonical(), canonical(part), origin);
      if (todo.empty() && create == Create::File) {
        UniqueFd f(openat(dir, part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!f && errno != EEXIST)
          throw_errno("can't create mount point " + canonical(part) + " (from " + origin + ")");
      } else if (mkdirat(dir, part.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("can't create mount point " + canonical(part) + " (from " + origin + ")");
      }
      fd.reset(openat(dir, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("can't open " + canonical(part) + " in the container (from " + origin + ")");
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) throw_errno("can't examine " + canonical(part) + " in the container");
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) throw Error("too many symlinks resolving " + std::string(path) + " in the container");
      char buf[4096];
      ssize_t n = readlinkat(fd.get(), "", buf, sizeof buf);
      if (n < 0 || n == static_cast<ssize_t>(sizeof buf)) throw_errno("can't read symlink " + canonical(part));
      std::string_view target(buf, static_cast<std::size_t>(n));
      if (!target.empty() && target.front() == '/') stack.resize(1);
      push_components(todo, target, true);
      continue;
    }
    is_dir = S_ISDIR(st.st_mode);
    if (!todo.empty() && !is_dir)
      throw Error("can't resolve " + std::string(path) + " in the container: " + canonical(part) +
                  " is not a directory");
    stack.push_back({std::move(fd), part});
  }
  Target t;
  t.path = canonical();
  t.is_dir = is_dir;
  t.is_root = stack.size() == 1;
  t.fd = stack.size() == 1 ? UniqueFd(fcntl(root_.get(), F_DUPFD_CLOEXEC, 0)) : std::move(stack.back().fd);
  return t;
}

}  // namespace hpai
