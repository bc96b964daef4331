// The engine's published state: the current Version under `mu`, removal
// publishing, the drop report and the counters.
//
// Thread safety
// -------------
// * `mu` guards `current` (the published Version). Every change readers can
//   see is published by swapping `current` under `mu`; readers copy the
//   pointer (and the memtable counters) under `mu`, which makes each snapshot
//   consistent: a delete or seal is either entirely before or after it.
// * The writer-only state (the active memtable and its counters) lives in
//   Writer (writer.h): touched only by the single writer thread.
// * `maint_mu` (Compaction, compaction.h) serialises maintenance work
//   (worker, Flush, MaintStep): only its holder removes runs from the version,
//   so a maintenance step may read the version, work without `mu`, and
//   publish its result by replacing exactly the runs it consumed. The writer
//   only ever adds sealed runs, tombstones and memtables, which the step
//   carries over.
// * `wake_mu` (Worker, worker.h) guards running/stop/wake/thread and pairs
//   with wake_cv (worker wakeups) and room_cv (writers waiting for
//   backpressure relief).
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
// * The locks are Mutex (mutex.h) and what each guards is annotated
//   (GUARDED_BY, REQUIRES, EXCLUDES: thread_annotations.h); a clang build with
//   -DTIMELOG_THREAD_SAFETY=ON checks them. The lock order is kept by hand
//   as above: the locks live in different objects, and the one order stated
//   in code (mu ACQUIRED_AFTER publish_mu) is checked only by clang's
//   -Wthread-safety-beta.
// * fork: between Engine::PrepareFork and Engine::AfterFork* the forking
//   thread holds maint_mu, publish_mu, mu and wake_mu and the worker is
//   joined; Worker's `fork_resume` (writer-only) remembers whether to restart
//   it.

#ifndef TIMELOG_SRC_ENGINE_STATE_H_
#define TIMELOG_SRC_ENGINE_STATE_H_

#include <atomic>
#include <utility>
#include <vector>

#include "alloc.h"
#include "mutex.h"
#include "read_state.h"
#include "thread_annotations.h"
#include "timelog/engine.h"
#include "version.h"

namespace timelog {

// Statistics. relaxed everywhere: they are counters nobody synchronises on.
struct EngineCounters {
  std::atomic<uint64_t> seals_total{0};
  std::atomic<uint64_t> ooo_budget_hits{0};
  std::atomic<uint64_t> backpressure_waits{0};
  std::atomic<uint64_t> flushes_total{0};
  std::atomic<uint64_t> compactions_total{0};
  std::atomic<uint64_t> compaction_retries{0};
  std::atomic<uint64_t> windows_dropped{0};
  std::atomic<uint64_t> records_dropped{0};
};

class EngineState {
 public:
  // Derives the sizes from `cfg` (already validated) and publishes the empty
  // first version.
  explicit EngineState(const Config& cfg);
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;

  const Config& cfg() const { return cfg_; }
  size_t page_rows() const { return page_rows_; }
  size_t mem_cap() const { return mem_cap_; }
  size_t ooo_cap() const { return ooo_cap_; }
  EngineCounters& counters() { return counters_; }
  const EngineCounters& counters() const { return counters_; }

  // kBusy iff sealed runs waiting for flush are >= sealed_max_runs.
  WriteResult Pressure() const {
    // relaxed: an advisory check; the value is re-read under the lock by waits.
    return sealed_count_.load(std::memory_order_relaxed) >= cfg_.sealed_max_runs
               ? WriteResult::kBusy
               : WriteResult::kOk;
  }

  VersionPtr Current() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return current_;
  }

  // The current version and its memtable's published row counts, read
  // together under mu (the consistent cut a snapshot takes), without entering
  // the reader count. For Engine::VisitHandles.
  VersionPtr CurrentCut(size_t* rows, size_t* ooo) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    *rows = current_->mem->rows();
    *ooo = current_->mem->ooo_rows();
    return current_;
  }

  // Copies the current version, lets `f` change the copy, publishes it.
  template <class F>
  void Mutate(F&& f) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    auto nv = std::make_shared<Version>(*current_);
    f(*nv);
    // relaxed: readers of sealed_count only need an eventually-fresh hint;
    // the authoritative value is current->sealed under mu.
    sealed_count_.store(nv->sealed.size(), std::memory_order_relaxed);
    current_ = std::move(nv);
  }

  // Publishes a change that physically removes `dropped` and reports them
  // through the drop callback as one step under publish_mu.
  // REQUIRES: mu, wake_mu and publish_mu not held.
  template <class F>
  void PublishRemoval(F&& f, const std::vector<uint64_t>& dropped)
      EXCLUDES(publish_mu_, mu_) {
    // Two-phase report: take the receiver's room for the handles first, so
    // that a failure to allocate it abandons the removal (nothing published,
    // as if Mutate had thrown) instead of losing the handles after it.
    void* token = nullptr;
    if (!dropped.empty() && cfg_.drop_reserve != nullptr) {
      token = cfg_.drop_reserve(cfg_.drop_ctx, dropped.size());
      if (token == nullptr) {
        ThrowAllocationError("the queue node for dropped records",
                             dropped.size(), sizeof(uint64_t));
      }
    }
    MutexLock lock(&publish_mu_);
    try {
      Mutate(std::forward<F>(f));
    } catch (...) {
      if (token != nullptr) cfg_.drop_cancel(cfg_.drop_ctx, token);
      throw;
    }
    Report(dropped, token);
  }

  // ---- reader entry (defined in read_state.cc, next to the read state it
  // builds).
  // A read state of the current version. Enters the reader count
  // (`readers_inside`); the caller must call LeaveRead() once it no longer
  // reads through *st or anything built from it (not needed if this throws).
  void InitReadState(ReadState* st) const EXCLUDES(mu_);
  // Reader entry without a read state: the current version and its
  // memtable's published row counts, read together under mu (what a
  // consistent read needs), entering the reader count like InitReadState.
  // The caller must call LeaveRead() once it no longer reads through it.
  VersionPtr EnterRead(size_t* rows, size_t* ooo) const EXCLUDES(mu_);
  void LeaveRead() const;

  // ---- fork (Engine::PrepareFork / AfterFork*).
  Mutex& mu() const RETURN_CAPABILITY(mu_) { return mu_; }
  // Also Engine::VisitHandles, which holds it for its whole walk.
  Mutex& publish_mu() const RETURN_CAPABILITY(publish_mu_) {
    return publish_mu_;
  }
  // Waits until no engine reader call is past `mu`. REQUIRES: mu held (so
  // none can enter).
  void WaitForReadersToLeave() const REQUIRES(mu_);

 private:
  // Invokes the drop callback. REQUIRES: mu and wake_mu not held; called
  // through PublishRemoval (publish_mu held).
  // `token` is the drop_reserve reservation for `dropped` (or nullptr).
  void Report(const std::vector<uint64_t>& dropped, void* token)
      REQUIRES(publish_mu_);

  const Config cfg_;
  const size_t page_rows_;
  const size_t mem_cap_;
  const size_t ooo_cap_;

  // Published state.
  mutable Mutex mu_ ACQUIRED_AFTER(publish_mu_);
  // Removal publish + report (see the header comment); VisitHandles pauses it.
  mutable Mutex publish_mu_;
  VersionPtr current_ GUARDED_BY(mu_);
  // Mirror of current->sealed.size() for the lock-free pressure check.
  std::atomic<size_t> sealed_count_{0};
  // Engine reader calls (Count, Range, GetSnapshot, GetStats, ...) between
  // InitReadState and LeaveRead. Past `mu` they still take the memtable's and
  // the version's cache mutexes; Engine::PrepareFork holds mu (so none can
  // enter) and waits for this to reach 0 (so none is inside one at the fork).
  mutable std::atomic<size_t> readers_inside_{0};

  EngineCounters counters_;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_ENGINE_STATE_H_
