#include "hpai/base/host_fs.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>

#include "hpai/base/error.hpp"

namespace hpai {

std::optional<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dir(const std::string& path, mode_t mode, const std::string& what) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    throw_errno("can't create " + what + (what.empty() ? "" : " ") + path);
}

}  // namespace hpai
