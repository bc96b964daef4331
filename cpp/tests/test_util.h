// Helpers shared by the engine test suites: cursor collection, a thread-safe
// drop recorder, a reference model of the engine's visible contents, and small
// configurations that force seals, flushes and compactions quickly.

#ifndef TIMELOG_TESTS_TEST_UTIL_H_
#define TIMELOG_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "timelog/engine.h"

namespace timelog {
namespace testing_util {

// A record as the tests compare it.
struct Rec {
  int64_t ts;
  uint64_t handle;
  bool operator==(const Rec& o) const {
    return ts == o.ts && handle == o.handle;
  }
  bool operator!=(const Rec& o) const { return !(*this == o); }
};

inline std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << "(" << r.ts << "," << r.handle << ")";
}

// Smallest memtable the tests use to force frequent seals. 4 KiB is ~256 rows.
constexpr uint64_t kSmallMem = 4096;
constexpr uint64_t kSmallPage = kMinPageBytes;

// Disabled-mode configuration with tiny limits, so every layer is exercised
// by a few hundred records.
inline Config SmallConfig() {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  c.memtable_max_bytes = kSmallMem;
  c.target_page_bytes = kSmallPage;
  c.sealed_max_runs = 64;
  c.max_delta_segments = 2;
  c.window_size = 100;
  c.window_origin = 0;
  return c;
}

inline Config DisabledConfig() {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  return c;
}

// Drains a cursor into a vector, `chunk` records per Next call. Checks that
// Remaining() is exact before and after every call.
inline std::vector<Rec> Drain(Cursor* cur, size_t chunk = 97) {
  std::vector<Rec> out;
  std::vector<Record> buf(chunk);
  for (;;) {
    uint64_t before = cur->Remaining();
    size_t n = cur->Next(buf.data(), buf.size());
    EXPECT_EQ(cur->Remaining(), before - n) << "Remaining not exact";
    if (n == 0) {
      EXPECT_EQ(before, 0u) << "Next returned 0 with Remaining > 0";
      break;
    }
    EXPECT_LE(n, chunk);
    for (size_t i = 0; i < n; ++i) out.push_back({buf[i].ts, buf[i].handle});
  }
  // Further calls stay at 0.
  EXPECT_EQ(cur->Next(buf.data(), buf.size()), 0u);
  return out;
}

inline std::vector<Rec> Collect(const Snapshot& s, int64_t lo = kMinTs,
                                int64_t hi = kMaxTs, bool reverse = false,
                                size_t chunk = 97) {
  auto cur = s.Range(lo, hi, reverse);
  EXPECT_NE(cur, nullptr);
  if (!cur) return {};
  uint64_t initial = cur->Remaining();
  auto out = Drain(cur.get(), chunk);
  EXPECT_EQ(initial, out.size()) << "initial Remaining != rows returned";
  return out;
}

inline std::vector<Rec> CollectAll(const Engine& e) {
  auto s = e.GetSnapshot();
  return Collect(*s);
}

inline std::vector<uint64_t> Handles(const std::vector<Rec>& v) {
  std::vector<uint64_t> h;
  h.reserve(v.size());
  for (const Rec& r : v) h.push_back(r.handle);
  return h;
}

inline std::vector<int64_t> Timestamps(const std::vector<Rec>& v) {
  std::vector<int64_t> t;
  t.reserve(v.size());
  for (const Rec& r : v) t.push_back(r.ts);
  return t;
}

inline bool SortedByTs(const std::vector<Rec>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i - 1].ts > v[i].ts) return false;
  return true;
}

// Columns for AppendBatch: n records, ts[i] = ts_of(i) (called for i = 0, 1,
// ... in order) and handle i.
struct Columns {
  std::vector<int64_t> ts;
  std::vector<uint64_t> handles;
};
template <class TsOfIndex>
Columns IndexedColumns(size_t n, TsOfIndex ts_of) {
  Columns c;
  c.ts.resize(n);
  c.handles.resize(n);
  for (size_t i = 0; i < n; ++i) {
    c.ts[i] = ts_of(i);
    c.handles[i] = i;
  }
  return c;
}

// Runs maintenance to quiescence in disabled mode: flush everything, request
// compaction, step until idle. Fails the test if it does not settle.
inline void SettleAll(Engine* e, bool compact = true, int max_steps = 100000) {
  e->Flush();
  if (compact) e->Compact();
  int steps = 0;
  while (e->MaintStep()) {
    if (++steps > max_steps) {
      ADD_FAILURE() << "MaintStep did not become idle after " << max_steps
                    << " steps";
      return;
    }
  }
}

// Collects dropped handles. Thread-safe; install with Attach(&config).
class DropRecorder {
 public:
  void Attach(Config* c) {
    c->on_drop = &DropRecorder::Callback;
    c->drop_ctx = this;
  }
  static void Callback(void* ctx, const uint64_t* h, size_t n) {
    auto* self = static_cast<DropRecorder*>(ctx);
    std::lock_guard<std::mutex> lock(self->mu_);
    ++self->calls_;
    self->handles_.insert(self->handles_.end(), h, h + n);
    if (self->hook_) self->hook_(h, n);
  }
  std::vector<uint64_t> handles() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handles_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handles_.size();
  }
  size_t calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Optional extra check run inside the callback (under the recorder's lock).
  void SetHook(std::function<void(const uint64_t*, size_t)> f) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(f);
  }

 private:
  mutable std::mutex mu_;
  std::vector<uint64_t> handles_;
  size_t calls_ = 0;
  std::function<void(const uint64_t*, size_t)> hook_;
};

// Handles that encode their timestamp, so a drop hook can look records up:
// handle = ts * 1000000 + k (ts >= 0, k < 1000000).
inline uint64_t H(int64_t ts, int k) {
  return static_cast<uint64_t>(ts) * 1000000 + k;
}
// The timestamp encoded in a handle made by H().
inline int64_t TsOf(uint64_t h) { return static_cast<int64_t>(h / 1000000); }

// Appends one record per ts in [lo, hi), with handle H(ts, 0).
inline void AppendSeq(Engine* e, int64_t lo, int64_t hi) {
  for (int64_t ts = lo; ts < hi; ++ts) e->Append(ts, H(ts, 0));
}

// The handles AppendSeq(e, lo, hi) writes, in order.
inline std::vector<uint64_t> HandlesOf(int64_t lo, int64_t hi) {
  std::vector<uint64_t> v;
  for (int64_t ts = lo; ts < hi; ++ts) v.push_back(H(ts, 0));
  return v;
}

// Hooks a DropRecorder so that, inside the drop callback, every reported
// handle (made by H()) is checked not to be visible in `engine`'s newest
// snapshot. Leave `engine` null to skip the check.
struct VisibilityGuard {
  std::atomic<Engine*> engine{nullptr};
  std::atomic<uint64_t> violations{0};
  std::atomic<uint64_t> checked{0};
  void Install(DropRecorder* rec) {
    rec->SetHook([this](const uint64_t* h, size_t n) {
      Engine* e = engine.load();
      if (e == nullptr) return;
      auto s = e->GetSnapshot();
      std::vector<uint64_t> eq;
      for (size_t i = 0; i < n; ++i) {
        eq.clear();
        s->Equal(TsOf(h[i]), &eq);
        for (uint64_t x : eq)
          if (x == h[i]) violations.fetch_add(1);
        checked.fetch_add(1);
      }
    });
  }
};

// Fixture: one engine per test whose drops are recorded in drops_ and, when
// made with Make(), checked by guard_ as they are reported.
class GuardedEngineTest : public ::testing::Test {
 protected:
  ~GuardedEngineTest() override { guard_.engine = nullptr; }

  // Creates engine_ from `c` with the recorder and the guard attached.
  Engine* Make(Config c) {
    guard_.Install(&drops_);
    Engine* e = MakeRecorded(c);
    guard_.engine = e;
    return e;
  }
  // Make() from SmallConfig() with the given window size.
  Engine* Make(int64_t window_size) { return Make(SmallWindow(window_size)); }
  // Creates engine_ from `c` with only the recorder attached.
  Engine* MakeRecorded(Config c) {
    drops_.Attach(&c);
    engine_ = Engine::Create(c);
    return engine_.get();
  }
  // SmallConfig() with the given window size.
  static Config SmallWindow(int64_t window_size) {
    Config c = SmallConfig();
    c.window_size = window_size;
    return c;
  }

  DropRecorder drops_;
  VisibilityGuard guard_;
  std::unique_ptr<Engine> engine_;  // declared last: destroyed first
};

// Returns a description of the difference between two multisets of handles,
// or "" if they are equal.
inline std::string MultisetDiff(std::vector<uint64_t> a,
                                std::vector<uint64_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return "";
  std::vector<uint64_t> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                      std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(),
                      std::back_inserter(only_b));
  std::ostringstream s;
  s << "sizes " << a.size() << " vs " << b.size() << "; only in first:";
  for (size_t i = 0; i < only_a.size() && i < 10; ++i) s << " " << only_a[i];
  s << "; only in second:";
  for (size_t i = 0; i < only_b.size() && i < 10; ++i) s << " " << only_b[i];
  return s.str();
}

// True if the vector has no duplicate values.
inline bool Distinct(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) == v.end();
}

// Reference model: the visible records sorted by ts, ties in insertion order.
// A delete hides every record written before it, so it simply erases the
// covered records from the model.
class Model {
 public:
  void Append(int64_t ts, uint64_t h) {
    auto it =
        std::upper_bound(v_.begin(), v_.end(), ts,
                         [](int64_t t, const Rec& r) { return t < r.ts; });
    v_.insert(it, Rec{ts, h});
  }
  void Delete(int64_t lo, int64_t hi) {
    if (lo > hi) return;
    auto b = LowerIt(lo);
    auto e = UpperIt(hi);
    if (b < e) v_.erase(b, e);
  }
  void Cutoff(int64_t t) {
    if (t == kMinTs) return;
    Delete(kMinTs, t - 1);
  }
  const std::vector<Rec>& Visible() const { return v_; }
  std::vector<Rec> Range(int64_t lo, int64_t hi) const {
    if (lo > hi) return {};
    return std::vector<Rec>(LowerItC(lo), UpperItC(hi));
  }
  uint64_t Count(int64_t lo, int64_t hi) const {
    if (lo > hi) return 0;
    return static_cast<uint64_t>(UpperItC(hi) - LowerItC(lo));
  }
  std::optional<int64_t> Ceil(int64_t t) const {
    auto it = LowerItC(t);
    if (it == v_.end()) return std::nullopt;
    return it->ts;
  }
  std::optional<int64_t> Floor(int64_t t) const {
    auto it = UpperItC(t);
    if (it == v_.begin()) return std::nullopt;
    return std::prev(it)->ts;
  }
  std::vector<uint64_t> Equal(int64_t t) const { return Handles(Range(t, t)); }
  size_t size() const { return v_.size(); }

 private:
  using It = std::vector<Rec>::iterator;
  using CIt = std::vector<Rec>::const_iterator;
  It LowerIt(int64_t t) {
    return std::lower_bound(v_.begin(), v_.end(), t,
                            [](const Rec& r, int64_t x) { return r.ts < x; });
  }
  It UpperIt(int64_t t) {
    return std::upper_bound(v_.begin(), v_.end(), t,
                            [](int64_t x, const Rec& r) { return x < r.ts; });
  }
  CIt LowerItC(int64_t t) const {
    return std::lower_bound(v_.begin(), v_.end(), t,
                            [](const Rec& r, int64_t x) { return r.ts < x; });
  }
  CIt UpperItC(int64_t t) const {
    return std::upper_bound(v_.begin(), v_.end(), t,
                            [](int64_t x, const Rec& r) { return x < r.ts; });
  }
  std::vector<Rec> v_;
};

// Appends the record to the engine and to its model.
inline void AppendBoth(Engine* e, Model* m, int64_t ts, uint64_t h) {
  e->Append(ts, h);
  m->Append(ts, h);
}

// Deletes [lo, hi] from the engine and from its model.
inline void DeleteBoth(Engine* e, Model* m, int64_t lo, int64_t hi) {
  e->Delete(lo, hi);
  m->Delete(lo, hi);
}

// Applies the cutoff to the engine and to its model.
inline void CutoffBoth(Engine* e, Model* m, int64_t t) {
  e->Cutoff(t);
  m->Cutoff(t);
}

// Checks the snapshot against the model: full contents (forward and
// reverse), Count/Ceil/Floor/Contains/Equal at the given probe points.
inline void ExpectMatches(const Snapshot& s, const Model& m,
                          const std::vector<int64_t>& probes = {}) {
  auto got = Collect(s);
  ASSERT_EQ(got.size(), m.size());
  EXPECT_EQ(got, m.Visible());
  EXPECT_EQ(s.Count(kMinTs, kMaxTs), m.size());
  EXPECT_EQ(s.MinTs(), m.Ceil(kMinTs));
  EXPECT_EQ(s.MaxTs(), m.Floor(kMaxTs));
  EXPECT_EQ(s.Empty(), m.size() == 0);
  for (int64_t p : probes) {
    EXPECT_EQ(s.Ceil(p), m.Ceil(p)) << "Ceil(" << p << ")";
    EXPECT_EQ(s.Floor(p), m.Floor(p)) << "Floor(" << p << ")";
    auto eq = m.Equal(p);
    EXPECT_EQ(s.Contains(p), !eq.empty()) << "Contains(" << p << ")";
    std::vector<uint64_t> got_eq;
    s.Equal(p, &got_eq);
    EXPECT_EQ(got_eq, eq) << "Equal(" << p << ")";
  }
}

// Fixture: an engine (SmallConfig() until Reset() says otherwise), the model
// of what it should show, and the last handle written.
class ModelledEngineTest : public ::testing::Test {
 protected:
  // Starts over: a new engine from `c`, an empty model, handle 0.
  void Reset(const Config& c = SmallConfig()) {
    e_ = Engine::Create(c);
    m_ = Model();
    h_ = 0;
  }
  // Appends ts with the next handle (++h_) to the engine and the model.
  void Add(int64_t ts) { AppendBoth(e_.get(), &m_, ts, ++h_); }
  // Deletes [lo, hi] from the engine and the model.
  void Delete(int64_t lo, int64_t hi) { DeleteBoth(e_.get(), &m_, lo, hi); }
  // Applies the cutoff to the engine and the model.
  void Cutoff(int64_t t) { CutoffBoth(e_.get(), &m_, t); }
  // Checks the engine's newest snapshot against the model (ExpectMatches).
  void Check(const std::vector<int64_t>& probes = {}) {
    ExpectMatches(*e_->GetSnapshot(), m_, probes);
  }

  std::unique_ptr<Engine> e_ = Engine::Create(SmallConfig());
  Model m_;
  uint64_t h_ = 0;
};

// Maintenance stages applied after writing, to move data between layers.
enum Stage { kNone = 0, kFlush, kPartial, kSettled, kNumStages };

inline const char* StageName(int s) {
  switch (s) {
    case kNone:
      return "none";
    case kFlush:
      return "flush";
    case kPartial:
      return "partial";
    case kSettled:
      return "settled";
  }
  return "?";
}

inline void ApplyStage(Engine* e, int stage) {
  switch (stage) {
    case kNone:
      break;
    case kFlush:
      e->Flush();
      break;
    case kPartial:
      e->Compact();
      e->MaintStep();
      e->MaintStep();
      break;
    case kSettled:
      SettleAll(e);
      break;
  }
}

// A ModelledEngineTest whose ForEachStage runs body(stage) once per
// maintenance stage, each time on a fresh engine and model, under a trace
// naming the stage.
class StagedEngineTest : public ModelledEngineTest {
 protected:
  template <class Body>
  void ForEachStage(Body body) {
    for (int stage = 0; stage < kNumStages; ++stage) {
      SCOPED_TRACE(StageName(stage));
      Reset();
      body(stage);
    }
  }
};

}  // namespace testing_util
}  // namespace timelog

#endif  // TIMELOG_TESTS_TEST_UTIL_H_
