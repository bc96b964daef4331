// ReadState: the state behind a Snapshot (one Version plus the memtable prefix)
// and the read algorithms over it.
//
// Thread safety: immutable after Init(); any number of threads may call the
// const methods concurrently (the caches they touch have their own mutexes).

#ifndef TIMELOG_SRC_READ_STATE_H_
#define TIMELOG_SRC_READ_STATE_H_

#include <optional>
#include <vector>

#include "timelog/engine.h"
#include "version.h"

namespace timelog {

// One sorted source as seen by a read, in rank order (older first).
struct Source {
  const Run* run;
  std::shared_ptr<const HideSet> hide;    // ts-space, may be null
  const std::vector<IdxRange>* idx_hide;  // row-space (memtable), may be null
};

class ReadState {
 public:
  ReadState() = default;
  // REQUIRES: called under the engine's version mutex (mem_n / mem_on must
  // be read consistently with `v`).
  void Init(VersionPtr v, size_t mem_n, size_t mem_on, size_t page_rows);
  // Back to the default state (as before Init), keeping mem_hide_'s capacity:
  // drops the memtable views, then the version.
  void Reset() noexcept {
    mem_run_.reset();
    ooo_run_.reset();
    v_.reset();
    mem_hide_.clear();
  }

  // Sources overlapping [lo, hi], oldest first.
  void Gather(int64_t lo, int64_t hi, std::vector<Source>* out) const;
  // The same, split: the runs of one L1 window, and everything newer than L1.
  void GatherWindow(const Window& w, int64_t lo, int64_t hi,
                    std::vector<Source>* out) const;
  void GatherRecent(int64_t lo, int64_t hi, std::vector<Source>* out) const;
  // First L1 window with hi >= t.
  WindowList::const_iterator FirstWindow(int64_t t) const;

  uint64_t Count(int64_t lo, int64_t hi) const;
  std::optional<int64_t> Ceil(int64_t t) const;
  std::optional<int64_t> Floor(int64_t t) const;
  // Point reads: no source list, no allocation (beyond growing *out).
  void Equal(int64_t t, std::vector<uint64_t>* out) const;
  // Snapshot::CountBy without the argument checks (counts[0..nbuckets) are
  // zeroed first). REQUIRES: every > 0, nbuckets == BucketCount(...).
  void CountBy(int64_t lo, int64_t hi, int64_t origin, int64_t every,
               int64_t* starts, uint64_t* counts, size_t nbuckets) const;
  bool Contains(int64_t t) const;

  const Version& version() const { return *v_; }
  // Keeps the runs referenced by Sources alive.
  const VersionPtr& version_ptr() const { return v_; }
  const RunPtr& mem_run() const { return mem_run_; }
  const RunPtr& ooo_run() const { return ooo_run_; }
  // The in-order memtable rows as a source. REQUIRES: mem_run() != nullptr.
  Source MemSource() const {
    return {mem_run_.get(), nullptr, mem_hide_.empty() ? nullptr : &mem_hide_};
  }

 private:
  VersionPtr v_;
  RunPtr mem_run_;
  RunPtr ooo_run_;
  std::vector<IdxRange> mem_hide_;
};

// Point reads straight from a version and the memtable counters read with it
// (REQUIRES: mem_n / mem_on read under the engine's version mutex together
// with `v`, as for ReadState::Init). They build no ReadState: the memtable's
// in-order rows are searched in place, so a lookup neither takes the
// memtable's view cache lock nor builds a view after every append. Same
// results, in the same order, as ReadState::Equal / Contains.
void EqualAt(const Version& v, size_t mem_n, size_t mem_on, size_t page_rows,
             int64_t t, std::vector<uint64_t>* out);
bool ContainsAt(const Version& v, size_t mem_n, size_t mem_on, size_t page_rows,
                int64_t t);

// Visible row ranges of `s` among rows [b, e), ascending.
void SourceVisible(const Source& s, size_t b, size_t e,
                   std::vector<IdxRange>* out);
// Splits `s` rows [0, n) into visible ranges (appended to *vis) and hidden
// handles (appended to *dropped). Returns true if anything is hidden.
// (Seal and compaction: what a rewrite keeps and what it reports.)
bool Partition(const Source& s, std::vector<IdxRange>* vis,
               std::vector<uint64_t>* dropped);
// Appends the rows of `run` in each of `vis` to *out.
void AddSlices(const Run& run, const std::vector<IdxRange>& vis,
               std::vector<ColumnSlice>* out);

// A cursor over [lo, hi] of a copy of `st` (which it keeps alive).
std::unique_ptr<Cursor> MakeCursor(const ReadState& st, int64_t lo, int64_t hi,
                                   bool reverse);
// The same in two steps, for a read state built in place: NewCursor returns a
// cursor (from the calling thread's cursor cache, see snapshot.cc) whose empty
// read state *st the caller fills (ReadState::Init or a copy), then
// OpenCursor(c, lo, hi, reverse) positions it. Destroying the cursor in
// between is fine (e.g. if filling *st throws).
std::unique_ptr<Cursor> NewCursor(ReadState** st);
void OpenCursor(Cursor* c, int64_t lo, int64_t hi, bool reverse);

struct Snapshot::Rep {
  ReadState st;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_READ_STATE_H_
