// Sequenced tombstones and cutoffs: insert-delete-insert in every layer,
// deletes hide only older records, cutoffs at the extremes, window
// arithmetic at the int64 extremes, and deletes meeting large batches.

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
using testing_util::CutoffBoth;
using testing_util::DeleteBoth;
using testing_util::ExpectMatches;
using testing_util::kNumStages;
using testing_util::kSettled;
using testing_util::Model;
using testing_util::Rec;
using testing_util::SettleAll;
using testing_util::SmallConfig;
using testing_util::StageName;

class EngineTombstones : public testing_util::StagedEngineTest {};

// ---------------------------------------------------------------- tombstones

TEST_F(EngineTombstones, InsertDeleteInsertInEveryLayer) {
  // For each pair of stages (applied after the first insert and after the
  // delete), the second insert stays visible and the first stays hidden.
  for (int s1 = 0; s1 < kNumStages; ++s1) {
    for (int s2 = 0; s2 < kNumStages; ++s2) {
      SCOPED_TRACE(std::string(StageName(s1)) + "/" + StageName(s2));
      auto e = Engine::Create(SmallConfig());
      for (int i = 0; i < 300; ++i) e->Append(1000 + i, 10000 + i);  // filler
      e->Append(7, 1);
      ApplyStage(e.get(), s1);
      e->Delete(7, 7);
      ApplyStage(e.get(), s2);
      e->Append(7, 2);
      for (int s3 = 0; s3 < kNumStages; ++s3) {
        ApplyStage(e.get(), s3);
        auto s = e->GetSnapshot();
        std::vector<uint64_t> eq;
        s->Equal(7, &eq);
        EXPECT_EQ(eq, (std::vector<uint64_t>{2})) << StageName(s3);
        EXPECT_EQ(s->Count(7, 7), 1u);
        EXPECT_EQ(s->Count(kMinTs, kMaxTs), 301u);
      }
    }
  }
}

TEST_F(EngineTombstones, DeleteHidesOnlyOlderRecords) {
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 100; ++i) Add(i);
    Delete(20 * round, 20 * round + 30);
    ApplyStage(e_.get(), round % kNumStages);
    Check({0, 10, 30, 31, 50, 99});
  }
  SettleAll(e_.get());
  Check({0, 10, 30, 31, 50, 99});
}

TEST_F(EngineTombstones, DeleteEverything) {
  ForEachStage([&](int stage) {
    for (uint64_t h = 0; h < 2000; ++h)
      e_->Append(static_cast<int64_t>(h) - 1000, h);
    ApplyStage(e_.get(), stage);
    e_->Delete(kMinTs, kMaxTs);
    auto s = e_->GetSnapshot();
    EXPECT_TRUE(s->Empty());
    EXPECT_EQ(s->MinTs(), std::nullopt);
    EXPECT_TRUE(Collect(*s).empty());
    SettleAll(e_.get());
    EXPECT_TRUE(e_->GetSnapshot()->Empty());
    EXPECT_EQ(e_->GetStats().records_estimate, 0u);
    e_->Append(3, 3);
    EXPECT_EQ(CollectAll(*e_), (std::vector<Rec>{{3, 3}}));
    EXPECT_TRUE(s->Empty());  // the old snapshot is unchanged
  });
}

TEST_F(EngineTombstones, DeleteSpanningManyWindows) {
  Config c = SmallConfig();
  c.window_size = 10;
  Reset(c);
  for (uint64_t h = 0; h < 2000; ++h)
    AppendBoth(e_.get(), &m_, static_cast<int64_t>(h), h);
  SettleAll(e_.get());
  EXPECT_GT(e_->GetStats().windows_l1, 50u);
  Delete(55, 1545);
  Check({54, 55, 56, 1545, 1546});
  SettleAll(e_.get());
  Check({54, 55, 56, 1545, 1546});
  EXPECT_EQ(e_->GetStats().records_physical, m_.size());
}

TEST_F(EngineTombstones, CutoffHidesOlderOnly) {
  ForEachStage([&](int stage) {
    for (int i = 0; i < 1000; ++i) Add(i);
    ApplyStage(e_.get(), stage);
    Cutoff(500);
    Check({0, 499, 500, 501});
    EXPECT_EQ(e_->GetSnapshot()->MinTs(), 500);
    // Later writes below the cutoff are visible (the engine hides only what
    // was written before).
    Add(10);
    ApplyStage(e_.get(), kSettled);
    Check({0, 10, 499, 500});
    e_->Cutoff(kMinTs);  // no-op
    Check({0, 10, 499, 500});
  });
}

TEST_F(EngineTombstones, CutoffAtExtremes) {
  for (int64_t t : {kMinTs, kMinTs + 1, int64_t{0}, kMaxTs - 1, kMaxTs}) Add(t);
  Cutoff(kMinTs + 1);
  Check({kMinTs, kMinTs + 1, kMaxTs});
  SettleAll(e_.get());
  Check({kMinTs, kMinTs + 1, kMaxTs});
  Cutoff(kMaxTs);
  Check({kMinTs, kMaxTs - 1, kMaxTs});
  EXPECT_EQ(e_->GetSnapshot()->Count(kMinTs, kMaxTs), 1u);
  SettleAll(e_.get());
  Check({kMinTs, kMaxTs - 1, kMaxTs});
}

// Window arithmetic near the int64 extremes: no overflow, no hang, exact data.
void ExtremeWindowScenario(int64_t window_size, int64_t origin) {
  SCOPED_TRACE("window_size=" + std::to_string(window_size) +
               " origin=" + std::to_string(origin));
  Config c = SmallConfig();
  c.window_size = window_size;
  c.window_origin = origin;
  auto e = Engine::Create(c);
  Model m;
  uint64_t h = 0;
  const int64_t pts[] = {kMinTs,
                         kMinTs + 1,
                         kMinTs + 2,
                         -2,
                         -1,
                         0,
                         1,
                         2,
                         origin,
                         origin == kMinTs ? origin : origin - 1,
                         origin == kMaxTs ? origin : origin + 1,
                         kMaxTs - 2,
                         kMaxTs - 1,
                         kMaxTs};
  for (int rep = 0; rep < 20; ++rep) {
    for (int64_t t : pts) AppendBoth(e.get(), &m, t, ++h);
  }
  std::vector<int64_t> probes(std::begin(pts), std::end(pts));
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
  DeleteBoth(e.get(), &m, kMinTs + 1, -1);
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
  DeleteBoth(e.get(), &m, 1, kMaxTs - 1);
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
  CutoffBoth(e.get(), &m, 0);
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
  for (int64_t t : pts) AppendBoth(e.get(), &m, t, ++h);
  CutoffBoth(e.get(), &m, kMaxTs);
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
  DeleteBoth(e.get(), &m, kMinTs, kMaxTs);
  SettleAll(e.get());
  ExpectMatches(*e->GetSnapshot(), m, probes);
}

TEST_F(EngineTombstones, WindowArithmeticUnitWindowAtExtremes) {
  ExtremeWindowScenario(1, 0);
  ExtremeWindowScenario(1, kMaxTs);
  ExtremeWindowScenario(1, kMinTs);
}

TEST_F(EngineTombstones, WindowArithmeticHugeWindows) {
  ExtremeWindowScenario(kMaxTs, 0);
  ExtremeWindowScenario(kMaxTs, kMinTs);
  ExtremeWindowScenario(kMaxTs, kMaxTs);
  ExtremeWindowScenario(kMaxTs - 1, -1);
  ExtremeWindowScenario(kMaxTs / 2 + 1, 12345);
}

TEST_F(EngineTombstones, WindowArithmeticOddSizesNearExtremes) {
  ExtremeWindowScenario(3, kMaxTs - 1);
  ExtremeWindowScenario(7, kMinTs + 5);
  ExtremeWindowScenario(3600000, kMinTs);
  ExtremeWindowScenario(1000000007, kMaxTs - 999);
}

TEST_F(EngineTombstones, LargeUnsortedBatchAfterDeleteStaysVisible) {
  // A large, mostly unsorted batch may take a dedicated sort path; it is
  // written after the delete, so none of it is hidden.
  ForEachStage([&](int stage) {
    for (int i = 0; i < 500; ++i) Add(i % 100);
    ApplyStage(e_.get(), stage);
    Delete(10, 60);
    std::mt19937_64 rng(stage);
    std::vector<int64_t> ts(20000);
    std::vector<uint64_t> hs(20000);
    for (size_t i = 0; i < ts.size(); ++i) {
      ts[i] = static_cast<int64_t>(rng() % 100);
      hs[i] = ++h_;
      m_.Append(ts[i], h_);
    }
    e_->AppendBatch(ts.data(), hs.data(), ts.size());
    Check({0, 10, 35, 60, 61, 99});
    Delete(50, 55);
    ApplyStage(e_.get(), stage);
    Check({0, 10, 35, 50, 55, 60, 61, 99});
    SettleAll(e_.get());
    Check({0, 10, 35, 50, 55, 60, 61, 99});
  });
}

TEST_F(EngineTombstones, ManyDeletesInsideOneMemtable) {
  // More deletes overlapping the active memtable than it can track cheaply:
  // interleaved appends and deletes must still match the model exactly.
  Config c = SmallConfig();
  c.memtable_max_bytes = 64 << 10;  // thousands of rows: no size seal
  c.ooo_budget_bytes = 32 << 10;
  Reset(c);
  std::mt19937_64 rng(77);
  for (int i = 0; i < 400; ++i) {
    for (int k = 0; k < 3; ++k) {
      int64_t ts = static_cast<int64_t>(rng() % 300);
      Add(ts);
    }
    int64_t lo = static_cast<int64_t>(rng() % 300);
    int64_t hi = lo + static_cast<int64_t>(rng() % 3);
    Delete(lo, hi);
    if (i % 50 == 0) {
      std::vector<int64_t> probes;
      for (int k = 0; k < 8; ++k)
        probes.push_back(static_cast<int64_t>(rng() % 310));
      Check(probes);
    }
  }
  Check({0, 1, 150, 299});
  e_->Flush();
  Check({0, 1, 150, 299});
  SettleAll(e_.get());
  Check({0, 1, 150, 299});
}

TEST_F(EngineTombstones, LargeSortedBatchTiesWithExistingData) {
  // Large sorted batches may be adopted as whole runs; ties with earlier
  // records (memtable, OOO, sealed, L0, L1) must still come after them, and
  // a delete written before the batch must not hide it.
  ForEachStage([&](int stage) {
    for (int i = 0; i < 300; ++i) {  // some sealed, some in the memtable
      Add(i * 10);
    }
    Add(55);  // OOO
    ApplyStage(e_.get(), stage);
    Delete(100, 200);
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<int64_t> ts;
      std::vector<uint64_t> hs;
      for (int i = 0; i < 9000; ++i) {
        ts.push_back(i / 3);  // sorted, ties inside the batch and with old data
        hs.push_back(++h_);
        m_.Append(ts.back(), h_);
      }
      e_->AppendBatch(ts.data(), hs.data(), ts.size());
      Check({0, 10, 55, 100, 150, 200, 2990, 2999, 3000});
      if (rep == 1) ApplyStage(e_.get(), stage);
    }
    SettleAll(e_.get());
    Check({0, 10, 55, 100, 150, 200, 2990, 2999, 3000});
  });
}

TEST_F(EngineTombstones, LargeSortedBatchStartingBelowTail) {
  for (int i = 0; i < 100; ++i) Add(100000 + i);
  std::vector<int64_t> ts;
  std::vector<uint64_t> hs;
  for (int i = 0; i < 50000; ++i) {
    ts.push_back(99000 + i / 20);  // below, equal to and above the tail
    hs.push_back(++h_);
    m_.Append(ts.back(), h_);
  }
  e_->AppendBatch(ts.data(), hs.data(), ts.size());
  Add(100050);
  Check({98999, 99000, 100000, 100050, 100099, 101499});
  SettleAll(e_.get());
  Check({98999, 99000, 100000, 100050, 100099, 101499});
}

}  // namespace
}  // namespace timelog
