// timelog engine: an in-memory, time-indexed multimap of (int64 timestamp,
// uint64 handle) records, LSM-style.
//
// Structure (newest first):
//   active memtable   append-only columns for in-order records + an
//                     out-of-order (OOO) buffer; readers snapshot a prefix.
//   sealed runs       immutable sorted runs waiting for flush (bounded by
//                     sealed_max_runs: beyond that writes report kBusy).
//   L0 segments       immutable sorted runs produced by flush.
//   L1 windows        L0 segments compacted onto a time grid; each window
//                     holds a few sorted runs, merged when it pays.
// Deletes are sequenced tombstones [lo, hi]: tombstone number s hides a record
// iff the record was written before tombstone s. Immutable runs carry
// `applied_seq`: every tombstone numbered <= applied_seq has already been
// applied physically to the run, every later one applies logically.
//
// All ranges in this API are CLOSED intervals [lo, hi] of int64 timestamps,
// so both INT64_MIN and INT64_MAX are ordinary values; lo > hi is empty.
//
// Thread safety
// -------------
// * Writer methods (Append*, Delete*, Cutoff, Flush, MaintStep, Compact,
//   StartMaintenance, StopMaintenance, WaitForRoom, Close) must be serialised
//   by the caller: one writer at a time. (The Python binding serialises them
//   with the GIL.)
// * Reader methods (GetSnapshot and everything on Snapshot / Cursor, Stats)
//   may be called from any number of threads concurrently with the writer and
//   with the maintenance worker. A Snapshot is immutable after creation; a
//   Cursor belongs to one thread at a time.
// * The maintenance worker (background mode) runs flush/compaction on its own
//   thread; it never touches the active memtable.
// * The drop callback runs on whichever thread published the removal (writer
//   or worker), with no engine lock held. It must not call back into the
//   engine's writer methods.
// * Snapshots, cursors and page spans hold shared ownership of everything they
//   read, so they remain valid after the Engine is destroyed.

#ifndef TIMELOG_ENGINE_H_
#define TIMELOG_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace timelog {

constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();

// Thrown (as a std::bad_alloc, so generic handlers still see an allocation
// failure) when the engine cannot allocate one of its column arrays; what()
// names the structure and the size that was asked for, e.g.
// "could not allocate the memtable (memtable_max_bytes): 4294967296 rows x
// 8 bytes = 32.0 GiB". The message is shared, so copying never allocates.
class AllocationError : public std::bad_alloc {
 public:
  explicit AllocationError(std::string message)
      : message_(std::make_shared<const std::string>(std::move(message))) {}
  const char* what() const noexcept override { return message_->c_str(); }

 private:
  std::shared_ptr<const std::string> message_;
};

struct Record {
  int64_t ts;
  uint64_t handle;
};

// Called after a successful publish with handles of records that were
// physically removed. Each stored handle is reported at most once; handles
// still stored when the engine is destroyed are NOT reported (use
// Engine::CollectHandles before destruction).
using DropFn = void (*)(void* ctx, const uint64_t* handles, size_t n);

enum class MaintenanceMode { kBackground = 0, kDisabled = 1 };

struct CompactionConfig {
  uint64_t target_bytes = 0;  // split L1 outputs at about this size; 0 = unlimited
  uint32_t max_inputs = 0;    // L0 segments per compaction; 0 = unlimited
  uint32_t max_windows = 0;   // windows rewritten per step; 0 = unlimited
};

struct AdaptiveConfig {
  bool enabled = false;
  uint64_t target_records = 0;  // records per window to aim for (> 0 when enabled)
  int64_t min_window = 0;       // 0 = no lower clamp (but >= 1)
  int64_t max_window = 0;       // 0 = no upper clamp
  uint32_t hysteresis_pct = 10;  // ignore changes smaller than this
  int64_t window_quantum = 0;   // round window size to a multiple; 0 = none
  double alpha = 0.2;           // EMA smoothing of observed density, (0, 1]
  uint32_t warmup_flushes = 2;  // flushes observed before adapting
  uint32_t stale_flushes = 0;   // reset the estimate after this many flushes without data; 0 = never
  uint32_t failure_backoff_threshold = 0;  // consecutive compaction retries before backing off; 0 = off
  uint32_t failure_backoff_pct = 0;        // grow window by this percent on backoff
};

// Zero values mean "default" (the Python option defaults in docs/api.md),
// except where noted.
struct Config {
  MaintenanceMode maintenance = MaintenanceMode::kBackground;
  uint64_t memtable_max_bytes = 1u << 20;
  uint64_t ooo_budget_bytes = 0;     // 0 = memtable_max_bytes / 10
  uint32_t sealed_max_runs = 4;
  uint32_t sealed_wait_ms = 100;     // 0 = no wait (NOT default)
  uint32_t maintenance_wakeup_ms = 100;
  uint64_t target_page_bytes = 64u << 10;  // >= kMinPageBytes
  uint32_t max_delta_segments = 8;
  int64_t window_size = 3600000;     // > 0
  int64_t window_origin = 0;
  double delete_debt_threshold = 0.0;  // [0, 1]; 0 = off
  CompactionConfig compaction;
  AdaptiveConfig adaptive;
  DropFn on_drop = nullptr;
  void* drop_ctx = nullptr;
};

constexpr uint64_t kMinPageBytes = 256;  // target_page_bytes below this is rejected
constexpr size_t kAdoptMinRecords = 16384;  // see Engine::AdoptSortedBatch

// Result of a write. Both values mean the write WAS committed.
enum class WriteResult {
  kOk = 0,
  kBusy = 1,  // committed, but sealed runs are at sealed_max_runs (backpressure)
};

struct Stats {
  // storage
  uint64_t segments_l0 = 0;
  uint64_t segments_l1 = 0;       // runs in L1 windows
  uint64_t windows_l1 = 0;
  uint64_t pages_total = 0;
  uint64_t records_estimate = 0;  // exact visible count
  uint64_t records_physical = 0;  // stored records incl. tombstoned ones
  std::optional<int64_t> min_ts, max_ts;
  uint64_t tombstone_count = 0;
  uint64_t engine_bytes = 0;      // bytes held by record storage + index
  int64_t window_size = 0;        // current (possibly adaptive) L1 window
  // memtable
  uint64_t active_records = 0;
  uint64_t ooo_records = 0;
  uint64_t sealed_runs = 0;
  // operational
  uint64_t seals_total = 0;
  uint64_t ooo_budget_hits = 0;
  uint64_t backpressure_waits = 0;
  uint64_t flushes_total = 0;
  uint64_t compactions_total = 0;
  uint64_t compaction_retries = 0;
  uint64_t windows_dropped = 0;
  uint64_t records_dropped = 0;   // handles reported through the drop callback
};

class Version;      // internal
class Memtable;     // internal
class ReadState;    // internal

// A sorted, contiguous, immutable piece of a run, kept alive by `owner`.
struct PageSpan {
  const int64_t* ts = nullptr;
  const uint64_t* handles = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;
};

class Cursor;

// A consistent, immutable view of the engine at one instant.
class Snapshot {
 public:
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // Number of visible records with lo <= ts <= hi. O(s * (t + 1) * log n) for
  // s sources and t applicable tombstones; no scan.
  uint64_t Count(int64_t lo, int64_t hi) const;
  bool Empty() const { return Count(kMinTs, kMaxTs) == 0; }
  // Smallest visible ts >= t / largest visible ts <= t.
  std::optional<int64_t> Ceil(int64_t t) const;
  std::optional<int64_t> Floor(int64_t t) const;
  std::optional<int64_t> MinTs() const { return Ceil(kMinTs); }
  std::optional<int64_t> MaxTs() const { return Floor(kMaxTs); }
  bool Contains(int64_t t) const;
  // Appends handles of visible records at exactly t, in insertion order.
  // Point reads visit only the sources whose [min, max] holds t (at most one
  // L1 window), search each with its run's fence index (about
  // log17(n / 512) + 1 index nodes plus one 32-row block) and allocate
  // nothing but *out's growth.
  void Equal(int64_t t, std::vector<uint64_t>* out) const;
  // Cursor over visible records with lo <= ts <= hi, ascending (ties in
  // insertion order) or, if reverse, descending (ties in reverse insertion
  // order).
  std::unique_ptr<Cursor> Range(int64_t lo, int64_t hi, bool reverse = false) const;
  // Immutable pages (sealed runs, L0 and L1 runs) overlapping [lo, hi],
  // clipped to it. Physical: NOT filtered by tombstones; the active memtable
  // is not included.
  std::vector<PageSpan> PageSpans(int64_t lo, int64_t hi) const;

 private:
  friend class Engine;
  friend class Cursor;
  Snapshot();
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Iterates one snapshot. Holds shared ownership of the snapshot's data.
class Cursor {
 public:
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  // Fills out[0..cap) with the next records; returns how many (0 = done).
  size_t Next(Record* out, size_t cap);
  // Visible records not yet returned. O(1).
  uint64_t Remaining() const { return remaining_; }

 private:
  friend std::unique_ptr<Cursor> MakeCursor(ReadState st, int64_t lo,
                                            int64_t hi, bool reverse);
  Cursor();
  struct Rep;
  std::unique_ptr<Rep> rep_;
  uint64_t remaining_ = 0;
};

class Engine {
 public:
  // Validates `config`; throws std::invalid_argument naming the bad field.
  // Starts the worker in background mode.
  static std::unique_ptr<Engine> Create(const Config& config);
  // Stops the worker (joins). Does NOT report remaining handles.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- writes (single writer). Each returns kBusy iff, after the commit,
  // sealed runs waiting for flush are >= sealed_max_runs. Never waits.
  WriteResult Append(int64_t ts, uint64_t handle);
  // Commits all n records (seals as often as needed). Throws std::bad_alloc
  // only before anything is committed.
  WriteResult AppendBatch(const int64_t* ts, const uint64_t* handles, size_t n);
  // If ts is sorted and large (>= kAdoptMinRecords), takes the two vectors'
  // storage as a sealed run without copying (after sealing the memtable) and
  // returns true with *result set; otherwise returns false and leaves the
  // vectors untouched (use AppendBatch). REQUIRES: ts->size() == h->size().
  bool AdoptSortedBatch(std::vector<int64_t>* ts, std::vector<uint64_t>* h,
                        WriteResult* result);
  // Hides every record written so far with lo <= ts <= hi. lo > hi: no-op.
  WriteResult Delete(int64_t lo, int64_t hi);
  // Hides every record with ts < t written so far and lets maintenance drop
  // whole windows below t. t == kMinTs: no-op.
  WriteResult Cutoff(int64_t t);

  // ---- backpressure
  // True iff sealed runs waiting for flush are >= sealed_max_runs.
  bool UnderPressure() const;
  // Background mode: blocks up to timeout_ms until the worker has made room.
  // Returns !UnderPressure(). Call WITHOUT any Python lock held.
  bool WaitForRoom(uint32_t timeout_ms);

  // ---- maintenance
  // Seals the active memtable (if non-empty) and flushes every sealed run to
  // L0. Does not compact. Safe in both modes (serialised with the worker).
  void Flush();
  // Disabled mode: performs one unit of work (flush one sealed run, one
  // compaction, one window rewrite); returns whether it did anything.
  // Throws std::logic_error in background mode.
  bool MaintStep();
  // Requests compaction of everything (L0 into L1, and every window with
  // applicable tombstones rewritten). Background: wakes the worker.
  // Disabled: the following MaintStep() calls do it.
  void Compact();
  // Idempotent. Start in disabled mode switches the engine to background.
  void StartMaintenance();
  // Idempotent; joins the worker. Afterwards the engine is in disabled mode.
  void StopMaintenance();
  bool MaintenanceRunning() const;

  // ---- reads
  std::shared_ptr<const Snapshot> GetSnapshot() const;
  // One-shot reads on the current state, equivalent to the Snapshot methods
  // of a snapshot taken at the call but without allocating one (the fast
  // path for point lookups, len() and `in`). Equal and Contains read the
  // version pointer and the memtable's published row counts together under
  // the version mutex (so they are as consistent as a snapshot) and then
  // search the memtable's in-order rows in place, without the memtable view a
  // snapshot builds: no lock beyond that one (the OOO view's cache lock only
  // when there are OOO rows) and no allocation beyond *out.
  uint64_t Count(int64_t lo, int64_t hi) const;
  std::optional<int64_t> Ceil(int64_t t) const;
  std::optional<int64_t> Floor(int64_t t) const;
  bool Contains(int64_t t) const;
  void Equal(int64_t t, std::vector<uint64_t>* out) const;
  // Cursor over the current state; the same as GetSnapshot()->Range(...)
  // without allocating a Snapshot. The cursor keeps what it reads alive.
  std::unique_ptr<Cursor> Range(int64_t lo, int64_t hi, bool reverse = false) const;
  Stats GetStats() const;

  // ---- teardown helpers
  // Stops maintenance, then appends every handle still physically stored
  // (visible or tombstoned, not yet reported) to *out. The engine must not be
  // written to afterwards except by destruction.
  void CollectHandles(std::vector<uint64_t>* out);

  const Config& config() const { return config_; }

 private:
  explicit Engine(const Config& config);
  struct Rep;
  Config config_;
  std::unique_ptr<Rep> rep_;
};

// Validation used by Engine::Create, exposed for tests. Throws
// std::invalid_argument with a message naming the field.
Config ValidateConfig(const Config& config);

}  // namespace timelog

#endif  // TIMELOG_ENGINE_H_
