#include "hpai/registry/login.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>

#include "hpai/base/error.hpp"
#include "hpai/base/fd.hpp"
#include "hpai/image/reference.hpp"

namespace hpai {

namespace {

// One line from FD (without its newline), at most 4 KiB.
std::string read_line(int fd, const std::string& what) {
  std::string line;
  char c;
  while (true) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("can't read " + what);
    if (n == 0 || c == '\n') break;
    if (line.size() >= 4096) throw Error(what + " is longer than 4096 bytes");
    line += c;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::string read_password(bool from_stdin, const std::string& prompt) {
  if (from_stdin) return read_line(STDIN_FILENO, "the password on standard input");
  UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty)
    throw Error("no terminal to ask for the password on: give it on standard input with --password-stdin", kExitUsage);
  struct termios saved {};
  if (tcgetattr(tty.get(), &saved) != 0) throw_errno("can't read the terminal's settings");
  struct termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  if (write(tty.get(), prompt.data(), prompt.size()) < 0) throw_errno("can't write to the terminal");
  if (tcsetattr(tty.get(), TCSAFLUSH, &quiet) != 0) throw_errno("can't turn the terminal's echo off");
  std::string line;
  try {
    line = read_line(tty.get(), "the password");
  } catch (...) {
    tcsetattr(tty.get(), TCSAFLUSH, &saved);
    throw;
  }
  tcsetattr(tty.get(), TCSAFLUSH, &saved);
  if (write(tty.get(), "\n", 1) < 0) {
    // The newline is cosmetic.
  }
  return line;
}

std::string login(const LoginOptions& o) {
  if (o.registry_options.credentials_file.empty())
    throw Error("no credentials file: set HOME or DOCKER_CONFIG, or give --creds-file FILE", kExitUsage);
  // "docker.io", "ghcr.io", "host:port" as a reference's registry part is spelled.
  const ImageReference ref = parse_image_reference(o.registry + "/x");
  if (ref.repository != "x" && ref.repository != "library/x")
    throw Error("\"" + o.registry + "\" is no registry name (host[:port])", kExitUsage);
  std::string user = o.username;
  if (user.empty()) {
    if (o.password_stdin) throw Error("--password-stdin needs --username", kExitUsage);
    UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (!tty) throw Error("no terminal to ask for the user name on: give --username", kExitUsage);
    const std::string prompt = "Username for " + ref.registry + ": ";
    if (write(tty.get(), prompt.data(), prompt.size()) < 0) throw_errno("can't write to the terminal");
    user = read_line(tty.get(), "the user name");
  }
  const std::string password = read_password(o.password_stdin, "Password for " + user + "@" + ref.registry + ": ");
  if (password.empty()) throw Error("empty password", kExitUsage);
  RegistryOptions ro = o.registry_options;
  ro.credentials = RegistryCredentials{user, password, ""};
  RegistrySession session(ref.api_host(), ref.registry, "", ro);
  HttpClient http(session.options().http);
  session.check_access(http);
  store_credentials(o.registry_options.credentials_file, ref.registry, user, password);
  return o.registry_options.credentials_file;
}

bool logout(const std::string& registry, const std::string& credentials_file) {
  const ImageReference ref = parse_image_reference(registry + "/x");
  return erase_credentials(credentials_file, ref.registry);
}

}  // namespace hpai
