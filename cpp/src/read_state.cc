// ReadState: the sources and tombstones of one version, the counts and bounds
// read from them, and the engine's reader entry.

#include "read_state.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "engine_state.h"

namespace timelog {

namespace {

bool Overlaps(const Run& r, int64_t lo, int64_t hi) {
  return r.size() > 0 && r.min_ts() <= hi && r.max_ts() >= lo;
}

// The hidden row range containing row i, if any.
const IdxRange* IdxHideAt(const std::vector<IdxRange>& r, size_t i) {
  auto it =
      std::upper_bound(r.begin(), r.end(), i,
                       [](size_t x, const IdxRange& rg) { return x < rg.e; });
  if (it != r.end() && it->b <= i) return &*it;
  return nullptr;
}

// First visible row >= pos, or n.
size_t NextVisible(const Source& s, size_t pos) {
  const Run& r = *s.run;
  const size_t n = r.size();
  while (pos < n) {
    if (s.hide) {
      if (auto* iv = HideAt(*s.hide, r.ts()[pos])) {
        pos = iv->second == kMaxTs ? n : r.UpperBound(iv->second);
        continue;
      }
    }
    if (s.idx_hide) {
      if (auto* rg = IdxHideAt(*s.idx_hide, pos)) {
        pos = rg->e;
        continue;
      }
    }
    return pos;
  }
  return n;
}

// One past the last visible row < pos, or 0.
size_t PrevVisible(const Source& s, size_t pos) {
  const Run& r = *s.run;
  while (pos > 0) {
    size_t cur = pos - 1;
    if (s.hide) {
      if (auto* iv = HideAt(*s.hide, r.ts()[cur])) {
        pos = r.LowerBound(iv->first);
        continue;
      }
    }
    if (s.idx_hide) {
      if (auto* rg = IdxHideAt(*s.idx_hide, cur)) {
        pos = rg->b;
        continue;
      }
    }
    return pos;
  }
  return 0;
}

// floor(a / d) for d > 0, rounding toward -infinity.
__int128 FloorDiv(__int128 a, int64_t d) {
  __int128 q = a / d;
  if (a % d < 0) --q;
  return q;
}

// Index of t's bucket on the grid origin + k * every (any int64 t).
__int128 BucketOf(int64_t t, int64_t origin, int64_t every) {
  return FloorDiv(static_cast<__int128>(t) - origin, every);
}

}  // namespace

uint64_t BucketCount(int64_t lo, int64_t hi, int64_t origin, int64_t every) {
  if (every <= 0) {
    throw std::invalid_argument("bucket width (every) must be > 0, got " +
                                std::to_string(every));
  }
  if (lo > hi) return 0;
  // At most 2**64 buckets (every == 1 over the whole range): fits __int128.
  __int128 n = BucketOf(hi, origin, every) - BucketOf(lo, origin, every) + 1;
  if (n > static_cast<__int128>(std::numeric_limits<uint64_t>::max())) {
    return std::numeric_limits<uint64_t>::max();
  }
  return static_cast<uint64_t>(n);
}

void SourceVisible(const Source& s, size_t b, size_t e,
                   std::vector<IdxRange>* out) {
  if (s.idx_hide == nullptr || s.idx_hide->empty()) {
    VisibleRanges(*s.run, b, e, s.hide.get(), out);
    return;
  }
  std::vector<IdxRange> tmp;
  VisibleRanges(*s.run, b, e, s.hide.get(), &tmp);
  // Subtract the row-space hidden ranges.
  const auto& hid = *s.idx_hide;
  size_t h = 0;
  for (IdxRange v : tmp) {
    while (h < hid.size() && hid[h].e <= v.b) ++h;
    size_t pos = v.b;
    size_t k = h;
    for (; k < hid.size() && hid[k].b < v.e; ++k) {
      if (hid[k].b > pos) out->push_back({pos, hid[k].b});
      pos = std::max(pos, hid[k].e);
    }
    if (pos < v.e) out->push_back({pos, v.e});
  }
}

void ReadState::Init(VersionPtr v, size_t mem_n, size_t mem_on,
                     size_t page_rows) {
  v_ = std::move(v);
  const Memtable& mem = *v_->mem;
  mem_run_ = mem.InorderView(mem_n, page_rows);
  const std::vector<MemMark>& marks = *v_->marks;
  ooo_run_ = mem.OooView(mem_on, marks, page_rows);
  if (mem_run_ && !marks.empty()) {
    for (const MemMark& m : marks) {
      size_t b = mem_run_->LowerBound(m.lo);
      size_t e = std::min({mem_run_->UpperBound(m.hi), m.n_mark, mem_n});
      if (b < e) mem_hide_.push_back({b, e});
    }
    std::sort(mem_hide_.begin(), mem_hide_.end(),
              [](const IdxRange& a, const IdxRange& c) { return a.b < c.b; });
    size_t w = 0;
    for (size_t i = 1; i < mem_hide_.size(); ++i) {
      if (mem_hide_[i].b <= mem_hide_[w].e) {
        mem_hide_[w].e = std::max(mem_hide_[w].e, mem_hide_[i].e);
      } else {
        mem_hide_[++w] = mem_hide_[i];
      }
    }
    if (!mem_hide_.empty()) mem_hide_.resize(w + 1);
  }
}

void ReadState::GatherWindow(const Window& w, int64_t lo, int64_t hi,
                             std::vector<Source>* out) const {
  for (const SourceRef& sr : w.runs) {
    if (Overlaps(*sr.run, lo, hi)) {
      out->push_back({sr.run.get(), v_->Hide(sr.applied_seq), nullptr});
    }
  }
}

void ReadState::GatherRecent(int64_t lo, int64_t hi,
                             std::vector<Source>* out) const {
  const Version& v = *v_;
  for (const auto* list : {&v.l0, &v.sealed}) {
    for (const SourceRef& sr : *list) {
      if (Overlaps(*sr.run, lo, hi)) {
        out->push_back({sr.run.get(), v.Hide(sr.applied_seq), nullptr});
      }
    }
  }
  if (mem_run_ && Overlaps(*mem_run_, lo, hi)) out->push_back(MemSource());
  if (ooo_run_ && Overlaps(*ooo_run_, lo, hi)) {
    out->push_back({ooo_run_.get(), nullptr, nullptr});
  }
}

WindowList::const_iterator ReadState::FirstWindow(int64_t t) const {
  const WindowList& wl = *v_->l1;
  return std::lower_bound(
      wl.begin(), wl.end(), t,
      [](const WindowPtr& w, int64_t x) { return w->hi < x; });
}

void ReadState::Gather(int64_t lo, int64_t hi, std::vector<Source>* out) const {
  const WindowList& wl = *v_->l1;
  for (auto it = FirstWindow(lo); it != wl.end() && (*it)->lo <= hi; ++it) {
    GatherWindow(**it, lo, hi, out);
  }
  GatherRecent(lo, hi, out);
}

uint64_t ReadState::Count(int64_t lo, int64_t hi) const {
  if (lo > hi) return 0;
  std::vector<Source> srcs;
  Gather(lo, hi, &srcs);
  uint64_t total = 0;
  std::vector<IdxRange> vis;
  for (const Source& s : srcs) {
    size_t b = s.run->LowerBound(lo);
    size_t e = hi == kMaxTs ? s.run->size() : s.run->UpperBoundFrom(b, hi);
    if (!s.hide && !s.idx_hide) {
      total += e > b ? e - b : 0;
      continue;
    }
    vis.clear();
    SourceVisible(s, b, e, &vis);
    for (const IdxRange& r : vis) total += r.e - r.b;
  }
  return total;
}

std::optional<int64_t> ReadState::Ceil(int64_t t) const {
  std::optional<int64_t> best;
  std::vector<Source> srcs;
  auto consider = [&]() {
    for (const Source& s : srcs) {
      size_t pos = NextVisible(s, s.run->LowerBound(t));
      if (pos < s.run->size()) {
        int64_t v = s.run->ts()[pos];
        if (!best || v < *best) best = v;
      }
    }
    srcs.clear();
  };
  GatherRecent(t, kMaxTs, &srcs);
  consider();
  // Windows are disjoint and ascending: the first one with a visible record
  // holds the L1 answer.
  const WindowList& wl = *v_->l1;
  for (auto it = FirstWindow(t); it != wl.end(); ++it) {
    if (best && (*it)->lo > *best) break;
    GatherWindow(**it, t, kMaxTs, &srcs);
    consider();
    if (best && *best <= (*it)->hi) break;
  }
  return best;
}

std::optional<int64_t> ReadState::Floor(int64_t t) const {
  std::optional<int64_t> best;
  std::vector<Source> srcs;
  auto consider = [&]() {
    for (const Source& s : srcs) {
      size_t pos = PrevVisible(s, s.run->UpperBound(t));
      if (pos > 0) {
        int64_t v = s.run->ts()[pos - 1];
        if (!best || v > *best) best = v;
      }
    }
    srcs.clear();
  };
  GatherRecent(kMinTs, t, &srcs);
  consider();
  const WindowList& wl = *v_->l1;
  auto it = FirstWindow(t);  // first window with hi >= t
  if (it == wl.end() || (*it)->lo > t) {
    if (it == wl.begin()) return best;
    --it;
  }
  for (;;) {
    if (best && (*it)->hi < *best) break;
    GatherWindow(**it, kMinTs, t, &srcs);
    consider();
    if (best && *best >= (*it)->lo) break;
    if (it == wl.begin()) break;
    --it;
  }
  return best;
}

namespace {

// End of the rows equal to t that start at b (ts[b] == t or b == n), given
// `upper` = a full search for the first row > t. Usually there are few
// duplicates: scan a little (the rows at b are already in cache) before
// falling back to the search.
template <class Upper>
size_t EqualEnd(const int64_t* ts, size_t n, size_t b, int64_t t,
                Upper&& upper) {
  size_t e = b;
  while (e < n && e - b < 8 && ts[e] == t) ++e;
  if (e < n && ts[e] == t) e = upper();
  return e;
}

// The active memtable as a point read sees it: in-order rows [0, n) (sorted,
// in insertion order), the marks hiding some of them, and the sorted view of
// the visible out-of-order rows (null if none).
struct MemPart {
  const int64_t* ts;
  const uint64_t* h;
  size_t n;
  const std::vector<MemMark>* marks;
  const Run* ooo;
};

// Calls f(handles, b, e) for every source holding visible records at exactly
// t, oldest source first (the order of Gather, so ties come out in insertion
// order); rows [b, e) of `handles` are those records. f returns true to stop.
// Returns whether f stopped the walk.
template <class F>
bool VisitAt(const Version& v, const MemPart& mem, int64_t t, F&& f) {
  auto immutable = [&](const SourceRef& sr) {
    const Run& r = *sr.run;
    if (!r.MayContain(t)) return false;  // no column memory touched
    const size_t b = r.LowerBoundForRead(t);
    const size_t e =
        EqualEnd(r.ts(), r.size(), b, t, [&] { return r.UpperBound(t); });
    if (b == e) return false;
    // A tombstone interval hides all of a source's rows at t or none.
    if (auto hide = v.Hide(sr.applied_seq); hide && HideAt(*hide, t)) {
      return false;
    }
    return f(r.handles(), b, e);
  };
  // L1 windows are disjoint: only the first with hi >= t can hold t.
  const WindowList& wl = *v.l1;
  auto it =
      std::lower_bound(wl.begin(), wl.end(), t,
                       [](const WindowPtr& w, int64_t x) { return w->hi < x; });
  if (it != wl.end() && (*it)->lo <= t) {
    for (const SourceRef& sr : (*it)->runs) {
      if (immutable(sr)) return true;
    }
  }
  for (const auto* list : {&v.l0, &v.sealed}) {
    for (const SourceRef& sr : *list) {
      if (immutable(sr)) return true;
    }
  }
  if (mem.n > 0 && mem.ts[0] <= t && t <= mem.ts[mem.n - 1]) {
    size_t b = BranchlessLowerBound(mem.ts, mem.n, t);
    const size_t e = EqualEnd(mem.ts, mem.n, b, t, [&] {
      return t == kMaxTs
                 ? mem.n
                 : b + BranchlessLowerBound(mem.ts + b, mem.n - b, t + 1);
    });
    // A mark covering t hides the rows below its n_mark; the rows at t are
    // contiguous, so what stays visible is a suffix of [b, e).
    for (const MemMark& m : *mem.marks) {
      if (m.lo <= t && t <= m.hi) b = std::max(b, std::min(m.n_mark, e));
    }
    if (b < e && f(mem.h, b, e)) return true;
  }
  if (mem.ooo && mem.ooo->MayContain(t)) {
    const Run& r = *mem.ooo;
    const size_t b = r.LowerBoundForRead(t);
    const size_t e =
        EqualEnd(r.ts(), r.size(), b, t, [&] { return r.UpperBound(t); });
    if (b < e && f(r.handles(), b, e)) return true;
  }
  return false;
}

bool AppendHandles(std::vector<uint64_t>* out, const uint64_t* h, size_t b,
                   size_t e) {
  if (e - b == 1) {
    out->push_back(h[b]);  // the common case: no call into memmove
  } else {
    out->insert(out->end(), h + b, h + e);
  }
  return false;
}

MemPart MemAt(const Version& v, size_t mem_n, const Run* ooo) {
  return {v.mem->ts(), v.mem->handles(), mem_n, v.marks.get(), ooo};
}

}  // namespace

void ReadState::Equal(int64_t t, std::vector<uint64_t>* out) const {
  VisitAt(*v_, MemAt(*v_, mem_run_ ? mem_run_->size() : 0, ooo_run_.get()), t,
          [out](const uint64_t* h, size_t b, size_t e) {
            return AppendHandles(out, h, b, e);
          });
}

bool ReadState::Contains(int64_t t) const {
  return VisitAt(*v_,
                 MemAt(*v_, mem_run_ ? mem_run_->size() : 0, ooo_run_.get()), t,
                 [](const uint64_t*, size_t, size_t) { return true; });
}

namespace {

// The sorted view of the memtable's visible OOO rows, if there are any.
RunPtr OooAt(const Version& v, size_t mem_on, size_t page_rows) {
  return mem_on ? v.mem->OooView(mem_on, *v.marks, page_rows) : nullptr;
}

}  // namespace

void EqualAt(const Version& v, size_t mem_n, size_t mem_on, size_t page_rows,
             int64_t t, std::vector<uint64_t>* out) {
  RunPtr ooo = OooAt(v, mem_on, page_rows);
  VisitAt(v, MemAt(v, mem_n, ooo.get()), t,
          [out](const uint64_t* h, size_t b, size_t e) {
            return AppendHandles(out, h, b, e);
          });
}

bool ContainsAt(const Version& v, size_t mem_n, size_t mem_on, size_t page_rows,
                int64_t t) {
  RunPtr ooo = OooAt(v, mem_on, page_rows);
  return VisitAt(v, MemAt(v, mem_n, ooo.get()), t,
                 [](const uint64_t*, size_t, size_t) { return true; });
}

void ReadState::CountBy(int64_t lo, int64_t hi, int64_t origin, int64_t every,
                        int64_t* starts, uint64_t* counts,
                        size_t nbuckets) const {
  std::fill(counts, counts + nbuckets, 0);
  if (lo > hi || nbuckets == 0) return;
  const __int128 q0 = BucketOf(lo, origin, every);
  if (starts != nullptr) {
    // Bucket starts after the first lie in (lo, hi]: they fit int64.
    __int128 s = origin + q0 * every;
    for (size_t k = 0; k < nbuckets; ++k, s += every) {
      starts[k] = s < kMinTs ? kMinTs : static_cast<int64_t>(s);
    }
  }
  std::vector<Source> srcs;
  Gather(lo, hi, &srcs);
  std::vector<IdxRange> vis;
  for (const Source& src : srcs) {
    const Run& r = *src.run;
    const int64_t* ts = r.ts();
    size_t b = r.LowerBound(lo);
    size_t e = hi == kMaxTs ? r.size() : r.UpperBoundFrom(b, hi);
    if (b >= e) continue;
    vis.clear();
    if (!src.hide && !src.idx_hide) {
      vis.push_back({b, e});
    } else {
      SourceVisible(src, b, e, &vis);
    }
    // Walk the non-empty buckets of this source: each step finds the end of
    // the bucket holding row `pos` by binary search, then counts the visible
    // rows of [pos, end) from the visible ranges (never row by row). Every
    // step consumes at least one row, so steps <= min(rows, buckets).
    size_t vi = 0;
    while (vi < vis.size()) {
      size_t pos = vis[vi].b;
      const __int128 q = BucketOf(ts[pos], origin, every);
      const size_t k = static_cast<size_t>(q - q0);
      const __int128 next = origin + (q + 1) * every;  // next bucket's start
      const size_t last = vis.back().e;
      size_t end = next > hi
                       ? last
                       : static_cast<size_t>(
                             std::lower_bound(ts + pos, ts + last,
                                              static_cast<int64_t>(next)) -
                             ts);
      uint64_t c = 0;
      while (vi < vis.size() && vis[vi].b < end) {
        size_t from = std::max(vis[vi].b, pos);
        size_t to = std::min(vis[vi].e, end);
        c += to - from;
        if (vis[vi].e > end) {
          vis[vi].b = end;  // the rest of this range starts the next step
          break;
        }
        ++vi;
      }
      counts[k] += c;
    }
  }
}

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

// ------------------------------------------------------------ reader entry
// The engine's reader calls build their read state here, from the published
// version (EngineState, engine_state.h).

void EngineState::InitReadState(ReadState* st) const {
  size_t rows, ooo;
  VersionPtr v = EnterRead(&rows, &ooo);
  try {
    st->Init(std::move(v), rows, ooo, page_rows_);
  } catch (...) {
    LeaveRead();
    throw;
  }
}

VersionPtr EngineState::EnterRead(size_t* rows, size_t* ooo) const {
  MutexLock lock(&mu_);
  // relaxed: mu orders the increment before Engine::PrepareFork's check,
  // which runs with mu held.
  readers_inside_.fetch_add(1, std::memory_order_relaxed);
  *rows = current_->mem->rows();
  *ooo = current_->mem->ooo_rows();
  return current_;
}

void EngineState::LeaveRead() const {
  // release: everything this reader did (including unlocking the per-run
  // caches' mutexes) happens-before PrepareFork's acquire load sees the
  // count drop.
  readers_inside_.fetch_sub(1, std::memory_order_release);
}

}  // namespace timelog
