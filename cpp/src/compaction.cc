// Compaction: FlushOne, Step, CompactL0, DropCovered, RewriteWindows and
// GcTombstones.

#include "compaction.h"

#include <algorithm>
#include <cstring>

#include "worker.h"

namespace timelog {

namespace {

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

// ----------------------------------------------------------------- entry

void Compaction::FlushAll() {
  MutexLock lock(&maint_mu_);
  while (!state_.Current()->sealed.empty()) FlushOne();
}

bool Compaction::LockedStep() {
  MutexLock lock(&maint_mu_);
  return Step();
}

// ----------------------------------------------------------------- flush

void Compaction::FlushOne() {
  VersionPtr v = state_.Current();
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
      out.run = b.size() ? Run::FromBuilder(std::move(b), state_.page_rows())
                         : nullptr;
      out.applied_seq = v->last_seq;
    } else if (s.run->wrapped() && s.run->size() * 2 < state_.mem_cap()) {
      // Mostly empty memtable columns: keep only what is used.
      ColumnBuilder b;
      b.PushRange(s.run->ts(), s.run->handles(), s.run->size());
      out.run = Run::FromBuilder(std::move(b), state_.page_rows());
    }
  }
  sizer_.AssertHeld();  // its mutex is maint_mu_, held here
  sizer_.ObserveDensity(*s.run);
  state_.PublishRemoval(
      [&](Version& nv) {
        nv.sealed.erase(nv.sealed.begin());
        if (out.run) nv.l0.push_back(out);
        GcTombstones(nv);
      },
      dropped);
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().flushes_total.fetch_add(1, std::memory_order_relaxed);
  worker_.NotifyRoom();
}

// ------------------------------------------------------------ compaction

bool Compaction::Step() {
  VersionPtr v = state_.Current();
  if (!v->sealed.empty()) {
    FlushOne();
    return true;
  }
  // relaxed: a hint; a request racing with this read is seen next step.
  const bool force = compact_requested_.load(std::memory_order_relaxed);
  if (!v->l0.empty() &&
      (v->l0.size() >= state_.cfg().max_delta_segments || force)) {
    CompactL0(v);
    return true;
  }
  if (DropCovered(v)) return true;
  if ((force || state_.cfg().delete_debt_threshold > 0.0) &&
      RewriteWindows(v, force)) {
    return true;
  }
  // relaxed: the flag is a hint (see the load); clearing it orders nothing.
  if (force) compact_requested_.store(false, std::memory_order_relaxed);
  return false;
}

void Compaction::CompactL0(const VersionPtr& v) {
  size_t m = v->l0.size();
  if (state_.cfg().compaction.max_inputs != 0) {
    m = std::min<size_t>(m, state_.cfg().compaction.max_inputs);
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
  const int64_t wsize = sizer_.window_size();
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
      auto [glo, ghi] = GridWindow(t, state_.cfg().window_origin, wsize);
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
      run = Run::FromBuilder(std::move(merged), state_.page_rows());
    } else {
      ColumnBuilder part;
      part.PushRange(mts + pos, merged.handles() + pos, end - pos);
      run = Run::FromBuilder(std::move(part), state_.page_rows());
    }
    w->runs.push_back({run, v->last_seq});
    const bool disjoint = Disjoint(w->runs);
    if (w->runs.size() > (disjoint ? kMaxDisjointRuns : kMaxWindowRuns)) {
      w->runs = MergeWindowRuns(
          *v, w->runs,
          MergeStart(w->runs, state_.cfg().compaction.target_bytes),
          state_.page_rows(), &dropped);
    }
    (*wl)[idx] = std::move(w);
    pos = end;
  }
  state_.PublishRemoval(
      [&](Version& nv) {
        nv.l0.erase(nv.l0.begin(), nv.l0.begin() + m);
        nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().compactions_total.fetch_add(1, std::memory_order_relaxed);
}

bool Compaction::DropCovered(const VersionPtr& v) {
  if (v->tomb_n == 0) return false;  // nothing can cover a run: skip the scan
  std::vector<uint64_t> dropped;
  auto drop_run = [&](const Run& r) {
    dropped.insert(dropped.end(), r.handles(), r.handles() + r.size());
  };
  // Appends to *keep the runs no tombstone covers; drops the others.
  auto keep_uncovered = [&](const std::vector<SourceRef>& runs,
                            std::vector<SourceRef>* keep) {
    for (const SourceRef& sr : runs) {
      if (Covered(v->Hide(sr.applied_seq).get(), *sr.run)) {
        drop_run(*sr.run);
      } else {
        keep->push_back(sr);
      }
    }
  };
  std::vector<SourceRef> l0;
  keep_uncovered(v->l0, &l0);
  std::shared_ptr<WindowList> wl;
  uint64_t windows_gone = 0;
  for (size_t i = 0; i < v->l1->size(); ++i) {
    const WindowPtr& w = (*v->l1)[i];
    std::vector<SourceRef> keep;
    keep_uncovered(w->runs, &keep);
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
  state_.PublishRemoval(
      [&](Version& nv) {
        nv.l0 = l0;
        if (wl) nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().windows_dropped.fetch_add(windows_gone,
                                              std::memory_order_relaxed);
  return true;
}

bool Compaction::RewriteWindows(const VersionPtr& v, bool force) {
  if (!force && v->tomb_n == 0) return false;  // no delete debt anywhere
  const uint32_t limit = state_.cfg().compaction.max_windows;
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
        want = hidden > 0 && static_cast<double>(hidden) >=
                                 state_.cfg().delete_debt_threshold *
                                     static_cast<double>(physical);
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
    auto runs = MergeWindowRuns(*v, w->runs, 0, state_.page_rows(), &dropped);
    if (runs.empty()) {
      // relaxed: a statistics counter (EngineCounters).
      state_.counters().windows_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      wl->push_back(std::make_shared<Window>(Window{w->lo, w->hi, runs}));
    }
  }
  if (!wl) return false;
  state_.PublishRemoval(
      [&](Version& nv) {
        nv.l1 = wl;
        GcTombstones(nv);
      },
      dropped);
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().compactions_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// ----------------------------------------------------------- tombstone GC

void GcTombstones(Version& v) {
  if (v.tomb_n == 0) return;
  const Tombstone* t = v.tombs->items();
  const size_t count = v.tomb_n;
  // Moves applied_seq past tombstones that cannot touch the run.
  auto advance = [&](SourceRef& sr) {
    size_t i = std::upper_bound(
                   t, t + count, sr.applied_seq,
                   [](uint64_t s, const Tombstone& x) { return s < x.seq; }) -
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
    for (SourceRef& sr : *list) {
      min_applied = std::min(min_applied, advance(sr));
    }
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
  size_t first = std::upper_bound(
                     t, t + count, min_applied,
                     [](uint64_t s, const Tombstone& x) { return s < x.seq; }) -
                 t;
  if (first == 0) return;
  auto log =
      std::make_shared<TombLog>(std::max<size_t>(16, 2 * (count - first)));
  std::memcpy(log->items(), t + first, (count - first) * sizeof(Tombstone));
  v.tombs = std::move(log);
  v.tomb_n = count - first;
}

}  // namespace timelog
