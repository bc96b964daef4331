// Worker: the background maintenance thread, its wakeups, backpressure waits and start/stop.
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
#include <mutex>
#include <thread>

#include "engine_state.h"

namespace timelog {

class Compaction;

class Worker {
 public:
  Worker(EngineState* state, Compaction* compaction)
      : state_(*state), compaction_(*compaction) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Idempotent: starts the thread unless it runs. May throw std::system_error.
  void Start();
  // Idempotent: stops and joins the thread.
  void Stop();
  bool Running() const;
  // Asks the worker for a step now (it otherwise wakes every
  // maintenance_wakeup_ms).
  void Wake();
  // Wakes the writers waiting in WaitForRoom.
  void NotifyRoom();
  // Engine::WaitForRoom: blocks up to timeout_ms until the worker has made room.
  bool WaitForRoom(uint32_t timeout_ms);

  // ---- fork (Engine::PrepareFork / AfterFork*), writer thread only.
  // Stops the worker, remembering whether it ran.
  void StopForFork();
  // Restarts the worker if StopForFork stopped it. Thread creation can fail
  // (std::system_error); the engine then stays in disabled mode, which is a
  // valid state Running() reports, rather than an exception out of a fork hook.
  void ResumeAfterFork() noexcept;
  std::mutex& wake_mu() { return wake_mu_; }
  // In the child: re-creates the condition variables in place.
  // REQUIRES: wake_mu held.
  void RenewCondVarsAfterFork();

 private:
  void Loop();

  EngineState& state_;
  Compaction& compaction_;
  mutable std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::condition_variable room_cv_;
  bool running_ = false;  // wake_mu
  bool stop_ = false;     // wake_mu
  bool wake_ = false;     // wake_mu
  std::thread thread_;    // wake_mu
  // Writer thread only: StopForFork stopped a running worker; ResumeAfterFork
  // restarts it.
  bool fork_resume_ = false;
};

}  // namespace timelog

#endif  // TIMELOG_SRC_WORKER_H_
