#include "hpai/layer_stream.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <exception>
#include <vector>

#include "hpai/digest.hpp"
#include "hpai/error.hpp"

namespace hpai {

namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

// libarchive calls back through C frames: exceptions are parked here and rethrown.
struct BlobStage {
  ByteSource* source;
  Sha256 hash;
  std::vector<char> buf = std::vector<char>(1 << 20);
  std::uint64_t bytes = 0;
  std::exception_ptr error;
  const std::function<void(std::uint64_t)>* progress;
};

struct TarStage {
  struct archive* decompressed;
  Sha256 hash;
  std::vector<char> buf = std::vector<char>(1 << 20);
  std::uint64_t bytes = 0;
};

la_ssize_t read_blob(struct archive* a, void* ctx, const void** out) {
  auto* s = static_cast<BlobStage*>(ctx);
  try {
    std::size_t n = s->source->read(s->buf.data(), s->buf.size());
    s->hash.update(s->buf.data(), n);
    s->bytes += n;
    if (*s->progress) (*s->progress)(s->bytes);
    *out = s->buf.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    s->error = std::current_exception();
    archive_set_error(a, EIO, "read failed");
    return -1;
  }
}

la_ssize_t read_tar(struct archive* a, void* ctx, const void** out) {
  auto* s = static_cast<TarStage*>(ctx);
  la_ssize_t n = archive_read_data(s->decompressed, s->buf.data(), s->buf.size());
  if (n < 0) {
    archive_set_error(a, archive_errno(s->decompressed), "%s", archive_error_string(s->decompressed));
    return -1;
  }
  s->hash.update(s->buf.data(), static_cast<std::size_t>(n));
  s->bytes += static_cast<std::uint64_t>(n);
  *out = s->buf.data();
  return n;
}

}  // namespace

LayerDigests apply_layer(ByteSource& source, LayerWriter& writer, const std::string& what,
                         const std::function<void(std::uint64_t)>& progress) {
  BlobStage blob{&source, {}, std::vector<char>(1 << 20), 0, nullptr, &progress};
  ArchivePtr decompress(archive_read_new());
  archive_read_support_filter_all(decompress.get());
  archive_read_support_format_raw(decompress.get());
  archive_read_support_format_empty(decompress.get());
  TarStage tar{decompress.get(), {}, std::vector<char>(1 << 20), 0};
  auto rethrow = [&](struct archive* a) {
    if (blob.error) std::rethrow_exception(blob.error);
    const char* msg = archive_error_string(a);
    throw Error(what + ": " + (msg ? msg : "unreadable") + " (truncated or corrupt?)");
  };

  if (archive_read_open(decompress.get(), &blob, nullptr, read_blob, nullptr) != ARCHIVE_OK) rethrow(decompress.get());
  struct archive_entry* raw = nullptr;
  int r = archive_read_next_header(decompress.get(), &raw);
  if (r == ARCHIVE_EOF) {  // an empty blob: an empty layer
    return {blob.hash.hex(), sha256_of(""), blob.bytes, 0};
  }
  if (r < ARCHIVE_WARN) rethrow(decompress.get());

  ArchivePtr entries(archive_read_new());
  archive_read_support_format_tar(entries.get());
  archive_read_support_format_gnutar(entries.get());
  if (archive_read_open(entries.get(), &tar, nullptr, read_tar, nullptr) != ARCHIVE_OK) {
    if (blob.error) std::rethrow_exception(blob.error);
    throw Error(what + ": not a tar archive: " + (archive_error_string(entries.get()) ? archive_error_string(entries.get()) : "?"));
  }
  try {
    writer.apply(entries.get(), what);
  } catch (...) {
    if (blob.error) std::rethrow_exception(blob.error);
    throw;
  }
  // The digests cover every byte, padding after the tar's end included.
  const void* p = nullptr;
  la_ssize_t n = 0;
  while ((n = read_tar(entries.get(), &tar, &p)) > 0) {
  }
  if (n < 0) rethrow(entries.get());
  drain(source, [&](const void* d, std::size_t size) {
    blob.hash.update(d, size);
    blob.bytes += size;
  });
  return {blob.hash.hex(), tar.hash.hex(), blob.bytes, tar.bytes};
}

}  // namespace hpai
