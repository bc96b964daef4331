// timelog engine options: Config, its defaults and limits, and ValidateConfig.
//
// Every default is a named constant below, used both as the field's
// initializer and by ValidateConfig, which puts it in place of a 0 ("use the
// default") and is the only place that checks ranges. Its std::invalid_argument
// messages name the option as the Python API spells it ("memtable_max_bytes",
// "adaptive['alpha']") and the value that was given, so the binding passes
// them on unchanged.
//
// Thread safety: plain values. ValidateConfig is a pure function.

#ifndef TIMELOG_OPTIONS_H_
#define TIMELOG_OPTIONS_H_

#include <cstddef>
#include <cstdint>

namespace timelog {

// ---- drop callbacks ------------------------------------------------------

// Called after a successful publish with handles of records that were
// physically removed. Each stored handle is reported at most once; handles
// still stored when the engine is destroyed are NOT reported (use
// Engine::CollectHandles before destruction). Runs with the publish lock
// held: the removal and its report are one step for Engine::VisitHandles.
using DropFn = void (*)(void* ctx, const uint64_t* handles, size_t n);

// Optional two-phase form of the drop callback, for receivers that must not
// lose a handle when memory runs out (the binding: every handle owns a Python
// reference). When drop_reserve is set the engine calls, for each removal:
//   token = drop_reserve(ctx, n)   BEFORE publishing; nullptr means "cannot
//                                  take n handles": the removal is abandoned
//                                  as on std::bad_alloc (nothing published)
//   drop_commit(ctx, token, handles, n)   after publishing (must not fail), or
//   drop_cancel(ctx, token)               if publishing threw.
// drop_commit replaces on_drop for that removal. Same threads and locks as
// on_drop.
using DropReserveFn = void* (*)(void* ctx, size_t n);
using DropCommitFn = void (*)(void* ctx, void* token, const uint64_t* handles,
                              size_t n);
using DropCancelFn = void (*)(void* ctx, void* token);

// ---- defaults and limits -------------------------------------------------

inline constexpr uint64_t kDefaultMemtableMaxBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMinMemtableBytes = 1024;
inline constexpr uint64_t kMaxMemtableBytes = uint64_t{1} << 36;  // 64 GiB
// ooo_budget_bytes: 0 = memtable_max_bytes / kDefaultOooBudgetDivisor, and
// never below kMinOooBudgetBytes.
inline constexpr uint64_t kDefaultOooBudgetDivisor = 10;
inline constexpr uint64_t kMinOooBudgetBytes = 16;
inline constexpr uint32_t kDefaultSealedMaxRuns = 4;
inline constexpr uint32_t kDefaultMaintenanceWakeupMs = 100;
inline constexpr uint64_t kDefaultTargetPageBytes = uint64_t{64} << 10;
inline constexpr uint64_t kMinPageBytes = 256;
inline constexpr uint64_t kMaxPageBytes = uint64_t{1} << 30;  // 1 GiB
inline constexpr uint32_t kDefaultMaxDeltaSegments = 8;
inline constexpr int64_t kDefaultWindowSize = 3600000;  // 1 hour of ms
inline constexpr uint64_t kDefaultTargetRecords = 100000;
inline constexpr uint32_t kDefaultHysteresisPct = 10;
inline constexpr uint32_t kMaxHysteresisPct = 100;
inline constexpr double kDefaultAlpha = 0.2;
inline constexpr uint32_t kDefaultWarmupFlushes = 2;

// ---- configuration -------------------------------------------------------

enum class MaintenanceMode { kBackground = 0, kDisabled = 1 };

struct CompactionConfig {
  uint64_t target_bytes =
      0;  // split L1 outputs at about this size; 0 = unlimited
  uint32_t max_inputs = 0;   // L0 segments per compaction; 0 = unlimited
  uint32_t max_windows = 0;  // windows rewritten per step; 0 = unlimited
};

struct AdaptiveConfig {
  bool enabled = false;
  uint64_t target_records =
      kDefaultTargetRecords;  // records per window to aim for (> 0)
  int64_t min_window = 0;     // 0 = no lower clamp (but >= 1)
  int64_t max_window = 0;     // 0 = no upper clamp
  uint32_t hysteresis_pct =
      kDefaultHysteresisPct;     // ignore changes smaller than this
  int64_t window_quantum = 0;    // round window size to a multiple; 0 = none
  double alpha = kDefaultAlpha;  // EMA smoothing of observed density, (0, 1]
  uint32_t warmup_flushes =
      kDefaultWarmupFlushes;  // flushes observed before adapting
  uint32_t stale_flushes =
      0;  // reset the estimate after this many flushes without data; 0 = never
};

// Zero values mean "default" where a field's comment says so.
struct Config {
  MaintenanceMode maintenance = MaintenanceMode::kBackground;
  uint64_t memtable_max_bytes = kDefaultMemtableMaxBytes;  // 0 = default
  uint64_t ooo_budget_bytes = 0;  // 0 = memtable_max_bytes / 10
  uint32_t sealed_max_runs = kDefaultSealedMaxRuns;              // 0 = default
  uint32_t maintenance_wakeup_ms = kDefaultMaintenanceWakeupMs;  // 0 = default
  uint64_t target_page_bytes =
      kDefaultTargetPageBytes;  // 0 = default; else >= kMinPageBytes
  uint32_t max_delta_segments = kDefaultMaxDeltaSegments;  // 0 = default
  int64_t window_size = kDefaultWindowSize;                // > 0
  int64_t window_origin = 0;
  double delete_debt_threshold = 0.0;  // [0, 1]; 0 = off
  CompactionConfig compaction;
  AdaptiveConfig adaptive;
  DropFn on_drop = nullptr;
  void* drop_ctx = nullptr;
  DropReserveFn drop_reserve = nullptr;  // with drop_commit and drop_cancel
  DropCommitFn drop_commit = nullptr;
  DropCancelFn drop_cancel = nullptr;
};

// Returns `config` with defaults filled in for zero fields; throws
// std::invalid_argument naming the first bad field (see the top of this file).
Config ValidateConfig(const Config& config);

}  // namespace timelog

#endif  // TIMELOG_OPTIONS_H_
