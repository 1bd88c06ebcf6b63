// File system changes made relative to a directory fd, never following a symlink: how
// hpai writes inside trees whose contents someone else chose (an unpacked image).
#pragma once

#include <sys/types.h>

#include <string>

namespace hpai {

// Removes NAME in DIR, and everything below it when it is a directory, through fds
// only: a symlink inside can't point the deletion elsewhere. Missing NAME is fine.
void remove_at(int dir, const char* name);

// Creates NAME in DIR (O_EXCL, O_NOFOLLOW: never an existing file or a symlink's
// target) with MODE whatever the umask, and writes CONTENT. WHAT names it in messages.
void write_new_file_at(int dir, const std::string& name, const std::string& content, mode_t mode,
                       const std::string& what);

}  // namespace hpai
