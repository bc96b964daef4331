// Writes and reads: appends (single, batch, sorted, unsorted, huge), stable
// order of duplicates through every layer, int64 extremes, empty and inverted
// ranges, point queries, reverse cursors, exact Remaining, page spans and
// snapshot isolation. (Tombstones: engine_tombstone_test.cc; AdoptSortedBatch:
// engine_adopt_test.cc.)

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::AppendBoth;
using testing_util::ApplyStage;
using testing_util::Collect;
using testing_util::CollectAll;
using testing_util::ExpectMatches;
using testing_util::Handles;
using testing_util::kNumStages;
using testing_util::kSettled;
using testing_util::Model;
using testing_util::Rec;
using testing_util::SettleAll;
using testing_util::SmallConfig;
using testing_util::SortedByTs;
using testing_util::StageName;

// Tests with an engine and its model use the fixture's e_, m_ and h_;
// ForEachStage runs a body once per maintenance stage.
class EngineWriteRead : public testing_util::StagedEngineTest {};

// ---------------------------------------------------------------- basics

TEST_F(EngineWriteRead, EmptyEngine) {
  auto e = Engine::Create(SmallConfig());
  auto s = e->GetSnapshot();
  EXPECT_TRUE(s->Empty());
  EXPECT_EQ(s->Count(kMinTs, kMaxTs), 0u);
  EXPECT_EQ(s->MinTs(), std::nullopt);
  EXPECT_EQ(s->MaxTs(), std::nullopt);
  EXPECT_EQ(s->Ceil(0), std::nullopt);
  EXPECT_EQ(s->Floor(0), std::nullopt);
  EXPECT_FALSE(s->Contains(0));
  EXPECT_FALSE(s->Contains(kMinTs));
  std::vector<uint64_t> eq;
  s->Equal(0, &eq);
  EXPECT_TRUE(eq.empty());
  auto c = s->Range(kMinTs, kMaxTs);
  EXPECT_EQ(c->Remaining(), 0u);
  Record buf[4];
  EXPECT_EQ(c->Next(buf, 4), 0u);
  EXPECT_TRUE(s->PageSpans(kMinTs, kMaxTs).empty());
  EXPECT_FALSE(e->MaintStep());
}

TEST_F(EngineWriteRead, SingleAppendVisibleImmediately) {
  auto e = Engine::Create(SmallConfig());
  EXPECT_EQ(e->Append(42, 7), WriteResult::kOk);
  auto s = e->GetSnapshot();
  EXPECT_EQ(Collect(*s), (std::vector<Rec>{{42, 7}}));
  EXPECT_EQ(s->Count(42, 42), 1u);
  EXPECT_EQ(s->Count(43, kMaxTs), 0u);
  EXPECT_EQ(s->Count(kMinTs, 41), 0u);
  EXPECT_TRUE(s->Contains(42));
  EXPECT_FALSE(s->Contains(41));
  EXPECT_EQ(s->MinTs(), 42);
  EXPECT_EQ(s->MaxTs(), 42);
}

TEST_F(EngineWriteRead, AppendsMatchModelInEveryStage) {
  ForEachStage([&](int stage) {
    std::mt19937_64 rng(stage + 1);
    for (uint64_t h = 1; h <= 2000; ++h) {
      int64_t ts =
          static_cast<int64_t>(h) + static_cast<int64_t>(rng() % 50) - 25;
      AppendBoth(e_.get(), &m_, ts, h);
    }
    ApplyStage(e_.get(), stage);
    Check({-30, -25, 0, 1, 500, 1999, 2024, 2025, 3000});
  });
}

TEST_F(EngineWriteRead, BatchSorted) {
  auto e = Engine::Create(SmallConfig());
  std::vector<int64_t> ts(1000);
  std::vector<uint64_t> h(1000);
  for (int i = 0; i < 1000; ++i) {
    ts[i] = i * 3;
    h[i] = i + 1;
  }
  e->AppendBatch(ts.data(), h.data(), ts.size());
  auto got = CollectAll(*e);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(got[i], (Rec{i * 3, uint64_t(i + 1)}));
  EXPECT_EQ(e->GetSnapshot()->Count(3, 9), 3u);
  SettleAll(e.get());
  EXPECT_EQ(CollectAll(*e), got);
}

TEST_F(EngineWriteRead, BatchUnsortedIsSortedStably) {
  ForEachStage([&](int stage) {
    std::mt19937_64 rng(99 + stage);
    std::vector<int64_t> ts(3000);
    std::vector<uint64_t> h(3000);
    for (size_t i = 0; i < ts.size(); ++i) {
      ts[i] = static_cast<int64_t>(rng() % 300) - 150;  // many duplicates
      h[i] = i + 1;
      m_.Append(ts[i], h[i]);
    }
    e_->AppendBatch(ts.data(), h.data(), ts.size());
    ApplyStage(e_.get(), stage);
    Check({-151, -150, -1, 0, 149, 150});
  });
}

TEST_F(EngineWriteRead, EmptyBatchIsNoop) {
  auto e = Engine::Create(SmallConfig());
  EXPECT_EQ(e->AppendBatch(nullptr, nullptr, 0), WriteResult::kOk);
  EXPECT_TRUE(e->GetSnapshot()->Empty());
}

TEST_F(EngineWriteRead, BatchAfterSinglesInterleaves) {
  for (int i = 0; i < 100; ++i) AppendBoth(e_.get(), &m_, i * 2, 1000 + i);
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
  for (int i = 0; i < 100; ++i) {
    ts.push_back(199 - i * 2);  // descending odd, and all below the tail
    h.push_back(2000 + i);
    m_.Append(ts.back(), h.back());
  }
  e_->AppendBatch(ts.data(), h.data(), ts.size());
  Check({-1, 0, 1, 100, 199, 200});
  SettleAll(e_.get());
  Check({-1, 0, 1, 100, 199, 200});
}

// ---------------------------------------------------------------- stable order

TEST_F(EngineWriteRead, DuplicatesKeepInsertionOrderAcrossAllLayers) {
  Config c = SmallConfig();
  auto e = Engine::Create(c);
  std::vector<uint64_t> expect;
  uint64_t h = 0;
  auto dup = [&] {
    e->Append(5, ++h);
    expect.push_back(h);
  };
  auto check = [&](const char* where) {
    SCOPED_TRACE(where);
    auto s = e->GetSnapshot();
    std::vector<uint64_t> eq;
    s->Equal(5, &eq);
    EXPECT_EQ(eq, expect);
    EXPECT_EQ(Handles(Collect(*s, 5, 5)), expect);
    auto rev = Handles(Collect(*s, 5, 5, /*reverse=*/true));
    std::reverse(rev.begin(), rev.end());
    EXPECT_EQ(rev, expect);
    EXPECT_EQ(s->Count(5, 5), expect.size());
  };
  dup();
  dup();  // active memtable, in order
  check("memtable");
  e->Append(10, 100000);  // moves the in-order tail past 5
  dup();                  // out-of-order buffer
  dup();
  check("ooo");
  // Fill the memtable so it seals (sealed run, not flushed).
  for (int i = 0; i < 600; ++i) e->Append(20 + i, 200000 + i);
  dup();  // OOO in the new memtable
  check("sealed+ooo");
  e->Flush();
  check("l0");
  dup();
  e->Append(5, ++h);  // new memtable again: in order at first
  expect.push_back(h);
  check("l0+memtable");
  e->Flush();
  e->Compact();
  e->MaintStep();
  check("partial compaction");
  dup();
  SettleAll(e.get());
  check("l1");
  dup();
  e->Flush();
  check("l1+l0");
  SettleAll(e.get());
  check("l1 again");
}

TEST_F(EngineWriteRead, DuplicateHeavyBatchesAcrossFlushes) {
  for (int round = 0; round < 10; ++round) {
    std::vector<int64_t> ts;
    std::vector<uint64_t> hs;
    for (int i = 0; i < 200; ++i) {
      ts.push_back(i % 4);
      hs.push_back(++h_);
      m_.Append(ts.back(), h_);
    }
    e_->AppendBatch(ts.data(), hs.data(), ts.size());
    if (round % 3 == 0) e_->Flush();
    if (round % 4 == 1) SettleAll(e_.get());
  }
  Check({0, 1, 2, 3, 4});
  SettleAll(e_.get());
  Check({0, 1, 2, 3, 4});
}

// ---------------------------------------------------------------- extremes

TEST_F(EngineWriteRead, ExtremeTimestampsInEveryStage) {
  ForEachStage([&](int stage) {
    const int64_t vals[] = {0,          kMaxTs, kMinTs, kMaxTs - 1,
                            kMinTs + 1, -1,     kMaxTs, kMinTs};
    for (int64_t v : vals) Add(v);
    ApplyStage(e_.get(), stage);
    auto s = e_->GetSnapshot();
    ExpectMatches(
        *s, m_, {kMinTs, kMinTs + 1, kMinTs + 2, -1, 0, 1, kMaxTs - 1, kMaxTs});
    EXPECT_EQ(s->MinTs(), kMinTs);
    EXPECT_EQ(s->MaxTs(), kMaxTs);
    EXPECT_EQ(s->Count(kMinTs, kMinTs), 2u);
    EXPECT_EQ(s->Count(kMaxTs, kMaxTs), 2u);
    EXPECT_EQ(s->Count(kMinTs, kMaxTs), 8u);
    EXPECT_EQ(s->Ceil(kMaxTs), kMaxTs);
    EXPECT_EQ(s->Floor(kMinTs), kMinTs);
    EXPECT_EQ(Collect(*s, kMaxTs, kMaxTs).size(), 2u);
    EXPECT_EQ(Collect(*s, kMinTs, kMinTs, true).size(), 2u);
  });
}

TEST_F(EngineWriteRead, DeletesCoveringExtremes) {
  ForEachStage([&](int stage) {
    for (int64_t v : {kMinTs, kMinTs + 1, int64_t{0}, kMaxTs - 1, kMaxTs})
      Add(v);
    ApplyStage(e_.get(), stage);
    Delete(kMaxTs, kMaxTs);
    Check({kMinTs, 0, kMaxTs - 1, kMaxTs});
    Delete(kMinTs, kMinTs);
    ApplyStage(e_.get(), stage);
    Check({kMinTs, 0, kMaxTs - 1, kMaxTs});
    Delete(kMinTs, kMaxTs);
    Check({kMinTs, 0, kMaxTs});
    ApplyStage(e_.get(), kSettled);
    Check({kMinTs, 0, kMaxTs});
    e_->Append(kMaxTs, 77);
    e_->Append(kMinTs, 78);
    m_.Append(kMaxTs, 77);
    m_.Append(kMinTs, 78);
    ApplyStage(e_.get(), stage);
    Check({kMinTs, 0, kMaxTs});
  });
}

TEST_F(EngineWriteRead, EmptyAndInvertedRanges) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 100; ++i) e->Append(i, i);
  for (int stage = 0; stage < kNumStages; ++stage) {
    SCOPED_TRACE(StageName(stage));
    ApplyStage(e.get(), stage);
    auto s = e->GetSnapshot();
    EXPECT_EQ(s->Count(5, 4), 0u);
    EXPECT_EQ(s->Count(kMaxTs, kMinTs), 0u);
    EXPECT_EQ(s->Count(100, 200), 0u);
    EXPECT_EQ(s->Count(-100, -1), 0u);
    EXPECT_EQ(s->Count(5, 5), 1u);
    EXPECT_TRUE(Collect(*s, 5, 4).empty());
    EXPECT_TRUE(Collect(*s, 5, 4, true).empty());
    EXPECT_TRUE(Collect(*s, kMaxTs, kMinTs).empty());
    EXPECT_TRUE(Collect(*s, 101, kMaxTs).empty());
    EXPECT_EQ(s->Range(5, 4)->Remaining(), 0u);
    EXPECT_TRUE(s->PageSpans(5, 4).empty());
    EXPECT_TRUE(s->PageSpans(1000, 2000).empty());
  }
  // Inverted delete is a no-op.
  e->Delete(50, 10);
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 100u);
  e->Delete(kMaxTs, kMinTs);
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 100u);
}

// ---------------------------------------------------------------- point
// queries

TEST_F(EngineWriteRead, CeilFloorContainsEqualWithTombstones) {
  ForEachStage([&](int stage) {
    for (int64_t t : {10, 20, 20, 30, 40, 40, 40, 50}) Add(t);
    ApplyStage(e_.get(), stage);
    Delete(20, 20);
    Delete(35, 45);
    std::vector<int64_t> probes;
    for (int64_t t = 0; t <= 60; ++t) probes.push_back(t);
    auto s = e_->GetSnapshot();
    ExpectMatches(*s, m_, probes);
    EXPECT_EQ(s->Ceil(11), 30);
    EXPECT_EQ(s->Floor(49), 30);
    EXPECT_EQ(s->Ceil(51), std::nullopt);
    EXPECT_EQ(s->Floor(9), std::nullopt);
    EXPECT_FALSE(s->Contains(20));
    EXPECT_FALSE(s->Contains(40));
    ApplyStage(e_.get(), kSettled);
    Check(probes);
  });
}

TEST_F(EngineWriteRead, CountRandomRangesMatchesModel) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    int64_t ts = static_cast<int64_t>(rng() % 5000);
    Add(ts);
    if (i % 300 == 0) {
      int64_t lo = rng() % 5000, hi = lo + rng() % 200;
      Delete(lo, hi);
    }
    if (i % 700 == 0) e_->Flush();
    if (i % 1100 == 0) SettleAll(e_.get());
  }
  auto check = [&] {
    auto s = e_->GetSnapshot();
    for (int k = 0; k < 300; ++k) {
      int64_t lo = static_cast<int64_t>(rng() % 5200) - 100;
      int64_t hi = lo + static_cast<int64_t>(rng() % 1000) - 100;
      ASSERT_EQ(s->Count(lo, hi), m_.Count(lo, hi)) << lo << ".." << hi;
    }
    EXPECT_EQ(s->Count(kMinTs, kMaxTs), m_.size());
  };
  check();
  SettleAll(e_.get());
  check();
}

// ---------------------------------------------------------------- cursors

TEST_F(EngineWriteRead, ReverseCursorIsExactMirror) {
  ForEachStage([&](int stage) {
    std::mt19937_64 rng(stage);
    for (uint64_t h = 1; h <= 1500; ++h) e_->Append(rng() % 200, h);
    e_->Delete(50, 60);
    ApplyStage(e_.get(), stage);
    auto s = e_->GetSnapshot();
    for (auto [lo, hi] : {std::pair<int64_t, int64_t>{kMinTs, kMaxTs},
                          {0, 0},
                          {10, 100},
                          {55, 70},
                          {199, kMaxTs}}) {
      auto fwd = Collect(*s, lo, hi);
      auto rev = Collect(*s, lo, hi, true);
      std::reverse(rev.begin(), rev.end());
      EXPECT_EQ(fwd, rev) << lo << ".." << hi;
      EXPECT_EQ(fwd.size(), s->Count(lo, hi));
    }
  });
}

TEST_F(EngineWriteRead, CursorRemainingExactForAnyChunk) {
  auto e = Engine::Create(SmallConfig());
  for (uint64_t h = 0; h < 1000; ++h) e->Append(h % 300, h);
  e->Delete(100, 149);
  e->Flush();
  for (uint64_t h = 1000; h < 1300; ++h) e->Append(h % 300, h);
  auto s = e->GetSnapshot();
  const uint64_t total = s->Count(kMinTs, kMaxTs);
  EXPECT_EQ(total, 1150u);  // 1000 - 50 deleted ts * 3 copies + 300 later
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{64},
                       size_t{1024}, size_t{5000}}) {
    for (bool rev : {false, true}) {
      auto c = s->Range(kMinTs, kMaxTs, rev);
      EXPECT_EQ(c->Remaining(), total);
      auto got = testing_util::Drain(c.get(), chunk);
      EXPECT_EQ(got.size(), total) << "chunk " << chunk;
      EXPECT_EQ(c->Remaining(), 0u);
    }
  }
}

TEST_F(EngineWriteRead, CursorOutlivesSnapshotAndEngine) {
  for (uint64_t h = 0; h < 2000; ++h)
    AppendBoth(e_.get(), &m_, static_cast<int64_t>(h * 7919 % 1000), h);
  e_->Flush();
  for (uint64_t h = 2000; h < 2100; ++h)
    AppendBoth(e_.get(), &m_, static_cast<int64_t>(h), h);
  auto s = e_->GetSnapshot();
  auto c = s->Range(kMinTs, kMaxTs);
  auto rc = s->Range(kMinTs, kMaxTs, true);
  s.reset();
  e_.reset();
  auto got = testing_util::Drain(c.get(), 33);
  EXPECT_EQ(got, m_.Visible());
  auto rgot = testing_util::Drain(rc.get(), 1000);
  std::reverse(rgot.begin(), rgot.end());
  EXPECT_EQ(rgot, m_.Visible());
}

TEST_F(EngineWriteRead, HugeSortedBatch5M) {
  auto e = Engine::Create(testing_util::DisabledConfig());
  const size_t n = 5'000'000;
  auto cols = testing_util::IndexedColumns(n, [](size_t i) {
    return static_cast<int64_t>(i / 2);  // pairs of duplicates
  });
  // Committed in full even if the sealed queue overflows (kBusy is fine).
  e->AppendBatch(cols.ts.data(), cols.handles.data(), n);
  {
    auto s = e->GetSnapshot();
    EXPECT_EQ(s->Count(kMinTs, kMaxTs), n);
    EXPECT_EQ(s->MinTs(), 0);
    EXPECT_EQ(s->MaxTs(), static_cast<int64_t>(n / 2 - 1));
    std::vector<uint64_t> eq;
    s->Equal(1234567, &eq);
    EXPECT_EQ(eq, (std::vector<uint64_t>{2469134, 2469135}));
    EXPECT_EQ(s->Count(1000, 1999), 2000u);
  }
  SettleAll(e.get());
  auto s = e->GetSnapshot();
  auto cur = s->Range(kMinTs, kMaxTs);
  std::vector<Record> buf(4096);
  size_t i = 0;
  bool ok = true;
  while (size_t k = cur->Next(buf.data(), buf.size())) {
    for (size_t j = 0; j < k; ++j, ++i)
      if (buf[j].handle != i || buf[j].ts != static_cast<int64_t>(i / 2))
        ok = false;
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(i, n);
}

TEST_F(EngineWriteRead, HugeUnsortedBatch) {
  auto e = Engine::Create(testing_util::DisabledConfig());
  const size_t n = 1'000'000;
  std::mt19937_64 rng(5);
  auto cols = testing_util::IndexedColumns(
      n, [&](size_t) { return static_cast<int64_t>(rng() % 100000); });
  const std::vector<int64_t>& ts = cols.ts;
  e->AppendBatch(ts.data(), cols.handles.data(), n);
  // Reference: stable sort of indices by ts.
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](uint32_t a, uint32_t b) { return ts[a] < ts[b]; });
  auto verify = [&] {
    auto s = e->GetSnapshot();
    ASSERT_EQ(s->Count(kMinTs, kMaxTs), n);
    auto cur = s->Range(kMinTs, kMaxTs);
    std::vector<Record> buf(1024);
    size_t i = 0;
    size_t bad = 0;
    while (size_t k = cur->Next(buf.data(), buf.size())) {
      for (size_t j = 0; j < k; ++j, ++i)
        if (i >= n || buf[j].handle != idx[i]) ++bad;
    }
    EXPECT_EQ(i, n);
    EXPECT_EQ(bad, 0u);
  };
  verify();
  SettleAll(e.get());
  verify();
}

// ---------------------------------------------------------------- page spans

// Multiset of (ts, handle) over all spans; checks each span is sorted and
// inside [lo, hi].
std::vector<Rec> SpanRecords(const Snapshot& s, int64_t lo, int64_t hi) {
  std::vector<Rec> out;
  for (const PageSpan& p : s.PageSpans(lo, hi)) {
    EXPECT_GT(p.size, 0u);
    EXPECT_NE(p.ts, nullptr);
    EXPECT_NE(p.handles, nullptr);
    EXPECT_NE(p.owner, nullptr);
    for (size_t i = 0; i < p.size; ++i) {
      EXPECT_GE(p.ts[i], lo);
      EXPECT_LE(p.ts[i], hi);
      if (i > 0) {
        EXPECT_LE(p.ts[i - 1], p.ts[i]);
      }
      out.push_back({p.ts[i], p.handles[i]});
    }
  }
  std::sort(out.begin(), out.end(), [](const Rec& a, const Rec& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.handle < b.handle;
  });
  return out;
}

TEST_F(EngineWriteRead, PageSpansArePhysicalSortedAndClipped) {
  Config c = SmallConfig();
  testing_util::DropRecorder drops;
  drops.Attach(&c);
  auto e = Engine::Create(c);
  std::vector<Rec> all;
  for (uint64_t h = 0; h < 1000; ++h) {
    int64_t ts = static_cast<int64_t>(h * 37 % 500);
    e->Append(ts, h);
    all.push_back({ts, h});
  }
  e->Flush();           // everything immutable; the memtable is empty
  e->Delete(100, 199);  // not applied physically yet
  auto s = e->GetSnapshot();
  auto expected_in = [&](int64_t lo, int64_t hi) {
    auto dropped = drops.handles();
    std::vector<Rec> v;
    for (const Rec& r : all)
      if (r.ts >= lo && r.ts <= hi &&
          std::find(dropped.begin(), dropped.end(), r.handle) == dropped.end())
        v.push_back(r);
    std::sort(v.begin(), v.end(), [](const Rec& a, const Rec& b) {
      return a.ts != b.ts ? a.ts < b.ts : a.handle < b.handle;
    });
    return v;
  };
  EXPECT_EQ(SpanRecords(*s, kMinTs, kMaxTs), expected_in(kMinTs, kMaxTs));
  EXPECT_EQ(SpanRecords(*s, 150, 160),
            expected_in(150, 160));  // tombstoned, still there
  EXPECT_EQ(SpanRecords(*s, 0, 0), expected_in(0, 0));
  EXPECT_EQ(SpanRecords(*s, 499, kMaxTs), expected_in(499, kMaxTs));
  EXPECT_EQ(s->Count(150, 160), 0u);
}

TEST_F(EngineWriteRead, PageSpansExcludeActiveMemtable) {
  auto e = Engine::Create(SmallConfig());
  for (uint64_t h = 0; h < 10; ++h) e->Append(h, h);
  EXPECT_TRUE(e->GetSnapshot()->PageSpans(kMinTs, kMaxTs).empty());
  e->Flush();
  e->Append(100, 100);
  auto spans = SpanRecords(*e->GetSnapshot(), kMinTs, kMaxTs);
  EXPECT_EQ(spans.size(), 10u);
}

TEST_F(EngineWriteRead, PageSpanOutlivesEngine) {
  auto e = Engine::Create(SmallConfig());
  for (uint64_t h = 0; h < 3000; ++h) e->Append(h, h + 1);
  SettleAll(e.get());
  auto spans = e->GetSnapshot()->PageSpans(1000, 1999);
  e.reset();
  size_t total = 0;
  for (const PageSpan& p : spans) {
    for (size_t i = 0; i < p.size; ++i)
      EXPECT_EQ(p.handles[i], static_cast<uint64_t>(p.ts[i]) + 1);
    total += p.size;
  }
  EXPECT_EQ(total, 1000u);
}

// ---------------------------------------------------------------- snapshots

TEST_F(EngineWriteRead, OldSnapshotUnchangedByLaterActivity) {
  for (int i = 0; i < 1000; ++i) Add(i % 400);
  e_->Flush();
  for (int i = 0; i < 100; ++i) Add(i * 5);
  auto old = e_->GetSnapshot();
  const Model old_m = m_;
  const std::vector<int64_t> probes = {0, 5, 100, 399, 400};
  ExpectMatches(*old, old_m, probes);

  for (int i = 0; i < 700; ++i) e_->Append(i % 50, ++h_);
  ExpectMatches(*old, old_m, probes);
  e_->Delete(0, 200);
  ExpectMatches(*old, old_m, probes);
  e_->Flush();
  ExpectMatches(*old, old_m, probes);
  e_->MaintStep();
  ExpectMatches(*old, old_m, probes);
  e_->Compact();
  SettleAll(e_.get());
  ExpectMatches(*old, old_m, probes);
  e_->Cutoff(300);
  SettleAll(e_.get());
  ExpectMatches(*old, old_m, probes);
  e_.reset();  // shared ownership: still readable
  ExpectMatches(*old, old_m, probes);
}

TEST_F(EngineWriteRead, SnapshotOfMemtablePrefixIgnoresLaterAppends) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 10; ++i) e->Append(i, i);
  auto s = e->GetSnapshot();
  for (int i = 10; i < 20; ++i) e->Append(i, i);  // same memtable, later rows
  e->Append(3, 99);                               // OOO, later
  EXPECT_EQ(s->Count(kMinTs, kMaxTs), 10u);
  EXPECT_EQ(Collect(*s).size(), 10u);
  EXPECT_EQ(s->MaxTs(), 9);
  std::vector<uint64_t> eq;
  s->Equal(3, &eq);
  EXPECT_EQ(eq, (std::vector<uint64_t>{3}));
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 21u);
}

TEST_F(EngineWriteRead, ManySnapshotsEachSeeTheirPrefix) {
  auto e = Engine::Create(SmallConfig());
  std::vector<std::shared_ptr<const Snapshot>> snaps;
  for (int i = 0; i < 1500; ++i) {
    e->Append(i % 2 ? i : 5000 - i, i);  // alternate in-order and OOO
    if (i % 100 == 0) snaps.push_back(e->GetSnapshot());
    if (i % 400 == 399) e->Flush();
    if (i % 600 == 599) SettleAll(e.get());
  }
  e->Delete(kMinTs, kMaxTs);
  SettleAll(e.get());
  for (size_t k = 0; k < snaps.size(); ++k) {
    auto got = Collect(*snaps[k]);
    EXPECT_EQ(got.size(), k * 100 + 1);
    EXPECT_TRUE(SortedByTs(got));
    EXPECT_EQ(snaps[k]->Count(kMinTs, kMaxTs), k * 100 + 1);
  }
}

}  // namespace
}  // namespace timelog
