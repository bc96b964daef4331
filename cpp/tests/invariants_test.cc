// CheckInvariants must report each kind of broken structure (built by hand
// here), and pass a well-formed version.

#include "invariants.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace timelog {
namespace {

SourceRef MakeRun(std::vector<int64_t> ts, uint64_t applied_seq = 0) {
  std::vector<uint64_t> h(ts.size(), 1);
  return SourceRef{Run::FromVectors(&ts, &h, 2), applied_seq};
}

std::shared_ptr<Version> Empty() {
  auto v = std::make_shared<Version>();
  v->l1 = std::make_shared<WindowList>();
  v->mem = std::make_shared<Memtable>(16, 16);
  v->marks = std::make_shared<std::vector<MemMark>>();
  v->tombs = std::make_shared<TombLog>(4);
  return v;
}

void ExpectViolation(const Version& v, const std::string& fragment) {
  const std::string got = CheckInvariants(v);
  EXPECT_NE(got.find(fragment), std::string::npos) << "got: '" << got << "'";
}

TEST(Invariants, WellFormedVersionPasses) {
  auto v = Empty();
  v->sealed.push_back(MakeRun({1, 1, 2, 5, 5, 5, 9}));
  v->l0.push_back(MakeRun({-3, 0, 7}));
  auto w = std::make_shared<Window>(Window{0, 9, {MakeRun({0, 4, 9})}});
  v->l1 = std::make_shared<WindowList>(WindowList{w});
  v->tombs->items()[0] = Tombstone{2, 3, 1};
  v->tomb_n = 1;
  v->last_seq = 1;
  EXPECT_EQ(CheckInvariants(*v), "");
}

TEST(Invariants, UnsortedRun) {
  auto v = Empty();
  v->l0.push_back(MakeRun({1, 3, 2}));
  ExpectViolation(*v, "L0 run 0 is not sorted at row 2");
}

TEST(Invariants, AppliedSeqAheadOfTheTombstones) {
  auto v = Empty();
  v->sealed.push_back(MakeRun({1, 2}, /*applied_seq=*/5));
  ExpectViolation(*v, "applied_seq 5 > last_seq 0");
}

TEST(Invariants, OverlappingWindows) {
  auto v = Empty();
  auto a = std::make_shared<Window>(Window{0, 9, {MakeRun({1})}});
  auto b = std::make_shared<Window>(Window{9, 19, {MakeRun({12})}});
  v->l1 = std::make_shared<WindowList>(WindowList{a, b});
  ExpectViolation(*v, "windows 0 and 1 overlap");
}

TEST(Invariants, RunOutsideItsWindow) {
  auto v = Empty();
  auto a = std::make_shared<Window>(Window{0, 9, {MakeRun({1, 10})}});
  v->l1 = std::make_shared<WindowList>(WindowList{a});
  ExpectViolation(*v, "window 0 [0, 9]: run 0 holds [1, 10]");
}

TEST(Invariants, TombstoneBookkeeping) {
  auto v = Empty();
  v->tombs->items()[0] = Tombstone{1, 2, 1};
  v->tombs->items()[1] = Tombstone{1, 2, 1};
  v->tomb_n = 2;
  v->last_seq = 1;
  ExpectViolation(*v, "tombstone 1: seq not increasing");
  v->tombs->items()[1] = Tombstone{5, 4, 2};
  v->last_seq = 2;
  ExpectViolation(*v, "tombstone 1: lo 5 > hi 4");
}

TEST(Invariants, MemtableMarkBeyondThePublishedRows) {
  auto v = Empty();
  v->mem->ts()[0] = 1;
  v->mem->PublishRows(1);
  v->marks = std::make_shared<std::vector<MemMark>>(
      std::vector<MemMark>{{0, 5, 3, 0}});
  ExpectViolation(*v, "memtable mark beyond the published rows");
}

}  // namespace
}  // namespace timelog
