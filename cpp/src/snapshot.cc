// Snapshot and Cursor: the public read API over a ReadState.

#include <algorithm>
#include <cstring>
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
    throw std::invalid_argument(
        "CountBy: nbuckets is " + std::to_string(nbuckets) + ", the range has " +
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

struct SrcState {
  const Run* run;
  std::vector<IdxRange> vis;  // visible row ranges, ascending
  size_t vi;                  // current range (forward: from front; reverse: from back)
  size_t pos;                 // forward: next row; reverse: one past next row
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

struct Cursor::Rep {
  ReadState st;  // keeps the version and memtable views alive
  std::vector<SrcState> srcs;
  bool reverse = false;
  int64_t lo = 0, hi = -1;  // the range it was made for (Reversed)
  size_t live = 0;

  bool Exhausted(const SrcState& s) const { return s.vi >= s.vis.size(); }
  int64_t Peek(const SrcState& s) const {
    return reverse ? s.run->ts()[s.pos - 1] : s.run->ts()[s.pos];
  }
  void Fix(SrcState& s) {
    // Move to the next non-empty visible range.
    if (!reverse) {
      while (s.vi < s.vis.size() && s.pos >= s.vis[s.vi].e) {
        if (++s.vi < s.vis.size()) s.pos = s.vis[s.vi].b;
      }
    } else {
      // vis is consumed from the back; vi counts consumed ranges.
      while (s.vi < s.vis.size() &&
             s.pos <= s.vis[s.vis.size() - 1 - s.vi].b) {
        if (++s.vi < s.vis.size()) s.pos = s.vis[s.vis.size() - 1 - s.vi].e;
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
    size_t end = s.vis[s.vi].e;
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
    size_t begin = s.vis[s.vis.size() - 1 - s.vi].b;
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

Cursor::Cursor() : rep_(new Rep) {}
Cursor::~Cursor() = default;

size_t Cursor::Next(Record* out, size_t cap) {
  return rep_->Take(RecordSink{out}, cap, &remaining_);
}

size_t Cursor::NextColumns(int64_t* ts, uint64_t* handles, size_t cap) {
  return rep_->Take(ColumnSink{ts, handles}, cap, &remaining_);
}

// Builds a cursor over `st` (which the cursor keeps).
std::unique_ptr<Cursor> MakeCursor(ReadState st, int64_t lo, int64_t hi,
                                   bool reverse) {
  std::unique_ptr<Cursor> c(new Cursor());
  Cursor::Rep& r = *c->rep_;
  r.st = std::move(st);
  r.reverse = reverse;
  r.lo = lo;
  r.hi = hi;
  if (lo > hi) return c;
  std::vector<Source> srcs;
  r.st.Gather(lo, hi, &srcs);
  uint64_t total = 0;
  for (const Source& s : srcs) {
    SrcState ss{s.run, {}, 0, 0};
    size_t b = s.run->LowerBound(lo);
    size_t e = hi == kMaxTs ? s.run->size() : s.run->UpperBoundFrom(b, hi);
    SourceVisible(s, b, e, &ss.vis);
    if (ss.vis.empty()) continue;
    for (const IdxRange& v : ss.vis) total += v.e - v.b;
    ss.pos = reverse ? ss.vis.back().e : ss.vis.front().b;
    r.srcs.push_back(std::move(ss));
  }
  c->remaining_ = total;
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
