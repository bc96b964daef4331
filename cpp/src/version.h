// Version, Memtable and tombstones: the active memtable and the immutable
// Version that readers snapshot.
//
// Thread safety
// -------------
// * Memtable: ONE writer appends rows; any number of readers read the row
//   prefix [0, n) they loaded from the published counters. Rows are written
//   before the counter is advanced with release order, and readers load the
//   counter with acquire order (or under the version mutex, which the writer
//   also takes whenever it changes anything else readers see), so a reader
//   never sees a row that is not fully written. Rows below a published
//   counter are never modified again. The columns are allocated once at
//   construction: they never move.
// * TombLog: append-only array of tombstones; appended only under the
//   engine's version mutex, and readers only read the prefix recorded in the
//   Version they hold, so no atomics are needed.
// * Version: immutable once published (except the internal hide-set cache,
//   which has its own mutex).

#ifndef TIMELOG_SRC_VERSION_H_
#define TIMELOG_SRC_VERSION_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "alloc.h"
#include "mutex.h"
#include "run.h"
#include "thread_annotations.h"

namespace timelog {

// A delete of [lo, hi] with sequence number seq (1, 2, ...).
struct Tombstone {
  int64_t lo;
  int64_t hi;
  uint64_t seq;
};

// Append-only tombstone storage. Capacity is fixed; when it is full the
// engine copies the live entries into a bigger log.
class TombLog {
 public:
  explicit TombLog(size_t cap)
      : cap_(cap), items_(NewArray<Tombstone>(cap, "the tombstone log")) {}
  size_t cap() const { return cap_; }
  Tombstone* items() { return items_.get(); }
  const Tombstone* items() const { return items_.get(); }

 private:
  size_t cap_;
  std::unique_ptr<Tombstone[]> items_;
};

// A tombstone recorded against the active memtable: it hides in-order rows
// below n_mark and OOO rows below ooo_mark whose ts is in [lo, hi].
struct MemMark {
  int64_t lo;
  int64_t hi;
  size_t n_mark;
  size_t ooo_mark;
};

class Memtable {
 public:
  Memtable(size_t cap_rows, size_t ooo_cap_rows);

  // Writer side.
  size_t cap() const { return cap_; }
  size_t ooo_cap() const { return ooo_cap_; }
  int64_t* ts() { return ts_.get(); }
  uint64_t* handles() { return h_.get(); }
  int64_t* ooo_ts() { return ots_.get(); }
  uint64_t* ooo_handles() { return oh_.get(); }
  // release: the rows written below n happen-before any reader that
  // acquires the counter (rows() / ooo_rows()).
  void PublishRows(size_t n) { n_.store(n, std::memory_order_release); }
  void PublishOoo(size_t on) { on_.store(on, std::memory_order_release); }

  // Reader side (any thread).
  const int64_t* ts() const { return ts_.get(); }
  const uint64_t* handles() const { return h_.get(); }
  const int64_t* ooo_ts() const { return ots_.get(); }
  const uint64_t* ooo_handles() const { return oh_.get(); }
  size_t rows() const {
    // acquire: pairs with PublishRows(); rows below the value are complete.
    return n_.load(std::memory_order_acquire);
  }
  // acquire: pairs with PublishOoo(); OOO rows below the value are complete.
  size_t ooo_rows() const { return on_.load(std::memory_order_acquire); }
  size_t bytes() const { return (cap_ + ooo_cap_) * 16 + sizeof(*this); }

  // Sorted, mark-filtered copy of OOO rows [0, on); cached per (on, marks).
  // Null if nothing is visible.
  std::shared_ptr<const Run> OooView(size_t on,
                                     const std::vector<MemMark>& marks,
                                     size_t page_rows) const
      EXCLUDES(cache_mu_);
  // Zero-copy run over in-order rows [0, n); cached per n. Null if n == 0.
  std::shared_ptr<const Run> InorderView(size_t n, size_t page_rows) const
      EXCLUDES(cache_mu_);

 private:
  size_t cap_;
  size_t ooo_cap_;
  std::unique_ptr<int64_t[]> ts_;
  std::unique_ptr<uint64_t[]> h_;
  std::unique_ptr<int64_t[]> ots_;
  std::unique_ptr<uint64_t[]> oh_;
  std::atomic<size_t> n_{0};
  std::atomic<size_t> on_{0};

  // The views' caches (any reader thread).
  mutable Mutex cache_mu_;
  mutable std::shared_ptr<const Run> cache_ GUARDED_BY(cache_mu_);
  mutable size_t cache_on_ GUARDED_BY(cache_mu_) = 0;
  mutable size_t cache_marks_ GUARDED_BY(cache_mu_) = 0;
  mutable std::shared_ptr<const Run> in_cache_ GUARDED_BY(cache_mu_);
  mutable size_t in_cache_n_ GUARDED_BY(cache_mu_) = 0;
};

// A run inside the version plus the tombstone sequence already applied to it.
struct SourceRef {
  RunPtr run;
  uint64_t applied_seq;
};

// An L1 window [lo, hi] with its runs, oldest first.
struct Window {
  int64_t lo;
  int64_t hi;
  std::vector<SourceRef> runs;
};
using WindowPtr = std::shared_ptr<const Window>;
using WindowList = std::vector<WindowPtr>;  // sorted by lo, disjoint

// Merged, sorted, disjoint [lo, hi] intervals hidden from one source.
using HideSet = std::vector<std::pair<int64_t, int64_t>>;

struct Version {
  std::shared_ptr<const WindowList> l1;
  std::vector<SourceRef> l0;      // oldest first
  std::vector<SourceRef> sealed;  // oldest first
  std::shared_ptr<Memtable> mem;
  std::shared_ptr<const std::vector<MemMark>> marks;
  std::shared_ptr<TombLog> tombs;
  size_t tomb_n = 0;      // tombstones [0, tomb_n) of `tombs` are visible
  uint64_t last_seq = 0;  // highest tombstone sequence issued so far

  // Union of tombstones with seq > applied_seq. Cached per version.
  std::shared_ptr<const HideSet> Hide(uint64_t applied_seq) const
      EXCLUDES(hide_mu_);

 private:
  mutable Mutex hide_mu_;
  mutable std::map<uint64_t, std::shared_ptr<const HideSet>> hide_cache_
      GUARDED_BY(hide_mu_);

 public:
  Version() = default;
  // Copies the published state (not the cache).
  Version(const Version& o)
      : l1(o.l1),
        l0(o.l0),
        sealed(o.sealed),
        mem(o.mem),
        marks(o.marks),
        tombs(o.tombs),
        tomb_n(o.tomb_n),
        last_seq(o.last_seq) {}
};
using VersionPtr = std::shared_ptr<const Version>;

// True if OOO row i (timestamp ts) is hidden by one of `marks`.
inline bool OooHidden(const std::vector<MemMark>& marks, size_t i, int64_t ts) {
  for (const MemMark& m : marks) {
    if (i < m.ooo_mark && ts >= m.lo && ts <= m.hi) return true;
  }
  return false;
}

// The interval of `hs` containing v, if any.
const std::pair<int64_t, int64_t>* HideAt(const HideSet& hs, int64_t v);

// Index ranges of `run` rows in [b, e) NOT hidden by `hide`.
void VisibleRanges(const Run& run, size_t b, size_t e, const HideSet* hide,
                   std::vector<IdxRange>* out);

}  // namespace timelog

#endif  // TIMELOG_SRC_VERSION_H_
