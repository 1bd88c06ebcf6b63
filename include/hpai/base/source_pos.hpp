// Where in a file a value was written: what messages about profiles and driver
// matrices point at ("lrz.json:12:5"). Apart from json_source.hpp so that what only
// carries positions (profiles, on the launch path) does not compile the JSON parser.
#pragma once

#include <string>

namespace hpai {

struct SourcePos {
  std::string file;
  int line = 0;             // 1-based; 0 when unknown
  int column = 0;           // 1-based
  std::string str() const;  // "FILE:LINE:COLUMN", or FILE when the position is unknown
};

}  // namespace hpai
