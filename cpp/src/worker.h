// Worker: the background maintenance thread, its wakeups, backpressure waits
// and start/stop.
//
// Thread safety: `wake_mu` guards running/stop/wake/thread and pairs with
// wake_cv (worker wakeups) and room_cv (writers waiting for backpressure
// relief). Lock order (engine_state.h): maint_mu -> wake_mu (a flush notifies
// backpressure waiters); wake_mu is never held with mu nor taken under
// publish_mu, except by Engine::PrepareFork, which takes it last.
// Start, Stop, WaitForRoom and the fork hooks are writer methods (one writer
// at a time); Wake, NotifyRoom and Running may be called from any thread.

#ifndef TIMELOG_SRC_WORKER_H_
#define TIMELOG_SRC_WORKER_H_

#include <condition_variable>
#include <cstdint>
#include <thread>

#include "engine_state.h"
#include "mutex.h"
#include "thread_annotations.h"

namespace timelog {

class Compaction;

class Worker {
 public:
  Worker(EngineState* state, Compaction* compaction)
      : state_(*state), compaction_(*compaction) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Idempotent: starts the thread unless it runs. May throw std::system_error
  // or std::bad_alloc, leaving the worker stopped.
  void Start() EXCLUDES(wake_mu_);
  // Idempotent: stops and joins the thread.
  void Stop() EXCLUDES(wake_mu_);
  bool Running() const EXCLUDES(wake_mu_);
  // Asks the worker for a step now (it otherwise wakes every
  // maintenance_wakeup_ms).
  void Wake() EXCLUDES(wake_mu_);
  // Wakes the writers waiting in WaitForRoom.
  void NotifyRoom() EXCLUDES(wake_mu_);
  // Engine::WaitForRoom: blocks up to timeout_ms until the worker has made
  // room.
  bool WaitForRoom(uint32_t timeout_ms) EXCLUDES(wake_mu_);

  // ---- fork (Engine::PrepareFork / AfterFork*), writer thread only.
  // Stops the worker, remembering whether it ran.
  void StopForFork() EXCLUDES(wake_mu_);
  // Restarts the worker if StopForFork stopped it. Thread creation can fail
  // (std::system_error); the engine then stays in disabled mode, which is a
  // valid state Running() reports, rather than an exception out of a fork hook.
  void ResumeAfterFork() noexcept EXCLUDES(wake_mu_);
  Mutex& wake_mu() RETURN_CAPABILITY(wake_mu_) { return wake_mu_; }
  // In the child: re-creates the condition variables in place.
  void RenewCondVarsAfterFork() REQUIRES(wake_mu_);

 private:
  void Loop() EXCLUDES(wake_mu_);

  EngineState& state_;
  Compaction& compaction_;
  mutable Mutex wake_mu_;
  // Waited on with wake_mu held; notified with or without it.
  std::condition_variable wake_cv_;
  std::condition_variable room_cv_;
  bool running_ GUARDED_BY(wake_mu_) = false;
  bool stop_ GUARDED_BY(wake_mu_) = false;
  bool wake_ GUARDED_BY(wake_mu_) = false;
  std::thread thread_ GUARDED_BY(wake_mu_);
  // Writer thread only: StopForFork stopped a running worker; ResumeAfterFork
  // restarts it.
  bool fork_resume_ = false;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_WORKER_H_
