#include "hpai/registry/pull_progress.hpp"

#include <cstdio>

#include "hpai/image/image_report.hpp"

namespace hpai {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

PullProgress::PullProgress(std::vector<Item> items, bool terminal, bool log)
    : items_(std::move(items)),
      states_(std::make_unique<State[]>(items_.size())),
      terminal_(terminal),
      log_(log),
      begin_(std::chrono::steady_clock::now()) {}

PullProgress::~PullProgress() { clear(); }

void PullProgress::started(std::size_t i) {
  states_[i].start = std::chrono::steady_clock::now();
  states_[i].phase = 1;
}

void PullProgress::add(std::size_t i, std::uint64_t bytes) {
  states_[i].bytes = bytes;
  if (terminal_) draw(false);
}

void PullProgress::done(std::size_t i, bool fetched) {
  State& s = states_[i];
  s.phase = fetched ? 2 : 3;
  if (!fetched && items_[i].size >= 0) s.bytes = static_cast<std::uint64_t>(items_[i].size);
  if (terminal_) {
    draw(true);
  } else if (log_) {
    const std::string which =
        "layer " + std::to_string(i + 1) + "/" + std::to_string(items_.size()) + " " + short_digest(items_[i].digest);
    // Whole lines, one write each: the threads' lines never interleave in a log.
    std::string line;
    if (!fetched) {
      line = which + ": " + (items_[i].size >= 0 ? human_size(static_cast<std::uint64_t>(items_[i].size)) + ", " : "") +
             "already in the blob cache\n";
    } else {
      const double t = seconds_since(s.start);
      char buf[128];
      std::snprintf(buf, sizeof buf, ": %s fetched in %.1f s (%s/s)\n", human_size(s.bytes).c_str(), t,
                    human_size(static_cast<std::uint64_t>(static_cast<double>(s.bytes) / std::max(t, 0.001))).c_str());
      line = which + buf;
    }
    std::fputs(line.c_str(), stderr);
  }
}

void PullProgress::clear() {
  if (!terminal_) return;
  std::lock_guard<std::mutex> hold(mutex_);
  for (int i = 0; i < drawn_lines_; ++i) std::fputs("\033[1A\r\033[K", stderr);
  drawn_lines_ = 0;
}

void PullProgress::draw(bool force) {
  std::lock_guard<std::mutex> hold(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_lines_ > 0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string out;
  for (int i = 0; i < drawn_lines_; ++i) out += "\033[1A";
  std::uint64_t total = 0, done = 0;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const State& s = states_[i];
    const std::uint64_t b = s.bytes;
    done += b;
    total += items_[i].size >= 0 ? static_cast<std::uint64_t>(items_[i].size) : b;
    const int width = 30;
    int filled =
        items_[i].size > 0 ? static_cast<int>(width * static_cast<double>(b) / static_cast<double>(items_[i].size)) : 0;
    if (s.phase >= 2) filled = width;
    const char* what = s.phase == 0 ? "waiting" : s.phase == 1 ? "fetching" : s.phase == 2 ? "fetched" : "cached";
    char line[256];
    std::snprintf(line, sizeof line, "\r\033[K%s [%-*s] %10s / %-10s %s\n", short_digest(items_[i].digest).c_str(),
                  width, std::string(static_cast<std::size_t>(std::min(filled, width)), '#').c_str(),
                  human_size(b).c_str(),
                  items_[i].size >= 0 ? human_size(static_cast<std::uint64_t>(items_[i].size)).c_str() : "?", what);
    out += line;
  }
  const double t = std::max(seconds_since(begin_), 0.001);
  char line[256];
  std::snprintf(line, sizeof line, "\r\033[Ktotal %s / %s, %s/s\n", human_size(done).c_str(), human_size(total).c_str(),
                human_size(static_cast<std::uint64_t>(static_cast<double>(done) / t)).c_str());
  out += line;
  std::fputs(out.c_str(), stderr);
  drawn_lines_ = static_cast<int>(items_.size()) + 1;
}

}  // namespace hpai
