// Worker: the maintenance loop, Wake / NotifyRoom, WaitForRoom, start, stop and
// the fork restart.

#include "worker.h"

#include <chrono>
#include <new>

#include "compaction.h"

namespace timelog {

void Worker::Start() {
  MutexLock lock(&wake_mu_);
  if (running_) return;
  stop_ = false;
  // May throw (std::system_error, std::bad_alloc): then nothing changed. The
  // thread cannot look at running_ before we release wake_mu.
  thread_ = std::thread([this] { Loop(); });
  running_ = true;
}

void Worker::Stop() {
  std::thread t;
  {
    MutexLock lock(&wake_mu_);
    if (!running_) return;
    stop_ = true;
    running_ = false;
    t = std::move(thread_);
  }
  wake_cv_.notify_all();
  room_cv_.notify_all();
  if (t.joinable()) t.join();
}

bool Worker::Running() const {
  MutexLock lock(&wake_mu_);
  return running_;
}

void Worker::Wake() {
  {
    MutexLock lock(&wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

void Worker::NotifyRoom() {
  { MutexLock lock(&wake_mu_); }
  room_cv_.notify_all();
}

bool Worker::WaitForRoom(uint32_t timeout_ms) {
  auto under_pressure = [this] {
    return state_.Pressure() == WriteResult::kBusy;
  };
  if (!under_pressure()) return true;
  // relaxed: a statistics counter (EngineCounters).
  state_.counters().backpressure_waits.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(&wake_mu_);
  if (!running_) return !under_pressure();
  wake_ = true;
  wake_cv_.notify_all();
  wake_mu_.WaitFor(
      &room_cv_, std::chrono::milliseconds(timeout_ms),
      [&]() REQUIRES(wake_mu_) { return !running_ || !under_pressure(); });
  return !under_pressure();
}

void Worker::Loop() {
  for (;;) {
    {
      MutexLock lock(&wake_mu_);
      if (stop_) return;
    }
    bool did = false;
    try {
      did = compaction_.LockedStep();
    } catch (const std::bad_alloc&) {
      // Nothing was published: the step is retried after the wakeup period.
      // relaxed: a statistics counter (EngineCounters).
      state_.counters().compaction_retries.fetch_add(1,
                                                     std::memory_order_relaxed);
    }
    if (did) continue;
    MutexLock lock(&wake_mu_);
    wake_mu_.WaitFor(
        &wake_cv_,
        std::chrono::milliseconds(state_.cfg().maintenance_wakeup_ms),
        [&]() REQUIRES(wake_mu_) { return stop_ || wake_; });
    wake_ = false;
  }
}

// -------------------------------------------------------------------- fork

void Worker::StopForFork() {
  bool was_running;
  {
    MutexLock lock(&wake_mu_);
    was_running = running_;
  }
  // Join the worker instead of trying to freeze it: it finishes the step it
  // is in (publishing it completely or not at all) and exits, so no engine
  // thread exists that the child would lack. It needs nothing from the
  // caller to get there: it never waits outside the engine. Only the writer
  // (this caller) starts or stops it, so `was_running` cannot go stale.
  Stop();
  fork_resume_ = was_running;
}

void Worker::ResumeAfterFork() noexcept {
  if (!fork_resume_) return;
  fork_resume_ = false;
  try {
    Start();
  } catch (...) {
    // Start changed nothing: the engine stays in disabled mode.
  }
}

void Worker::RenewCondVarsAfterFork() {
  // Under the contract nobody waits on them at the fork (the worker is joined
  // and WaitForRoom is a writer method, serialised with this caller), but a
  // condition variable's implementation keeps waiter bookkeeping (glibc:
  // per-group waiter counts that notify_* waits on), and a fresh object makes
  // the child independent of whatever another thread's wait left there. The
  // old objects are not destroyed: destroying a condition variable that a
  // (vanished) thread might still be registered with can block for ever, and
  // it owns no other resource, so overwriting its storage leaks nothing.
  // Placement-new over a member of the same type makes the member name refer
  // to the new object ([basic.life]/8), so no std::launder is needed. wake_mu
  // is held, so no thread of this process can touch them meanwhile.
  new (&wake_cv_) std::condition_variable();
  new (&room_cv_) std::condition_variable();
}

}  // namespace timelog
