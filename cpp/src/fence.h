// FenceIndex: the search index of a sorted run's timestamp column.
//
// The column is cut into blocks of `block_rows` rows (a power of two); the
// index holds the first timestamp of every block (the fence keys) as the
// bottom level of a static B+-tree with 16-key nodes (128 bytes, two cache
// lines, 64-byte aligned) and a fan-out of 17. Every level is stored
// contiguously, root first, so the top levels of a run stay cache resident.
// A search walks one node per level (a branchless count of the keys < t, no
// data-dependent branch), which gives the block holding the answer; the
// block is prefetched whole and finished with a branchless binary search.
// At the default 32 rows per block that is log17(n / 512) + 1 node visits
// plus one block of 256 bytes, instead of the ~log2(n) dependent probes of a
// plain binary search, at 0.27 bytes per row.
//
// Ties: duplicates may straddle block and node boundaries; every level
// counts keys strictly below t, so the search lands on the first row >= t
// whichever block the duplicates start in. INT64_MIN and INT64_MAX are
// ordinary keys (the node padding is INT64_MAX, which is never < t).
//
// Thread safety: immutable after Build(); any number of threads may search
// concurrently. Not copyable (a Run owns exactly one).

#ifndef TIMELOG_SRC_FENCE_H_
#define TIMELOG_SRC_FENCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace timelog {

// Rows per block of an immutable run's index (a power of two).
constexpr size_t kFenceBlockRows = 32;

class FenceIndex {
 public:
  static constexpr size_t kNodeKeys = 16;
  static constexpr size_t kFanout = kNodeKeys + 1;

  FenceIndex() = default;
  FenceIndex(const FenceIndex&) = delete;
  FenceIndex& operator=(const FenceIndex&) = delete;

  // Indexes ts[0..n) (sorted ascending); block_rows > 0 is rounded up to a
  // power of two.
  // The column must outlive the index and stay unchanged.
  void Build(const int64_t* ts, size_t n, size_t block_rows);

  // First row i of ts[0..n) with ts[i] >= t (n if none). `ts` and `n` must be
  // those given to Build(). If `companion` is given (a column of n 8-byte
  // values parallel to ts, e.g. the handles), the same rows of it are
  // prefetched along with the block: a point lookup reads them next, and the
  // two misses then overlap instead of following each other.
  size_t LowerBound(const int64_t* ts, size_t n, int64_t t,
                    const uint64_t* companion = nullptr) const;
  // LowerBound without the SIMD node search, whatever the CPU (for tests:
  // on an AVX2 machine LowerBound never runs the portable code).
  size_t LowerBoundPortable(const int64_t* ts, size_t n, int64_t t) const;
  // First row with ts[i] > t (n if none).
  size_t UpperBound(const int64_t* ts, size_t n, int64_t t) const {
    return t == INT64_MAX ? n : LowerBound(ts, n, t + 1);
  }

  size_t block_rows() const { return size_t{1} << shift_; }
  size_t levels() const { return levels_; }
  // Bytes allocated for the index.
  size_t bytes() const { return keys_ * sizeof(int64_t); }

 private:
  static constexpr size_t kMaxLevels = 16;
  // The answer, given p = the number of fence keys < t.
  size_t FinishBlock(const int64_t* ts, size_t n, int64_t t, size_t p,
                     const uint64_t* companion) const;
  struct FreeAligned {
    void operator()(int64_t* p) const;
  };
  std::unique_ptr<int64_t[], FreeAligned> nodes_;
  size_t keys_ = 0;    // allocated keys (all levels, padding included)
  size_t levels_ = 0;  // 0 iff the column is empty
  size_t shift_ = 0;   // log2(block_rows)
  // Offset (in keys) of each level's first node; level 0 is the bottom
  // (fence keys), level levels_-1 the root.
  size_t offset_[kMaxLevels] = {};
};

// Branchless lower bound in ts[0..len): first i with ts[i] >= t (len if none).
inline size_t BranchlessLowerBound(const int64_t* ts, size_t len, int64_t t) {
  if (len == 0) return 0;
  const int64_t* base = ts;
  while (len > 1) {
    size_t half = len / 2;
    // cmov, not a branch: the comparison outcome is unpredictable.
    base = base[half - 1] < t ? base + half : base;
    len -= half;
  }
  return static_cast<size_t>(base - ts) + (*base < t);
}

}  // namespace timelog

#endif  // TIMELOG_SRC_FENCE_H_
