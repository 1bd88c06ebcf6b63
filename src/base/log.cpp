#include "hpai/base/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

#include "hpai/base/error.hpp"

namespace hpai {

void init_logging(std::string_view program, int verbosity) {
  // Unbuffered stderr sink: a launcher's messages must appear before the payload's
  // output and survive an exec, so nothing may sit in a buffer.
  auto logger = spdlog::stderr_logger_st(std::string(program));
  // "hpai-run[1234]: error: ..." reads well when many ranks share one batch log.
  logger->set_pattern(std::string(program) + "[%P]: %l: %v");
  spdlog::level::level_enum level = spdlog::level::warn;
  if (verbosity <= -2)
    level = spdlog::level::off;
  else if (verbosity == -1)
    level = spdlog::level::err;
  else if (verbosity == 1)
    level = spdlog::level::info;
  else if (verbosity == 2)
    level = spdlog::level::debug;
  else if (verbosity >= 3)
    level = spdlog::level::trace;
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

int report_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitLaunch;
  }
}

}  // namespace hpai
