// Two-phase drop reporting: RetireStack::Reserve / PushReserved /
// CancelReserved, and the engine's drop_reserve / drop_commit / drop_cancel
// callbacks. A removal whose reservation fails must be abandoned whole: the
// records stay stored (their handles still owned by the engine), nothing is
// reported, and a later step performs it and reports exactly those handles.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <vector>

#include "test_util.h"
#include "timelog/engine.h"
#include "timelog/retire_stack.h"

namespace timelog {
namespace {

using testing_util::SmallConfig;

TEST(RetireStackTwoPhase, ReservedNodeQueuesInPushOrder) {
  RetireStack s;
  const uint64_t a[] = {1, 2, 3};
  const uint64_t b[] = {4, 5};
  void* ta = s.Reserve(3);
  void* tb = s.Reserve(2);
  ASSERT_NE(ta, nullptr);
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(s.queued(), 0u) << "a reservation is not queued until it is pushed";
  s.PushReserved(tb, b, 2);  // pushed first, so it comes out first
  s.PushReserved(ta, a, 3);
  EXPECT_EQ(s.queued(), 5u);
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 5u);
  EXPECT_EQ(out, (std::vector<uint64_t>{4, 5, 1, 2, 3}));
  EXPECT_EQ(s.pushed_total(), 5u);
  EXPECT_EQ(s.alloc_failures(), 0u);
}

TEST(RetireStackTwoPhase, CancelFreesAnUnusedReservation) {
  RetireStack s;
  void* t = s.Reserve(1000);
  ASSERT_NE(t, nullptr);
  RetireStack::CancelReserved(t);  // LeakSanitizer sees it if this leaks
  RetireStack::CancelReserved(nullptr);
  EXPECT_EQ(s.queued(), 0u);
  EXPECT_EQ(s.pushed_total(), 0u);
}

TEST(RetireStackTwoPhase, ImpossibleReservationFailsAndIsCounted) {
  RetireStack s;
  EXPECT_EQ(s.Reserve(std::numeric_limits<size_t>::max() / 2), nullptr);
  EXPECT_EQ(s.alloc_failures(), 1u);
  const uint64_t h = 9;
  EXPECT_TRUE(s.Push(&h, 1))
      << "the stack stays usable after a failed reservation";
  EXPECT_EQ(s.queued(), 1u);
}

// A drop receiver whose reservations fail while `fail_reserves` > 0.
struct Receiver {
  RetireStack stack;
  int fail_reserves = 0;
  int reserves = 0, commits = 0, cancels = 0;
  std::vector<uint64_t> committed;

  static void* Reserve(void* ctx, size_t n) {
    auto* r = static_cast<Receiver*>(ctx);
    ++r->reserves;
    if (r->fail_reserves > 0) {
      --r->fail_reserves;
      return nullptr;
    }
    return r->stack.Reserve(n);
  }
  static void Commit(void* ctx, void* token, const uint64_t* h, size_t n) {
    auto* r = static_cast<Receiver*>(ctx);
    ++r->commits;
    r->committed.insert(r->committed.end(), h, h + n);
    r->stack.PushReserved(token, h, n);
  }
  static void Cancel(void* ctx, void* token) {
    ++static_cast<Receiver*>(ctx)->cancels;
    RetireStack::CancelReserved(token);
  }
  static void OnDrop(void*, const uint64_t*, size_t) {
    ADD_FAILURE()
        << "on_drop must not be called when the two-phase callbacks are set";
  }

  Config Configure(Config c) {
    c.on_drop = &OnDrop;
    c.drop_ctx = this;
    c.drop_reserve = &Reserve;
    c.drop_commit = &Commit;
    c.drop_cancel = &Cancel;
    return c;
  }
};

TEST(EngineTwoPhaseDrop,
     FailedReservationAbandonsTheRemovalAndALaterStepDoesIt) {
  Receiver rx;
  auto e = Engine::Create(rx.Configure(SmallConfig()));
  for (uint64_t i = 1; i <= 1000; ++i) e->Append(static_cast<int64_t>(i), i);
  e->Flush();
  while (e->MaintStep()) {
  }
  ASSERT_EQ(rx.commits, 0);
  e->Delete(1, 300);  // handles 1..300 become droppable
  e->Compact();
  const uint64_t physical = e->GetStats().records_physical;
  ASSERT_EQ(physical, 1000u);

  rx.fail_reserves = 3;
  int failures = 0;
  for (int i = 0; i < 3; ++i) {
    try {
      e->MaintStep();
    } catch (const AllocationError& err) {
      ++failures;
      EXPECT_NE(std::string(err.what()).find("dropped records"),
                std::string::npos)
          << err.what();
    }
    // Abandoned: still stored, still visible as before, nothing reported.
    EXPECT_EQ(e->GetStats().records_physical, physical);
    EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 700u);
    EXPECT_EQ(rx.commits, 0);
  }
  EXPECT_GE(failures, 1) << "no step tried to drop records";
  rx.fail_reserves = 0;

  while (e->MaintStep()) {
  }
  EXPECT_EQ(rx.cancels, 0);
  EXPECT_EQ(rx.commits, rx.reserves - failures)
      << "every granted reservation is committed";
  std::vector<uint64_t> dropped = rx.committed;
  std::sort(dropped.begin(), dropped.end());
  ASSERT_EQ(dropped.size(), 300u)
      << "each deleted handle is reported exactly once";
  for (uint64_t i = 0; i < 300; ++i) EXPECT_EQ(dropped[i], i + 1);
  EXPECT_EQ(rx.stack.queued(), 300u);
  EXPECT_EQ(e->GetStats().records_physical, 700u);
  EXPECT_EQ(e->GetStats().records_dropped, 300u);
  EXPECT_EQ(e->GetSnapshot()->Count(kMinTs, kMaxTs), 700u);
}

TEST(EngineTwoPhaseDrop, CutoffDropsThroughTheReservation) {
  Receiver rx;
  auto e = Engine::Create(rx.Configure(SmallConfig()));
  for (uint64_t i = 1; i <= 500; ++i) e->Append(static_cast<int64_t>(i), i);
  e->Flush();
  e->Cutoff(201);  // drops [.., 200]
  testing_util::SettleAll(e.get());
  std::vector<uint64_t> dropped = rx.committed;
  std::sort(dropped.begin(), dropped.end());
  ASSERT_EQ(dropped.size(), 200u);
  EXPECT_EQ(dropped.front(), 1u);
  EXPECT_EQ(dropped.back(), 200u);
  EXPECT_EQ(rx.cancels, 0);
  EXPECT_EQ(rx.commits, rx.reserves);
}

TEST(EngineTwoPhaseDrop, CallbacksAreSetTogether) {
  Receiver rx;
  Config c = rx.Configure(SmallConfig());
  c.drop_cancel = nullptr;
  try {
    Engine::Create(c);
    FAIL() << "a partial set of two-phase callbacks was accepted";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("drop_reserve"), std::string::npos)
        << err.what();
  }
}

}  // namespace
}  // namespace timelog
