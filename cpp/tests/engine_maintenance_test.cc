// Maintenance (seal, flush, compaction, cutoff window drops), statistics
// counters, and drop reporting: every physically removed record is reported
// exactly once, after publish, never while still visible in the newest
// version; CollectHandles + drops == every handle ever written.

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::AppendBoth;
using testing_util::AppendSeq;
using testing_util::Collect;
using testing_util::CollectAll;
using testing_util::Distinct;
using testing_util::H;
using testing_util::Handles;
using testing_util::HandlesOf;
using testing_util::Model;
using testing_util::MultisetDiff;
using testing_util::Rec;
using testing_util::SettleAll;
using testing_util::SmallConfig;

// Every test may build its engine with Make() (drops recorded and checked
// against the newest snapshot) or MakeRecorded() (drops only recorded).
class EngineMaintenance : public testing_util::GuardedEngineTest {};

// ---------------------------------------------------------------- flush / seal

TEST_F(EngineMaintenance, FlushOnEmptyEngineDoesNothing) {
  auto e = Engine::Create(SmallConfig());
  e->Flush();
  Stats s = e->GetStats();
  EXPECT_EQ(s.seals_total, 0u);
  EXPECT_EQ(s.segments_l0, 0u);
  EXPECT_EQ(s.sealed_runs, 0u);
  EXPECT_EQ(s.records_physical, 0u);
  EXPECT_FALSE(e->MaintStep());
}

TEST_F(EngineMaintenance, FlushMovesMemtableToL0) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 100; ++i) e->Append(i, i);
  Stats before = e->GetStats();
  EXPECT_EQ(before.active_records, 100u);
  EXPECT_EQ(before.segments_l0, 0u);
  EXPECT_EQ(before.records_estimate, 100u);
  e->Flush();
  Stats s = e->GetStats();
  EXPECT_EQ(s.active_records, 0u);
  EXPECT_EQ(s.ooo_records, 0u);
  EXPECT_EQ(s.sealed_runs, 0u);
  EXPECT_GE(s.segments_l0, 1u);
  EXPECT_GE(s.pages_total, 1u);
  EXPECT_EQ(s.seals_total, before.seals_total + 1);
  EXPECT_GE(s.flushes_total, before.flushes_total + 1);
  EXPECT_EQ(s.records_estimate, 100u);
  EXPECT_EQ(s.records_physical, 100u);
  EXPECT_EQ(s.min_ts, 0);
  EXPECT_EQ(s.max_ts, 99);
}

TEST_F(EngineMaintenance, AutoSealQueuesRunsAndMaintStepFlushesOne) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 2000; ++i) e->Append(i, i);
  Stats s = e->GetStats();
  ASSERT_GE(s.seals_total, 2u);
  EXPECT_EQ(s.sealed_runs, s.seals_total);  // nothing flushes in disabled mode
  EXPECT_EQ(s.segments_l0, 0u);
  EXPECT_EQ(s.records_estimate, 2000u);
  ASSERT_TRUE(e->MaintStep());
  Stats t = e->GetStats();
  EXPECT_EQ(t.sealed_runs, s.sealed_runs - 1);
  EXPECT_EQ(t.flushes_total, s.flushes_total + 1);
  EXPECT_EQ(t.records_estimate, 2000u);
  EXPECT_EQ(CollectAll(*e).size(), 2000u);
}

TEST_F(EngineMaintenance, ActiveAndOooCounters) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 10; ++i) e->Append(100 + i, i);
  for (int i = 0; i < 5; ++i) e->Append(1 + i, 100 + i);
  Stats s = e->GetStats();
  EXPECT_EQ(s.ooo_records, 5u);
  EXPECT_EQ(s.active_records, 15u);
  EXPECT_EQ(s.records_estimate, 15u);
  EXPECT_EQ(s.min_ts, 1);
  EXPECT_EQ(s.max_ts, 109);
}

TEST_F(EngineMaintenance, OooBudgetForcesSeal) {
  Config c = SmallConfig();
  c.ooo_budget_bytes = 256;  // ~16 records
  auto e = Engine::Create(c);
  Model m;
  for (int i = 0; i < 100; ++i) AppendBoth(e.get(), &m, 10000 + i, i);
  for (int i = 0; i < 100; ++i) AppendBoth(e.get(), &m, 5000 - i, 1000 + i);
  Stats s = e->GetStats();
  EXPECT_GE(s.ooo_budget_hits, 1u);
  EXPECT_GE(s.seals_total, 1u);
  EXPECT_LE(s.ooo_records * 16, 256u + 16);
  testing_util::ExpectMatches(*e->GetSnapshot(), m, {4901, 5000, 10000});
}

TEST_F(EngineMaintenance, CompactMovesL0IntoL1Windows) {
  Config c = SmallConfig();
  c.window_size = 100;
  auto e = Engine::Create(c);
  for (int i = 0; i < 1000; ++i) e->Append(i, i);
  e->Flush();
  Stats a = e->GetStats();
  EXPECT_GE(a.segments_l0, 1u);
  e->Compact();  // disabled mode: only a request
  EXPECT_EQ(e->GetStats().segments_l0, a.segments_l0);
  int steps = 0;
  while (e->MaintStep()) ++steps;
  EXPECT_GE(steps, 1);
  Stats s = e->GetStats();
  EXPECT_EQ(s.segments_l0, 0u);
  EXPECT_GE(s.segments_l1, 1u);
  EXPECT_GE(s.windows_l1, 10u);  // ts 0..999 on a grid of 100
  EXPECT_GE(s.compactions_total, a.compactions_total + 1);
  EXPECT_EQ(s.records_estimate, 1000u);
  EXPECT_EQ(s.window_size, 100);
  EXPECT_FALSE(e->MaintStep());
}

TEST_F(EngineMaintenance, L0CountTriggersCompactionWithoutRequest) {
  Config c = SmallConfig();
  c.max_delta_segments = 2;
  auto e = Engine::Create(c);
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 50; ++i) e->Append(round * 50 + i, round * 50 + i);
    e->Flush();
  }
  while (e->MaintStep()) {
  }
  Stats s = e->GetStats();
  EXPECT_LE(s.segments_l0, 2u);
  EXPECT_GE(s.compactions_total, 1u);
  EXPECT_EQ(CollectAll(*e).size(), 300u);
}

TEST_F(EngineMaintenance, MaintStepEventuallyIdleAndStaysIdle) {
  auto e = Engine::Create(SmallConfig());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) e->Append(rng() % 10000, i);
  e->Delete(100, 5000);
  SettleAll(e.get());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(e->MaintStep());
  e->Compact();
  int extra = 0;
  while (e->MaintStep() && extra < 1000) ++extra;
  EXPECT_LT(extra, 1000);
}

TEST_F(EngineMaintenance, StatsTombstonesAndEstimates) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 100; ++i) e->Append(i, i);
  e->Delete(10, 19);
  e->Delete(50, 50);
  Stats s = e->GetStats();
  EXPECT_GE(s.tombstone_count, 2u);
  EXPECT_EQ(s.records_estimate, 89u);
  EXPECT_GE(s.records_physical, 89u);
  EXPECT_EQ(s.min_ts, 0);
  e->Delete(0, 9);
  EXPECT_EQ(e->GetStats().min_ts, 20);
  SettleAll(e.get());
  Stats t = e->GetStats();
  EXPECT_EQ(t.records_estimate, 79u);
  EXPECT_EQ(t.records_physical, 79u);
  EXPECT_EQ(t.min_ts, 20);
  EXPECT_EQ(t.max_ts, 99);
}

TEST_F(EngineMaintenance, EngineBytesShrinkAfterDeleteAndCompaction) {
  Config c = SmallConfig();
  c.memtable_max_bytes = 64 << 10;
  c.target_page_bytes = 4096;
  auto e = Engine::Create(c);
  for (int i = 0; i < 100000; ++i) e->Append(i, i);
  SettleAll(e.get());
  Stats a = e->GetStats();
  EXPECT_GT(a.engine_bytes, 0u);
  e->Delete(0, 89999);
  SettleAll(e.get());
  Stats b = e->GetStats();
  EXPECT_EQ(b.records_physical, 10000u);
  EXPECT_LT(b.engine_bytes, a.engine_bytes / 2);
}

// ---------------------------------------------------------------- drops

TEST_F(EngineMaintenance, DropsAreExactlyTheDeletedRecords) {
  Engine* e = Make(SmallConfig());
  std::vector<uint64_t> deleted, kept;
  for (int64_t ts = 0; ts < 1000; ++ts) {
    e->Append(ts, H(ts, 0));
    ((ts >= 200 && ts < 400) || ts % 10 == 3 ? deleted : kept)
        .push_back(H(ts, 0));
  }
  e->Flush();
  e->Delete(200, 399);
  for (int64_t ts = 3; ts < 1000; ts += 10)
    if (ts < 200 || ts >= 400) e->Delete(ts, ts);
  EXPECT_EQ(drops_.size(), 0u);  // nothing removed before maintenance
  SettleAll(e);
  EXPECT_EQ(MultisetDiff(drops_.handles(), deleted), "");
  EXPECT_TRUE(Distinct(drops_.handles()));
  EXPECT_EQ(e->GetStats().records_dropped, deleted.size());
  EXPECT_EQ(guard_.violations.load(), 0u);
  EXPECT_EQ(guard_.checked.load(), deleted.size());
  std::vector<uint64_t> rest;
  e->CollectHandles(&rest);
  EXPECT_EQ(MultisetDiff(rest, kept), "");
}

TEST_F(EngineMaintenance, InsertDeleteInsertDropsOnlyTheFirst) {
  Engine* e = Make(SmallConfig());
  e->Append(7, H(7, 1));
  e->Flush();
  e->Delete(7, 7);
  e->Append(7, H(7, 2));
  SettleAll(e);
  EXPECT_EQ(drops_.handles(), (std::vector<uint64_t>{H(7, 1)}));
  std::vector<uint64_t> eq;
  e->GetSnapshot()->Equal(7, &eq);
  EXPECT_EQ(eq, (std::vector<uint64_t>{H(7, 2)}));
  EXPECT_EQ(guard_.violations.load(), 0u);
}

TEST_F(EngineMaintenance, DeletesInMemtableAreReportedAfterMaintenance) {
  Engine* e = Make(SmallConfig());
  AppendSeq(e, 0, 100);
  for (int64_t ts = 50; ts > 40; --ts) e->Append(ts, H(ts, 1));  // OOO
  e->Delete(30, 60);
  std::vector<uint64_t> deleted = HandlesOf(30, 61);
  for (int64_t ts = 41; ts <= 50; ++ts) deleted.push_back(H(ts, 1));
  e->Flush();  // seal may already drop them
  SettleAll(e);
  EXPECT_EQ(MultisetDiff(drops_.handles(), deleted), "");
  EXPECT_EQ(guard_.violations.load(), 0u);
  std::vector<uint64_t> rest;
  e->CollectHandles(&rest);
  EXPECT_EQ(rest.size(), 69u);
}

TEST_F(EngineMaintenance, CutoffDropsWholeWindowsAndReportsThem) {
  Engine* e = Make(100);
  AppendSeq(e, 0, 2000);
  SettleAll(e);
  Stats a = e->GetStats();
  e->Cutoff(1000);
  SettleAll(e);
  Stats b = e->GetStats();
  EXPECT_GE(b.windows_dropped, a.windows_dropped + 10);
  EXPECT_EQ(b.records_physical, 1000u);
  EXPECT_EQ(MultisetDiff(drops_.handles(), HandlesOf(0, 1000)), "");
  EXPECT_EQ(guard_.violations.load(), 0u);
  EXPECT_EQ(e->GetSnapshot()->MinTs(), 1000);
}

TEST_F(EngineMaintenance, CutoffMidWindowKeepsTheRest) {
  Engine* e = MakeRecorded(SmallWindow(100));
  AppendSeq(e, 0, 1000);
  SettleAll(e);
  e->Cutoff(450);
  SettleAll(e);
  auto got = CollectAll(*e);
  ASSERT_EQ(got.size(), 550u);
  EXPECT_EQ(got.front().ts, 450);
  EXPECT_EQ(MultisetDiff(drops_.handles(), HandlesOf(0, 450)), "");
}

TEST_F(EngineMaintenance, OldSnapshotStillReadsDroppedRecords) {
  Engine* e = MakeRecorded(SmallConfig());
  AppendSeq(e, 0, 500);
  e->Flush();
  auto old = e->GetSnapshot();
  auto before = Collect(*old);
  e->Delete(0, 499);
  SettleAll(e);
  EXPECT_EQ(drops_.size(), 500u);
  EXPECT_EQ(Collect(*old), before);
  EXPECT_EQ(old->Count(kMinTs, kMaxTs), 500u);
  engine_.reset();
  EXPECT_EQ(Collect(*old), before);
}

TEST_F(EngineMaintenance, DropsNeverRepeatedAcrossManyRounds) {
  Engine* e = Make(50);
  std::vector<uint64_t> written;
  std::mt19937_64 rng(11);
  int k = 0;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 200; ++i) {
      int64_t ts = rng() % 1000;
      uint64_t h = H(ts, k++);
      e->Append(ts, h);
      written.push_back(h);
    }
    int64_t lo = rng() % 1000;
    e->Delete(lo, lo + rng() % 100);
    if (round % 5 == 4) e->Cutoff(round * 20);
    if (round % 2)
      SettleAll(e);
    else
      e->MaintStep();
  }
  SettleAll(e);
  auto d = drops_.handles();
  EXPECT_TRUE(Distinct(d));
  EXPECT_EQ(guard_.violations.load(), 0u);
  EXPECT_EQ(e->GetStats().records_dropped, d.size());
  std::vector<uint64_t> rest;
  e->CollectHandles(&rest);
  std::vector<uint64_t> all = rest;
  all.insert(all.end(), d.begin(), d.end());
  EXPECT_EQ(MultisetDiff(all, written), "");
  // Everything still stored that is not visible is a tombstoned record; after
  // full compaction nothing invisible should remain.
  EXPECT_EQ(rest.size(), e->GetSnapshot()->Count(kMinTs, kMaxTs));
}

TEST_F(EngineMaintenance, CollectHandlesCoversEveryLayer) {
  auto e = Engine::Create(SmallConfig());
  std::vector<uint64_t> written;
  uint64_t h = 0;
  for (int i = 0; i < 300; ++i) {
    e->Append(i, ++h);
    written.push_back(h);
  }
  SettleAll(e.get());  // L1
  for (int i = 0; i < 300; ++i) {
    e->Append(1000 + i, ++h);
    written.push_back(h);
  }
  e->Flush();  // L0
  for (int i = 0; i < 600; ++i) {
    e->Append(2000 + i, ++h);  // sealed runs + memtable
    written.push_back(h);
  }
  for (int i = 0; i < 10; ++i) {
    e->Append(1500 - i, ++h);  // OOO
    written.push_back(h);
  }
  e->Delete(0, 10);  // tombstoned but still stored
  std::vector<uint64_t> got;
  e->CollectHandles(&got);
  EXPECT_EQ(MultisetDiff(got, written), "");
  EXPECT_FALSE(e->MaintenanceRunning());
}

TEST_F(EngineMaintenance, CollectHandlesOnEmptyEngine) {
  auto e = Engine::Create(SmallConfig());
  std::vector<uint64_t> got{42};
  e->CollectHandles(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{42}));  // appends, never clears
}

TEST_F(EngineMaintenance, DestructionReportsNothing) {
  Engine* e = MakeRecorded(SmallConfig());
  for (int i = 0; i < 1000; ++i) e->Append(i, i);
  e->Delete(0, 499);
  e->Flush();
  engine_.reset();
  // Anything reported must be a deleted record, each at most once.
  auto d = drops_.handles();
  EXPECT_TRUE(Distinct(d));
  for (uint64_t h : d) EXPECT_LT(h, 500u);
}

TEST_F(EngineMaintenance, DeleteDebtThresholdTriggersRewrite) {
  Config c = SmallWindow(1000);
  c.delete_debt_threshold = 0.2;
  Engine* e = MakeRecorded(c);
  AppendSeq(e, 0, 1000);
  SettleAll(e);
  e->Delete(0, 499);  // 50% of the window
  e->Flush();
  int steps = 0;
  while (e->MaintStep() && steps < 10000) ++steps;  // no Compact() request
  EXPECT_EQ(drops_.size(), 500u);
  EXPECT_EQ(e->GetStats().records_physical, 500u);
}

TEST_F(EngineMaintenance, BackgroundWorkerReportsDrops) {
  Config c = SmallConfig();
  c.maintenance = MaintenanceMode::kBackground;
  c.maintenance_wakeup_ms = 5;
  Engine* e = Make(c);
  EXPECT_TRUE(e->MaintenanceRunning());
  AppendSeq(e, 0, 3000);
  e->Delete(1000, 1999);
  e->Flush();
  e->Compact();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (drops_.size() < 1000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(drops_.size(), 1000u);
  e->StopMaintenance();
  EXPECT_EQ(MultisetDiff(drops_.handles(), HandlesOf(1000, 2000)), "");
  EXPECT_EQ(guard_.violations.load(), 0u);
  guard_.engine = nullptr;
  std::vector<uint64_t> rest;
  e->CollectHandles(&rest);
  EXPECT_EQ(rest.size(), 2000u);
}

TEST_F(EngineMaintenance, BackgroundCompactionSettlesData) {
  Config c = SmallConfig();
  c.maintenance = MaintenanceMode::kBackground;
  c.maintenance_wakeup_ms = 5;
  auto e = Engine::Create(c);
  Model m;
  for (uint64_t h = 0; h < 5000; ++h) {
    int64_t ts = static_cast<int64_t>(h * 7 % 3000);
    AppendBoth(e.get(), &m, ts, h);
  }
  e->Flush();
  e->Compact();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (e->GetStats().segments_l0 > 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Stats s = e->GetStats();
  EXPECT_EQ(s.segments_l0, 0u);
  EXPECT_GE(s.segments_l1, 1u);
  testing_util::ExpectMatches(*e->GetSnapshot(), m, {0, 7, 2999});
}

}  // namespace
}  // namespace timelog
