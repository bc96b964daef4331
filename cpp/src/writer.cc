// Writer: Append, AppendBatch, AdoptSortedBatch, Delete (memtable marks), batch
// runs and Seal.

#include "writer.h"

#include <algorithm>
#include <cstring>

#include "worker.h"

namespace timelog {

namespace {

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

Writer::Writer(EngineState* state, Worker* worker)
    : state_(*state), worker_(*worker), mem_(state->Current()->mem) {}

// ------------------------------------------------------------------ writes

WriteResult Writer::Append(int64_t ts, uint64_t handle) {
  if (ts >= last_ts_) {
    if (n_ + on_ >= state_.mem_cap()) Seal();
    Memtable& m = *mem_;
    m.ts()[n_] = ts;
    m.handles()[n_] = handle;
    last_ts_ = ts;
    ++n_;
    mem_->PublishRows(n_);
  } else {
    if (on_ >= state_.ooo_cap()) {
      // relaxed: a statistics counter (EngineCounters).
      state_.counters().ooo_budget_hits.fetch_add(1, std::memory_order_relaxed);
      Seal();
      return Append(ts, handle);  // the fresh memtable takes it in order
    }
    if (n_ + on_ >= state_.mem_cap()) {
      Seal();
      return Append(ts, handle);
    }
    Memtable& m = *mem_;
    m.ooo_ts()[on_] = ts;
    m.ooo_handles()[on_] = handle;
    ooo_min_ = std::min(ooo_min_, ts);
    ++on_;
    mem_->PublishOoo(on_);
  }
  return state_.Pressure();
}

WriteResult Writer::AppendBatch(const int64_t* ts, const uint64_t* handles,
                                size_t n) {
  if (n == 0) return state_.Pressure();
  // All or nothing. The rows go into the memtable only if they all fit in it
  // (in-order rows and out-of-order rows each within their budget), perhaps
  // after sealing it first; then the loop below cannot seal, so it cannot
  // allocate or throw. A batch that does not fit even a fresh memtable, or a
  // badly disordered one, becomes its own sealed run, built before anything is
  // published. Either way an allocation failure commits nothing.
  const size_t late_now = LateRows(ts, n, last_ts_);
  const size_t mem_cap = state_.mem_cap(), ooo_cap = state_.ooo_cap();
  const bool fits_now = n_ + on_ + n <= mem_cap && on_ + late_now <= ooo_cap;
  if (!fits_now) {
    const size_t late_fresh = LateRows(ts, n, kMinTs);
    if (n > mem_cap || late_fresh > ooo_cap ||
        (n >= 4096 && late_fresh * 8 > n)) {
      AddBatchRun(ts, handles, n);
      return state_.Pressure();
    }
    Seal();  // may throw: nothing of the batch is committed yet
  } else if (n >= 4096 && late_now * 8 > n) {
    AddBatchRun(ts, handles, n);
    return state_.Pressure();
  }
  size_t i = 0;
  while (i < n) {
    Memtable& m = *mem_;
    int64_t* mts = m.ts();
    uint64_t* mh = m.handles();
    size_t nn = n_;
    const size_t lim = mem_cap - on_;
    int64_t last = last_ts_;
    while (i < n && nn < lim && ts[i] >= last) {
      last = ts[i];
      mts[nn] = last;
      mh[nn] = handles[i];
      ++nn;
      ++i;
    }
    last_ts_ = last;
    n_ = nn;
    m.PublishRows(nn);
    if (i < n && ts[i] < last) {
      Append(ts[i], handles[i]);
      ++i;
    }
  }
  return state_.Pressure();
}

bool Writer::AdoptSortedBatch(std::vector<int64_t>* ts,
                              std::vector<uint64_t>* h, WriteResult* result) {
  const size_t n = ts->size();
  if (n < kAdoptMinRecords || h->size() != n) return false;
  if (!std::is_sorted(ts->begin(), ts->end())) return false;
  Seal();  // may throw: nothing taken
  // All or nothing: inside Mutate (which publishes only if this returns),
  // everything that can throw comes before the columns are taken, and the
  // push_back after it has its capacity reserved.
  state_.Mutate([&](Version& v) {
    v.sealed.reserve(v.sealed.size() + 1);
    RunPtr run = Run::FromVectors(ts, h, state_.page_rows());
    v.sealed.push_back({std::move(run), v.last_seq});
  });
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().seals_total.fetch_add(1, std::memory_order_relaxed);
  worker_.Wake();
  *result = state_.Pressure();
  return true;
}

WriteResult Writer::Delete(int64_t lo, int64_t hi) {
  if (lo > hi) return state_.Pressure();
  bool overlap = false;
  if (n_ + on_ > 0) {
    int64_t mem_min = ooo_min_;
    if (n_ > 0) mem_min = std::min(mem_min, mem_->ts()[0]);
    int64_t mem_max = last_ts_;
    overlap = !(hi < mem_min || lo > mem_max);
    if (overlap && state_.Current()->marks->size() >= kMaxMemMarks) {
      Seal();
      overlap = false;
    }
  }
  state_.Mutate([&](Version& v) {
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
      marks->push_back(MemMark{lo, hi, n_, on_});
      v.marks = std::move(marks);
    }
  });
  return state_.Pressure();
}

// ------------------------------------------------------------------ seal

void Writer::Seal() {
  if (n_ + on_ == 0) return;
  VersionPtr v = state_.Current();
  RunPtr run;
  std::vector<uint64_t> dropped;
  const std::vector<MemMark>& marks = *v->marks;
  if (on_ == 0 && marks.empty()) {
    // Zero copy: the run keeps the memtable's columns alive.
    run = Run::Wrap(mem_->ts(), mem_->handles(), n_, state_.page_rows(), mem_,
                    mem_->bytes());
  } else {
    ReadState st;
    st.Init(v, n_, on_, state_.page_rows());
    std::vector<ColumnSlice> slices;
    std::vector<IdxRange> vis;
    if (st.mem_run()) {
      Partition(st.MemSource(), &vis, &dropped);
      AddSlices(*st.mem_run(), vis, &slices);
    }
    if (const RunPtr& ooo = st.ooo_run()) {  // already sorted and filtered
      slices.push_back({ooo->ts(), ooo->handles(), ooo->size()});
    }
    for (size_t i = 0; i < on_; ++i) {
      if (OooHidden(marks, i, mem_->ooo_ts()[i])) {
        dropped.push_back(mem_->ooo_handles()[i]);
      }
    }
    ColumnBuilder b;
    MergeSlices(slices, &b);
    if (b.size() > 0) run = Run::FromBuilder(std::move(b), state_.page_rows());
  }
  auto fresh = std::make_shared<Memtable>(state_.mem_cap(), state_.ooo_cap());
  state_.PublishRemoval(
      [&](Version& nv) {
        if (run) nv.sealed.push_back({run, nv.last_seq});
        nv.mem = fresh;
        nv.marks = std::make_shared<const std::vector<MemMark>>();
      },
      dropped);
  mem_ = std::move(fresh);
  n_ = on_ = 0;
  last_ts_ = kMinTs;
  ooo_min_ = kMaxTs;
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().seals_total.fetch_add(1, std::memory_order_relaxed);
  worker_.Wake();
}

void Writer::AddBatchRun(const int64_t* ts, const uint64_t* h, size_t count) {
  // Build everything before publishing anything: an allocation failure leaves
  // the engine exactly as it was (the batch is not committed at all).
  // The rows at or above the running maximum are already in order; the others
  // are sorted stably on their own and merged in. On equal timestamps an
  // in-order row always precedes an out-of-order one in the input (an
  // out-of-order row is below an earlier row, and every later in-order row is
  // at or above that one), so the merge, which prefers its first slice on
  // ties, keeps insertion order.
  ColumnBuilder in;
  in.Reserve(count);
  std::vector<uint32_t> late;
  int64_t last = kMinTs;
  for (size_t i = 0; i < count; ++i) {
    if (ts[i] >= last) {
      last = ts[i];
      in.Push(ts[i], h[i]);
    } else {
      late.push_back(static_cast<uint32_t>(i));
    }
  }
  RunPtr run;
  if (late.empty()) {
    run = Run::FromBuilder(std::move(in), state_.page_rows());
  } else {
    ColumnBuilder sorted_late;
    AppendStableSorted(ts, h, late, &sorted_late);
    ColumnBuilder merged;
    merged.Reserve(count);
    MergeSlices({{in.ts(), in.handles(), in.size()},
                 {sorted_late.ts(), sorted_late.handles(), sorted_late.size()}},
                &merged);
    run = Run::FromBuilder(std::move(merged), state_.page_rows());
  }
  Seal();  // after the build, before the publish: sequence order as for a seal
  state_.Mutate([&](Version& nv) { nv.sealed.push_back({run, nv.last_seq}); });
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().seals_total.fetch_add(1, std::memory_order_relaxed);
  worker_.Wake();
}

}  // namespace timelog
