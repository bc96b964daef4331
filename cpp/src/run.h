// Run: the immutable sorted run, the storage unit of sealed runs, L0 segments
// and L1 window runs.
//
// Thread safety: a Run is immutable after construction and may be read from
// any number of threads without synchronisation. It is shared through
// std::shared_ptr; publication to other threads happens through the engine's
// version mutex, whose release/acquire orders the construction before any
// read.

#ifndef TIMELOG_SRC_RUN_H_
#define TIMELOG_SRC_RUN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fence.h"
#include "timelog/engine.h"

namespace timelog {

// A half-open interval [b, e) of row indices.
struct IdxRange {
  size_t b;
  size_t e;
};

// Growable pair of columns used while building runs. Not thread-safe.
class ColumnBuilder {
 public:
  void Reserve(size_t n);
  void Push(int64_t ts, uint64_t h) {
    if (n_ == cap_) Grow(n_ + 1);
    ts_[n_] = ts;
    h_[n_] = h;
    ++n_;
  }
  void PushRange(const int64_t* ts, const uint64_t* h, size_t n);
  size_t size() const { return n_; }
  const int64_t* ts() const { return ts_.get(); }
  const uint64_t* handles() const { return h_.get(); }

 private:
  friend class Run;
  void Grow(size_t need);
  std::unique_ptr<int64_t[]> ts_;
  std::unique_ptr<uint64_t[]> h_;
  size_t n_ = 0;
  size_t cap_ = 0;
};

class Run {
 public:
  // Takes the builder's columns (which must be sorted by ts, ties in
  // insertion order). page_rows > 0.
  static std::shared_ptr<const Run> FromBuilder(ColumnBuilder&& b,
                                                size_t page_rows);
  // Takes the vectors' storage (sorted by ts, ties in insertion order),
  // leaving them empty. Strong guarantee: everything that can throw happens
  // before the storage is taken, so on an exception both vectors are intact.
  static std::shared_ptr<const Run> FromVectors(std::vector<int64_t>* ts,
                                                std::vector<uint64_t>* h,
                                                size_t page_rows);
  // Wraps columns owned by `owner` without copying them. `index_rows` is the
  // block size of the search index: kFenceBlockRows for runs that live long;
  // a short-lived view rebuilt often (the memtable's) passes a coarser one,
  // which is cheaper to build.
  static std::shared_ptr<const Run> Wrap(const int64_t* ts, const uint64_t* h,
                                         size_t n, size_t page_rows,
                                         std::shared_ptr<const void> owner,
                                         size_t owner_bytes,
                                         size_t index_rows = kFenceBlockRows);

  size_t size() const { return n_; }
  const int64_t* ts() const { return ts_; }
  const uint64_t* handles() const { return h_; }
  // Copies of ts()[0] and ts()[size() - 1] held in the Run itself, so that
  // deciding whether a run can hold t touches no column memory. An empty run
  // has min_ts() = INT64_MAX > max_ts() = INT64_MIN: it contains nothing.
  int64_t min_ts() const { return min_; }
  int64_t max_ts() const { return max_; }
  bool MayContain(int64_t t) const { return min_ <= t && t <= max_; }
  size_t page_rows() const { return page_rows_; }
  size_t pages() const { return (n_ + page_rows_ - 1) / page_rows_; }
  // Bytes this run keeps allocated (columns + search index).
  size_t bytes() const { return bytes_; }
  // True if the run borrows another object's columns (a sealed memtable's),
  // which may be larger than the run: flush repacks such runs when mostly
  // empty.
  bool wrapped() const { return owner_ != nullptr; }

  // First row with ts >= t (n if none), through the FenceIndex: one 128-byte
  // node per index level, then one block of index_rows rows.
  size_t LowerBound(int64_t t) const { return index_.LowerBound(ts_, n_, t); }
  // LowerBound(t) for a point lookup, which reads the handles next: their
  // rows are prefetched with the timestamps'.
  size_t LowerBoundForRead(int64_t t) const {
    return index_.LowerBound(ts_, n_, t, h_);
  }
  // First row with ts > t (n if none).
  size_t UpperBound(int64_t t) const { return index_.UpperBound(ts_, n_, t); }
  // The same, knowing the answer is >= from: gallops forward from `from`, so
  // a short range costs a few nearby probes instead of a second full search.
  size_t UpperBoundFrom(size_t from, int64_t t) const;

 private:
  Run() = default;
  void BuildIndex(size_t index_rows);
  const int64_t* ts_ = nullptr;
  const uint64_t* h_ = nullptr;
  size_t n_ = 0;
  size_t page_rows_ = 1;
  size_t bytes_ = 0;
  int64_t min_ = kMaxTs;
  int64_t max_ = kMinTs;
  FenceIndex index_;
  std::unique_ptr<int64_t[]> own_ts_;
  std::unique_ptr<uint64_t[]> own_h_;
  std::vector<int64_t> vec_ts_;
  std::vector<uint64_t> vec_h_;
  std::shared_ptr<const void> owner_;
};

using RunPtr = std::shared_ptr<const Run>;

// Stable k-way merge of sorted column ranges. Sources earlier in `srcs` win
// ties (they are older). Appends to *out.
struct ColumnSlice {
  const int64_t* ts;
  const uint64_t* h;
  size_t n;
};
void MergeSlices(const std::vector<ColumnSlice>& srcs, ColumnBuilder* out);

// Appends rows idx[0..n) of (ts, h), reordered stably by timestamp, to *out.
// Sorts (ts, position) keys contiguously instead of comparing through an
// index: much faster than an indirect stable sort.
void AppendStableSorted(const int64_t* ts, const uint64_t* h,
                        const std::vector<uint32_t>& idx, ColumnBuilder* out);

}  // namespace timelog

#endif  // TIMELOG_SRC_RUN_H_
