# The Timelog class: construction, presets, writes, reads and stats (its state and
# protocols are in _logcore.pxi, its copies, files and exports in _interop.pxi).


cdef class Timelog(_LogInterop):
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

    def __init__(self, **options):
        if self._engine.get() != NULL:
            raise TimelogError(_INIT_TWICE)
        self._configure(options, False)

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

    def __repr__(self):
        if self._closed:
            return f"<timelog.Timelog closed time_unit={self._unit!r}>"
        return (f"<timelog.Timelog records={len(self)} time_unit={self._unit!r} "
                f"maintenance={self.maintenance_mode!r} busy_policy={self.busy_policy!r}>")

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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, reverse)

    def since(self, t):
        """Iterator over ``[t, +inf]`` (the largest timestamp included)."""
        cdef int64_t lo = 0, hi = 0
        cdef int kind = _range_bounds(t, None, self._unit_div, &lo, &hi)
        return _new_iter(self, lo, hi, kind != 0, False)

    def until(self, t):
        """Iterator over ``[-inf, t)``."""
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
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
        cdef int64_t lo = 0, hi = 0
        cdef int kind = _range_bounds(t1, t2, self._unit_div, &lo, &hi)
        return _new_span_iter(self, lo, hi, kind != 0)

    def page_spans(self, t1=None, t2=None):
        """Alias of ``views(t1, t2)``."""
        return self.views(t1, t2)

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

    # ------------------------------------------------------------ columns (copies, pickling, save)

    def _next_columns(self, TimelogIter it, Py_ssize_t n):
        """Internal (copies, pickling, save): the next up to ``n`` rows of ``it``,
        an iterator of this log, as ``(timestamps, objects)``: a ``bytearray`` of
        native-endian int64 timestamps and a ``list`` of the objects (new
        references). One C loop, no per-row Python objects but the list.
        """
        if it is None or not it._reads(self):
            raise ValueError("_next_columns() needs an iterator of this Timelog")
        return it._next_columns(n)
