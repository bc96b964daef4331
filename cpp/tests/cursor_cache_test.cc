// The cursor cache (snapshot.cc): a destroyed cursor's storage is reused by the
// next cursor made on the same thread. These tests check that a recycled cursor
// reads exactly its own snapshot, that cursors outlive their engine, that they
// may be destroyed on another thread than the one that made them (TSan), and
// that a thread's cache is freed at its exit, also when a cursor is destroyed
// after that (ASan / LeakSanitizer).

#include <pthread.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::Drain;
using testing_util::Model;
using testing_util::Rec;

std::vector<Rec> Reverse(std::vector<Rec> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

// A live cursor and what it must yield.
struct Open {
  std::unique_ptr<Cursor> cur;
  std::vector<Rec> want;
};

TEST(CursorCache, RecycledCursorsReadTheirOwnSnapshot) {
  auto e = Engine::Create(testing_util::SmallConfig());
  Model m;
  std::mt19937_64 rng(11);
  std::vector<Open> alive;
  uint64_t h = 0;
  for (int step = 0; step < 600; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      for (int k = 0, n = 1 + static_cast<int>(rng() % 40); k < n; ++k) {
        int64_t ts = static_cast<int64_t>(rng() % 3000);
        e->Append(ts, ++h);
        m.Append(ts, h);
      }
    } else if (op < 7) {
      // Many small deletes fragment the visible ranges (a Rep too big to keep).
      for (int k = 0, n = 1 + static_cast<int>(rng() % 5); k < n; ++k) {
        int64_t lo = static_cast<int64_t>(rng() % 3000);
        int64_t hi = lo + static_cast<int64_t>(rng() % 20);
        e->Delete(lo, hi);
        m.Delete(lo, hi);
      }
    } else if (op == 7) {
      e->Flush();
    } else {
      while (e->MaintStep()) {
      }
    }
    std::shared_ptr<const Snapshot> snap = e->GetSnapshot();
    for (int k = 0, n = 1 + static_cast<int>(rng() % 6); k < n; ++k) {
      int64_t lo = static_cast<int64_t>(rng() % 3100) - 50;
      int64_t hi = k == 0 ? kMaxTs : lo + static_cast<int64_t>(rng() % 400) - 5;
      const bool reverse = rng() % 3 == 0;
      Open o;
      switch (rng() % 3) {
        case 0:
          o.cur = e->Range(lo, hi, reverse);
          break;
        case 1:
          o.cur = snap->Range(lo, hi, reverse);
          break;
        default:  // Reversed() of a cursor that is dropped at once
          o.cur = e->Range(lo, hi, !reverse)->Reversed();
          break;
      }
      o.want = reverse ? Reverse(m.Range(lo, hi)) : m.Range(lo, hi);
      ASSERT_EQ(o.cur->Remaining(), o.want.size()) << "step " << step;
      alive.push_back(std::move(o));
    }
    std::shuffle(alive.begin(), alive.end(), rng);
    while (alive.size() > 10) {  // dropped unread, partly read or fully read
      Open o = std::move(alive.back());
      alive.pop_back();
      if (rng() % 2 == 0) {
        std::vector<Record> buf(1 + rng() % 7);
        size_t n = o.cur->Next(buf.data(), buf.size());
        ASSERT_LE(n, o.want.size());
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ((Rec{buf[i].ts, buf[i].handle}), o.want[i])
              << "step " << step;
        }
        if (rng() % 2 == 0) {
          o.want.erase(o.want.begin(), o.want.begin() + static_cast<long>(n));
          ASSERT_EQ(Drain(o.cur.get()), o.want) << "step " << step;
        }
      }
    }
  }
  for (Open& o : alive) EXPECT_EQ(Drain(o.cur.get()), o.want);
}

TEST(CursorCache, DroppedCursorStorageIsReused) {
  auto e = Engine::Create(testing_util::SmallConfig());
  for (int64_t i = 0; i < 100; ++i) e->Append(i, static_cast<uint64_t>(i));
  e->Range(0, 10);  // the thread's cache now holds one cursor
  std::unique_ptr<Cursor> a = e->Range(5, 20);
  const Cursor* where = a.get();
  a.reset();
  std::unique_ptr<Cursor> b = e->Range(30, 39, true);
  EXPECT_EQ(b.get(), where);  // the same storage, read afresh
  std::vector<Rec> want;
  for (int64_t t = 39; t >= 30; --t)
    want.push_back({t, static_cast<uint64_t>(t)});
  EXPECT_EQ(Drain(b.get()), want);
}

TEST(CursorCache, CursorsOutliveTheEngine) {
  std::vector<Open> alive;
  for (int round = 0; round < 3; ++round) {
    auto e = Engine::Create(testing_util::SmallConfig());
    Model m;
    for (int64_t i = 0; i < 2000; ++i) {
      e->Append(i % 700, static_cast<uint64_t>(i));
      m.Append(i % 700, static_cast<uint64_t>(i));
      if (i % 500 == 499) e->Flush();
    }
    e->Delete(100, 120);
    m.Delete(100, 120);
    // Cursors of every kind; a few dropped at once fill the cache.
    for (int k = 0; k < 8; ++k) e->Range(k * 50, k * 50 + 30);
    alive.push_back({e->Range(kMinTs, kMaxTs), m.Range(kMinTs, kMaxTs)});
    alive.push_back({e->Range(90, 130, true), Reverse(m.Range(90, 130))});
    alive.push_back({e->GetSnapshot()->Range(600, 800), m.Range(600, 800)});
    e.reset();  // the engine goes; its cursors keep what they read
    for (int k = 0; k < 2; ++k) {
      Open o = std::move(alive.front());
      alive.erase(alive.begin());
      EXPECT_EQ(Drain(o.cur.get()), o.want) << "round " << round;
    }
  }
  for (Open& o : alive) EXPECT_EQ(Drain(o.cur.get()), o.want);
}

// Cursors made on one thread and destroyed on another (their storage moves to
// that thread's cache), while a writer and the background worker run and the
// reader threads make and drop their own.
TEST(CursorCache, CursorsCrossThreadsUnderWriterAndWorker) {
  Config c = testing_util::SmallConfig();
  c.maintenance = MaintenanceMode::kBackground;
  c.maintenance_wakeup_ms = 1;
  auto e = Engine::Create(c);
  // In-order records ts = handle = i, never deleted: [0, committed) is in every
  // later cursor. Noise below 0 is appended and deleted.
  std::atomic<int64_t> committed{0};
  std::atomic<bool> done{false};
  // relaxed everywhere: a counter read after the joins, which order it.
  std::atomic<uint64_t> errors{0};
  constexpr size_t kSlots = 64;
  // Cursors handed from the makers to the droppers: slot k is owned by
  // whoever holds it (exchange transfers ownership; acq_rel publishes the
  // cursor's construction to the next holder and its use back).
  std::vector<std::atomic<Cursor*>> slots(kSlots);
  for (auto& s : slots) s.store(nullptr, std::memory_order_relaxed);

  std::thread writer([&] {
    for (int64_t i = 0; i < 20000; ++i) {
      e->Append(i, static_cast<uint64_t>(i));
      // release: the append happens-before a reader that acquires i + 1.
      committed.store(i + 1, std::memory_order_release);
      if (i % 97 == 0) {
        e->Append(-1 - (i % 50), uint64_t{1} << 40);
        e->Delete(-60, -1);
      }
      if (i % 1000 == 0) e->WaitForRoom(100);
    }
    // relaxed: `done` only ends the loops; the join orders the rest.
    done.store(true, std::memory_order_relaxed);
  });
  auto check = [&](Cursor* cur, int64_t lo, int64_t w) {
    // Rows [lo, w) are committed and never deleted: they come first.
    std::vector<Record> buf(64);
    int64_t expect = lo;
    while (expect < w) {
      size_t n = cur->Next(buf.data(), buf.size());
      if (n == 0) break;
      for (size_t i = 0; i < n && expect < w; ++i, ++expect) {
        if (buf[i].ts != expect ||
            buf[i].handle != static_cast<uint64_t>(expect)) {
          errors.fetch_add(1, std::memory_order_relaxed);
          return;
        }
      }
    }
    if (expect < w) errors.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {  // makers: make cursors, keep some in slots
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int iter = 0; iter < 3000 || !done.load(std::memory_order_relaxed);
           ++iter) {
        // acquire: pairs with the writer's release store.
        const int64_t w = committed.load(std::memory_order_acquire);
        const int64_t lo =
            w > 0 ? static_cast<int64_t>(rng() % static_cast<uint64_t>(w)) : 0;
        std::unique_ptr<Cursor> cur = e->Range(lo, kMaxTs);
        if (cur->Remaining() < static_cast<uint64_t>(w - lo)) {
          errors.fetch_add(1, std::memory_order_relaxed);
        }
        if (rng() % 2 == 0) {
          check(cur.get(), lo, std::min<int64_t>(w, lo + 100));
          continue;  // destroyed here
        }
        Cursor* old = slots[rng() % kSlots].exchange(cur.release(),
                                                     std::memory_order_acq_rel);
        delete old;  // another maker's cursor, maybe
      }
    });
  }
  threads.emplace_back([&] {  // dropper: reads and destroys others' cursors
    std::mt19937_64 rng(7);
    while (!done.load(std::memory_order_relaxed)) {
      Cursor* cur =
          slots[rng() % kSlots].exchange(nullptr, std::memory_order_acq_rel);
      if (cur == nullptr) {
        std::this_thread::yield();
        continue;
      }
      std::vector<Record> buf(16);
      cur->Next(buf.data(), buf.size());
      delete cur;
      e->Range(0, 10);  // and one of its own, from its cache
    }
  });
  writer.join();
  for (auto& t : threads) t.join();
  for (auto& s : slots) delete s.exchange(nullptr, std::memory_order_relaxed);
  EXPECT_EQ(errors.load(), 0u);
}

// A cursor destroyed by a thread_local destructor, at thread exit.
struct LateHolder {
  std::unique_ptr<Cursor> cur;
};

TEST(CursorCache, ThreadExitFreesTheCacheAndLaterCursors) {
  auto e = Engine::Create(testing_util::SmallConfig());
  for (int64_t i = 0; i < 1000; ++i) e->Append(i, static_cast<uint64_t>(i));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      // Destroyed at thread exit before the thread's cache is freed (C++
      // thread_local destructors run before pthread key destructors): its
      // cursor joins the cache and is freed with it (LeakSanitizer, under
      // cpp-asan, checks that nothing is left).
      thread_local LateHolder late;
      for (int k = 0; k < 20; ++k) e->Range(k, k + 50);
      late.cur = e->Range(0, kMaxTs);
      auto got = Drain(e->Range(10, 19).get());
      EXPECT_EQ(got.size(), 10u);
    });
  }
  for (auto& t : threads) t.join();
}

// A pthread key made after the engine's (so its destructor runs after the
// cursor cache's in each round) whose value is a cursor to destroy.
void DestroyCursor(void* p) { delete static_cast<Cursor*>(p); }

TEST(CursorCache, CursorDroppedByALaterKeyDestructorIsFreed) {
  auto e = Engine::Create(testing_util::SmallConfig());
  for (int64_t i = 0; i < 1000; ++i) e->Append(i, static_cast<uint64_t>(i));
  pthread_key_t key;
  ASSERT_EQ(pthread_key_create(&key, &DestroyCursor), 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) e->Range(k, k + 50);  // the cache exists
      // Given back after the cache was freed: it makes a new one, which the
      // next destructor round frees (LeakSanitizer checks, under cpp-asan).
      ASSERT_EQ(pthread_setspecific(key, e->Range(0, kMaxTs).release()), 0);
    });
  }
  for (auto& t : threads) t.join();
  pthread_key_delete(key);
  EXPECT_EQ(Drain(e->Range(10, 19).get()).size(), 10u);
}

}  // namespace
}  // namespace timelog
