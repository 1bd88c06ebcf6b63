// Where each planned mount lands: its target resolved inside the image and checked
// against the mounts before it, before any namespace exists.
#include "hpai/run/placement.hpp"

#include <sys/stat.h>

#include "hpai/base/error.hpp"
#include "hpai/image/path_in_root.hpp"

namespace hpai {

namespace {

// A target the image must already have (read-only image, nothing creates it).
void require_target(const ImageFs& image, const Mount& m, const RootPath& t) {
  if (!t.exists)
    throw Error("can't bind " + m.source + " to " + m.target + ": " + m.target + " does not exist in image " +
                image.describe() + " and the image is read-only (create it in the image, or run with -w or -W) (from " +
                m.origin + ")");
  if (t.is_dir == m.file)
    throw Error("can't bind " + m.source + " to " + m.target + ": " + (m.file ? "a file" : "a directory") +
                " can't be mounted on " + (t.is_dir ? "a directory" : "a file") + " (from " + m.origin + ")");
}

// "/a/b" is "/a" or below it.
bool at_or_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

}  // namespace

// Checks every mount's target against the image and the mounts before it, and drops
// those marked optional that can't be placed (with a note). A target resolves inside
// the image (its symlinks followed as in the container); one that resolves to / is
// refused. Below an earlier tmpfs it is made at run time; below an earlier bind it is
// on the host, where hpai never creates anything, so it must exist there. A target in
// the image that the mount may create is made at run time on a writable root, or goes
// into the skeleton layer of a read-only one; any other target must exist, of the
// right type. MountTree checks all of this again, by fd, as the mounts are made.
void place_mounts(Plan& p, const ImageFs& image, bool writable) {
  std::vector<Mount> kept;
  std::vector<std::string> at;  // where each kept mount landed, canonical
  for (Mount& m : p.mounts) {
    auto skip = [&](const std::string& why) {
      if (!m.optional)
        throw Error("can't mount " + m.source + " on " + m.target + ": " + why + " (from " + m.origin + ")");
      p.notes.push_back("skipped " + m.origin + " " + m.source + ": " + why);
    };
    std::optional<std::size_t> tmpfs;
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (kept[j].kind == Mount::Kind::Tmpfs && m.target.starts_with(kept[j].target + "/")) tmpfs = j;
    if (tmpfs) {  // hpai's own, empty but for what the plan puts there
      kept.push_back(m);
      at.push_back(at[*tmpfs] + m.target.substr(kept[*tmpfs].target.size()));
      continue;
    }
    if (m.kind == Mount::Kind::Symlink)
      throw Error("internal error: symlink " + m.target + " outside an injected tmpfs");
    RootPath t = resolve_in_root(image, m.target);
    const std::string where = "/" + t.relative;
    if (where == "/") {
      skip(m.target + " is the container's / (in image " + image.describe() + "), which can't be mounted over");
      continue;
    }
    std::optional<std::size_t> bind;  // the last earlier bind at or above WHERE
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (kept[j].kind != Mount::Kind::Tmpfs && at_or_under(where, at[j])) bind = j;
    if (bind && where != at[*bind]) {
      const Mount& b = kept[*bind];
      const std::string host = b.source + where.substr(at[*bind].size());
      struct stat st {};
      if (b.kind == Mount::Kind::File || stat(host.c_str(), &st) != 0) {
        skip(where + " lies inside the bind of " + b.source + " at " + at[*bind] + " (from " + b.origin + "), and " +
             host + " does not exist on the host; hpai creates mount points only in the image or its own tmpfs");
        continue;
      }
      if (S_ISDIR(st.st_mode) == m.file) {
        skip(std::string(m.file ? "a file" : "a directory") + " can't be mounted on " + host + " (inside the bind of " +
             b.source + " at " + at[*bind] + ")");
        continue;
      }
      m.create = false;  // there already, on the host
    } else if (!bind && !(m.create && writable)) {
      if (!t.exists && m.create) {
        p.skeleton.push_back({where, m.file});
      } else if (m.kind == Mount::Kind::Tmpfs && !t.exists) {
        throw Error("can't mount a tmpfs on " + m.target + ": it does not exist in read-only image " + p.image +
                    " (from " + m.origin + ")");
      } else if (m.kind != Mount::Kind::Tmpfs) {
        require_target(image, m, t);
      }
    }
    kept.push_back(m);
    at.push_back(where);
  }
  p.mounts = std::move(kept);
}

}  // namespace hpai
