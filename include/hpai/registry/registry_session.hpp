// Talking to one repository of one registry (the OCI distribution API v2): the
// WWW-Authenticate dance (Basic, or Bearer tokens from the realm, cached per scope),
// retries with backoff for 429 (Retry-After honoured), 5xx and broken connections, and
// errors that name registry, repository and reference and say what to do.
// A session is shared by the threads fetching layers; each brings its own HttpClient.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hpai/base/environment.hpp"
#include "hpai/image/reference.hpp"
#include "hpai/registry/auth.hpp"
#include "hpai/registry/http_client.hpp"

namespace hpai {

struct RegistryOptions {
  HttpOptions http;
  bool plain_http = false;       // --insecure: this registry speaks plain HTTP
  std::string credentials_file;  // docker's config.json format: --creds-file, else ~/.docker/config.json
  std::optional<RegistryCredentials> credentials;  // instead of the file's (hpai-image login checks these)
  int attempts = 6;                                // per request, the first included
  double backoff_s = 0.5;                          // before the first retry; doubled for each further one
  double max_wait_s = 60;                          // the longest Retry-After (or backoff) waited for
  std::string proxy;  // the https_proxy libcurl uses (from the environment, without a password), for messages
};

// The defaults from ENV: credentials from $DOCKER_CONFIG/config.json or
// ~/.docker/config.json, the CA bundle from SSL_CERT_FILE.
RegistryOptions registry_options_from(const Environment& env);

class RegistrySession {
 public:
  // HOST is where the API answers ("registry-1.docker.io", a mirror, "127.0.0.1:5000");
  // REGISTRY the name credentials are filed under.
  RegistrySession(std::string host, std::string registry, std::string repository, RegistryOptions options);

  const std::string& host() const { return host_; }
  const std::string& repository() const { return repository_; }
  const RegistryOptions& options() const { return options_; }
  // "https://HOST/v2/REPOSITORY/" + PATH ("manifests/1", "blobs/sha256:...").
  std::string url(const std::string& path) const;
  // "https://HOST/v2/": the API's root, what GET /v2/ asks.
  std::string api_root() const;

  // REQ with the credentials the registry asks for; retried (after a wait) on 429, 5xx
  // and transport failures as long as no body bytes reached REQ's sink (the caller
  // resumes those). Throws only for what retrying can't fix (a token server refusing
  // the credentials); other failures are returned for the caller's message.
  HttpResponse send(HttpClient& http, HttpRequest req);

  // A message for a failed answer to the request for WHAT ("manifest 12", "blob
  // sha256:..."), with what the user can do.
  std::string failure(const HttpResponse& r, const std::string& what) const;

  // GET /v2/ with the registry's challenge answered: Error unless the credentials are
  // accepted (hpai-image login checks them so).
  void check_access(HttpClient& http);

 private:
  // Answers CHALLENGE (of a 401): sets authorization_. False when nothing can be sent.
  bool authenticate(HttpClient& http, const std::string& challenge_header);
  std::string bearer_token(HttpClient& http, const AuthChallenge& challenge);
  // Waits before retry ATTEMPT + 1; false when CANCELLED said stop meanwhile.
  bool wait_before_retry(const HttpResponse& r, int attempt, const std::function<bool()>& cancelled) const;

  std::string host_, registry_, repository_;
  RegistryOptions options_;
  std::optional<RegistryCredentials> credentials_;
  bool credentials_loaded_ = false;
  mutable std::mutex mutex_;   // credentials_, authorization_ and the token's expiry
  std::string authorization_;  // "Bearer ..." or "Basic ...", "" before the first challenge
  std::chrono::steady_clock::time_point expires_;
};

}  // namespace hpai
