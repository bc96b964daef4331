// FenceIndex: building the static B+-tree of fence keys and searching it
// (fence.h has the layout and why).

#include "fence.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "alloc.h"

namespace timelog {

namespace {

constexpr size_t kLine = 64;

// Number of the node's 16 keys that are < t. Written so that the compiler
// emits compare + add (or a vector compare), never a branch.
inline size_t CountBelow(const int64_t* node, int64_t t) {
  size_t c = 0;
  for (size_t i = 0; i < FenceIndex::kNodeKeys; ++i) c += node[i] < t;
  return c;
}

}  // namespace

void FenceIndex::FreeAligned::operator()(int64_t* p) const { std::free(p); }

void FenceIndex::Build(const int64_t* ts, size_t n, size_t block_rows) {
  shift_ = 0;
  while ((size_t{1} << shift_) < block_rows) ++shift_;
  nodes_.reset();
  keys_ = 0;
  levels_ = 0;
  if (n == 0) return;
  const size_t fence = ((n - 1) >> shift_) + 1;  // fence keys (blocks)
  size_t count[kMaxLevels];                      // nodes per level
  count[0] = (fence + kNodeKeys - 1) / kNodeKeys;
  levels_ = 1;
  while (count[levels_ - 1] > 1) {
    count[levels_] = (count[levels_ - 1] + kFanout - 1) / kFanout;
    ++levels_;
  }
  // Root first, bottom level last.
  size_t off = 0;
  for (size_t l = levels_; l-- > 0;) {
    offset_[l] = off;
    off += count[l] * kNodeKeys;
  }
  keys_ = off;
  void* mem = std::aligned_alloc(kLine, keys_ * sizeof(int64_t));
  if (mem == nullptr) {
    ThrowAllocationError("a sorted run's search index", keys_, sizeof(int64_t));
  }
  nodes_.reset(static_cast<int64_t*>(mem));
  int64_t* out = nodes_.get();
  constexpr int64_t kPad = std::numeric_limits<int64_t>::max();
  // Bottom level: the fence keys, padded.
  int64_t* bottom = out + offset_[0];
  for (size_t j = 0; j < count[0] * kNodeKeys; ++j) {
    bottom[j] = j < fence ? ts[j << shift_] : kPad;
  }
  // Level l, node c, key i: the smallest key under child c * 17 + i + 1, i.e.
  // the first fence key of that child's first bottom node (span bottom nodes
  // per child).
  size_t span = 1;
  for (size_t l = 1; l < levels_; ++l) {
    int64_t* lev = out + offset_[l];
    for (size_t c = 0; c < count[l]; ++c) {
      for (size_t i = 0; i < kNodeKeys; ++i) {
        size_t child = c * kFanout + i + 1;
        lev[c * kNodeKeys + i] =
            child < count[l - 1] ? bottom[child * span * kNodeKeys] : kPad;
      }
    }
    span *= kFanout;
  }
}

namespace {

// The descent through the levels: the number of fence keys < t, given
// count(node) = the number of a node's keys < t. Always inlined, so each
// caller below gets its own copy compiled for its own target.
template <class Count>
[[gnu::always_inline]] inline size_t Descend(const int64_t* nodes,
                                             const size_t* offset,
                                             size_t levels, Count count) {
  constexpr size_t kKeys = FenceIndex::kNodeKeys;
  size_t k = 0;
  for (size_t l = levels - 1; l > 0; --l) {
    k = k * FenceIndex::kFanout + count(nodes + offset[l] + k * kKeys);
  }
  return k * kKeys + count(nodes + offset[0] + k * kKeys);
}

size_t FenceRankPortable(const int64_t* nodes, const size_t* offset,
                         size_t levels, int64_t t) {
  return Descend(nodes, offset, levels,
                 [t](const int64_t* node) { return CountBelow(node, t); });
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TIMELOG_FENCE_AVX2 1

// CountBelow with AVX2: four 4-key compares (each lane -1 if key < t) summed.
// Nodes are 64-byte aligned, so the loads are aligned.
struct CountBelowAvx2 {
  int64_t t;
  __attribute__((target("avx2"))) size_t operator()(const int64_t* node) const {
    const __m256i tv = _mm256_set1_epi64x(t);
    const __m256i* p = reinterpret_cast<const __m256i*>(node);
    __m256i a = _mm256_cmpgt_epi64(tv, _mm256_load_si256(p));
    __m256i b = _mm256_cmpgt_epi64(tv, _mm256_load_si256(p + 1));
    __m256i c = _mm256_cmpgt_epi64(tv, _mm256_load_si256(p + 2));
    __m256i d = _mm256_cmpgt_epi64(tv, _mm256_load_si256(p + 3));
    __m256i s =
        _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    __m128i x = _mm_add_epi64(_mm256_castsi256_si128(s),
                              _mm256_extracti128_si256(s, 1));
    x = _mm_add_epi64(x, _mm_unpackhi_epi64(x, x));
    return static_cast<size_t>(-_mm_cvtsi128_si64(x));
  }
};

__attribute__((target("avx2"))) size_t FenceRankAvx2(const int64_t* nodes,
                                                     const size_t* offset,
                                                     size_t levels, int64_t t) {
  return Descend(nodes, offset, levels, CountBelowAvx2{t});
}

// Whether the CPU has AVX2; read once at load time. The build targets
// baseline x86-64, so AVX2 is chosen at run time, not at compile time.
// __builtin_cpu_init first: this initializer is itself a static constructor,
// which may run before the one that fills in the CPU model.
const bool kHasAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2"));
#endif

size_t FenceRank(const int64_t* nodes, const size_t* offset, size_t levels,
                 int64_t t) {
#ifdef TIMELOG_FENCE_AVX2
  if (kHasAvx2) return FenceRankAvx2(nodes, offset, levels, t);
#endif
  return FenceRankPortable(nodes, offset, levels, t);
}

}  // namespace

size_t FenceIndex::LowerBound(const int64_t* ts, size_t n, int64_t t,
                              const uint64_t* companion) const {
  if (levels_ == 0) return 0;
  return FinishBlock(ts, n, t, FenceRank(nodes_.get(), offset_, levels_, t),
                     companion);
}

size_t FenceIndex::LowerBoundPortable(const int64_t* ts, size_t n,
                                      int64_t t) const {
  if (levels_ == 0) return 0;
  return FinishBlock(
      ts, n, t, FenceRankPortable(nodes_.get(), offset_, levels_, t), nullptr);
}

size_t FenceIndex::FinishBlock(const int64_t* ts, size_t n, int64_t t, size_t p,
                               const uint64_t* companion) const {
  // p = number of fence keys < t. Block p - 1 starts below t and block p (if
  // any) starts at or above it, so the answer is in (start of p - 1, start of
  // p].
  if (p == 0) return 0;
  const size_t b = (p - 1) << shift_;
  const size_t len = std::min(size_t{1} << shift_, n - b);
  const int64_t* blk = ts + b;
  if (len * sizeof(int64_t) <= 4 * kLine) {
    // Ask for every line of the block at once: the misses overlap instead of
    // being paid one binary-search probe at a time.
    constexpr size_t kStep = kLine / sizeof(int64_t);
    for (size_t i = 0; i < len; i += kStep) __builtin_prefetch(blk + i);
    __builtin_prefetch(blk + len - 1);
    if (companion != nullptr) {
      const uint64_t* c = companion + b;
      for (size_t i = 0; i < len; i += kStep) __builtin_prefetch(c + i);
      __builtin_prefetch(c + len - 1);
    }
  }
  return b + BranchlessLowerBound(blk, len, t);
}

}  // namespace timelog
