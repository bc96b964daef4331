// WindowSizer: the adaptive window's density average and its size decisions.

#include "window_sizer.h"

#include <algorithm>
#include <cmath>

namespace timelog {

WindowSizer::WindowSizer(const Config& cfg, Mutex* maint_mu)
    : cfg_(cfg.adaptive), window_size_(cfg.window_size), maint_mu_(*maint_mu) {}

void WindowSizer::ObserveDensity(const Run& run) {
  const AdaptiveConfig& a = cfg_;
  if (!a.enabled || run.size() == 0) return;
  const double span = static_cast<double>(run.max_ts()) -
                      static_cast<double>(run.min_ts()) + 1.0;
  const double density = static_cast<double>(run.size()) / span;
  density_ema_ = flushes_seen_ == 0
                     ? density
                     : a.alpha * density + (1 - a.alpha) * density_ema_;
  ++flushes_seen_;
  if (flushes_seen_ < a.warmup_flushes || density_ema_ <= 0) return;
  double want = static_cast<double>(a.target_records) / density_ema_;
  want = std::clamp(want, 1.0, 4.0e18);
  if (a.min_window > 0)
    want = std::max(want, static_cast<double>(a.min_window));
  if (a.max_window > 0)
    want = std::min(want, static_cast<double>(a.max_window));
  int64_t next = static_cast<int64_t>(want);
  if (a.window_quantum > 0) {
    next = std::max<int64_t>(a.window_quantum,
                             (next / a.window_quantum) * a.window_quantum);
  }
  // relaxed: this thread (holding maint_mu) is the only writer.
  const int64_t cur = window_size_.load(std::memory_order_relaxed);
  const double change = std::fabs(static_cast<double>(next - cur));
  if (change * 100.0 > static_cast<double>(a.hysteresis_pct) * cur) {
    // relaxed: read by compaction under maint_mu (which this thread holds)
    // and by stats, which only report it.
    window_size_.store(next, std::memory_order_relaxed);
  }
}

}  // namespace timelog
