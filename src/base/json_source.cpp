#include "hpai/base/json_source.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"

namespace hpai {

using nlohmann::json;

std::string SourcePos::str() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string json_pointer_child(const std::string& pointer, const std::string& key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

namespace {

// An input iterator that publishes how far the parser has read, so the SAX handler
// knows the offset each event fired at.
struct CountingIterator {
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  const char* at = nullptr;
  const char** seen = nullptr;

  reference operator*() const { return *at; }
  CountingIterator& operator++() {
    *seen = ++at;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& o) const { return at == o.at; }
  bool operator!=(const CountingIterator& o) const { return at != o.at; }
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The lexer reads ahead a character or two, so an event's offset lies just past its
// token; walk back to where the token starts.
std::size_t token_start(const std::string& text, std::size_t end) {
  std::size_t i = end;
  while (i > 0 && (is_space(text[i - 1]) || text[i - 1] == ',' || text[i - 1] == ':')) --i;
  if (i == 0) return 0;
  char last = text[i - 1];
  if (last == '{' || last == '[') return i - 1;
  if (last == '"') {  // back to the opening quote that is not escaped
    std::size_t j = i - 1;
    while (j > 0) {
      --j;
      if (text[j] != '"') continue;
      std::size_t backslashes = 0;
      while (j >= backslashes + 1 && text[j - backslashes - 1] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return j;
    }
    return 0;
  }
  while (i > 0 && !is_space(text[i - 1]) && std::string_view(",:[{").find(text[i - 1]) == std::string_view::npos) --i;
  return i;
}

class PositionRecorder : public nlohmann::json_sax<json> {
 public:
  PositionRecorder(const std::string& text, std::map<std::string, std::size_t>& offsets)
      : text_(text), offsets_(offsets), seen_(text.data()) {}
  const char** seen() { return &seen_; }

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override { return open(false); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    Frame& f = stack_.back();
    f.child = json_pointer_child(f.pointer, k);
    offsets_[f.child] = token_start(text_, offset());
    f.keyed = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
  static constexpr std::size_t kMaxDepth = kMaxJsonDepth;
  std::optional<std::size_t> too_deep_at() const { return too_deep_at_; }

 private:
  struct Frame {
    std::string pointer;
    bool array = false;
    std::size_t index = 0;
    std::string child;  // pointer of the member whose value comes next
    bool keyed = false;
  };

  std::size_t offset() const { return static_cast<std::size_t>(seen_ - text_.data()); }

  // The pointer of the value now starting; records array elements (members were
  // recorded at their key) and the root.
  std::string next_value(std::size_t start) {
    if (stack_.empty()) {
      offsets_[""] = start;
      return "";
    }
    Frame& f = stack_.back();
    if (f.array) {
      std::string p = json_pointer_child(f.pointer, std::to_string(f.index++));
      offsets_[p] = start;
      return p;
    }
    return f.child;
  }
  bool scalar() {
    next_value(token_start(text_, offset()));
    return true;
  }
  bool open(bool array) {
    // Pointers grow with depth, so a hostile document 100000 arrays deep would cost
    // time and memory quadratic in its size; no real document comes near this.
    if (stack_.size() >= kMaxDepth) {
      too_deep_at_ = offset() - 1;
      return false;
    }
    std::string p = next_value(offset() - 1);
    stack_.push_back({p, array, 0, "", false});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const std::string& text_;
  std::map<std::string, std::size_t>& offsets_;
  const char* seen_;
  std::vector<Frame> stack_;
  std::optional<std::size_t> too_deep_at_;
};

SourcePos position_of(const std::string& file, const std::string& text, std::size_t offset) {
  SourcePos pos{file, 1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

}  // namespace

JsonSource JsonSource::parse(const std::string& text, const std::string& file) {
  JsonSource s;
  s.file_ = file;
  s.text_ = text;
  try {
    s.root_ = json::parse(s.text_);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the character the parser stopped at.
    SourcePos pos = position_of(file, s.text_, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    auto cut = what.find("syntax error");
    throw JsonSyntaxError(pos, "invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut)));
  } catch (const json::exception& e) {  // a number out of range
    throw JsonSyntaxError(SourcePos{file}, std::string("invalid JSON: ") + e.what());
  }
  PositionRecorder recorder(s.text_, s.offsets_);
  CountingIterator first{s.text_.data(), recorder.seen()};
  CountingIterator last{s.text_.data() + s.text_.size(), recorder.seen()};
  json::sax_parse(first, last, &recorder);
  if (auto at = recorder.too_deep_at())
    throw JsonSyntaxError(position_of(file, s.text_, *at),
                          "JSON nested more than " + std::to_string(PositionRecorder::kMaxDepth) + " levels deep");
  return s;
}

JsonSource JsonSource::load(const std::string& path, std::size_t max) {
  return parse(read_host_file(path, max, path), path);
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  struct TooDeep {};
  try {
    return json::parse(text, [](int depth, json::parse_event_t event, json&) {
      if (depth >= kMaxJsonDepth &&
          (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start))
        throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    throw Error(what + ": JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
  } catch (const json::parse_error& e) {
    throw Error(what + " is not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {  // a number out of range
    throw Error(what + " is not valid JSON (" + e.what() + ")");
  }
}

SourcePos JsonSource::where(const std::string& pointer) const {
  auto it = offsets_.find(pointer);
  if (it == offsets_.end()) return SourcePos{file_, 0, 0};
  return position_of(file_, text_, it->second);
}

}  // namespace hpai
