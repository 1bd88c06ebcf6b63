// Where imported images live and how they get there atomically.
//
// Layout under the storage root ($HPAI_STORAGE, else /var/tmp/$USER.hpai):
//   img/NAME/      one unpacked image per name ('/' in names stored as '+'),
//                  with its metadata in img/NAME/.hpai/image.json
//   tmp/NAME%...   imports and removals in progress; an import is renamed into img/
//                  when complete; what a killed one left is cleared under NAME's lock
//   lock/NAME      per-name lock (flock), held for a whole import or removal
//   blobs/         pulled layers and configs by digest, shared by every image
//                  (src/registry/blob_cache.hpp)
//
// The root must be the user's and writable by nobody else (trust.hpp): someone who
// could write it could swap the images the user runs. It is made 0700.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/base/fd.hpp"

namespace hpai {

// Image names: letters, digits and . _ - : @ /, as registries spell them
// ("pytorch:24.05", "nvcr.io/nvidia/pytorch:24.05"); no "..", no leading '.' or '/'.
void validate_image_name(std::string_view name);

// An exclusive lock on one image name, released when destroyed (or when the process dies).
class NameLock {
 public:
  NameLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

// A directory an import unpacks into; removed unless committed.
class Staging {
 public:
  Staging(std::string path, std::string final_path);
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  const std::string& path() const { return path_; }
  // Puts the staged image in place, atomically replacing any image of that name.
  void commit();

 private:
  std::string path_;
  std::string final_path_;
  bool committed_ = false;
};

class Storage {
 public:
  explicit Storage(std::string root);
  // $HPAI_STORAGE, else /var/tmp/$USER.hpai (USER from ENV, else the uid).
  static Storage from_environment(const Environment& env);
  // The storage a tool's -s DIR names, else from_environment(ENV).
  static Storage chosen(const std::string& dir_option, const Environment& env);

  const std::string& root() const { return root_; }
  std::string image_dir(std::string_view name) const;
  bool has(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted

  // Blocks while another process imports or removes NAME (calling WAITING once), then
  // clears what killed imports or removals of NAME left.
  NameLock lock(std::string_view name, void (*waiting)(std::string_view) = nullptr) const;
  // Held by hpai-run --pull from its look for NAME to the end of its pull, so that the
  // ranks of a node pull once (lock/NAME%pull; not the name's lock, which the pull takes).
  NameLock lock_pull(std::string_view name) const;
  // ROOT/RELATIVE, made 0700 (with the storage itself) when missing: the blob cache's.
  std::string make_area(std::string_view relative) const;
  // Needs the lock: makes a staging directory for NAME.
  Staging stage(std::string_view name) const;
  void remove(std::string_view name) const;  // needs the lock

 private:
  void ensure_layout() const;
  // Whether the root exists; Error when it exists but is not safely ours.
  bool present() const;
  std::string root_;
  mutable bool verified_ = false;
};

// Removes a tree the user owns even where directories are read-only.
void remove_tree(const std::string& path);

// An image argument of hpai-run or hpai-check, resolved.
struct LocatedImage {
  std::string path;     // absolute and symlink-free: a stored image's directory, or the host path given
  bool stored = false;  // ARG named an image in storage
};

// ARG names an image in storage (Storage::chosen(STORAGE_OPTION, ENV)) when storage has
// one by that name (as ch-run decides): a directory someone else can write, the working
// directory included, must not shadow what the user stored (a warning says so).
// Otherwise it is a host path, which must exist: Error "can't find image ARG: ..., and
// no image of that name in storage ROOT". A path that starts with "/" or "." is never a
// name, and storage is not looked at for it (a storage that can't be used then fails
// only the names).
LocatedImage locate_image(const std::string& arg, const std::string& storage_option, const Environment& env);

}  // namespace hpai
