// One layer from a byte stream to disk: the blob's sha256 (OCI digests name the
// compressed bytes), decompression (gzip, zstd, xz, bzip2, or none), the tar's sha256
// (docker's diff_ids name the uncompressed bytes), then the LayerWriter.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "hpai/image/blob_source.hpp"
#include "hpai/image/unpack.hpp"

namespace hpai {

struct LayerDigests {
  std::string blob;  // sha256 hex of the bytes as stored
  std::string tar;   // sha256 hex of the uncompressed tar
  std::uint64_t blob_bytes = 0;
  std::uint64_t tar_bytes = 0;
};

// PROGRESS, if set, is called with the blob bytes read so far.
LayerDigests apply_layer(ByteSource& source, LayerWriter& writer, const std::string& what,
                         const std::function<void(std::uint64_t)>& progress = {});

}  // namespace hpai
