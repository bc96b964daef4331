# Garbage-collector support: tp_traverse/tp_clear slots that let the cyclic GC see and break payload cycles.

# ----------------------------------------------------------------------------
# Garbage-collector support
# ----------------------------------------------------------------------------
#
# A Timelog owns one strong reference per stored record, but as a 64-bit handle
# inside the engine, which the cyclic GC cannot see; so `log.append(1, {"log":
# log})` (or an iterator/span of the log stored in it) was a cycle nothing could
# ever free, worker thread included. The slots below make those cycles
# collectable:
#
# * Timelog.tp_traverse = Cython's generated traverse (the `object` fields)
#   followed by one visit per owned payload reference: every handle the engine
#   physically stores (memtable, sealed runs, L0/L1 segments; visible or
#   tombstoned) and every handle queued in the retirement stack (private FIFO
#   and shared head). Engine::VisitHandles walks the engine with removal
#   publishing paused and visits the stack inside that same pause, so a handle
#   the worker is dropping at that moment is counted exactly once (in the
#   engine or in the stack, never both, never neither). The GC runs with the
#   GIL held; the worker never takes the GIL and never holds the pause while
#   waiting for anything, so this cannot deadlock. Nothing is allocated.
# * Timelog.tp_clear = close() (`_teardown`): the engine is stopped and freed
#   and every payload reference is released, which breaks the cycle. Any later
#   access (e.g. from the __dealloc__ of an iterator in the same garbage) sees
#   a closed log: TimelogError, or a no-op for unpinning.
# * TimelogIter.tp_clear releases the iterator's cursor, recycled row tuple and
#   pin (`_finish`) but keeps `_log`, so pins stay balanced and later calls
#   raise/stop cleanly. PageSpanIter, PageSpan, PageSpanObjectsView (and
#   _Pinned, the base of the iterators and spans) get no tp_clear: they only
#   reference their log/span, any cycle through them also runs through an
#   object that has one (the log, or a user container), and clearing their
#   `_log`/`_span` to None would let a pin leak or a later method call
#   dereference None.
#
# Why patch the slots at import instead of `@cython.no_gc_clear` + hand-written
# slots: Cython cannot generate a traverse for handles, so either way the slots
# are set by hand; patching keeps Cython's own traverse for the `object` fields
# (it stays right when fields are added) and keeps this whole mechanism in one
# block.

cdef extern from *:
    """
    #include <stdint.h>
    #include "timelog/engine.h"
    #include "timelog/retire_stack.h"

    struct timelog_gc_ctx {
      visitproc visit;
      void* arg;
      const timelog::RetireStack* retired;
    };

    /* Py_VISIT on each handle: each one is the address of a live object whose
       reference the log owns. Stops at the first non-zero visit result.
       Payloads whose type has no GC support (int, float, str, bytes, None, ...)
       are skipped: they cannot be part of a cycle and every visitor the
       collector passes ignores them, so the call would only cost time (half of
       the walk for a log of ints). gc.get_referents(log) lists the others. */
    static int timelog_gc_visit_batch(void* ctx, const uint64_t* h, size_t n) {
      struct timelog_gc_ctx* c = (struct timelog_gc_ctx*)ctx;
      visitproc visit = c->visit;
      void* arg = c->arg;
      for (size_t i = 0; i < n; ++i) {
        PyObject* o = (PyObject*)(uintptr_t)h[i];
        /* The header of a later payload (its type pointer and, for tracked
           objects, the GC header in front of it), so that the visits of many
           distinct payloads overlap their cache misses. */
        if (i + 8 < n) {
          const char* ahead = (const char*)(uintptr_t)h[i + 8];
          __builtin_prefetch(ahead);
          __builtin_prefetch(ahead - 2 * sizeof(void*));  /* PyGC_Head: two words */
        }
        if (PyType_IS_GC(Py_TYPE(o))) {
          Py_VISIT(o);
        }
      }
      return 0;
    }

    static int timelog_gc_visit_retired(void* ctx) {
      struct timelog_gc_ctx* c = (struct timelog_gc_ctx*)ctx;
      return c->retired ? c->retired->Visit(timelog_gc_visit_batch, ctx) : 0;
    }

    /* Every payload reference the log owns, each exactly once: the engine's
       stored handles, then (inside the same publish pause) the retirement
       stack. GIL held by the caller. */
    static int timelog_gc_traverse_handles(const timelog::Engine* eng,
                                           const timelog::RetireStack* retired,
                                           visitproc visit, void* arg) {
      struct timelog_gc_ctx c = {visit, arg, retired};
      if (eng != NULL) {
        return eng->VisitHandles(timelog_gc_visit_batch, &c, timelog_gc_visit_retired);
      }
      return timelog_gc_visit_retired(&c);
    }
    """
    ctypedef int (*_visitproc "visitproc")(PyObject*, void*) noexcept
    ctypedef int (*_traverseproc "traverseproc")(PyObject*, _visitproc, void*) noexcept
    ctypedef int (*_inquiry "inquiry")(PyObject*) noexcept
    ctypedef struct _TypeSlots "PyTypeObject":
        _traverseproc tp_traverse
        _inquiry tp_clear
    int _gc_traverse_handles "timelog_gc_traverse_handles"(
        const CEngine* eng, const CRetireStack* retired, _visitproc visit, void* arg) noexcept


cdef _traverseproc _cy_timelog_traverse = NULL   # Cython's, for the object fields


cdef int _timelog_traverse(Timelog self, _visitproc visit, void* arg) noexcept:
    # `self` is borrowed (a traverse must not touch reference counts).
    cdef int rc
    if _cy_timelog_traverse != NULL:
        rc = _cy_timelog_traverse(<PyObject*>self, visit, arg)
        if rc != 0:
            return rc
    return _gc_traverse_handles(self._engine.get(), self._retired, visit, arg)


cdef int _timelog_clear(Timelog self) noexcept:
    # Only garbage is cleared, and garbage has no thread inside one of its
    # methods (that thread would hold a reference), so nobody holds or waits for
    # the writer lock: close() without it, as __dealloc__ does.
    if self._engine.get() != NULL or (self._retired != NULL and self._retired.queued() > 0):
        try:
            self._teardown()           # = close(): stops the worker, releases every payload
        except BaseException:
            pass
    return 0


cdef int _timelog_iter_clear(TimelogIter self) noexcept:
    self._finish()                     # drops _last and the pin; keeps _log
    return 0


cdef int _install_gc_slots() except -1:
    global _cy_timelog_traverse
    cdef _TypeSlots* t = <_TypeSlots*><PyObject*>Timelog
    if t.tp_traverse != <_traverseproc>_timelog_traverse:
        _cy_timelog_traverse = t.tp_traverse
        t.tp_traverse = <_traverseproc>_timelog_traverse
    t.tp_clear = <_inquiry>_timelog_clear
    (<_TypeSlots*><PyObject*>TimelogIter).tp_clear = <_inquiry>_timelog_iter_clear
    (<_TypeSlots*><PyObject*>_Pinned).tp_clear = NULL   # their base: never instantiated alone
    (<_TypeSlots*><PyObject*>PageSpanIter).tp_clear = NULL
    (<_TypeSlots*><PyObject*>PageSpan).tp_clear = NULL
    (<_TypeSlots*><PyObject*>PageSpanObjectsView).tp_clear = NULL
    return 0


_install_gc_slots()
