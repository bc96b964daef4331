// WindowSizer: the L1 window size, adapted to the record density seen at flush.
//
// Thread safety: ObserveDensity runs only under maint_mu (the flush calls it),
// which guards density_ema and flushes_seen; window_size is atomic, read by
// compaction (under maint_mu) and by GetStats (no lock).

#ifndef TIMELOG_SRC_WINDOW_SIZER_H_
#define TIMELOG_SRC_WINDOW_SIZER_H_

#include <atomic>
#include <cstdint>

#include "run.h"
#include "timelog/options.h"

namespace timelog {

class WindowSizer {
 public:
  explicit WindowSizer(const Config& cfg);
  WindowSizer(const WindowSizer&) = delete;
  WindowSizer& operator=(const WindowSizer&) = delete;

  // The current window size (config's window_size until adapted).
  int64_t window_size() const {
    // relaxed: compaction reads it under maint_mu (which orders it after the
    // store, made under maint_mu too); stats only report it.
    return window_size_.load(std::memory_order_relaxed);
  }

  // REQUIRES: maint_mu held. Folds the density of a flushed run into the
  // moving average and, past warm-up, moves the window size toward
  // target_records / density (with hysteresis).
  void ObserveDensity(const Run& run);

 private:
  const AdaptiveConfig cfg_;
  std::atomic<int64_t> window_size_;
  // Adaptive window state (maint_mu).
  double density_ema_ = 0.0;
  uint32_t flushes_seen_ = 0;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_WINDOW_SIZER_H_
