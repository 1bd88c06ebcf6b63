// hpai-image login/logout: credentials checked against the registry, then filed where
// docker keeps them (~/.docker/config.json, 0600), so docker, skopeo and hpai share one
// login. A password never comes from the command line: from a terminal without echo,
// or one line of standard input (--password-stdin).
#pragma once

#include <string>

#include "hpai/registry/registry_session.hpp"

namespace hpai {

struct LoginOptions {
  std::string registry;  // "ghcr.io", "127.0.0.1:5000"; Docker Hub when "docker.io"
  std::string username;  // "" = asked on the terminal
  bool password_stdin = false;
  RegistryOptions registry_options;  // where to file them: credentials_file
};

// Returns the file written.
std::string login(const LoginOptions& options);
// Returns whether the file had credentials for REGISTRY.
bool logout(const std::string& registry, const std::string& credentials_file);

// The password: a line of standard input, or asked on /dev/tty without echo.
std::string read_password(bool from_stdin, const std::string& prompt);

}  // namespace hpai
