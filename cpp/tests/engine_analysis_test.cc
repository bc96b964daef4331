// Analysis reads: Count, CountBy (bucket counts), BucketCount, the columnar
// Gather / Cursor::NextColumns and the Floor + Equal "as of" lookup, against
// the reference model, with records spread over every layer (L1 windows, L0,
// sealed runs, the memtable's in-order and out-of-order rows), equal
// timestamps in several layers, deletes applied physically and logically,
// int64 extremes and empty ranges.

#include <random>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::Collect;
using testing_util::DeleteBoth;
using testing_util::Handles;
using testing_util::Model;
using testing_util::Rec;
using testing_util::SettleAll;
using testing_util::SmallConfig;
using testing_util::Timestamps;

// Brute-force bucket counts from the model's visible records.
std::vector<uint64_t> ModelCountBy(const Model& m, int64_t lo, int64_t hi,
                                   int64_t origin, int64_t every,
                                   std::vector<int64_t>* starts) {
  std::vector<uint64_t> out;
  starts->clear();
  if (lo > hi) return out;
  auto floor_div = [](__int128 a, __int128 d) {
    __int128 q = a / d;
    return (a % d < 0) ? q - 1 : q;
  };
  __int128 q0 = floor_div(static_cast<__int128>(lo) - origin, every);
  __int128 q1 = floor_div(static_cast<__int128>(hi) - origin, every);
  for (__int128 q = q0; q <= q1; ++q) {
    __int128 s = origin + q * every;
    starts->push_back(s < kMinTs ? kMinTs : static_cast<int64_t>(s));
    out.push_back(0);
  }
  for (const Rec& r : m.Range(lo, hi)) {
    ++out[static_cast<size_t>(
        floor_div(static_cast<__int128>(r.ts) - origin, every) - q0)];
  }
  return out;
}

void ExpectCountBy(const Snapshot& s, const Model& m, int64_t lo, int64_t hi,
                   int64_t origin, int64_t every) {
  SCOPED_TRACE(::testing::Message()
               << "CountBy lo=" << lo << " hi=" << hi << " origin=" << origin
               << " every=" << every);
  std::vector<int64_t> want_starts;
  auto want = ModelCountBy(m, lo, hi, origin, every, &want_starts);
  ASSERT_EQ(BucketCount(lo, hi, origin, every), want.size());
  std::vector<uint64_t> got(want.size(), 12345);
  std::vector<int64_t> starts(want.size(), 0);
  s.CountBy(lo, hi, origin, every, starts.data(), got.data(), got.size());
  EXPECT_EQ(got, want);
  EXPECT_EQ(starts, want_starts);
}

void ExpectGather(const Snapshot& s, const Model& m, int64_t lo, int64_t hi) {
  SCOPED_TRACE(::testing::Message() << "Gather lo=" << lo << " hi=" << hi);
  auto want = m.Range(lo, hi);
  ASSERT_EQ(s.Count(lo, hi), want.size());
  for (bool reverse : {false, true}) {
    std::vector<Rec> exp = want;
    if (reverse) std::reverse(exp.begin(), exp.end());
    std::vector<int64_t> ts(exp.size() + 1, 7);
    std::vector<uint64_t> h(exp.size() + 1, 7);
    EXPECT_EQ(s.Gather(lo, hi, reverse, ts.data(), h.data(), exp.size()),
              exp.size());
    EXPECT_EQ(ts.back(), 7) << "wrote past cap";
    ts.pop_back();
    h.pop_back();
    EXPECT_EQ(ts, Timestamps(exp));
    EXPECT_EQ(h, Handles(exp));
    // Timestamps only, in small steps through a cursor.
    auto cur = s.Range(lo, hi, reverse);
    std::vector<int64_t> ts2(exp.size());
    size_t at = 0;
    while (size_t n = cur->NextColumns(ts2.data() + at, nullptr,
                                       std::min<size_t>(5, exp.size() - at))) {
      at += n;
    }
    EXPECT_EQ(at, exp.size());
    EXPECT_EQ(ts2, Timestamps(exp));
  }
}

// The "as of" lookup: the last record at Floor(t) is the latest inserted.
void ExpectAsOf(const Snapshot& s, const Model& m, int64_t t) {
  auto f = s.Floor(t);
  ASSERT_EQ(f, m.Floor(t)) << "Floor(" << t << ")";
  if (!f) return;
  std::vector<uint64_t> eq;
  s.Equal(*f, &eq);
  ASSERT_EQ(eq, m.Equal(*f));
  auto cur = s.Range(kMinTs, t, /*reverse=*/true);
  Record r;
  ASSERT_EQ(cur->Next(&r, 1), 1u);
  EXPECT_EQ(r.ts, *f);
  EXPECT_EQ(r.handle, eq.back());
}

// Writes ties at the same timestamps into L1, L0, sealed runs and both parts
// of the memtable, with deletes at each stage.
std::unique_ptr<Engine> Layered(Model* m, uint64_t* next_h) {
  Config c = SmallConfig();
  c.sealed_max_runs = 1000;
  auto e = Engine::Create(c);
  auto add = [&](int64_t ts) {
    uint64_t h = (*next_h)++;
    e->Append(ts, h);
    m->Append(ts, h);
  };
  auto del = [&](int64_t lo, int64_t hi) {
    e->Delete(lo, hi);
    m->Delete(lo, hi);
  };
  std::mt19937_64 rng(42);
  // L1
  for (int i = 0; i < 600; ++i) add(i % 300);
  add(kMinTs);
  add(kMaxTs);
  del(40, 45);
  SettleAll(e.get());
  del(100, 104);  // logical on L1
  // L0
  for (int i = 0; i < 400; ++i) add(i % 200);
  add(kMaxTs);
  e->Flush();
  del(150, 151);
  // sealed runs (not flushed)
  for (int i = 0; i < 700; ++i) add(static_cast<int64_t>(rng() % 250));
  // memtable: in-order tail and out-of-order rows
  for (int i = 0; i < 50; ++i) add(300 + i);
  for (int i = 0; i < 50; ++i) add(static_cast<int64_t>(rng() % 300));
  add(kMinTs);
  del(10, 12);
  del(kMaxTs, kMaxTs);
  add(kMaxTs);
  for (int i = 0; i < 20; ++i) add(11);
  return e;
}

TEST(EngineAnalysis, BucketCountArithmetic) {
  EXPECT_EQ(BucketCount(0, 9, 0, 10), 1u);
  EXPECT_EQ(BucketCount(0, 10, 0, 10), 2u);
  EXPECT_EQ(BucketCount(-1, 0, 0, 10), 2u);
  EXPECT_EQ(BucketCount(-10, -1, 0, 10), 1u);
  EXPECT_EQ(BucketCount(5, 4, 0, 10), 0u);
  EXPECT_EQ(BucketCount(3, 3, 7, 5), 1u);
  EXPECT_EQ(BucketCount(kMinTs, kMaxTs, 0, 1),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(BucketCount(kMinTs, kMaxTs, 0, kMaxTs), 4u);       // q = -2 .. 1
  EXPECT_EQ(BucketCount(kMinTs, kMaxTs, kMaxTs, kMaxTs), 4u);  // q = -3 .. 0
  EXPECT_EQ(BucketCount(kMinTs, kMinTs, kMaxTs, 1), 1u);
  EXPECT_THROW(BucketCount(0, 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(BucketCount(0, 1, 0, -5), std::invalid_argument);
}

TEST(EngineAnalysis, CountByRejectsBadArguments) {
  auto e = Engine::Create(SmallConfig());
  e->Append(1, 1);
  auto s = e->GetSnapshot();
  uint64_t c[4];
  EXPECT_THROW(s->CountBy(0, 10, 0, 0, nullptr, c, 1), std::invalid_argument);
  EXPECT_THROW(s->CountBy(0, 10, 0, 5, nullptr, c, 2), std::invalid_argument);
  s->CountBy(0, 10, 0, 5, nullptr, c, 3);
  EXPECT_EQ(c[0], 1u);
  EXPECT_EQ(c[1] + c[2], 0u);
}

TEST(EngineAnalysis, EmptyEngineAndEmptyRanges) {
  auto e = Engine::Create(SmallConfig());
  auto s = e->GetSnapshot();
  Model m;
  ExpectCountBy(*s, m, 0, 99, 0, 10);
  ExpectCountBy(*s, m, 5, 4, 0, 10);
  ExpectGather(*s, m, kMinTs, kMaxTs);
  EXPECT_EQ(s->Gather(5, 4, false, nullptr, nullptr, 10), 0u);
  EXPECT_EQ(s->Floor(kMaxTs), std::nullopt);
}

TEST(EngineAnalysis, LayeredMatchesModel) {
  Model m;
  uint64_t h = 1;
  auto e = Layered(&m, &h);
  auto s = e->GetSnapshot();
  ASSERT_EQ(Collect(*s), m.Visible());
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {kMinTs, kMaxTs}, {0, 299},
      {10, 12},         {11, 11},
      {40, 45},         {39, 46},
      {100, 160},       {kMinTs, kMinTs},
      {kMaxTs, kMaxTs}, {kMaxTs - 1, kMaxTs},
      {kMinTs, 0},      {349, kMaxTs},
      {500, 400},       {1000, 2000}};
  for (auto [lo, hi] : ranges) {
    EXPECT_EQ(s->Count(lo, hi), m.Count(lo, hi)) << lo << " " << hi;
    ExpectGather(*s, m, lo, hi);
  }
  for (auto [lo, hi] : ranges) {
    for (int64_t every : {int64_t{1}, int64_t{3}, int64_t{7}, int64_t{50},
                          int64_t{1000}, kMaxTs}) {
      if (BucketCount(lo, hi, 0, every) > 5000) continue;
      for (int64_t origin :
           {int64_t{0}, int64_t{-4}, int64_t{5}, kMinTs, kMaxTs}) {
        ExpectCountBy(*s, m, lo, hi, origin, every);
      }
    }
  }
  for (int64_t t :
       {kMinTs, kMinTs + 1, int64_t{-1}, int64_t{0}, int64_t{10}, int64_t{11},
        int64_t{12}, int64_t{13}, int64_t{44}, int64_t{102}, int64_t{150},
        int64_t{299}, int64_t{349}, int64_t{350}, kMaxTs - 1, kMaxTs}) {
    ExpectAsOf(*s, m, t);
  }
}

TEST(EngineAnalysis, CountByAtInt64Extremes) {
  auto e = Engine::Create(SmallConfig());
  Model m;
  uint64_t h = 1;
  for (int64_t t : {kMinTs, kMinTs, kMinTs + 1, int64_t{-1}, int64_t{0},
                    kMaxTs - 1, kMaxTs, kMaxTs}) {
    e->Append(t, h);
    m.Append(t, h++);
  }
  for (int stage = 0; stage < 2; ++stage) {
    auto s = e->GetSnapshot();
    for (int64_t every : {kMaxTs, kMaxTs / 2 + 1, int64_t{1} << 62}) {
      for (int64_t origin : {int64_t{0}, kMinTs, kMaxTs, int64_t{-7}}) {
        ExpectCountBy(*s, m, kMinTs, kMaxTs, origin, every);
        ExpectCountBy(*s, m, kMinTs, kMinTs + 1, origin, every);
        ExpectCountBy(*s, m, kMaxTs - 1, kMaxTs, origin, every);
      }
    }
    ExpectCountBy(*s, m, kMaxTs - 10, kMaxTs, kMaxTs, 1);
    ExpectCountBy(*s, m, kMinTs, kMinTs + 10, kMinTs, 1);
    ExpectCountBy(*s, m, kMinTs, kMinTs + 10, kMaxTs, 3);
    ExpectGather(*s, m, kMinTs, kMaxTs);
    ExpectAsOf(*s, m, kMinTs);
    ExpectAsOf(*s, m, kMaxTs);
    SettleAll(e.get());
  }
}

TEST(EngineAnalysis, RandomisedAgainstModel) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(round);
    Config c = SmallConfig();
    c.sealed_max_runs = 1000;
    auto e = Engine::Create(c);
    Model m;
    uint64_t h = 1;
    for (int step = 0; step < 400; ++step) {
      uint64_t op = rng() % 100;
      if (op < 80) {
        int64_t t = static_cast<int64_t>(rng() % 500) - 250;
        e->Append(t, h);
        m.Append(t, h++);
      } else if (op < 88) {
        int64_t a = static_cast<int64_t>(rng() % 500) - 250;
        int64_t b = a + static_cast<int64_t>(rng() % 30);
        DeleteBoth(e.get(), &m, a, b);
      } else if (op < 93) {
        e->Flush();
      } else {
        e->Compact();
        for (int i = 0; i < 3; ++i) e->MaintStep();
      }
    }
    auto s = e->GetSnapshot();
    for (int q = 0; q < 30; ++q) {
      int64_t lo = static_cast<int64_t>(rng() % 600) - 300;
      int64_t hi = lo + static_cast<int64_t>(rng() % 300) - 20;
      int64_t every = 1 + static_cast<int64_t>(rng() % 40);
      int64_t origin = static_cast<int64_t>(rng() % 100) - 50;
      ExpectCountBy(*s, m, lo, hi, origin, every);
      ExpectGather(*s, m, lo, hi);
      ExpectAsOf(*s, m, lo);
    }
  }
}

}  // namespace
}  // namespace timelog
