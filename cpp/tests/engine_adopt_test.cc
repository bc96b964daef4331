// AdoptSortedBatch: the zero-copy path for large sorted batches (refusals,
// insertion order against older and newer records, deletes and drops).

#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::Collect;
using testing_util::DropRecorder;
using testing_util::Rec;
using testing_util::SettleAll;
using testing_util::SmallConfig;

// A sorted batch of n records: ts = base + i / dup (dup records per ts),
// handles first_handle, first_handle + 1, ...
void SortedBatch(size_t n, int64_t base, size_t dup, uint64_t first_handle,
                 std::vector<int64_t>* ts, std::vector<uint64_t>* h) {
  ts->clear();
  h->clear();
  for (size_t i = 0; i < n; ++i) {
    ts->push_back(base + static_cast<int64_t>(i / dup));
    h->push_back(first_handle + i);
  }
}

TEST(EngineAdopt, RefusesSmallOrUnsortedBatchesAndLeavesThemUntouched) {
  auto e = Engine::Create(SmallConfig());
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
  WriteResult r = WriteResult::kBusy;
  SortedBatch(kAdoptMinRecords - 1, 0, 1, 1, &ts, &h);
  EXPECT_FALSE(e->AdoptSortedBatch(&ts, &h, &r));
  EXPECT_EQ(ts.size(), kAdoptMinRecords - 1);
  SortedBatch(kAdoptMinRecords, 0, 1, 1, &ts, &h);
  std::swap(ts[10], ts[11]);
  ts[10] += 5;  // now unsorted
  EXPECT_FALSE(e->AdoptSortedBatch(&ts, &h, &r));
  EXPECT_EQ(ts.size(), kAdoptMinRecords);
  EXPECT_EQ(e->Count(kMinTs, kMaxTs), 0u) << "a refused batch stored something";
}

TEST(EngineAdopt, AdoptedBatchKeepsInsertionOrderWithOlderAndNewerRecords) {
  Config c = SmallConfig();
  c.sealed_max_runs = 1000;
  auto e = Engine::Create(c);
  // Older records at the same timestamps, in the memtable.
  e->Append(5, 900001);
  e->Append(7, 900002);
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
  SortedBatch(kAdoptMinRecords, 0, 4, 1, &ts, &h);  // ts 0 .. n/4 - 1
  WriteResult r;
  ASSERT_TRUE(e->AdoptSortedBatch(&ts, &h, &r));
  EXPECT_TRUE(ts.empty());
  EXPECT_TRUE(h.empty());
  e->Append(5, 900003);  // newer than the batch
  for (int stage = 0; stage < 3; ++stage) {
    std::vector<uint64_t> at5;
    e->Equal(5, &at5);
    std::vector<uint64_t> want = {900001, 21, 22, 23, 24, 900003};
    EXPECT_EQ(at5, want) << "stage " << stage;
    std::vector<uint64_t> at7;
    e->Equal(7, &at7);
    EXPECT_EQ(at7.front(), 900002u);
    EXPECT_EQ(e->Count(kMinTs, kMaxTs), kAdoptMinRecords + 3);
    if (stage == 0) e->Flush();
    if (stage == 1) SettleAll(e.get());
  }
}

TEST(EngineAdopt, DeletesApplyToAdoptedRunsAndDropsAreReportedOnce) {
  DropRecorder drops;
  Config c = SmallConfig();
  c.sealed_max_runs = 1000;
  drops.Attach(&c);
  auto e = Engine::Create(c);
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
  const size_t n = kAdoptMinRecords * 2;
  SortedBatch(n, 1000, 1, 1, &ts, &h);
  WriteResult r;
  ASSERT_TRUE(e->AdoptSortedBatch(&ts, &h, &r));
  auto before = e->GetSnapshot();
  e->Delete(1000, 1000 + 99);  // the first 100 records
  e->Append(1050, 777777);     // written after the delete: visible
  EXPECT_EQ(e->Count(kMinTs, kMaxTs), n - 100 + 1);
  SettleAll(e.get());
  EXPECT_EQ(e->Count(kMinTs, kMaxTs), n - 100 + 1);
  std::vector<uint64_t> at;
  e->Equal(1050, &at);
  EXPECT_EQ(at, std::vector<uint64_t>{777777});
  EXPECT_EQ(Collect(*before).size(), n) << "an old snapshot lost records";
  // Every handle is either still stored or was dropped, exactly once.
  std::vector<uint64_t> all = drops.handles();
  EXPECT_EQ(all.size(), 100u);
  e->CollectHandles(&all);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), n + 1);
}

}  // namespace
}  // namespace timelog
