// Mutex: std::mutex as an annotated capability, with the scoped MutexLock and
// condition-variable waits.
//
// Thread safety: a Mutex is a std::mutex (same cost, same semantics); the
// annotations only let clang's -Wthread-safety check who holds it. Waits use
// std::condition_variable on the wrapped std::mutex (WaitFor), so an engine
// condition variable stays a plain std::condition_variable.

#ifndef TIMELOG_SRC_MUTEX_H_
#define TIMELOG_SRC_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "thread_annotations.h"

namespace timelog {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis that the caller holds this mutex (no run-time check):
  // for a function that is handed the same mutex under another name.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // cv->wait_for(lock, d, pred) with this mutex held by the caller, who
  // still holds it afterwards (as with a std::unique_lock that stays locked).
  // `pred` runs with the mutex held: annotate a lambda REQUIRES(mu).
  template <class Rep, class Period, class Pred>
  bool WaitFor(std::condition_variable* cv,
               const std::chrono::duration<Rep, Period>& d, Pred pred)
      REQUIRES(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    // Gives ownership back without unlocking, also if the wait throws (the
    // caller's MutexLock unlocks).
    struct Disown {
      std::unique_lock<std::mutex>* l;
      ~Disown() { l->release(); }
    } disown{&lock};
    return cv->wait_for(lock, d, std::move(pred));
  }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_MUTEX_H_
