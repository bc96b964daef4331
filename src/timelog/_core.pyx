# cython: language_level=3, binding=False, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True, embedsignature=True, embedsignature.format=clinic
# distutils: language = c++
"""timelog._core: the Cython binding of the C++ timelog engine.

Everything public is re-exported by the ``timelog`` package; the API reference
is docs/api.md in the source distribution (HTML site: ``tox -e docs``).

How payloads are held
---------------------
The engine stores opaque 64-bit handles. A handle is the address of a Python
object (``<uint64_t><PyObject*>obj``) and every stored record owns exactly one
strong reference (one ``Py_INCREF`` when the record is committed).

When maintenance physically removes records, the engine reports them on
whatever thread did the work, without the GIL, in two phases: ``_drop_reserve``
allocates the queue node first (if it cannot, the removal is abandoned and the
records stay stored), ``_drop_commit`` pushes the handles onto the log's
lock-free ``RetireStack`` once the removal is published. Handles leave the stack only in
``Timelog._drain`` (GIL held, no engine call in progress on this thread, never
inside ``nogil``): bookkeeping first (``PopBatch`` into a local vector), then one
``Py_DECREF`` each, so a payload ``__del__`` that re-enters the log is safe.

Readers pin: every live iterator / span iterator / span counts in
``Timelog._pins`` and opportunistic drains are skipped while ``_pins > 0``
(an old snapshot may still expose a handle that a later compaction dropped).
``close()`` invalidates every pin at once by bumping ``_epoch``; iterators check
the log's state before they touch a handle.

The cyclic GC sees these references through ``Timelog``'s ``tp_traverse`` and
breaks cycles with its ``tp_clear`` (= ``close()``); see "Garbage-collector
support" in _gc.pxi.

Writer serialisation
--------------------
The engine requires one writer at a time. Each log has a FIFO ticket lock
(``timelog::FairLock``, ``_wlock``). A writer call that releases the GIL (flush,
maintenance steps, backpressure waits, big batch commits, start/stop of the
worker, close teardown) owns the lock for its whole GIL-released section
(``_lock``/``_unlock``, or ``_run_locked`` for the single-call operations); threads
queue in the order they asked, waiting with the GIL released, so nobody is
overtaken (no polling, no starvation). A writer call made entirely with the GIL
held (append, a small batch, delete, cutoff) skips the queue when the lock is
idle: the GIL then keeps every other writer out for the call. When the lock is
not idle it waits for its turn first (``_await_turn``) and gives the lock back at
once, keeping the GIL: the next owner cannot start a GIL-released section before
it gets the GIL back. No Python code runs while a thread owns the lock (it could
write to the same log and wait for itself): conversions and validation come
before, reference releases (drains, ``__del__``) after. ``close()`` and
``reopen()`` take the lock too, so they wait for the writer in progress and
never free an engine that a GIL-released call is using; a writer that was
waiting behind ``close()`` then finds the log closed and raises ``TimelogError``.
"""

cimport cython
from cpython.buffer cimport (PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE,
                             PyBuffer_Release,
                             PyObject_CheckBuffer, PyObject_GetBuffer)
from cpython.list cimport PyList_New
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Check, PySequence_Fast
from cpython.slice cimport PySlice_Check
from cpython.tuple cimport PyTuple_New
from libc.math cimport isfinite
from libc.stdint cimport (int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                           uint64_t)
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from libcpp.memory cimport shared_ptr, unique_ptr
from libcpp.optional cimport optional
from libcpp.unordered_set cimport unordered_set
from libcpp.utility cimport move
from libcpp.vector cimport vector
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

import operator as _operator
import os as _os
import sys as _sys

from timelog import _options as _optab
from timelog import _timekeys
from timelog._exceptions import TimelogBusyError, TimelogError
import warnings as _warnings
from collections.abc import Mapping as _Mapping, Sequence as _Sequence


# Raw CPython API on PyObject* (no automatic reference counting), for the
# loops that must not pay for Cython's temporaries.
cdef extern from *:
    void _prefetch "__builtin_prefetch"(const void* p) noexcept nogil

cdef extern from "Python.h":
    unsigned long _thread_ident "PyThread_get_thread_ident"() noexcept
    void _incref "Py_INCREF"(PyObject* o)
    void _decref "Py_DECREF"(PyObject* o)
    bint _PyLong_CheckExact "PyLong_CheckExact"(PyObject* o)
    bint _PyTuple_CheckExact "PyTuple_CheckExact"(PyObject* o)
    Py_ssize_t _PyTuple_GET_SIZE "PyTuple_GET_SIZE"(PyObject* o)
    PyObject* _PyTuple_GET_ITEM "PyTuple_GET_ITEM"(PyObject* o, Py_ssize_t i)
    void _PyTuple_SET_ITEM "PyTuple_SET_ITEM"(PyObject* o, Py_ssize_t i, PyObject* v)
    void _PyList_SET_ITEM "PyList_SET_ITEM"(PyObject* o, Py_ssize_t i, PyObject* v)
    Py_ssize_t _Fast_SIZE "PySequence_Fast_GET_SIZE"(PyObject* o)
    PyObject* _Fast_ITEM "PySequence_Fast_GET_ITEM"(PyObject* o, Py_ssize_t i)
    long long _PyLong_AsLongLongAndOverflow "PyLong_AsLongLongAndOverflow"(PyObject* o, int* overflow)
    PyObject* _PyLong_FromLongLong "PyLong_FromLongLong"(long long v) except NULL
    Py_ssize_t _Py_REFCNT "Py_REFCNT"(PyObject* o)
    int _PyObject_GC_IsTracked "PyObject_GC_IsTracked"(PyObject* o)
    void _PyObject_GC_Track "PyObject_GC_Track"(void* o)


__all__ = [
    "Timelog", "TimelogError", "TimelogBusyError", "TimelogIter",
    "PageSpan", "PageSpanIter", "PageSpanObjectsView",
]

# ----------------------------------------------------------------------------
# Module constants and helpers
# ----------------------------------------------------------------------------

_REOPEN_OPEN = "reopen() needs a closed Timelog; call close() first"
_INIT_TWICE = "Timelog is already initialised"
class _NotGiven:
    """The default of arguments whose absence differs from None (None is a value)."""
    __slots__ = ()

    def __repr__(self):
        return "<not given>"


cdef object _MISSING = _NotGiven()
cdef object _TOKEN = object()       # lets the module create iterators and spans

cdef enum:
    _ITER_BUF_MAX = 512             # records fetched per Cursor::Next call
    _BIG_BATCH = 65536              # extend commits >= this many records with the GIL released
    _MAX_BUCKETS = 10000000         # count_by() refuses to make more buckets than this

cdef enum _Policy:
    POLICY_RAISE = 0
    POLICY_SILENT = 1
    POLICY_FLUSH = 2

_POLICIES = {"raise": POLICY_RAISE, "silent": POLICY_SILENT, "flush": POLICY_FLUSH}

cdef enum _LockedOp:                # writer operations run with the GIL released
    OP_FLUSH = 0
    OP_COMPACT = 1
    OP_MAINT_STEP = 2
    OP_START = 3
    OP_STOP = 4

_UNIT_NS = _optab.UNIT_NS
cdef list _stats_keys = []          # (section, name) of the engine's StatsEntries, decoded once
_OPTION_NAMES = _optab.NAMES


# Forward declarations: the classes refer to each other across the include files.
cdef class _LogCore
cdef class _LogInterop
cdef class Timelog
cdef class _Pinned
cdef class TimelogIter
cdef class PageSpanIter
cdef class PageSpan


# One .pxi per concern, included (textually) in this order and compiled as this
# one module, so cdef functions are direct C calls (and inline) across them.
include "_errors.pxi"
include "_convert.pxi"
include "_fork.pxi"
include "_logcore.pxi"
include "_interop.pxi"
include "_timelog.pxi"
include "_reads.pxi"
include "_ingest.pxi"
include "_pinned.pxi"
include "_iter.pxi"
include "_views.pxi"
include "_gc.pxi"
