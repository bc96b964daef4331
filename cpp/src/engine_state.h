// The engine's internal state and the operations shared by the write path
// (seal), the maintenance path (flush, compaction) and the worker.
//
// Thread safety
// -------------
// * `mu` guards `current` (the published Version). Every change readers can
//   see is published by swapping `current` under `mu`; readers copy the
//   pointer (and the memtable counters) under `mu`, which makes each snapshot
//   consistent: a delete or seal is either entirely before or after it.
// * Writer-only fields (mem, n, on, last_ts, ooo_min) are touched only by the
//   single writer thread (REQUIRES: caller is the writer).
// * `maint_mu` serialises maintenance work (worker, Flush, MaintStep): only
//   its holder removes runs from the version, so a maintenance step may read
//   the version, work without `mu`, and publish its result by replacing
//   exactly the runs it consumed. The writer only ever adds sealed runs,
//   tombstones and memtables, which the step carries over.
// * `wake_mu` guards running/stop/wake/worker and pairs with wake_cv (worker
//   wakeups) and room_cv (writers waiting for backpressure relief).
// * `publish_mu` makes "publish a removal + report its handles" one step:
//   every Mutate that removes records runs with its Report inside
//   PublishRemoval, and Engine::VisitHandles holds publish_mu for its whole
//   walk, so it sees each handle either stored or already reported, never
//   in between (and never both). Nobody waits for anything else while holding
//   it (the drop callback only queues).
// * Lock order: maint_mu -> publish_mu -> mu, and maint_mu -> wake_mu (a
//   flush notifies backpressure waiters); mu and wake_mu are never held
//   together, and wake_mu is never taken under publish_mu, except by
//   Engine::PrepareFork, which takes all four as maint_mu -> publish_mu -> mu
//   -> wake_mu. That cannot deadlock: every other holder of publish_mu, mu or
//   wake_mu holds at most the locks before it in that order (taken first) and
//   releases it without waiting for a later one. The drop callback is invoked
//   with publish_mu held (and maint_mu when the removal was done by
//   maintenance), never with mu or wake_mu.
// * fork: between Engine::PrepareFork and Engine::AfterFork* the forking
//   thread holds maint_mu, publish_mu, mu and wake_mu and the worker is
//   joined; `fork_resume` (writer-only) remembers whether to restart it.

#ifndef TIMELOG_SRC_ENGINE_STATE_H_
#define TIMELOG_SRC_ENGINE_STATE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "alloc.h"
#include "read_state.h"
#include "timelog/engine.h"
#include "version.h"

namespace timelog {

// A memtable with more marks than this is sealed before the next overlapping
// delete, bounding the per-snapshot cost of applying marks.
constexpr size_t kMaxMemMarks = 64;
// A window whose runs overlap in time is merged once it has more runs than
// this; disjoint runs (in-order data) are merged beyond kMaxDisjointRuns.
constexpr size_t kMaxWindowRuns = 4;
constexpr size_t kMaxDisjointRuns = 32;

class EngineState {
 public:
  Config cfg;
  size_t page_rows = 0;
  size_t mem_cap = 0;
  size_t ooo_cap = 0;

  // Published state.
  mutable std::mutex mu;
  // Removal publish + report (see the header comment); VisitHandles pauses it.
  mutable std::mutex publish_mu;
  VersionPtr current;
  // Mirror of current->sealed.size() for the lock-free pressure check.
  std::atomic<size_t> sealed_count{0};
  // Engine reader calls (Count, Range, GetSnapshot, GetStats, ...) between
  // InitReadState and LeaveRead. Past `mu` they still take the memtable's and
  // the version's cache mutexes; Engine::PrepareFork holds mu (so none can
  // enter) and waits for this to reach 0 (so none is inside one at the fork).
  mutable std::atomic<size_t> readers_inside{0};

  // Writer-only state.
  std::shared_ptr<Memtable> mem;
  size_t n = 0;
  size_t on = 0;
  int64_t last_ts = kMinTs;
  int64_t ooo_min = kMaxTs;

  // Maintenance.
  std::mutex maint_mu;
  mutable std::mutex wake_mu;
  std::condition_variable wake_cv;
  std::condition_variable room_cv;
  bool running = false;
  bool stop = false;
  bool wake = false;
  std::thread worker;
  // Writer-only: PrepareFork stopped a running worker; the After* hooks
  // restart it.
  bool fork_resume = false;
  std::atomic<bool> compact_requested{false};
  std::atomic<int64_t> window_size{0};
  // Adaptive window state (maint_mu).
  double density_ema = 0.0;
  uint32_t flushes_seen = 0;

  // Statistics. relaxed everywhere: they are counters nobody synchronises on.
  std::atomic<uint64_t> seals_total{0};
  std::atomic<uint64_t> ooo_budget_hits{0};
  std::atomic<uint64_t> backpressure_waits{0};
  std::atomic<uint64_t> flushes_total{0};
  std::atomic<uint64_t> compactions_total{0};
  std::atomic<uint64_t> compaction_retries{0};
  std::atomic<uint64_t> windows_dropped{0};
  std::atomic<uint64_t> records_dropped{0};

  VersionPtr Current() const {
    std::lock_guard<std::mutex> lock(mu);
    return current;
  }

  // Copies the current version, lets `f` change the copy, publishes it.
  template <class F>
  void Mutate(F&& f) {
    std::lock_guard<std::mutex> lock(mu);
    auto nv = std::make_shared<Version>(*current);
    f(*nv);
    // relaxed: readers of sealed_count only need an eventually-fresh hint;
    // the authoritative value is current->sealed under mu.
    sealed_count.store(nv->sealed.size(), std::memory_order_relaxed);
    current = std::move(nv);
  }

  // Publishes a change that physically removes `dropped` and reports them
  // through the drop callback as one step under publish_mu.
  // REQUIRES: mu, wake_mu and publish_mu not held.
  template <class F>
  void PublishRemoval(F&& f, const std::vector<uint64_t>& dropped) {
    // Two-phase report: take the receiver's room for the handles first, so
    // that a failure to allocate it abandons the removal (nothing published,
    // as if Mutate had thrown) instead of losing the handles after it.
    void* token = nullptr;
    if (!dropped.empty() && cfg.drop_reserve != nullptr) {
      token = cfg.drop_reserve(cfg.drop_ctx, dropped.size());
      if (token == nullptr) {
        ThrowAllocationError("the queue node for dropped records", dropped.size(),
                             sizeof(uint64_t));
      }
    }
    std::lock_guard<std::mutex> lock(publish_mu);
    try {
      Mutate(std::forward<F>(f));
    } catch (...) {
      if (token != nullptr) cfg.drop_cancel(cfg.drop_ctx, token);
      throw;
    }
    Report(dropped, token);
  }

  // Reader entry: a read state of the current version. Enters the reader
  // count (`readers_inside`); the caller must call LeaveRead() once it no
  // longer reads through *st or anything built from it (not needed if this
  // throws).
  void InitReadState(ReadState* st) const;
  // Reader entry without a read state: the current version and its
  // memtable's published row counts, read together under mu (what a
  // consistent read needs), entering the reader count like InitReadState.
  // The caller must call LeaveRead() once it no longer reads through it.
  VersionPtr EnterRead(size_t* rows, size_t* ooo) const;
  void LeaveRead() const;

  // Writer: turns the active memtable into a sealed run (no-op if empty).
  void Seal();
  // Writer: commits a batch as its own sealed run (after sealing the
  // memtable), stably sorted. All or nothing: on an exception (allocation
  // failure) nothing of the batch is committed and the engine is unchanged.
  void AddBatchRun(const int64_t* ts, const uint64_t* h, size_t n);

  // REQUIRES: maint_mu held. Flushes the oldest sealed run into L0.
  void FlushOne();
  // REQUIRES: maint_mu held. One unit of maintenance; false if idle.
  bool Step();
  void WorkerLoop();
  void Wake();
  // Invokes the drop callback. REQUIRES: mu and wake_mu not held; called
  // through PublishRemoval (publish_mu held).
  // `token` is the drop_reserve reservation for `dropped` (or nullptr).
  void Report(const std::vector<uint64_t>& dropped, void* token);
  void NotifyRoom();

 private:
  void CompactL0(const VersionPtr& v);
  bool DropCovered(const VersionPtr& v);
  bool RewriteWindows(const VersionPtr& v, bool force);
  void ObserveDensity(const Run& run);
  void GcTombstones(Version& v);
};

}  // namespace timelog

#endif  // TIMELOG_SRC_ENGINE_STATE_H_
