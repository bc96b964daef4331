// RetireStack: the lock-free queue that carries dropped handles to the thread
// that releases them.
//
// Copyright (c) the timelog authors. All rights reserved.
//
// RetireStack carries dropped payload handles (opaque uint64_t) from any
// thread that removes records (engine worker, writer) to the thread that may
// release them (in the Python binding: a thread holding the GIL). It knows
// nothing of Python; the binding decides what a handle means and when to
// drain.
//
// Thread safety
// -------------
// * Push() may be called from any number of threads at once, concurrently
//   with each other and with PopBatch(). It is lock-free (one CAS loop on the
//   shared head), never blocks and never throws. It allocates one node per
//   call with std::nothrow; on failure it queues nothing and returns false.
// * PopBatch() is single-consumer: at most ONE thread may be inside it at a
//   time. The caller serialises consumers (the binding uses the GIL). It may
//   run concurrently with any number of Push() calls. PopBatch() finishes all
//   of its bookkeeping before it returns, so whatever the caller does with the
//   handles afterwards (e.g. Py_DECREF running a __del__) may re-enter
//   Push() or PopBatch().
// * Visit() is a consumer-side call: the caller serialises it with
//   PopBatch() (the binding: the GIL). It may run concurrently with any
//   number of Push() calls; a push that lands during the walk may or may not
//   be visited, a push that completed before the call is visited.
// * queued(), pushed_total(), popped_total() and alloc_failures() may be
//   called from any thread at any time. They are statistics: exact when no
//   Push()/PopBatch() is in flight and the reader has synchronised with the
//   threads that made them (e.g. joined them, or holds the consumer lock);
//   otherwise they are a recent, possibly slightly stale, value.
// * The destructor requires that no other call is in flight or will follow.
//
// Structure
// ---------
// Producers build a node {next, count, offset, handles[count]} privately and
// publish it with a CAS on `head_` (a Treiber stack, so newest first). The
// consumer never pops single nodes off `head_`: it takes the whole list with
// one exchange(nullptr). Because no node is ever removed from the shared head
// individually, a node address can never be recycled while a producer's CAS
// still compares against it, so there is no ABA problem and no need for
// hazard pointers or tagged pointers.
//
// The taken list is newest-first; the consumer reverses it and appends it to
// a consumer-private FIFO (`front_` .. `back_`). PopBatch() takes from the
// front of that FIFO; a partially consumed front node remembers how far it
// was consumed in `offset`. What a call does not take stays in the private
// FIFO ("re-attached") and is handed out first by the next call.
//
// Invariants (between calls)
// --------------------------
// (1) Every node reachable from `head_` is fully initialised and has
//     offset == 0; nodes there are ordered newest push first.
// (2) The private FIFO holds nodes oldest push first, each with
//     offset < count (fully consumed nodes are freed immediately).
//     front_ == nullptr iff back_ == nullptr iff the FIFO is empty.
// (3) private_handles_ == sum over the private FIFO of (count - offset).
// (4) Every node pushed before the latest exchange precedes, in the private
//     FIFO, every node still on `head_`; so handles come out in push order
//     (as linearised by the successful CAS), and in the given order within a
//     single Push() call. Pushes from one thread therefore come out in that
//     thread's program order.
// (5) When quiescent: queued() == pushed_total() - popped_total()
//                              == private_handles_ + handles on `head_`.
//
// Cost: Push() is O(n) plus the CAS retries. PopBatch() is amortised
// O(taken + newly pushed): each node is reversed once when it is taken from
// `head_`, and each handle is copied out once. It never re-walks the handles
// it leaves queued.

#ifndef TIMELOG_RETIRE_STACK_H_
#define TIMELOG_RETIRE_STACK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace timelog {

class RetireStack {
 public:
  RetireStack();

  // Frees every node. Handles still queued are discarded without being
  // handed out (the binding force-drains before destroying the stack).
  // REQUIRES: no other call on this object is in flight or follows.
  ~RetireStack();

  RetireStack(const RetireStack&) = delete;
  RetireStack& operator=(const RetireStack&) = delete;

  // Queues handles[0..n) as ONE node (one allocation per call). Callable
  // from any thread; lock-free; never blocks, never throws.
  // Returns true if the handles were queued (also for n == 0, which queues
  // nothing and allocates nothing). Returns false, increments
  // alloc_failures() and queues nothing if the node could not be allocated;
  // the caller still owns the handles then.
  // REQUIRES: handles points to n readable values (may be null if n == 0).
  bool Push(const uint64_t* handles, size_t n) noexcept;
  bool Push(uint64_t handle) noexcept;

  // Two-phase Push, for callers that must not lose handles when memory runs
  // out: Reserve(n) allocates the node for n handles up front (nullptr if it
  // cannot; counted in alloc_failures()), PushReserved(token, handles, n)
  // fills it and queues it without allocating and without failing, and
  // CancelReserved(token) frees an unused reservation. Same thread safety as
  // Push(); a reservation may be pushed or cancelled by any thread, once.
  void* Reserve(size_t n) noexcept;
  void PushReserved(void* token, const uint64_t* handles, size_t n) noexcept;
  static void CancelReserved(void* token) noexcept;

  // Appends up to `limit` queued handles (limit == 0: all of them) to *out,
  // oldest push first, and returns how many it appended. Handles it does not
  // take stay queued, in order, and come out first on the next call. All
  // bookkeeping is complete before it returns (see "Thread safety").
  // If growing *out throws std::bad_alloc, nothing is taken: the exception
  // propagates and every handle stays queued, in order.
  // REQUIRES: out != nullptr; no other PopBatch() in flight on this object.
  size_t PopBatch(std::vector<uint64_t>* out, size_t limit);

  // Calls visit(ctx, handles, n) on every handle still queued, each exactly
  // once: the private FIFO (from each node's consumption offset) and the
  // nodes on the shared head. Leaves everything queued and in order; does not
  // allocate and does not throw. Returns the first non-zero value returned by
  // `visit` (and stops there), else 0.
  // REQUIRES: no PopBatch() in flight on this object (same serialisation as
  // PopBatch()); `visit` does not call PopBatch().
  int Visit(int (*visit)(void* ctx, const uint64_t* handles, size_t n),
            void* ctx) const noexcept;

  // Handles currently waiting: pushed_total() - popped_total().
  size_t queued() const noexcept;
  // Handles ever queued by a successful Push().
  uint64_t pushed_total() const noexcept;
  // Handles ever handed out by PopBatch().
  uint64_t popped_total() const noexcept;
  // Push() calls that failed to allocate their node.
  uint64_t alloc_failures() const noexcept;

 private:
  struct Node;

  static Node* NewNode(const uint64_t* handles, size_t n) noexcept;
  static void FreeNode(Node* node) noexcept;
  static void FreeList(Node* node) noexcept;

  // Moves everything on head_ (newest first) to the back of the private FIFO
  // in push order. Consumer only.
  void TakeShared() noexcept;

  // Written by producers: kept on its own cache line, apart from the
  // consumer's fields, so that producers hammering it do not slow down the
  // consumer's private walk (and vice versa).
  alignas(64) std::atomic<Node*> head_{nullptr};
  std::atomic<uint64_t> pushed_total_{0};
  std::atomic<uint64_t> alloc_failures_{0};

  // Consumer-private state: touched only inside PopBatch() (and the
  // destructor), which the caller serialises, so no atomics are needed.
  alignas(64) Node* front_ = nullptr;  // oldest node, maybe partly consumed
  Node* back_ = nullptr;               // newest node taken from head_
  size_t private_handles_ = 0;         // unconsumed handles in front_..back_
  // Written only by the consumer, read by anyone.
  std::atomic<uint64_t> popped_total_{0};
};

}  // namespace timelog

#endif  // TIMELOG_RETIRE_STACK_H_
