// What a pull shows while it fetches: on a terminal, a bar per layer and a total (bytes
// and rate), redrawn in place at most 10 times a second; in a batch log, one line per
// layer when it is done (fetched or cached, size, time, rate). Fed from the fetching
// threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hpai {

class PullProgress {
 public:
  struct Item {
    std::string digest;
    std::int64_t size = -1;  // -1 unknown
  };
  // TERMINAL: draw bars on stderr; else LOG: a line per layer on stderr; else nothing.
  PullProgress(std::vector<Item> items, bool terminal, bool log);
  ~PullProgress();
  void started(std::size_t i);
  void add(std::size_t i, std::uint64_t bytes_so_far);  // this fetch's count (resets on restart)
  void done(std::size_t i, bool fetched);
  void clear();  // removes the bars (before the next message)

 private:
  struct State {
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<int> phase{0};  // 0 waiting, 1 fetching, 2 fetched, 3 cached
    std::chrono::steady_clock::time_point start;
  };
  void draw(bool force);
  std::vector<Item> items_;
  std::unique_ptr<State[]> states_;
  bool terminal_, log_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point begin_, last_draw_;
  int drawn_lines_ = 0;
};

}  // namespace hpai
