// Engine: creation, the writer methods' entry points, the worker's lifecycle,
// fork hooks, reads and stats.

#include "timelog/engine.h"

#include <algorithm>
#include <stdexcept>

#include "compaction.h"
#include "engine_state.h"
#include "invariants.h"
#include "mutex.h"
#include "read_state.h"
#include "thread_annotations.h"
#include "version.h"
#include "worker.h"
#include "writer.h"

namespace timelog {

// The engine's parts, leveldb-style: the published state, the maintenance
// (compaction) and its worker thread, and the writer. They refer to each
// other by reference; none uses another in its constructor.
struct Engine::Rep {
  explicit Rep(const Config& c)
      : state(c),
        compaction(&state, &worker),
        worker(&state, &compaction),
        writer(&state, &worker) {}

  // The fork hooks (engine.h). They hold every engine lock from PrepareFork
  // to the After* call, across functions, which the analysis cannot follow.
  void PrepareFork() noexcept NO_THREAD_SAFETY_ANALYSIS;
  void AfterForkParent() noexcept NO_THREAD_SAFETY_ANALYSIS;
  void AfterForkChild() noexcept NO_THREAD_SAFETY_ANALYSIS;

  EngineState state;
  Compaction compaction;
  Worker worker;
  Writer writer;
};

Engine::Engine(const Config& config)
    : config_(config), rep_(new Rep(config_)) {}

std::unique_ptr<Engine> Engine::Create(const Config& config) {
  Config c = ValidateConfig(config);
  std::unique_ptr<Engine> e(new Engine(c));
  if (c.maintenance == MaintenanceMode::kBackground) e->StartMaintenance();
  return e;
}

Engine::~Engine() { StopMaintenance(); }

// ------------------------------------------------------------------ writes

WriteResult Engine::Append(int64_t ts, uint64_t handle) {
  return rep_->writer.Append(ts, handle);
}

WriteResult Engine::AppendBatch(const int64_t* ts, const uint64_t* handles,
                                size_t n) {
  return rep_->writer.AppendBatch(ts, handles, n);
}

bool Engine::AdoptSortedBatch(std::vector<int64_t>* ts,
                              std::vector<uint64_t>* h, WriteResult* result) {
  return rep_->writer.AdoptSortedBatch(ts, h, result);
}

WriteResult Engine::Delete(int64_t lo, int64_t hi) {
  return rep_->writer.Delete(lo, hi);
}

WriteResult Engine::Cutoff(int64_t t) {
  if (t == kMinTs) return rep_->state.Pressure();
  return Delete(kMinTs, t - 1);
}

// ------------------------------------------------------------ backpressure

bool Engine::UnderPressure() const {
  return rep_->state.Pressure() == WriteResult::kBusy;
}

bool Engine::WaitForRoom(uint32_t timeout_ms) {
  return rep_->worker.WaitForRoom(timeout_ms);
}

// ------------------------------------------------------------- maintenance

void Engine::Flush() {
  rep_->writer.Seal();
  rep_->compaction.FlushAll();
}

bool Engine::MaintStep() {
  if (rep_->worker.Running()) {
    throw std::logic_error(
        "maint_step() is not available while background maintenance runs");
  }
  return rep_->compaction.LockedStep();
}

void Engine::Compact() {
  rep_->compaction.RequestCompact();
  rep_->worker.Wake();
}

void Engine::StartMaintenance() { rep_->worker.Start(); }

void Engine::StopMaintenance() { rep_->worker.Stop(); }

bool Engine::MaintenanceRunning() const { return rep_->worker.Running(); }

// -------------------------------------------------------------------- fork

void Engine::PrepareFork() noexcept { rep_->PrepareFork(); }

void Engine::AfterForkParent() noexcept { rep_->AfterForkParent(); }

void Engine::AfterForkChild() noexcept { rep_->AfterForkChild(); }

void Engine::Rep::PrepareFork() noexcept {
  worker.StopForFork();
  // Take every lock, in the documented order maint_mu -> publish_mu -> mu ->
  // wake_mu (engine_state.h), so that at the fork no reader (mu), no handle
  // walk (publish_mu), no MaintenanceRunning() call (wake_mu)
  // and no maintenance step (maint_mu; none can run now, the worker is joined
  // and the writer is this thread) is inside a critical section: the child
  // would otherwise inherit a lock owned by a thread it does not have.
  compaction.maint_mu().Lock();
  state.publish_mu().Lock();  // no removal publish or handle walk in flight
  state.mu().Lock();
  state.WaitForReadersToLeave();
  worker.wake_mu().Lock();
}

void Engine::Rep::AfterForkParent() noexcept {
  // Reverse order of PrepareFork; nothing changed while they were held.
  worker.wake_mu().Unlock();
  state.mu().Unlock();
  state.publish_mu().Unlock();
  compaction.maint_mu().Unlock();
  worker.ResumeAfterFork();
}

void Engine::Rep::AfterForkChild() noexcept {
  // The child has one thread, this one, and it owns the four locks: POSIX
  // keeps a mutex locked by the forking thread valid and owned by it in the
  // child, so plain unlocks release them (the pthread_atfork pattern).
  // The condition variables are re-created in place instead (see
  // Worker::RenewCondVarsAfterFork).
  worker.RenewCondVarsAfterFork();
  worker.wake_mu().Unlock();
  state.mu().Unlock();
  state.publish_mu().Unlock();
  compaction.maint_mu().Unlock();
  worker.ResumeAfterFork();
}

// ------------------------------------------------------------------ reads

namespace {

// Leaves the reader count at the end of an engine reader call (see
// EngineState::readers_inside). Construct it right after InitReadState.
class LeaveReadOnExit {
 public:
  explicit LeaveReadOnExit(const EngineState& r) : r_(r) {}
  ~LeaveReadOnExit() { r_.LeaveRead(); }
  LeaveReadOnExit(const LeaveReadOnExit&) = delete;
  LeaveReadOnExit& operator=(const LeaveReadOnExit&) = delete;

 private:
  const EngineState& r_;
};

// Runs f on a read state of the current version, built on the stack.
template <class F>
auto OnCurrent(const EngineState& r, F&& f) {
  ReadState st;
  r.InitReadState(&st);
  LeaveReadOnExit leave(r);
  return f(st);
}

}  // namespace

std::shared_ptr<const Snapshot> Engine::GetSnapshot() const {
  std::shared_ptr<Snapshot> s(new Snapshot());
  rep_->state.InitReadState(&s->rep_->st);
  rep_->state.LeaveRead();
  return s;
}

uint64_t Engine::Count(int64_t lo, int64_t hi) const {
  return OnCurrent(rep_->state,
                   [&](const ReadState& st) { return st.Count(lo, hi); });
}

std::optional<int64_t> Engine::Ceil(int64_t t) const {
  return OnCurrent(rep_->state,
                   [&](const ReadState& st) { return st.Ceil(t); });
}

std::optional<int64_t> Engine::Floor(int64_t t) const {
  return OnCurrent(rep_->state,
                   [&](const ReadState& st) { return st.Floor(t); });
}

// Point reads skip the ReadState (memtable views) altogether: see EqualAt.
bool Engine::Contains(int64_t t) const {
  size_t rows, ooo;
  const EngineState& r = rep_->state;
  VersionPtr v = r.EnterRead(&rows, &ooo);
  LeaveReadOnExit leave(r);  // OooView takes the memtable's cache mutex
  return ContainsAt(*v, rows, ooo, r.page_rows(), t);
}

void Engine::Equal(int64_t t, std::vector<uint64_t>* out) const {
  size_t rows, ooo;
  const EngineState& r = rep_->state;
  VersionPtr v = r.EnterRead(&rows, &ooo);
  LeaveReadOnExit leave(r);  // OooView takes the memtable's cache mutex
  EqualAt(*v, rows, ooo, r.page_rows(), t, out);
}

std::unique_ptr<Cursor> Engine::Range(int64_t lo, int64_t hi,
                                      bool reverse) const {
  // The read state is built in place, in a recycled cursor (read_state.h).
  ReadState* st;
  std::unique_ptr<Cursor> c = NewCursor(&st);
  rep_->state.InitReadState(st);
  LeaveReadOnExit leave(rep_->state);
  OpenCursor(c.get(), lo, hi, reverse);
  return c;
}

std::string Engine::CheckInvariants() const {
  const EngineState& r = rep_->state;
  ReadState st;
  r.InitReadState(&st);
  LeaveReadOnExit leave(r);
  return timelog::CheckInvariants(st.version());
}

Stats Engine::GetStats() const {
  const EngineState& r = rep_->state;
  ReadState st;
  r.InitReadState(&st);
  LeaveReadOnExit leave(r);
  const Version& v = st.version();
  Stats s;
  s.records_estimate = st.Count(kMinTs, kMaxTs);
  s.min_ts = st.Ceil(kMinTs);
  s.max_ts = st.Floor(kMaxTs);
  s.tombstone_count = v.tomb_n;
  s.window_size = rep_->compaction.window_size();
  auto add_run = [&](const SourceRef& sr) {
    s.pages_total += sr.run->pages();
    s.records_physical += sr.run->size();
    s.engine_bytes += sr.run->bytes();
  };
  for (const WindowPtr& w : *v.l1) {
    ++s.windows_l1;
    s.engine_bytes += sizeof(Window) + w->runs.capacity() * sizeof(SourceRef);
    for (const SourceRef& sr : w->runs) {
      ++s.segments_l1;
      add_run(sr);
    }
  }
  for (const SourceRef& sr : v.l0) {
    ++s.segments_l0;
    add_run(sr);
  }
  for (const SourceRef& sr : v.sealed) add_run(sr);
  s.sealed_runs = v.sealed.size();
  s.active_records = st.mem_run() ? st.mem_run()->size() : 0;
  s.ooo_records = v.mem->ooo_rows();
  s.active_records += s.ooo_records;
  s.records_physical += v.mem->rows() + s.ooo_records;
  s.engine_bytes += v.mem->bytes() + v.tombs->cap() * sizeof(Tombstone);
  // relaxed: statistics counters (engine_state.h).
  const EngineCounters& c = r.counters();
  s.seals_total = c.seals_total.load(std::memory_order_relaxed);
  s.ooo_budget_hits = c.ooo_budget_hits.load(std::memory_order_relaxed);
  s.backpressure_waits = c.backpressure_waits.load(std::memory_order_relaxed);
  s.flushes_total = c.flushes_total.load(std::memory_order_relaxed);
  s.compactions_total = c.compactions_total.load(std::memory_order_relaxed);
  s.compaction_retries = c.compaction_retries.load(std::memory_order_relaxed);
  s.windows_dropped = c.windows_dropped.load(std::memory_order_relaxed);
  s.records_dropped = c.records_dropped.load(std::memory_order_relaxed);
  return s;
}

void Engine::CollectHandles(std::vector<uint64_t>* out) {
  const EngineState& r = rep_->state;
  {
    // Reserve first, so that a std::bad_alloc changes nothing (the worker
    // still runs). Only the writer (the caller) adds records; maintenance only
    // rewrites or drops them, so no later version stores more handles.
    VersionPtr v = r.Current();
    size_t stored = v->mem->rows() + v->mem->ooo_rows();
    for (const WindowPtr& w : *v->l1) {
      for (const SourceRef& sr : w->runs) stored += sr.run->size();
    }
    for (const SourceRef& sr : v->l0) stored += sr.run->size();
    for (const SourceRef& sr : v->sealed) stored += sr.run->size();
    out->reserve(out->size() + stored);
  }
  StopMaintenance();
  VersionPtr v = r.Current();
  auto add = [out](const SourceRef& sr) {
    out->insert(out->end(), sr.run->handles(),
                sr.run->handles() + sr.run->size());
  };
  for (const WindowPtr& w : *v->l1) {
    for (const SourceRef& sr : w->runs) add(sr);
  }
  for (const SourceRef& sr : v->l0) add(sr);
  for (const SourceRef& sr : v->sealed) add(sr);
  const Memtable& m = *v->mem;
  out->insert(out->end(), m.handles(), m.handles() + m.rows());
  out->insert(out->end(), m.ooo_handles(), m.ooo_handles() + m.ooo_rows());
}

int Engine::VisitHandles(HandleVisitFn visit, void* ctx,
                         PausedFn then) const noexcept {
  const EngineState& r = rep_->state;
  // Pauses every removal publish (see engine_state.h): nothing can move from
  // the version to the drop callback until the walk and `then` are done.
  MutexLock pause(&r.publish_mu());
  size_t rows, ooo;
  // The same consistent cut as a snapshot: the memtable counters are read
  // with the version they belong to.
  VersionPtr v = r.CurrentCut(&rows, &ooo);
  auto run = [&](const SourceRef& sr) {
    const size_t n = sr.run->size();
    return n == 0 ? 0 : visit(ctx, sr.run->handles(), n);
  };
  int rc = 0;
  for (const WindowPtr& w : *v->l1) {
    for (const SourceRef& sr : w->runs) {
      if ((rc = run(sr)) != 0) return rc;
    }
  }
  for (const SourceRef& sr : v->l0) {
    if ((rc = run(sr)) != 0) return rc;
  }
  for (const SourceRef& sr : v->sealed) {
    if ((rc = run(sr)) != 0) return rc;
  }
  const Memtable& m = *v->mem;
  if (rows != 0 && (rc = visit(ctx, m.handles(), rows)) != 0) return rc;
  if (ooo != 0 && (rc = visit(ctx, m.ooo_handles(), ooo)) != 0) return rc;
  return then != nullptr ? then(ctx) : 0;
}

}  // namespace timelog
