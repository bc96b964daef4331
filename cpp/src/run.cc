// Run: an immutable sorted (ts, handle) column pair with its fence index, and
// the merges that build runs.

#include "run.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "alloc.h"

namespace timelog {

void ColumnBuilder::Reserve(size_t n) {
  if (n > cap_) Grow(n);
}

void ColumnBuilder::Grow(size_t need) {
  size_t cap = std::max<size_t>({need, cap_ * 2, 16});
  auto ts = NewArray<int64_t>(cap, "a sorted run's timestamp column");
  auto h = NewArray<uint64_t>(cap, "a sorted run's object column");
  if (n_ > 0) {
    std::memcpy(ts.get(), ts_.get(), n_ * sizeof(int64_t));
    std::memcpy(h.get(), h_.get(), n_ * sizeof(uint64_t));
  }
  ts_ = std::move(ts);
  h_ = std::move(h);
  cap_ = cap;
}

void ColumnBuilder::PushRange(const int64_t* ts, const uint64_t* h, size_t n) {
  if (n == 0) return;
  if (n_ + n > cap_) Grow(n_ + n);
  std::memcpy(ts_.get() + n_, ts, n * sizeof(int64_t));
  std::memcpy(h_.get() + n_, h, n * sizeof(uint64_t));
  n_ += n;
}

std::shared_ptr<const Run> Run::FromBuilder(ColumnBuilder&& b,
                                            size_t page_rows) {
  std::shared_ptr<Run> r(new Run());
  r->n_ = b.n_;
  r->page_rows_ = page_rows;
  if (b.cap_ != b.n_) {
    // Shrink to the exact size: runs live long, builders over-allocate.
    auto ts =
        NewArray<int64_t>(b.n_ ? b.n_ : 1, "a sorted run's timestamp column");
    auto h =
        NewArray<uint64_t>(b.n_ ? b.n_ : 1, "a sorted run's object column");
    if (b.n_) {
      std::memcpy(ts.get(), b.ts_.get(), b.n_ * sizeof(int64_t));
      std::memcpy(h.get(), b.h_.get(), b.n_ * sizeof(uint64_t));
    }
    r->own_ts_ = std::move(ts);
    r->own_h_ = std::move(h);
  } else {
    r->own_ts_ = std::move(b.ts_);
    r->own_h_ = std::move(b.h_);
  }
  b.n_ = b.cap_ = 0;
  r->ts_ = r->own_ts_.get();
  r->h_ = r->own_h_.get();
  r->BuildIndex(kFenceBlockRows);
  r->bytes_ = r->n_ * (sizeof(int64_t) + sizeof(uint64_t)) + r->index_.bytes() +
              sizeof(Run);
  return r;
}

std::shared_ptr<const Run> Run::FromVectors(std::vector<int64_t>* ts,
                                            std::vector<uint64_t>* h,
                                            size_t page_rows) {
  std::shared_ptr<Run> r(new Run());
  r->n_ = ts->size();
  r->page_rows_ = page_rows;
  r->ts_ = ts->data();
  r->BuildIndex(kFenceBlockRows);  // reads the columns in place; may throw,
                                   // nothing taken yet
  // Moving a vector keeps its buffer (and so the pointers above) and cannot
  // throw.
  r->vec_ts_ = std::move(*ts);
  r->vec_h_ = std::move(*h);
  ts->clear();
  h->clear();
  r->ts_ = r->vec_ts_.data();
  r->h_ = r->vec_h_.data();
  r->bytes_ = r->vec_ts_.capacity() * sizeof(int64_t) +
              r->vec_h_.capacity() * sizeof(uint64_t) + r->index_.bytes() +
              sizeof(Run);
  return r;
}

std::shared_ptr<const Run> Run::Wrap(const int64_t* ts, const uint64_t* h,
                                     size_t n, size_t page_rows,
                                     std::shared_ptr<const void> owner,
                                     size_t owner_bytes, size_t index_rows) {
  std::shared_ptr<Run> r(new Run());
  r->ts_ = ts;
  r->h_ = h;
  r->n_ = n;
  r->page_rows_ = page_rows;
  r->owner_ = std::move(owner);
  r->BuildIndex(index_rows);
  r->bytes_ = owner_bytes + r->index_.bytes() + sizeof(Run);
  return r;
}

void Run::BuildIndex(size_t index_rows) {
  if (n_ > 0) {
    min_ = ts_[0];
    max_ = ts_[n_ - 1];
  }
  index_.Build(ts_, n_, index_rows);
}

size_t Run::UpperBoundFrom(size_t from, int64_t t) const {
  if (from >= n_ || ts_[from] > t) return from;
  // ts_[from] <= t: double the step until it overshoots, then search.
  size_t lo = from, step = 1;
  while (lo + step < n_ && ts_[lo + step] <= t) {
    lo += step;
    step *= 2;
    if (step >= page_rows_) return UpperBound(t);  // far away: use the index
  }
  size_t hi = std::min(n_, lo + step);
  return std::upper_bound(ts_ + lo + 1, ts_ + hi, t) - ts_;
}

namespace {

// Stable two-way merge; a wins ties.
void Merge2(const ColumnSlice& a, const ColumnSlice& b, ColumnBuilder* out) {
  out->Reserve(out->size() + a.n + b.n);
  size_t i = 0, j = 0;
  // Fast paths for disjoint inputs (the common in-order case).
  if (a.n == 0 || b.n == 0 || a.ts[a.n - 1] <= b.ts[0]) {
    out->PushRange(a.ts, a.h, a.n);
    out->PushRange(b.ts, b.h, b.n);
    return;
  }
  if (b.ts[b.n - 1] < a.ts[0]) {
    out->PushRange(b.ts, b.h, b.n);
    out->PushRange(a.ts, a.h, a.n);
    return;
  }
  while (i < a.n && j < b.n) {
    if (b.ts[j] < a.ts[i]) {
      // Emit the whole stretch of b that precedes a[i].
      size_t k = std::lower_bound(b.ts + j, b.ts + b.n, a.ts[i]) - b.ts;
      out->PushRange(b.ts + j, b.h + j, k - j);
      j = k;
    } else {
      size_t k = std::upper_bound(a.ts + i, a.ts + a.n, b.ts[j]) - a.ts;
      out->PushRange(a.ts + i, a.h + i, k - i);
      i = k;
    }
  }
  out->PushRange(a.ts + i, a.h + i, a.n - i);
  out->PushRange(b.ts + j, b.h + j, b.n - j);
}

}  // namespace

void MergeSlices(const std::vector<ColumnSlice>& srcs, ColumnBuilder* out) {
  std::vector<ColumnSlice> live;
  size_t total = 0;
  for (const auto& s : srcs) {
    if (s.n) live.push_back(s);
    total += s.n;
  }
  if (live.empty()) return;
  if (live.size() == 1) {
    out->PushRange(live[0].ts, live[0].h, live[0].n);
    return;
  }
  // Balanced pairwise reduction: neighbours merge, so age order (and with it
  // tie order) is preserved. O(n log k).
  std::vector<ColumnBuilder> bufs;
  while (live.size() > 2) {
    std::vector<ColumnBuilder> next_bufs((live.size() + 1) / 2);
    std::vector<ColumnSlice> next;
    for (size_t i = 0; i < live.size(); i += 2) {
      ColumnBuilder& nb = next_bufs[i / 2];
      if (i + 1 < live.size()) {
        Merge2(live[i], live[i + 1], &nb);
      } else {
        nb.PushRange(live[i].ts, live[i].h, live[i].n);
      }
      next.push_back({nb.ts(), nb.handles(), nb.size()});
    }
    bufs = std::move(next_bufs);  // keeps the slices in `next` alive
    live = std::move(next);
  }
  out->Reserve(out->size() + total);
  Merge2(live[0], live[1], out);
}

void AppendStableSorted(const int64_t* ts, const uint64_t* h,
                        const std::vector<uint32_t>& idx, ColumnBuilder* out) {
  struct Key {
    int64_t ts;
    uint32_t pos;  // position in idx: the tie-break that makes it stable
  };
  std::vector<Key> keys(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    keys[i] = {ts[idx[i]], static_cast<uint32_t>(i)};
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return a.ts < b.ts || (a.ts == b.ts && a.pos < b.pos);
  });
  out->Reserve(out->size() + keys.size());
  for (const Key& k : keys) out->Push(k.ts, h[idx[k.pos]]);
}

}  // namespace timelog
