// Where image layers are written to disk, safely and without privilege.
//
// Every path is resolved inside the image root with openat2(RESOLVE_IN_ROOT): a layer
// that plants "a -> /etc" and then writes "a/passwd" writes the image's own
// etc/passwd, never the host's. Members with "..", device nodes, FIFOs and anything
// under /dev are dropped; setuid/setgid bits are stripped; directories are made u+rwx
// and files u+rw so the user can delete the image later. OCI whiteouts (".wh.NAME",
// ".wh..wh..opq") delete what lower layers wrote. Nothing under the archive's own .hpai/
// is written: that directory is hpai's, made afresh after the unpack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "hpai/base/fd.hpp"

struct archive;
struct archive_entry;

namespace hpai {

struct UnpackStats {
  std::uint64_t files = 0, dirs = 0, symlinks = 0, hardlinks = 0, bytes = 0;
  std::uint64_t whiteouts = 0;       // whiteout entries applied
  std::uint64_t dropped = 0;         // device nodes, FIFOs, sockets, /dev contents
  std::uint64_t rejected = 0;        // unsafe members skipped ("..", escaping links)
  std::uint64_t setid_stripped = 0;  // setuid/setgid bits removed
  std::uint64_t metadata = 0;        // entries under the archive's own .hpai/ (never written)
};

// A member's path made relative to the image root: leading "/" and "./" removed,
// "." components dropped. nullopt for ".." components (never followed) and for names
// no file system accepts. "" is the root itself.
std::optional<std::string> sanitize_member_path(std::string_view path);

class LayerWriter {
 public:
  explicit LayerWriter(const std::string& root);
  ~LayerWriter();
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // Applies the tar stream A (positioned before its first header) on top of what is
  // there. WHAT names the layer in messages. Throws Error on I/O or archive errors.
  void apply(struct archive* a, const std::string& what);
  // The same, one entry at a time, for readers that are not tar streams (a directory
  // read with archive_read_disk): begin_layer(), then apply_entry() per entry, PATH
  // relative to the image root.
  void begin_layer();
  void apply_entry(struct archive* a, struct archive_entry* e, const char* path, const std::string& what);
  const UnpackStats& stats() const { return stats_; }
  // The content of the archive's own .hpai/image.json (an hpai export carries one), read
  // as data; hpai writes the image's metadata itself (image_config.cpp).
  const std::optional<std::string>& carried_metadata() const { return carried_metadata_; }

 private:
  int parent_dir(const std::string& rel_dir, bool create);
  UniqueFd make_dirs(const std::string& rel_dir);
  void forget_parent() { cached_path_.clear(), cached_fd_.reset(); }
  void clear_existing(int dir, const std::string& name, bool keep_dir, const std::string& rel);
  void whiteout(const std::string& dir, const std::string& name, const std::string& rel);
  void opaque(const std::string& dir);
  void write_entry(struct archive* a, struct archive_entry* e, const std::string& rel, const std::string& what);
  void metadata_entry(struct archive* a, struct archive_entry* e, const std::string& rel, const std::string& what);

  std::string root_;
  UniqueFd root_fd_;
  std::string cached_path_;  // the last parent directory resolved, and its fd
  UniqueFd cached_fd_;
  std::unordered_set<std::string> this_layer_;  // paths written by the layer being applied
  UnpackStats stats_;
  std::optional<std::string> carried_metadata_;
  mode_t old_umask_;
};

}  // namespace hpai
