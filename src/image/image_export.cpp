#include "hpai/image/image_export.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/subprocess.hpp"
#include "hpai/image/archive_handle.hpp"
#include "hpai/image/storage.hpp"

namespace hpai {

namespace {

void export_tar(const std::string& dir, const std::string& out) {
  ArchiveWriter wguard(archive_write_new());
  struct archive* w = wguard.get();
  archive_write_set_format_pax_restricted(w);
  if (out.ends_with(".gz") || out.ends_with(".tgz"))
    archive_write_add_filter_gzip(w);
  else if (out.ends_with(".zst"))
    archive_write_add_filter_zstd(w);
  else if (out.ends_with(".xz"))
    archive_write_add_filter_xz(w);
  if (archive_write_open_filename(w, out.c_str()) != ARCHIVE_OK)
    throw Error("can't write " + out + ": " + archive_error_string(w));

  ArchiveReader dguard(archive_read_disk_new());
  struct archive* disk = dguard.get();
  archive_read_disk_set_symlink_physical(disk);
  archive_read_disk_set_standard_lookup(disk);
  if (archive_read_disk_open(disk, dir.c_str()) != ARCHIVE_OK)
    throw Error("can't read " + dir + ": " + archive_error_string(disk));
  ArchiveEntry eguard(archive_entry_new());
  struct archive_entry* e = eguard.get();
  std::vector<char> buf(1 << 20);
  while (true) {
    int r = archive_read_next_header2(disk, e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw Error("can't read " + dir + ": " + archive_error_string(disk));
    archive_read_disk_descend(disk);
    std::string path = archive_entry_pathname(e);
    std::string rel = path.size() > dir.size() ? "./" + path.substr(dir.size() + 1) : "./";
    archive_entry_set_pathname(e, rel.c_str());
    // Owned by root in the archive, as images usually are; hpai owns nothing on import.
    archive_entry_set_uid(e, 0), archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root"), archive_entry_set_gname(e, "root");
    if (archive_write_header(w, e) < ARCHIVE_WARN) throw Error("can't write " + out + ": " + archive_error_string(w));
    if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
      int fd = open(archive_entry_sourcepath(e), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) throw_errno(std::string("can't read ") + archive_entry_sourcepath(e));
      ssize_t n;
      while ((n = read(fd, buf.data(), buf.size())) > 0)
        if (archive_write_data(w, buf.data(), static_cast<size_t>(n)) < 0) {
          close(fd);
          throw Error("can't write " + out + ": " + archive_error_string(w));
        }
      close(fd);
      if (n < 0) throw_errno(std::string("can't read ") + archive_entry_sourcepath(e));
    }
  }
  if (archive_write_close(w) != ARCHIVE_OK) throw Error("can't finish " + out + ": " + archive_error_string(w));
}

}  // namespace

void export_image(const std::string& dir, const std::string& out, std::string format) {
  if (format == "auto") format = out.ends_with(".sqfs") || out.ends_with(".squashfs") ? "squashfs" : "tar";
  if (format != "tar" && format != "squashfs")
    throw Error("unknown export format \"" + format + "\" (use tar or squashfs)", kExitUsage);
  // Written in a private directory made beside OUT, then renamed: a reader never sees
  // half a file, and in a shared directory (a scratch file system) nobody can plant a
  // symlink where the temporary file goes.
  const auto slash = out.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : out.substr(0, slash);
  std::string tmp_dir = parent + "/.hpai-export.XXXXXX";
  if (mkdtemp(tmp_dir.data()) == nullptr)
    throw_errno("can't create a temporary directory in " + parent + " for " + out);
  const std::string tmp = tmp_dir + "/image";
  try {
    if (format == "tar") {
      export_tar(dir, tmp);
    } else {
      int rc = run_program({"mksquashfs", dir, tmp, "-noappend", "-quiet", "-no-progress", "-no-xattrs"});
      if (rc != 0) throw Error("mksquashfs failed with status " + std::to_string(rc) + " writing " + out);
    }
    const mode_t mask = umask(0);  // the user's umask decides, as for any file they create
    umask(mask);
    check(chmod(tmp.c_str(), 0666 & ~mask), "can't chmod " + tmp);
    check(rename(tmp.c_str(), out.c_str()), "can't rename " + tmp + " to " + out);
    rmdir(tmp_dir.c_str());
  } catch (...) {
    remove_tree(tmp_dir);
    throw;
  }
}

}  // namespace hpai
