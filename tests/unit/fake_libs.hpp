// Real shared libraries and linker caches for the tests of what hpai finds in images
// and on hosts (ld_cache, mpi, nvidia): built with gcc and ldconfig, nothing mocked.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "shell.hpp"

namespace hpai::test {

// A real shared library at DIR/NAME with SONAME, and optional symlinks to it.
inline void make_lib(const std::string& dir, const std::string& name, const std::string& soname,
                     std::vector<std::string> links = {}) {
  mkdirs(dir);
  run("echo 'int marker(void) { return 1; }' | gcc -x c -shared -fPIC -Wl,-soname," + soname + " -o '" + dir + "/" +
      name + "' - 2>&1");
  for (const auto& l : links) ASSERT_EQ(symlink(name.c_str(), (dir + "/" + l).c_str()), 0);
}

// The image's /etc/ld.so.cache, made by the real ldconfig inside the image
// (ldconfig -r chroots; a user namespace lets an unprivileged test do that).
inline void make_image_cache(const std::string& root) {
  mkdirs(root + "/etc");
  run("unshare -Ur ldconfig -X -r '" + root + "' 2>&1");
}

}  // namespace hpai::test
