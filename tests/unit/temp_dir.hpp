// A fresh directory under /tmp for one test, removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <stdexcept>
#include <string>

#include "hpai/image/storage.hpp"

namespace hpai::test {

class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/hpai-unit-test.XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() { remove_tree(path_); }  // copes with read-only directories tests leave
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hpai::test
