// The outcome of one check, of an image against a target (check/) or of this host
// (run/host_check): the same four words in every report.
#pragma once

namespace hpai {

enum class Verdict { Pass, Warn, Fail, Skip };

inline const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Warn: return "warn";
    case Verdict::Fail: return "fail";
    case Verdict::Skip: return "skip";
  }
  return "?";
}

}  // namespace hpai
