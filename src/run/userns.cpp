#include "hpai/run/userns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

void refuse_setuid(const std::string& program) {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  check(getresuid(&ruid, &euid, &suid), "getresuid");
  check(getresgid(&rgid, &egid, &sgid), "getresgid");
  if (ruid != euid || ruid != suid)
    throw Error(program + " is installed setuid (real uid " + std::to_string(ruid) + ", effective uid " +
                std::to_string(euid) + ", saved uid " + std::to_string(suid) +
                "); it needs no privilege and refuses to run that way: chmod u-s the binary");
  if (rgid != egid || rgid != sgid)
    throw Error(program + " is installed setgid (real gid " + std::to_string(rgid) + ", effective gid " +
                std::to_string(egid) + ", saved gid " + std::to_string(sgid) +
                "); it needs no privilege and refuses to run that way: chmod g-s the binary");
}

void exit_if_setuid(const std::string& program) {
  try {
    refuse_setuid(program);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s[%d]: error: %s\n", program.c_str(), static_cast<int>(getpid()), e.what());
    std::fflush(stderr);
    _exit(e.exit_code());
  }
}

std::string uid_map_line(const IdMap& map) {
  return std::to_string(map.inside_uid) + " " + std::to_string(map.outside_uid) + " 1\n";
}

std::string gid_map_line(const IdMap& map) {
  return std::to_string(map.inside_gid) + " " + std::to_string(map.outside_gid) + " 1\n";
}

namespace {

void write_proc_file(const char* path, const std::string& content) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno(std::string("can't open ") + path);
  auto n = write(fd.get(), content.data(), content.size());
  if (n < 0) throw_errno(std::string("can't write \"") + content.substr(0, content.size() - 1) + "\" to " + path);
  if (static_cast<std::size_t>(n) != content.size()) throw Error(std::string("short write to ") + path);
}

}  // namespace

void enter_user_namespace(const IdMap& map) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    int err = errno;
    if (err == EPERM || err == ENOSPC || err == EUSERS)
      throw_errno(
          "can't create a user namespace (is user.max_user_namespaces 0, or unprivileged user namespaces "
          "restricted by kernel.unprivileged_userns_clone or AppArmor? see docs/hpai-run.md, Troubleshooting)",
          err);
    throw_errno("can't create user and mount namespaces", err);
  }
  write_proc_file("/proc/self/setgroups", "deny\n");
  write_proc_file("/proc/self/uid_map", uid_map_line(map));
  write_proc_file("/proc/self/gid_map", gid_map_line(map));
  spdlog::debug("user namespace: uid {} -> {}, gid {} -> {}", map.outside_uid, map.inside_uid, map.outside_gid,
                map.inside_gid);
}

}  // namespace hpai
