// Snapshot and Cursor: the public read API over a ReadState.

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "read_state.h"
#include "timelog/engine.h"

namespace timelog {

Snapshot::Snapshot() : rep_(new Rep) {}
Snapshot::~Snapshot() = default;

uint64_t Snapshot::Count(int64_t lo, int64_t hi) const {
  return rep_->st.Count(lo, hi);
}
std::optional<int64_t> Snapshot::Ceil(int64_t t) const {
  return rep_->st.Ceil(t);
}
std::optional<int64_t> Snapshot::Floor(int64_t t) const {
  return rep_->st.Floor(t);
}
bool Snapshot::Contains(int64_t t) const { return rep_->st.Contains(t); }
void Snapshot::Equal(int64_t t, std::vector<uint64_t>* out) const {
  rep_->st.Equal(t, out);
}

void Snapshot::CountBy(int64_t lo, int64_t hi, int64_t origin, int64_t every,
                       int64_t* starts, uint64_t* counts,
                       size_t nbuckets) const {
  uint64_t want = BucketCount(lo, hi, origin, every);  // checks every > 0
  if (want != nbuckets) {
    throw std::invalid_argument("CountBy: nbuckets is " +
                                std::to_string(nbuckets) + ", the range has " +
                                std::to_string(want) + " buckets");
  }
  rep_->st.CountBy(lo, hi, origin, every, starts, counts, nbuckets);
}

size_t Snapshot::Gather(int64_t lo, int64_t hi, bool reverse, int64_t* ts,
                        uint64_t* handles, size_t cap) const {
  return MakeCursor(rep_->st, lo, hi, reverse)->NextColumns(ts, handles, cap);
}

std::vector<PageSpan> Snapshot::PageSpans(int64_t lo, int64_t hi) const {
  std::vector<PageSpan> out;
  if (lo > hi) return out;
  const Version& v = rep_->st.version();
  auto add = [&](const RunPtr& r) {
    if (r->size() == 0 || r->min_ts() > hi || r->max_ts() < lo) return;
    size_t b = r->LowerBound(lo);
    size_t e = hi == kMaxTs ? r->size() : r->UpperBoundFrom(b, hi);
    size_t pr = r->page_rows();
    for (size_t p = b / pr; p * pr < e; ++p) {
      size_t pb = std::max(b, p * pr);
      size_t pe = std::min(e, (p + 1) * pr);
      if (pb < pe) {
        out.push_back({r->ts() + pb, r->handles() + pb, pe - pb, r});
      }
    }
  };
  if (v.l1) {
    for (const WindowPtr& w : *v.l1) {
      if (w->lo > hi || w->hi < lo) continue;
      for (const SourceRef& sr : w->runs) add(sr.run);
    }
  }
  for (const SourceRef& sr : v.l0) add(sr.run);
  for (const SourceRef& sr : v.sealed) add(sr.run);
  return out;
}

// ---------------------------------------------------------------- Cursor

namespace {

// One source of a cursor: its visible row ranges v[0..nv), ascending (they
// live in Cursor::Rep::vis).
struct SrcState {
  const Run* run;
  const IdxRange* v;
  size_t nv;
  size_t vi;   // current range (forward: from front; reverse: from back)
  size_t pos;  // forward: next row; reverse: one past next row
};

// Where Cursor::Rep's merge loops put the rows they take: `take` rows of a
// run starting at row `pos` (forward) or ending just before it (reverse),
// written from output row `at` on.
struct RecordSink {
  Record* out;
  void Forward(const int64_t* ts, const uint64_t* h, size_t pos, size_t take,
               size_t at) const {
    for (size_t j = 0; j < take; ++j) out[at + j] = {ts[pos + j], h[pos + j]};
  }
  void Reverse(const int64_t* ts, const uint64_t* h, size_t pos, size_t take,
               size_t at) const {
    for (size_t j = 0; j < take; ++j) {
      out[at + j] = {ts[pos - 1 - j], h[pos - 1 - j]};
    }
  }
};

// Two separate columns; a null column is skipped.
struct ColumnSink {
  int64_t* ts;
  uint64_t* h;
  void Forward(const int64_t* src_ts, const uint64_t* src_h, size_t pos,
               size_t take, size_t at) const {
    if (ts) std::memcpy(ts + at, src_ts + pos, take * sizeof(int64_t));
    if (h) std::memcpy(h + at, src_h + pos, take * sizeof(uint64_t));
  }
  void Reverse(const int64_t* src_ts, const uint64_t* src_h, size_t pos,
               size_t take, size_t at) const {
    if (ts) {
      for (size_t j = 0; j < take; ++j) ts[at + j] = src_ts[pos - 1 - j];
    }
    if (h) {
      for (size_t j = 0; j < take; ++j) h[at + j] = src_h[pos - 1 - j];
    }
  }
};

}  // namespace

// A cursor's state. Recycled through the calling thread's CursorCache (below):
// Clear() drops everything the cursor kept alive but keeps the vectors'
// capacity, so a recycled Rep builds its next cursor without allocating.
struct Cursor::Rep {
  ReadState st;  // keeps the version and memtable views alive
  std::vector<SrcState> srcs;
  std::vector<IdxRange> vis;     // every source's visible ranges
  std::vector<Source> gathered;  // scratch of Open(): empty between calls
  bool reverse = false;
  int64_t lo = 0, hi = -1;  // the range it was made for (Reversed)

  // Builds the sources of [lo, hi] over `st` (already set). REQUIRES: srcs,
  // vis and gathered empty. Returns the number of visible records.
  uint64_t Open(int64_t lo, int64_t hi, bool reverse);
  // Releases the read state; empties the vectors keeping their capacity.
  void Clear() noexcept {
    st.Reset();
    srcs.clear();
    vis.clear();
    gathered.clear();
  }
  // Whether a cleared Rep is small enough to keep for reuse (a cursor over
  // many sources or tombstone-fragmented ranges is freed instead, so the
  // cache never holds much memory).
  bool Reusable() const {
    return srcs.capacity() <= 32 && vis.capacity() <= 128 &&
           gathered.capacity() <= 32;
  }

  bool Exhausted(const SrcState& s) const { return s.vi >= s.nv; }
  int64_t Peek(const SrcState& s) const {
    return reverse ? s.run->ts()[s.pos - 1] : s.run->ts()[s.pos];
  }
  void Fix(SrcState& s) {
    // Move to the next non-empty visible range.
    if (!reverse) {
      while (s.vi < s.nv && s.pos >= s.v[s.vi].e) {
        if (++s.vi < s.nv) s.pos = s.v[s.vi].b;
      }
    } else {
      // v is consumed from the back; vi counts consumed ranges.
      while (s.vi < s.nv && s.pos <= s.v[s.nv - 1 - s.vi].b) {
        if (++s.vi < s.nv) s.pos = s.v[s.nv - 1 - s.vi].e;
      }
    }
  }
  template <class Sink>
  size_t NextForward(const Sink& sink, size_t cap);
  template <class Sink>
  size_t NextReverse(const Sink& sink, size_t cap);
  // Cursor::Next / NextColumns: the next up to cap rows into `sink`.
  template <class Sink>
  size_t Take(const Sink& sink, size_t cap, uint64_t* remaining) {
    if (cap == 0 || *remaining == 0) return 0;
    size_t n = reverse ? NextReverse(sink, cap) : NextForward(sink, cap);
    *remaining -= std::min<uint64_t>(n, *remaining);
    return n;
  }
};

uint64_t Cursor::Rep::Open(int64_t lo_, int64_t hi_, bool reverse_) {
  reverse = reverse_;
  lo = lo_;
  hi = hi_;
  if (lo > hi) return 0;
  st.Gather(lo, hi, &gathered);
  uint64_t total = 0;
  for (const Source& s : gathered) {
    const Run& run = *s.run;
    // A range covering a whole end of the run needs no search for it.
    size_t b = lo <= run.min_ts() ? 0 : run.LowerBound(lo);
    size_t e = hi >= run.max_ts() ? run.size() : run.UpperBoundFrom(b, hi);
    const size_t first = vis.size();
    SourceVisible(s, b, e, &vis);
    const size_t nv = vis.size() - first;
    if (nv == 0) continue;
    for (size_t i = first; i < vis.size(); ++i) total += vis[i].e - vis[i].b;
    // vis may still move: v is set below, vi holds the offset meanwhile.
    srcs.push_back({&run, nullptr, nv, first, 0});
  }
  gathered.clear();  // the hide sets are no longer needed
  for (SrcState& ss : srcs) {
    ss.v = vis.data() + ss.vi;
    ss.vi = 0;
    ss.pos = reverse ? ss.v[ss.nv - 1].e : ss.v[0].b;
  }
  return total;
}

template <class Sink>
size_t Cursor::Rep::NextForward(const Sink& sink, size_t cap) {
  size_t filled = 0;
  const size_t k = srcs.size();
  while (filled < cap) {
    // Oldest source with the smallest timestamp (strict < keeps rank order).
    size_t best = k;
    int64_t best_ts = 0;
    for (size_t i = 0; i < k; ++i) {
      if (Exhausted(srcs[i])) continue;
      int64_t t = Peek(srcs[i]);
      if (best == k || t < best_ts) {
        best = i;
        best_ts = t;
      }
    }
    if (best == k) break;
    SrcState& s = srcs[best];
    size_t end = s.v[s.vi].e;
    // Bound from the other sources: (ts, rank) of the next competing row.
    size_t other = k;
    int64_t bound = 0;
    for (size_t i = 0; i < k; ++i) {
      if (i == best || Exhausted(srcs[i])) continue;
      int64_t t = Peek(srcs[i]);
      if (other == k || t < bound || (t == bound && i < other)) {
        other = i;
        bound = t;
      }
    }
    const int64_t* ts = s.run->ts();
    if (other != k) {
      // Rows equal to `bound` go first only if this source is older.
      size_t lim = best < other
                       ? std::upper_bound(ts + s.pos, ts + end, bound) - ts
                       : std::lower_bound(ts + s.pos, ts + end, bound) - ts;
      end = lim;
    }
    size_t take = std::min(end - s.pos, cap - filled);
    sink.Forward(ts, s.run->handles(), s.pos, take, filled);
    filled += take;
    s.pos += take;
    Fix(s);
  }
  return filled;
}

template <class Sink>
size_t Cursor::Rep::NextReverse(const Sink& sink, size_t cap) {
  size_t filled = 0;
  const size_t k = srcs.size();
  while (filled < cap) {
    // Newest source with the largest timestamp (>= prefers later ranks).
    size_t best = k;
    int64_t best_ts = 0;
    for (size_t i = 0; i < k; ++i) {
      if (Exhausted(srcs[i])) continue;
      int64_t t = Peek(srcs[i]);
      if (best == k || t >= best_ts) {
        best = i;
        best_ts = t;
      }
    }
    if (best == k) break;
    SrcState& s = srcs[best];
    size_t begin = s.v[s.nv - 1 - s.vi].b;
    size_t other = k;
    int64_t bound = 0;
    for (size_t i = 0; i < k; ++i) {
      if (i == best || Exhausted(srcs[i])) continue;
      int64_t t = Peek(srcs[i]);
      if (other == k || t > bound || (t == bound && i > other)) {
        other = i;
        bound = t;
      }
    }
    const int64_t* ts = s.run->ts();
    if (other != k) {
      size_t lim = best > other
                       ? std::lower_bound(ts + begin, ts + s.pos, bound) - ts
                       : std::upper_bound(ts + begin, ts + s.pos, bound) - ts;
      begin = lim;
    }
    size_t take = std::min(s.pos - begin, cap - filled);
    sink.Reverse(ts, s.run->handles(), s.pos, take, filled);
    filled += take;
    s.pos -= take;
    Fix(s);
  }
  return filled;
}

// ------------------------------------------------------ the cursor cache
//
// Making a cursor and dropping it unread is the per-query overhead of a range
// read, and two heap allocations and frees (the Cursor and its Rep, plus the
// Rep's vectors) were a third of it. Each thread keeps a few dropped cursors'
// storage for its next ones: a Cursor block and a cleared Rep, vectors'
// capacity included. The cache is per thread, so it needs no lock and no
// atomic, and it belongs to no Engine: a cursor may outlive its engine, and
// may be destroyed on another thread than the one that made it (its storage
// then joins that thread's cache). A cached Rep holds no shared ownership of
// anything (Clear() released it when the cursor was destroyed), so the cache
// never keeps a version, a run or a memtable alive.
//
// Lifetime: a thread's cache is a heap block reached through a pthread key,
// made when the thread first gives a cursor back and freed by the key's
// destructor when the thread exits (after the thread's C++ thread_local
// destructors, so cursors those drop are freed with it). One given back by
// another key's destructor makes a new cache, which glibc's next round of
// key destructors frees; only in the last of its PTHREAD_DESTRUCTOR_ITERATIONS
// (4) rounds would that block be left behind.
// Not a C++ thread_local: in the Python extension that would be dynamic TLS,
// which glibc frees from whichever thread next reuses the exited thread's
// stack, synchronised in ways ThreadSanitizer cannot see, so py-tsan reported
// the exiting thread's last access to it as a race with that free. Each
// thread's block here is made and freed by that thread alone.

namespace {

constexpr size_t kCursorCacheSlots = 4;

struct CursorCache {
  void* blocks[kCursorCacheSlots];  // storage for a Cursor object
  Cursor::Rep* reps[kCursorCacheSlots];
  size_t nblocks;
  size_t nreps;
};

// The key's destructor: runs on the exiting thread, with its slot cleared.
void FreeCursorCache(void* p) noexcept {
  auto* c = static_cast<CursorCache*>(p);
  for (size_t i = 0; i < c->nreps; ++i) delete c->reps[i];
  for (size_t i = 0; i < c->nblocks; ++i) ::operator delete(c->blocks[i]);
  delete c;
}

// Made while the library loads (zero, i.e. `ok == false`, before that: no
// thread caches then). pthread_key_create fails only when the process has
// used up its keys; every thread then goes straight to the heap.
struct CursorCacheKey {
  pthread_key_t key{};
  bool ok = false;
  CursorCacheKey() noexcept {
    ok = pthread_key_create(&key, &FreeCursorCache) == 0;
  }
};
const CursorCacheKey g_cursor_cache_key;

// The calling thread's cache, or null if it has none (and `make` is false or
// one cannot be made).
CursorCache* ThreadCache(bool make) noexcept {
  if (!g_cursor_cache_key.ok) return nullptr;
  void* p = pthread_getspecific(g_cursor_cache_key.key);
  if (p != nullptr || !make) return static_cast<CursorCache*>(p);
  auto* c = new (std::nothrow) CursorCache{};
  if (c == nullptr) return nullptr;
  if (pthread_setspecific(g_cursor_cache_key.key, c) != 0) {
    delete c;
    return nullptr;
  }
  return c;
}

Cursor::Rep* TakeRep() {
  CursorCache* c = ThreadCache(false);
  if (c != nullptr && c->nreps > 0) return c->reps[--c->nreps];
  return new Cursor::Rep();
}

void GiveRep(Cursor::Rep* r) noexcept {
  r->Clear();
  CursorCache* c = r->Reusable() ? ThreadCache(true) : nullptr;
  if (c != nullptr && c->nreps < kCursorCacheSlots) {
    c->reps[c->nreps++] = r;
  } else {
    delete r;
  }
}

}  // namespace

void* Cursor::operator new(size_t size) {
  CursorCache* c = ThreadCache(false);
  if (size == sizeof(Cursor) && c != nullptr && c->nblocks > 0) {
    return c->blocks[--c->nblocks];
  }
  return ::operator new(size);
}

void Cursor::operator delete(void* p, size_t size) noexcept {
  if (p == nullptr) return;
  CursorCache* c = size == sizeof(Cursor) ? ThreadCache(true) : nullptr;
  if (c != nullptr && c->nblocks < kCursorCacheSlots) {
    c->blocks[c->nblocks++] = p;
  } else {
    ::operator delete(p);
  }
}

Cursor::Cursor() : rep_(TakeRep()) {}
Cursor::~Cursor() { GiveRep(rep_); }

size_t Cursor::Next(Record* out, size_t cap) {
  return rep_->Take(RecordSink{out}, cap, &remaining_);
}

size_t Cursor::NextColumns(int64_t* ts, uint64_t* handles, size_t cap) {
  return rep_->Take(ColumnSink{ts, handles}, cap, &remaining_);
}

std::unique_ptr<Cursor> NewCursor(ReadState** st) {
  std::unique_ptr<Cursor> c(new Cursor());
  *st = &c->rep_->st;
  return c;
}

void OpenCursor(Cursor* c, int64_t lo, int64_t hi, bool reverse) {
  c->remaining_ = c->rep_->Open(lo, hi, reverse);
}

std::unique_ptr<Cursor> MakeCursor(const ReadState& st, int64_t lo, int64_t hi,
                                   bool reverse) {
  ReadState* mine;
  std::unique_ptr<Cursor> c = NewCursor(&mine);
  *mine = st;
  OpenCursor(c.get(), lo, hi, reverse);
  return c;
}

std::unique_ptr<Cursor> Cursor::Reversed() const {
  return MakeCursor(rep_->st, rep_->lo, rep_->hi, !rep_->reverse);
}

std::unique_ptr<Cursor> Snapshot::Range(int64_t lo, int64_t hi,
                                        bool reverse) const {
  return MakeCursor(rep_->st, lo, hi, reverse);
}

}  // namespace timelog
