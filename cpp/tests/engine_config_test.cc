// Config validation: every invalid field is rejected with
// std::invalid_argument naming it; zero values become the documented
// defaults; valid extremes are accepted.

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "test_util.h"

namespace timelog {
namespace {

using testing_util::AppendBoth;
using testing_util::CollectAll;
using testing_util::Rec;

// Expects both ValidateConfig and Engine::Create to reject `c` with a message
// containing `field`.
void ExpectInvalid(const Config& c, const std::string& field) {
  try {
    ValidateConfig(c);
    ADD_FAILURE() << "ValidateConfig accepted an invalid " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << "message does not name " << field << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type for " << field << ": " << e.what();
  }
  try {
    auto e = Engine::Create(c);
    ADD_FAILURE() << "Engine::Create accepted an invalid " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << "message does not name " << field << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type for " << field << ": " << e.what();
  }
}

Config Base() {
  Config c;
  c.maintenance = MaintenanceMode::kDisabled;
  return c;
}

TEST(EngineConfig, DefaultConfigIsValidAndUnchanged) {
  Config c;
  Config v = ValidateConfig(c);
  EXPECT_EQ(v.maintenance, MaintenanceMode::kBackground);
  EXPECT_EQ(v.memtable_max_bytes, 1u << 20);
  EXPECT_EQ(v.sealed_max_runs, 4u);
  EXPECT_EQ(v.maintenance_wakeup_ms, 100u);
  EXPECT_EQ(v.target_page_bytes, 64u << 10);
  EXPECT_EQ(v.max_delta_segments, 8u);
  EXPECT_EQ(v.window_size, 3600000);
  EXPECT_EQ(v.window_origin, 0);
  EXPECT_EQ(v.delete_debt_threshold, 0.0);
}

TEST(EngineConfig, ZeroValuesBecomeDefaults) {
  Config c = Base();
  c.memtable_max_bytes = 0;
  c.ooo_budget_bytes = 0;
  c.sealed_max_runs = 0;
  c.maintenance_wakeup_ms = 0;
  c.target_page_bytes = 0;
  c.max_delta_segments = 0;
  Config v = ValidateConfig(c);
  EXPECT_EQ(v.memtable_max_bytes, 1u << 20);
  EXPECT_EQ(v.ooo_budget_bytes, (1u << 20) / 10);
  EXPECT_EQ(v.sealed_max_runs, 4u);
  EXPECT_EQ(v.maintenance_wakeup_ms, 100u);
  EXPECT_EQ(v.target_page_bytes, 64u << 10);
  EXPECT_EQ(v.max_delta_segments, 8u);
}

TEST(EngineConfig, OooBudgetDefaultFollowsMemtable) {
  Config c = Base();
  c.memtable_max_bytes = 4 << 20;
  c.ooo_budget_bytes = 0;
  EXPECT_EQ(ValidateConfig(c).ooo_budget_bytes, (4u << 20) / 10);
  c.ooo_budget_bytes = 12345;
  EXPECT_EQ(ValidateConfig(c).ooo_budget_bytes, 12345u);
}

TEST(EngineConfig, EngineConfigIsNormalised) {
  Config c = Base();
  c.memtable_max_bytes = 0;
  c.target_page_bytes = 0;
  c.sealed_max_runs = 0;
  auto e = Engine::Create(c);
  EXPECT_EQ(e->config().memtable_max_bytes, 1u << 20);
  EXPECT_EQ(e->config().target_page_bytes, 64u << 10);
  EXPECT_EQ(e->config().sealed_max_runs, 4u);
  EXPECT_EQ(e->config().maintenance, MaintenanceMode::kDisabled);
}

TEST(EngineConfig, TargetPageBytesBelowMinimumRejected) {
  for (uint64_t v : {uint64_t{1}, uint64_t{16}, kMinPageBytes - 1}) {
    Config c = Base();
    c.target_page_bytes = v;
    ExpectInvalid(c, "target_page_bytes");
  }
}

TEST(EngineConfig, TargetPageBytesAtMinimumAccepted) {
  Config c = Base();
  c.target_page_bytes = kMinPageBytes;
  EXPECT_EQ(ValidateConfig(c).target_page_bytes, kMinPageBytes);
  auto e = Engine::Create(c);
  for (int i = 0; i < 1000; ++i) e->Append(i, i);
  testing_util::SettleAll(e.get());
  EXPECT_EQ(CollectAll(*e).size(), 1000u);
}

TEST(EngineConfig, WindowSizeNonPositiveRejected) {
  for (int64_t v : {int64_t{-1}, int64_t{-3600000}, kMinTs}) {
    Config c = Base();
    c.window_size = v;
    ExpectInvalid(c, "window_size");
  }
}

TEST(EngineConfig, WindowSizeZeroRejected) {
  // window_size is documented as "> 0" and the binding always passes a
  // concrete default, so 0 is rejected rather than silently replaced.
  Config c = Base();
  c.window_size = 0;
  ExpectInvalid(c, "window_size");
}

TEST(EngineConfig, ExtremeWindowValuesAccepted) {
  Config c = Base();
  c.window_size = kMaxTs;
  c.window_origin = kMinTs;
  EXPECT_NO_THROW(ValidateConfig(c));
  c.window_size = 1;
  c.window_origin = kMaxTs;
  EXPECT_NO_THROW(ValidateConfig(c));
}

TEST(EngineConfig, DeleteDebtThresholdOutOfRangeRejected) {
  for (double v :
       {-0.0001, -1.0, 1.0001, 2.0, std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    Config c = Base();
    c.delete_debt_threshold = v;
    ExpectInvalid(c, "delete_debt_threshold");
  }
}

TEST(EngineConfig, DeleteDebtThresholdBoundsAccepted) {
  for (double v : {0.0, 0.25, 1.0}) {
    Config c = Base();
    c.delete_debt_threshold = v;
    EXPECT_EQ(ValidateConfig(c).delete_debt_threshold, v);
  }
}

TEST(EngineConfig, MemtableMaxBytesAbsurdlyLargeRejected) {
  // The memtable columns are allocated up front; a size that can never be
  // allocated must be a configuration error, not a crash.
  for (uint64_t v :
       {std::numeric_limits<uint64_t>::max(),
        std::numeric_limits<uint64_t>::max() / 2, uint64_t{1} << 62}) {
    Config c = Base();
    c.memtable_max_bytes = v;
    ExpectInvalid(c, "memtable_max_bytes");
  }
}

TEST(EngineConfig, MemtableMaxBytesTinyRejectedOrUsable) {
  // A memtable smaller than a handful of records is either rejected (naming
  // the field) or clamped to something that works.
  for (uint64_t v : {uint64_t{1}, uint64_t{15}, uint64_t{16}, uint64_t{64}}) {
    Config c = Base();
    c.memtable_max_bytes = v;
    c.sealed_max_runs = 1000;
    std::unique_ptr<Engine> e;
    try {
      e = Engine::Create(c);
    } catch (const std::invalid_argument& ex) {
      EXPECT_NE(std::string(ex.what()).find("memtable_max_bytes"),
                std::string::npos)
          << ex.what();
      continue;
    }
    for (int i = 0; i < 500; ++i) e->Append(i % 7, i);
    auto got = CollectAll(*e);
    ASSERT_EQ(got.size(), 500u) << "memtable_max_bytes=" << v;
    EXPECT_TRUE(testing_util::SortedByTs(got));
    e->Flush();
    EXPECT_EQ(CollectAll(*e), got);
  }
}

TEST(EngineConfig, InvalidMaintenanceModeRejected) {
  Config c = Base();
  c.maintenance = static_cast<MaintenanceMode>(7);
  ExpectInvalid(c, "maintenance");
}

TEST(EngineConfig, AdaptiveEnabledNeedsTargetRecords) {
  Config c = Base();
  c.adaptive.enabled = true;
  c.adaptive.target_records = 0;
  ExpectInvalid(c, "target_records");
}

TEST(EngineConfig, AdaptiveAlphaOutOfRangeRejected) {
  for (double a :
       {0.0, -0.5, 1.0001, 5.0, std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity()}) {
    Config c = Base();
    c.adaptive.enabled = true;
    c.adaptive.target_records = 1000;
    c.adaptive.alpha = a;
    ExpectInvalid(c, "alpha");
  }
}

TEST(EngineConfig, AdaptiveAlphaOneAccepted) {
  Config c = Base();
  c.adaptive.enabled = true;
  c.adaptive.target_records = 1000;
  c.adaptive.alpha = 1.0;
  EXPECT_NO_THROW(ValidateConfig(c));
  c.adaptive.alpha = 1e-9;
  EXPECT_NO_THROW(ValidateConfig(c));
}

TEST(EngineConfig, AdaptiveMinAboveMaxRejected) {
  Config c = Base();
  c.adaptive.enabled = true;
  c.adaptive.target_records = 1000;
  c.adaptive.min_window = 1000;
  c.adaptive.max_window = 10;
  try {
    ValidateConfig(c);
    ADD_FAILURE() << "min_window > max_window accepted";
  } catch (const std::invalid_argument& e) {
    std::string w = e.what();
    EXPECT_TRUE(w.find("min_window") != std::string::npos ||
                w.find("max_window") != std::string::npos)
        << w;
  }
}

TEST(EngineConfig, AdaptiveNegativeWindowsRejected) {
  Config c = Base();
  c.adaptive.enabled = true;
  c.adaptive.target_records = 1000;
  c.adaptive.min_window = -5;
  ExpectInvalid(c, "min_window");
  c.adaptive.min_window = 0;
  c.adaptive.max_window = -5;
  ExpectInvalid(c, "max_window");
  c.adaptive.max_window = 0;
  c.adaptive.window_quantum = -5;
  ExpectInvalid(c, "window_quantum");
}

TEST(EngineConfig, AdaptiveValidConfigWorks) {
  Config c = Base();
  c.memtable_max_bytes = testing_util::kSmallMem;
  c.target_page_bytes = kMinPageBytes;
  c.sealed_max_runs = 1000;
  c.window_size = 1000;
  c.adaptive.enabled = true;
  c.adaptive.target_records = 100;
  c.adaptive.min_window = 10;
  c.adaptive.max_window = 100000;
  c.adaptive.warmup_flushes = 1;
  auto e = Engine::Create(c);
  testing_util::Model m;
  uint64_t h = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 300; ++i) {
      int64_t ts = round * 3000 + i * 10;
      AppendBoth(e.get(), &m, ts, ++h);
    }
    testing_util::SettleAll(e.get());
  }
  auto s = e->GetSnapshot();
  testing_util::ExpectMatches(*s, m, {0, 5, 2990, 59990, 60000});
  Stats st = e->GetStats();
  EXPECT_GE(st.window_size, 10);
  EXPECT_LE(st.window_size, 100000);
}

TEST(EngineConfig, CompactionLimitsAccepted) {
  Config c = Base();
  c.memtable_max_bytes = testing_util::kSmallMem;
  c.target_page_bytes = kMinPageBytes;
  c.sealed_max_runs = 1000;
  c.window_size = 50;
  c.compaction.target_bytes = 1024;
  c.compaction.max_inputs = 2;
  c.compaction.max_windows = 1;
  auto e = Engine::Create(c);
  testing_util::Model m;
  for (uint64_t i = 0; i < 3000; ++i) {
    int64_t ts = static_cast<int64_t>((i * 7919) % 2000);
    AppendBoth(e.get(), &m, ts, i);
  }
  testing_util::SettleAll(e.get());
  testing_util::ExpectMatches(*e->GetSnapshot(), m, {0, 1, 999, 1999, 2000});
  EXPECT_EQ(e->GetStats().segments_l0, 0u);
}

TEST(EngineConfig, DropCallbackCtxWithoutFunctionIsHarmless) {
  Config c = Base();
  int dummy = 0;
  c.drop_ctx = &dummy;
  c.on_drop = nullptr;
  auto e = Engine::Create(c);
  e->Append(1, 1);
  e->Delete(1, 1);
  testing_util::SettleAll(e.get());
  EXPECT_TRUE(e->GetSnapshot()->Empty());
}

TEST(EngineConfig, MemtableMaxBytesSmallestAcceptedWorks) {
  // 1 KiB is the documented floor in the field's error message; anything
  // accepted must work, anything rejected must name the field.
  Config c = Base();
  c.memtable_max_bytes = 1024;
  c.sealed_max_runs = 1000;
  auto e = Engine::Create(c);
  for (int i = 0; i < 1000; ++i) e->Append(1000 - i, i);
  EXPECT_GE(e->GetStats().seals_total, 1u);
  testing_util::SettleAll(e.get());
  auto got = CollectAll(*e);
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_TRUE(testing_util::SortedByTs(got));
}

TEST(EngineConfig, OooBudgetAboveMemtableRejected) {
  Config c = Base();
  c.memtable_max_bytes = 1u << 20;
  c.ooo_budget_bytes = (1u << 20) + 1;
  ExpectInvalid(c, "ooo_budget_bytes");
}

TEST(EngineConfig, AdaptiveHysteresisAbove100Rejected) {
  Config c = Base();
  c.adaptive.enabled = true;
  c.adaptive.target_records = 10;
  c.adaptive.hysteresis_pct = 101;
  ExpectInvalid(c, "hysteresis_pct");
}

TEST(EngineConfig, AdaptiveFieldsIgnoredWhenDisabled) {
  Config c = Base();
  c.adaptive.enabled = false;
  c.adaptive.target_records = 0;
  c.adaptive.alpha = 0.0;
  EXPECT_NO_THROW(ValidateConfig(c));
}

TEST(EngineConfig, FirstInvalidFieldIsNamedEvenWithOthersValid) {
  Config c = Base();
  c.window_size = 10;
  c.delete_debt_threshold = 3.0;
  c.target_page_bytes = 4096;
  ExpectInvalid(c, "delete_debt_threshold");
}

}  // namespace
}  // namespace timelog

namespace timelog {
namespace {

TEST(EngineConfig, MessagesNameThePythonOptionAndTheValue) {
  struct Case {
    void (*set)(Config*);
    const char* expect;
  } cases[] = {
      {[](Config* c) { c->memtable_max_bytes = 100; },
       "memtable_max_bytes must be "},
      {[](Config* c) { c->target_page_bytes = 1; },
       "target_page_bytes must be "},
      {[](Config* c) { c->window_size = -5; },
       "window_size must be a positive int"},
      {[](Config* c) { c->delete_debt_threshold = 1.5; },
       "delete_debt_threshold must be "},
      {[](Config* c) {
         c->adaptive.enabled = true;
         c->adaptive.alpha = 0.0;
       },
       "adaptive['alpha'] must be "},
      {[](Config* c) {
         c->adaptive.enabled = true;
         c->adaptive.hysteresis_pct = 101;
       },
       "adaptive['hysteresis_pct'] must be an int in [0, 100]; got 101"},
  };
  for (const Case& k : cases) {
    Config c;
    c.maintenance = MaintenanceMode::kDisabled;
    k.set(&c);
    try {
      ValidateConfig(c);
      ADD_FAILURE() << "accepted: " << k.expect;
    } catch (const std::invalid_argument& e) {
      const std::string w = e.what();
      EXPECT_EQ(w.rfind(k.expect, 0), 0u) << w;
      EXPECT_NE(w.find("; got "), std::string::npos) << w;
    }
  }
}

TEST(EngineConfig, DefaultsAreTheNamedConstants) {
  Config c;
  EXPECT_EQ(c.memtable_max_bytes, kDefaultMemtableMaxBytes);
  EXPECT_EQ(c.sealed_max_runs, kDefaultSealedMaxRuns);
  EXPECT_EQ(c.maintenance_wakeup_ms, kDefaultMaintenanceWakeupMs);
  EXPECT_EQ(c.target_page_bytes, kDefaultTargetPageBytes);
  EXPECT_EQ(c.max_delta_segments, kDefaultMaxDeltaSegments);
  EXPECT_EQ(c.window_size, kDefaultWindowSize);
  EXPECT_EQ(c.adaptive.target_records, kDefaultTargetRecords);
  EXPECT_EQ(c.adaptive.hysteresis_pct, kDefaultHysteresisPct);
  EXPECT_EQ(c.adaptive.alpha, kDefaultAlpha);
  EXPECT_EQ(c.adaptive.warmup_flushes, kDefaultWarmupFlushes);
}

TEST(EngineStats, EntriesListEveryFieldOnceInSectionOrder) {
  Stats s;
  s.segments_l0 = 3;
  s.window_size = -7;
  s.records_dropped = 11;
  s.max_ts = -42;
  std::vector<StatsEntry> e = StatsEntries(s);
  ASSERT_EQ(e.size(), 22u);
  EXPECT_STREQ(e.front().section, "storage");
  EXPECT_STREQ(e.front().name, "segments_l0");
  EXPECT_EQ(e.front().u, 3u);
  EXPECT_STREQ(e.back().section, "operational");
  EXPECT_STREQ(e.back().name, "records_dropped");
  EXPECT_EQ(e.back().u, 11u);
  std::vector<std::string> sections;
  for (const StatsEntry& x : e) {
    if (sections.empty() || sections.back() != x.section)
      sections.push_back(x.section);
    const std::string name = x.name;
    if (name == "min_ts") {
      EXPECT_FALSE(x.present);
      EXPECT_TRUE(x.is_signed);
    } else if (name == "max_ts") {
      EXPECT_TRUE(x.present);
      EXPECT_EQ(x.i, -42);
    } else if (name == "window_size") {
      EXPECT_TRUE(x.is_signed);
      EXPECT_EQ(x.i, -7);
    } else {
      EXPECT_TRUE(x.present);
      EXPECT_FALSE(x.is_signed) << name;
    }
  }
  EXPECT_EQ(sections,
            (std::vector<std::string>{"storage", "memtable", "operational"}));
}

}  // namespace
}  // namespace timelog

namespace timelog {
namespace {

// A real engine passes the check at every layer (invariants_test.cc breaks
// them).
TEST(EngineInvariants, HoldOnEveryLayer) {
  Config c = testing_util::SmallConfig();
  auto e = Engine::Create(c);
  for (int64_t t = 0; t < 2000; ++t)
    e->Append((t * 7919) % 1000, static_cast<uint64_t>(t + 1));
  e->Delete(100, 200);
  EXPECT_EQ(e->CheckInvariants(), "");  // memtable, sealed runs
  e->Flush();
  EXPECT_EQ(e->CheckInvariants(), "");  // L0
  testing_util::SettleAll(e.get());
  EXPECT_EQ(e->CheckInvariants(), "");  // L1
  EXPECT_GT(e->GetStats().windows_l1, 1u);
}

}  // namespace
}  // namespace timelog
