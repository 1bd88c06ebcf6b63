// Whose files hpai may act on. On a shared node another user must not be able to choose
// what hpai runs: a site profile or a storage directory that someone else can write (or
// owns) is refused with the fix in the message, instead of being used as it is.
#pragma once

#include <string>

namespace hpai {

// PATH (a file hpai reads for its decisions: a site profile) must be owned by root or
// by us, and neither it nor its directory writable by others (a sticky directory is
// fine: others can't replace our file in it). Error naming WHAT otherwise.
void require_trusted_file(const std::string& path, const std::string& what);

// PATH (an existing directory: image storage) must be ours and writable by nobody
// else (no group or other write bit). Error naming WHAT, with the fix, otherwise.
void require_private_dir(const std::string& path, const std::string& what);

}  // namespace hpai
