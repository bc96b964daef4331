// Writer: the single writer's state (the active memtable and its counters) and
// the write path: append, batch runs, delete marks, seal.
//
// Thread safety: every method and field is writer thread only (the caller
// serialises the Engine's writer methods, engine.h). What readers see of the
// memtable is published through its release counters (version.h) and every
// other change through EngineState::Mutate / PublishRemoval under `mu`.

#ifndef TIMELOG_SRC_WRITER_H_
#define TIMELOG_SRC_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine_state.h"
#include "version.h"

namespace timelog {

// A memtable with more marks than this is sealed before the next overlapping
// delete, bounding the per-snapshot cost of applying marks.
constexpr size_t kMaxMemMarks = 64;

class Worker;

class Writer {
 public:
  Writer(EngineState* state, Worker* worker);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Turns the active memtable into a sealed run (no-op if empty).
  void Seal();

  // The Engine's write methods (engine.h), same contracts.
  // One row: in order into the memtable's columns, else into its OOO buffer;
  // seals first when the memtable (or the OOO budget) is full.
  WriteResult Append(int64_t ts, uint64_t handle);
  // Into the memtable if the whole batch fits it, else AddBatchRun.
  WriteResult AppendBatch(const int64_t* ts, const uint64_t* handles, size_t n);
  // Seals, then publishes the vectors' storage as a sealed run.
  bool AdoptSortedBatch(std::vector<int64_t>* ts, std::vector<uint64_t>* h,
                        WriteResult* result);
  // A tombstone; also a memtable mark if [lo, hi] overlaps the memtable
  // (sealing it first past kMaxMemMarks marks).
  WriteResult Delete(int64_t lo, int64_t hi);

 private:
  // Commits a batch as its own sealed run (after sealing the memtable),
  // stably sorted. All or nothing: on an exception (allocation failure)
  // nothing of the batch is committed and the engine is unchanged.
  void AddBatchRun(const int64_t* ts, const uint64_t* h, size_t n);

  EngineState& state_;
  Worker& worker_;
  // Writer thread only.
  std::shared_ptr<Memtable> mem_;  // the active memtable (current->mem)
  size_t n_ = 0;                   // in-order rows written to mem_
  size_t on_ = 0;                  // out-of-order rows written to mem_
  int64_t last_ts_ = kMinTs;       // largest in-order ts in mem_
  int64_t ooo_min_ = kMaxTs;       // smallest out-of-order ts in mem_
};

}  // namespace timelog

#endif  // TIMELOG_SRC_WRITER_H_
