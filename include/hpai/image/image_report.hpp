// What hpai-image prints: an import's summary, the storage listing and one image's
// configuration, as text for people and JSON for tools, made from the structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpai/image/image_config.hpp"
#include "hpai/image/image_import.hpp"
#include "hpai/image/storage.hpp"

namespace hpai {

std::string human_size(std::uint64_t bytes);     // "1.5 GiB"
std::string short_digest(const std::string& d);  // "sha256:" and 12 hex digits

// "NAME: imported SOURCE (FORMAT, N layers, SIZE in N files; dropped ...) into DIR", or
// "NAME: already imported from SOURCE at TIME ..." for a reused import.
std::string import_summary(const ImportResult& result);

struct StoredImage {
  std::string name;
  std::string dir;
  std::optional<ImageConfig> config;  // nullopt: its metadata can't be read (ERROR says why)
  std::string error;
};
// Every image in STORAGE; one with broken metadata is listed with its error.
std::vector<StoredImage> stored_images(const Storage& storage);

std::string image_list_text(const std::vector<StoredImage>& images);
std::string image_list_json(const std::vector<StoredImage>& images);
std::string image_inspect_text(const StoredImage& image);  // IMAGE.config set
std::string image_inspect_json(const StoredImage& image);

}  // namespace hpai
