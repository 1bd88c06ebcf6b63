#include "hpai/image/storage.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/base/trust.hpp"
#include "hpai/image/reference.hpp"

namespace hpai {

namespace {

// '/' can't appear in a file name; '+' can't appear in an image name.
std::string encode(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '/', '+');
  return out;
}

std::string decode(std::string_view file) {
  std::string out(file);
  std::replace(out.begin(), out.end(), '+', '/');
  return out;
}

// Between a name and the rest in tmp/: '%' is in no image name, so "foo%..." is never
// taken for one of "foo.bar"'s.
constexpr char kTmpSeparator = '%';

int make_user_writable(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_D || type == FTW_DNR) chmod(path, (st->st_mode & 07777) | S_IRWXU);
  return 0;
}

}  // namespace

void validate_image_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    throw Error("invalid image name \"" + std::string(name) + "\": " + why, kExitUsage);
  };
  if (name.empty()) bad("empty");
  if (name.size() > 200) bad("longer than 200 characters");
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._-:@/").find(c) == std::string_view::npos)
      bad(std::string("character '") + c + "' not allowed (use letters, digits and . _ - : @ /)");
  if (name.front() == '.' || name.front() == '/' || name.front() == '-') bad("must start with a letter or digit");
  if (name.back() == '/') bad("must not end with '/'");
  for (std::string_view part : split_fields(name, '/'))
    if (part.empty() || part == "." || part == "..") bad("empty, '.' or '..' path component");
}

Storage::Storage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  // Through a symlink: the real path, so that the image paths handed to the launch
  // work once the host root is elsewhere (an absolute link would then point nowhere).
  struct stat st {};
  if (lstat(root_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    if (st.st_uid != geteuid() && st.st_uid != 0)
      throw Error("refusing storage " + root_ + ": it is a symlink made by uid " + std::to_string(st.st_uid) +
                  ", not by you; remove it, or use storage of your own (-s DIR or $HPAI_STORAGE)");
    char real[PATH_MAX];
    if (realpath(root_.c_str(), real) == nullptr) throw_errno("can't resolve storage " + root_);
    root_ = real;
  }
}

bool Storage::present() const {
  struct stat st {};
  if (stat(root_.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("can't examine storage " + root_);
  }
  if (!verified_) {
    require_private_dir(root_, "storage");
    verified_ = true;
  }
  return true;
}

Storage Storage::chosen(const std::string& dir_option, const Environment& env) {
  return dir_option.empty() ? from_environment(env) : Storage(dir_option);
}

Storage Storage::from_environment(const Environment& env) {
  if (auto dir = env.get("HPAI_STORAGE"); dir && !dir->empty()) return Storage(*dir);
  std::string user = env.get("USER").value_or("");
  if (user.empty() || user.find('/') != std::string::npos) user = std::to_string(getuid());
  return Storage("/var/tmp/" + user + ".hpai");
}

void Storage::ensure_layout() const {
  // Private: other users have no business in someone's unpacked images. Made here or
  // there already (perhaps by someone else, a moment ago): checked either way.
  make_dir(root_, 0700, "storage directory");
  if (!present()) throw Error("storage " + root_ + " vanished");
  for (const char* sub : {"/img", "/tmp", "/lock"}) make_dir(root_ + sub, 0700, "storage directory");
}

NameLock Storage::lock_pull(std::string_view name) const {
  validate_image_name(name);
  ensure_layout();
  const std::string path = root_ + "/lock/" + encode(name) + kTmpSeparator + "pull";
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("can't open lock file " + path);
  while (flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) throw_errno("can't lock " + path);
  return NameLock(std::move(fd));
}

std::string Storage::make_area(std::string_view relative) const {
  ensure_layout();
  std::string path = root_;
  for (std::string_view part : split_fields(relative, '/')) {
    path += "/" + std::string(part);
    make_dir(path, 0700, "storage directory");
  }
  return path;
}

std::string Storage::image_dir(std::string_view name) const { return root_ + "/img/" + encode(name); }

bool Storage::has(std::string_view name) const {
  if (!present()) return false;
  struct stat st {};
  return lstat(image_dir(name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> Storage::names() const {
  std::vector<std::string> out;
  if (!present()) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/img", ec))
    if (e.is_directory(ec)) out.push_back(decode(e.path().filename().string()));
  std::sort(out.begin(), out.end());
  return out;
}

NameLock Storage::lock(std::string_view name, void (*waiting)(std::string_view)) const {
  validate_image_name(name);
  ensure_layout();
  const std::string path = root_ + "/lock/" + encode(name);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) throw_errno("can't open lock file " + path);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw_errno("can't lock " + path);
    if (waiting != nullptr) waiting(name);
    while (flock(fd.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw_errno("can't lock " + path);
  }
  // Under the name's lock no import or removal of NAME runs: what is left of one in
  // tmp/ was killed. Cleared now, whatever the lock is taken for.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/tmp", ec)) {
    const std::string file = e.path().filename().string();
    if (file.substr(0, file.find(kTmpSeparator)) == encode(name) && file.find(kTmpSeparator) != std::string::npos) {
      spdlog::info("removing {} left by an interrupted import or removal", e.path().string());
      remove_tree(e.path().string());
    }
  }
  return NameLock(std::move(fd));
}

Staging Storage::stage(std::string_view name) const {
  ensure_layout();
  std::string templ = root_ + "/tmp/" + encode(name) + kTmpSeparator + "import.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw_errno("can't create a staging directory in " + root_ + "/tmp");
  return Staging(templ, image_dir(name));
}

void Storage::remove(std::string_view name) const {
  if (!has(name)) throw Error("no image named " + std::string(name) + " in storage " + root_);
  // Rename first so the name disappears at once, then delete at leisure.
  std::string templ = root_ + "/tmp/" + encode(name) + kTmpSeparator + "rm.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw_errno("can't create a directory in " + root_ + "/tmp");
  const std::string doomed = templ + "/image";
  check(rename(image_dir(name).c_str(), doomed.c_str()), "can't remove image " + std::string(name));
  remove_tree(templ);
}

Staging::Staging(std::string path, std::string final_path)
    : path_(std::move(path)), final_path_(std::move(final_path)) {}

Staging::~Staging() {
  if (!committed_) {
    try {
      remove_tree(path_);
    } catch (const std::exception& e) {
      spdlog::warn("can't clean up {}: {}", path_, e.what());
    }
  }
}

void Staging::commit() {
  if (renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path_.c_str(), RENAME_NOREPLACE) == 0) {
    committed_ = true;
    return;
  }
  if (errno != EEXIST) throw_errno("can't move " + path_ + " to " + final_path_);
  // Replace: swap in one step, so readers see the old image or the new one, never none.
  check(renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path_.c_str(), RENAME_EXCHANGE),
        "can't replace " + final_path_);
  committed_ = false;  // path_ now holds the old image, removed by the destructor
  remove_tree(path_);
  committed_ = true;
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("can't remove " + path);
  }
  if (S_ISDIR(st.st_mode)) nftw(path.c_str(), make_user_writable, 64, FTW_PHYS);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error("can't remove " + path + ": " + ec.message());
}

LocatedImage locate_image(const std::string& arg, const std::string& storage_option, const Environment& env) {
  bool is_name = true;
  try {
    validate_image_name(arg);
  } catch (const Error&) {
    is_name = false;
  }
  std::optional<Storage> storage;
  if (is_name) storage.emplace(Storage::chosen(storage_option, env));
  if (storage && storage->has(arg)) {
    if (path_exists(arg))
      spdlog::warn(
          "{} is an image in storage {} and also a path here; using the stored image (write ./{} for the path)", arg,
          storage->root(), arg);
    return {storage->image_dir(arg), true};
  }
  auto path = real_path(arg);
  if (!path) {
    int err = errno;
    // A registry reference names the image it was pulled as: "docker.io/library/debian"
    // is "debian:latest" in storage.
    std::string pulled;
    if (storage) try {
        pulled = parse_image_reference(arg).storage_name();
      } catch (const Error&) {
        // Not a reference either.
      }
    if (!pulled.empty() && pulled != arg && storage->has(pulled)) return {storage->image_dir(pulled), true};
    throw Error("can't find image " + arg + ": " + std::strerror(err) +
                (storage ? ", and no image of that name in storage " + storage->root() +
                               (pulled.empty() ? std::string() : " (hpai-image pull " + arg + " fetches it)")
                         : std::string()));
  }
  return {*path, false};
}

}  // namespace hpai
