# os.fork() support: the fork handlers that keep every open Timelog usable in the child.

# ----------------------------------------------------------------------------
# os.fork() support
# ----------------------------------------------------------------------------
#
# After os.fork() the child's copy of every open log must be fully usable. The
# engine provides PrepareFork / AfterForkParent / AfterForkChild (engine.h);
# the binding drives them in three steps, split so that nothing can deadlock:
#
# 1. _fork_before: an os.register_at_fork before-hook (GIL held). For every
#    live log it takes the writer lock (its FIFO turn, waited for with the GIL
#    released), so no other thread is inside a writer call and no new one can
#    start; a write that was in flight has therefore either committed
#    completely before the fork or not started. It keeps the logs
#    alive in _fork_held and lists their engines in _fork_engines. It takes no
#    engine lock: other before-hooks and the import lock may still release the
#    GIL before the fork, and a reader thread that took the GIL then and
#    blocked on an engine lock held by this thread would deadlock it.
# 2. _fork_prepare / _fork_parent / _fork_child: pthread_atfork handlers, plain
#    C run by fork() itself in the forking thread, which holds the GIL and
#    cannot release it there. So no Python thread is inside an engine call
#    (readers hold the GIL, writers are excluded by step 1), and PrepareFork
#    (join the worker, take the engine locks) cannot wait for anything that
#    waits for the GIL. They act only on a fork by the thread that ran step 1;
#    any other fork() (C code, another thread) is left alone.
# 3. _fork_after_parent / _fork_after_child: after-hooks. They release the
#    claims and refresh each log's maintenance mode (the worker was restarted
#    by step 2 unless thread creation failed). In the child, every live log's
#    writer lock is re-created (FairLock::Reset): the threads that held or
#    waited for it in the parent do not exist there.


cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t    # opaque: only copied and compared
    pthread_t pthread_self()
    int pthread_equal(pthread_t a, pthread_t b)
    int pthread_atfork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)

# Snapshot calls made with the GIL released (Timelog.count_by) may take a
# version's cache mutex, which PrepareFork cannot see (engine.h, "Thread
# safety"): the fork must not happen while one is inside. They pass a gate:
# _fork_prepare closes it and waits until none is inside; the after-hooks
# reopen it. The threads inside need no lock to finish, so the wait ends.
cdef extern from *:
    """
    #include <atomic>
    #include <cstddef>
    #include <thread>
    static std::atomic<std::size_t> timelog_gate_inside{0};
    static std::atomic<bool> timelog_gate_closed{false};
    // seq_cst on all four accesses: a store-then-load handshake in both
    // directions (enter: count++ then read the flag; close: set the flag then
    // read the count). With anything weaker both loads could miss the other
    // side's store, and a reader would run during the fork.
    static void timelog_gate_enter() {
      for (;;) {
        timelog_gate_inside.fetch_add(1, std::memory_order_seq_cst);
        if (!timelog_gate_closed.load(std::memory_order_seq_cst)) return;
        timelog_gate_inside.fetch_sub(1, std::memory_order_seq_cst);
        // relaxed: only waits for the flag to drop; enter re-checks it seq_cst.
        while (timelog_gate_closed.load(std::memory_order_relaxed)) {
          std::this_thread::yield();
        }
      }
    }
    static void timelog_gate_leave() {
      // seq_cst (release would do): the read's own work happens-before the
      // closer's load that sees the count drop.
      timelog_gate_inside.fetch_sub(1, std::memory_order_seq_cst);
    }
    static void timelog_gate_close() {
      timelog_gate_closed.store(true, std::memory_order_seq_cst);
      while (timelog_gate_inside.load(std::memory_order_seq_cst) != 0) {
        std::this_thread::yield();
      }
    }
    static void timelog_gate_open(bool child) {
      // In the child the threads that were passing the gate do not exist.
      // relaxed: the child has one thread; the flag store below publishes.
      if (child) timelog_gate_inside.store(0, std::memory_order_relaxed);
      // seq_cst: pairs with timelog_gate_enter's load of the flag.
      timelog_gate_closed.store(false, std::memory_order_seq_cst);
    }
    """
    void _gate_enter "timelog_gate_enter"() noexcept nogil
    void _gate_leave "timelog_gate_leave"() noexcept nogil
    void _gate_close "timelog_gate_close"() noexcept nogil
    void _gate_open "timelog_gate_open"(bint child) noexcept nogil


cdef unordered_set[PyObject*] _live_logs    # every Timelog from __cinit__ to __dealloc__
cdef vector[CEngine*] _fork_engines         # engines of the logs claimed by _fork_before
cdef pthread_t _fork_owner                  # the thread that ran _fork_before
cdef bint _fork_armed = False               # _fork_before ran, the after-hooks did not yet
cdef bint _fork_prepared = False            # _fork_prepare ran, _fork_parent/_child did not yet
cdef list _fork_held = []                   # the claimed logs (strong references)


cdef void _fork_prepare() noexcept nogil:
    global _fork_prepared
    cdef size_t i
    if not _fork_armed or not pthread_equal(pthread_self(), _fork_owner):
        return
    _gate_close()
    for i in range(_fork_engines.size()):
        _fork_engines[i].PrepareFork()
    _fork_prepared = True


cdef void _fork_after(bint child) noexcept nogil:
    global _fork_prepared
    cdef size_t i
    if not _fork_prepared:
        return
    _fork_prepared = False
    for i in range(_fork_engines.size()):
        if child:
            _fork_engines[i].AfterForkChild()
        else:
            _fork_engines[i].AfterForkParent()
    _gate_open(child)


cdef void _fork_parent() noexcept nogil:
    _fork_after(False)


cdef void _fork_child() noexcept nogil:
    _fork_after(True)


def _fork_before():
    global _fork_held, _fork_owner, _fork_armed
    cdef vector[PyObject*] live
    cdef PyObject* p
    cdef Timelog log
    if _fork_armed:
        return
    # Take references before anything can run Python code (an allocation may
    # collect garbage and deallocate a log). A log whose reference count is
    # already 0 is being deallocated and is skipped.
    for p in _live_logs:
        if _Py_REFCNT(p) > 0:
            live.push_back(p)
            _incref(p)
    held = []
    try:
        for p in live:
            held.append(<object>p)
    finally:
        for p in live:
            _decref(p)
    _fork_held = held                # from here on the after-hooks release the claims
    for log in held:                 # claimed until the after-hook
        log._lock(False)
    _fork_engines.clear()
    for log in held:
        if log._engine.get() != NULL:
            _fork_engines.push_back(log._engine.get())
    _fork_owner = pthread_self()
    _fork_armed = True


cdef int _fork_release(bint child) except -1:
    global _fork_held, _fork_armed
    cdef PyObject* p
    cdef Timelog log
    held = _fork_held
    _fork_held = []
    _fork_armed = False
    _fork_engines.clear()
    if child:
        for p in _live_logs:         # no Python code runs in this loop
            if _Py_REFCNT(p) > 0:
                (<Timelog>p)._wlock.Reset()
                (<Timelog>p)._wowner = 0
    for log in held:
        if not child:
            log._unlock()
        if log._engine.get() != NULL:
            log._background = log._engine.get().MaintenanceRunning()
    return 0


def _fork_after_parent():
    _fork_release(False)


def _fork_after_child():
    _fork_release(True)


if pthread_atfork(_fork_prepare, _fork_parent, _fork_child) != 0:
    raise MemoryError("pthread_atfork failed to register the timelog fork handlers")
_os.register_at_fork(before=_fork_before, after_in_parent=_fork_after_parent,
                     after_in_child=_fork_after_child)
