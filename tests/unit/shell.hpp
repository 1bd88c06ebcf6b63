// Running shell commands from unit tests that build real fixtures (gcc, ldconfig).
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>

namespace hpai::test {

// Runs CMD with sh; its stdout. Throws std::runtime_error with the output when it fails.
inline std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("can't run: " + cmd);
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) throw std::runtime_error("failed: " + cmd + "\n" + out);
  return out;
}

inline void mkdirs(const std::string& p) { run("mkdir -p '" + p + "'"); }

}  // namespace hpai::test
