// Concurrency: one writer, several readers and the background worker running
// together. Readers check that each snapshot is internally consistent
// (sorted, Count == rows iterated, Remaining exact, stable on re-read) and
// complete: it contains every record the writer had published as committed
// (through an atomic watermark) before the snapshot was taken.
// Designed to run clean under TSan.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::DropRecorder;
using testing_util::MultisetDiff;

// In-order stream: ts = i >= 0, handle = i, never deleted.
// Noise: ts < 0, handle has kNoiseBit set; appended out of order, deleted,
// cut off.
constexpr uint64_t kNoiseBit = uint64_t{1} << 40;

#ifdef __SANITIZE_THREAD__
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

struct Shared {
  std::atomic<int64_t> committed{
      0};  // in-order records [0, committed) are committed
  std::atomic<bool> done{false};
  std::atomic<uint64_t> snapshots_checked{0};
  std::atomic<uint64_t> errors{0};
};

void Fail(Shared* sh, const std::string& what) {
  if (sh->errors.fetch_add(1) < 10) ADD_FAILURE() << what;
}

// `full`: iterate the whole snapshot; otherwise check counts, point queries
// and a window near the newest committed record (cheap, so more snapshots
// interleave with the writer and the worker).
void CheckSnapshot(const Engine& e, Shared* sh, std::mt19937_64* rng,
                   bool full) {
  // acquire: pairs with the writer's release store after each append, so
  // every record below w was committed before the snapshot below is taken.
  const int64_t w = sh->committed.load(std::memory_order_acquire);
  auto s = e.GetSnapshot();
  const uint64_t count_pos = s->Count(0, kMaxTs);
  const uint64_t count_neg = s->Count(kMinTs, -1);
  const uint64_t count_all = s->Count(kMinTs, kMaxTs);
  if (count_all != count_pos + count_neg)
    Fail(sh, "Count(all) != Count(neg) + Count(pos)");
  if (count_pos < static_cast<uint64_t>(w))
    Fail(sh, "snapshot misses committed records: " + std::to_string(count_pos) +
                 " < " + std::to_string(w));

  // Positive zone: exactly 0, 1, ..., count_pos - 1, handle == ts.
  std::vector<Record> buf(1 + (*rng)() % 1024);
  if (!full) {
    // Only the newest part of the stream, plus the committed boundary.
    int64_t lo = std::max<int64_t>(0, w - 2000);
    auto cur = s->Range(lo, kMaxTs);
    if (cur->Remaining() != count_pos - static_cast<uint64_t>(lo))
      Fail(sh, "Remaining != Count (tail)");
    int64_t expect = lo;
    while (size_t n = cur->Next(buf.data(), buf.size()))
      for (size_t i = 0; i < n; ++i, ++expect)
        if (buf[i].ts != expect ||
            buf[i].handle != static_cast<uint64_t>(expect)) {
          Fail(sh, "tail of stream wrong at " + std::to_string(expect));
          return;
        }
    if (static_cast<uint64_t>(expect) != count_pos) Fail(sh, "tail length");
    if (w > 0 && !s->Contains(w - 1)) Fail(sh, "last committed record missing");
    if (s->Count(kMinTs, kMaxTs) != count_all)
      Fail(sh, "snapshot count changed");
    sh->snapshots_checked.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto cur = s->Range(0, kMaxTs);
  if (cur->Remaining() != count_pos) Fail(sh, "Remaining != Count (pos)");
  int64_t expect = 0;
  while (size_t n = cur->Next(buf.data(), buf.size())) {
    for (size_t i = 0; i < n; ++i, ++expect) {
      if (buf[i].ts != expect ||
          buf[i].handle != static_cast<uint64_t>(expect)) {
        Fail(sh, "in-order stream wrong at " + std::to_string(expect) +
                     ": got ts " + std::to_string(buf[i].ts));
        return;
      }
    }
    if (cur->Remaining() != count_pos - static_cast<uint64_t>(expect))
      Fail(sh, "Remaining not exact");
  }
  if (static_cast<uint64_t>(expect) != count_pos)
    Fail(sh, "rows iterated != Count (pos)");

  // Negative zone: sorted, all noise handles, count matches.
  auto ncur = s->Range(kMinTs, -1);
  uint64_t rows = 0;
  int64_t prev = kMinTs;
  while (size_t n = ncur->Next(buf.data(), buf.size())) {
    for (size_t i = 0; i < n; ++i, ++rows) {
      if (buf[i].ts < prev) Fail(sh, "noise zone not sorted");
      if (!(buf[i].handle & kNoiseBit))
        Fail(sh, "foreign handle in noise zone");
      prev = buf[i].ts;
    }
  }
  if (rows != count_neg) Fail(sh, "rows iterated != Count (neg)");

  // Point queries agree with the stream.
  if (count_pos > 0) {
    int64_t t = static_cast<int64_t>((*rng)() % count_pos);
    std::vector<uint64_t> eq;
    s->Equal(t, &eq);
    if (eq != std::vector<uint64_t>{static_cast<uint64_t>(t)})
      Fail(sh, "Equal on stream");
    if (!s->Contains(t)) Fail(sh, "Contains on stream");
    if (s->Ceil(0) != 0) Fail(sh, "Ceil(0)");
    if (s->MaxTs() != static_cast<int64_t>(count_pos) - 1) Fail(sh, "MaxTs");
    // Reverse over the tail.
    int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(count_pos) - 50);
    auto rc = s->Range(lo, kMaxTs, true);
    int64_t e_ts = static_cast<int64_t>(count_pos) - 1;
    while (size_t n = rc->Next(buf.data(), buf.size()))
      for (size_t i = 0; i < n; ++i, --e_ts)
        if (buf[i].ts != e_ts) Fail(sh, "reverse tail");
    if (e_ts != lo - 1) Fail(sh, "reverse tail length");
  }
  // The snapshot is immutable: counts are unchanged on re-read.
  if (s->Count(kMinTs, kMaxTs) != count_all) Fail(sh, "snapshot count changed");
  (void)e.GetStats();
  sh->snapshots_checked.fetch_add(1, std::memory_order_relaxed);
}

struct WriterOptions {
  int64_t n = kTsan ? 60000 : 300000;
  bool toggle_maintenance = false;
  bool flushes = true;
};

// Runs the writer on the calling thread; returns every handle written.
std::vector<uint64_t> RunWriter(Engine* e, Shared* sh, const WriterOptions& o) {
  std::mt19937_64 rng(123);
  std::vector<uint64_t> written;
  uint64_t noise = 0;
  int64_t cutoff = -1000000;
  for (int64_t i = 0; i < o.n; ++i) {
    WriteResult r = e->Append(i, static_cast<uint64_t>(i));
    written.push_back(static_cast<uint64_t>(i));
    // release: the append above happens-before any reader that sees i + 1.
    sh->committed.store(i + 1, std::memory_order_release);
    if (i % 7 == 3) {
      int64_t ts = -1 - static_cast<int64_t>(rng() % 1000000);
      uint64_t h = kNoiseBit | ++noise;
      e->Append(ts, h);
      written.push_back(h);
    }
    if (i % 500 == 17) {
      std::vector<int64_t> ts(64);
      std::vector<uint64_t> hs(64);
      for (size_t k = 0; k < ts.size(); ++k) {
        ts[k] = -1 - static_cast<int64_t>(rng() % 1000000);
        hs[k] = kNoiseBit | ++noise;
        written.push_back(hs[k]);
      }
      e->AppendBatch(ts.data(), hs.data(), ts.size());
    }
    if (i % 50 == 11) {
      int64_t lo = -1 - static_cast<int64_t>(rng() % 1000000);
      e->Delete(lo,
                std::min<int64_t>(-1, lo + static_cast<int64_t>(rng() % 5000)));
    }
    if (i % 3000 == 2999 && cutoff < -10) {
      cutoff += 7000;
      e->Cutoff(std::min<int64_t>(cutoff, -1));
    }
    if (o.flushes && i % 20000 == 19999) e->Flush();
    if (i % 15000 == 7000) e->Compact();
    if (o.toggle_maintenance && i % 10000 == 5000) {
      e->StopMaintenance();
      if (e->UnderPressure()) e->Flush();
      e->StartMaintenance();
    }
    if (r == WriteResult::kBusy) e->WaitForRoom(50);
  }
  return written;
}

void RunReaders(Engine* e, Shared* sh, int readers,
                std::vector<std::thread>* out) {
  for (int k = 0; k < readers; ++k) {
    out->emplace_back([e, sh, k] {
      std::mt19937_64 rng(1000 + k);
      uint64_t i = 0;
      while (!sh->done.load(std::memory_order_acquire))
        CheckSnapshot(*e, sh, &rng, ++i % 16 == 0);
      CheckSnapshot(*e, sh, &rng, true);  // once more after the writer finished
    });
  }
}

Config ConcurrencyConfig() {
  Config c;
  c.maintenance = MaintenanceMode::kBackground;
  c.memtable_max_bytes = 16 << 10;
  c.target_page_bytes = 1024;
  c.sealed_max_runs = 4;
  c.maintenance_wakeup_ms = 1;
  c.max_delta_segments = 2;
  c.window_size = 5000;
  return c;
}

// Fixture for the writer-with-readers tests: an engine from
// ConcurrencyConfig() whose drops are recorded, and checking readers on it.
class EngineConcurrency : public ::testing::Test {
 protected:
  ~EngineConcurrency() override { StopReaders(); }

  // Creates e_ with drops_ attached and starts `readers` checking readers.
  void StartWithReaders(int readers) {
    Config c = ConcurrencyConfig();
    drops_.Attach(&c);
    e_ = Engine::Create(c);
    RunReaders(e_.get(), &sh_, readers, &readers_);
  }
  // Runs the writer, then stops the readers; returns every handle written.
  std::vector<uint64_t> WriteThenStopReaders(const WriterOptions& o) {
    auto written = RunWriter(e_.get(), &sh_, o);
    StopReaders();
    return written;
  }
  // Tells the readers the writer is done and joins them.
  void StopReaders() {
    sh_.done.store(true, std::memory_order_release);
    for (auto& t : readers_) t.join();
    readers_.clear();
  }
  // Every handle still stored, then every handle dropped (also put in
  // `dropped` if given).
  std::vector<uint64_t> StoredAndDropped(
      std::vector<uint64_t>* dropped = nullptr) {
    std::vector<uint64_t> all;
    e_->CollectHandles(&all);
    auto d = drops_.handles();
    all.insert(all.end(), d.begin(), d.end());
    if (dropped) *dropped = std::move(d);
    return all;
  }

  DropRecorder drops_;
  std::unique_ptr<Engine> e_;
  Shared sh_;
  std::vector<std::thread> readers_;
};

TEST_F(EngineConcurrency, OneWriterThreeReadersWithWorker) {
  StartWithReaders(3);
  auto written = WriteThenStopReaders(WriterOptions{});
  EXPECT_EQ(sh_.errors.load(), 0u);
  EXPECT_GT(sh_.snapshots_checked.load(), 3u);
  std::printf("[          ] %lu snapshots checked\n",
              static_cast<unsigned long>(sh_.snapshots_checked.load()));
  Stats s = e_->GetStats();
  EXPECT_GT(s.seals_total, 10u);
  EXPECT_GT(s.flushes_total, 10u);
  EXPECT_GT(s.compactions_total, 0u);
  std::vector<uint64_t> d;
  auto all = StoredAndDropped(&d);
  EXPECT_TRUE(testing_util::Distinct(d));
  EXPECT_EQ(MultisetDiff(all, written), "");
}

TEST_F(EngineConcurrency, ReadersWhileMaintenanceIsToggled) {
  StartWithReaders(3);
  WriterOptions o;
  o.n = kTsan ? 40000 : 150000;
  o.toggle_maintenance = true;
  auto written = WriteThenStopReaders(o);
  EXPECT_EQ(sh_.errors.load(), 0u);
  EXPECT_TRUE(e_->MaintenanceRunning());
  EXPECT_EQ(MultisetDiff(StoredAndDropped(), written), "");
}

TEST_F(EngineConcurrency, HeldSnapshotsStayStableUnderChurn) {
  Config c = ConcurrencyConfig();
  auto e = Engine::Create(c);
  Shared sh;
  std::atomic<uint64_t> stable_checks{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 2; ++k) {
    readers.emplace_back([&, k] {
      std::mt19937_64 rng(k);
      while (!sh.done.load(std::memory_order_acquire)) {
        auto s = e->GetSnapshot();
        auto first = testing_util::Collect(*s, kMinTs, kMaxTs, false, 512);
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        auto second = testing_util::Collect(*s, kMinTs, kMaxTs, false, 77);
        if (first != second) Fail(&sh, "held snapshot changed");
        if (!testing_util::SortedByTs(first)) Fail(&sh, "unsorted snapshot");
        stable_checks.fetch_add(1);
      }
    });
  }
  WriterOptions o;
  o.n = kTsan ? 30000 : 100000;
  RunWriter(e.get(), &sh, o);
  sh.done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(sh.errors.load(), 0u);
  EXPECT_GT(stable_checks.load(), 0u);
}

TEST_F(EngineConcurrency, SnapshotsOutliveEngineAcrossThreads) {
  Config c = ConcurrencyConfig();
  auto e = Engine::Create(c);
  for (int64_t i = 0; i < 20000; ++i) e->Append(i, static_cast<uint64_t>(i));
  std::vector<std::shared_ptr<const Snapshot>> snaps;
  for (int k = 0; k < 4; ++k) snaps.push_back(e->GetSnapshot());
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 4; ++k) {
    readers.emplace_back([&, k] {
      for (int rep = 0; rep < 5; ++rep) {
        auto got = testing_util::Collect(*snaps[k]);
        if (got.size() != 20000u) bad.fetch_add(1);
        for (size_t i = 0; i < got.size(); ++i)
          if (got[i].ts != static_cast<int64_t>(i)) {
            bad.fetch_add(1);
            break;
          }
      }
    });
  }
  e.reset();  // destroys the engine (joins the worker) while readers run
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
}

TEST_F(EngineConcurrency, ConcurrentStatsAndSnapshotsDuringFlushes) {
  Config c = ConcurrencyConfig();
  auto e = Engine::Create(c);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> bad{0};
  std::thread stats_reader([&] {
    uint64_t last_seals = 0;
    while (!done.load(std::memory_order_acquire)) {
      Stats s = e->GetStats();
      if (s.seals_total < last_seals)
        bad.fetch_add(1);  // counters never go back
      last_seals = s.seals_total;
      if (s.min_ts && s.max_ts && *s.min_ts > *s.max_ts) bad.fetch_add(1);
    }
  });
  std::thread snap_reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      auto s = e->GetSnapshot();
      auto spans = s->PageSpans(kMinTs, kMaxTs);
      for (const PageSpan& p : spans)
        for (size_t i = 1; i < p.size; ++i)
          if (p.ts[i - 1] > p.ts[i]) bad.fetch_add(1);
    }
  });
  for (int64_t i = 0; i < (kTsan ? 30000 : 200000); ++i) {
    e->Append(i, static_cast<uint64_t>(i));
    if (i % 5000 == 0) e->Flush();
  }
  done.store(true, std::memory_order_release);
  stats_reader.join();
  snap_reader.join();
  EXPECT_EQ(bad.load(), 0u);
}

}  // namespace
}  // namespace timelog
