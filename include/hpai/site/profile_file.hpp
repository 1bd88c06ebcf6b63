// One profile file as written, before the profiles it "extends" are merged in:
// profile.cpp reads and checks it, profile_chain.cpp merges the chain.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hpai/base/json_source.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

struct ProfileFile {
  Profile own;
  std::vector<std::pair<std::string, SourcePos>> extends;  // names or paths, where each was written
};

// Every problem becomes a diagnostic in DIAGS at the value's line and column.
ProfileFile parse_profile_file(const JsonSource& src, Diagnostics& diags);

}  // namespace hpai
