// Allocation-failure injection for tests: a replacement of the global C++
// operator new/delete, loaded with LD_PRELOAD (tests/test_alloc_failure.py
// builds it with the system compiler). Disarmed it only forwards to
// malloc/free. Armed by a thread, the nth next C++ allocation made ON THAT
// THREAD (of at least `min_size` bytes) fails once: the throwing forms throw
// std::bad_alloc, the nothrow forms return nullptr. Other threads (e.g. an
// engine worker) are never affected, so a sweep is deterministic.
//
//   timelog_fail_alloc_arm(n, min_size)  n >= 1 arms, n == 0 disarms
//   timelog_fail_alloc_fired()           1 once the armed failure happened
//   timelog_fail_alloc_seen()            allocations counted since arming
//
// Thread safety: all state is thread_local; the functions may be called from
// any thread and affect only the caller.

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

thread_local long countdown = 0;
thread_local long seen = 0;
thread_local int fired = 0;
thread_local std::size_t min_bytes = 0;

bool ShouldFail(std::size_t n) {
  if (countdown <= 0 || n < min_bytes) return false;
  ++seen;
  if (--countdown == 0) {
    fired = 1;
    return true;
  }
  return false;
}

void* Allocate(std::size_t n) { return std::malloc(n == 0 ? 1 : n); }

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void timelog_fail_alloc_arm(
    long nth, std::size_t min_size) {
  countdown = nth > 0 ? nth : 0;
  min_bytes = min_size;
  seen = 0;
  fired = 0;
}

__attribute__((visibility("default"))) int timelog_fail_alloc_fired() {
  return fired;
}

__attribute__((visibility("default"))) long timelog_fail_alloc_seen() {
  return seen;
}

}  // extern "C"

void* operator new(std::size_t n) {
  if (ShouldFail(n)) throw std::bad_alloc();
  void* p = Allocate(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* operator new[](std::size_t n) { return ::operator new(n); }

void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return ShouldFail(n) ? nullptr : Allocate(n);
}

void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return ShouldFail(n) ? nullptr : Allocate(n);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
