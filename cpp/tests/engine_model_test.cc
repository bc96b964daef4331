// Randomised model test: thousands of mixed operations (append, batch,
// delete, cutoff, flush, maint_step, compact, snapshot) in disabled mode with
// tiny limits, each followed by a comparison against a reference model
// (sorted vector; deletes erase what they cover). Old snapshots must keep
// reading their old state; dropped handles must never be visible in the newest
// version, never be reported twice, and at the end
// CollectHandles + drops == every handle ever written.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::Collect;
using testing_util::DropRecorder;
using testing_util::Model;
using testing_util::MultisetDiff;
using testing_util::Rec;

struct ModelParams {
  int64_t window_size = 100;
  int64_t window_origin = 0;
  uint64_t memtable = testing_util::kSmallMem;
  uint64_t page = kMinPageBytes;
  uint32_t max_delta = 2;
  uint32_t sealed_max_runs = 8;
  double debt = 0.0;
  CompactionConfig compaction;
  int ops = 3000;
  bool extremes = true;
  bool background = false;  // worker running; MaintStep replaced by Compact
  AdaptiveConfig adaptive;
};

class ModelRunner {
 public:
  ModelRunner(const ModelParams& p, uint64_t seed) : p_(p), rng_(seed) {
    Config c;
    c.maintenance = p.background ? MaintenanceMode::kBackground
                                 : MaintenanceMode::kDisabled;
    c.maintenance_wakeup_ms = 1;
    c.adaptive = p.adaptive;
    c.memtable_max_bytes = p.memtable;
    c.target_page_bytes = p.page;
    c.window_size = p.window_size;
    c.window_origin = p.window_origin;
    c.max_delta_segments = p.max_delta;
    c.sealed_max_runs = p.sealed_max_runs;
    c.delete_debt_threshold = p.debt;
    c.compaction = p.compaction;
    drops_.Attach(&c);
    // Inside the callback: reported handles must already be invisible in the
    // newest published version.
    drops_.SetHook([this](const uint64_t* h, size_t n) {
      if (!e_) return;
      auto s = e_->GetSnapshot();
      std::vector<uint64_t> eq;
      for (size_t i = 0; i < n; ++i) {
        if (h[i] == 0 || h[i] >= next_handle_.load(std::memory_order_acquire)) {
          ++hook_violations_;
          continue;
        }
        eq.clear();
        s->Equal(ts_of_[h[i]], &eq);
        if (std::find(eq.begin(), eq.end(), h[i]) != eq.end())
          ++hook_violations_;
      }
    });
    e_ = Engine::Create(c);
    // Fixed capacity: the drop hook may read it from the worker thread, so it
    // must never reallocate. Each op writes at most 61 records.
    ts_of_.assign(static_cast<size_t>(p.ops) * 61 + 16, 0);
  }

  void Run() {
    for (int step = 0; step < p_.ops; ++step) {
      op_ = step;
      DoRandomOp();
      CheckAgainstModel();
      CheckStructure();
      CheckDrops();
      if (step % 97 == 0) CheckOldSnapshots();
      if (::testing::Test::HasFatalFailure() || failures_ > 20) return;
    }
    // Settle completely and check once more.
    if (p_.background) e_->StopMaintenance();
    testing_util::SettleAll(e_.get());
    CheckAgainstModel();
    CheckStructure();
    CheckDrops();
    CheckOldSnapshots();
    EXPECT_EQ(hook_violations_, 0u);
    EXPECT_EQ(e_->GetStats().records_dropped, drops_.size());
    // The key invariant: stored + dropped == written, exactly once each.
    std::vector<uint64_t> all;
    e_->CollectHandles(&all);
    auto d = drops_.handles();
    EXPECT_TRUE(testing_util::Distinct(d));
    all.insert(all.end(), d.begin(), d.end());
    Stats st = e_->GetStats();
    std::printf(
        "[          ] %d ops, %lu handles, max visible %zu, %zu dropped, "
        "%lu seals, %lu flushes, %lu compactions, %lu windows dropped\n",
        p_.ops, static_cast<unsigned long>(next_handle_.load() - 1),
        max_visible_, d.size(), static_cast<unsigned long>(st.seals_total),
        static_cast<unsigned long>(st.flushes_total),
        static_cast<unsigned long>(st.compactions_total),
        static_cast<unsigned long>(st.windows_dropped));
    // The run must actually have exercised the layers it is meant to test.
    EXPECT_GT(st.seals_total, 10u);
    EXPECT_GT(st.compactions_total, 0u);
    EXPECT_GT(d.size(), 0u);
    std::vector<uint64_t> written;
    for (uint64_t h = 1; h < next_handle_.load(); ++h) written.push_back(h);
    EXPECT_EQ(MultisetDiff(all, written), "");
  }

 private:
  // The engine's own structural invariants, after every step.
  void CheckStructure() {
    const std::string bad = e_->CheckInvariants();
    if (!bad.empty()) {
      ADD_FAILURE() << "step " << op_ << ": " << bad;
      ++failures_;
    }
  }

  int64_t RandTs() {
    uint64_t r = rng_() % 100;
    if (p_.extremes && r < 2) {
      const int64_t ext[] = {kMinTs, kMinTs + 1, kMaxTs - 1, kMaxTs};
      return ext[rng_() % 4];
    }
    if (r < 50) {
      tail_ += static_cast<int64_t>(rng_() % 4);
      return tail_;
    }
    return tail_ - static_cast<int64_t>(rng_() % 2000) + 10;
  }

  uint64_t NewHandle(int64_t ts) {
    uint64_t h = next_handle_.load(std::memory_order_relaxed);
    ts_of_.at(h) = ts;
    next_handle_.store(h + 1, std::memory_order_release);
    return h;
  }

  void Append(int64_t ts) {
    uint64_t h = NewHandle(ts);
    e_->Append(ts, h);
    m_.Append(ts, h);
  }

  void DoRandomOp() {
    uint64_t r = rng_() % 1000;
    if (r < 380) {
      Append(RandTs());
    } else if (r < 480) {
      size_t n = 1 + rng_() % 60;
      std::vector<int64_t> ts(n);
      std::vector<uint64_t> hs(n);
      bool sorted = rng_() % 2;
      int64_t base = RandTs();
      for (size_t i = 0; i < n; ++i) {
        if (!sorted) {
          ts[i] = RandTs();
        } else if (base > kMaxTs - 100) {
          ts[i] = base;  // no overflow near the top
        } else {
          ts[i] = base + static_cast<int64_t>(i / 3);
        }
        hs[i] = NewHandle(ts[i]);
        m_.Append(ts[i], hs[i]);
      }
      e_->AppendBatch(ts.data(), hs.data(), n);
    } else if (r < 560) {
      int64_t lo = RandTs();
      int64_t hi =
          lo > kMaxTs - 60 ? kMaxTs : lo + static_cast<int64_t>(rng_() % 60);
      e_->Delete(lo, hi);
      m_.Delete(lo, hi);
    } else if (r < 600) {
      int64_t t = RandTs();
      e_->Delete(t, t);
      m_.Delete(t, t);
    } else if (r < 605) {
      // Large deletes, including ones reaching the extremes.
      int64_t t = RandTs();
      if (rng_() % 2) {
        e_->Delete(kMinTs, t);
        m_.Delete(kMinTs, t);
      } else {
        e_->Delete(t, kMaxTs);
        m_.Delete(t, kMaxTs);
      }
    } else if (r < 620) {
      int64_t t = tail_ - 1000 - static_cast<int64_t>(rng_() % 3000);
      if (rng_() % 20 == 0) t = kMinTs;  // no-op form
      e_->Cutoff(t);
      m_.Cutoff(t);
    } else if (r < 660) {
      e_->Flush();
    } else if (r < 800) {
      int k = 1 + rng_() % 3;
      for (int i = 0; i < k; ++i) {
        if (p_.background) {
          e_->Compact();
        } else {
          e_->MaintStep();
        }
      }
    } else if (r < 830) {
      e_->Compact();
      if (rng_() % 3 == 0 && !p_.background) testing_util::SettleAll(e_.get());
    } else if (r < 870) {
      if (snaps_.size() >= 8)
        snaps_.erase(snaps_.begin() + rng_() % snaps_.size());
      snaps_.push_back({e_->GetSnapshot(), m_, op_});
    } else if (r < 880) {
      // Inverted ranges are no-ops.
      int64_t t = RandTs();
      if (t > kMinTs) e_->Delete(t, t - 1);
    } else {
      Append(RandTs());
    }
  }

  void CheckAgainstModel() {
    max_visible_ = std::max(max_visible_, m_.size());
    auto s = e_->GetSnapshot();
    auto got = Collect(*s, kMinTs, kMaxTs, false, 1 + rng_() % 300);
    if (got != m_.Visible()) {
      ++failures_;
      ADD_FAILURE() << "contents differ after op " << op_ << ": got "
                    << got.size() << " records, model " << m_.size()
                    << FirstDiff(got, m_.Visible());
      return;
    }
    if (s->Count(kMinTs, kMaxTs) != m_.size()) {
      ++failures_;
      ADD_FAILURE() << "Count(all) after op " << op_;
    }
    if (!p_.background) {
      // Stats are exact too (nothing moves between the two calls).
      Stats st = e_->GetStats();
      if (st.records_estimate != m_.size() || st.min_ts != m_.Ceil(kMinTs) ||
          st.max_ts != m_.Floor(kMaxTs) || st.records_physical < m_.size()) {
        ++failures_;
        ADD_FAILURE() << "Stats disagree with the model after op " << op_
                      << ": records_estimate " << st.records_estimate
                      << " model " << m_.size();
      }
    }
    for (int k = 0; k < 4; ++k) {
      int64_t lo = RandTs(), hi = RandTs();
      if (rng_() % 4 == 0) std::swap(lo, hi);
      if (s->Count(lo, hi) != m_.Count(lo, hi)) {
        ++failures_;
        ADD_FAILURE() << "Count(" << lo << "," << hi
                      << ") = " << s->Count(lo, hi) << " model "
                      << m_.Count(lo, hi) << " after op " << op_;
      }
    }
    for (int k = 0; k < 3; ++k) {
      int64_t t = RandTs();
      if (s->Ceil(t) != m_.Ceil(t) || s->Floor(t) != m_.Floor(t)) {
        ++failures_;
        ADD_FAILURE() << "Ceil/Floor(" << t << ") after op " << op_;
      }
      std::vector<uint64_t> eq;
      s->Equal(t, &eq);
      if (eq != m_.Equal(t) || s->Contains(t) != !eq.empty()) {
        ++failures_;
        ADD_FAILURE() << "Equal/Contains(" << t << ") after op " << op_;
      }
    }
    if (rng_() % 10 == 0) {
      int64_t lo = RandTs(), hi = RandTs();
      if (lo > hi) std::swap(lo, hi);
      auto rev = Collect(*s, lo, hi, true, 1 + rng_() % 50);
      std::reverse(rev.begin(), rev.end());
      if (rev != m_.Range(lo, hi)) {
        ++failures_;
        ADD_FAILURE() << "reverse range [" << lo << "," << hi << "] after op "
                      << op_;
      }
    }
  }

  void CheckDrops() {
    size_t n = drops_.size();
    if (n == checked_drops_) return;
    auto d = drops_.handles();
    std::unordered_set<uint64_t> visible;
    for (const Rec& r : m_.Visible()) visible.insert(r.handle);
    for (size_t i = checked_drops_; i < d.size(); ++i) {
      if (visible.count(d[i])) {
        ++failures_;
        ADD_FAILURE() << "handle " << d[i] << " dropped while visible, op "
                      << op_;
      }
      if (!seen_drops_.insert(d[i]).second) {
        ++failures_;
        ADD_FAILURE() << "handle " << d[i] << " dropped twice, op " << op_;
      }
    }
    checked_drops_ = d.size();
  }

  void CheckOldSnapshots() {
    for (const auto& os : snaps_) {
      auto got = Collect(*os.snap);
      if (got != os.model.Visible()) {
        ++failures_;
        ADD_FAILURE() << "snapshot taken after op " << os.op
                      << " changed; checked at op " << op_
                      << FirstDiff(got, os.model.Visible());
      }
      if (os.snap->Count(kMinTs, kMaxTs) != os.model.size()) {
        ++failures_;
        ADD_FAILURE() << "snapshot Count changed, taken at op " << os.op;
      }
    }
  }

  static std::string FirstDiff(const std::vector<Rec>& a,
                               const std::vector<Rec>& b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    std::string s = "; first difference at index " + std::to_string(i);
    if (i < a.size())
      s += " got (" + std::to_string(a[i].ts) + "," +
           std::to_string(a[i].handle) + ")";
    if (i < b.size())
      s += " want (" + std::to_string(b[i].ts) + "," +
           std::to_string(b[i].handle) + ")";
    return s;
  }

  struct OldSnap {
    std::shared_ptr<const Snapshot> snap;
    Model model;
    int op;
  };

  ModelParams p_;
  std::mt19937_64 rng_;
  DropRecorder drops_;
  std::unique_ptr<Engine> e_;
  Model m_;
  std::vector<int64_t> ts_of_;  // handle -> ts; fixed size
  // Next handle to issue. release: ts_of_[h] is written before h becomes
  // visible to the hook (which also synchronises through the engine).
  std::atomic<uint64_t> next_handle_{1};
  std::vector<OldSnap> snaps_;
  std::unordered_set<uint64_t> seen_drops_;
  size_t checked_drops_ = 0;
  size_t max_visible_ = 0;
  uint64_t hook_violations_ = 0;
  int64_t tail_ = 0;
  int op_ = 0;
  int failures_ = 0;
};

void RunSeeds(const ModelParams& p, std::initializer_list<uint64_t> seeds) {
  for (uint64_t seed : seeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ModelRunner r(p, seed);
    r.Run();
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(EngineModel, DefaultSmallConfig) { RunSeeds(ModelParams{}, {1, 2, 3, 4}); }

TEST(EngineModel, UnitWindows) {
  ModelParams p;
  p.window_size = 1;
  RunSeeds(p, {5, 6});
}

TEST(EngineModel, HugeWindowAtExtremeOrigin) {
  ModelParams p;
  p.window_size = kMaxTs;
  p.window_origin = kMinTs;
  RunSeeds(p, {7, 8});
}

TEST(EngineModel, OddWindowNearMaxOrigin) {
  ModelParams p;
  p.window_size = 37;
  p.window_origin = kMaxTs - 5;
  RunSeeds(p, {9, 10});
}

TEST(EngineModel, CompactionLimitsAndDeleteDebt) {
  ModelParams p;
  p.window_size = 50;
  p.debt = 0.3;
  p.compaction.target_bytes = 2048;
  p.compaction.max_inputs = 2;
  p.compaction.max_windows = 2;
  RunSeeds(p, {11, 12});
}

TEST(EngineModel, TightSealedQueue) {
  ModelParams p;
  p.sealed_max_runs = 1;
  p.memtable = 1024;
  p.max_delta = 1;
  RunSeeds(p, {13, 14});
}

TEST(EngineModel, AdaptiveWindows) {
  ModelParams p;
  p.window_size = 64;
  p.adaptive.enabled = true;
  p.adaptive.target_records = 40;
  p.adaptive.min_window = 4;
  p.adaptive.max_window = 4096;
  p.adaptive.warmup_flushes = 1;
  p.adaptive.alpha = 0.5;
  p.adaptive.hysteresis_pct = 5;
  p.adaptive.window_quantum = 4;
  RunSeeds(p, {16, 17});
}

TEST(EngineModel, BackgroundWorkerMatchesModelAfterEveryWrite) {
  // Visible contents do not depend on maintenance timing, so the model check
  // after every op holds while the worker seals, flushes and compacts.
  ModelParams p;
  p.background = true;
  p.sealed_max_runs = 2;
  RunSeeds(p, {18, 19});
}

TEST(EngineModel, LargerPagesLongRun) {
  ModelParams p;
  p.page = 1024;
  p.memtable = 16384;
  p.window_size = 500;
  p.ops = 8000;
  p.extremes = false;
  RunSeeds(p, {15});
}

}  // namespace
}  // namespace timelog
