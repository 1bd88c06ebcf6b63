#include "hpai/image/layer_stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/image/archive_handle.hpp"

namespace hpai {

namespace {

constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kQueued = 8;  // chunks in flight between the two threads

// Decompressed chunks from the decompressing thread to the tar parser, bounded so a
// fast decompressor can't run ahead by more than kQueued MiB.
class ChunkPipe {
 public:
  // Producer side. False when the consumer gave up.
  bool push(std::vector<char>&& chunk) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return q_.size() < kQueued || cancelled_; });
    if (cancelled_) return false;
    q_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  void close(std::string error = {}) {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    error_ = std::move(error);
    cv_.notify_all();
  }
  // Consumer side. False at the end (error() says whether it ended badly).
  bool pop(std::vector<char>& out) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return true;
  }
  void cancel() {
    std::lock_guard<std::mutex> lock(m_);
    cancelled_ = true;
    cv_.notify_all();
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(m_);
    return error_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> q_;
  bool closed_ = false, cancelled_ = false;
  std::string error_;
};

// The decompressing side: source bytes -> blob sha256 -> libarchive's filters ->
// tar sha256 -> pipe. libarchive calls back through C frames, so exceptions are parked.
struct Decompressor {
  Decompressor(ByteSource* s, const std::function<void(std::uint64_t)>* p) : source(s), progress(p) {}
  ByteSource* source;
  const std::function<void(std::uint64_t)>* progress;
  ChunkPipe pipe;
  Sha256 blob_hash, tar_hash;
  std::uint64_t blob_bytes = 0, tar_bytes = 0;
  std::vector<char> in = std::vector<char>(kChunk);
  std::exception_ptr error;
  bool empty = false;
  std::size_t first = 0;  // bytes of IN read to sniff the compression, not yet handed on
  bool first_pending = false;

  std::size_t read_source() {
    std::size_t n = source->read(in.data(), in.size());
    blob_hash.update(in.data(), n);
    blob_bytes += n;
    if (*progress) (*progress)(blob_bytes);
    return n;
  }

  static la_ssize_t read_blob(struct archive* a, void* ctx, const void** out) {
    auto* d = static_cast<Decompressor*>(ctx);
    try {
      std::size_t n = d->first_pending ? d->first : d->read_source();
      d->first_pending = false;
      *out = d->in.data();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      d->error = std::current_exception();
      archive_set_error(a, EIO, "read failed");
      return -1;
    }
  }

  bool deliver(std::vector<char>& chunk, std::size_t size) {
    chunk.resize(size);
    tar_hash.update(chunk.data(), chunk.size());
    tar_bytes += chunk.size();
    bool ok = pipe.push(std::move(chunk));
    chunk = std::vector<char>(kChunk);
    return ok;
  }

  void drain_rest() {
    // The blob digest covers every byte of the source, also what follows the stream.
    try {
      drain(*source, [&](const void* p, std::size_t size) {
        blob_hash.update(p, size);
        blob_bytes += size;
      });
    } catch (...) {
      error = std::current_exception();
    }
  }

  // gzip through zlib rather than libarchive, which does not check the trailer's CRC32
  // and length: a flat tar.gz has no digest, so a flipped byte would go unnoticed.
  // Members written one after another (cat a.gz b.gz) are read as one stream, as gzip -d does.
  void run_gzip() {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return pipe.close("can't start zlib");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    std::vector<char> chunk(kChunk);
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(first);
    std::size_t used = 0;
    while (true) {
      if (z.avail_in == 0) {
        std::size_t n = 0;
        try {
          n = read_source();
        } catch (...) {
          error = std::current_exception();
          return pipe.close("read failed");
        }
        if (n == 0) return pipe.close("truncated gzip input");
        z.next_in = reinterpret_cast<Bytef*>(in.data());
        z.avail_in = static_cast<uInt>(n);
      }
      z.next_out = reinterpret_cast<Bytef*>(chunk.data() + used);
      z.avail_out = static_cast<uInt>(chunk.size() - used);
      int r = inflate(&z, Z_NO_FLUSH);
      used = chunk.size() - z.avail_out;
      if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_MEM_ERROR)
        return pipe.close(std::string("gzip data is corrupt: ") + (z.msg ? z.msg : "inflate failed"));
      if (used == chunk.size() || (r == Z_STREAM_END && used > 0)) {
        if (!deliver(chunk, used)) return;
        used = 0;
      }
      if (r != Z_STREAM_END) continue;
      if (z.avail_in == 0) {
        try {
          std::size_t n = read_source();
          z.next_in = reinterpret_cast<Bytef*>(in.data());
          z.avail_in = static_cast<uInt>(n);
        } catch (...) {
          error = std::current_exception();
          return pipe.close("read failed");
        }
      }
      if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
        inflateReset(&z);  // another member
        continue;
      }
      break;  // the end, or padding after it
    }
    drain_rest();
    pipe.close();
  }

  void run() {
    try {
      first = read_source();
    } catch (...) {
      error = std::current_exception();
      return pipe.close("read failed");
    }
    if (first >= 2 && static_cast<unsigned char>(in[0]) == 0x1f && static_cast<unsigned char>(in[1]) == 0x8b)
      return run_gzip();
    first_pending = true;
    ArchiveReader a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    archive_read_support_format_empty(a.get());
    auto fail = [&](const char* fallback) {
      const char* msg = archive_error_string(a.get());
      pipe.close(msg ? msg : fallback);
    };
    if (archive_read_open(a.get(), this, nullptr, read_blob, nullptr) != ARCHIVE_OK) return fail("unreadable");
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) {
      empty = true;
      return pipe.close();
    }
    if (r < ARCHIVE_WARN) return fail("unreadable");
    std::vector<char> chunk(kChunk);
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), chunk.data(), chunk.size());
      if (n < 0) return fail("read error");
      if (n == 0) break;
      if (!deliver(chunk, static_cast<std::size_t>(n))) return;
    }
    drain_rest();
    pipe.close();
  }
};

// The parsing side reads the pipe.
struct TarFeed {
  Decompressor* d;
  std::vector<char> chunk;
  static la_ssize_t read(struct archive* a, void* ctx, const void** out) {
    auto* f = static_cast<TarFeed*>(ctx);
    if (!f->d->pipe.pop(f->chunk)) {
      std::string err = f->d->pipe.error();
      if (!err.empty()) {
        archive_set_error(a, EIO, "%s", err.c_str());
        return -1;
      }
      return 0;
    }
    *out = f->chunk.data();
    return static_cast<la_ssize_t>(f->chunk.size());
  }
};

}  // namespace

LayerDigests apply_layer(ByteSource& source, LayerWriter& writer, const std::string& what,
                         const std::function<void(std::uint64_t)>& progress) {
  Decompressor d(&source, &progress);
  std::thread worker([&d] { d.run(); });
  auto finish = [&] {
    d.pipe.cancel();
    if (worker.joinable()) worker.join();
  };
  auto fail = [&](const std::string& msg) {
    finish();
    if (d.error) std::rethrow_exception(d.error);
    throw Error(what + ": " + msg + " (truncated or corrupt?)");
  };
  try {
    TarFeed feed{&d, {}};
    ArchiveReader entries(archive_read_new());
    archive_read_support_format_tar(entries.get());
    archive_read_support_format_gnutar(entries.get());
    archive_read_support_format_empty(entries.get());
    if (archive_read_open(entries.get(), &feed, nullptr, TarFeed::read, nullptr) != ARCHIVE_OK) {
      const char* msg = archive_error_string(entries.get());
      std::string decompress_error = d.pipe.error();  // corrupt before the first tar header
      fail(!decompress_error.empty() ? decompress_error : std::string("not a tar archive: ") + (msg ? msg : "?"));
    }
    writer.apply(entries.get(), what);
    // Read to the end so both digests cover every byte (padding after the tar's end too).
    std::vector<char> rest;
    while (d.pipe.pop(rest)) {
    }
    if (!d.pipe.error().empty()) fail(d.pipe.error());
  } catch (...) {
    finish();
    if (d.error) std::rethrow_exception(d.error);
    throw;
  }
  finish();
  if (d.error) std::rethrow_exception(d.error);
  if (d.empty) return {d.blob_hash.hex(), sha256_of(""), d.blob_bytes, 0};
  return {d.blob_hash.hex(), d.tar_hash.hex(), d.blob_bytes, d.tar_bytes};
}

}  // namespace hpai
