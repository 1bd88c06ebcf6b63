// What a registry asks of a client that must authenticate (RFC 7235's WWW-Authenticate,
// as the distribution spec uses it) and the credentials hpai may answer with, from the
// file `docker login` writes (~/.docker/config.json "auths") or one the user names.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpai/image/reference.hpp"

namespace hpai {

struct AuthChallenge {
  std::string scheme;                                // "bearer" or "basic", lower case
  std::map<std::string, std::string> params;         // realm, service, scope, error; names lower case
  std::string param(const std::string& name) const;  // "" when absent
};

// Every challenge of one WWW-Authenticate value ("Bearer realm="...",service="...",
// scope="repository:library/debian:pull""); quoted strings may hold commas and \-escapes.
// Error for a value that is not one.
std::vector<AuthChallenge> parse_www_authenticate(std::string_view value);

// The token request for a Bearer CHALLENGE: its realm with service and each of SCOPES
// (or the challenge's own scope) as query parameters, percent-encoded.
std::string token_request_url(const AuthChallenge& challenge, const std::vector<std::string>& scopes);

// The scope that lets a client pull REPOSITORY.
std::string pull_scope(const std::string& repository);

struct RegistryCredentials {
  std::string username;
  std::string password;
  std::string identity_token;  // docker's "identitytoken": an OAuth refresh token
};

// The credentials FILE holds for REGISTRY, or nullopt: the "auths" entry whose key's
// host (scheme and path dropped, as docker compares them; "https://index.docker.io/v1/"
// is Docker Hub) is REGISTRY's. The file (a symlink followed) must be the user's and
// open to nobody else, checked on the fd that is read (Error with the fix otherwise);
// a missing file is no credentials. Credential helpers ("credsStore", "credHelpers")
// are not run: a registry found only there is pulled from without, with a warning.
std::optional<RegistryCredentials> find_credentials(const std::string& file, const std::string& registry);

// "Basic <base64 USER:PASSWORD>", an Authorization header's value.
std::string basic_authorization(const std::string& user, const std::string& password);
std::string encode_base64(std::string_view data);

// Files USER:PASSWORD for REGISTRY in FILE as `docker login` does ("auths", the key
// "https://index.docker.io/v1/" for Docker Hub), keeping everything else the file
// holds; written 0600 to a temporary file beside it and renamed. Its directory is made
// 0700 when missing. The file, when there, must be the user's (Error otherwise).
void store_credentials(const std::string& file, const std::string& registry, const std::string& user,
                       const std::string& password);
// Removes REGISTRY's entry; false when there was none.
bool erase_credentials(const std::string& file, const std::string& registry);

// ~/.docker/config.json, or $DOCKER_CONFIG/config.json, as docker looks it up.
std::string docker_config_path(const std::string& home, const std::string& docker_config);

}  // namespace hpai
