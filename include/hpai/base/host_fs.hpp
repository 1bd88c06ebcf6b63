// Host paths the user or the site named (not an image's: those go through
// image/path_in_root and base/openat2): whether they are there, where they lead, and
// making a directory.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace hpai {

// realpath(3) of PATH; nullopt (errno set) when it can't be resolved.
std::optional<std::string> real_path(const std::string& path);
// PATH exists (symlinks followed).
bool path_exists(const std::string& path);
// PATH exists and is a directory (symlinks followed).
bool is_directory(const std::string& path);
// mkdir PATH with MODE; one that exists already is fine. Error "can't create WHAT PATH".
void make_dir(const std::string& path, mode_t mode, const std::string& what);

}  // namespace hpai
