#include <cmath>
#include <stdexcept>
#include <string>

#include "timelog/engine.h"

namespace timelog {

namespace {

[[noreturn]] void Bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument(field + ": " + why);
}

}  // namespace

Config ValidateConfig(const Config& in) {
  Config c = in;
  if (c.maintenance != MaintenanceMode::kBackground &&
      c.maintenance != MaintenanceMode::kDisabled) {
    Bad("maintenance", "must be 'background' or 'disabled'");
  }
  const int drop_phases = (c.drop_reserve != nullptr) + (c.drop_commit != nullptr) +
                          (c.drop_cancel != nullptr);
  if (drop_phases != 0 && drop_phases != 3) {
    Bad("drop_reserve", "drop_reserve, drop_commit and drop_cancel are set together");
  }
  if (c.memtable_max_bytes == 0) c.memtable_max_bytes = 1u << 20;
  if (c.memtable_max_bytes < 1024) {
    Bad("memtable_max_bytes", "must be 0 (default) or at least 1024 bytes");
  }
  if (c.memtable_max_bytes > (uint64_t{1} << 36)) {
    Bad("memtable_max_bytes", "must be at most 64 GiB");
  }
  if (c.ooo_budget_bytes == 0) c.ooo_budget_bytes = c.memtable_max_bytes / 10;
  if (c.ooo_budget_bytes < 16) c.ooo_budget_bytes = 16;
  if (c.ooo_budget_bytes > c.memtable_max_bytes) {
    Bad("ooo_budget_bytes", "must not exceed memtable_max_bytes");
  }
  if (c.sealed_max_runs == 0) c.sealed_max_runs = 4;
  if (c.maintenance_wakeup_ms == 0) c.maintenance_wakeup_ms = 100;
  if (c.target_page_bytes == 0) c.target_page_bytes = 64u << 10;
  if (c.target_page_bytes < kMinPageBytes) {
    Bad("target_page_bytes", "must be 0 (default) or at least " +
                                 std::to_string(kMinPageBytes) + " bytes");
  }
  if (c.target_page_bytes > (uint64_t{1} << 30)) {
    Bad("target_page_bytes", "must be at most 1 GiB");
  }
  if (c.max_delta_segments == 0) c.max_delta_segments = 8;
  if (c.window_size <= 0) Bad("window_size", "must be a positive integer");
  if (!(c.delete_debt_threshold >= 0.0 && c.delete_debt_threshold <= 1.0)) {
    Bad("delete_debt_threshold", "must be between 0.0 and 1.0");
  }
  const AdaptiveConfig& a = c.adaptive;
  if (a.enabled) {
    if (a.target_records == 0) {
      Bad("adaptive.target_records", "must be positive");
    }
    if (a.min_window < 0) Bad("adaptive.min_window", "must be >= 0");
    if (a.max_window < 0) Bad("adaptive.max_window", "must be >= 0");
    if (a.max_window != 0 && a.min_window > a.max_window) {
      Bad("adaptive.min_window", "must not exceed adaptive.max_window");
    }
    if (a.hysteresis_pct > 100) {
      Bad("adaptive.hysteresis_pct", "must be between 0 and 100");
    }
    if (a.window_quantum < 0) Bad("adaptive.window_quantum", "must be >= 0");
    if (!(a.alpha > 0.0 && a.alpha <= 1.0)) {
      Bad("adaptive.alpha", "must be in (0, 1]");
    }
    if (a.failure_backoff_pct > 1000) {
      Bad("adaptive.failure_backoff_pct", "must be between 0 and 1000");
    }
  }
  return c;
}

}  // namespace timelog
