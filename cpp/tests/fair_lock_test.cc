// FairLock: mutual exclusion, strict FIFO hand-off, Idle(), Reset().

#include "timelog/fair_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace timelog {
namespace {

TEST(FairLockTest, UncontendedTicketIsServedAtOnce) {
  FairLock lock;
  EXPECT_TRUE(lock.Idle());
  const uint64_t t = lock.Ticket();
  EXPECT_FALSE(lock.Idle());
  EXPECT_TRUE(lock.Serving(t));
  lock.Wait(t);  // returns immediately
  lock.Release();
  EXPECT_TRUE(lock.Idle());
  EXPECT_EQ(lock.tickets(), 1u);
}

TEST(FairLockTest, TicketsAreServedInTheOrderTheyWereTaken) {
  // Tickets are taken in a known order, then the waiting threads start in
  // REVERSE order: they must still enter in ticket order.
  constexpr int kThreads = 8;
  FairLock lock;
  const uint64_t first = lock.Ticket();  // held by this thread meanwhile
  std::vector<uint64_t> tickets;
  for (int i = 0; i < kThreads; ++i) tickets.push_back(lock.Ticket());
  std::vector<int> order;  // guarded by the lock itself
  std::vector<std::thread> threads;
  for (int i = kThreads - 1; i >= 0; --i) {
    threads.emplace_back([&, i] {
      lock.Wait(tickets[i]);
      order.push_back(i);
      lock.Release();
    });
  }
  // Give the waiters time to block (the order must hold whatever the timing).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  lock.Wait(first);
  lock.Release();
  for (auto& th : threads) th.join();
  ASSERT_EQ(order.size(), static_cast<size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(lock.Idle());
}

TEST(FairLockTest, MutualExclusionUnderContention) {
  // A plain (non-atomic) counter updated only inside the lock: a lost update
  // or a TSan report means two owners at once.
  constexpr int kThreads = 4;
  constexpr int kIters = 5000;
  FairLock lock;
  uint64_t counter = 0;
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        const uint64_t t = lock.Ticket();
        lock.Wait(t);
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlap = true;
        ++counter;
        inside.fetch_sub(1, std::memory_order_relaxed);
        lock.Release();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(counter, static_cast<uint64_t>(kThreads) * kIters);
  EXPECT_TRUE(lock.Idle());
  EXPECT_EQ(lock.tickets(), static_cast<uint64_t>(kThreads) * kIters);
}

TEST(FairLockTest, BoundedOvertakingPerWaiter) {
  // While one thread loops taking the lock, a waiter that took its ticket is
  // served after at most the sections already queued before it (here: one).
  FairLock lock;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sections{0};
  std::thread busy([&] {
    while (!stop.load()) {
      const uint64_t t = lock.Ticket();
      lock.Wait(t);
      sections.fetch_add(1);
      lock.Release();
    }
  });
  for (int k = 0; k < 200; ++k) {
    const uint64_t before = sections.load();
    const uint64_t t = lock.Ticket();
    lock.Wait(t);
    const uint64_t overtaken = sections.load() - before;
    lock.Release();
    EXPECT_LE(overtaken, 2u) << "iteration " << k;
  }
  stop = true;
  busy.join();
}

TEST(FairLockTest, ResetForgetsOutstandingTickets) {
  FairLock lock;
  lock.Ticket();
  lock.Ticket();  // as if two parent threads held/waited at a fork
  EXPECT_FALSE(lock.Idle());
  lock.Reset();
  EXPECT_TRUE(lock.Idle());
  const uint64_t t = lock.Ticket();
  lock.Wait(t);
  lock.Release();
  EXPECT_TRUE(lock.Idle());
}

}  // namespace
}  // namespace timelog
