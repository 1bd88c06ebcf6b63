#include "hpai/registry/auth.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

namespace {

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// A small cursor over one header value.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool done() {
    skip_space();
    return i_ >= s_.size();
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  std::string token() {
    skip_space();
    const std::size_t start = i_;
    while (i_ < s_.size() && token_char(s_[i_])) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  // A token or a quoted string; nullopt for an unterminated quote.
  std::optional<std::string> value() {
    skip_space();
    if (i_ >= s_.size() || s_[i_] != '"') {
      // Unquoted: a token by the RFC, but servers write URLs bare too; up to the next ','.
      const std::size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != ' ' && s_[i_] != '\t') ++i_;
      return std::string(s_.substr(start, i_ - start));
    }
    std::string out;
    for (++i_; i_ < s_.size(); ++i_) {
      if (s_[i_] == '"') {
        ++i_;
        return out;
      }
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out += s_[i_];
    }
    return std::nullopt;
  }
  std::size_t pos() const { return i_; }
  void seek(std::size_t i) { i_ = i; }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::optional<std::string> decode_base64(const std::string& text) {
  if (text.size() % 4 != 0 || text.size() > (1 << 16)) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t pad = text.size(); pad > 0 && text[pad - 1] == '=' && len > 0; --pad) --len;  // EVP counts padding
  out.resize(len);
  return out;
}

// The keys docker may have written REGISTRY's entry under.
std::vector<std::string> config_keys(const std::string& registry) {
  std::vector<std::string> keys;
  const std::vector<std::string> hosts = registry == kDockerHub
                                             ? std::vector<std::string>{"index.docker.io", "docker.io", kDockerHubApi}
                                             : std::vector<std::string>{registry};
  if (registry == kDockerHub) keys.push_back("https://index.docker.io/v1/");
  for (const auto& h : hosts)
    for (const char* form : {"", "https://", "http://"}) {
      keys.push_back(form + h);
      if (*form) keys.push_back(form + h + "/v1/");
      if (*form) keys.push_back(form + h + "/v2/");
    }
  return keys;
}

}  // namespace

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view value) {
  auto bad = [&](const std::string& why) {
    return Error("can't understand the registry's WWW-Authenticate \"" + std::string(value) + "\": " + why);
  };
  std::vector<AuthChallenge> out;
  Scanner in(value);
  while (!in.done()) {
    if (in.eat(',')) continue;
    AuthChallenge c;
    c.scheme = lower(in.token());
    if (c.scheme.empty()) throw bad("no authentication scheme");
    // Parameters until the next challenge: a token not followed by '='.
    while (!in.done()) {
      const std::size_t mark = in.pos();
      in.eat(',');
      const std::string name = in.token();
      if (name.empty() || !in.eat('=')) {
        in.seek(mark);
        break;
      }
      auto v = in.value();
      if (!v) throw bad("unterminated quoted string");
      c.params[lower(name)] = *v;
    }
    out.push_back(std::move(c));
    if (!in.done() && !in.eat(',')) {
      const std::size_t mark = in.pos();
      if (in.token().empty()) throw bad("unexpected character at " + std::to_string(mark));
      in.seek(mark);
    }
  }
  if (out.empty()) throw bad("no challenge");
  return out;
}

std::string token_request_url(const AuthChallenge& c, const std::vector<std::string>& scopes) {
  std::string url = c.param("realm");
  if (url.empty()) throw Error("the registry's Bearer challenge names no realm (token server)");
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    throw Error("the registry's token realm \"" + url + "\" is not an http(s) URL");
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](const std::string& k, const std::string& v) {
    url += sep + k + "=" + percent_encode(v);
    sep = '&';
  };
  if (!c.param("service").empty()) add("service", c.param("service"));
  const std::vector<std::string> own =
      c.param("scope").empty() ? std::vector<std::string>{} : std::vector<std::string>{c.param("scope")};
  for (const auto& s : scopes.empty() ? own : scopes) add("scope", s);
  return url;
}

std::string pull_scope(const std::string& repository) { return "repository:" + repository + ":pull"; }

std::string docker_config_path(const std::string& home, const std::string& docker_config) {
  return (docker_config.empty() ? home + "/.docker" : docker_config) + "/config.json";
}

std::optional<RegistryCredentials> find_credentials(const std::string& file, const std::string& registry) {
  struct stat st {};
  if (lstat(file.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("can't examine credentials file " + file);
  }
  if (st.st_uid != getuid())
    throw Error("credentials file " + file + " is not yours (uid " + std::to_string(st.st_uid) +
                "): hpai reads registry passwords only from a file of your own");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    throw Error("credentials file " + file + " is open to others (mode " + mode + "): chmod 600 " + file);
  }
  const nlohmann::json doc = parse_json(read_host_file(file, kMaxSmallFile, "credentials file " + file), file);
  if (!doc.is_object()) throw Error("credentials file " + file + ": not a JSON object");
  const nlohmann::json* entry = nullptr;
  if (auto a = doc.find("auths"); a != doc.end() && a->is_object())
    for (const auto& key : config_keys(registry))
      if (auto e = a->find(key); e != a->end() && e->is_object()) {
        entry = &*e;
        break;
      }
  if (!entry) {
    // The password may sit in a credential helper, which hpai does not run; anonymous
    // then, and a registry that wants more says so (401) with what to do.
    auto helpers = doc.find("credHelpers");
    if ((helpers != doc.end() && helpers->is_object() && helpers->contains(registry)) || doc.contains("credsStore"))
      spdlog::warn(
          "{}: {}'s credentials may be in a docker credential helper, which hpai does not run; pulling "
          "anonymously (hpai-image login {} stores them where hpai reads them)",
          file, registry, registry);
    return std::nullopt;
  }
  auto str = [&](const char* k) {
    auto v = entry->find(k);
    return v != entry->end() && v->is_string() ? v->get<std::string>() : std::string();
  };
  RegistryCredentials c;
  c.identity_token = str("identitytoken");
  if (const std::string auth = str("auth"); !auth.empty()) {
    auto plain = decode_base64(auth);
    const std::size_t colon = plain ? plain->find(':') : std::string::npos;
    if (colon == std::string::npos)
      throw Error("credentials file " + file + ": the \"auth\" of " + registry + " is not base64 of USER:PASSWORD");
    c.username = plain->substr(0, colon);
    c.password = plain->substr(colon + 1);
  } else {
    c.username = str("username");
    c.password = str("password");
  }
  if (c.username.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

}  // namespace hpai
