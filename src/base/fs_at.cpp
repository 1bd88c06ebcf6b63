#include "hpai/base/fs_at.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"

namespace hpai {

void remove_at(int dir, const char* name) {
  if (unlinkat(dir, name, 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) throw_errno(std::string("can't remove ") + name);
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno(std::string("can't open directory ") + name + " to remove it");
  fchmod(fd, S_IRWXU);  // ours; may have been read-only
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    throw_errno(std::string("can't read directory ") + name);
  }
  std::vector<std::string> children;
  while (struct dirent* ent = readdir(d))
    if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) children.emplace_back(ent->d_name);
  for (const auto& c : children) remove_at(dirfd(d), c.c_str());
  closedir(d);
  if (unlinkat(dir, name, AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno(std::string("can't remove ") + name);
}

void write_new_file_at(int dir, const std::string& name, const std::string& content, mode_t mode,
                       const std::string& what) {
  UniqueFd fd(openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) throw_errno("can't create " + what);
  if (fchmod(fd.get(), mode) != 0) throw_errno("can't chmod " + what);  // the umask may have taken bits
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("can't write " + what);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace hpai
