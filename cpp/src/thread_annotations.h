// Clang thread-safety annotations (-Wthread-safety): macros that expand to
// nothing elsewhere.
//
// GUARDED_BY(mu) on a field: read or written only with mu held.
// REQUIRES(mu) / EXCLUDES(mu) on a function: the caller holds / not mu.
// ACQUIRED_AFTER(mu) on a mutex: taken only after mu (-Wthread-safety-beta).
// ACQUIRE / RELEASE: the function takes / gives back the capability.
// ASSERT_CAPABILITY(mu): after the call, mu is known to be held.
// RETURN_CAPABILITY(mu): the function returns (a reference to) mu.
// NO_THREAD_SAFETY_ANALYSIS: the function is not checked (say why).
// Fields touched only by one thread (the writer's state) cannot be expressed
// as a capability: their comments say "writer thread only".
//
// Thread safety: macros only.

#ifndef TIMELOG_SRC_THREAD_ANNOTATIONS_H_
#define TIMELOG_SRC_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define TIMELOG_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TIMELOG_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) TIMELOG_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY TIMELOG_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) TIMELOG_THREAD_ANNOTATION(guarded_by(x))
#define ACQUIRED_AFTER(...) \
  TIMELOG_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) \
  TIMELOG_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) TIMELOG_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) TIMELOG_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define EXCLUDES(...) TIMELOG_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) TIMELOG_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) TIMELOG_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS \
  TIMELOG_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // TIMELOG_SRC_THREAD_ANNOTATIONS_H_
