// RetireStack: reservation, push, batch pop and the visit of the queued
// handles.
//
// Copyright (c) the timelog authors. All rights reserved.
//
// See retire_stack.h for the thread-safety contract and the invariants.

#include "timelog/retire_stack.h"

#include <cstdint>
#include <cstring>
#include <new>

namespace timelog {

// A batch of handles. The handles live directly behind the header in the
// same allocation (one allocation per Push()).
struct RetireStack::Node {
  Node* next;     // Older node on head_; newer node in the private FIFO.
  size_t count;   // Handles in this node; > 0.
  size_t offset;  // Handles already handed out; consumer only.

  uint64_t* handles() noexcept { return reinterpret_cast<uint64_t*>(this + 1); }
};

namespace {

// The largest n for which sizeof(Node) + n * 8 does not overflow size_t.
template <typename NodeT>
constexpr size_t MaxHandlesPerNode() {
  return (SIZE_MAX - sizeof(NodeT)) / sizeof(uint64_t);
}

}  // namespace

RetireStack::RetireStack() = default;

RetireStack::~RetireStack() {
  // acquire: by contract no producer is still running, and the owner has
  // already synchronised with them; acquire costs nothing here and keeps the
  // node contents visible even if the owner's synchronisation was only
  // through this stack.
  FreeList(head_.exchange(nullptr, std::memory_order_acquire));
  FreeList(front_);
  front_ = back_ = nullptr;
  private_handles_ = 0;
}

RetireStack::Node* RetireStack::NewNode(const uint64_t* handles,
                                        size_t n) noexcept {
  static_assert(sizeof(Node) % alignof(uint64_t) == 0,
                "handles[] must be aligned right behind the header");
  static_assert(alignof(Node) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  if (n > MaxHandlesPerNode<Node>()) return nullptr;  // size would overflow
  void* mem = ::operator new(sizeof(Node) + n * sizeof(uint64_t), std::nothrow);
  if (mem == nullptr) return nullptr;
  Node* node = new (mem) Node{nullptr, n, 0};
  if (handles != nullptr)
    std::memcpy(node->handles(), handles, n * sizeof(uint64_t));
  return node;
}

void RetireStack::FreeNode(Node* node) noexcept {
  node->~Node();  // trivial; kept for symmetry with the placement new
  ::operator delete(static_cast<void*>(node));
}

void RetireStack::FreeList(Node* node) noexcept {
  while (node != nullptr) {
    Node* next = node->next;
    FreeNode(node);
    node = next;
  }
}

bool RetireStack::Push(const uint64_t* handles, size_t n) noexcept {
  if (n == 0) return true;
  void* token = Reserve(n);
  if (token == nullptr) return false;
  PushReserved(token, handles, n);
  return true;
}

void* RetireStack::Reserve(size_t n) noexcept {
  Node* node = NewNode(nullptr, n);
  if (node == nullptr) {
    // relaxed: a statistic; it orders nothing else.
    alloc_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  return node;
}

void RetireStack::CancelReserved(void* token) noexcept {
  if (token != nullptr) FreeNode(static_cast<Node*>(token));
}

void RetireStack::PushReserved(void* token, const uint64_t* handles,
                               size_t n) noexcept {
  Node* node = static_cast<Node*>(token);
  // The node was sized for exactly n handles by Reserve(n).
  if (n) std::memcpy(node->handles(), handles, n * sizeof(uint64_t));
  // relaxed: a statistic; it guards no memory. It is bumped BEFORE the node
  // is published so that a thread that has taken the node (and thereby
  // synchronised with the release CAS below) never sees popped > pushed.
  pushed_total_.fetch_add(n, std::memory_order_relaxed);

  // relaxed: `expected` is only a guess for the CAS, which re-validates it;
  // a producer never dereferences another node, so it needs to see nothing
  // that node's producer wrote.
  Node* expected = head_.load(std::memory_order_relaxed);
  do {
    node->next = expected;  // private until the CAS succeeds
    // success = release: publishes *node (next, count, handles) to the
    // consumer's acquire exchange. Later producers' successful CASes are
    // read-modify-writes and so continue this release sequence: a consumer
    // that reads a newer head still synchronises with this push, which makes
    // every node further down the list visible too.
    // failure = relaxed: on failure we only learn the current head to retry
    // with; as above we never dereference it.
  } while (!head_.compare_exchange_weak(
      expected, node, std::memory_order_release, std::memory_order_relaxed));
}

bool RetireStack::Push(uint64_t handle) noexcept { return Push(&handle, 1); }

void RetireStack::TakeShared() noexcept {
  // relaxed: only a hint to skip the read-modify-write (and the cache-line
  // steal) when nothing is queued. If it misses a push that lands right now,
  // that push is simply taken by the next call, as if it had landed after the
  // exchange. It dereferences nothing.
  if (head_.load(std::memory_order_relaxed) == nullptr) return;
  // acquire: pairs with the producers' release CAS (and its release
  // sequence), so every node in the taken list is fully visible. Taking the
  // whole list at once, and never single nodes, is what rules out ABA: no
  // node can be freed and reused while still being the head a producer's CAS
  // compares against.
  Node* list = head_.exchange(nullptr, std::memory_order_acquire);

  // The list is newest first; reverse it into push order.
  Node* newest = list;
  Node* reversed = nullptr;
  size_t taken = 0;
  while (list != nullptr) {
    Node* older = list->next;
    list->next = reversed;
    reversed = list;
    taken += list->count;
    list = older;
  }
  // reversed != nullptr: only the (single) consumer ever empties head_, so
  // the list seen non-empty above was still non-empty at the exchange.
  if (back_ == nullptr) {
    front_ = reversed;
  } else {
    back_->next = reversed;
  }
  back_ = newest;
  private_handles_ += taken;
}

size_t RetireStack::PopBatch(std::vector<uint64_t>* out, size_t limit) {
  TakeShared();
  size_t want = private_handles_;
  if (limit != 0 && limit < want) want = limit;
  if (want == 0) return 0;

  // Grow *out before consuming anything, so that a bad_alloc leaves every
  // handle queued. Grow geometrically: callers that append many small
  // batches to one vector must not pay a reallocation per call.
  const size_t needed = out->size() + want;
  if (needed > out->capacity()) {
    out->reserve(needed > 2 * out->capacity() ? needed : 2 * out->capacity());
  }

  size_t remaining = want;
  while (remaining > 0) {
    Node* node = front_;
    const size_t available = node->count - node->offset;
    const size_t take = available < remaining ? available : remaining;
    const uint64_t* first = node->handles() + node->offset;
    out->insert(out->end(), first, first + take);  // fits: cannot throw
    remaining -= take;
    if (take == available) {
      front_ = node->next;
      if (front_ == nullptr) back_ = nullptr;
      FreeNode(node);
    } else {
      node->offset += take;  // partly consumed node stays at the front
    }
  }
  private_handles_ -= want;
  // relaxed: a statistic; the handles themselves were already made visible
  // to this thread by the acquire exchange.
  popped_total_.fetch_add(want, std::memory_order_relaxed);
  return want;
}

int RetireStack::Visit(int (*visit)(void* ctx, const uint64_t* handles,
                                    size_t n),
                       void* ctx) const noexcept {
  // Consumer-private part: stable, the caller excludes PopBatch().
  for (Node* node = front_; node != nullptr; node = node->next) {
    // offset < count by invariant (2).
    const int rc =
        visit(ctx, node->handles() + node->offset, node->count - node->offset);
    if (rc != 0) return rc;
  }
  // acquire: pairs with the producers' release CAS (and its release
  // sequence) exactly as TakeShared() does, so every node reachable from the
  // loaded head is fully visible. The nodes cannot change or go away under
  // the walk: producers never touch a published node again, and only the
  // consumer (excluded by the caller) unlinks or frees them. Pushes landing
  // after this load are simply not part of this walk.
  for (Node* node = head_.load(std::memory_order_acquire); node != nullptr;
       node = node->next) {
    const int rc = visit(ctx, node->handles(), node->count);  // offset == 0
    if (rc != 0) return rc;
  }
  return 0;
}

size_t RetireStack::queued() const noexcept {
  // relaxed (both): statistics that guard no memory. popped is read first:
  // for the consumer thread every counted pop happens-after the matching
  // push's increment, so pushed >= popped. Another thread reading without
  // synchronisation could in principle see a newer popped than pushed; the
  // clamp keeps that transient skew from wrapping around.
  const uint64_t popped = popped_total_.load(std::memory_order_relaxed);
  const uint64_t pushed = pushed_total_.load(std::memory_order_relaxed);
  return pushed > popped ? static_cast<size_t>(pushed - popped) : 0;
}

uint64_t RetireStack::pushed_total() const noexcept {
  // relaxed: a statistic (see queued()).
  return pushed_total_.load(std::memory_order_relaxed);
}

uint64_t RetireStack::popped_total() const noexcept {
  // relaxed: a statistic (see queued()).
  return popped_total_.load(std::memory_order_relaxed);
}

uint64_t RetireStack::alloc_failures() const noexcept {
  // relaxed: a statistic (see queued()).
  return alloc_failures_.load(std::memory_order_relaxed);
}

}  // namespace timelog
