# The Timelog class (lifecycle, options, writes, reads) and the engine's drop callbacks.

# The engine reports each physical removal in two phases (any thread, no GIL,
# no engine lock, never touching Python): _drop_reserve takes the retirement
# queue's node for n handles BEFORE the removal is published -- NULL makes the
# engine abandon the removal, so the records stay stored and keep their
# references --; _drop_commit queues the handles after it (cannot fail);
# _drop_cancel frees the node if publishing failed. So an allocation failure
# never leaks or loses a reference. The handles are released later by a
# GIL-holding drain.
cdef void* _drop_reserve(void* ctx, size_t n) noexcept nogil:
    return (<CRetireStack*>ctx).Reserve(n)


cdef void _drop_commit(void* ctx, void* token, const uint64_t* handles, size_t n) noexcept nogil:
    (<CRetireStack*>ctx).PushReserved(token, handles, n)


cdef void _drop_cancel(void* ctx, void* token) noexcept nogil:
    CRetireStack.CancelReserved(token)


# ----------------------------------------------------------------------------
# Timelog
# ----------------------------------------------------------------------------



cdef class Timelog:
    """In-memory multimap from int64 timestamps to Python objects.

    Objects are stored by reference (one strong reference per record) and come
    back identical. Reads return records in timestamp order, equal timestamps in
    insertion order, from a snapshot taken when the read starts. Ranges are
    half-open ``[t1, t2)``; a ``None`` bound is unbounded and includes the
    extreme timestamps ``-2**63`` and ``2**63 - 1``.

    Options (keyword-only; ``inspect.signature(Timelog)`` shows them too)::

        time_unit='ms'               unit of auto-timestamps and of the default window
        maintenance='background'     'background': a worker thread flushes and compacts;
                                     'disabled': you call flush()/maint_step()
        busy_policy='raise'          what a write does when sealed runs are at
                                     sealed_max_runs (it is committed in every case)
        memtable_max_bytes=1048576   memtable size that triggers a seal (1 KiB to 64
                                     GiB; 0 = the default)
        ooo_budget_bytes=0           out-of-order buffer that triggers a seal; 0 =
                                     memtable_max_bytes / 10
        sealed_max_runs=4            sealed runs waiting for flush before writes report
                                     busy; 0 = the default
        sealed_wait_ms=100           background mode: how long a busy write waits for
                                     the worker; 0 = never waits
        maintenance_wakeup_ms=100    idle worker's polling period; 0 = the default
        target_page_bytes=65536      page size of segments (256 bytes to 1 GiB; 0 = the
                                     default)
        max_delta_segments=8         L0 segments that trigger a compaction; 0 = the
                                     default
        window_size=None             L1 window width in time_unit; None = 1 hour
        window_origin=0              timestamp the L1 window grid is aligned to
        delete_debt_threshold=0.0    fraction of deleted records that triggers a window
                                     rewrite, [0.0, 1.0]; 0.0 = off
        drain_batch_limit=0          references released per opportunistic drain; 0 =
                                     unlimited
        compaction=None              compaction limits (a dict), or None
        adaptive=None                adaptive window sizing (a dict; {} = the defaults),
                                     or None for a fixed window
        min_ts=None                  drop every record older than this at creation (a
                                     cutoff)
        mostly_ordered_default=True  accepted for compatibility: the engine detects
                                     order by itself

    The API reference (docs/api.md, or the HTML site) explains each in full.

    >>> from timelog import Timelog
    >>> with Timelog(maintenance="disabled") as log:
    ...     log.append(10, "a")
    ...     log[5] = "b"
    ...     log.extend([(7, "c"), (10, "d")])
    ...     print(list(log))
    ...     print(log.at(10), len(log), list(log[6:10]))
    [(5, 'b'), (7, 'c'), (10, 'a'), (10, 'd')]
    ['a', 'd'] 4 [(7, 'c')]
    """

    __signature__ = _optab.LazySignature()    # Timelog(**options), from the option table

    cdef unique_ptr[CEngine] _engine
    cdef CRetireStack* _retired      # owned; outlives every engine of this object
    cdef bint _closed
    cdef CFairLock* _wlock           # owned; FIFO writer lock (module docstring)
    cdef unsigned long _wowner       # thread ident of the lock's owner, 0 if none
    cdef bint _background            # current maintenance mode
    cdef int _policy
    cdef int64_t _unit_div
    cdef uint32_t _sealed_wait_ms
    cdef size_t _drain_limit
    cdef bint _has_min_ts
    cdef int64_t _min_ts
    cdef Py_ssize_t _pins
    cdef uint64_t _epoch             # bumped by close(): invalidates older pins/iterators
    cdef uint64_t _drained
    cdef dict _options               # options as given (for reopen)
    cdef str _unit
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        _live_logs.insert(<PyObject*>self)    # fork registry (see "os.fork() support")
        self._retired = new CRetireStack()
        self._wlock = new CFairLock()
        self._closed = True          # until __init__ has built an engine
        self._unit = "ms"
        self._policy = POLICY_RAISE
        self._options = {}

    def __init__(self, **options):
        if self._engine.get() != NULL:
            raise TimelogError(_INIT_TWICE)
        self._configure(options, False)

    cdef int _configure(self, dict options, bint reopening) except -1:
        """Parse the options and build an engine (Python code may run: option
        objects' ``__index__``, Mappings), then install it as the writer-lock
        owner, unless another thread initialised or reopened the log meanwhile."""
        cdef CConfig cfg
        cdef unique_ptr[CEngine] eng
        cdef bint has_min_ts = False
        cdef int64_t min_ts = kMinTs
        cdef str conflict = None
        o = _optab.normalise(options)
        given = {k: o[k] for k in options}   # what the user gave, normalised (for reopen)
        _fill_config(o, &cfg)
        cfg.drop_reserve = _drop_reserve
        cfg.drop_commit = _drop_commit
        cfg.drop_cancel = _drop_cancel
        cfg.drop_ctx = <void*>self._retired
        eng = move(CEngine.Create(cfg))
        if o["min_ts"] is not None:
            has_min_ts = True
            min_ts = o["min_ts"]
            eng.get().Cutoff(min_ts)
        unit = o["time_unit"]
        unit_div = _UNIT_NS[unit]
        policy = _POLICIES[o["busy_policy"]]
        drain_limit = o["drain_batch_limit"]
        old_options = self._options    # released after the unlock, with `given` swapped in
        self._lock(False)
        try:
            if reopening and not self._closed:
                conflict = _REOPEN_OPEN
            elif not reopening and self._engine.get() != NULL:
                conflict = _INIT_TWICE
            else:
                self._options = given
                self._unit = unit
                self._unit_div = unit_div
                self._background = o["maintenance"] == "background"
                self._policy = policy
                self._sealed_wait_ms = o["sealed_wait_ms"]
                self._drain_limit = drain_limit
                self._has_min_ts = has_min_ts
                self._min_ts = min_ts
                self._pins = 0
                self._epoch += 1
                self._engine.swap(eng)
                self._closed = False
        finally:
            self._unlock()
        if conflict is not None:
            with nogil:
                eng.reset()            # empty: nothing to release
            raise TimelogError(conflict)
        return 0

    # ------------------------------------------------------------ presets

    @classmethod
    def for_streaming(cls, **overrides):
        """Preset for continuous ingest: background maintenance, ``busy_policy="flush"``.

        >>> from timelog import Timelog
        >>> log = Timelog.for_streaming(time_unit="us")
        >>> log.maintenance_mode, log.busy_policy, log.time_unit
        ('background', 'flush', 'us')
        >>> log.close()
        """
        opts = {"maintenance": "background", "busy_policy": "flush"}
        opts.update(overrides)
        return cls(**opts)

    @classmethod
    def for_bulk_ingest(cls, **overrides):
        """Preset for loading a lot of data: no worker, ``"flush"`` policy, 16 MiB memtable.

        >>> from timelog import Timelog
        >>> log = Timelog.for_bulk_ingest()
        >>> log.maintenance_mode, log.busy_policy
        ('disabled', 'flush')
        >>> log.close()
        """
        opts = {"maintenance": "disabled", "busy_policy": "flush",
                "memtable_max_bytes": 16 << 20}
        opts.update(overrides)
        return cls(**opts)

    @classmethod
    def for_low_latency(cls, **overrides):
        """Preset for latency-sensitive writers: background, ``"raise"``, 256 KiB memtable,
        ``sealed_wait_ms=0`` (a write never waits for room).

        >>> from timelog import Timelog
        >>> log = Timelog.for_low_latency()
        >>> log.maintenance_mode, log.busy_policy
        ('background', 'raise')
        >>> log.close()
        """
        opts = {"maintenance": "background", "busy_policy": "raise",
                "memtable_max_bytes": 256 << 10, "sealed_wait_ms": 0}
        opts.update(overrides)
        return cls(**opts)

    # ------------------------------------------------------------ properties

    @property
    def closed(self):
        """``True`` once ``close()`` has run (or if construction failed)."""
        return self._closed

    @property
    def time_unit(self):
        """Unit of auto-timestamps and of the default window: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``."""
        return self._unit

    @property
    def maintenance_mode(self):
        """``"background"`` while the worker thread runs, else ``"disabled"``."""
        return "background" if self._background else "disabled"

    @property
    def busy_policy(self):
        """What a write does under backpressure: ``"raise"``, ``"silent"`` or ``"flush"``."""
        return ("raise", "silent", "flush")[self._policy]

    @property
    def retired_queue_len(self):
        """Payload references dropped by maintenance and not yet released (drained)."""
        return self._retired.queued()

    @property
    def alloc_failures(self):
        """Removals abandoned because the retirement queue could not allocate room for their records (they stay stored, with their references, and maintenance retries)."""
        return self._retired.alloc_failures()

    def __repr__(self):
        if self._closed:
            return f"<timelog.Timelog closed time_unit={self._unit!r}>"
        return (f"<timelog.Timelog records={len(self)} time_unit={self._unit!r} "
                f"maintenance={self.maintenance_mode!r} busy_policy={self.busy_policy!r}>")

    # ------------------------------------------------------------ internals

    cdef int _raise_closed(self) except -1:
        raise TimelogError("Timelog is closed")

    cdef inline CEngine* _reader(self) except NULL:
        if self._closed:
            self._raise_closed()
        return self._engine.get()

    cdef int _lock(self, bint need_open) except -1:
        """Own the writer lock: take a place in the FIFO queue, wait with the GIL
        released. With ``need_open`` the log must still be open once the lock is
        ours (else the lock is given back and ``TimelogError`` raised). Until
        ``_unlock()`` no Python code may run on this thread."""
        cdef unsigned long me = _thread_ident()
        cdef CFairLock* lk = self._wlock
        cdef uint64_t t
        if self._wowner == me:
            raise TimelogError(
                "a write to this Timelog from inside another of its writes on the "
                "same thread (e.g. from a finalizer) is not allowed")
        t = lk.Ticket()
        if not lk.Serving(t):
            with nogil:
                lk.Wait(t)
        self._wowner = me
        if need_open and self._closed:
            self._unlock()
            self._raise_closed()
        return 0

    cdef inline void _unlock(self) noexcept:
        self._wowner = 0
        self._wlock.Release()

    cdef int _await_turn(self) except -1:
        # Queue behind the writers ahead of us, then give the lock back at once
        # but keep the GIL (see the module docstring).
        if self._closed:
            self._raise_closed()
        self._lock(True)
        self._unlock()
        return 0

    cdef inline CEngine* _writer(self) except NULL:
        """Engine for a writer call made entirely with the GIL held."""
        if self._closed or not self._wlock.Idle():
            self._await_turn()
        return self._engine.get()

    cdef int _run_locked(self, int op) except -1:
        """Run one GIL-released writer operation as the owner of the writer lock.
        Returns whether a maintenance step did any work."""
        cdef CEngine* eng
        cdef bint did = False
        cdef bint refused = False
        self._lock(True)
        try:
            eng = self._engine.get()
            if op == OP_MAINT_STEP and self._background:
                refused = True
            else:
                with nogil:
                    if op == OP_FLUSH:
                        eng.Flush()
                    elif op == OP_COMPACT:
                        eng.Compact()
                    elif op == OP_MAINT_STEP:
                        did = eng.MaintStep()
                    elif op == OP_START:
                        eng.StartMaintenance()
                    else:
                        eng.StopMaintenance()
                if op == OP_START:
                    self._background = True
                elif op == OP_STOP:
                    self._background = False
        finally:
            self._unlock()
        if refused:
            raise TimelogError("maint_step() needs maintenance='disabled' "
                               "(call stop_maintenance() first)")
        return did

    cdef int _drain(self, bint force, size_t earned=0) except -1:
        """Release retired references: all if ``force``, else at most
        ``drain_batch_limit + 2 * earned`` (``drain_batch_limit`` 0 = unlimited).

        ``earned`` is the number of records the calling write stored: every record
        is dropped at most once, so a drain budget that grows with what was written
        keeps the queue from growing without bound under any steady workload, while
        each single drain stays proportional to the write that pays for it."""
        cdef vector[uint64_t] batch
        cdef size_t n, i, limit = 0
        if self._retired.queued() == 0:
            return 0
        if not force and self._drain_limit != 0:
            limit = self._drain_limit + 2 * earned
        n = self._retired.PopBatch(&batch, limit)
        self._drained += n            # bookkeeping before any __del__ can run
        for i in range(n):
            _decref(<PyObject*>batch[i])
        return 0

    cdef inline int _maybe_drain(self, size_t earned=0) except -1:
        if self._pins == 0 and not self._closed and self._retired.queued() > 0:
            self._drain(False, earned)
        return 0

    # The pin protocol of the snapshot readers (_Pinned): only these touch _pins
    # and _epoch on their behalf.

    cdef inline uint64_t _current_epoch(self) noexcept:
        return self._epoch

    cdef inline bint _in_epoch(self, uint64_t epoch) noexcept:
        """Open, and not closed (or reopened) since ``epoch``."""
        return not self._closed and self._epoch == epoch

    cdef inline void _add_pin(self) noexcept:
        self._pins += 1

    cdef void _unpin(self, uint64_t epoch) noexcept:
        # Called by iterators/spans releasing their pin. Pins of a previous
        # engine (before close/reopen) are void.
        if epoch != self._epoch or self._closed or self._pins <= 0:
            return
        self._pins -= 1
        if self._pins == 0 and self._retired.queued() > 0:
            try:
                self._drain(False)
            except BaseException:
                pass

    cdef int _make_room(self) except -1:
        """Apply the busy policy's wait/flush as the lock owner; 1 if still busy."""
        cdef bint wait = self._background and self._sealed_wait_ms > 0
        cdef bint flush = self._policy == POLICY_FLUSH
        cdef uint32_t ms = self._sealed_wait_ms
        cdef CEngine* eng
        cdef int busy = 1
        if not (wait or flush):
            return 1
        self._lock(False)
        try:
            if self._closed:           # closed by another thread since the commit
                busy = 0
            else:
                eng = self._engine.get()
                with nogil:
                    busy = _relieve(eng, wait, flush, ms)
        finally:
            self._unlock()
        return busy

    cdef int _after_write(self, CWriteResult r, Py_ssize_t committed) except -1:
        """Busy policy and opportunistic drain after a committed write."""
        cdef bint busy = r == CWriteResult.kBusy and self._make_room() == 1
        self._maybe_drain(<size_t>committed)
        if busy and self._policy == POLICY_RAISE:
            raise TimelogBusyError(self._busy_message(), committed=committed)
        return 0

    cdef str _busy_message(self):
        """Why a committed write reports busy, and what the caller can do about it."""
        if self._background:
            cause = ("the background worker has not flushed the sealed runs yet "
                     "(they are at sealed_max_runs)")
            remedy = ("retry later, call flush(), raise sealed_max_runs or "
                      "sealed_wait_ms, or use busy_policy='flush' (writers flush "
                      "themselves) or 'silent'")
        else:
            cause = ("maintenance is disabled and the sealed runs waiting for "
                     "flush are at sealed_max_runs")
            remedy = ("call flush() or maint_step() to make room, or use "
                      "busy_policy='flush' (writers flush themselves), "
                      "Timelog.for_bulk_ingest() or maintenance='background'")
        return f"write committed, but the log is under backpressure: {cause}; {remedy}"

    cdef inline int64_t _now(self) noexcept:
        cdef timespec tsp
        clock_gettime(CLOCK_REALTIME, &tsp)
        return (<int64_t>tsp.tv_sec * 1000000000 + tsp.tv_nsec) // self._unit_div

    cdef int _append1(self, int64_t t, object obj) except -1:
        cdef CEngine* eng = self._writer()
        cdef CWriteResult r
        if self._has_min_ts and t < self._min_ts:
            raise ValueError(f"timestamp {t} is below min_ts={self._min_ts}")
        r = eng.Append(t, <uint64_t><PyObject*>obj)
        _incref(<PyObject*>obj)      # the record's reference; nothing ran in between
        if r != CWriteResult.kOk or (self._pins == 0 and self._retired.queued() > 0):
            self._after_write(r, 1)
        return 0

    cdef int _delete_closed(self, int64_t lo, int64_t hi) except -1:
        cdef CEngine* eng = self._writer()
        cdef CWriteResult r = eng.Delete(lo, hi)
        self._after_write(r, 0)
        return 0

    # ------------------------------------------------------------ writes

    @cython.embedsignature(False)    # "..." marks an argument that may be left out
    def append(self, a, b=_MISSING, *, ts=_MISSING):
        """append($self, a, b=..., *, ts=...)
--

        Store one record: ``append(obj)``, ``append(obj, ts=T)`` or ``append(ts, obj)``.

        Without a timestamp the record gets ``time.time_ns() // unit`` of the log's
        ``time_unit``. Timestamps are ints (or objects with ``__index__``, like numpy
        integers) in int64; bool and float raise ``TypeError``, out of range raises
        ``OverflowError``, below ``min_ts`` raises ``ValueError``. Under backpressure
        the record is committed and the busy policy applies.

        Runtime complexity: amortised O(1) for in-order timestamps.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.append(20, "b")
        >>> log.append("a", ts=10)
        >>> list(log)
        [(10, 'a'), (20, 'b')]
        >>> log.close()
        """
        cdef int64_t t
        if b is _MISSING:
            t = self._now() if ts is _MISSING else _ts_of(ts, self._unit_div)
            self._append1(t, a)
        else:
            if ts is not _MISSING:
                raise TypeError("append() takes append(ts, obj) or append(obj, ts=ts), not both")
            t = _ts_of(a, self._unit_div)
            self._append1(t, b)

    def __setitem__(self, key, value):
        """``log[ts] = obj`` is ``log.append(ts, obj)`` (it adds, it never replaces)."""
        if _is_slice(key):
            raise TypeError("slice assignment is not supported; use extend()")
        self._append1(_ts_of(key, self._unit_div), value)

    @cython.embedsignature(False)
    def extend(self, data, objects=_MISSING, *, mostly_ordered=None, bint insert_on_error=False):
        """extend($self, data, objects=..., *, mostly_ordered=None, insert_on_error=False)
--

        Store many records: ``extend(pairs)`` or ``extend(timestamps, objects)``.

        ``pairs`` is any iterable of 2-item sequences ``(ts, obj)`` (generators are
        consumed first); the column form takes two sequences of equal length
        (lists, tuples, ranges, numpy integer arrays).

        The whole input is validated before anything is stored: a bad timestamp,
        a malformed item or a length mismatch raises ``TypeError`` /
        ``ValueError`` / ``OverflowError`` and stores nothing.
        ``insert_on_error=True`` skips bad items instead. Then everything is
        committed in one engine step, all or nothing (a ``MemoryError`` stores
        nothing; large batches are committed with the GIL released); under
        backpressure ``extend`` still commits the whole input, and with
        ``busy_policy="raise"`` raises ``TimelogBusyError`` once at the end, with
        ``committed`` set. ``mostly_ordered`` is a hint and may be ignored.

        Runtime complexity: O(n) plus O(k log k) for k out-of-order records.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a")])
        >>> log.extend([2, 4], ["b", "d"])
        >>> [obj for ts, obj in log]
        ['a', 'b', 'c', 'd']
        >>> log.extend([(5, "e"), (5.5, "bad")])
        Traceback (most recent call last):
          ...
        TypeError: timestamp must be an int or a time, not float: pass an int in the log's time_unit, a datetime.datetime (naive = UTC), a numpy.datetime64 or a pandas.Timestamp
        >>> len(log)
        4
        >>> log.close()
        """
        cdef vector[int64_t] tsv
        cdef vector[uint64_t] hv
        self._writer()
        try:
            if objects is _MISSING:
                _collect_pairs(self, data, &tsv, &hv, not insert_on_error)
            else:
                _collect_columns(self, data, objects, &tsv, &hv, not insert_on_error)
            # Conversion may have run Python code (__index__, generators, GC):
            # the log may have been closed or be busy in another thread.
            self._writer()
        except BaseException:
            _decref_all(&hv, 0)
            raise
        _commit(self, &tsv, &hv)

    # ------------------------------------------------------------ deletes

    @cython.embedsignature(False)
    def delete(self, t1, t2=_MISSING):
        """delete($self, t1, t2=...)
--

        ``delete(ts)`` hides the records at ``ts``; ``delete(t1, t2)`` hides ``[t1, t2)``.

        Deletes are sequenced: records written later are not affected. ``None``
        bounds are unbounded (extremes included). ``t1 > t2`` raises
        ``ValueError``; ``t1 == t2`` is a no-op.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c"), (4, "d")])
        >>> log.delete(1)
        >>> log.delete(3, None)
        >>> list(log)
        [(2, 'b')]
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind
        if t2 is _MISSING:
            lo = _ts_of(t1, self._unit_div)
            self._delete_closed(lo, lo)
            return
        kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        if kind == 2:
            raise ValueError(f"delete(t1, t2) needs t1 <= t2; got t1={t1!r} > t2={t2!r}")
        if kind == 1:
            self._writer()
            return
        self._delete_closed(lo, hi)

    def __delitem__(self, key):
        """``del log[ts]`` (point) or ``del log[t1:t2]`` (half-open, None = unbounded)."""
        cdef int64_t lo, hi
        cdef int kind
        if _is_slice(key):
            sl = <slice>key
            step = sl.step
            if step is not None and not (type(step) is int and step == 1):
                raise ValueError(f"slice step must be None or 1, not {step!r}")
            kind = _range_bounds(sl.start, sl.stop, self._unit_div, &lo, &hi)
            if kind == 2:
                raise ValueError(f"del log[t1:t2] needs t1 <= t2; got {sl.start!r} > {sl.stop!r}")
            if kind == 1:
                self._writer()
                return
            self._delete_closed(lo, hi)
        else:
            lo = _ts_of(key, self._unit_div)
            self._delete_closed(lo, lo)

    def cutoff(self, ts):
        """Delete every record with a timestamp ``< ts`` (written so far).

        Maintenance can then drop whole windows below ``ts`` cheaply.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (5, "b"), (9, "c")])
        >>> log.cutoff(5)
        >>> list(log)
        [(5, 'b'), (9, 'c')]
        >>> log.close()
        """
        cdef int64_t t = _ts_of(ts, self._unit_div)
        cdef CEngine* eng = self._writer()
        cdef CWriteResult r = eng.Cutoff(t)
        self._after_write(r, 0)

    # ------------------------------------------------------------ reads

    def __getitem__(self, key):
        """``log[t1:t2]`` -> ``TimelogIter`` over the half-open time range ``[t1, t2)``.

        A log is not a positional sequence: ``log[k]`` without a slice raises
        ``TypeError`` (so ``random.choice(log)``, ``numpy.array(log)`` and other
        code that reads ``seq[i]`` as "position i" cannot silently get the
        records at timestamp ``i``). The records at one timestamp are
        ``log.at(ts)``.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (2, "c"), (3, "d")])
        >>> list(log[2:]), list(log[:2])
        ([(2, 'b'), (2, 'c'), (3, 'd')], [(1, 'a')])
        >>> log.at(2), log.at(7)
        (['b', 'c'], [])
        >>> log[2]
        Traceback (most recent call last):
          ...
        TypeError: Timelog is not a sequence: log[2] would read as position 2; use log.at(2) for the objects at a timestamp, or log[t1:t2] for a time range
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int empty
        if _is_slice(key):
            empty = _slice_bounds(key, self._unit_div, &lo, &hi)
            return _new_iter(self, lo, hi, empty, False)
        raise TypeError(f"Timelog is not a sequence: log[{key!r}] would read as position "
                        f"{key!r}; use log.at({key!r}) for the objects at a timestamp, "
                        "or log[t1:t2] for a time range")

    def at(self, ts):
        """The list of objects stored at exactly ``ts``, in insertion order (``[]`` if none).

        Runtime complexity: O(log n) plus the number of results.
        """
        return _at(self, _ts_of(ts, self._unit_div))

    def range(self, t1, t2, *, bint reverse=False):
        """Iterator over ``[t1, t2)`` (``None`` = unbounded). ``t1 >= t2`` gives nothing.

        ``reverse=True`` yields the same rows last to first: timestamps
        descending, equal timestamps in reverse insertion order.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend((t, t * t) for t in range(6))
        >>> list(log.range(2, 4))
        [(2, 4), (3, 9)]
        >>> list(log.range(2, 4, reverse=True))
        [(3, 9), (2, 4)]
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, reverse)

    def since(self, t):
        """Iterator over ``[t, +inf]`` (the largest timestamp included)."""
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t, None, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, False)

    def until(self, t):
        """Iterator over ``[-inf, t)``."""
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(None, t, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, False)

    def all(self):
        """Iterator over every record (same as ``iter(log)`` and ``log[:]``)."""
        return _new_iter(self, kMinTs, kMaxTs, False, False)

    def equal(self, t):
        """Iterator over the records at exactly ``t``."""
        cdef int64_t v = _ts_of(t, self._unit_div)
        return _new_iter(self, v, v, False, False)

    def point(self, t):
        """Alias of ``equal(t)``."""
        cdef int64_t v = _ts_of(t, self._unit_div)
        return _new_iter(self, v, v, False, False)

    def __iter__(self):
        return _new_iter(self, kMinTs, kMaxTs, False, False)

    def __reversed__(self):
        """Iterator over every record, newest first (equal timestamps in reverse insertion order)."""
        return _new_iter(self, kMinTs, kMaxTs, False, True)

    def __len__(self):
        """Exact number of visible records. O(sources * log n), not a scan."""
        return self._reader().Count(kMinTs, kMaxTs)

    def __contains__(self, key):
        """``ts in log``: whether a visible record has timestamp ``ts``."""
        cdef int64_t t = _ts_of(key, self._unit_div)
        return self._reader().Contains(t)

    def min_ts(self):
        """Smallest visible timestamp, or ``None`` if the log is empty."""
        return _opt(self._reader().Ceil(kMinTs))

    def max_ts(self):
        """Largest visible timestamp, or ``None`` if the log is empty."""
        return _opt(self._reader().Floor(kMaxTs))

    def next_ts(self, t):
        """Smallest visible timestamp strictly greater than ``t``, or ``None``.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(10, "a"), (20, "b")])
        >>> log.next_ts(10), log.prev_ts(10), log.next_ts(20)
        (20, None, None)
        >>> log.close()
        """
        cdef int64_t v = _ts_of(t, self._unit_div)
        cdef CEngine* eng = self._reader()
        if v == kMaxTs:
            return None
        return _opt(eng.Ceil(v + 1))

    def prev_ts(self, t):
        """Largest visible timestamp strictly less than ``t``, or ``None``."""
        cdef int64_t v = _ts_of(t, self._unit_div)
        cdef CEngine* eng = self._reader()
        if v == kMinTs:
            return None
        return _opt(eng.Floor(v - 1))

    # ------------------------------------------------------------ analysis reads

    def count(self, t1=None, t2=None):
        """Number of visible records in ``[t1, t2)`` (``None`` = unbounded).

        ``t1 >= t2`` counts 0. Runtime complexity: O(sources * log n), no scan.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (2, "c"), (5, "d")])
        >>> log.count(), log.count(2), log.count(2, 5), log.count(5, 2)
        (4, 3, 2, 0)
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        cdef CEngine* eng = self._reader()
        if kind != 0:
            return 0
        return eng.Count(lo, hi)

    def first(self):
        """``(ts, obj)`` of the first visible record in read order (smallest
        timestamp, among equal timestamps the earliest inserted), or ``None``.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.first() is None
        True
        >>> log.extend([(5, "b"), (3, "a"), (3, "a2"), (9, "z"), (9, "z2")])
        >>> log.first(), log.last()
        ((3, 'a'), (9, 'z2'))
        >>> log.close()
        """
        return _one(self, kMinTs, kMaxTs, False)

    def last(self):
        """``(ts, obj)`` of the last visible record in read order (largest
        timestamp, among equal timestamps the latest inserted), or ``None``."""
        return _one(self, kMinTs, kMaxTs, True)

    def asof(self, t):
        """``(ts, obj)`` of the last visible record with timestamp ``<= t``
        (among equal timestamps the latest inserted), or ``None``.

        Runtime complexity: O(sources * log n).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(10, "a"), (20, "b"), (20, "b2")])
        >>> log.asof(25), log.asof(20), log.asof(19), log.asof(9)
        ((20, 'b2'), (20, 'b2'), (10, 'a'), None)
        >>> log.close()
        """
        cdef int64_t v = _ts_of(t, self._unit_div)
        return _one(self, kMinTs, v, True)

    def nearest(self, t):
        """The visible record whose timestamp is closest to ``t`` as ``(ts, obj)``,
        or ``None`` if the log is empty.

        A tie in distance goes to the earlier timestamp; among equal
        timestamps the latest inserted wins. Runtime complexity:
        O(sources * log n); exact at the int64 extremes.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(10, "a"), (20, "b"), (20, "b2")])
        >>> log.nearest(14), log.nearest(15), log.nearest(16), log.nearest(99)
        ((10, 'a'), (10, 'a'), (20, 'b2'), (20, 'b2'))
        >>> log.close()
        """
        return _nearest(self, t)

    def count_by(self, every, t1=None, t2=None, *, origin=0):
        """Record counts per time bucket: ``(starts, counts)``, two numpy int64 arrays.

        Buckets are ``[origin + k*every, origin + (k+1)*every)`` (``k`` any
        integer, floor toward -infinity) covering ``[t1, t2)``, ascending,
        empty buckets included with count 0. A ``None`` bound defaults to the
        first / last visible record (``t2=None`` counts through the last one);
        an empty log (or range) gives two empty arrays. A first bucket that
        begins below ``-2**63`` reports ``-2**63`` as its start.

        ``every`` is an int number of ``time_unit`` or a duration
        (``datetime.timedelta``, ``numpy.timedelta64``, ``pandas.Timedelta``;
        a whole number of units); ``every <= 0`` raises ``ValueError``, so does
        a request for more than 10,000,000 buckets. Bounds and ``origin`` take
        any timestamp. Counted by the engine with the GIL released, from one
        snapshot, without touching the payloads (binary searches per source
        and bucket, not a scan). Needs numpy (``pip install 'timelog[numpy]'``).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (3, "b"), (4, "c"), (12, "d")])
        >>> starts, counts = log.count_by(5)
        >>> starts.tolist(), counts.tolist()
        ([0, 5, 10], [3, 0, 1])
        >>> [a.tolist() for a in log.count_by(5, -5, 5, origin=2)]
        [[-8, -3, 2], [0, 1, 2]]
        >>> log.close()
        """
        return _count_by(self, every, t1, t2, origin)

    def timestamps(self, t1=None, t2=None):
        """The timestamps of the visible records in ``[t1, t2)`` as a numpy int64
        array, in read order, from one snapshot (no Python object per row;
        gathered by the engine with the GIL released). Needs numpy
        (``pip install 'timelog[numpy]'``).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(3, "c"), (1, "a"), (2, "b")])
        >>> log.delete(2)
        >>> log.timestamps(), log.timestamps(2)
        (array([1, 3]), array([3]))
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, False)._columns(False, "Timelog.timestamps()")

    def to_numpy(self, t1=None, t2=None):
        """``(timestamps, objects)`` of the visible records in ``[t1, t2)``: an int64
        array and an object array of equal length, in read order, from one
        snapshot (tombstones applied, memtable and out-of-order rows included).

        The objects are the stored objects themselves (not copies); the object
        array owns its references, so it outlives ``close()``. Needs numpy
        (``pip install 'timelog[numpy]'``).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> payload = {"k": 1}
        >>> log.extend([(2, payload), (1, "a")])
        >>> ts, objs = log.to_numpy()
        >>> ts, objs
        (array([1, 2]), array(['a', {'k': 1}], dtype=object))
        >>> objs[1] is payload
        True
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, False)._columns(True, "Timelog.to_numpy()")

    def views(self, t1=None, t2=None):
        """``PageSpanIter`` over the immutable pages overlapping ``[t1, t2)``.

        Each ``PageSpan`` exposes its timestamps as a zero-copy read-only buffer
        (format ``'q'``). Spans are physical: not filtered by tombstones; the
        mutable memtable is not included (``flush()`` first to see everything).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> log.flush()
        >>> with log.views() as spans:
        ...     for span in spans:
        ...         print(memoryview(span).tolist(), list(span.objects()))
        ...         span.close()
        [1, 2, 3] ['a', 'b', 'c']
        >>> log.close()
        """
        cdef int64_t lo, hi
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_span_iter(self, lo, hi, kind != 0)

    def page_spans(self, t1=None, t2=None):
        """Alias of ``views(t1, t2)``."""
        return self.views(t1, t2)

    # ------------------------------------------------------------ maintenance

    def flush(self):
        """Seal the memtable and flush every sealed run to L0 (GIL released).

        Relieves backpressure. Works in both maintenance modes. May raise
        ``TimelogBusyError`` on a publish conflict in future engines (retry is safe);
        the current engine never does.
        """
        self._run_locked(OP_FLUSH)
        self._maybe_drain()

    def compact(self):
        """Request compaction of everything (background: wakes the worker;
        disabled: the following ``maint_step()`` calls do the work)."""
        self._run_locked(OP_COMPACT)
        self._maybe_drain()

    def maint_step(self):
        """Disabled mode: do one unit of maintenance work; return whether there was any.

        Raises ``TimelogError`` in background mode.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> log.flush(); log.compact()
        >>> while log.maint_step():
        ...     pass
        >>> list(log)
        [(1, 'a'), (2, 'b')]
        >>> log.close()
        """
        cdef bint did = self._run_locked(OP_MAINT_STEP)
        self._maybe_drain()
        return did

    def start_maintenance(self):
        """Start the background worker (idempotent); the log is then in background mode."""
        self._run_locked(OP_START)

    def stop_maintenance(self):
        """Stop and join the background worker (idempotent, GIL released); the log
        is then in disabled mode and ``maint_step()`` works."""
        self._run_locked(OP_STOP)
        self._maybe_drain()

    # ------------------------------------------------------------ stats

    def stats(self):
        """Nested dict of engine and binding metrics (see docs/api.md).

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> s = log.stats()
        >>> sorted(s)
        ['handles', 'memtable', 'operational', 'storage']
        >>> s["storage"]["records_estimate"], s["handles"]["pins"]
        (2, 0)
        >>> log.close()
        """
        return _stats(self)

    def _check_invariants(self):
        """Check the engine's structural invariants (sorted runs with exact search
        indexes, disjoint L1 windows holding only their own records, tombstone
        bookkeeping, memtable bounds); raise ``AssertionError`` naming the first
        violation. O(records); for tests."""
        cdef CEngine* eng = self._reader()
        cdef string bad
        with nogil:
            bad = eng.CheckInvariants()
        if not bad.empty():
            raise AssertionError(f"timelog invariant violated: {bad.decode()}")

    # ------------------------------------------------------------ lifecycle

    cdef int _detach(self, vector[uint64_t]* held, vector[uint64_t]* retired) except -1:
        """Mark closed, destroy the engine (GIL released) and collect every reference
        the log owned into ``held``/``retired``, without releasing any (the caller
        does that once no lock is held: a ``__del__`` may use the log).

        A ``MemoryError`` while collecting the stored references changes nothing:
        the log stays open. One while taking the retired queue comes after the
        engine is gone: those references stay queued, and a later ``close()`` (or
        the log's deallocation) releases them."""
        cdef unique_ptr[CEngine] eng
        cdef CEngine* e = self._engine.get()
        if e != NULL:
            with nogil:
                e.CollectHandles(held)     # reserves first: may raise, nothing changed
        self._closed = True
        self._pins = 0
        self._epoch += 1               # every iterator/span/pin of this engine is void now
        eng.swap(self._engine)
        if eng.get() != NULL:
            with nogil:
                eng.reset()            # stops the worker; no drop callback can run after this
        # Force drain (ignores drain_batch_limit and pins); bookkeeping first.
        if self._retired.queued() > 0:
            self._drained += self._retired.PopBatch(retired, 0)
        return 0

    cdef int _teardown(self) except -1:
        """close() without the writer lock: only for ``__dealloc__``, when no other
        thread can be inside a call on this log."""
        cdef vector[uint64_t] held
        cdef vector[uint64_t] retired
        try:
            self._detach(&held, &retired)
        finally:
            _decref_all(&retired, 0)
            _decref_all(&held, 0)
        return 0

    def close(self):
        """Stop the worker, release every stored reference and free the engine.

        Idempotent. Afterwards every method except ``close()`` and the properties
        raises ``TimelogError``, and so do live iterators. If memory runs out while
        collecting the stored references, ``MemoryError`` is raised and the log
        stays open and intact; call ``close()`` again to retry.

        >>> from timelog import Timelog
        >>> log = Timelog()
        >>> log.append(1, "a")
        >>> log.close(); log.close()
        >>> log.closed
        True
        """
        cdef vector[uint64_t] held
        cdef vector[uint64_t] retired
        if self._closed and self._retired.queued() == 0:
            return
        self._lock(False)              # waits for the writer in progress, FIFO
        try:
            self._detach(&held, &retired)
        finally:
            self._unlock()
            _decref_all(&retired, 0)   # after the unlock: a __del__ may use the log
            _decref_all(&held, 0)

    def reopen(self, **overrides):
        """Start a new, empty engine on a closed log, with the previous options
        updated by ``overrides``. Raises ``TimelogError`` on an open log.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="us")
        >>> log.close()
        >>> log.reopen(busy_policy="silent")
        >>> log.closed, log.time_unit, log.busy_policy, len(log)
        (False, 'us', 'silent', 0)
        >>> log.close()
        """
        if not self._closed:
            raise TimelogError(_REOPEN_OPEN)
        opts = dict(self._options)
        opts.update(overrides)
        self._configure(opts, True)

    # ------------------------------------------------------------ copies, pickling, files
    # Thin hooks; the logic is plain Python in timelog/_persist.py.

    def _next_columns(self, TimelogIter it, Py_ssize_t n):
        """Internal (copies, pickling, save): the next up to ``n`` rows of ``it``,
        an iterator of this log, as ``(timestamps, objects)``: a ``bytearray`` of
        native-endian int64 timestamps and a ``list`` of the objects (new
        references). One C loop, no per-row Python objects but the list.
        """
        if it is None or not it._reads(self):
            raise ValueError("_next_columns() needs an iterator of this Timelog")
        return it._next_columns(n)

    def __reduce_ex__(self, protocol):
        """Pickle support: the options and the visible records (deleted records
        are not written). With protocol 5 the timestamp column is a
        ``pickle.PickleBuffer`` (out-of-band with a ``buffer_callback``);
        payloads are pickled as a list. Pickling a closed log raises
        ``TimelogError``.

        >>> import pickle
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="us")
        >>> log.extend([(2, "b"), (1, "a"), (2, "c")])
        >>> log.delete(1)
        >>> copy = pickle.loads(pickle.dumps(log))
        >>> list(copy), copy.time_unit
        ([(2, 'b'), (2, 'c')], 'us')
        >>> copy.close(); log.close()
        """
        from timelog import _persist
        return _persist.reduce_log(self, protocol, self._options)

    def __copy__(self):
        """``copy.copy(log)``: a new open log with the same options and visible
        records; the payload objects are shared, not copied.

        >>> import copy
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.append(1, ["payload"])
        >>> twin = copy.copy(log)
        >>> twin.at(1)[0] is log.at(1)[0]
        True
        >>> twin.close(); log.close()
        """
        from timelog import _persist
        return _persist.copy_log(self, self._options, None)

    def __deepcopy__(self, memo):
        """``copy.deepcopy(log)``: like ``copy.copy`` but the payloads are deep
        copies (the ``memo`` is honoured: an object stored twice is copied once).

        >>> import copy
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> shared = ["payload"]
        >>> log.extend([(1, shared), (2, shared)])
        >>> twin = copy.deepcopy(log)
        >>> a, b = twin.at(1)[0], twin.at(2)[0]
        >>> a == shared, a is shared, a is b
        (True, False, True)
        >>> twin.close(); log.close()
        """
        from timelog import _persist
        return _persist.copy_log(self, self._options, memo)

    def save(self, path):
        """Write the options and the visible records to the file ``path``
        (format: docs/file-format.md), atomically: a temporary file in the same
        directory is written in bounded blocks, fsynced and renamed over
        ``path``, so on any failure a previous file at ``path`` is intact.
        Payloads are pickled. Raises ``TimelogError`` on a closed log,
        ``OSError`` for I/O errors and whatever pickling a payload raises.

        >>> import os, tempfile
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, {"b": 2})])
        >>> path = os.path.join(tempfile.mkdtemp(), "events.tlog")
        >>> log.save(path)
        >>> loaded = Timelog.load(path)
        >>> list(loaded)
        [(1, 'a'), (2, {'b': 2})]
        >>> loaded.close(); log.close()
        """
        from timelog import _persist
        _persist.save(self, path, self._options)

    @classmethod
    def load(cls, path, **overrides):
        """A new open log with the options and records of a file written by
        ``save()``; ``overrides`` replace saved options (as in ``reopen``).

        Every section's length and checksum is verified; a missing, empty,
        truncated, corrupted or newer-version file, or a directory, raises
        ``TimelogError`` naming the problem, and no log is returned. **Loading
        runs pickle on the payloads: load only files you trust.**

        >>> import os, tempfile
        >>> from timelog import Timelog, TimelogError
        >>> path = os.path.join(tempfile.mkdtemp(), "empty.tlog")
        >>> open(path, "wb").close()
        >>> Timelog.load(path)
        Traceback (most recent call last):
          ...
        timelog.TimelogError: ...empty.tlog': empty file (0 bytes), not a timelog file
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.append(5, "x"); log.save(path); log.close()
        >>> loaded = Timelog.load(path, maintenance="background")
        >>> loaded.time_unit, loaded.maintenance_mode, loaded.at(5)
        ('s', 'background', ['x'])
        >>> loaded.close()
        """
        from timelog import _persist
        return _persist.load(cls, path, overrides)

    # ------------------------------------------------------------ exports and display
    # Thin hooks; the logic is plain Python in timelog/_export.py (pandas, Arrow)
    # and timelog/_display.py (Jupyter view, plot).

    def to_pandas(self, t1=None, t2=None, *, name=None):
        """``pandas.Series`` of the objects in ``[t1, t2)`` (``None`` = unbounded),
        indexed by a ``DatetimeIndex`` named ``"ts"`` of dtype
        ``datetime64[<time_unit>]`` (naive, UTC).

        The values are the stored objects themselves, not copies, in read order
        (equal timestamps in insertion order, duplicates kept); ``name`` names the
        Series. It owns its references and outlives ``close()``. The timestamp
        ``-2**63`` is numpy's ``NaT``. Needs pandas: ``ImportError`` naming
        ``pip install 'timelog[pandas]'`` without it.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.extend([(1_700_000_060, "b"), (1_700_000_000, "a"), (1_700_000_060, "c")])
        >>> s = log.to_pandas(name="event")
        >>> s
        ts
        2023-11-14 22:13:20    a
        2023-11-14 22:14:20    b
        2023-11-14 22:14:20    c
        Name: event, dtype: object
        >>> str(s.index.dtype), len(log.to_pandas(1_700_000_001))
        ('datetime64[s]', 2)
        >>> log.close()
        """
        from timelog import _export
        return _export.to_pandas(self, t1, t2, name)

    def to_arrow(self, t1=None, t2=None):
        """``pyarrow.Table`` of the records in ``[t1, t2)`` (``None`` = unbounded),
        in read order, with the columns ``ts`` (``timestamp[<time_unit>]``, naive,
        UTC) and ``value`` (the payloads converted by pyarrow's type inference).

        A payload that pyarrow cannot convert (or not together with the ones
        before it) raises ``TypeError`` naming its timestamp. The table holds
        Arrow data, no references to the payloads. Needs pyarrow: ``ImportError``
        naming ``pip install 'timelog[arrow]'`` without it.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(2, 20.5), (1, 10.0), (3, None)])
        >>> t = log.to_arrow()
        >>> t.schema
        ts: timestamp[ms]
        value: double
        >>> t.column("value").to_pylist()
        [10.0, 20.5, None]
        >>> log.close()
        """
        from timelog import _export
        return _export.to_arrow(self, t1, t2)

    def __arrow_c_stream__(self, requested_schema=None):
        """Arrow PyCapsule interface: every record as a stream with the columns of
        ``to_arrow()``, so ``pyarrow.table(log)``, ``polars.DataFrame(log)`` and
        DuckDB (``duckdb.sql("select count(*) from log")``) read the log directly.

        >>> import pyarrow
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> pyarrow.table(log).column("value").to_pylist()
        ['a', 'b']
        >>> log.close()
        """
        from timelog import _export
        return _export.arrow_c_stream(self, requested_schema)

    def _repr_html_(self):
        """Jupyter's view of the log: record count, time span as UTC dates, the
        storage layers from ``stats()``, the options that differ from the
        defaults, and the first and last 5 records (each payload's repr cut to 80
        characters and HTML-escaped). A closed log shows as closed.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "<b>"), (2, "b")])
        >>> page = log._repr_html_()
        >>> "<b>2</b> records" in page, "&#x27;&lt;b&gt;&#x27;" in page
        (True, True)
        >>> log.close(); "closed" in log._repr_html_()
        True
        """
        from timelog import _display
        return _display.repr_html(self, self._options)

    def plot(self, every=None, t1=None, t2=None, *, ax=None):
        """Bar chart (matplotlib) of the number of records per bucket of ``every``
        time units over ``[t1, t2)``, dates on the x axis; returns the ``Axes``.

        Buckets are ``[k * every, (k + 1) * every)``. Without ``every`` a round width
        giving about 100 buckets is chosen (1/2/5 x 10^k of the unit below a
        second, else 1 s, 2 s, 5 s, ... 1 min, ... 1 h, ... 1 day, ...). Draws on
        ``ax`` if given, else on a new figure. Needs matplotlib and numpy:
        ``ImportError`` naming ``pip install 'timelog[plot]'`` without them.

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.extend((1_700_000_000 + 7 * i, i) for i in range(1000))
        >>> ax = log.plot()
        >>> ax.get_ylabel(), len(ax.patches)
        ('records per 1 min', 117)
        >>> log.close()
        """
        from timelog import _display
        return _display.plot(self, every, t1, t2, ax)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __dealloc__(self):
        # Garbage collection of an unclosed log: release everything as close()
        # would, never raise. Nobody else can hold a reference now, so no other
        # thread can be inside an engine call.
        _live_logs.erase(<PyObject*>self)
        if self._engine.get() != NULL:
            if self._pins > 0:
                try:
                    _warnings.warn(
                        f"timelog.Timelog garbage-collected with {self._pins} live "
                        "iterator/view pin(s); they now raise TimelogError",
                        ResourceWarning, stacklevel=2)
                except BaseException:
                    pass
            try:
                self._teardown()
            except BaseException:
                pass
        elif self._retired != NULL and self._retired.queued() > 0:
            try:
                self._drain(True)
            except BaseException:
                pass
        del self._retired
        self._retired = NULL
        del self._wlock
        self._wlock = NULL
