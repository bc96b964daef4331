// Backpressure and the maintenance lifecycle: kBusy means "committed under
// pressure" (the data is visible); Flush relieves it; in background mode
// WaitForRoom returns once the worker has made room; StopMaintenance makes
// writes report kBusy at once; MaintStep throws in background mode;
// Start/Stop are idempotent and restartable.

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::AppendBoth;
using testing_util::CollectAll;
using testing_util::DeleteBoth;
using testing_util::Model;

using Clock = std::chrono::steady_clock;

Config TinyQueue(MaintenanceMode mode) {
  Config c;
  c.maintenance = mode;
  c.memtable_max_bytes = 1024;  // smallest accepted: seals every few dozen rows
  c.target_page_bytes = kMinPageBytes;
  c.sealed_max_runs = 1;
  c.maintenance_wakeup_ms = 5;
  c.window_size = 1000;
  return c;
}

// Appends in order until a write reports kBusy; returns how many were written.
int64_t FillUntilBusy(Engine* e, int64_t start, int64_t limit = 1000000) {
  for (int64_t i = start; i < start + limit; ++i) {
    if (e->Append(i, static_cast<uint64_t>(i)) == WriteResult::kBusy)
      return i - start + 1;
  }
  return -1;
}

TEST(EngineBackpressure, DisabledBusyWritesAreCommitted) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  int64_t n = FillUntilBusy(e.get(), 0);
  ASSERT_GT(n, 0) << "never reported busy";
  EXPECT_TRUE(e->UnderPressure());
  EXPECT_GE(e->GetStats().sealed_runs, 1u);
  // Every write so far, including the busy one, is visible.
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), static_cast<uint64_t>(n));
  // Further writes keep committing and keep reporting busy.
  for (int64_t i = n; i < n + 500; ++i)
    EXPECT_EQ(e->Append(i, static_cast<uint64_t>(i)), WriteResult::kBusy);
  EXPECT_EQ(e->Delete(0, 0), WriteResult::kBusy);
  EXPECT_EQ(e->Cutoff(1), WriteResult::kBusy);
  auto got = CollectAll(*e);
  ASSERT_EQ(got.size(), static_cast<size_t>(n + 500 - 1));
  EXPECT_EQ(got.front().ts, 1);
  EXPECT_EQ(got.back().ts, n + 499);
}

TEST(EngineBackpressure, BusyBatchIsCommittedInFull) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  std::vector<int64_t> ts(10000);
  std::vector<uint64_t> h(10000);
  for (size_t i = 0; i < ts.size(); ++i) {
    ts[i] = static_cast<int64_t>(i % 100);
    h[i] = i;
  }
  EXPECT_EQ(e->AppendBatch(ts.data(), h.data(), ts.size()), WriteResult::kBusy);
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 10000u);
  std::vector<uint64_t> eq;
  e->GetSnapshot()->Equal(42, &eq);
  ASSERT_EQ(eq.size(), 100u);
  for (size_t k = 0; k < eq.size(); ++k) EXPECT_EQ(eq[k], 42 + 100 * k);
}

TEST(EngineBackpressure, FlushRelievesPressure) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  int64_t n = FillUntilBusy(e.get(), 0);
  ASSERT_GT(n, 0);
  e->Flush();
  EXPECT_FALSE(e->UnderPressure());
  EXPECT_EQ(e->GetStats().sealed_runs, 0u);
  EXPECT_EQ(e->Append(n, static_cast<uint64_t>(n)), WriteResult::kOk);
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs),
            static_cast<uint64_t>(n + 1));
}

TEST(EngineBackpressure, MaintStepRelievesPressure) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  ASSERT_GT(FillUntilBusy(e.get(), 0), 0);
  EXPECT_TRUE(e->MaintStep());
  EXPECT_FALSE(e->UnderPressure());
}

TEST(EngineBackpressure, DisabledWaitForRoomDoesNotHang) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  ASSERT_GT(FillUntilBusy(e.get(), 0), 0);
  auto t0 = Clock::now();
  EXPECT_FALSE(e->WaitForRoom(200));  // nobody will make room
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  e->Flush();
  EXPECT_TRUE(e->WaitForRoom(0));
  EXPECT_TRUE(e->WaitForRoom(100));
}

TEST(EngineBackpressure, BackgroundWaitForRoomReturnsOnceWorkerFlushes) {
  // Build pressure in disabled mode, then hand over to the worker.
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  int64_t n = FillUntilBusy(e.get(), 0);
  ASSERT_GT(n, 0);
  ASSERT_TRUE(e->UnderPressure());
  e->StartMaintenance();
  EXPECT_TRUE(e->MaintenanceRunning());
  EXPECT_TRUE(e->WaitForRoom(10000));
  EXPECT_FALSE(e->UnderPressure());
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), static_cast<uint64_t>(n));
}

TEST(EngineBackpressure, BackgroundWritersMakeProgressWithWaits) {
  Config c = TinyQueue(MaintenanceMode::kBackground);
  auto e = Engine::Create(c);
  uint64_t busy = 0;
  for (int64_t i = 0; i < 50000; ++i) {
    if (e->Append(i, static_cast<uint64_t>(i)) == WriteResult::kBusy) {
      ++busy;
      EXPECT_TRUE(e->WaitForRoom(10000)) << "worker did not make room at " << i;
    }
  }
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 50000u);
  Stats s = e->GetStats();
  EXPECT_GE(s.seals_total, 100u);
  EXPECT_LE(s.sealed_runs,
            1u + 1u);  // the queue never grows far past its bound
  (void)busy;
}

TEST(EngineBackpressure, WaitForRoomWithoutPressureIsImmediate) {
  Config c = TinyQueue(MaintenanceMode::kBackground);
  auto e = Engine::Create(c);
  e->Append(1, 1);
  auto t0 = Clock::now();
  EXPECT_TRUE(e->WaitForRoom(5000));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
}

TEST(EngineBackpressure, BackgroundWaitTimesOutWhenWorkerStopped) {
  // The wait is bounded by the timeout when no one
  // can make room.
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kBackground));
  e->StopMaintenance();
  ASSERT_GT(FillUntilBusy(e.get(), 0), 0);
  auto t0 = Clock::now();
  EXPECT_FALSE(e->WaitForRoom(100));
  auto dt = Clock::now() - t0;
  EXPECT_LT(dt, std::chrono::seconds(5));
  e->StartMaintenance();
  EXPECT_TRUE(e->WaitForRoom(10000));
}

TEST(EngineBackpressure, StopMaintenanceThenWritesReportBusyImmediately) {
  Config c = TinyQueue(MaintenanceMode::kBackground);
  auto e = Engine::Create(c);
  e->StopMaintenance();
  EXPECT_FALSE(e->MaintenanceRunning());
  auto t0 = Clock::now();
  int64_t n = FillUntilBusy(e.get(), 0);
  ASSERT_GT(n, 0);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(e->Append(n + i, 0), WriteResult::kBusy);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs),
            static_cast<uint64_t>(n + 100));
}

TEST(EngineBackpressure, MaintStepThrowsInBackgroundMode) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kBackground));
  EXPECT_THROW(e->MaintStep(), std::logic_error);
  e->StopMaintenance();
  EXPECT_NO_THROW(e->MaintStep());
  e->StartMaintenance();
  EXPECT_THROW(e->MaintStep(), std::logic_error);
}

TEST(EngineBackpressure, StartStopIdempotent) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kDisabled));
  EXPECT_FALSE(e->MaintenanceRunning());
  e->StopMaintenance();  // stop without start: no-op
  e->StopMaintenance();
  EXPECT_FALSE(e->MaintenanceRunning());
  e->StartMaintenance();
  e->StartMaintenance();
  EXPECT_TRUE(e->MaintenanceRunning());
  e->StopMaintenance();
  e->StopMaintenance();
  EXPECT_FALSE(e->MaintenanceRunning());
}

TEST(EngineBackpressure, FiftyStartStopCyclesKeepData) {
  Config c = TinyQueue(MaintenanceMode::kBackground);
  c.sealed_max_runs = 4;
  auto e = Engine::Create(c);
  Model m;
  uint64_t h = 0;
  for (int cycle = 0; cycle < 50; ++cycle) {
    for (int i = 0; i < 200; ++i) {
      int64_t ts = cycle * 100 + (i % 2 ? i : -i);
      AppendBoth(e.get(), &m, ts, ++h);
    }
    if (cycle % 5 == 0) {
      DeleteBoth(e.get(), &m, cycle * 100, cycle * 100 + 10);
    }
    e->StopMaintenance();
    EXPECT_FALSE(e->MaintenanceRunning());
    if (cycle % 3 == 0) {
      e->MaintStep();
      e->Flush();
    }
    e->StartMaintenance();
    EXPECT_TRUE(e->MaintenanceRunning());
    if (cycle % 7 == 0) e->Compact();
  }
  e->Flush();
  testing_util::ExpectMatches(*e->GetSnapshot(), m, {0, 100, 4900, 5000});
  e->StopMaintenance();
  testing_util::SettleAll(e.get());
  testing_util::ExpectMatches(*e->GetSnapshot(), m, {0, 100, 4900, 5000});
}

TEST(EngineBackpressure, FlushWorksInBackgroundMode) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kBackground));
  for (int64_t i = 0; i < 5000; ++i) e->Append(i, static_cast<uint64_t>(i));
  e->Flush();
  Stats s = e->GetStats();
  EXPECT_EQ(s.active_records, 0u);
  EXPECT_EQ(s.sealed_runs, 0u);
  EXPECT_EQ(s.records_estimate, 5000u);
}

TEST(EngineBackpressure, DestroyWhileUnderPressureAndRunning) {
  for (int k = 0; k < 10; ++k) {
    auto e = Engine::Create(TinyQueue(MaintenanceMode::kBackground));
    for (int64_t i = 0; i < 2000; ++i) e->Append(i, static_cast<uint64_t>(i));
    e->Compact();
    // Destroyed with the worker mid-flight: must join cleanly.
  }
  SUCCEED();
}

TEST(EngineBackpressure, CollectHandlesStopsWorker) {
  auto e = Engine::Create(TinyQueue(MaintenanceMode::kBackground));
  for (int64_t i = 0; i < 3000; ++i) e->Append(i, static_cast<uint64_t>(i));
  std::vector<uint64_t> all;
  e->CollectHandles(&all);
  EXPECT_FALSE(e->MaintenanceRunning());
  EXPECT_EQ(all.size(), 3000u);
}

}  // namespace
}  // namespace timelog
