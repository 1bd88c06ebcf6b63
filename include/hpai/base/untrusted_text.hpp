// Text from a server, an image or a file, put into a message for a terminal: control
// characters and bytes outside printable ASCII shown as \xNN, so nobody can move the
// cursor, retitle the window or forge a line of hpai's output; cut at MAX bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hpai {

std::string printable(std::string_view text, std::size_t max = 300);

}  // namespace hpai
