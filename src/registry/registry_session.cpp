#include "hpai/registry/registry_session.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/untrusted_text.hpp"

namespace hpai {

namespace {

bool retriable(const HttpResponse& r) {
  if (r.status == 0) return r.transient;
  return r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504;
}

// "CODE: message" of the distribution spec's error body, or "".
std::string error_detail(const std::string& body) {
  try {
    const auto doc = nlohmann::json::parse(body);
    const auto& e = doc.at("errors").at(0);
    std::string out = e.value("code", "");
    if (const std::string m = e.value("message", ""); !m.empty()) out += (out.empty() ? "" : ": ") + m;
    return printable(out);
  } catch (const std::exception&) {
    return "";
  }
}

// A token goes into a header line: printable ASCII without spaces, and not huge.
bool plausible_token(const std::string& t) {
  if (t.empty() || t.size() > 65536) return false;
  for (char c : t)
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

}  // namespace

RegistryOptions registry_options_from(const Environment& env) {
  RegistryOptions o;
  const std::string home = env.get("HOME").value_or(""), docker = env.get("DOCKER_CONFIG").value_or("");
  if (!home.empty() || !docker.empty()) o.credentials_file = docker_config_path(home, docker);
  o.http.ca_file = env.get("SSL_CERT_FILE").value_or("");
  for (const char* name : {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    if (auto v = env.get(name); v && !v->empty()) {
      // Said in messages: without a user:password@ it may hold.
      const auto at = v->rfind('@');
      const auto scheme = v->find("://");
      o.proxy = at == std::string::npos
                    ? *v
                    : (scheme == std::string::npos || scheme > at ? "" : v->substr(0, scheme + 3)) + v->substr(at + 1);
      break;
    }
  return o;
}

RegistrySession::RegistrySession(std::string host, std::string registry, std::string repository,
                                 RegistryOptions options)
    : host_(std::move(host)),
      registry_(std::move(registry)),
      repository_(std::move(repository)),
      options_(std::move(options)) {
  options_.http.allow_plain_http = options_.plain_http;
}

std::string RegistrySession::api_root() const {
  return (options_.plain_http ? "http://" : "https://") + host_ + "/v2/";
}

std::string RegistrySession::url(const std::string& path) const {
  return api_root() + (repository_.empty() ? "" : repository_ + "/") + path;
}

HttpResponse RegistrySession::send(HttpClient& http, HttpRequest req) {
  // Manifests, tokens, API checks are small: a server trickling one gets minutes, not
  // the hours the stall check alone would allow.
  if (!req.sink && req.timeout_s == 0) req.timeout_s = 300;
  bool answered_challenge = false;
  const std::size_t plain_headers = req.headers.size();
  for (int attempt = 1;; ++attempt) {
    req.headers.resize(plain_headers);
    {
      std::lock_guard<std::mutex> hold(mutex_);
      if (!authorization_.empty() && authorization_.starts_with("Bearer ") &&
          std::chrono::steady_clock::now() > expires_)
        authorization_.clear();  // expired: the registry's next 401 brings a fresh one
      if (!authorization_.empty()) req.headers.push_back("Authorization: " + authorization_);
    }
    HttpResponse r = http.perform(req);
    if (r.status == 401 && !answered_challenge) {
      answered_challenge = true;
      if (authenticate(http, r.header("www-authenticate"))) {
        --attempt;  // the challenge's answer is no retry
        continue;
      }
      return r;
    }
    if (!retriable(r) || attempt >= options_.attempts) return r;
    if (req.sink && r.status == 0 && r.body_bytes > 0) return r;  // bytes were kept: the caller resumes
    if (!wait_before_retry(r, attempt, req.cancelled)) return r;
  }
}

bool RegistrySession::wait_before_retry(const HttpResponse& r, int attempt,
                                        const std::function<bool()>& cancelled) const {
  double wait = options_.backoff_s * std::pow(2.0, attempt - 1);
  if (const std::string after = r.header("retry-after"); !after.empty()) {
    try {
      std::size_t used = 0;
      const long s = std::stol(after, &used);
      if (used == after.size() && s >= 0) wait = static_cast<double>(s);
    } catch (const std::exception&) {
      // An HTTP date: the backoff then.
    }
  }
  wait = std::min(wait, options_.max_wait_s);
  const std::string why = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status);
  spdlog::info("{}: {}; retrying in {:.1f} s (attempt {} of {})", host_, why, wait, attempt + 1, options_.attempts);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait);
  while (std::chrono::steady_clock::now() < until) {
    if (cancelled && cancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return !(cancelled && cancelled());
}

bool RegistrySession::authenticate(HttpClient& http, const std::string& header) {
  if (header.empty()) return false;
  std::vector<AuthChallenge> challenges;
  try {
    challenges = parse_www_authenticate(header);
  } catch (const Error& e) {
    spdlog::warn("{}: can't read its WWW-Authenticate challenge: {}", host_, e.what());
    return false;
  }
  {
    std::lock_guard<std::mutex> hold(mutex_);
    if (!credentials_loaded_) {
      if (options_.credentials)
        credentials_ = options_.credentials;
      else if (!options_.credentials_file.empty())
        credentials_ = find_credentials(options_.credentials_file, registry_);
      credentials_loaded_ = true;
    }
  }
  const AuthChallenge* bearer = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && !bearer) bearer = &c;
    if (c.scheme == "basic" && !basic) basic = &c;
  }
  if (bearer) {
    std::string token = bearer_token(http, *bearer);
    std::lock_guard<std::mutex> hold(mutex_);
    authorization_ = "Bearer " + token;
    return true;
  }
  if (basic && credentials_ && !credentials_->username.empty()) {
    std::lock_guard<std::mutex> hold(mutex_);
    authorization_ = basic_authorization(credentials_->username, credentials_->password);
    expires_ = std::chrono::steady_clock::time_point::max();
    return true;
  }
  return false;
}

std::string RegistrySession::bearer_token(HttpClient& http, const AuthChallenge& challenge) {
  const std::vector<std::string> scopes =
      repository_.empty() ? std::vector<std::string>{} : std::vector<std::string>{pull_scope(repository_)};
  HttpRequest req;
  req.url = token_request_url(challenge, scopes);
  req.max_body = 1 << 20;
  req.timeout_s = 120;
  const bool with_credentials = credentials_ && !credentials_->username.empty();
  if (with_credentials)
    req.headers.push_back("Authorization: " + basic_authorization(credentials_->username, credentials_->password));
  if (credentials_ && credentials_->username.empty() && !credentials_->identity_token.empty())
    spdlog::warn(
        "{}: the credentials file holds an identity token for {}, which hpai does not use; asking for an "
        "anonymous token (hpai-image login {} stores a password)",
        host_, registry_, registry_);
  HttpResponse r;
  for (int attempt = 1;; ++attempt) {
    r = http.perform(req);
    if (!retriable(r) || attempt >= options_.attempts || !wait_before_retry(r, attempt, {})) break;
  }
  const std::string realm = challenge.param("realm");
  if (r.status == 401 || r.status == 403)
    throw Error("token server " + realm + " refused " +
                (with_credentials ? "the credentials for " + registry_ + " (from " + options_.credentials_file + ")"
                                  : "an anonymous token for " + repository_) +
                " (HTTP " + std::to_string(r.status) + "): log in with hpai-image login " + registry_ +
                ", or give --creds-file FILE");
  if (r.status < 200 || r.status >= 300)
    throw Error("token server " + realm + " for " + registry_ + ": " +
                (r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + " " + error_detail(r.body)));
  std::string token;
  long expires_in = 60;
  try {
    const nlohmann::json doc = parse_json(r.body, "token from " + realm);
    if (doc.contains("token") && doc.at("token").is_string()) token = doc.at("token").get<std::string>();
    if (token.empty() && doc.contains("access_token") && doc.at("access_token").is_string())
      token = doc.at("access_token").get<std::string>();
    if (doc.contains("expires_in") && doc.at("expires_in").is_number_integer())
      expires_in = std::clamp<long>(doc.at("expires_in").get<long>(), 60, 86400);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("token server " + realm + " answered no token: " + e.what());
  }
  if (!plausible_token(token))
    throw Error("token server " + realm +
                " answered no usable token (empty, too long, or with spaces or control "
                "characters)");
  std::lock_guard<std::mutex> hold(mutex_);
  expires_ = std::chrono::steady_clock::now() + std::chrono::seconds(expires_in - 10);
  return token;
}

std::string RegistrySession::failure(const HttpResponse& r, const std::string& what) const {
  const std::string where = registry_ + (repository_.empty() ? "" : " repository " + repository_) + ", " + what;
  if (r.status == 0) {
    if (r.tls_error)
      return where + ": TLS failed talking to " + host_ + ": " + r.error +
             "; a registry with a certificate from a site CA needs --ca-cert FILE (or SSL_CERT_FILE)";
    if (r.aborted) return where + ": " + (r.error.empty() ? "transfer stopped" : r.error);
    if (!r.transient) return where + ": " + r.error;
    return where + ": can't reach " + host_ +
           (options_.proxy.empty() || options_.plain_http ? "" : " through the proxy " + options_.proxy) + ": " +
           r.error + " (after " + std::to_string(options_.attempts) +
           " attempts; https_proxy and no_proxy apply; compute nodes often have no internet: pull on a login node, "
           "with --squashfs onto the shared file system)";
  }
  std::string detail = error_detail(r.body);
  detail = detail.empty() ? "" : ": " + detail;
  const std::string http = "HTTP " + std::to_string(r.status) + detail;
  std::optional<RegistryCredentials> credentials;
  {
    std::lock_guard<std::mutex> hold(mutex_);
    credentials = credentials_;
  }
  const bool had_credentials = credentials && !credentials->username.empty();
  switch (r.status) {
    case 401:
      return where + ": not authorized (" + http + "): " +
             (had_credentials
                  ? "the credentials from " + options_.credentials_file + " were refused; log in again with "
                  : "log in with ") +
             "hpai-image login " + registry_ + ", or give --creds-file FILE";
    case 403:
      return where + ": access denied (" + http + "): the account " +
             (had_credentials ? "\"" + printable(credentials->username) + "\"" : "(anonymous)") + " may not pull " +
             repository_;
    case 404: return where + ": not found (" + http + "): check the repository name and the tag or digest";
    case 429:
      return where + ": rate limited (" + http + ") after " + std::to_string(options_.attempts) +
             " attempts: wait and pull again, or log in (registries such as Docker Hub limit anonymous pulls)";
    default: return where + ": " + http;
  }
}

void RegistrySession::check_access(HttpClient& http) {
  HttpRequest req;
  req.url = api_root();
  req.max_body = 1 << 16;
  HttpResponse r = send(http, req);
  if (r.status >= 200 && r.status < 300) return;
  throw Error(failure(r, "API check (GET /v2/)"));
}

}  // namespace hpai
