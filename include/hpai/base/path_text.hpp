// Paths and lists as text, before any file system is asked: their fields and
// components, and ".." taken lexically. Where symlinks may lie on the way, resolution is path_in_root's or
// openat2's; these serve once a path is known to have none, or inside an archive.
#pragma once

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpai {

// Every SEP-separated field of TEXT, empty ones included ("a::b" -> {"a", "", "b"},
// "" -> {""}): the one splitter every list and path walk here uses. A range of views
// into TEXT, nothing allocated (the launch splits every path it resolves):
// for (std::string_view part : split_fields(path, '/')) ...
class Fields {
 public:
  class iterator {
   public:
    iterator(std::string_view text, char sep, bool at_end) : text_(text), sep_(sep), done_(at_end) {
      if (!done_) find_end();
    }
    std::string_view operator*() const { return text_.substr(start_, end_ - start_); }
    iterator& operator++() {
      if (end_ == text_.size()) {
        done_ = true;
      } else {
        start_ = end_ + 1;
        find_end();
      }
      return *this;
    }
    bool operator==(const iterator& other) const { return done_ == other.done_ && (done_ || start_ == other.start_); }

   private:
    void find_end() { end_ = std::min(text_.find(sep_, start_), text_.size()); }
    std::string_view text_;
    char sep_;
    bool done_;
    std::size_t start_ = 0, end_ = 0;
  };
  Fields(std::string_view text, char sep) : text_(text), sep_(sep) {}
  iterator begin() const { return {text_, sep_, false}; }
  iterator end() const { return {text_, sep_, true}; }

 private:
  std::string_view text_;
  char sep_;
};
inline Fields split_fields(std::string_view text, char sep) { return {text, sep}; }

// The non-empty items of a SEP-separated list ("a::b" with ':' -> {"a", "b"}), as in
// PATH, $HPAI_PROFILE_PATH or NVIDIA_DRIVER_CAPABILITIES.
std::vector<std::string> split_list(std::string_view text, char sep);

// PARTS joined by '/', without a leading one ("" for none).
std::string join_path(const std::vector<std::string>& parts);

// "/a/b/c": absolute, no "", "." or ".." component, no trailing slash.
bool is_plain_path(std::string_view path);

// An ASCII letter or digit, whatever the locale (isalnum(3) takes Latin-1 letters in
// some): names that registries and servers send are compared byte for byte.
inline bool ascii_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
// S with A-Z made a-z and every other byte kept, whatever the locale.
inline std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The kernel's limit on symlinks followed in one resolution (MAXSYMLINKS).
inline constexpr int kMaxSymlinks = 40;

// PATH's components, "" and "." dropped, put in front of TODO (a symlink's target, to
// be walked next) or behind.
void push_components(std::deque<std::string>& todo, std::string_view path, bool front);

// PATH with "." and "" dropped and each ".." taking away the component before it,
// joined by '/' without a leading one ("" for the root). A ".." with nothing before it
// stays at the root when AT_ROOT_STAYS, else makes the result nullopt (it leaves).
std::optional<std::string> lexically_normal(std::string_view path, bool at_root_stays);

}  // namespace hpai
