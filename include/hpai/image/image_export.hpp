// Writing a stored image out again: a flat tar (optionally compressed) any container
// tool can import, or a SquashFS file hpai-run mounts without unpacking.
#pragma once

#include <string>

namespace hpai {

// FORMAT: "tar" (compression from OUT's suffix: .gz/.tgz, .zst, .xz) or "squashfs";
// "auto" picks squashfs for .sqfs/.squashfs, else tar. OUT appears atomically.
void export_image(const std::string& image_dir, const std::string& out, std::string format = "auto");

}  // namespace hpai
