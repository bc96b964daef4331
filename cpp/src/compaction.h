// Compaction: flush of sealed runs into L0, L0 -> L1 compaction, covered-run
// drops, window rewrites and tombstone GC.
//
// Thread safety: `maint_mu` serialises maintenance work (worker, Flush,
// MaintStep): only its holder removes runs from the version, so a step may
// read the version, work without `mu`, and publish its result by replacing
// exactly the runs it consumed (see engine_state.h, which also gives the lock
// order maint_mu -> publish_mu -> mu and maint_mu -> wake_mu).
// compact_requested is atomic: set by any thread, read and cleared by steps.

#ifndef TIMELOG_SRC_COMPACTION_H_
#define TIMELOG_SRC_COMPACTION_H_

#include <atomic>
#include <cstddef>

#include "engine_state.h"
#include "mutex.h"
#include "thread_annotations.h"
#include "version.h"
#include "window_sizer.h"

namespace timelog {

// A window whose runs overlap in time is merged once it has more runs than
// this; disjoint runs (in-order data) are merged beyond kMaxDisjointRuns.
constexpr size_t kMaxWindowRuns = 4;
constexpr size_t kMaxDisjointRuns = 32;

class Worker;

class Compaction {
 public:
  Compaction(EngineState* state, Worker* worker)
      : state_(*state), worker_(*worker), sizer_(state->cfg(), &maint_mu_) {}
  Compaction(const Compaction&) = delete;
  Compaction& operator=(const Compaction&) = delete;

  // Takes maint_mu and flushes every sealed run to L0 (Engine::Flush, after
  // the writer sealed the memtable).
  void FlushAll() EXCLUDES(maint_mu_);
  // Takes maint_mu and performs one unit of work; false if idle.
  bool LockedStep() EXCLUDES(maint_mu_);
  // Asks the following steps to compact everything (Engine::Compact).
  void RequestCompact() {
    // relaxed: the flag is only a hint, re-read under maint_mu by Step().
    compact_requested_.store(true, std::memory_order_relaxed);
  }
  int64_t window_size() const { return sizer_.window_size(); }

  // For Engine::PrepareFork / AfterFork*.
  Mutex& maint_mu() RETURN_CAPABILITY(maint_mu_) { return maint_mu_; }

 private:
  // Flushes the oldest sealed run into L0.
  void FlushOne() REQUIRES(maint_mu_);
  // One unit of maintenance; false if idle.
  bool Step() REQUIRES(maint_mu_);
  void CompactL0(const VersionPtr& v) REQUIRES(maint_mu_);
  bool DropCovered(const VersionPtr& v) REQUIRES(maint_mu_);
  bool RewriteWindows(const VersionPtr& v, bool force) REQUIRES(maint_mu_);

  EngineState& state_;
  Worker& worker_;
  // Taken before publish_mu / mu (EngineState) and wake_mu (Worker).
  Mutex maint_mu_;
  WindowSizer sizer_;  // its adaptive state is guarded by maint_mu_
  std::atomic<bool> compact_requested_{false};
};

// Advances the runs' applied_seq past tombstones that cannot touch them and
// drops the tombstones every run has applied. Runs on a version copy inside
// Mutate (so under mu).
void GcTombstones(Version& v);

}  // namespace timelog

#endif  // TIMELOG_SRC_COMPACTION_H_
