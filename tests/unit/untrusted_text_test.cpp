// Text from servers and files shown safely: control bytes and non-ASCII escaped, cut.
#include "hpai/base/untrusted_text.hpp"

#include <gtest/gtest.h>

namespace hpai {
namespace {

TEST(UntrustedText, ControlBytesAreEscapedAndLongTextIsCut) {
  EXPECT_EQ(printable("MANIFEST_UNKNOWN: tag 1"), "MANIFEST_UNKNOWN: tag 1");
  EXPECT_EQ(printable("\x1b]0;PWNED\x07\x1b[2J"), "\\x1b]0;PWNED\\x07\\x1b[2J");
  EXPECT_EQ(printable(std::string("a\0b\n\r", 5)), "a\\x00b\\x0a\\x0d");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(printable("back\\slash"), "back\\x5cslash");  // an escape can't be forged
  EXPECT_EQ(printable(std::string(1000, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(printable(""), "");
}

}  // namespace
}  // namespace hpai
