#include "hpai/image/image_import.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/host_info.hpp"
#include "hpai/base/log.hpp"
#include "hpai/image/archive_handle.hpp"
#include "hpai/image/blob_source.hpp"
#include "hpai/image/elf.hpp"
#include "hpai/image/image_formats.hpp"
#include "hpai/image/layer_stream.hpp"
#include "hpai/image/path_in_root.hpp"

namespace hpai {

namespace {

// Blob names in any case: an upper-case digest name is still a blob (and checked as one).
bool is_hex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

// Splits "PATH:TAG" when the whole string is no file. A tag may hold a colon itself
// (docker's RepoTags are always REPO:TAG: "x.tar:realtest:1"), so the split is at the
// first colon whose prefix exists.
struct SourceAndTag {
  std::string path;
  std::string tag;  // "" when none
};
SourceAndTag split_tag(const std::string& source) {
  if (path_exists(source)) return {source, ""};
  for (auto colon = source.find(':'); colon != std::string::npos; colon = source.find(':', colon + 1))
    if (colon > 0 && path_exists(source.substr(0, colon))) return {source.substr(0, colon), source.substr(colon + 1)};
  return {source, ""};
}

// "debian-12.tar.gz" -> "debian-12"; an OCI/docker tag gives ":TAG" or the whole name.
std::string derive_name(const std::string& path, const std::string& ref) {
  if (ref.find(':') != std::string::npos || ref.find('/') != std::string::npos) return ref;  // "repo:tag" from docker
  std::string base = path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base = base.substr(base.rfind('/') == std::string::npos ? 0 : base.rfind('/') + 1);
  for (const char* ext : {".tar.gz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tgz", ".tar", ".oci"})
    if (base.size() > std::strlen(ext) && base.ends_with(ext)) {
      base.resize(base.size() - std::strlen(ext));
      break;
    }
  for (char& c : base)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._-").find(c) == std::string_view::npos)
      c = '-';
  return ref.empty() ? base : base + ":" + ref;
}

class Progress {
 public:
  Progress(bool on, std::string what, std::uint64_t total) : on_(on), what_(std::move(what)), total_(total) {}
  ~Progress() {
    if (on_ && shown_) std::fputs("\r\033[K", stderr);
  }
  void update(std::uint64_t done, std::uint64_t files) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (shown_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    shown_ = true;
    double mib = static_cast<double>(done) / 1048576.0;
    if (total_ > 0)
      std::fprintf(stderr, "\r\033[Kimporting %s: %.0f / %.0f MiB (%.0f%%), %llu files", what_.c_str(), mib,
                   static_cast<double>(total_) / 1048576.0,
                   100.0 * static_cast<double>(done) / static_cast<double>(total_),
                   static_cast<unsigned long long>(files));
    else
      std::fprintf(stderr, "\r\033[Kimporting %s: %.0f MiB, %llu files", what_.c_str(), mib,
                   static_cast<unsigned long long>(files));
  }

 private:
  bool on_;
  std::string what_;
  std::uint64_t total_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

// The OCI name of the CPU an image's /bin/sh is built for ("" when unknown): flat tars
// and directories carry no config saying it.
std::string sh_architecture(const std::string& root) {
  RootPath sh = resolve_in_root(root, "/bin/sh");
  if (!sh.exists || sh.is_dir) return "";
  try {
    auto elf = read_elf(sh.under(root));
    return elf ? elf_architecture(*elf) : "";
  } catch (const Error&) {
    return "";  // a broken /bin/sh says nothing about the architecture
  }
}

void check_digest(const std::string& got, const std::string& want, const std::string& what, const char* kind) {
  if (!want.empty() && got != want)
    throw Error(what + ": " + kind + " sha256:" + got + " does not match the expected sha256:" + want +
                " (corrupt or tampered; nothing was imported)");
}

void import_layers(const BlobStore& store, const ResolvedImage& img, LayerWriter& writer, Progress& progress) {
  std::uint64_t before = 0;
  for (std::size_t i = 0; i < img.layers.size(); ++i) {
    const LayerRef& l = img.layers[i];
    const std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(img.layers.size()) + " (" +
                             store.describe(l.path) + ")";
    auto src = store.open(l.path);
    LayerDigests d;
    try {
      d = apply_layer(*src, writer, what, [&](std::uint64_t n) { progress.update(before + n, writer.stats().files); });
    } catch (const Error& e) {
      // A damaged blob often breaks the stream before its digest is complete: when it
      // doesn't match, that is the cause to report, not the parse error it led to.
      if (!l.blob_hex.empty()) {
        Sha256 h;
        auto again = store.open(l.path);
        drain(*again, [&](const void* p, std::size_t n) { h.update(p, n); });
        check_digest(h.hex(), l.blob_hex, what + " (" + e.what() + ")", "blob");
      }
      throw;
    }
    before += d.blob_bytes;
    check_digest(d.blob, l.blob_hex, what, "blob");
    check_digest(d.tar, l.diff_id_hex, what, "uncompressed tar (diff_id)");
    if (l.size != 0 && d.blob_bytes != l.size)
      throw Error(what + ": " + std::to_string(d.blob_bytes) + " bytes, its descriptor says " + std::to_string(l.size));
  }
}

// A plain directory: copied entry by entry through the same writer (and its rules).
void import_directory(const std::string& dir, LayerWriter& writer, Progress& progress) {
  ArchiveReader guard(archive_read_disk_new());
  struct archive* disk = guard.get();
  archive_read_disk_set_symlink_physical(disk);
  archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
  if (archive_read_disk_open(disk, dir.c_str()) != ARCHIVE_OK)
    throw Error("can't read " + dir + ": " + archive_error_string(disk));
  writer.begin_layer();
  ArchiveEntry eguard(archive_entry_new());
  struct archive_entry* e = eguard.get();
  while (true) {
    int r = archive_read_next_header2(disk, e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      // libarchive says "PATH: Couldn't visit directory" and no errno: ask the kernel.
      std::string msg = archive_error_string(disk) ? archive_error_string(disk) : "";
      std::string failed = msg.substr(0, msg.rfind(": "));
      if (!failed.empty() && access(failed.c_str(), R_OK | X_OK) != 0 && errno == EACCES)
        throw Error("can't read " + failed +
                    ": permission denied; a tree another user built (root, with debootstrap) "
                    "can't be read whole by you: have its owner tar it (tar -C " +
                    dir + " -cf image.tar .) and import the tar");
    }
    if (r == ARCHIVE_WARN)
      spdlog::warn("{}: {}", dir, archive_error_string(disk));
    else if (r != ARCHIVE_OK)
      throw Error("can't read " + dir + ": " + archive_error_string(disk));
    archive_read_disk_descend(disk);
    std::string path = archive_entry_pathname(e);
    std::string rel = path.size() > dir.size() ? path.substr(dir.size() + 1) : "";
    writer.apply_entry(disk, e, rel.c_str(), dir);
    progress.update(writer.stats().bytes, writer.stats().files);
  }
}

// The unpacked image's metadata: the manifest's config (a tar or directory may carry an
// hpai export's .hpai/image.json, read as data, never unpacked, or Charliecloud's
// ch/environment), the architecture, and INFO on where it came from; then mode 0755.
ImageConfig finish_image(const std::string& dir, const ResolvedImage& img, const LayerWriter& writer,
                         const std::string& what, ImportInfo info) {
  ImageConfig config = !img.config_json.empty() ? image_config_from_oci(img.config_json, "image config")
                       : writer.carried_metadata()
                           ? image_config_from_metadata(*writer.carried_metadata(), what + ":.hpai/image.json")
                           : read_image_config(dir);
  if (config.architecture.empty()) {
    config.architecture = sh_architecture(dir);
    if (!config.architecture.empty() && config.os.empty()) config.os = "linux";
  }
  info.created = config.import.created;
  info.imported = utc_now();
  info.size = writer.stats().bytes;
  config.import = std::move(info);
  write_image_config(dir, config);
  check(chmod(dir.c_str(), 0755), "can't chmod " + dir);
  return config;
}

void say_waiting(std::string_view name) { spdlog::warn("waiting for another import or removal of {} to finish", name); }

}  // namespace

const char* to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::Tar: return "tar";
    case ImageFormat::Oci: return "oci";
    case ImageFormat::OciArchive: return "oci-archive";
    case ImageFormat::DockerArchive: return "docker-archive";
    case ImageFormat::Dir: return "dir";
  }
  return "?";
}

std::optional<ImageFormat> parse_image_format(std::string_view name) {
  if (name == "auto") return std::nullopt;
  for (ImageFormat f :
       {ImageFormat::Tar, ImageFormat::Oci, ImageFormat::OciArchive, ImageFormat::DockerArchive, ImageFormat::Dir})
    if (name == to_string(f)) return f;
  throw Error("unknown format \"" + std::string(name) + "\" (use tar, oci, oci-archive, docker-archive or dir)",
              kExitUsage);
}

ImageFormat detect_format(const std::string& source) {
  if (is_directory(source)) {
    if (path_exists(source + "/oci-layout")) return ImageFormat::Oci;
    // Importing a broken layout as a root file system would "succeed" with an image
    // holding index.json and blobs/: say what is wrong instead.
    if (path_exists(source + "/index.json") && is_directory(source + "/blobs"))
      throw Error(source +
                  " looks like an OCI image layout (index.json, blobs/) but has no oci-layout file; "
                  "add one ({\"imageLayoutVersion\": \"1.0.0\"}), or use --format dir to import the tree as it is");
    return ImageFormat::Dir;
  }
  if (!path_exists(source)) throw_errno("can't import " + source);
  // Look at the first members only: a compressed rootfs tar must not be read twice.
  ArchiveReader guard(archive_read_new());
  struct archive* a = guard.get();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  UniqueFd fd = open_regular(AT_FDCWD, source, Resolve::Host, source);
  if (!fd) throw_errno("can't import " + source);
  if (archive_read_open_fd(a, fd.get(), 1 << 16) != ARCHIVE_OK)
    throw Error("can't import " + source + ": not a tar archive (" + archive_error_string(a) + ")");
  bool archive_like = false;
  struct archive_entry* e = nullptr;
  for (int i = 0; i < 64; ++i) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw Error("can't import " + source + ": " + archive_error_string(a));
    auto name = sanitize_member_path(archive_entry_pathname(e) ? archive_entry_pathname(e) : "").value_or("");
    if (name == "oci-layout" || name == "index.json") return ImageFormat::OciArchive;
    if (name == "manifest.json" || name == "repositories") return ImageFormat::DockerArchive;
    // Blob names: "blobs/...", "<hex>/layer.tar", "<hex>.json", "<hex>.tar" (skopeo).
    std::string first = name.substr(0, name.find('/'));
    std::string stem = first.substr(0, first.find('.'));
    if (first == "blobs" || (is_hex64(stem) && (first == stem || first.ends_with(".json") || first.ends_with(".tar"))))
      archive_like = true;
    else if (!name.empty())
      return ImageFormat::Tar;
  }
  if (!archive_like) return ImageFormat::Tar;
  // docker save writes manifest.json last: look at every member name.
  TarMembers members(source);
  if (members.has("oci-layout")) return ImageFormat::OciArchive;
  if (members.has("manifest.json")) return ImageFormat::DockerArchive;
  return ImageFormat::Tar;
}

ImportResult import_image(const Storage& storage, const ImportOptions& o) {
  auto [path, tag] = split_tag(o.source);
  if (!o.tag.empty()) {
    if (!tag.empty()) throw Error("give the tag once: --tag " + o.tag + " or " + o.source + ", not both", kExitUsage);
    path = o.source;
    tag = o.tag;
  }
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) throw_errno("can't import " + path);
  path = real;
  if (!is_directory(path))
    open_regular(AT_FDCWD, path, Resolve::Host, path);  // a FIFO would hang the reader: refuse it now
  const ImageFormat format = o.format ? *o.format : detect_format(path);
  const bool layered =
      format == ImageFormat::Oci || format == ImageFormat::OciArchive || format == ImageFormat::DockerArchive;
  if (!tag.empty() && !layered) throw Error("a :TAG only applies to OCI layouts and docker archives", kExitUsage);

  std::unique_ptr<BlobStore> store;
  ResolvedImage img;
  if (layered) {
    store = format == ImageFormat::Oci ? BlobStore::directory(path) : BlobStore::tar(path);
    img = format == ImageFormat::DockerArchive ? resolve_docker_archive(*store, tag)
                                               : resolve_oci(*store, o.platform, tag);
  }
  ImportResult result;
  result.name = o.name.empty() ? derive_name(path, img.ref_name.empty() ? tag : img.ref_name) : o.name;
  validate_image_name(result.name);
  result.dir = storage.image_dir(result.name);

  struct stat st {};
  check(stat(path.c_str(), &st), "can't import " + path);
  const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;

  NameLock lock = storage.lock(result.name, say_waiting);
  if (!o.force && storage.has(result.name)) {
    ImageConfig have = read_image_config(result.dir);
    if (have.import.source == path && have.import.source_mtime == mtime &&
        have.import.source_size == static_cast<std::uint64_t>(st.st_size) && have.import.format == to_string(format) &&
        (img.manifest_digest.empty() || have.import.digest == img.manifest_digest)) {
      result.reused = true;
      result.config = have;
      return result;
    }
  }

  Staging staging = storage.stage(result.name);
  LayerWriter writer(staging.path());
  // A directory's size says nothing of what it holds: no total then.
  const bool one_file = format != ImageFormat::Dir && format != ImageFormat::Oci;
  Progress progress(o.progress, path, one_file ? static_cast<std::uint64_t>(st.st_size) : 0);
  std::string digest = img.manifest_digest;
  int layers = static_cast<int>(img.layers.size());
  if (format == ImageFormat::Tar) {
    FileSource src(path);
    LayerDigests d = apply_layer(src, writer, path, [&](std::uint64_t n) { progress.update(n, writer.stats().files); });
    digest = "sha256:" + d.blob;
    layers = 1;
  } else if (format == ImageFormat::Dir) {
    import_directory(path, writer, progress);
  } else {
    import_layers(*store, img, writer, progress);
  }
  ImportInfo info{
      to_string(format), path, digest, "", "", layers, 0, static_cast<std::uint64_t>(st.st_size), mtime, {}};
  result.config = finish_image(staging.path(), img, writer, path, std::move(info));
  result.stats = writer.stats();
  staging.commit();
  return result;
}

ImportResult unpack_resolved(const BlobStore& store, const ResolvedImage& img, const ResolvedSource& source,
                             const std::string& dir, bool show_progress) {
  std::uint64_t total = 0;
  for (const auto& l : img.layers) total += l.size;
  LayerWriter writer(dir);
  Progress progress(show_progress, source.describe, total);
  import_layers(store, img, writer, progress);
  ImportResult result;
  result.dir = dir;
  ImportInfo info{
      source.format, source.source, img.manifest_digest, "", "", static_cast<int>(img.layers.size()), 0, 0, 0,
      source.blobs};
  result.config = finish_image(dir, img, writer, source.describe, std::move(info));
  result.stats = writer.stats();
  return result;
}

std::optional<ImportResult> already_imported(const Storage& storage, const std::string& name,
                                             const ResolvedSource& source, const std::string& digest) {
  if (!storage.has(name)) return std::nullopt;
  ImageConfig have = read_image_config(storage.image_dir(name));
  if (have.import.format != source.format || have.import.source != source.source || have.import.digest != digest)
    return std::nullopt;
  ImportResult r;
  r.name = name;
  r.dir = storage.image_dir(name);
  r.reused = true;
  r.config = std::move(have);
  return r;
}

ImportResult import_resolved(const Storage& storage, const BlobStore& store, const ResolvedImage& img,
                             const ResolvedSource& source, const std::string& name, bool force, bool show_progress) {
  validate_image_name(name);
  NameLock lock = storage.lock(name, say_waiting);
  if (!force)
    if (auto done = already_imported(storage, name, source, img.manifest_digest)) return *done;
  Staging staging = storage.stage(name);
  ImportResult r = unpack_resolved(store, img, source, staging.path(), show_progress);
  staging.commit();
  r.name = name;
  r.dir = storage.image_dir(name);
  return r;
}

}  // namespace hpai
