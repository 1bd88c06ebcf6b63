// Paths as text, before any file system is asked: their components, and ".." taken
// lexically. Where symlinks may lie on the way, resolution is path_in_root's or
// openat2's; these serve once a path is known to have none, or inside an archive.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace hpai {

// PATH's components, "" and "." dropped, put in front of TODO (a symlink's target, to
// be walked next) or behind.
void push_components(std::deque<std::string>& todo, std::string_view path, bool front);

// PATH with "." and "" dropped and each ".." taking away the component before it,
// joined by '/' without a leading one ("" for the root). A ".." with nothing before it
// stays at the root when AT_ROOT_STAYS, else makes the result nullopt (it leaves).
std::optional<std::string> lexically_normal(std::string_view path, bool at_root_stays);

}  // namespace hpai
