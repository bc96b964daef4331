// timelog engine vocabulary: Record, kMinTs/kMaxTs, WriteResult, PageSpan,
// handle visitors, AllocationError.
//
// Thread safety: plain values and function-pointer types.

#ifndef TIMELOG_TYPES_H_
#define TIMELOG_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace timelog {

constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();

// Thrown (as a std::bad_alloc, so generic handlers still see an allocation
// failure) when the engine cannot allocate one of its column arrays; what()
// names the structure and the size that was asked for, e.g.
// "could not allocate the memtable (memtable_max_bytes): 4294967296 rows x
// 8 bytes = 32.0 GiB". The message is shared, so copying never allocates.
class AllocationError : public std::bad_alloc {
 public:
  explicit AllocationError(std::string message)
      : message_(std::make_shared<const std::string>(std::move(message))) {}
  const char* what() const noexcept override { return message_->c_str(); }

 private:
  std::shared_ptr<const std::string> message_;
};

struct Record {
  int64_t ts;
  uint64_t handle;
};

// Visitor of Engine::VisitHandles (and RetireStack::Visit): called with
// handles[0..n), n > 0. Returns 0 to go on; any other value stops the walk
// and is returned by the walk (the tp_traverse / Py_VISIT convention).
// Must not allocate from the engine, block on the engine's locks, or call
// into the engine.
using HandleVisitFn = int (*)(void* ctx, const uint64_t* handles, size_t n);
// Called once by Engine::VisitHandles while the publish lock is still held,
// after every stored handle was visited; returns like HandleVisitFn.
using PausedFn = int (*)(void* ctx);

constexpr size_t kAdoptMinRecords = 16384;  // see Engine::AdoptSortedBatch

// Result of a write. Both values mean the write WAS committed.
enum class WriteResult {
  kOk = 0,
  kBusy =
      1,  // committed, but sealed runs are at sealed_max_runs (backpressure)
};

// A sorted, contiguous, immutable piece of a run, kept alive by `owner`.
struct PageSpan {
  const int64_t* ts = nullptr;
  const uint64_t* handles = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;
};

}  // namespace timelog

#endif  // TIMELOG_TYPES_H_
