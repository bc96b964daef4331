// CheckInvariants: an exhaustive check of one version's structure, for tests.

#include "invariants.h"

#include <sstream>

namespace timelog {
namespace {

// Collects the first violation; later ones are ignored.
class Checker {
 public:
  bool ok() const { return first_.empty(); }
  std::string result() const { return first_; }
  template <class... Parts>
  void Fail(const Parts&... parts) {
    if (!ok()) return;
    std::ostringstream s;
    (s << ... << parts);
    first_ = s.str();
  }

  void RunInvariants(const char* where, size_t index, const SourceRef& sr,
                     uint64_t last_seq) {
    const Run* run = sr.run.get();
    if (run == nullptr || run->size() == 0) {
      return Fail(where, " run ", index, " is empty");
    }
    if (sr.applied_seq > last_seq) {
      return Fail(where, " run ", index, ": applied_seq ", sr.applied_seq,
                  " > last_seq ", last_seq);
    }
    const int64_t* ts = run->ts();
    const size_t n = run->size();
    for (size_t i = 1; i < n; ++i) {
      if (ts[i] < ts[i - 1])
        return Fail(where, " run ", index, " is not sorted at row ", i);
    }
    for (size_t i = 0; i < n; ++i) {
      if (i == 0 || ts[i] != ts[i - 1]) {  // first row of a distinct timestamp
        if (run->LowerBound(ts[i]) != i) {
          return Fail(where, " run ", index, ": LowerBound(", ts[i],
                      ") = ", run->LowerBound(ts[i]), ", the scan says ", i);
        }
        if (i > 0 && run->UpperBound(ts[i - 1]) != i) {
          return Fail(where, " run ", index, ": UpperBound(", ts[i - 1],
                      ") = ", run->UpperBound(ts[i - 1]), ", the scan says ",
                      i);
        }
      }
    }
    if (run->UpperBound(ts[n - 1]) != n) {
      return Fail(where, " run ", index, ": UpperBound(max) != size");
    }
    if (run->min_ts() != ts[0] || run->max_ts() != ts[n - 1]) {
      return Fail(where, " run ", index,
                  ": min_ts/max_ts disagree with the rows");
    }
  }

 private:
  std::string first_;
};

}  // namespace

std::string CheckInvariants(const Version& v) {
  Checker c;
  if (v.tombs == nullptr || v.tomb_n > v.tombs->cap()) {
    c.Fail("tombstones: ", v.tomb_n, " visible beyond the log's capacity");
    return c.result();
  }
  const Tombstone* t = v.tombs->items();
  for (size_t i = 0; i < v.tomb_n && c.ok(); ++i) {
    if (t[i].lo > t[i].hi)
      c.Fail("tombstone ", i, ": lo ", t[i].lo, " > hi ", t[i].hi);
    if (i > 0 && t[i].seq <= t[i - 1].seq)
      c.Fail("tombstone ", i, ": seq not increasing");
    if (t[i].seq > v.last_seq)
      c.Fail("tombstone ", i, ": seq ", t[i].seq, " > last_seq");
  }
  for (size_t i = 0; i < v.sealed.size() && c.ok(); ++i) {
    c.RunInvariants("sealed", i, v.sealed[i], v.last_seq);
  }
  for (size_t i = 0; i < v.l0.size() && c.ok(); ++i) {
    c.RunInvariants("L0", i, v.l0[i], v.last_seq);
  }
  const WindowList& wl = *v.l1;
  for (size_t i = 0; i < wl.size() && c.ok(); ++i) {
    const Window& w = *wl[i];
    if (w.lo > w.hi) c.Fail("window ", i, ": lo ", w.lo, " > hi ", w.hi);
    if (i > 0 && wl[i - 1]->hi >= w.lo) {
      c.Fail("windows ", i - 1, " and ", i, " overlap or are out of order");
    }
    for (size_t j = 0; j < w.runs.size() && c.ok(); ++j) {
      c.RunInvariants("L1 window", i, w.runs[j], v.last_seq);
      if (c.ok() &&
          (w.runs[j].run->min_ts() < w.lo || w.runs[j].run->max_ts() > w.hi)) {
        c.Fail("window ", i, " [", w.lo, ", ", w.hi, "]: run ", j, " holds [",
               w.runs[j].run->min_ts(), ", ", w.runs[j].run->max_ts(), "]");
      }
    }
  }
  if (!c.ok()) return c.result();
  const Memtable& m = *v.mem;
  const size_t rows = m.rows(), ooo = m.ooo_rows();
  if (rows > m.cap() || ooo > m.ooo_cap()) {
    c.Fail("memtable: ", rows, " + ", ooo, " rows published beyond capacity ",
           m.cap(), " + ", m.ooo_cap());
    return c.result();
  }
  for (size_t i = 1; i < rows && c.ok(); ++i) {
    if (m.ts()[i] < m.ts()[i - 1])
      c.Fail("memtable: in-order rows not sorted at ", i);
  }
  for (const MemMark& mk : *v.marks) {
    if (!c.ok()) break;
    if (mk.lo > mk.hi) c.Fail("memtable mark: lo ", mk.lo, " > hi ", mk.hi);
    if (mk.n_mark > rows || mk.ooo_mark > ooo)
      c.Fail("memtable mark beyond the published rows");
  }
  return c.result();
}

}  // namespace timelog
