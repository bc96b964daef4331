// FairLock: a FIFO (ticket) lock whose uncontended check is a plain load.
//
// The Python binding uses one per log to serialise writers: the engine allows
// one writer at a time, and a writer that releases the GIL (flush, a big batch,
// a backpressure wait, close) must keep every other writer out until it is
// done, in the order they asked. It knows nothing of Python.
//
// Protocol
// --------
//   uint64_t t = lock.Ticket();   // take a place in the queue (never blocks)
//   lock.Wait(t);                 // block until it is t's turn: t owns the
//   lock
//   ...                           // exclusive section
//   lock.Release();               // the next ticket's turn
// Tickets are served strictly in the order Ticket() handed them out, so a
// waiter is overtaken by nobody: its wait is bounded by the sections of the
// tickets taken before it. Idle() says whether no ticket is outstanding (no
// owner, no waiter); callers that hold an outer lock serialising every
// Ticket() call (the binding: the GIL) may skip the queue while Idle() holds,
// for as long as they keep that outer lock.
//
// Thread safety
// -------------
// * Ticket(), Idle() and Serving() may be called from any thread at any time.
// * Wait(t) may be called by any thread holding ticket t, once.
// * Release() may be called only by the current owner, once per Wait().
// * Not re-entrant: a thread that owns the lock and takes another ticket
//   waits for itself forever. The owner must not run code that may write to
//   the same log (in the binding: no Python code inside the section).
// * Reset() re-creates the lock in a freshly forked child, whose other threads
//   (owners or waiters in the parent) do not exist; nothing else may run then.
// * The destructor requires that no ticket is outstanding.

#ifndef TIMELOG_FAIR_LOCK_H_
#define TIMELOG_FAIR_LOCK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>

namespace timelog {

class FairLock {
 public:
  FairLock() = default;
  FairLock(const FairLock&) = delete;
  FairLock& operator=(const FairLock&) = delete;

  // Takes the next place in the queue. seq_cst: ordered with Release()'s
  // seq_cst increment of serving_ and its seq_cst read of next_, so either
  // the releaser sees this ticket outstanding (and notifies) or this ticket
  // is already being served when Wait() first checks (see Release()).
  uint64_t Ticket() { return next_.fetch_add(1, std::memory_order_seq_cst); }

  // True when ticket t owns the lock. acquire: pairs with the release part
  // of Release()'s increment, so everything the previous owner wrote in its
  // section happens-before what t does in its own.
  bool Serving(uint64_t t) const {
    return serving_.load(std::memory_order_acquire) == t;
  }

  // No owner and no waiter. acquire on serving_ for the same reason as in
  // Serving(); next_ may be read relaxed: a caller that relies on Idle()
  // serialises every Ticket() call with an outer lock, whose own ordering
  // makes the value current.
  bool Idle() const {
    return next_.load(std::memory_order_relaxed) ==
           serving_.load(std::memory_order_acquire);
  }

  // Blocks until ticket t owns the lock.
  void Wait(uint64_t t) {
    if (Serving(t)) return;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return Serving(t); });
  }

  // Passes the lock to the next ticket. The increment is seq_cst (release
  // for the next owner's acquire in Serving(), and totally ordered with
  // Ticket()): if the following read of next_ finds no outstanding ticket,
  // any later Ticket() returns exactly the value now being served and does
  // not wait. Otherwise a waiter may be blocked or about to block: taking mu_
  // before notifying means a waiter that checked Serving() under mu_ has
  // reached cv_.wait() (which releases mu_ atomically) before the notify.
  void Release() {
    const uint64_t now = serving_.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (next_.load(std::memory_order_seq_cst) != now) {
      { std::lock_guard<std::mutex> lock(mu_); }
      cv_.notify_all();
    }
  }

  // Forked child only: forget every ticket of the parent's threads and
  // re-create the mutex and condition variable, which another thread of the
  // parent may have held or waited on at the fork (their state is not
  // usable in the child). No other thread exists in the child yet.
  void Reset() {
    new (&mu_) std::mutex();
    new (&cv_) std::condition_variable();
    next_.store(0, std::memory_order_relaxed);
    serving_.store(0, std::memory_order_relaxed);
  }

  // Statistics for tests: tickets handed out so far.
  uint64_t tickets() const { return next_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> next_{0};     // next ticket to hand out
  std::atomic<uint64_t> serving_{0};  // ticket that owns (or may take) the lock
  std::mutex mu_;                     // guards nothing but the sleep in Wait()
  std::condition_variable cv_;
};

}  // namespace timelog

#endif  // TIMELOG_FAIR_LOCK_H_
