#include "hpai/base/mount_spec.hpp"

#include <cerrno>
#include <cstring>

#include "hpai/base/error.hpp"

namespace hpai {

std::string host_source(const std::string& src, const std::string& origin) {
  auto path = real_path(src);
  if (!path) {
    int err = errno;
    throw Error("can't bind " + src + ": " +
                (err == ENOENT ? "no such file or directory on host" : std::strerror(err)) + " (from " + origin + ")");
  }
  return *path;
}

namespace {

Mount mount_of(Mount::Kind kind, const std::string& source, const std::string& dst, MountFlags flags,
               const std::string& origin) {
  Mount m;
  m.kind = kind;
  m.source = source;
  m.target = dst;
  m.read_only = flags.read_only;
  m.create = flags.create;
  m.origin = origin;
  return m;
}

}  // namespace

Mount bind_of(const std::string& src, const std::string& dst, MountFlags flags, const std::string& origin) {
  Mount m = mount_of(Mount::Kind::Bind, src, dst, flags, origin);
  m.file = !is_directory(src);
  return m;
}

Mount tmpfs_at(const std::string& dst, const std::string& options, MountFlags flags, const std::string& origin) {
  return mount_of(Mount::Kind::Tmpfs, options, dst, flags, origin);
}

}  // namespace hpai
