#include "hpai/registry/auth.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/base/untrusted_text.hpp"

namespace hpai {

namespace {

bool token_char(char c) {
  return ascii_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
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

// Strict base64 (RFC 4648, padded): EVP_DecodeBlock alone skips whitespace and decodes
// '=' anywhere as zero bits.
std::optional<std::string> decode_base64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > (1 << 16)) return std::nullopt;
  const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  for (std::size_t i = 0; i < text.size() - pad; ++i)
    if (!ascii_alnum(text[i]) && text[i] != '+' && text[i] != '/') return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

// An "auths" key as docker compares it: the host, without scheme and path
// ("https://index.docker.io/v1/" -> "index.docker.io"), Docker Hub's names as one.
std::string auths_host(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"})
    if (key.starts_with(scheme)) key.remove_prefix(scheme.size());
  key = key.substr(0, key.find('/'));
  const std::string host = ascii_lower(std::string(key));
  return host == "index.docker.io" || host == "registry-1.docker.io" ? std::string(kDockerHub) : host;
}

// FILE as JSON, or nullopt when missing. The file read is the file checked: opened
// once (a symlink followed, as docker does), its owner and mode asked of the fd.
std::optional<nlohmann::json> load_credentials_file(const std::string& file) {
  UniqueFd fd = open_regular(AT_FDCWD, file, Resolve::Host, "credentials file " + file);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) throw_errno("can't examine credentials file " + file);
  if (st.st_uid != getuid())
    throw Error("credentials file " + file + " is not yours (uid " + std::to_string(st.st_uid) +
                "): hpai reads registry passwords only from a file of your own");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    throw Error("credentials file " + file + " is open to others (mode " + mode + "): chmod 600 " + file);
  }
  nlohmann::json doc = parse_json(read_bounded(fd.get(), kMaxSmallFile, "credentials file " + file), file);
  if (!doc.is_object()) throw Error("credentials file " + file + ": not a JSON object");
  return doc;
}

// DOC written to FILE atomically: a temporary file beside it, 0600, synced, renamed. A
// FILE that is a symlink (config.json kept in a dotfiles repository) is followed, as
// docker does, so the link stays and its target is replaced.
void save_credentials_file(const std::string& path, const nlohmann::json& doc) {
  std::string file = path;
  struct stat lst {};
  if (lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
    if (auto target = real_path(path)) file = *target;
  const auto slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("can't create " + dir);
  std::string tmp = file + ".hpai.XXXXXX";
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) throw_errno("can't create a temporary file beside " + file);
  const std::string text = doc.dump(1, '\t') + "\n";
  try {
    if (fchmod(fd.get(), 0600) != 0) throw_errno("can't chmod " + tmp);
    for (std::size_t done = 0; done < text.size();) {
      ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("can't write " + tmp);
      done += static_cast<std::size_t>(n);
    }
    if (fsync(fd.get()) != 0) throw_errno("can't sync " + tmp);
    if (rename(tmp.c_str(), file.c_str()) != 0) throw_errno("can't replace " + file);
  } catch (...) {
    unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

std::string encode_base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string basic_authorization(const std::string& user, const std::string& password) {
  return "Basic " + encode_base64(user + ":" + password);
}

void store_credentials(const std::string& file, const std::string& registry, const std::string& user,
                       const std::string& password) {
  if (user.empty() || user.find(':') != std::string::npos)
    throw Error("a registry user name must be non-empty and hold no ':'", kExitUsage);
  nlohmann::json doc = load_credentials_file(file).value_or(nlohmann::json::object());
  if (!doc.contains("auths") || !doc.at("auths").is_object()) doc["auths"] = nlohmann::json::object();
  auto& auths = doc["auths"];
  for (auto it = auths.begin(); it != auths.end();)  // one entry per registry, however spelled
    it = auths_host(it.key()) == auths_host(registry) ? auths.erase(it) : std::next(it);
  const std::string key = auths_host(registry) == kDockerHub ? "https://index.docker.io/v1/" : registry;
  auths[key] = {{"auth", encode_base64(user + ":" + password)}};
  save_credentials_file(file, doc);
}

bool erase_credentials(const std::string& file, const std::string& registry) {
  std::optional<nlohmann::json> doc = load_credentials_file(file);
  if (!doc || !doc->contains("auths") || !doc->at("auths").is_object()) return false;
  auto& auths = (*doc)["auths"];
  bool found = false;
  for (auto it = auths.begin(); it != auths.end();)
    if (auths_host(it.key()) == auths_host(registry)) {
      it = auths.erase(it);
      found = true;
    } else {
      ++it;
    }
  if (found) save_credentials_file(file, *doc);
  return found;
}

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view value) {
  auto bad = [&](const std::string& why) {
    return Error("can't understand the registry's WWW-Authenticate \"" + printable(value) + "\": " + why);
  };
  std::vector<AuthChallenge> out;
  Scanner in(value);
  while (!in.done()) {
    if (in.eat(',')) continue;
    AuthChallenge c;
    c.scheme = ascii_lower(in.token());
    if (c.scheme.empty()) throw bad("no authentication scheme");
    // Parameters until the next challenge: a token not followed by '='.
    while (!in.done()) {
      const std::size_t mark = in.pos();
      while (in.eat(',')) {
      }  // empty list elements are allowed (RFC 7230 section 7)
      const std::string name = in.token();
      if (name.empty() || !in.eat('=')) {
        in.seek(mark);
        break;
      }
      auto v = in.value();
      if (!v) throw bad("unterminated quoted string");
      c.params[ascii_lower(name)] = *v;
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
    throw Error("the registry's token realm \"" + printable(url) + "\" is not an http(s) URL");
  for (char ch : url)
    if (static_cast<unsigned char>(ch) <= ' ' || static_cast<unsigned char>(ch) >= 0x7f || ch == '#')
      throw Error("the registry's token realm \"" + printable(url) +
                  "\" is not a plain URL (a space, control character or fragment)");
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
  std::optional<nlohmann::json> loaded = load_credentials_file(file);
  if (!loaded) return std::nullopt;
  const nlohmann::json& doc = *loaded;
  const nlohmann::json* entry = nullptr;
  if (auto a = doc.find("auths"); a != doc.end() && a->is_object())
    for (const auto& [key, value] : a->items())
      if (value.is_object() && auths_host(key) == auths_host(registry)) {
        entry = &value;
        break;
      }
  if (!entry) {
    // The password may sit in a credential helper, which hpai does not run; anonymous
    // then, and a registry that wants more says so (401) with what to do.
    auto helpers = doc.find("credHelpers");
    if ((helpers != doc.end() && helpers->is_object() && helpers->contains(registry)) || doc.contains("credsStore"))
      spdlog::warn(
          "{}: {}'s credentials may be in a docker credential helper, which hpai does not run; going on "
          "without (an \"auths\" entry for {} in a credentials file of your own is read)",
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
