#include "hpai/image/reference.hpp"

#include <algorithm>
#include <cctype>

#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

// ASCII only, whatever the locale: a reference names the same image everywhere.
bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// alpha-numeric (separator alpha-numeric)*, separator := [_.] | "__" | "-"+
bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !lower_alnum(c[j])) ++j;
    const std::string_view sep = c.substr(i, j - i);
    const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool valid_tag(std::string_view t) {
  auto word = [](char c) { return ascii_alnum(c) || c == '_'; };
  if (t.empty() || t.size() > 128 || !word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool valid_port(std::string_view port) {
  return !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos &&
         std::stoi(std::string(port)) <= 65535;
}

// HOST[:PORT]: HOST dot-separated labels of letters, digits and dashes, or an IPv6
// address in brackets ("[::1]:5000").
bool valid_registry(std::string_view r) {
  if (r.starts_with('[')) {
    const std::size_t close = r.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    const std::string_view address = r.substr(1, close - 1), after = r.substr(close + 1);
    if (address.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
    return after.empty() || (after.front() == ':' && valid_port(after.substr(1)));
  }
  const std::size_t colon = r.find(':');
  if (colon != std::string_view::npos && !valid_port(r.substr(colon + 1))) return false;
  const std::string_view host = r.substr(0, colon);
  if (host.empty()) return false;
  for (std::string_view label : split_fields(host, '.')) {
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!ascii_alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string ImageReference::api_host() const { return registry == kDockerHub ? kDockerHubApi : registry; }

std::string ImageReference::str() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageReference::storage_name() const {
  std::string name = repository;
  if (registry == kDockerHub) {
    if (name.starts_with("library/")) name = name.substr(8);
    // "docker.io/my.org/app" must not be stored as "my.org/app", which names the
    // registry my.org: such a name keeps its "docker.io/".
    const std::string first = name.substr(0, name.find('/'));
    if (name.find('/') != std::string::npos &&
        (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost"))
      name = std::string(kDockerHub) + "/" + name;
  } else {
    name = registry + "/" + name;
  }
  if (!tag.empty()) name += ":" + tag;
  if (!digest.empty()) name += "@" + digest;  // a pinned image is stored as pinned
  return name;
}

ImageReference parse_image_reference(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error("image reference \"" + std::string(text) + "\": " + why, kExitUsage);
  };
  if (text.empty()) throw bad("empty");
  ImageReference r;
  std::string_view rest = text;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    try {
      sha256_hex_of_digest(r.digest, "image reference");
    } catch (const Error&) {
      throw bad("a digest is sha256: and 64 lower-case hex digits");
    }
  }
  // A ':' after the last '/' starts the tag (one before it is a registry's port).
  const std::size_t slash = rest.rfind('/');
  if (const std::size_t colon = rest.rfind(':');
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!valid_tag(r.tag)) throw bad("tag \"" + r.tag + "\" is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  }
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  const std::size_t first = rest.find('/');
  const std::string_view head = rest.substr(0, first);
  const bool has_upper = std::any_of(head.begin(), head.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (first != std::string_view::npos &&
      (head.find_first_of(".:") != std::string_view::npos || head == "localhost" || has_upper)) {
    r.registry = std::string(head);
    rest = rest.substr(first + 1);
    if (!valid_registry(r.registry)) throw bad("registry \"" + r.registry + "\" is not HOST[:PORT]");
  } else {
    r.registry = kDockerHub;
  }
  if (r.registry == "index.docker.io") r.registry = kDockerHub;  // docker's legacy name; nothing else is mapped
  r.repository = std::string(rest);
  if (r.registry == kDockerHub && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
  for (std::string_view c : split_fields(r.repository, '/'))
    if (!valid_component(c))
      throw bad("repository component \"" + std::string(c) +
                "\" must be lower-case letters and digits, joined by '.', '_', '__' or '-'");
  if (r.registry.size() + 1 + r.repository.size() > 255) throw bad("name longer than 255 characters");
  return r;
}

}  // namespace hpai
