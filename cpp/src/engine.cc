// Engine: creation, the writer methods, the worker's lifecycle, fork hooks and stats.

#include "timelog/engine.h"

#include "invariants.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include "engine_state.h"
#include "read_state.h"
#include "version.h"

namespace timelog {

struct Engine::Rep : EngineState {};
using Rep = EngineState;

Engine::Engine(const Config& config) : config_(config), rep_(new Rep) {
  Rep& r = *rep_;
  r.cfg = config_;
  r.page_rows = std::max<size_t>(16, config_.target_page_bytes / 16);
  r.mem_cap = std::max<size_t>(64, config_.memtable_max_bytes / 16);
  r.ooo_cap = std::max<size_t>(1, config_.ooo_budget_bytes / 16);
  r.window_size.store(config_.window_size, std::memory_order_relaxed);
  auto v = std::make_shared<Version>();
  v->l1 = std::make_shared<const WindowList>();
  v->mem = std::make_shared<Memtable>(r.mem_cap, r.ooo_cap);
  v->marks = std::make_shared<const std::vector<MemMark>>();
  v->tombs = std::make_shared<TombLog>(16);
  r.mem = v->mem;
  r.current = std::move(v);
}

std::unique_ptr<Engine> Engine::Create(const Config& config) {
  Config c = ValidateConfig(config);
  std::unique_ptr<Engine> e(new Engine(c));
  if (c.maintenance == MaintenanceMode::kBackground) e->StartMaintenance();
  return e;
}

Engine::~Engine() { StopMaintenance(); }

// ------------------------------------------------------------------ writes

namespace {

inline WriteResult Pressure(const Rep& r) {
  // relaxed: an advisory check; the value is re-read under the lock by waits.
  return r.sealed_count.load(std::memory_order_relaxed) >=
                 r.cfg.sealed_max_runs
             ? WriteResult::kBusy
             : WriteResult::kOk;
}

// Rows of ts[0..n) that would go to the out-of-order buffer when appended
// after a row at `last`: those below the running maximum.
size_t LateRows(const int64_t* ts, size_t n, int64_t last) {
  size_t late = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ts[i] >= last) {
      last = ts[i];
    } else {
      ++late;
    }
  }
  return late;
}

}  // namespace

WriteResult Engine::Append(int64_t ts, uint64_t handle) {
  Rep& r = *rep_;
  if (ts >= r.last_ts) {
    if (r.n + r.on >= r.mem_cap) r.Seal();
    Memtable& m = *r.mem;
    m.ts()[r.n] = ts;
    m.handles()[r.n] = handle;
    r.last_ts = ts;
    ++r.n;
    r.mem->PublishRows(r.n);
  } else {
    if (r.on >= r.ooo_cap) {
      r.ooo_budget_hits.fetch_add(1, std::memory_order_relaxed);
      r.Seal();
      return Append(ts, handle);  // the fresh memtable takes it in order
    }
    if (r.n + r.on >= r.mem_cap) {
      r.Seal();
      return Append(ts, handle);
    }
    Memtable& m = *r.mem;
    m.ooo_ts()[r.on] = ts;
    m.ooo_handles()[r.on] = handle;
    r.ooo_min = std::min(r.ooo_min, ts);
    ++r.on;
    r.mem->PublishOoo(r.on);
  }
  return Pressure(r);
}

WriteResult Engine::AppendBatch(const int64_t* ts, const uint64_t* handles,
                                size_t n) {
  Rep& r = *rep_;
  if (n == 0) return Pressure(r);
  // All or nothing. The rows go into the memtable only if they all fit in it
  // (in-order rows and out-of-order rows each within their budget), perhaps
  // after sealing it first; then the loop below cannot seal, so it cannot
  // allocate or throw. A batch that does not fit even a fresh memtable, or a
  // badly disordered one, becomes its own sealed run, built before anything is
  // published. Either way an allocation failure commits nothing.
  const size_t late_now = LateRows(ts, n, r.last_ts);
  const bool fits_now = r.n + r.on + n <= r.mem_cap && r.on + late_now <= r.ooo_cap;
  if (!fits_now) {
    const size_t late_fresh = LateRows(ts, n, kMinTs);
    if (n > r.mem_cap || late_fresh > r.ooo_cap || (n >= 4096 && late_fresh * 8 > n)) {
      r.AddBatchRun(ts, handles, n);
      return Pressure(r);
    }
    r.Seal();  // may throw: nothing of the batch is committed yet
  } else if (n >= 4096 && late_now * 8 > n) {
    r.AddBatchRun(ts, handles, n);
    return Pressure(r);
  }
  size_t i = 0;
  while (i < n) {
    Memtable& m = *r.mem;
    int64_t* mts = m.ts();
    uint64_t* mh = m.handles();
    size_t nn = r.n;
    const size_t lim = r.mem_cap - r.on;
    int64_t last = r.last_ts;
    while (i < n && nn < lim && ts[i] >= last) {
      last = ts[i];
      mts[nn] = last;
      mh[nn] = handles[i];
      ++nn;
      ++i;
    }
    r.last_ts = last;
    r.n = nn;
    m.PublishRows(nn);
    if (i < n && ts[i] < last) {
      Append(ts[i], handles[i]);
      ++i;
    }
  }
  return Pressure(r);
}

bool Engine::AdoptSortedBatch(std::vector<int64_t>* ts,
                              std::vector<uint64_t>* h, WriteResult* result) {
  Rep& r = *rep_;
  const size_t n = ts->size();
  if (n < kAdoptMinRecords || h->size() != n) return false;
  if (!std::is_sorted(ts->begin(), ts->end())) return false;
  r.Seal();  // may throw: nothing taken
  // All or nothing: inside Mutate (which publishes only if this returns),
  // everything that can throw comes before the columns are taken, and the
  // push_back after it has its capacity reserved.
  r.Mutate([&](Version& v) {
    v.sealed.reserve(v.sealed.size() + 1);
    RunPtr run = Run::FromVectors(ts, h, r.page_rows);
    v.sealed.push_back({std::move(run), v.last_seq});
  });
  r.seals_total.fetch_add(1, std::memory_order_relaxed);
  r.Wake();
  *result = Pressure(r);
  return true;
}

WriteResult Engine::Delete(int64_t lo, int64_t hi) {
  Rep& r = *rep_;
  if (lo > hi) return Pressure(r);
  bool overlap = false;
  if (r.n + r.on > 0) {
    int64_t mem_min = r.ooo_min;
    if (r.n > 0) mem_min = std::min(mem_min, r.mem->ts()[0]);
    int64_t mem_max = r.last_ts;
    overlap = !(hi < mem_min || lo > mem_max);
    if (overlap && r.Current()->marks->size() >= kMaxMemMarks) {
      r.Seal();
      overlap = false;
    }
  }
  r.Mutate([&](Version& v) {
    if (v.tomb_n == v.tombs->cap()) {
      auto bigger = std::make_shared<TombLog>(v.tombs->cap() * 2);
      std::memcpy(bigger->items(), v.tombs->items(),
                  v.tomb_n * sizeof(Tombstone));
      v.tombs = std::move(bigger);
    }
    v.tombs->items()[v.tomb_n] = Tombstone{lo, hi, ++v.last_seq};
    ++v.tomb_n;
    if (overlap) {
      auto marks = std::make_shared<std::vector<MemMark>>(*v.marks);
      marks->push_back(MemMark{lo, hi, r.n, r.on});
      v.marks = std::move(marks);
    }
  });
  return Pressure(r);
}

WriteResult Engine::Cutoff(int64_t t) {
  if (t == kMinTs) return Pressure(*rep_);
  return Delete(kMinTs, t - 1);
}

// ------------------------------------------------------------ backpressure

bool Engine::UnderPressure() const {
  return Pressure(*rep_) == WriteResult::kBusy;
}

bool Engine::WaitForRoom(uint32_t timeout_ms) {
  Rep& r = *rep_;
  if (!UnderPressure()) return true;
  r.backpressure_waits.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(r.wake_mu);
  if (!r.running) return !UnderPressure();
  r.wake = true;
  r.wake_cv.notify_all();
  r.room_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return !r.running || !UnderPressure();
  });
  return !UnderPressure();
}

// ------------------------------------------------------------- maintenance

void Engine::Flush() {
  Rep& r = *rep_;
  r.Seal();
  std::lock_guard<std::mutex> lock(r.maint_mu);
  while (!r.Current()->sealed.empty()) r.FlushOne();
}

bool Engine::MaintStep() {
  Rep& r = *rep_;
  {
    std::lock_guard<std::mutex> lock(r.wake_mu);
    if (r.running) {
      throw std::logic_error(
          "maint_step() is not available while background maintenance runs");
    }
  }
  std::lock_guard<std::mutex> lock(r.maint_mu);
  return r.Step();
}

void Engine::Compact() {
  Rep& r = *rep_;
  // relaxed: the flag is only a hint, re-read under maint_mu by Step().
  r.compact_requested.store(true, std::memory_order_relaxed);
  r.Wake();
}

void Engine::StartMaintenance() {
  Rep& r = *rep_;
  std::lock_guard<std::mutex> lock(r.wake_mu);
  if (r.running) return;
  r.stop = false;
  r.running = true;
  r.worker = std::thread([&r] { r.WorkerLoop(); });
}

void Engine::StopMaintenance() {
  Rep& r = *rep_;
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(r.wake_mu);
    if (!r.running) return;
    r.stop = true;
    r.running = false;
    t = std::move(r.worker);
  }
  r.wake_cv.notify_all();
  r.room_cv.notify_all();
  if (t.joinable()) t.join();
}

bool Engine::MaintenanceRunning() const {
  std::lock_guard<std::mutex> lock(rep_->wake_mu);
  return rep_->running;
}

// -------------------------------------------------------------------- fork

namespace {

// Restarts the worker after a fork if PrepareFork stopped it. Thread creation
// can fail (std::system_error); the engine then stays in disabled mode, which
// is a valid state MaintenanceRunning() reports, rather than an exception out
// of a fork hook.
void ResumeAfterFork(Engine* e, Rep& r) noexcept {
  if (!r.fork_resume) return;
  r.fork_resume = false;
  try {
    e->StartMaintenance();
  } catch (...) {
    std::lock_guard<std::mutex> lock(r.wake_mu);
    r.running = false;
    r.stop = false;
  }
}

}  // namespace

void Engine::PrepareFork() noexcept {
  Rep& r = *rep_;
  bool was_running;
  {
    std::lock_guard<std::mutex> lock(r.wake_mu);
    was_running = r.running;
  }
  // Join the worker instead of trying to freeze it: it finishes the step it
  // is in (publishing it completely or not at all) and exits, so no engine
  // thread exists that the child would lack. It needs nothing from the
  // caller to get there: it never waits outside the engine. Only the writer
  // (this caller) starts or stops it, so `was_running` cannot go stale.
  StopMaintenance();
  r.fork_resume = was_running;
  // Take every lock, in the documented order maint_mu -> publish_mu -> mu ->
  // wake_mu, so that at the fork no reader (mu), no handle walk (publish_mu),
  // no MaintenanceRunning() call (wake_mu)
  // and no maintenance step (maint_mu; none can run now, the worker is joined
  // and the writer is this thread) is inside a critical section: the child
  // would otherwise inherit a lock owned by a thread it does not have.
  r.maint_mu.lock();
  r.publish_mu.lock();  // no removal publish or handle walk in flight
  r.mu.lock();
  // With mu held no engine reader call can start; wait for the ones already
  // past it, which still take the memtable's and the version's cache mutexes
  // (those objects are shared with snapshots, so the child could not re-create
  // them). They hold no engine lock and wait for nothing, so this ends.
  // acquire: pairs with LeaveRead's release.
  while (r.readers_inside.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
  r.wake_mu.lock();
}

void Engine::AfterForkParent() noexcept {
  Rep& r = *rep_;
  // Reverse order of PrepareFork; nothing changed while they were held.
  r.wake_mu.unlock();
  r.mu.unlock();
  r.publish_mu.unlock();
  r.maint_mu.unlock();
  ResumeAfterFork(this, r);
}

void Engine::AfterForkChild() noexcept {
  Rep& r = *rep_;
  // The child has one thread, this one, and it owns the three locks: POSIX
  // keeps a mutex locked by the forking thread valid and owned by it in the
  // child, so plain unlocks release them (the pthread_atfork pattern).
  //
  // The condition variables are re-created in place instead. Under the
  // contract nobody waits on them at the fork (the worker is joined and
  // WaitForRoom is a writer method, serialised with this caller), but a
  // condition variable's implementation keeps waiter bookkeeping (glibc:
  // per-group waiter counts that notify_* waits on), and a fresh object makes
  // the child independent of whatever another thread's wait left there. The
  // old objects are not destroyed: destroying a condition variable that a
  // (vanished) thread might still be registered with can block for ever, and
  // it owns no other resource, so overwriting its storage leaks nothing.
  // Placement-new over a member of the same type makes the member name refer
  // to the new object ([basic.life]/8), so no std::launder is needed. wake_mu
  // is held, so no thread of this process can touch them meanwhile.
  new (&r.wake_cv) std::condition_variable();
  new (&r.room_cv) std::condition_variable();
  r.wake_mu.unlock();
  r.mu.unlock();
  r.publish_mu.unlock();
  r.maint_mu.unlock();
  ResumeAfterFork(this, r);
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
  rep_->InitReadState(&s->rep_->st);
  rep_->LeaveRead();
  return s;
}

uint64_t Engine::Count(int64_t lo, int64_t hi) const {
  return OnCurrent(*rep_, [&](const ReadState& st) { return st.Count(lo, hi); });
}

std::optional<int64_t> Engine::Ceil(int64_t t) const {
  return OnCurrent(*rep_, [&](const ReadState& st) { return st.Ceil(t); });
}

std::optional<int64_t> Engine::Floor(int64_t t) const {
  return OnCurrent(*rep_, [&](const ReadState& st) { return st.Floor(t); });
}

// Point reads skip the ReadState (memtable views) altogether: see EqualAt.
bool Engine::Contains(int64_t t) const {
  size_t rows, ooo;
  VersionPtr v = rep_->EnterRead(&rows, &ooo);
  LeaveReadOnExit leave(*rep_);  // OooView takes the memtable's cache mutex
  return ContainsAt(*v, rows, ooo, rep_->page_rows, t);
}

void Engine::Equal(int64_t t, std::vector<uint64_t>* out) const {
  size_t rows, ooo;
  VersionPtr v = rep_->EnterRead(&rows, &ooo);
  LeaveReadOnExit leave(*rep_);  // OooView takes the memtable's cache mutex
  EqualAt(*v, rows, ooo, rep_->page_rows, t, out);
}

std::unique_ptr<Cursor> Engine::Range(int64_t lo, int64_t hi,
                                      bool reverse) const {
  // The read state is built in place, in a recycled cursor (read_state.h).
  ReadState* st;
  std::unique_ptr<Cursor> c = NewCursor(&st);
  rep_->InitReadState(st);
  LeaveReadOnExit leave(*rep_);
  OpenCursor(c.get(), lo, hi, reverse);
  return c;
}

std::string Engine::CheckInvariants() const {
  const Rep& r = *rep_;
  ReadState st;
  r.InitReadState(&st);
  LeaveReadOnExit leave(r);
  return timelog::CheckInvariants(st.version());
}

Stats Engine::GetStats() const {
  const Rep& r = *rep_;
  ReadState st;
  r.InitReadState(&st);
  LeaveReadOnExit leave(r);
  const Version& v = st.version();
  Stats s;
  s.records_estimate = st.Count(kMinTs, kMaxTs);
  s.min_ts = st.Ceil(kMinTs);
  s.max_ts = st.Floor(kMaxTs);
  s.tombstone_count = v.tomb_n;
  s.window_size = r.window_size.load(std::memory_order_relaxed);
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
  s.seals_total = r.seals_total.load(std::memory_order_relaxed);
  s.ooo_budget_hits = r.ooo_budget_hits.load(std::memory_order_relaxed);
  s.backpressure_waits = r.backpressure_waits.load(std::memory_order_relaxed);
  s.flushes_total = r.flushes_total.load(std::memory_order_relaxed);
  s.compactions_total = r.compactions_total.load(std::memory_order_relaxed);
  s.compaction_retries = r.compaction_retries.load(std::memory_order_relaxed);
  s.windows_dropped = r.windows_dropped.load(std::memory_order_relaxed);
  s.records_dropped = r.records_dropped.load(std::memory_order_relaxed);
  return s;
}

void Engine::CollectHandles(std::vector<uint64_t>* out) {
  Rep& r = *rep_;
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
  const Rep& r = *rep_;
  // Pauses every removal publish (see engine_state.h): nothing can move from
  // the version to the drop callback until the walk and `then` are done.
  std::lock_guard<std::mutex> pause(r.publish_mu);
  VersionPtr v;
  size_t rows, ooo;
  {
    // The same consistent cut as a snapshot: the memtable counters are read
    // with the version they belong to.
    std::lock_guard<std::mutex> lock(r.mu);
    v = r.current;
    rows = v->mem->rows();
    ooo = v->mem->ooo_rows();
  }
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
