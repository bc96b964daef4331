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
// * Writer methods (Append*, AdoptSortedBatch, Delete, Cutoff, Flush,
//   MaintStep, Compact, StartMaintenance, StopMaintenance, WaitForRoom,
//   CollectHandles, and destruction) must be serialised by the caller: one
//   writer at a time. (The Python binding serialises them with a FIFO
//   FairLock per log, fair_lock.h, together with the GIL.)
// * Reader methods (GetSnapshot and everything on Snapshot / Cursor, Stats)
//   may be called from any number of threads concurrently with the writer and
//   with the maintenance worker. A Snapshot is immutable after creation; a
//   Cursor belongs to one thread at a time.
// * The maintenance worker (background mode) runs flush/compaction on its own
//   thread; it never touches the active memtable.
// * The drop callback runs on whichever thread published the removal (writer
//   or worker), holding only the engine's publish lock (see VisitHandles). It
//   must not call back into the engine's writer methods nor VisitHandles.
// * VisitHandles may run on any thread concurrently with the worker and with
//   readers; it needs the caller to be serialised with the writer (the Python
//   binding: the GIL). See its comment for the exactly-once guarantee.
// * Snapshots, cursors and page spans hold shared ownership of everything they
//   read, so they remain valid after the Engine is destroyed.
// * fork(): PrepareFork, AfterForkParent and AfterForkChild are writer
//   methods: the caller serialises them with the other writer methods and
//   holds that serialisation across the whole sequence, so no other writer
//   call (WaitForRoom included) is in flight at the fork. The thread that
//   forks calls PrepareFork right before fork() and exactly one of the other
//   two right after it: AfterForkParent in the parent (also if fork() failed),
//   AfterForkChild in the child. In between it calls nothing else on this
//   engine, and it must not hold anything a reader thread or the maintenance
//   worker waits for (they wait for nothing outside the engine).
//   PrepareFork stops the worker at a safe point (it finishes the step it is
//   in) and joins it, waits for the Engine reader calls in progress, then
//   holds every engine lock until the After* call. So the child inherits no
//   lock held by a thread it does not have and no half-published state; both
//   After* calls release the locks and restart the worker if it was running,
//   and the child's engine is a complete, independent copy.
//   Other threads may keep calling the Engine's reader methods (GetSnapshot,
//   Count, Range, GetStats, ...; they block between PrepareFork and the
//   After* call) and Cursor::Next / NextColumns (they take no lock).
//   Snapshot methods (and Cursor::Reversed) are the exception: they take a
//   lock inside the snapshot's version, which PrepareFork cannot see, so no
//   other thread may be inside one at the fork (the Python binding guarantees
//   it: its reads hold the GIL, and so does the forking thread; the one
//   snapshot call it makes with the GIL released, CountBy, passes a gate that
//   its fork handler closes and waits on before PrepareFork).
//   Snapshots, cursors and page spans taken before the fork stay valid on
//   both sides. If the worker cannot be restarted (thread creation fails),
//   the engine is left in disabled mode; MaintenanceRunning() tells.

#ifndef TIMELOG_ENGINE_H_
#define TIMELOG_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "timelog/options.h"
#include "timelog/stats.h"
#include "timelog/types.h"

namespace timelog {

struct Version;   // internal
class Memtable;   // internal
class ReadState;  // internal

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
  std::unique_ptr<Cursor> Range(int64_t lo, int64_t hi,
                                bool reverse = false) const;
  // Columnar gather: writes the visible records of [lo, hi] in read order
  // (as Range(lo, hi, reverse) would return them) to ts[0..) and
  // handles[0..), at most cap rows; returns how many. Either array may be
  // null (that column is skipped). Count(lo, hi) rows is the whole range.
  size_t Gather(int64_t lo, int64_t hi, bool reverse, int64_t* ts,
                uint64_t* handles, size_t cap) const;
  // Visible records per time bucket, computed from binary searches over the
  // sources (no record is visited). Bucket k is
  //   [start_k, start_k + every) intersected with [lo, hi], where
  //   start_k = origin + (floor((lo - origin) / every) + k) * every,
  // k = 0 .. nbuckets - 1; floor rounds toward -infinity. counts[k] gets the
  // number of records in bucket k; if starts is not null, starts[k] gets
  // start_k, raised to kMinTs for a first bucket that begins below int64.
  // Throws std::invalid_argument unless every > 0 and nbuckets ==
  // BucketCount(lo, hi, origin, every). O(s * (b + t) * log n) for s sources,
  // b non-empty buckets of a source and t applicable tombstones.
  void CountBy(int64_t lo, int64_t hi, int64_t origin, int64_t every,
               int64_t* starts, uint64_t* counts, size_t nbuckets) const;
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
// Cursors are recycled: a destroyed cursor's storage (the object and its
// internal state, with every reference to the snapshot's data released) is
// kept by the destroying thread for the next cursor made on it, a few per
// thread, so making a cursor usually allocates nothing. That cache is
// per-thread and tied to no Engine (thread safety: none needed; see
// snapshot.cc), so a cursor may be destroyed on any thread, after its Engine.
class Cursor {
 public:
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  // Fills out[0..cap) with the next records; returns how many (0 = done).
  size_t Next(Record* out, size_t cap);
  // The same into columns: ts[0..n) and handles[0..n); either may be null
  // (that column is not written).
  size_t NextColumns(int64_t* ts, uint64_t* handles, size_t cap);
  // A new cursor over the same snapshot and range in the opposite direction,
  // from its start (however far this one has advanced). O(s * log n).
  std::unique_ptr<Cursor> Reversed() const;
  // Visible records not yet returned. O(1).
  uint64_t Remaining() const { return remaining_; }

  // Storage from / back to the calling thread's cursor cache.
  static void operator delete(void* p, size_t size) noexcept;
  struct Rep;  // internal (snapshot.cc); named by the cursor cache

 private:
  friend std::unique_ptr<Cursor> NewCursor(ReadState** st);
  friend void OpenCursor(Cursor* c, int64_t lo, int64_t hi, bool reverse);
  static void* operator new(size_t size);
  Cursor();
  Rep* rep_;  // owned: ~Cursor gives it back to the thread's cursor cache
  uint64_t remaining_ = 0;
};

// Number of buckets [origin + k * every, origin + (k + 1) * every) that
// [lo, hi] touches (see Snapshot::CountBy), saturated at UINT64_MAX (every = 1
// over the whole int64 range is 2**64 buckets). 0 if lo > hi. Throws
// std::invalid_argument if every <= 0. Exact integer arithmetic, no overflow.
uint64_t BucketCount(int64_t lo, int64_t hi, int64_t origin, int64_t every);

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
  // Commits all n records or none: the batch goes into the memtable only if
  // it fits (sealing the memtable first if needed), else it becomes its own
  // sealed run, built before anything is published. On an exception
  // (std::bad_alloc / AllocationError) nothing of the batch is committed.
  WriteResult AppendBatch(const int64_t* ts, const uint64_t* handles, size_t n);
  // If ts is sorted and large (>= kAdoptMinRecords), takes the two vectors'
  // storage as a sealed run without copying (after sealing the memtable) and
  // returns true with *result set; otherwise returns false and leaves the
  // vectors untouched (use AppendBatch). All or nothing: on an exception the
  // vectors are intact and nothing is committed.
  // REQUIRES: ts->size() == h->size().
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
  // Idempotent. Start in disabled mode switches the engine to background. If
  // the thread cannot be made (std::system_error, std::bad_alloc) it throws
  // and the engine stays in disabled mode.
  void StartMaintenance();
  // Idempotent; joins the worker. Afterwards the engine is in disabled mode.
  void StopMaintenance();
  bool MaintenanceRunning() const;

  // ---- fork support (see "Thread safety" above for who calls these, when).
  // Before fork(): joins the worker (remembering whether it ran) and takes
  // every engine lock; the engine must then not be used until one of the
  // After* calls below. Never throws.
  void PrepareFork() noexcept;
  // After fork(), in the parent: releases the locks and restarts the worker
  // if PrepareFork stopped it. Never throws.
  void AfterForkParent() noexcept;
  // After fork(), in the child: re-creates the condition variables, releases
  // the locks and restarts the worker if PrepareFork stopped it. Never throws.
  void AfterForkChild() noexcept;

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
  std::unique_ptr<Cursor> Range(int64_t lo, int64_t hi,
                                bool reverse = false) const;
  Stats GetStats() const;
  // Checks the structure's invariants on the current version (runs sorted and
  // their search index exact, L1 windows sorted, disjoint and holding only
  // their own records, tombstone sequence bookkeeping, memtable bounds);
  // returns "" or the first violation. Reader method, O(records): for tests.
  std::string CheckInvariants() const;

  // ---- teardown helpers
  // Stops maintenance, then appends every handle still physically stored
  // (visible or tombstoned, not yet reported) to *out. The engine must not be
  // written to afterwards except by destruction. Reserves *out before it
  // changes anything: on std::bad_alloc the engine (and its worker) is as it
  // was and *out is unchanged.
  void CollectHandles(std::vector<uint64_t>* out);

  // ---- garbage-collector support
  // Calls visit(ctx, ...) on every handle the engine physically stores
  // (visible or tombstoned, not yet reported through the drop callback):
  // active memtable (in-order and out-of-order rows), sealed runs, L0
  // segments and L1 window runs, each stored handle exactly once (a handle
  // stored k times is visited k times). Then, if `then` is not null, calls
  // then(ctx) once, still under the same pause, so that the caller can visit
  // where the drop callback put earlier removals (e.g. a RetireStack).
  // Returns the first non-zero value of visit/then (the rest is skipped), else
  // 0.
  //
  // Exactly once, also against a running worker: the call holds the publish
  // lock. Every removal is published and reported through the drop callback
  // inside that lock, so while VisitHandles runs no handle is between "gone
  // from the version" and "handed to the drop callback": each is either
  // visited here or was reported before the call (and so is where `then`
  // looks). The worker keeps computing while paused; its next publish waits
  // until the walk ends. The lock is never held while waiting for anything
  // else, so this cannot deadlock with a worker or with a writer running on
  // another thread without the caller's lock (the Python binding calls this
  // with the GIL held; no engine thread ever waits for the GIL).
  // Does not allocate and does not throw. Records appended concurrently by a
  // writer on another thread are visited iff their commit was published before
  // the walk read the memtable counters.
  // REQUIRES: the engine's writer is not inside a writer method on the
  // calling thread; the callbacks do not call into the engine.
  int VisitHandles(HandleVisitFn visit, void* ctx,
                   PausedFn then = nullptr) const noexcept;

  const Config& config() const { return config_; }

 private:
  explicit Engine(const Config& config);
  struct Rep;
  Config config_;
  std::unique_ptr<Rep> rep_;
};

}  // namespace timelog

#endif  // TIMELOG_ENGINE_H_
