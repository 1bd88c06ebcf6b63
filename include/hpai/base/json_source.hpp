// JSON files whose values remember where they were written, so that a site profile
// or a driver matrix can be reported as "lrz.json:12:5: unknown key ...".
// nlohmann_json (3.11) keeps no positions; a SAX pass over the same text records the
// offset of every value by its JSON pointer.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "hpai/base/error.hpp"
#include "hpai/base/source_pos.hpp"

namespace hpai {

// A file that is not valid JSON, at POS: tools print it as "FILE:LINE:COL: error: ..."
// (the form editors and CI parse), the message without the position.
class JsonSyntaxError : public Error {
 public:
  JsonSyntaxError(SourcePos pos, const std::string& message)
      : Error(pos.str() + ": " + message), pos_(std::move(pos)), message_(message) {}
  const SourcePos& pos() const { return pos_; }
  const std::string& message() const { return message_; }

 private:
  SourcePos pos_;
  std::string message_;
};

class JsonSource {
 public:
  // Throws Error("FILE:LINE:COLUMN: invalid JSON: ...") on a syntax error.
  static JsonSource parse(const std::string& text, const std::string& file);
  // PATH read with bounded_read's rules (regular file, at most MAX bytes).
  static JsonSource load(const std::string& path, std::size_t max);

  const nlohmann::json& root() const { return root_; }
  const std::string& file() const { return file_; }
  // Where the value at POINTER ("/binds/0/source") starts; for an object member, where
  // its key starts, which is what a reader looks for.
  SourcePos where(const std::string& pointer) const;

 private:
  std::string file_;
  std::string text_;
  nlohmann::json root_;
  std::map<std::string, std::size_t> offsets_;
};

// JSON from an untrusted source (image metadata, OCI and docker JSON): Error "WHAT is
// not valid JSON (byte N)", or "... nested more than 128 levels deep" (the limit every
// hpai JSON reader keeps; docs/hpai-image.md).
nlohmann::json parse_json(const std::string& text, const std::string& what);
inline constexpr int kMaxJsonDepth = 128;

// "/a/b" + "c" -> "/a/b/c", escaping '~' and '/' as JSON pointers do.
std::string json_pointer_child(const std::string& pointer, const std::string& key);

}  // namespace hpai
