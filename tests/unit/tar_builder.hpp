// Crafted tar archives for tests, written with libarchive.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>
#include <string>

namespace hpai::test {

class TarBuilder {
 public:
  enum class Filter { None, Gzip, Zstd, Xz, Bzip2 };
  explicit TarBuilder(const std::string& path, bool gzip = false)
      : TarBuilder(path, gzip ? Filter::Gzip : Filter::None) {}
  TarBuilder(const std::string& path, Filter filter) {
    w_ = archive_write_new();
    archive_write_set_format_pax_restricted(w_);
    if (filter == Filter::Gzip) archive_write_add_filter_gzip(w_);
    if (filter == Filter::Zstd) archive_write_add_filter_zstd(w_);
    if (filter == Filter::Xz) archive_write_add_filter_xz(w_);
    if (filter == Filter::Bzip2) archive_write_add_filter_bzip2(w_);
    if (archive_write_open_filename(w_, path.c_str()) != ARCHIVE_OK) throw std::runtime_error("can't write " + path);
  }
  ~TarBuilder() { close(); }
  TarBuilder& dir(const std::string& path, int mode = 0755) { return add(path, AE_IFDIR, mode); }
  TarBuilder& file(const std::string& path, const std::string& content = "", int mode = 0644) {
    return add(path, AE_IFREG, mode, content);
  }
  TarBuilder& symlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFLNK, 0777, "", target);
  }
  TarBuilder& hardlink(const std::string& path, const std::string& target) {
    return add(path, AE_IFREG, 0644, "", "", target);
  }
  TarBuilder& special(const std::string& path, unsigned type) { return add(path, type, 0644); }
  void close() {
    if (w_ == nullptr) return;
    archive_write_close(w_);
    archive_write_free(w_);
    w_ = nullptr;
  }

 private:
  TarBuilder& add(const std::string& path, unsigned type, int mode, const std::string& content = "",
                  const std::string& symlink = "", const std::string& hardlink = "") {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, static_cast<mode_t>(mode));
    if (!symlink.empty()) archive_entry_set_symlink(e, symlink.c_str());
    if (!hardlink.empty()) archive_entry_set_hardlink(e, hardlink.c_str());
    if (type == AE_IFCHR) archive_entry_set_rdev(e, 0x0103);
    archive_entry_set_size(e, hardlink.empty() ? static_cast<la_int64_t>(content.size()) : 0);
    archive_write_header(w_, e);
    if (!content.empty()) archive_write_data(w_, content.data(), content.size());
    archive_entry_free(e);
    return *this;
  }
  struct archive* w_ = nullptr;
};

}  // namespace hpai::test
