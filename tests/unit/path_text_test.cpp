// Paths and lists as text: the one splitter (every field, empty ones too), lists,
// plain paths and lexical "..".
#include "hpai/base/path_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hpai {
namespace {

std::vector<std::string> fields(std::string_view text, char sep) {
  std::vector<std::string> out;
  for (std::string_view f : split_fields(text, sep)) out.emplace_back(f);
  return out;
}

TEST(PathText, EveryFieldEmptyOnesToo) {
  using V = std::vector<std::string>;
  EXPECT_EQ(fields("", ':'), V{""});
  EXPECT_EQ(fields("a", ':'), V{"a"});
  EXPECT_EQ(fields("a::b", ':'), (V{"a", "", "b"}));
  EXPECT_EQ(fields(":", ':'), (V{"", ""}));
  EXPECT_EQ(fields("a:", ':'), (V{"a", ""}));
  EXPECT_EQ(fields("/a/b/", '/'), (V{"", "a", "b", ""}));
  EXPECT_EQ(split_list("::a::b:", ':'), (V{"a", "b"}));
  EXPECT_TRUE(split_list("", ',').empty());
}

TEST(PathText, PlainPathsAndLexicalDotDot) {
  EXPECT_TRUE(is_plain_path("/a/b"));
  for (const char* p : {"", "/", "a/b", "/a/", "/a//b", "/a/./b", "/a/../b"}) EXPECT_FALSE(is_plain_path(p)) << p;
  EXPECT_EQ(join_path({"a", "b"}), "a/b");
  EXPECT_EQ(join_path({}), "");
  EXPECT_EQ(lexically_normal("/a/./b/../c", false), "a/c");
  EXPECT_EQ(lexically_normal("../x", true), "x");
  EXPECT_EQ(lexically_normal("../x", false), std::nullopt);
}

}  // namespace
}  // namespace hpai
