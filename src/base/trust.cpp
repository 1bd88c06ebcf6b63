#include "hpai/base/trust.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "hpai/base/error.hpp"

namespace hpai {

namespace {

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

struct stat stat_of(const std::string& path, const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw_errno("can't examine " + what);
  return st;
}

}  // namespace

void require_trusted_file(const std::string& path, const std::string& what) {
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) throw_errno("can't examine " + what);
  const struct stat st = stat_of(real, what);
  const uid_t me = geteuid();
  if (st.st_uid != 0 && st.st_uid != me)
    throw Error("refusing " + what + ": it belongs to uid " + std::to_string(st.st_uid) +
                ", not to you or root; another user decides what it says (copy it, check it, and use your copy)");
  if (st.st_mode & S_IWOTH)
    throw Error("refusing " + what + ": any user can write it (mode " + octal(st.st_mode) + "); chmod o-w " + real);
  std::string dir = real;
  dir = dir.substr(0, dir.rfind('/'));
  if (dir.empty()) dir = "/";
  const struct stat ds = stat_of(dir, "the directory of " + what);
  if ((ds.st_mode & S_IWOTH) && !(ds.st_mode & S_ISVTX))
    throw Error("refusing " + what + ": any user can replace it, its directory " + dir + " is writable by all (mode " +
                octal(ds.st_mode) + "); chmod o-w " + dir);
}

void require_private_dir(const std::string& path, const std::string& what) {
  const struct stat st = stat_of(path, what);
  const uid_t me = geteuid();
  if (!S_ISDIR(st.st_mode)) throw Error(what + " " + path + " is not a directory");
  if (st.st_uid != me)
    throw Error("refusing " + what + " " + path + ": it belongs to uid " + std::to_string(st.st_uid) +
                ", not to you, so its owner could swap the images you run; remove it, or use storage of your own "
                "(-s DIR or $HPAI_STORAGE)");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw Error("refusing " + what + " " + path + ": others can write it (mode " + octal(st.st_mode) +
                ") and swap the images you run; chmod go-w " + path);
}

}  // namespace hpai
