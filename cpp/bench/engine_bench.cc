// engine_bench: C++ benchmark of the timelog engine, no Python involved.
//
// Usage:
//   engine_bench [--n N[,N...]] [--workload NAME[,NAME...]] [--repeats R]
//                [--json] [--cold] [--seed S]
//
// Defaults: --n 1000000,20000000  --repeats 3  all workloads.
// Every figure is reported as the median and the best (min) over the
// repeats; on a shared, loaded machine the best-of ratios are the stabler. Each
// workload runs its floor in the same process on the same data, so the results
// are ratios (engine time / floor time; lower is better, 1.0 = as fast as the
// floor).
//
// Data: n records, ts = 10 * i (100 Hz in ms units), handle = i. The engine
// uses the default Config (1 MiB memtable, 64 KiB pages, 1 h windows) in
// DISABLED maintenance mode, so everything is measured on one thread; a write
// that reports kBusy is followed by Flush() + MaintStep() until idle, as the
// binding's busy_policy="flush" would do.
//
// Workloads
//   ingest_inorder   AppendBatch in chunks of 4096, then Flush + Compact +
//                    MaintStep until idle (through flush and full compaction).
//                    Floor: std::vector<Record>::push_back of the same records
//                    (no reserve). Target: ratio <= 4 (>= 1/4 of the floor's
//                    throughput).
//   ingest_ooo5      as ingest_inorder, with 5% of the records moved back by
//                    a random distance of up to 10000 ts units. Same floor.
//   point_lookups    Snapshot::Equal on min(n, 1M) random existing ts of a
//                    compacted engine. Floor: std::equal_range on the sorted
//                    std::vector<Record>.
//   point_lookups_engine  the same keys through Engine::Equal (what the Python
//                    binding calls): each lookup also captures the current
//                    version. Same floor.
//   point_lookups_mem  the same keys through Engine::Equal on an engine whose
//                    memtable holds all n records (memtable_max_bytes sized
//                    for them, nothing sealed). Same floor.
//   point_lookups_l0  as point_lookups_mem after Flush(): one L0 segment (the
//                    sealed memtable, zero copy), not compacted. Same floor.
//   range100         min(n/100, 100k) random ranges of exactly 100 records read
//                    through Snapshot::Range + Cursor::Next. Floor:
//                    lower_bound + copy of 100 records from the vector.
//   range_open       the same ranges opened through Engine::Range (what the
//                    Python binding calls: it also captures the current
//                    version) and dropped without reading a row: the
//                    per-query overhead of a range read. Floor: the two
//                    lower_bounds of the range's ends on the vector.
//   full_scan        one cursor over everything, Next() into a buffer of 1024,
//                    summing ts. Floor: plain sequential read (sum of ts over
//                    the vector). Target: ratio <= 3.
//   range_deletes_10k  10k Delete() calls of ~n/100000-record ranges spread
//                    over the data, then a full scan of the snapshot (deletes
//                    applied logically). Reported per scanned record; the
//                    floor is the full_scan floor.
//   cutoff_retention a rolling stream: AppendBatch in chunks of 4096, after
//                    each chunk Cutoff(now - retention) with retention = n/10
//                    records, and the same maintenance as ingest. Floor: the
//                    push_back floor.
//   bytes_per_record Stats::engine_bytes / records after ingest_inorder and
//                    full compaction (not a time). Target: <= 18.
//
// Memory: by default the process keeps freed memory (glibc mallopt: no mmap
// for large blocks, no trimming), and every size starts with an untimed
// warm-up run, so neither the engine nor the floors are charged for the
// kernel's first-touch page faults, which otherwise dominate and make the
// 1M and 20M figures incomparable. --cold keeps glibc's defaults.
//
// With several --n values, the output also reports the growth of the
// per-record cost of ingest_inorder, full_scan and point_lookups from the
// smallest to the largest n (target: ingest and scan <= 1.3x).

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "timelog/engine.h"

namespace {

using timelog::Config;
using timelog::Engine;
using timelog::kMaxTs;
using timelog::kMinTs;
using timelog::MaintenanceMode;
using timelog::Record;
using timelog::WriteResult;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Keeps the optimiser from discarding results.
volatile uint64_t g_sink = 0;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Data {
  std::vector<int64_t> ts;
  std::vector<uint64_t> h;
};

Data InOrder(size_t n) {
  Data d;
  d.ts.resize(n);
  d.h.resize(n);
  for (size_t i = 0; i < n; ++i) {
    d.ts[i] = static_cast<int64_t>(i) * 10;
    d.h[i] = i;
  }
  return d;
}

Data Ooo5(size_t n, uint64_t seed) {
  Data d = InOrder(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 100 < 5) d.ts[i] -= static_cast<int64_t>(rng() % 10000);
  }
  return d;
}

Config BenchConfig() {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  return c;
}

void Settle(Engine* e) {
  e->Flush();
  e->Compact();
  while (e->MaintStep()) {
  }
}

void Relieve(Engine* e) {
  e->Flush();
  while (e->MaintStep()) {
  }
}

// Ingests `d` through flush and full compaction.
std::unique_ptr<Engine> Ingest(const Data& d) {
  auto e = Engine::Create(BenchConfig());
  const size_t n = d.ts.size();
  constexpr size_t kChunk = 4096;
  for (size_t i = 0; i < n; i += kChunk) {
    size_t k = std::min(kChunk, n - i);
    if (e->AppendBatch(&d.ts[i], &d.h[i], k) == WriteResult::kBusy)
      Relieve(e.get());
  }
  Settle(e.get());
  return e;
}

double FloorPushBack(const Data& d) {
  auto t0 = Clock::now();
  std::vector<Record> v;
  for (size_t i = 0; i < d.ts.size(); ++i) v.push_back(Record{d.ts[i], d.h[i]});
  auto t1 = Clock::now();
  g_sink = g_sink + v.back().handle;
  return Seconds(t0, t1);
}

std::vector<Record> AsRecords(const Data& d) {
  std::vector<Record> v(d.ts.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = Record{d.ts[i], d.h[i]};
  std::stable_sort(v.begin(), v.end(), [](const Record& a, const Record& b) {
    return a.ts < b.ts;
  });
  return v;
}

struct Result {
  std::string workload;
  size_t n = 0;
  double engine_s = 0;      // median seconds of the engine run
  double floor_s = 0;       // median seconds of the floor run
  double engine_min_s = 0;  // fastest engine run
  double floor_min_s = 0;   // fastest floor run
  uint64_t ops = 0;         // records or queries timed
  std::string unit;         // what `ops` counts
  double value = 0;         // for non-time metrics (bytes_per_record)
  bool is_time = true;
  std::string note;
};

// A timed result: medians and minima of the engine and floor runs.
Result TimedResult(const std::string& workload, size_t n,
                   const std::vector<double>& te, const std::vector<double>& tf,
                   uint64_t ops, const std::string& unit,
                   const std::string& note) {
  Result res;
  res.workload = workload;
  res.n = n;
  res.engine_s = Median(te);
  res.floor_s = Median(tf);
  res.engine_min_s = *std::min_element(te.begin(), te.end());
  res.floor_min_s = *std::min_element(tf.begin(), tf.end());
  res.ops = ops;
  res.unit = unit;
  res.note = note;
  return res;
}

struct Options {
  std::vector<size_t> ns = {1000000, 20000000};
  std::vector<std::string> workloads;
  int repeats = 3;
  bool json = false;
  bool cold = false;
  uint64_t seed = 42;
};

const char* kAllWorkloads[] = {"ingest_inorder",    "ingest_ooo5",
                               "point_lookups",     "point_lookups_engine",
                               "point_lookups_mem", "point_lookups_l0",
                               "range100",          "range_open",
                               "full_scan",         "range_deletes_10k",
                               "cutoff_retention",  "bytes_per_record"};

bool Wanted(const Options& o, const std::string& w) {
  if (o.workloads.empty()) return true;
  return std::find(o.workloads.begin(), o.workloads.end(), w) !=
         o.workloads.end();
}

// Sum of ts over a cursor on [lo, hi]; returns rows read.
uint64_t ScanSum(const timelog::Snapshot& s, int64_t lo, int64_t hi,
                 uint64_t* sum) {
  auto cur = s.Range(lo, hi);
  Record buf[1024];
  uint64_t rows = 0, acc = 0;
  while (size_t k = cur->Next(buf, 1024)) {
    for (size_t i = 0; i < k; ++i) acc += static_cast<uint64_t>(buf[i].ts);
    rows += k;
  }
  *sum = acc;
  return rows;
}

double FloorScan(const std::vector<Record>& v) {
  auto t0 = Clock::now();
  uint64_t acc = 0;
  for (const Record& r : v) acc += static_cast<uint64_t>(r.ts);
  auto t1 = Clock::now();
  g_sink = g_sink + acc;
  return Seconds(t0, t1);
}

void RunIngest(const Options& o, size_t n, const std::string& name,
               const Data& d, std::vector<Result>* out,
               std::unique_ptr<Engine>* keep) {
  std::vector<double> te, tf;
  for (int r = 0; r < o.repeats; ++r) {
    auto t0 = Clock::now();
    auto e = Ingest(d);
    auto t1 = Clock::now();
    te.push_back(Seconds(t0, t1));
    if (e->GetSnapshot()->Count(kMinTs, kMaxTs) != n) {
      std::fprintf(stderr, "%s: wrong count after ingest\n", name.c_str());
      std::exit(2);
    }
    if (keep && r == o.repeats - 1) {
      *keep = std::move(e);
    } else {
      e.reset();
    }
    tf.push_back(FloorPushBack(d));
  }
  out->push_back(TimedResult(name, n, te, tf, n, "record",
                             "floor: vector<Record>::push_back"));
}

void RunSize(const Options& o, size_t n, std::vector<Result>* out) {
  std::fprintf(stderr, "# n = %zu\n", n);
  Data d = InOrder(n);
  std::vector<Record> sorted = AsRecords(d);
  // Warm-up: the first large allocations of a process pay for fresh pages
  // (and move glibc's mmap threshold); do that once, untimed, for both sides.
  FloorPushBack(d);
  Ingest(d).reset();
  std::unique_ptr<Engine> base;
  const bool need_base =
      Wanted(o, "point_lookups") || Wanted(o, "point_lookups_engine") ||
      Wanted(o, "range100") || Wanted(o, "range_open") ||
      Wanted(o, "full_scan") || Wanted(o, "range_deletes_10k") ||
      Wanted(o, "bytes_per_record");

  if (Wanted(o, "ingest_inorder")) {
    RunIngest(o, n, "ingest_inorder", d, out, &base);
  }
  if (need_base && !base) base = Ingest(d);

  if (Wanted(o, "bytes_per_record")) {
    timelog::Stats st = base->GetStats();
    Result res;
    res.workload = "bytes_per_record";
    res.n = n;
    res.is_time = false;
    res.value = static_cast<double>(st.engine_bytes) / static_cast<double>(n);
    res.unit = "bytes/record";
    res.note = "Stats.engine_bytes after full compaction; target <= 18";
    out->push_back(res);
  }

  if (Wanted(o, "ingest_ooo5")) {
    Data od = Ooo5(n, o.seed);
    RunIngest(o, n, "ingest_ooo5", od, out, nullptr);
  }

  std::mt19937_64 rng(o.seed);
  const size_t lookups = std::min<size_t>(n, 1000000);
  std::vector<int64_t> keys(lookups);
  for (auto& k : keys) k = static_cast<int64_t>(rng() % n) * 10;
  // Times `equal` (a point lookup appending to its vector) over `keys`, with
  // the equal_range floor alternating with it.
  auto point_lookups = [&](const char* name, auto&& equal) {
    const size_t q = lookups;
    std::vector<double> te, tf;
    for (int r = 0; r < o.repeats; ++r) {
      std::vector<uint64_t> eq;
      uint64_t found = 0;
      auto t0 = Clock::now();
      for (int64_t k : keys) {
        eq.clear();
        equal(k, &eq);
        found += eq.size();
      }
      auto t1 = Clock::now();
      te.push_back(Seconds(t0, t1));
      if (found != q) {
        std::fprintf(stderr, "%s: found %lu of %zu\n", name,
                     static_cast<unsigned long>(found), q);
        std::exit(2);
      }
      uint64_t ffound = 0;
      t0 = Clock::now();
      for (int64_t k : keys) {
        auto [b, e] = std::equal_range(
            sorted.begin(), sorted.end(), Record{k, 0},
            [](const Record& a, const Record& b) { return a.ts < b.ts; });
        for (auto it = b; it != e; ++it) ffound += it->handle | 1;
      }
      t1 = Clock::now();
      g_sink = g_sink + ffound;
      tf.push_back(Seconds(t0, t1));
    }
    out->push_back(TimedResult(name, n, te, tf, q, "lookup",
                               "floor: std::equal_range on sorted vector"));
  };
  if (Wanted(o, "point_lookups")) {
    auto snap = base->GetSnapshot();
    point_lookups("point_lookups", [&](int64_t k, std::vector<uint64_t>* eq) {
      snap->Equal(k, eq);
    });
  }
  if (Wanted(o, "point_lookups_engine")) {
    point_lookups(
        "point_lookups_engine",
        [&](int64_t k, std::vector<uint64_t>* eq) { base->Equal(k, eq); });
  }
  if (Wanted(o, "point_lookups_mem") || Wanted(o, "point_lookups_l0")) {
    Config c = BenchConfig();
    c.memtable_max_bytes = (n + 1024) * 16;
    auto e = Engine::Create(c);
    for (size_t i = 0; i < n; i += 4096) {
      e->AppendBatch(&d.ts[i], &d.h[i], std::min<size_t>(4096, n - i));
    }
    auto lookup = [&](int64_t k, std::vector<uint64_t>* eq) {
      e->Equal(k, eq);
    };
    if (Wanted(o, "point_lookups_mem"))
      point_lookups("point_lookups_mem", lookup);
    if (Wanted(o, "point_lookups_l0")) {
      e->Flush();
      point_lookups("point_lookups_l0", lookup);
    }
  }

  if (Wanted(o, "range100")) {
    const size_t q = std::max<size_t>(1, std::min<size_t>(n / 100, 100000));
    std::vector<int64_t> starts(q);
    for (auto& s : starts) s = static_cast<int64_t>(rng() % (n - 100)) * 10;
    auto snap = base->GetSnapshot();
    std::vector<double> te, tf;
    for (int r = 0; r < o.repeats; ++r) {
      uint64_t rows = 0, acc = 0;
      Record buf[128];
      auto t0 = Clock::now();
      for (int64_t s : starts) {
        auto cur = snap->Range(s, s + 990);
        while (size_t k = cur->Next(buf, 128)) {
          for (size_t i = 0; i < k; ++i) acc += buf[i].handle;
          rows += k;
        }
      }
      auto t1 = Clock::now();
      te.push_back(Seconds(t0, t1));
      if (rows != q * 100) {
        std::fprintf(stderr, "range100: read %lu rows, want %zu\n",
                     static_cast<unsigned long>(rows), q * 100);
        std::exit(2);
      }
      t0 = Clock::now();
      for (int64_t s : starts) {
        auto b = std::lower_bound(
            sorted.begin(), sorted.end(), s,
            [](const Record& a, int64_t x) { return a.ts < x; });
        std::copy(b, b + 100, buf);
        for (size_t i = 0; i < 100; ++i) acc += buf[i].handle;
      }
      t1 = Clock::now();
      g_sink = g_sink + acc;
      tf.push_back(Seconds(t0, t1));
    }
    out->push_back(TimedResult("range100", n, te, tf, q, "range",
                               "floor: lower_bound + copy of 100 records"));
  }

  if (Wanted(o, "range_open")) {
    const size_t q = std::max<size_t>(1, std::min<size_t>(n / 100, 100000));
    std::vector<int64_t> starts(q);
    for (auto& s : starts) s = static_cast<int64_t>(rng() % (n - 100)) * 10;
    std::vector<double> te, tf;
    for (int r = 0; r < o.repeats; ++r) {
      uint64_t rows = 0;
      auto t0 = Clock::now();
      for (int64_t s : starts) rows += base->Range(s, s + 990)->Remaining();
      auto t1 = Clock::now();
      te.push_back(Seconds(t0, t1));
      if (rows != q * 100) {
        std::fprintf(stderr, "range_open: %lu rows, want %zu\n",
                     static_cast<unsigned long>(rows), q * 100);
        std::exit(2);
      }
      size_t acc = 0;
      t0 = Clock::now();
      for (int64_t s : starts) {
        auto cmp = [](const Record& a, int64_t x) { return a.ts < x; };
        auto b = std::lower_bound(sorted.begin(), sorted.end(), s, cmp);
        auto e = std::lower_bound(b, sorted.end(), s + 1000, cmp);
        acc += static_cast<size_t>(e - b);
      }
      t1 = Clock::now();
      g_sink = g_sink + acc;
      tf.push_back(Seconds(t0, t1));
    }
    out->push_back(TimedResult("range_open", n, te, tf, q, "range",
                               "floor: lower_bound of both ends"));
  }

  if (Wanted(o, "full_scan")) {
    auto snap = base->GetSnapshot();
    std::vector<double> te, tf;
    for (int r = 0; r < o.repeats; ++r) {
      uint64_t sum = 0;
      auto t0 = Clock::now();
      uint64_t rows = ScanSum(*snap, kMinTs, kMaxTs, &sum);
      auto t1 = Clock::now();
      g_sink = g_sink + sum;
      if (rows != n) {
        std::fprintf(stderr, "full_scan: %lu rows\n",
                     static_cast<unsigned long>(rows));
        std::exit(2);
      }
      te.push_back(Seconds(t0, t1));
      tf.push_back(FloorScan(sorted));
    }
    Result res = TimedResult("full_scan", n, te, tf, n, "record", "");
    res.note = "floor: sum of ts over std::vector<Record>; target ratio <= 3";
    out->push_back(res);
  }

  if (Wanted(o, "range_deletes_10k")) {
    std::vector<double> te, tdel, tf;
    const int64_t span_records =
        std::max<int64_t>(1, static_cast<int64_t>(n / 100000));
    uint64_t rows = 0;
    for (int r = 0; r < o.repeats; ++r) {
      auto e = Ingest(d);
      std::mt19937_64 drng(o.seed + r);
      auto t0 = Clock::now();
      for (int k = 0; k < 10000; ++k) {
        int64_t lo = static_cast<int64_t>(drng() % n) * 10;
        e->Delete(lo, lo + span_records * 10 - 1);
      }
      auto t1 = Clock::now();
      uint64_t sum = 0;
      auto snap = e->GetSnapshot();
      rows = ScanSum(*snap, kMinTs, kMaxTs, &sum);
      auto t2 = Clock::now();
      g_sink = g_sink + sum;
      if (rows != snap->Count(kMinTs, kMaxTs)) {
        std::fprintf(stderr, "range_deletes_10k: scan/count mismatch\n");
        std::exit(2);
      }
      tdel.push_back(Seconds(t0, t1));
      te.push_back(Seconds(t0, t2));
      tf.push_back(FloorScan(sorted));
    }
    Result res = TimedResult("range_deletes_10k", n, te, tf, n, "record", "");
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "10k deletes %.1f ms + scan of %lu visible rows; floor: "
                  "full-scan floor",
                  Median(tdel) * 1e3, static_cast<unsigned long>(rows));
    res.note = buf;
    out->push_back(res);
  }

  if (Wanted(o, "cutoff_retention")) {
    std::vector<double> te, tf;
    const int64_t retention = static_cast<int64_t>(n / 10) * 10;
    for (int r = 0; r < o.repeats; ++r) {
      auto t0 = Clock::now();
      auto e = Engine::Create(BenchConfig());
      constexpr size_t kChunk = 4096;
      for (size_t i = 0; i < n; i += kChunk) {
        size_t k = std::min(kChunk, n - i);
        bool busy = e->AppendBatch(&d.ts[i], &d.h[i], k) == WriteResult::kBusy;
        busy |= e->Cutoff(d.ts[i + k - 1] - retention) == WriteResult::kBusy;
        if (busy) Relieve(e.get());
      }
      Settle(e.get());
      auto t1 = Clock::now();
      uint64_t c = e->GetSnapshot()->Count(kMinTs, kMaxTs);
      if (c > static_cast<uint64_t>(retention / 10) + 1) {
        std::fprintf(stderr, "cutoff_retention: %lu records left\n",
                     static_cast<unsigned long>(c));
        std::exit(2);
      }
      te.push_back(Seconds(t0, t1));
      tf.push_back(FloorPushBack(d));
    }
    Result res = TimedResult("cutoff_retention", n, te, tf, n, "record", "");
    res.note = "retention n/10 records; floor: vector push_back";
    out->push_back(res);
  }
}

void Print(const Options& o, const std::vector<Result>& rs) {
  // Growth of per-op cost between the smallest and largest n, for the engine
  // and for its floor (the floors grow too once the data outgrows the CPU
  // caches, so the engine's growth is best read against its floor's).
  struct Growth {
    double e_small = 0, e_large = 0, f_small = 0, f_large = 0;
  };
  std::map<std::string, Growth> growth;
  if (o.ns.size() > 1) {
    size_t lo = *std::min_element(o.ns.begin(), o.ns.end());
    size_t hi = *std::max_element(o.ns.begin(), o.ns.end());
    for (const Result& r : rs) {
      if (!r.is_time) continue;
      // Best-of-repeats cost: the stabler figure on a shared machine.
      double e = r.engine_min_s / static_cast<double>(r.ops);
      double f = r.floor_min_s / static_cast<double>(r.ops);
      Growth& g = growth[r.workload];
      if (r.n == lo) {
        g.e_small = e;
        g.f_small = f;
      }
      if (r.n == hi) {
        g.e_large = e;
        g.f_large = f;
      }
    }
  }
  if (o.json) {
    std::printf("{\n  \"results\": [\n");
    for (size_t i = 0; i < rs.size(); ++i) {
      const Result& r = rs[i];
      std::printf("    {\"workload\": \"%s\", \"n\": %zu, ", r.workload.c_str(),
                  r.n);
      if (r.is_time) {
        std::printf(
            "\"engine_s\": %.6f, \"floor_s\": %.6f, \"ops\": %lu, \"unit\": "
            "\"%s\", "
            "\"engine_ns_per_op\": %.2f, \"floor_ns_per_op\": %.2f, \"ratio\": "
            "%.3f, "
            "\"engine_best_ns_per_op\": %.2f, \"floor_best_ns_per_op\": %.2f, "
            "\"ratio_best\": %.3f, ",
            r.engine_s, r.floor_s, static_cast<unsigned long>(r.ops),
            r.unit.c_str(), r.engine_s * 1e9 / r.ops, r.floor_s * 1e9 / r.ops,
            r.engine_s / r.floor_s, r.engine_min_s * 1e9 / r.ops,
            r.floor_min_s * 1e9 / r.ops, r.engine_min_s / r.floor_min_s);
      } else {
        std::printf("\"value\": %.3f, \"unit\": \"%s\", ", r.value,
                    r.unit.c_str());
      }
      std::printf("\"note\": \"%s\"}%s\n", r.note.c_str(),
                  i + 1 < rs.size() ? "," : "");
    }
    std::printf("  ],\n  \"growth\": {");
    bool first = true;
    for (const auto& [w, g] : growth) {
      if (g.e_small <= 0 || g.e_large <= 0) continue;
      std::printf("%s\"%s\": {\"engine\": %.3f, \"floor\": %.3f}",
                  first ? "" : ", ", w.c_str(), g.e_large / g.e_small,
                  g.f_large / g.f_small);
      first = false;
    }
    std::printf("},\n  \"repeats\": %d,\n  \"cold\": %s\n}\n", o.repeats,
                o.cold ? "true" : "false");
    return;
  }
  std::printf("%-18s %10s %12s %12s %7s %12s %12s %7s  %s\n", "workload", "n",
              "engine ns/op", "floor ns/op", "ratio", "eng best", "floor best",
              "ratio", "note");
  std::printf("%-18s %10s %12s %12s %7s %12s %12s %7s\n", "", "", "(median)",
              "(median)", "", "(min)", "(min)", "(min)");
  for (const Result& r : rs) {
    if (r.is_time) {
      std::printf(
          "%-18s %10zu %12.2f %12.2f %7.3f %12.2f %12.2f %7.3f  per %s; %s\n",
          r.workload.c_str(), r.n, r.engine_s * 1e9 / r.ops,
          r.floor_s * 1e9 / r.ops, r.engine_s / r.floor_s,
          r.engine_min_s * 1e9 / r.ops, r.floor_min_s * 1e9 / r.ops,
          r.engine_min_s / r.floor_min_s, r.unit.c_str(), r.note.c_str());
    } else {
      std::printf("%-18s %10zu %12.3f %12s %7s %12s %12s %7s  %s; %s\n",
                  r.workload.c_str(), r.n, r.value, "-", "-", "-", "-", "-",
                  r.unit.c_str(), r.note.c_str());
    }
  }
  if (!growth.empty()) {
    std::printf("\nper-op cost growth (best of repeats), n=%zu -> n=%zu:\n",
                *std::min_element(o.ns.begin(), o.ns.end()),
                *std::max_element(o.ns.begin(), o.ns.end()));
    for (const auto& [w, g] : growth)
      if (g.e_small > 0 && g.e_large > 0)
        std::printf("  %-18s engine %.3fx   floor %.3fx\n", w.c_str(),
                    g.e_large / g.e_small, g.f_large / g.f_small);
  }
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(
      stderr,
      "%s\nusage: engine_bench [--n N[,N...]] [--workload NAME[,NAME...]] "
      "[--repeats R] [--json] [--cold] [--seed S]\nworkloads:",
      msg);
  for (const char* w : kAllWorkloads) std::fprintf(stderr, " %s", w);
  std::fprintf(stderr, "\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--json") {
      o.json = true;
    } else if (a == "--n") {
      o.ns.clear();
      for (const std::string& s : Split(value())) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (*end != '\0' || v < 1000) Usage("--n must be integers >= 1000");
        o.ns.push_back(static_cast<size_t>(v));
      }
    } else if (a == "--workload") {
      o.workloads = Split(value());
      for (const std::string& w : o.workloads) {
        bool known = false;
        for (const char* k : kAllWorkloads) known |= w == k;
        if (!known) Usage(("unknown workload " + w).c_str());
      }
    } else if (a == "--repeats") {
      o.repeats = std::atoi(value().c_str());
      if (o.repeats < 1) Usage("--repeats must be >= 1");
    } else if (a == "--cold") {
      o.cold = true;
    } else if (a == "--seed") {
      o.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--help" || a == "-h") {
      Usage("engine_bench: timelog engine benchmark");
    } else {
      Usage(("unknown argument " + a).c_str());
    }
  }
  if (!o.cold) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
  }
  std::vector<Result> results;
  for (size_t n : o.ns) RunSize(o, n, &results);
  Print(o, results);
  return 0;
}
