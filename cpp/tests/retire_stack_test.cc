// Copyright (c) the timelog authors. All rights reserved.

#include "timelog/retire_stack.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace timelog {
namespace {

std::vector<uint64_t> Iota(uint64_t first, size_t n) {
  std::vector<uint64_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Checks the counters against an expected number of queued handles.
void ExpectCounters(const RetireStack& s, size_t queued) {
  EXPECT_EQ(s.queued(), queued);
  EXPECT_EQ(s.pushed_total() - s.popped_total(), queued);
}

TEST(RetireStackTest, EmptyPopReturnsNothing) {
  RetireStack s;
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 0u);
  EXPECT_EQ(s.PopBatch(&out, 10), 0u);
  EXPECT_TRUE(out.empty());
  ExpectCounters(s, 0);
  EXPECT_EQ(s.pushed_total(), 0u);
  EXPECT_EQ(s.popped_total(), 0u);
  EXPECT_EQ(s.alloc_failures(), 0u);
}

TEST(RetireStackTest, SinglePushPop) {
  RetireStack s;
  ASSERT_TRUE(s.Push(uint64_t{42}));
  ExpectCounters(s, 1);
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 1u);
  EXPECT_EQ(out, std::vector<uint64_t>{42});
  ExpectCounters(s, 0);
  EXPECT_EQ(s.pushed_total(), 1u);
  EXPECT_EQ(s.popped_total(), 1u);
  EXPECT_EQ(s.PopBatch(&out, 0), 0u);
  EXPECT_EQ(out.size(), 1u);
}

TEST(RetireStackTest, PushOfZeroHandlesIsANoOp) {
  RetireStack s;
  EXPECT_TRUE(s.Push(nullptr, 0));
  uint64_t h = 7;
  EXPECT_TRUE(s.Push(&h, 0));
  ExpectCounters(s, 0);
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 0u);
  EXPECT_EQ(s.alloc_failures(), 0u);
}

TEST(RetireStackTest, FifoAcrossManySinglePushes) {
  RetireStack s;
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(s.Push(i));
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 1000u);
  EXPECT_EQ(out, Iota(0, 1000));
}

TEST(RetireStackTest, FifoWithinAndAcrossBatches) {
  RetireStack s;
  std::vector<uint64_t> expected;
  uint64_t next = 100;
  for (size_t n : {1, 5, 3, 17, 1, 64, 2}) {
    std::vector<uint64_t> batch = Iota(next, n);
    next += n;
    ASSERT_TRUE(s.Push(batch.data(), batch.size()));
    expected.insert(expected.end(), batch.begin(), batch.end());
  }
  // Non-monotonic values inside one batch keep their given order.
  const std::vector<uint64_t> odd = {9, 3, 7, 3, 0, UINT64_MAX};
  ASSERT_TRUE(s.Push(odd.data(), odd.size()));
  expected.insert(expected.end(), odd.begin(), odd.end());

  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), expected.size());
  EXPECT_EQ(out, expected);
}

TEST(RetireStackTest, LimitIsExact) {
  RetireStack s;
  for (uint64_t i = 0; i < 150; ++i) ASSERT_TRUE(s.Push(i));
  std::vector<uint64_t> a, b, c, d;
  EXPECT_EQ(s.PopBatch(&a, 64), 64u);
  ExpectCounters(s, 86);
  EXPECT_EQ(s.PopBatch(&b, 64), 64u);
  ExpectCounters(s, 22);
  EXPECT_EQ(s.PopBatch(&c, 64), 22u);
  ExpectCounters(s, 0);
  EXPECT_EQ(s.PopBatch(&d, 64), 0u);
  EXPECT_EQ(a, Iota(0, 64));
  EXPECT_EQ(b, Iota(64, 64));
  EXPECT_EQ(c, Iota(128, 22));
  EXPECT_TRUE(d.empty());
}

TEST(RetireStackTest, RemainderReattachedThenLaterPushesDrainInOrder) {
  RetireStack s;
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(s.Push(i));
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 4), 4u);  // 4..9 stay queued
  const std::vector<uint64_t> batch = Iota(10, 5);
  ASSERT_TRUE(s.Push(batch.data(), batch.size()));
  ASSERT_TRUE(s.Push(uint64_t{15}));
  ExpectCounters(s, 12);
  EXPECT_EQ(s.PopBatch(&out, 3), 3u);  // 4, 5, 6
  ASSERT_TRUE(s.Push(uint64_t{16}));
  EXPECT_EQ(s.PopBatch(&out, 9), 9u);  // 7..15, ending in the batch
  ASSERT_TRUE(s.Push(uint64_t{17}));
  EXPECT_EQ(s.PopBatch(&out, 0), 2u);  // 16, 17
  EXPECT_EQ(out, Iota(0, 18));
  ExpectCounters(s, 0);
}

TEST(RetireStackTest, LimitZeroTakesAll) {
  RetireStack s;
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(s.Push(i));
  const std::vector<uint64_t> batch = Iota(300, 700);
  ASSERT_TRUE(s.Push(batch.data(), batch.size()));
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 5), 5u);  // leaves a partly consumed front
  EXPECT_EQ(s.PopBatch(&out, 0), 995u);
  EXPECT_EQ(out, Iota(0, 1000));
  ExpectCounters(s, 0);
}

TEST(RetireStackTest, NodeSplitAcrossSeveralPops) {
  RetireStack s;
  const std::vector<uint64_t> batch = Iota(1, 10);
  ASSERT_TRUE(s.Push(batch.data(), batch.size()));
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 3), 3u);
  EXPECT_EQ(s.PopBatch(&out, 3), 3u);
  ExpectCounters(s, 4);
  EXPECT_EQ(s.PopBatch(&out, 3), 3u);
  EXPECT_EQ(s.PopBatch(&out, 3), 1u);
  EXPECT_EQ(s.PopBatch(&out, 3), 0u);
  EXPECT_EQ(out, batch);
  // A split exactly at the node boundary, then the next node.
  ASSERT_TRUE(s.Push(batch.data(), 4));
  ASSERT_TRUE(s.Push(batch.data() + 4, 6));
  out.clear();
  EXPECT_EQ(s.PopBatch(&out, 4), 4u);
  EXPECT_EQ(s.PopBatch(&out, 4), 4u);
  EXPECT_EQ(s.PopBatch(&out, 4), 2u);
  EXPECT_EQ(out, batch);
}

TEST(RetireStackTest, AppendsToExistingOutput) {
  RetireStack s;
  ASSERT_TRUE(s.Push(uint64_t{5}));
  ASSERT_TRUE(s.Push(uint64_t{6}));
  std::vector<uint64_t> out = {1, 2, 3};
  EXPECT_EQ(s.PopBatch(&out, 0), 2u);
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 2, 3, 5, 6}));
}

TEST(RetireStackTest, FailedAllocationQueuesNothing) {
  RetireStack s;
  ASSERT_TRUE(s.Push(uint64_t{1}));
  uint64_t dummy = 0;
  // Sizes whose node size overflows size_t cannot be allocated; the pointer
  // is never read because the push fails first.
  EXPECT_FALSE(s.Push(&dummy, SIZE_MAX));
  EXPECT_FALSE(s.Push(&dummy, SIZE_MAX / sizeof(uint64_t)));
  EXPECT_EQ(s.alloc_failures(), 2u);
  ExpectCounters(s, 1);
  EXPECT_EQ(s.pushed_total(), 1u);
  ASSERT_TRUE(s.Push(uint64_t{2}));
  std::vector<uint64_t> out;
  EXPECT_EQ(s.PopBatch(&out, 0), 2u);
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(s.alloc_failures(), 2u);
}

// Random pushes and pops checked against a std::deque model, with the
// counters checked after every step.
TEST(RetireStackTest, RandomisedAgainstModelCountersExact) {
  RetireStack s;
  std::deque<uint64_t> model;
  std::mt19937_64 rng(20240611);
  uint64_t next = 0, pushed = 0, popped = 0;
  std::vector<uint64_t> batch, out;
  for (int step = 0; step < 200000; ++step) {
    const unsigned op = rng() % 8;
    if (op < 4) {
      batch.clear();
      const size_t n = op == 0 ? 1 : rng() % (op == 3 ? 300 : 20);
      for (size_t i = 0; i < n; ++i) batch.push_back(next++);
      if (n == 1 && rng() % 2) {
        ASSERT_TRUE(s.Push(batch[0]));
      } else {
        ASSERT_TRUE(s.Push(batch.data(), batch.size()));
      }
      model.insert(model.end(), batch.begin(), batch.end());
      pushed += n;
    } else {
      const size_t limit = op == 7 ? 0 : rng() % 70;
      out.clear();
      const size_t got = s.PopBatch(&out, limit);
      const size_t expect =
          limit == 0 ? model.size() : std::min(limit, model.size());
      ASSERT_EQ(got, expect);
      ASSERT_EQ(out.size(), got);
      for (size_t i = 0; i < got; ++i) {
        ASSERT_EQ(out[i], model.front()) << "step " << step << " i " << i;
        model.pop_front();
      }
      popped += got;
    }
    ASSERT_EQ(s.queued(), model.size());
    ASSERT_EQ(s.pushed_total(), pushed);
    ASSERT_EQ(s.popped_total(), popped);
  }
  out.clear();
  EXPECT_EQ(s.PopBatch(&out, 0), model.size());
  ExpectCounters(s, 0);
  EXPECT_EQ(s.pushed_total(), next);
  EXPECT_EQ(s.alloc_failures(), 0u);
}

// 8 producers x 100k unique handles, pushed singly and in small batches,
// while one consumer drains with small limits. Nothing may be lost or
// doubled, and each producer's handles must come out in its push order.
TEST(RetireStackTest, ConcurrentProducersWithConsumer) {
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 100000;
  RetireStack s;
  std::atomic<int> producers_done{0};

  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&s, &producers_done, t] {
      std::mt19937 rng(t);
      const uint64_t base = static_cast<uint64_t>(t) * kPerThread;
      uint64_t i = 0;
      std::vector<uint64_t> batch;
      while (i < kPerThread) {
        // EXPECT, not ASSERT: an early return would leave the consumer
        // waiting forever for this producer.
        if (t % 2 == 0 || rng() % 4 == 0) {
          EXPECT_TRUE(s.Push(base + i));
          ++i;
        } else {
          const uint64_t n = std::min<uint64_t>(1 + rng() % 32, kPerThread - i);
          batch.clear();
          for (uint64_t k = 0; k < n; ++k) batch.push_back(base + i + k);
          EXPECT_TRUE(s.Push(batch.data(), batch.size()));
          i += n;
        }
      }
      producers_done.fetch_add(1, std::memory_order_release);
    });
  }

  std::vector<uint8_t> seen(kThreads * kPerThread, 0);
  std::vector<int64_t> last(kThreads, -1);
  uint64_t total = 0, duplicates = 0, out_of_order = 0, calls = 0;
  std::thread consumer([&] {
    std::vector<uint64_t> out;
    size_t limit = 1;
    for (;;) {
      // Read "done" before popping: if all producers were done, this pop
      // sees every handle, so an empty pop then means we are finished.
      const bool done =
          producers_done.load(std::memory_order_acquire) == kThreads;
      out.clear();
      const size_t got = s.PopBatch(&out, limit);
      ++calls;
      limit = limit % 97 + 1;  // cycle through small limits, never 0
      for (uint64_t h : out) {
        if (seen[h]++) ++duplicates;
        const int t = static_cast<int>(h / kPerThread);
        if (static_cast<int64_t>(h) <= last[t]) ++out_of_order;
        last[t] = static_cast<int64_t>(h);
      }
      total += got;
      if (got == 0) {
        if (done) break;
        std::this_thread::yield();
      }
    }
  });

  for (auto& p : producers) p.join();
  consumer.join();

  EXPECT_EQ(duplicates, 0u);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(total, kThreads * kPerThread);
  size_t missing = 0;
  for (uint8_t v : seen) missing += v == 0;
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(s.queued(), 0u);
  EXPECT_EQ(s.pushed_total(), kThreads * kPerThread);
  EXPECT_EQ(s.pushed_total(), s.popped_total());
  EXPECT_EQ(s.alloc_failures(), 0u);
  EXPECT_GT(calls, 0u);
}

// Releasing a handle may run arbitrary code (a Python __del__) that pushes
// more handles and even starts a nested drain. Bookkeeping is complete when
// PopBatch returns, so this must work and nothing may be lost or doubled.
TEST(RetireStackTest, ReentrantPushAndPopWhileProcessing) {
  RetireStack s;
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(s.Push(i));
  std::vector<int> released(1000, 0);
  size_t nested_drains = 0;

  // "Release" one handle: handle h retires handle h + 100 (if < 1000), so
  // every handle in [0, 1000) is released exactly once in the end.
  auto release = [&](uint64_t h, auto&& self) -> void {
    ASSERT_LT(h, released.size());
    ++released[h];
    if (h + 100 < 1000) {
      const uint64_t child[1] = {h + 100};
      if (h % 2 == 0) {
        ASSERT_TRUE(s.Push(child[0]));
      } else {
        ASSERT_TRUE(s.Push(child, 1));
      }
    }
    if (h % 50 == 7) {  // a nested drain from inside a release
      std::vector<uint64_t> inner;
      s.PopBatch(&inner, 3);
      ++nested_drains;
      for (uint64_t k : inner) self(k, self);
    }
  };

  std::vector<uint64_t> batch;
  for (;;) {
    batch.clear();
    if (s.PopBatch(&batch, 16) == 0) break;
    for (uint64_t h : batch) release(h, release);
  }
  EXPECT_GT(nested_drains, 0u);
  for (uint64_t h = 0; h < 1000; ++h) EXPECT_EQ(released[h], 1) << h;
  ExpectCounters(s, 0);
  EXPECT_EQ(s.pushed_total(), 1000u);
  EXPECT_EQ(s.popped_total(), 1000u);
}

// Must not leak under ASan (LeakSanitizer checks at exit).
TEST(RetireStackTest, DestructorFreesQueuedHandles) {
  {
    RetireStack s;
    for (uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(s.Push(i));
    const std::vector<uint64_t> batch = Iota(0, 5000);
    ASSERT_TRUE(s.Push(batch.data(), batch.size()));
    std::vector<uint64_t> out;
    EXPECT_EQ(s.PopBatch(&out, 10), 10u);  // some private, partly consumed
    for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(s.Push(i));  // some shared
    ExpectCounters(s, 6040);
  }
  {
    RetireStack only_shared;
    ASSERT_TRUE(only_shared.Push(uint64_t{1}));
  }
  { RetireStack empty; }
}

TEST(RetireStackTest, BigBatchPushIsOneNode) {
  constexpr size_t kBig = 1 << 20;
  RetireStack s;
  const std::vector<uint64_t> batch = Iota(1000, kBig);
  ASSERT_TRUE(s.Push(batch.data(), batch.size()));
  ASSERT_TRUE(s.Push(uint64_t{7}));
  ExpectCounters(s, kBig + 1);
  std::vector<uint64_t> out;
  size_t calls = 0;
  while (s.PopBatch(&out, 4096) > 0) ++calls;
  EXPECT_EQ(calls, kBig / 4096 + 1);
  ASSERT_EQ(out.size(), kBig + 1);
  EXPECT_TRUE(std::equal(batch.begin(), batch.end(), out.begin()));
  EXPECT_EQ(out.back(), 7u);
  ExpectCounters(s, 0);
}

// Producers keep running while the consumer drains; counters read from a
// third thread must never go wild (no wrap-around of queued()).
TEST(RetireStackTest, CountersReadableWhileBusy) {
  constexpr uint64_t kCount = 200000;
  RetireStack s;
  std::atomic<bool> producer_done{false};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (uint64_t i = 0; i < kCount; ++i) EXPECT_TRUE(s.Push(i));
    producer_done.store(true, std::memory_order_release);
  });
  std::thread observer([&] {
    uint64_t bad = 0;
    while (!stop.load(std::memory_order_acquire)) {
      bad += s.queued() > kCount;
      bad += s.popped_total() > kCount;
      bad += s.pushed_total() > kCount;
    }
    EXPECT_EQ(bad, 0u);
  });
  std::vector<uint64_t> out;
  uint64_t got = 0, misordered = 0;
  for (;;) {
    const bool done = producer_done.load(std::memory_order_acquire);
    out.clear();
    const size_t n = s.PopBatch(&out, 1000);
    for (size_t i = 0; i < n; ++i) misordered += out[i] != got + i;
    got += n;
    if (n == 0 && done) break;
  }
  producer.join();
  stop.store(true, std::memory_order_release);
  observer.join();
  EXPECT_EQ(misordered, 0u);
  EXPECT_EQ(got, kCount);
  ExpectCounters(s, 0);
  EXPECT_EQ(s.popped_total(), kCount);
}

}  // namespace
}  // namespace timelog
