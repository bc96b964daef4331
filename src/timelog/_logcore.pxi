# The log's state and its protocols: the engine and retirement queue it owns, the
# FIFO writer lock and busy policy, drains, pins and epochs, maintenance control,
# close/reopen; plus the engine's drop callbacks. Timelog (_timelog.pxi) builds on it.

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



cdef class _LogCore:
    """The state every Timelog owns and the protocols around it (internal base
    class: construct ``Timelog``)."""

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
        if not isinstance(self, Timelog):
            raise TypeError("construct a timelog.Timelog, not its internal base class")
        _live_logs.insert(<PyObject*>self)    # fork registry (see "os.fork() support")
        self._retired = new CRetireStack()
        self._wlock = new CFairLock()
        self._closed = True          # until __init__ has built an engine
        self._unit = "ms"
        self._policy = POLICY_RAISE
        self._options = {}

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
