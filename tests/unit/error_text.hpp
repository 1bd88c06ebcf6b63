// The message of the hpai::Error F throws, or "(no error)": for tests that check what
// a user is told.
#pragma once

#include <functional>
#include <string>

#include "hpai/base/error.hpp"

namespace hpai::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace hpai::test
