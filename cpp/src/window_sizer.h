// WindowSizer: the L1 window size, adapted to the record density seen at flush.
//
// Thread safety: ObserveDensity runs only under maint_mu (the flush calls it;
// the owning Compaction passes its maint_mu in), which guards density_ema and
// flushes_seen; window_size is atomic, read by compaction (under maint_mu) and
// by GetStats (no lock).

#ifndef TIMELOG_SRC_WINDOW_SIZER_H_
#define TIMELOG_SRC_WINDOW_SIZER_H_

#include <atomic>
#include <cstdint>

#include "mutex.h"
#include "run.h"
#include "thread_annotations.h"
#include "timelog/options.h"

namespace timelog {

class WindowSizer {
 public:
  // `maint_mu` guards the adaptive state; it outlives this object.
  WindowSizer(const Config& cfg, Mutex* maint_mu);
  WindowSizer(const WindowSizer&) = delete;
  WindowSizer& operator=(const WindowSizer&) = delete;

  // The current window size (config's window_size until adapted).
  int64_t window_size() const {
    // relaxed: compaction reads it under maint_mu (which orders it after the
    // store, made under maint_mu too); stats only report it.
    return window_size_.load(std::memory_order_relaxed);
  }

  // Tells the analysis that the caller, holding maint_mu under its own name,
  // holds this object's maint_mu (the same mutex).
  void AssertHeld() const ASSERT_CAPABILITY(maint_mu_) {}

  // Folds the density of a flushed run into the moving average and, past
  // warm-up, moves the window size toward target_records / density (with
  // hysteresis).
  void ObserveDensity(const Run& run) REQUIRES(maint_mu_);

 private:
  const AdaptiveConfig cfg_;
  std::atomic<int64_t> window_size_;
  Mutex& maint_mu_;
  // Adaptive window state.
  double density_ema_ GUARDED_BY(maint_mu_) = 0.0;
  uint32_t flushes_seen_ GUARDED_BY(maint_mu_) = 0;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_WINDOW_SIZER_H_
