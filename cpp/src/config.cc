// ValidateConfig: the engine's only range checks, and its defaults filled in.

#include <sstream>
#include <stdexcept>
#include <string>

#include "timelog/options.h"

namespace timelog {

namespace {

// "<option> must be <what>; got <value>", the option spelled as in Python.
template <class T>
[[noreturn]] void Bad(const char* option, const std::string& what, T value) {
  std::ostringstream msg;
  msg << option << " must be " << what << "; got " << value;
  throw std::invalid_argument(msg.str());
}

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

// A size option where 0 means `def`: fills the default, then checks [lo, hi].
void SizeOption(const char* option, uint64_t* value, uint64_t def, uint64_t lo,
                uint64_t hi, const char* hi_text) {
  if (*value == 0) *value = def;
  if (*value < lo || *value > hi) {
    Bad(option,
        "0 (the default, " + Bytes(def) + ") or between " + Bytes(lo) +
            " and " + hi_text,
        *value);
  }
}

}  // namespace

Config ValidateConfig(const Config& in) {
  Config c = in;
  if (c.maintenance != MaintenanceMode::kBackground &&
      c.maintenance != MaintenanceMode::kDisabled) {
    Bad("maintenance", "'background' or 'disabled'",
        static_cast<int>(c.maintenance));
  }
  const int drop_phases = (c.drop_reserve != nullptr) +
                          (c.drop_commit != nullptr) +
                          (c.drop_cancel != nullptr);
  if (drop_phases != 0 && drop_phases != 3) {
    Bad("drop_reserve", "set together with drop_commit and drop_cancel",
        std::to_string(drop_phases) + " of the three");
  }
  SizeOption("memtable_max_bytes", &c.memtable_max_bytes,
             kDefaultMemtableMaxBytes, kMinMemtableBytes, kMaxMemtableBytes,
             "64 GiB");
  if (c.ooo_budget_bytes > c.memtable_max_bytes) {
    Bad("ooo_budget_bytes",
        "at most memtable_max_bytes (" + Bytes(c.memtable_max_bytes) + ")",
        c.ooo_budget_bytes);
  }
  if (c.ooo_budget_bytes == 0) {
    c.ooo_budget_bytes = c.memtable_max_bytes / kDefaultOooBudgetDivisor;
  }
  if (c.ooo_budget_bytes < kMinOooBudgetBytes)
    c.ooo_budget_bytes = kMinOooBudgetBytes;
  if (c.sealed_max_runs == 0) c.sealed_max_runs = kDefaultSealedMaxRuns;
  if (c.maintenance_wakeup_ms == 0)
    c.maintenance_wakeup_ms = kDefaultMaintenanceWakeupMs;
  SizeOption("target_page_bytes", &c.target_page_bytes, kDefaultTargetPageBytes,
             kMinPageBytes, kMaxPageBytes, "1 GiB");
  if (c.max_delta_segments == 0)
    c.max_delta_segments = kDefaultMaxDeltaSegments;
  if (c.window_size <= 0)
    Bad("window_size", "a positive int in time_unit, or None", c.window_size);
  if (!(c.delete_debt_threshold >= 0.0 && c.delete_debt_threshold <= 1.0)) {
    Bad("delete_debt_threshold", "a number in [0.0, 1.0] (0.0 = off)",
        c.delete_debt_threshold);
  }
  const AdaptiveConfig& a = c.adaptive;
  if (a.enabled) {
    if (a.target_records == 0) {
      Bad("adaptive['target_records']", "a positive int", a.target_records);
    }
    if (a.min_window < 0)
      Bad("adaptive['min_window']", "a non-negative int (0 = no clamp)",
          a.min_window);
    if (a.max_window < 0)
      Bad("adaptive['max_window']", "a non-negative int (0 = no clamp)",
          a.max_window);
    if (a.max_window != 0 && a.min_window > a.max_window) {
      Bad("adaptive['min_window']",
          "at most adaptive['max_window'] (" + std::to_string(a.max_window) +
              ")",
          a.min_window);
    }
    if (a.hysteresis_pct > kMaxHysteresisPct) {
      Bad("adaptive['hysteresis_pct']", "an int in [0, 100]", a.hysteresis_pct);
    }
    if (a.window_quantum < 0) {
      Bad("adaptive['window_quantum']", "a non-negative int (0 = none)",
          a.window_quantum);
    }
    if (!(a.alpha > 0.0 && a.alpha <= 1.0))
      Bad("adaptive['alpha']", "a number in (0.0, 1.0]", a.alpha);
  }
  return c;
}

}  // namespace timelog
