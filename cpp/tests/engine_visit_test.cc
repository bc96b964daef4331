// Engine::VisitHandles and RetireStack::Visit: the walks the Python binding's
// tp_traverse uses. They must visit every owned handle exactly once (stored
// in the engine, or already reported through the drop callback and queued),
// also while the background worker is dropping handles concurrently.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"
#include "timelog/engine.h"
#include "timelog/retire_stack.h"

namespace timelog {
namespace {

using testing_util::DropRecorder;
using testing_util::MultisetDiff;
using testing_util::SmallConfig;

// Collects every visited handle.
struct Collector {
  std::vector<uint64_t> seen;
  size_t calls = 0;
  size_t then_calls = 0;
  size_t seen_at_then = 0;
  static int Visit(void* ctx, const uint64_t* h, size_t n) {
    auto* c = static_cast<Collector*>(ctx);
    EXPECT_GT(n, 0u) << "visitor called with an empty batch";
    ++c->calls;
    c->seen.insert(c->seen.end(), h, h + n);
    return 0;
  }
  static int Then(void* ctx) {
    auto* c = static_cast<Collector*>(ctx);
    ++c->then_calls;
    c->seen_at_then = c->seen.size();
    return 0;
  }
};

std::vector<uint64_t> Visited(const Engine& e) {
  Collector c;
  EXPECT_EQ(e.VisitHandles(&Collector::Visit, &c, &Collector::Then), 0);
  EXPECT_EQ(c.then_calls, 1u);
  EXPECT_EQ(c.seen_at_then, c.seen.size())
      << "`then` must run after every visit";
  return c.seen;
}

// Visited + dropped must be exactly what was appended (as multisets).
void ExpectExactlyOnce(const Engine& e, const DropRecorder& drops,
                       const std::vector<uint64_t>& appended) {
  std::vector<uint64_t> visited = Visited(e);
  EXPECT_EQ(visited.size(), e.GetStats().records_physical);
  std::vector<uint64_t> all = visited;
  std::vector<uint64_t> dropped = drops.handles();
  all.insert(all.end(), dropped.begin(), dropped.end());
  EXPECT_EQ(MultisetDiff(all, appended), "");
}

TEST(EngineVisitHandles, EmptyEngineVisitsNothingAndRunsThen) {
  auto e = Engine::Create(SmallConfig());
  Collector c;
  EXPECT_EQ(e->VisitHandles(&Collector::Visit, &c, &Collector::Then), 0);
  EXPECT_EQ(c.calls, 0u);
  EXPECT_EQ(c.then_calls, 1u);
  EXPECT_EQ(e->VisitHandles(&Collector::Visit, &c), 0);  // `then` is optional
}

TEST(EngineVisitHandles, EveryLayerEachStoredHandleOnce) {
  Config cfg = SmallConfig();
  DropRecorder drops;
  drops.Attach(&cfg);
  auto e = Engine::Create(cfg);
  std::vector<uint64_t> appended;
  uint64_t next = 1;
  auto append = [&](int64_t ts) {
    e->Append(ts, next);
    appended.push_back(next++);
  };

  // Memtable only: in-order and out-of-order rows.
  for (int64_t t = 0; t < 100; ++t) append(t * 3);
  for (int64_t t = 0; t < 20; ++t) append(t);  // out of order
  ASSERT_GT(e->GetStats().ooo_records, 0u);
  ASSERT_EQ(e->GetStats().sealed_runs, 0u);
  ExpectExactlyOnce(*e, drops, appended);

  // Sealed runs (the small memtable seals by itself) next to the memtable.
  for (int64_t t = 300; t < 1500; ++t) append(t);
  ASSERT_GT(e->GetStats().sealed_runs, 0u);
  ASSERT_GT(e->GetStats().active_records, 0u);
  ExpectExactlyOnce(*e, drops, appended);

  // L0 segments.
  e->Flush();
  ASSERT_GT(e->GetStats().segments_l0, 0u);
  ExpectExactlyOnce(*e, drops, appended);

  // L1 windows, plus fresh data in the memtable and a sealed run.
  e->Compact();
  while (e->MaintStep()) {
  }
  ASSERT_GT(e->GetStats().segments_l1, 0u);
  for (int64_t t = 1500; t < 1800; ++t) append(t);
  ASSERT_GT(e->GetStats().sealed_runs, 0u);
  ExpectExactlyOnce(*e, drops, appended);

  // Tombstoned but not yet dropped records are still stored: visited.
  e->Delete(100, 400);
  e->Delete(1600, 1650);
  ASSERT_LT(e->GetStats().records_estimate, e->GetStats().records_physical);
  ExpectExactlyOnce(*e, drops, appended);
  const size_t dropped_before = drops.size();

  // After compaction they are dropped (reported), and no longer visited.
  e->Flush();
  e->Compact();
  while (e->MaintStep()) {
  }
  ASSERT_GT(drops.size(), dropped_before);
  ASSERT_EQ(e->GetStats().records_estimate, e->GetStats().records_physical);
  ExpectExactlyOnce(*e, drops, appended);

  // Cutoff drops whole windows.
  e->Cutoff(1000);
  e->Compact();
  while (e->MaintStep()) {
  }
  ExpectExactlyOnce(*e, drops, appended);

  // The same view as CollectHandles (which stops the engine for teardown).
  std::vector<uint64_t> visited = Visited(*e);
  std::vector<uint64_t> collected;
  e->CollectHandles(&collected);
  EXPECT_EQ(MultisetDiff(visited, collected), "");
}

TEST(EngineVisitHandles, AHandleStoredTwiceIsVisitedTwice) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 1000; ++i) e->Append(i, 42);  // one shared payload
  e->Flush();
  for (int i = 0; i < 10; ++i) e->Append(2000 + i, 42);
  std::vector<uint64_t> v = Visited(*e);
  EXPECT_EQ(v.size(), 1010u);
  EXPECT_EQ(static_cast<size_t>(std::count(v.begin(), v.end(), 42u)), 1010u);
}

TEST(EngineVisitHandles, NonZeroFromVisitStopsAndIsReturned) {
  auto e = Engine::Create(SmallConfig());
  for (int i = 0; i < 2000; ++i) e->Append(i, i + 1);
  e->Flush();
  for (int i = 0; i < 10; ++i) e->Append(5000 + i, 9000 + i);
  struct Stop {
    int calls = 0;
    int then_calls = 0;
    static int Visit(void* ctx, const uint64_t*, size_t) {
      ++static_cast<Stop*>(ctx)->calls;
      return -3;
    }
    static int Then(void* ctx) {
      ++static_cast<Stop*>(ctx)->then_calls;
      return 0;
    }
  } s;
  EXPECT_EQ(e->VisitHandles(&Stop::Visit, &s, &Stop::Then), -3);
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.then_calls, 0) << "`then` must not run after a stop";

  Collector c;
  auto then5 = [](void* ctx) -> int {
    Collector::Then(ctx);
    return 5;
  };
  EXPECT_EQ(e->VisitHandles(&Collector::Visit, &c, then5), 5);
  EXPECT_EQ(c.seen.size(), 2010u);
}

// The worker drops handles (into a RetireStack, as the binding does) while
// this thread, the single writer, appends, deletes and visits engine + stack
// inside one VisitHandles call. Every owned handle must be seen exactly once
// on every visit: a handle that is being moved from the engine to the stack
// must never be missed or counted twice.
TEST(EngineVisitHandles, ExactlyOnceWhileTheWorkerDrops) {
  RetireStack retired;
  Config cfg = SmallConfig();
  cfg.maintenance = MaintenanceMode::kBackground;
  cfg.maintenance_wakeup_ms = 1;
  cfg.sealed_max_runs = 1u << 20;  // never busy; the writer never waits
  cfg.on_drop = [](void* ctx, const uint64_t* h, size_t n) {
    ASSERT_TRUE(static_cast<RetireStack*>(ctx)->Push(h, n));
  };
  cfg.drop_ctx = &retired;
  auto e = Engine::Create(cfg);

  constexpr int kRounds = 150;
  constexpr uint64_t kPerRound = 300;
  const uint64_t total = kRounds * kPerRound;
  std::vector<uint8_t> popped(total + 1, 0);
  std::vector<uint32_t> seen(total + 1, 0);
  struct Ctx {
    std::vector<uint32_t>* seen;
    const RetireStack* retired;
    bool bad = false;
    // Counts each visited handle; stops on one that was never appended.
    static int Count(void* p, const uint64_t* h, size_t n) {
      auto* c = static_cast<Ctx*>(p);
      for (size_t i = 0; i < n; ++i) {
        if (h[i] == 0 || h[i] >= c->seen->size()) {
          c->bad = true;
          return 1;
        }
        ++(*c->seen)[h[i]];
      }
      return 0;
    }
    static int CountRetired(void* p) {
      return static_cast<Ctx*>(p)->retired->Visit(&Ctx::Count, p);
    }
  } ctx{&seen, &retired};

  std::mt19937_64 rng(7);
  uint64_t next = 1;
  int64_t ts = 0;
  std::vector<uint64_t> out;
  for (int round = 0; round < kRounds; ++round) {
    for (uint64_t i = 0; i < kPerRound; ++i) {
      // Mostly in order, some out of order.
      const int64_t t =
          (rng() % 8 == 0) ? ts - static_cast<int64_t>(rng() % 200) : ts++;
      e->Append(t, next++);
    }
    const int64_t lo = static_cast<int64_t>(rng() % (ts + 1));
    e->Delete(lo, lo + static_cast<int64_t>(rng() % 400));
    if (round % 5 == 0) e->Compact();
    if (round % 7 == 3) {
      out.clear();
      retired.PopBatch(&out, 1 + rng() % 500);
      for (uint64_t h : out) popped[h] = 1;
    }
    // Several walks while the worker keeps going.
    for (int k = 0; k < 3; ++k) {
      std::fill(seen.begin(), seen.end(), 0);
      ASSERT_EQ(e->VisitHandles(&Ctx::Count, &ctx, &Ctx::CountRetired), 0);
      ASSERT_FALSE(ctx.bad);
      for (uint64_t h = 1; h < next; ++h) {
        ASSERT_EQ(seen[h], popped[h] ? 0u : 1u)
            << "handle " << h << " round " << round << " walk " << k;
      }
      for (uint64_t h = next; h <= total; ++h) ASSERT_EQ(seen[h], 0u);
    }
  }
  e->StopMaintenance();
  EXPECT_GT(retired.pushed_total(), 0u);
  // Final state: engine + stack == appended - popped, also via CollectHandles.
  std::vector<uint64_t> rest;
  e->CollectHandles(&rest);
  retired.PopBatch(&rest, 0);
  std::vector<uint64_t> expected;
  for (uint64_t h = 1; h < next; ++h) {
    if (!popped[h]) expected.push_back(h);
  }
  EXPECT_EQ(MultisetDiff(rest, expected), "");
}

// A walk holds the publish pause: while `then` runs, the worker cannot report
// a removal (the drop callback is never entered during the pause).
TEST(EngineVisitHandles, NoDropIsReportedDuringTheWalk) {
  struct Shared {
    std::atomic<bool> in_walk{false};
    std::atomic<int> violations{0};
    std::atomic<uint64_t> dropped{0};
  } sh;
  Config cfg = SmallConfig();
  cfg.maintenance = MaintenanceMode::kBackground;
  cfg.maintenance_wakeup_ms = 1;
  cfg.sealed_max_runs = 1u << 20;
  cfg.on_drop = [](void* ctx, const uint64_t*, size_t n) {
    auto* s = static_cast<Shared*>(ctx);
    if (s->in_walk.load()) s->violations.fetch_add(1);
    s->dropped.fetch_add(n);
  };
  cfg.drop_ctx = &sh;
  auto e = Engine::Create(cfg);
  auto then = [](void* ctx) -> int {
    auto* s = static_cast<Shared*>(ctx);
    s->in_walk.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    s->in_walk.store(false);
    return 0;
  };
  auto visit = [](void*, const uint64_t*, size_t) -> int { return 0; };
  int64_t ts = 0;
  for (int round = 0; round < 60; ++round) {
    for (int i = 0; i < 400; ++i) e->Append(ts++, 1);
    e->Delete(ts - 300, ts - 100);  // the worker drops these when it flushes
    e->Compact();
    ASSERT_EQ(e->VisitHandles(visit, &sh, then), 0);
  }
  e->StopMaintenance();
  EXPECT_GT(sh.dropped.load(), 0u);
  EXPECT_EQ(sh.violations.load(), 0);
}

// ------------------------------------------------------------ RetireStack

std::vector<uint64_t> StackVisited(const RetireStack& s) {
  std::vector<uint64_t> seen;
  EXPECT_EQ(s.Visit(
                [](void* ctx, const uint64_t* h, size_t n) -> int {
                  EXPECT_GT(n, 0u);
                  auto* v = static_cast<std::vector<uint64_t>*>(ctx);
                  v->insert(v->end(), h, h + n);
                  return 0;
                },
                &seen),
            0);
  return seen;
}

TEST(RetireStackVisit, PrivateAndSharedPartsEachOnce) {
  RetireStack s;
  EXPECT_TRUE(StackVisited(s).empty());
  std::vector<uint64_t> a(10), b(5), c(7);
  std::iota(a.begin(), a.end(), 1);
  std::iota(b.begin(), b.end(), 100);
  std::iota(c.begin(), c.end(), 200);
  ASSERT_TRUE(s.Push(a.data(), a.size()));
  ASSERT_TRUE(s.Push(b.data(), b.size()));
  EXPECT_EQ(MultisetDiff(StackVisited(s), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100,
                                           101, 102, 103, 104}),
            "");
  // Consume part of the first node: the rest sits in the private FIFO with
  // an offset; then push onto the shared head again.
  std::vector<uint64_t> out;
  ASSERT_EQ(s.PopBatch(&out, 4), 4u);
  ASSERT_TRUE(s.Push(c.data(), c.size()));
  std::vector<uint64_t> seen = StackVisited(s);
  EXPECT_EQ(seen.size(), s.queued());
  // Visiting takes nothing: the next pop returns exactly what was visited.
  std::vector<uint64_t> rest;
  ASSERT_EQ(s.PopBatch(&rest, 0), seen.size());
  EXPECT_EQ(MultisetDiff(seen, rest), "");
  EXPECT_EQ(rest.front(), 5u);  // order untouched
  EXPECT_TRUE(StackVisited(s).empty());
}

TEST(RetireStackVisit, NonZeroStopsTheWalk) {
  RetireStack s;
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(s.Push(i));
  std::vector<uint64_t> out;
  ASSERT_EQ(s.PopBatch(&out, 1), 1u);  // one node private, rest shared
  ASSERT_TRUE(s.Push(uint64_t{6}));
  int calls = 0;
  EXPECT_EQ(s.Visit(
                [](void* ctx, const uint64_t*, size_t) -> int {
                  ++*static_cast<int*>(ctx);
                  return 9;
                },
                &calls),
            9);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.queued(), 5u);
}

// Producers push unique handles while the single consumer alternates walks
// and pops: a walk never returns a handle twice or one already popped, and
// once the producers are done it returns exactly the remainder.
TEST(RetireStackVisit, ConcurrentWithProducers) {
  RetireStack s;
  constexpr int kProducers = 3;
  constexpr uint64_t kPerProducer = 20000;
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&s, &done, p] {
      uint64_t h = 1 + p * kPerProducer;
      const uint64_t end = h + kPerProducer;
      while (h < end) {
        uint64_t batch[7];
        size_t n = 0;
        while (n < 7 && h < end) batch[n++] = h++;
        while (!s.Push(batch, n)) {
        }
      }
      done.fetch_add(1);
    });
  }
  const uint64_t total = kProducers * kPerProducer;
  std::vector<uint8_t> popped(total + 1, 0);
  std::vector<uint32_t> seen(total + 1, 0);
  std::vector<uint64_t> out;
  auto walk = [&] {
    std::fill(seen.begin(), seen.end(), 0);
    ASSERT_EQ(s.Visit(
                  [](void* ctx, const uint64_t* h, size_t n) -> int {
                    auto* v = static_cast<std::vector<uint32_t>*>(ctx);
                    for (size_t i = 0; i < n; ++i) ++(*v)[h[i]];
                    return 0;
                  },
                  &seen),
              0);
    for (uint64_t h = 1; h <= total; ++h) {
      ASSERT_LE(seen[h], popped[h] ? 0u : 1u) << h;
    }
  };
  while (done.load() < kProducers) {
    walk();
    out.clear();
    s.PopBatch(&out, 997);
    for (uint64_t h : out) popped[h] = 1;
  }
  for (auto& t : producers) t.join();
  walk();
  for (uint64_t h = 1; h <= total; ++h) {
    ASSERT_EQ(seen[h], popped[h] ? 0u : 1u) << h;
  }
}

}  // namespace
}  // namespace timelog
