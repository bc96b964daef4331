// Seal, flush, compaction, tombstone GC and the worker loop.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>
#include <numeric>

#include "engine_state.h"

namespace timelog {

namespace {

// Splits `run` rows [0, n) into visible ranges (appended to *vis) and hidden
// handles (appended to *dropped). Returns true if anything is hidden.
bool Partition(const Source& s, std::vector<IdxRange>* vis,
               std::vector<uint64_t>* dropped) {
  const size_t n = s.run->size();
  size_t first = vis->size();
  SourceVisible(s, 0, n, vis);
  size_t pos = 0;
  const uint64_t* h = s.run->handles();
  for (size_t i = first; i < vis->size(); ++i) {
    const IdxRange& r = (*vis)[i];
    dropped->insert(dropped->end(), h + pos, h + r.b);
    pos = r.e;
  }
  dropped->insert(dropped->end(), h + pos, h + n);
  return !(vis->size() == first + 1 && (*vis)[first].b == 0 &&
           (*vis)[first].e == n);
}

void AddSlices(const Run& run, const std::vector<IdxRange>& vis,
               std::vector<ColumnSlice>* out) {
  for (const IdxRange& r : vis) {
    out->push_back({run.ts() + r.b, run.handles() + r.b, r.e - r.b});
  }
}

bool Covered(const HideSet* hide, const Run& run) {
  if (hide == nullptr) return false;
  const auto* iv = HideAt(*hide, run.min_ts());
  return iv != nullptr && iv->second >= run.max_ts();
}

// floor((t - origin) / size) * size + origin, and the window's last ts,
// clamped to int64 (computed in 128 bits: never overflows).
std::pair<int64_t, int64_t> GridWindow(int64_t t, int64_t origin,
                                       int64_t size) {
  __int128 d = static_cast<__int128>(t) - origin;
  __int128 q = d / size;
  if (d % size != 0 && d < 0) --q;
  __int128 lo = q * size + origin;
  __int128 hi = lo + size - 1;
  lo = std::max<__int128>(lo, kMinTs);
  hi = std::min<__int128>(hi, kMaxTs);
  return {static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
}

}  // namespace

// ------------------------------------------------------------ read state

void EngineState::InitReadState(ReadState* st) const {
  size_t rows, ooo;
  VersionPtr v = EnterRead(&rows, &ooo);
  try {
    st->Init(std::move(v), rows, ooo, page_rows);
  } catch (...) {
    LeaveRead();
    throw;
  }
}

VersionPtr EngineState::EnterRead(size_t* rows, size_t* ooo) const {
  std::lock_guard<std::mutex> lock(mu);
  // relaxed: mu orders the increment before Engine::PrepareFork's check,
  // which runs with mu held.
  readers_inside.fetch_add(1, std::memory_order_relaxed);
  *rows = current->mem->rows();
  *ooo = current->mem->ooo_rows();
  return current;
}

void EngineState::LeaveRead() const {
  // release: everything this reader did (including unlocking the per-run
  // caches' mutexes) happens-before PrepareFork's acquire load sees the
  // count drop.
  readers_inside.fetch_sub(1, std::memory_order_release);
}

// ------------------------------------------------------------------ seal

void EngineState::Seal() {
  if (n + on == 0) return;
  VersionPtr v = Current();
  RunPtr run;
  std::vector<uint64_t> dropped;
  const std::vector<MemMark>& marks = *v->marks;
  if (on == 0 && marks.empty()) {
    // Zero copy: the run keeps the memtable's columns alive.
    run = Run::Wrap(mem->ts(), mem->handles(), n, page_rows, mem, mem->bytes());
  } else {
    ReadState st;
    st.Init(v, n, on, page_rows);
    std::vector<ColumnSlice> slices;
    std::vector<IdxRange> vis;
    if (st.mem_run()) {
      Partition(st.MemSource(), &vis, &dropped);
      AddSlices(*st.mem_run(), vis, &slices);
    }
    if (const RunPtr& ooo = st.ooo_run()) {  // already sorted and filtered
      slices.push_back({ooo->ts(), ooo->handles(), ooo->size()});
    }
    for (size_t i = 0; i < on; ++i) {
      if (OooHidden(marks, i, mem->ooo_ts()[i])) {
        dropped.push_back(mem->ooo_handles()[i]);
      }
    }
    ColumnBuilder b;
    MergeSlices(slices, &b);
    if (b.size() > 0) run = Run::FromBuilder(std::move(b), page_rows);
  }
  auto fresh = std::make_shared<Memtable>(mem_cap, ooo_cap);
  PublishRemoval(
      [&](Version& nv) {
        if (run) nv.sealed.push_back({run, nv.last_seq});
        nv.mem = fresh;
        nv.marks = std::make_shared<const std::vector<MemMark>>();
      },
      dropped);
  mem = std::move(fresh);
  n = on = 0;
  last_ts = kMinTs;
  ooo_min = kMaxTs;
  seals_total.fetch_add(1, std::memory_order_relaxed);
  Wake();
}

void EngineState::AddBatchRun(const int64_t* ts, const uint64_t* h,
                              size_t count) {
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
    run = Run::FromBuilder(std::move(in), page_rows);
  } else {
    ColumnBuilder sorted_late;
    AppendStableSorted(ts, h, late, &sorted_late);
    ColumnBuilder merged;
    merged.Reserve(count);
    MergeSlices({{in.ts(), in.handles(), in.size()},
                 {sorted_late.ts(), sorted_late.handles(), sorted_late.size()}},
                &merged);
    run = Run::FromBuilder(std::move(merged), page_rows);
  }
  Seal();  // after the build, before the publish: sequence order as for a seal
  Mutate([&](Version& nv) { nv.sealed.push_back({run, nv.last_seq}); });
  seals_total.fetch_add(1, std::memory_order_relaxed);
  Wake();
}

// ----------------------------------------------------------------- flush

void EngineState::FlushOne() {
  VersionPtr v = Current();
  if (v->sealed.empty()) return;
  const SourceRef s = v->sealed.front();
  SourceRef out = s;
  std::vector<uint64_t> dropped;
  Source src{s.run.get(), v->Hide(s.applied_seq), nullptr};
  if (Covered(src.hide.get(), *s.run)) {
    dropped.assign(s.run->handles(), s.run->handles() + s.run->size());
    out.run = nullptr;
  } else {
    std::vector<IdxRange> vis;
    if (src.hide && Partition(src, &vis, &dropped)) {
      std::vector<ColumnSlice> slices;
      AddSlices(*s.run, vis, &slices);
      ColumnBuilder b;
      MergeSlices(slices, &b);
      out.run = b.size() ? Run::FromBuilder(std::move(b), page_rows) : nullptr;
      out.applied_seq = v->last_seq;
    } else if (s.run->wrapped() && s.run->size() * 2 < mem_cap) {
      // Mostly empty memtable columns: keep only what is used.
      ColumnBuilder b;
      b.PushRange(s.run->ts(), s.run->handles(), s.run->size());
      out.run = Run::FromBuilder(std::move(b), page_rows);
    }
  }
  ObserveDensity(*s.run);
  PublishRemoval(
      [&](Version& nv) {
        nv.sealed.erase(nv.sealed.begin());
        if (out.run) nv.l0.push_back(out);
        GcTombstones(nv);
      },
      dropped);
  flushes_total.fetch_add(1, std::memory_order_relaxed);
  NotifyRoom();
}

// ------------------------------------------------------------ compaction

bool EngineState::Step() {
  VersionPtr v = Current();
  if (!v->sealed.empty()) {
    FlushOne();
    return true;
  }
  // relaxed: a hint; a request racing with this read is seen next step.
  const bool force = compact_requested.load(std::memory_order_relaxed);
  if (!v->l0.empty() && (v->l0.size() >= cfg.max_delta_segments || force)) {
    CompactL0(v);
    return true;
  }
  if (DropCovered(v)) return true;
  if ((force || cfg.delete_debt_threshold > 0.0) && RewriteWindows(v, force)) {
    return true;
  }
  if (force) compact_requested.store(false, std::memory_order_relaxed);
  return false;
}

namespace {

// Merges runs[first..] of a window into one run, applying tombstones.
// Returns the new run list.
std::vector<SourceRef> MergeWindowRuns(const Version& v,
                                       const std::vector<SourceRef>& runs,
                                       size_t first, size_t page_rows,
                                       std::vector<uint64_t>* dropped) {
  std::vector<ColumnSlice> slices;
  std::vector<IdxRange> vis;
  for (size_t i = first; i < runs.size(); ++i) {
    Source s{runs[i].run.get(), v.Hide(runs[i].applied_seq), nullptr};
    vis.clear();
    Partition(s, &vis, dropped);
    AddSlices(*s.run, vis, &slices);
  }
  std::vector<SourceRef> out(runs.begin(), runs.begin() + first);
  ColumnBuilder b;
  MergeSlices(slices, &b);
  if (b.size() > 0) {
    out.push_back({Run::FromBuilder(std::move(b), page_rows), v.last_seq});
  }
  return out;
}

bool Disjoint(const std::vector<SourceRef>& runs) {
  for (size_t i = 1; i < runs.size(); ++i) {
    if (runs[i - 1].run->max_ts() >= runs[i].run->min_ts()) return false;
  }
  return true;
}

// Index of the first run to merge so that the merged output stays within
// target_bytes (0 = merge all), merging at least two runs.
size_t MergeStart(const std::vector<SourceRef>& runs, uint64_t target_bytes) {
  if (target_bytes == 0 || runs.size() < 2) return 0;
  size_t first = runs.size() - 2;
  uint64_t total = runs[first].run->bytes() + runs[first + 1].run->bytes();
  while (first > 0 && total + runs[first - 1].run->bytes() <= target_bytes) {
    --first;
    total += runs[first].run->bytes();
  }
  return first;
}

}  // namespace

void EngineState::CompactL0(const VersionPtr& v) {
  size_t m = v->l0.size();
  if (cfg.compaction.max_inputs != 0) {
    m = std::min<size_t>(m, cfg.compaction.max_inputs);
  }
  std::vector<ColumnSlice> slices;
  std::vector<uint64_t> dropped;
  std::vector<IdxRange> vis;
  for (size_t i = 0; i < m; ++i) {
    const SourceRef& sr = v->l0[i];
    Source s{sr.run.get(), v->Hide(sr.applied_seq), nullptr};
    vis.clear();
    Partition(s, &vis, &dropped);
    AddSlices(*sr.run, vis, &slices);
  }
  ColumnBuilder merged;
  MergeSlices(slices, &merged);

  auto wl = std::make_shared<WindowList>(*v->l1);
  const int64_t wsize = window_size.load(std::memory_order_relaxed);
  const size_t total = merged.size();
  const int64_t* mts = merged.ts();
  size_t pos = 0;
  while (pos < total) {
    const int64_t t = mts[pos];
    auto it = std::lower_bound(
        wl->begin(), wl->end(), t,
        [](const WindowPtr& w, int64_t x) { return w->hi < x; });
    size_t idx = it - wl->begin();
    std::shared_ptr<Window> w;
    if (it != wl->end() && (*it)->lo <= t) {
      w = std::make_shared<Window>(**it);
    } else {
      auto [glo, ghi] = GridWindow(t, cfg.window_origin, wsize);
      if (idx > 0) glo = std::max(glo, (*wl)[idx - 1]->hi + 1);
      if (idx < wl->size()) ghi = std::min(ghi, (*wl)[idx]->lo - 1);
      w = std::make_shared<Window>(Window{glo, ghi, {}});
      wl->insert(wl->begin() + idx, nullptr);
    }
    size_t end = w->hi == kMaxTs
                     ? total
                     : std::upper_bound(mts + pos, mts + total, w->hi) - mts;
    RunPtr run;
    if (pos == 0 && end == total) {
      run = Run::FromBuilder(std::move(merged), page_rows);
    } else {
      ColumnBuilder part;
      part.PushRange(mts + pos, merged.handles() + pos, end - pos);
      run = Run::FromBuilder(std::move(part), page_rows);
    }
    w->runs.push_back({run, v->last_seq});
    const bool disjoint = Disjoint(w->runs);
    if (w->runs.size() > (disjoint ? kMaxDisjointRuns : kMaxWindowRuns)) {
      w->runs = MergeWindowRuns(*v, w->runs,
                                MergeStart(w->runs, cfg.compaction.target_bytes),
                                page_rows, &dropped);
    }
    (*wl)[idx] = std::move(w);
    pos = end;
  }
  PublishRemoval(
      [&](Version& nv) {
        nv.l0.erase(nv.l0.begin(), nv.l0.begin() + m);
        nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  compactions_total.fetch_add(1, std::memory_order_relaxed);
}

bool EngineState::DropCovered(const VersionPtr& v) {
  if (v->tomb_n == 0) return false;  // nothing can cover a run: skip the scan
  std::vector<uint64_t> dropped;
  auto drop_run = [&](const Run& r) {
    dropped.insert(dropped.end(), r.handles(), r.handles() + r.size());
  };
  std::vector<SourceRef> l0;
  for (const SourceRef& sr : v->l0) {
    if (Covered(v->Hide(sr.applied_seq).get(), *sr.run)) {
      drop_run(*sr.run);
    } else {
      l0.push_back(sr);
    }
  }
  std::shared_ptr<WindowList> wl;
  uint64_t windows_gone = 0;
  for (size_t i = 0; i < v->l1->size(); ++i) {
    const WindowPtr& w = (*v->l1)[i];
    std::vector<SourceRef> keep;
    for (const SourceRef& sr : w->runs) {
      if (Covered(v->Hide(sr.applied_seq).get(), *sr.run)) {
        drop_run(*sr.run);
      } else {
        keep.push_back(sr);
      }
    }
    if (keep.size() == w->runs.size()) {
      if (wl) wl->push_back(w);
      continue;
    }
    if (!wl) {
      wl = std::make_shared<WindowList>(v->l1->begin(), v->l1->begin() + i);
    }
    if (keep.empty()) {
      ++windows_gone;
    } else {
      wl->push_back(std::make_shared<Window>(Window{w->lo, w->hi, keep}));
    }
  }
  if (dropped.empty() && l0.size() == v->l0.size()) return false;
  PublishRemoval(
      [&](Version& nv) {
        nv.l0 = l0;
        if (wl) nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  windows_dropped.fetch_add(windows_gone, std::memory_order_relaxed);
  return true;
}

bool EngineState::RewriteWindows(const VersionPtr& v, bool force) {
  if (!force && v->tomb_n == 0) return false;  // no delete debt anywhere
  const uint32_t limit = cfg.compaction.max_windows;
  std::vector<uint64_t> dropped;
  std::shared_ptr<WindowList> wl;
  uint32_t rewritten = 0;
  std::vector<IdxRange> vis;
  for (size_t i = 0; i < v->l1->size(); ++i) {
    const WindowPtr& w = (*v->l1)[i];
    bool want = false;
    if (limit == 0 || rewritten < limit) {
      uint64_t physical = 0, visible = 0;
      for (const SourceRef& sr : w->runs) {
        physical += sr.run->size();
        vis.clear();
        SourceVisible({sr.run.get(), v->Hide(sr.applied_seq), nullptr}, 0,
                      sr.run->size(), &vis);
        for (const IdxRange& r : vis) visible += r.e - r.b;
      }
      const uint64_t hidden = physical - visible;
      if (force) {
        want = hidden > 0 || w->runs.size() > 1;
      } else {
        want = hidden > 0 &&
               static_cast<double>(hidden) >=
                   cfg.delete_debt_threshold * static_cast<double>(physical);
      }
    }
    if (!want) {
      if (wl) wl->push_back(w);
      continue;
    }
    if (!wl) {
      wl = std::make_shared<WindowList>(v->l1->begin(), v->l1->begin() + i);
    }
    ++rewritten;
    auto runs = MergeWindowRuns(*v, w->runs, 0, page_rows, &dropped);
    if (runs.empty()) {
      windows_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      wl->push_back(std::make_shared<Window>(Window{w->lo, w->hi, runs}));
    }
  }
  if (!wl) return false;
  PublishRemoval(
      [&](Version& nv) {
        nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  compactions_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// ----------------------------------------------------------- tombstone GC

void EngineState::GcTombstones(Version& v) {
  if (v.tomb_n == 0) return;
  const Tombstone* t = v.tombs->items();
  const size_t count = v.tomb_n;
  // Moves applied_seq past tombstones that cannot touch the run.
  auto advance = [&](SourceRef& sr) {
    size_t i = std::upper_bound(t, t + count, sr.applied_seq,
                                [](uint64_t s, const Tombstone& x) {
                                  return s < x.seq;
                                }) -
               t;
    const int64_t lo = sr.run->min_ts(), hi = sr.run->max_ts();
    while (i < count && (t[i].hi < lo || t[i].lo > hi)) {
      sr.applied_seq = t[i].seq;
      ++i;
    }
    if (i == count) sr.applied_seq = v.last_seq;
    return sr.applied_seq;
  };
  uint64_t min_applied = v.last_seq;
  for (auto* list : {&v.l0, &v.sealed}) {
    for (SourceRef& sr : *list) min_applied = std::min(min_applied, advance(sr));
  }
  auto wl = std::make_shared<WindowList>();
  wl->reserve(v.l1->size());
  bool changed = false;
  for (const WindowPtr& w : *v.l1) {
    std::vector<SourceRef> runs = w->runs;
    bool moved = false;
    for (SourceRef& sr : runs) {
      uint64_t before = sr.applied_seq;
      min_applied = std::min(min_applied, advance(sr));
      moved |= sr.applied_seq != before;
    }
    if (moved) {
      wl->push_back(std::make_shared<Window>(Window{w->lo, w->hi, runs}));
      changed = true;
    } else {
      wl->push_back(w);
    }
  }
  if (changed) v.l1 = wl;
  size_t first = std::upper_bound(t, t + count, min_applied,
                                  [](uint64_t s, const Tombstone& x) {
                                    return s < x.seq;
                                  }) -
                 t;
  if (first == 0) return;
  auto log = std::make_shared<TombLog>(std::max<size_t>(16, 2 * (count - first)));
  std::memcpy(log->items(), t + first, (count - first) * sizeof(Tombstone));
  v.tombs = std::move(log);
  v.tomb_n = count - first;
}

// --------------------------------------------------------------- adaptive

void EngineState::ObserveDensity(const Run& run) {
  const AdaptiveConfig& a = cfg.adaptive;
  if (!a.enabled || run.size() == 0) return;
  const double span =
      static_cast<double>(run.max_ts()) - static_cast<double>(run.min_ts()) + 1.0;
  const double density = static_cast<double>(run.size()) / span;
  density_ema = flushes_seen == 0 ? density
                                  : a.alpha * density + (1 - a.alpha) * density_ema;
  ++flushes_seen;
  if (flushes_seen < a.warmup_flushes || density_ema <= 0) return;
  double want = static_cast<double>(a.target_records) / density_ema;
  want = std::clamp(want, 1.0, 4.0e18);
  if (a.min_window > 0) want = std::max(want, static_cast<double>(a.min_window));
  if (a.max_window > 0) want = std::min(want, static_cast<double>(a.max_window));
  int64_t next = static_cast<int64_t>(want);
  if (a.window_quantum > 0) {
    next = std::max<int64_t>(a.window_quantum,
                             (next / a.window_quantum) * a.window_quantum);
  }
  const int64_t cur = window_size.load(std::memory_order_relaxed);
  const double change = std::fabs(static_cast<double>(next - cur));
  if (change * 100.0 > static_cast<double>(a.hysteresis_pct) * cur) {
    // relaxed: read by compaction under maint_mu (which this thread holds)
    // and by stats, which only report it.
    window_size.store(next, std::memory_order_relaxed);
  }
}

// ----------------------------------------------------------------- worker

void EngineState::Report(const std::vector<uint64_t>& dropped, void* token) {
  if (dropped.empty()) return;
  records_dropped.fetch_add(dropped.size(), std::memory_order_relaxed);
  if (token != nullptr) {
    cfg.drop_commit(cfg.drop_ctx, token, dropped.data(), dropped.size());
  } else if (cfg.on_drop) {
    cfg.on_drop(cfg.drop_ctx, dropped.data(), dropped.size());
  }
}

void EngineState::Wake() {
  {
    std::lock_guard<std::mutex> lock(wake_mu);
    wake = true;
  }
  wake_cv.notify_one();
}

void EngineState::NotifyRoom() {
  { std::lock_guard<std::mutex> lock(wake_mu); }
  room_cv.notify_all();
}

void EngineState::WorkerLoop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(wake_mu);
      if (stop) return;
    }
    bool did = false;
    try {
      std::lock_guard<std::mutex> lock(maint_mu);
      did = Step();
    } catch (const std::bad_alloc&) {
      // Nothing was published: the step is retried after the wakeup period.
      compaction_retries.fetch_add(1, std::memory_order_relaxed);
    }
    if (did) continue;
    std::unique_lock<std::mutex> lock(wake_mu);
    wake_cv.wait_for(lock, std::chrono::milliseconds(cfg.maintenance_wakeup_ms),
                     [&] { return stop || wake; });
    wake = false;
  }
}

}  // namespace timelog
