// FenceIndex (the search tree over a run's first timestamp per block), the
// branchless block search, Run's bounds through them, and the point-read
// paths that use them (Engine/Snapshot Equal and Contains) against the
// cursor, which gathers and merges sources by different code.

#include "fence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "run.h"
#include "test_util.h"
#include "timelog/engine.h"

namespace timelog {
namespace {

constexpr int64_t kLo = std::numeric_limits<int64_t>::min();
constexpr int64_t kHi = std::numeric_limits<int64_t>::max();

// Probes that matter for `ts`: every key, its neighbours, the extremes.
std::vector<int64_t> Probes(const std::vector<int64_t>& ts) {
  std::vector<int64_t> q = {kLo, kLo + 1, -1, 0, 1, kHi - 1, kHi};
  for (int64_t v : ts) {
    q.push_back(v);
    if (v != kLo) q.push_back(v - 1);
    if (v != kHi) q.push_back(v + 1);
  }
  return q;
}

// Checks LowerBound/UpperBound of an index over `ts` against the standard
// algorithms for every probe.
void CheckIndex(const std::vector<int64_t>& ts, size_t block_rows) {
  ASSERT_TRUE(std::is_sorted(ts.begin(), ts.end()));
  FenceIndex idx;
  idx.Build(ts.data(), ts.size(), block_rows);
  for (int64_t t : Probes(ts)) {
    size_t lb = std::lower_bound(ts.begin(), ts.end(), t) - ts.begin();
    size_t ub = std::upper_bound(ts.begin(), ts.end(), t) - ts.begin();
    ASSERT_EQ(idx.LowerBound(ts.data(), ts.size(), t), lb)
        << "n=" << ts.size() << " block=" << block_rows << " t=" << t;
    ASSERT_EQ(idx.LowerBoundPortable(ts.data(), ts.size(), t), lb)
        << "n=" << ts.size() << " block=" << block_rows << " t=" << t;
    ASSERT_EQ(idx.UpperBound(ts.data(), ts.size(), t), ub)
        << "n=" << ts.size() << " block=" << block_rows << " t=" << t;
  }
}

// Calls f(d) for every non-decreasing sequence d of length n over the
// digits 0 .. top.
template <class F>
void ForEachNonDecreasing(size_t n, size_t top, F&& f) {
  std::vector<size_t> d(n, 0);
  for (;;) {
    f(d);
    // Next sequence (odometer from the right).
    size_t i = n;
    while (i > 0 && d[i - 1] == top) --i;
    if (i == 0) return;
    ++d[i - 1];
    for (size_t j = i; j < n; ++j) d[j] = d[i - 1];
  }
}

TEST(BranchlessLowerBoundTest, MatchesStdLowerBoundExhaustively) {
  // Every non-decreasing sequence of length <= 7 over {0, 1, 2, 3}.
  for (size_t n = 0; n <= 7; ++n) {
    ForEachNonDecreasing(n, 3, [&](const std::vector<size_t>& d) {
      std::vector<int64_t> v(d.begin(), d.end());
      for (int64_t t = -1; t <= 4; ++t) {
        ASSERT_EQ(BranchlessLowerBound(v.data(), n, t),
                  size_t(std::lower_bound(v.begin(), v.end(), t) - v.begin()));
      }
    });
  }
}

TEST(FenceIndexTest, EmptyIndexFindsNothing) {
  FenceIndex idx;
  idx.Build(nullptr, 0, 32);
  EXPECT_EQ(idx.levels(), 0u);
  EXPECT_EQ(idx.bytes(), 0u);
  EXPECT_EQ(idx.LowerBound(nullptr, 0, 0), 0u);
  EXPECT_EQ(idx.UpperBound(nullptr, 0, kHi), 0u);
  EXPECT_EQ(idx.LowerBound(nullptr, 0, kLo), 0u);
}

TEST(FenceIndexTest, ExhaustiveSmallSequences) {
  // Every non-decreasing sequence of length <= 9 over 4 values, with blocks
  // of 1, 2 and 4 rows (several blocks per node, partial last blocks).
  const int64_t vals[] = {kLo, -5, 7, kHi};
  for (size_t n = 0; n <= 9; ++n) {
    ForEachNonDecreasing(n, 3, [&](const std::vector<size_t>& d) {
      std::vector<int64_t> ts(n);
      for (size_t i = 0; i < n; ++i) ts[i] = vals[d[i]];
      for (size_t block : {1, 2, 4}) CheckIndex(ts, block);
    });
  }
}

TEST(FenceIndexTest, EveryLengthAcrossNodeAndLevelBoundaries) {
  // Block 1 puts one key per fence entry: lengths around 16 (one node),
  // 16 * 17 (two levels) and 16 * 17 * 17 (three levels).
  for (size_t n : {1, 2, 15, 16, 17, 31, 32, 33, 271, 272, 273, 289, 4623, 4624,
                   4625, 5000}) {
    std::vector<int64_t> ts(n);
    for (size_t i = 0; i < n; ++i) ts[i] = static_cast<int64_t>(i) * 3;
    for (size_t block : {1, 2, 32}) CheckIndex(ts, block);
  }
}

TEST(FenceIndexTest, LevelsGrowWithTheFanout) {
  std::vector<int64_t> ts(32 * 16 * 17 + 1);
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<int64_t>(i);
  FenceIndex idx;
  idx.Build(ts.data(), 32 * 16, 32);  // 16 fence keys: the root alone
  EXPECT_EQ(idx.levels(), 1u);
  idx.Build(ts.data(), 32 * 16 + 1, 32);  // 17 keys: two bottom nodes
  EXPECT_EQ(idx.levels(), 2u);
  idx.Build(ts.data(), 32 * 16 * 17, 32);  // 17 bottom nodes: still two
  EXPECT_EQ(idx.levels(), 2u);
  idx.Build(ts.data(), ts.size(), 32);  // 18 bottom nodes: three levels
  EXPECT_EQ(idx.levels(), 3u);
  CheckIndex(ts, 32);
}

TEST(FenceIndexTest, SinglePageAndSingleRow) {
  CheckIndex({42}, 32);
  CheckIndex({kLo}, 32);
  CheckIndex({kHi}, 32);
  std::vector<int64_t> page;
  for (int i = 0; i < 32; ++i) page.push_back(i / 3);
  CheckIndex(page, 32);  // exactly one block
  page.resize(20);
  CheckIndex(page, 32);  // one partial block
}

TEST(FenceIndexTest, DuplicatesStraddlingBlocksAndNodes) {
  // Runs of equal keys of every length around the block size and around a
  // whole node of blocks, starting at every offset within a block.
  for (size_t len : {1, 31, 32, 33, 64, 65, 511, 512, 513, 600}) {
    for (size_t start : {0, 1, 16, 31, 32, 33}) {
      std::vector<int64_t> ts;
      for (size_t i = 0; i < start; ++i) ts.push_back(static_cast<int64_t>(i));
      for (size_t i = 0; i < len; ++i) ts.push_back(1000);
      for (size_t i = 0; i < 100; ++i)
        ts.push_back(2000 + static_cast<int64_t>(i));
      CheckIndex(ts, 32);
      CheckIndex(ts, 4);
    }
  }
}

TEST(FenceIndexTest, ExtremeKeys) {
  // INT64_MIN and INT64_MAX as real keys, in runs that cross blocks; the
  // node padding is INT64_MAX, which must never be mistaken for a key.
  std::vector<int64_t> all_min(100, kLo), all_max(100, kHi);
  CheckIndex(all_min, 32);
  CheckIndex(all_max, 32);
  CheckIndex(all_max, 1);
  std::vector<int64_t> both(70, kLo);
  both.insert(both.end(), 70, 0);
  both.insert(both.end(), 700, kHi);
  for (size_t block : {1, 2, 32, 64}) CheckIndex(both, block);
}

TEST(FenceIndexTest, NonPowerOfTwoBlockRoundsUp) {
  std::vector<int64_t> ts(1000);
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<int64_t>(i / 2);
  FenceIndex idx;
  idx.Build(ts.data(), ts.size(), 100);
  EXPECT_EQ(idx.block_rows(), 128u);
  CheckIndex(ts, 100);
  CheckIndex(ts, 4096);  // coarse: one block spans the whole column
}

TEST(FenceIndexTest, RandomizedAgainstStdBounds) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    size_t n = rng() % (iter < 250 ? 3000 : 200000);
    // Few distinct values (long duplicate runs) or many.
    int64_t spread = (rng() % 2) ? 50 : 1000000;
    std::vector<int64_t> ts(n);
    for (auto& v : ts) v = static_cast<int64_t>(rng() % spread) - spread / 2;
    if (n && rng() % 4 == 0) ts[0] = kLo;
    if (n && rng() % 4 == 0) ts[n - 1] = kHi;
    std::sort(ts.begin(), ts.end());
    size_t block = size_t{1} << (rng() % 13);  // 1 .. 4096
    FenceIndex idx;
    idx.Build(ts.data(), n, block);
    for (int k = 0; k < 500; ++k) {
      int64_t t;
      if (n && k % 2) {
        // A key or a neighbour of it, without overflowing past the extremes.
        t = ts[rng() % n];
        int d = static_cast<int>(rng() % 3);
        if (d == 0 && t != kLo) --t;
        if (d == 2 && t != kHi) ++t;
      } else {
        t = static_cast<int64_t>(rng() % (spread + 10)) - spread / 2 - 5;
      }
      ASSERT_EQ(idx.LowerBound(ts.data(), n, t),
                size_t(std::lower_bound(ts.begin(), ts.end(), t) - ts.begin()))
          << "n=" << n << " block=" << block << " t=" << t;
      ASSERT_EQ(idx.LowerBoundPortable(ts.data(), n, t),
                size_t(std::lower_bound(ts.begin(), ts.end(), t) - ts.begin()))
          << "n=" << n << " block=" << block << " t=" << t;
      ASSERT_EQ(idx.UpperBound(ts.data(), n, t),
                size_t(std::upper_bound(ts.begin(), ts.end(), t) - ts.begin()))
          << "n=" << n << " block=" << block << " t=" << t;
    }
  }
}

TEST(RunIndexTest, BoundsMinMaxAndBytes) {
  std::vector<int64_t> ts(5000);
  for (size_t i = 0; i < ts.size(); ++i)
    ts[i] = static_cast<int64_t>(i / 7 * 10);
  std::vector<uint64_t> h(ts.size());
  for (size_t i = 0; i < h.size(); ++i) h[i] = i;
  std::vector<int64_t> copy = ts;
  RunPtr r = Run::FromVectors(&ts, &h, 256);
  EXPECT_EQ(r->min_ts(), copy.front());
  EXPECT_EQ(r->max_ts(), copy.back());
  EXPECT_TRUE(r->MayContain(copy.front()));
  EXPECT_TRUE(r->MayContain(copy.back()));
  EXPECT_FALSE(r->MayContain(copy.front() - 1));
  EXPECT_FALSE(r->MayContain(copy.back() + 1));
  // 16 bytes per row plus about a quarter of a byte of index.
  EXPECT_LE(r->bytes(), copy.size() * 16 + copy.size() / 2 + 4096);
  for (int64_t t : Probes(copy)) {
    size_t lb = std::lower_bound(copy.begin(), copy.end(), t) - copy.begin();
    size_t ub = std::upper_bound(copy.begin(), copy.end(), t) - copy.begin();
    ASSERT_EQ(r->LowerBound(t), lb) << t;
    ASSERT_EQ(r->LowerBoundForRead(t), lb) << t;
    ASSERT_EQ(r->UpperBound(t), ub) << t;
    ASSERT_EQ(r->UpperBoundFrom(lb, t), ub) << t;
  }
}

TEST(RunIndexTest, EmptyRunContainsNothing) {
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
  RunPtr r = Run::FromVectors(&ts, &h, 256);
  EXPECT_EQ(r->size(), 0u);
  EXPECT_FALSE(r->MayContain(0));
  EXPECT_FALSE(r->MayContain(kLo));
  EXPECT_FALSE(r->MayContain(kHi));
  EXPECT_EQ(r->LowerBound(0), 0u);
  EXPECT_EQ(r->UpperBound(kHi), 0u);
}

// Handles at exactly t as a cursor over [t, t] returns them.
std::vector<uint64_t> CursorAt(const Snapshot& s, int64_t t) {
  std::vector<uint64_t> out;
  auto c = s.Range(t, t);
  Record buf[64];
  while (size_t k = c->Next(buf, 64)) {
    for (size_t i = 0; i < k; ++i) out.push_back(buf[i].handle);
  }
  return out;
}

// Point reads through every path agree with the cursor, on data spread over
// the memtable (in order and out of order, with marks), sealed runs, L0 and
// L1, with tombstones applied logically and physically.
TEST(PointReadTest, EqualAndContainsMatchTheCursorEverywhere) {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  c.memtable_max_bytes = 16 << 10;  // ~1000 rows: frequent seals
  c.target_page_bytes = 256;
  c.window_size = 500;
  c.sealed_max_runs = 64;
  auto e = Engine::Create(c);
  std::mt19937_64 rng(11);
  uint64_t handle = 1;
  int64_t now = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 300; ++i) {
      now += static_cast<int64_t>(rng() % 3);  // many duplicates
      int64_t ts =
          rng() % 10 == 0 ? now - static_cast<int64_t>(rng() % 200) : now;
      e->Append(ts, handle++);
    }
    if (rng() % 3 == 0) {
      int64_t lo = static_cast<int64_t>(rng() % (now + 1));
      e->Delete(lo, lo + static_cast<int64_t>(rng() % 20));
    }
    switch (rng() % 4) {
      case 0:
        e->Flush();
        break;
      case 1:
        while (e->MaintStep()) {
        }
        break;
      case 2:
        e->Compact();
        for (int k = 0; k < 3; ++k) e->MaintStep();
        break;
      default:
        break;  // leave it in the memtable / sealed runs
    }
    auto snap = e->GetSnapshot();
    for (int64_t t = -2; t <= now + 2;
         t += 1 + static_cast<int64_t>(rng() % 4)) {
      std::vector<uint64_t> want = CursorAt(*snap, t);
      std::vector<uint64_t> got_snap, got_eng;
      snap->Equal(t, &got_snap);
      e->Equal(t, &got_eng);  // nothing was written since the snapshot
      ASSERT_EQ(got_snap, want) << "round " << round << " t=" << t;
      ASSERT_EQ(got_eng, want) << "round " << round << " t=" << t;
      ASSERT_EQ(snap->Contains(t), !want.empty()) << t;
      ASSERT_EQ(e->Contains(t), !want.empty()) << t;
    }
  }
}

TEST(PointReadTest, ExtremeTimestampsInEveryLayer) {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  auto e = Engine::Create(c);
  e->Append(kLo, 1);
  e->Append(kLo, 2);
  e->Append(0, 3);
  e->Append(kHi, 4);
  auto check = [&](const char* where) {
    std::vector<uint64_t> out;
    e->Equal(kLo, &out);
    EXPECT_EQ(out, (std::vector<uint64_t>{1, 2})) << where;
    out.clear();
    e->Equal(kHi, &out);
    EXPECT_EQ(out, (std::vector<uint64_t>{4})) << where;
    EXPECT_TRUE(e->Contains(kHi)) << where;
    EXPECT_FALSE(e->Contains(kHi - 1)) << where;
    EXPECT_FALSE(e->Contains(kLo + 1)) << where;
  };
  check("memtable");
  e->Flush();
  check("L0");
  e->Compact();
  while (e->MaintStep()) {
  }
  check("L1");
  e->Delete(kHi, kHi);
  EXPECT_FALSE(e->Contains(kHi));
  EXPECT_TRUE(e->Contains(kLo));
}

}  // namespace
}  // namespace timelog
