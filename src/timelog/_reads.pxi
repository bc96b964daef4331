# The bodies of Timelog's lookups and analysis reads (at, first/last/asof, nearest, count_by, stats).


cdef list _at(Timelog log, int64_t t):
    """The objects stored at ``t`` (new references), in insertion order."""
    cdef CEngine* eng = log._reader()
    cdef vector[uint64_t] hs
    cdef size_t i, n
    cdef PyObject* o
    cdef uint64_t epoch = log._current_epoch()
    cdef list out
    # Pin while the handles are held without references: PyList_New may
    # run a collection, and a finalizer may write to the log and drain.
    log._add_pin()
    try:
        eng.Equal(t, &hs)
        n = hs.size()
        out = PyList_New(n)
        if not log._in_epoch(epoch):
            raise TimelogError("Timelog was closed during the read")
        for i in range(n):
            o = <PyObject*>hs[i]
            _incref(o)
            _PyList_SET_ITEM(<PyObject*>out, i, o)
    finally:
        log._unpin(epoch)
    return out


cdef object _one(Timelog log, int64_t lo, int64_t hi, bint reverse):
    """``(ts, obj)`` of the first row of ``Range(lo, hi, reverse)``, or None.

    One cursor, so one consistent state. The object is referenced (by the
    cast to ``object``) before any Python code can run: a handle of the
    current state is a stored record, which only a writer call (GIL) can
    drop."""
    cdef CEngine* eng = log._reader()
    cdef unique_ptr[CCursor] cur
    cdef CRecord rec
    if lo > hi:
        return None
    cur = move(eng.Range(lo, hi, reverse))
    if cur.get().Next(&rec, 1) == 0:
        return None
    obj = <object><PyObject*>rec.handle
    return (rec.ts, obj)


cdef object _nearest(Timelog log, object t):
    """Timelog.nearest(t)."""
    cdef int64_t v = _ts_of(t, log._unit_div)
    cdef CEngine* eng = log._reader()
    cdef shared_ptr[const CSnapshot] snap = eng.GetSnapshot()
    cdef optional[int64_t] f = snap.get().Floor(v)
    cdef optional[int64_t] c = snap.get().Ceil(v)
    cdef int64_t x
    cdef unique_ptr[CCursor] cur
    cdef CRecord rec
    if not f.has_value() and not c.has_value():
        return None
    if not c.has_value():
        x = f.value()
    elif not f.has_value():
        x = c.value()
    else:
        # Distances in uint64: v - floor and ceil - v are in [0, 2**64).
        x = f.value() if (<uint64_t>v - <uint64_t>f.value()
                          <= <uint64_t>c.value() - <uint64_t>v) else c.value()
    cur = move(snap.get().Range(x, x, True))
    if cur.get().Next(&rec, 1) == 0:      # cannot happen: x is visible
        return None
    obj = <object><PyObject*>rec.handle
    return (rec.ts, obj)


cdef tuple _count_by(Timelog log, object every, object t1, object t2, object origin):
    """Timelog.count_by(every, t1, t2, origin=origin)."""
    from timelog import _export
    np = _export.require("numpy", "Timelog.count_by()")
    cdef object e = _timekeys.duration_units(every, log._unit_div)
    if e <= 0:
        raise ValueError(f"count_by() needs every > 0, got every={every!r}")
    if e > kMaxTs:
        raise OverflowError(f"count_by() every={every!r} does not fit in a signed "
                            "64-bit integer of the time_unit")
    cdef int64_t step = e
    cdef int64_t org = _ts_of(origin, log._unit_div)
    cdef int64_t lo = kMinTs, hi = kMaxTs, stop
    cdef bint empty = False
    if t1 is not None:
        lo = _ts_of(t1, log._unit_div)
    if t2 is not None:
        stop = _ts_of(t2, log._unit_div)
        if stop <= lo or stop == kMinTs:
            empty = True
        else:
            hi = stop - 1
    cdef CEngine* eng = log._reader()
    cdef shared_ptr[const CSnapshot] snap = eng.GetSnapshot()
    cdef optional[int64_t] first = snap.get().MinTs()
    cdef optional[int64_t] last = snap.get().MaxTs()
    if not first.has_value():
        empty = empty or t1 is None or t2 is None   # a default bound needs a record
    else:
        if t1 is None:
            lo = first.value()
        if t2 is None:
            hi = last.value()
    cdef uint64_t n = 0 if empty or lo > hi else BucketCount(lo, hi, org, step)
    if n > _MAX_BUCKETS:
        raise ValueError(f"count_by() would make {n:,} buckets, more than the limit of "
                         f"{_MAX_BUCKETS:,}; use a larger every or a narrower [t1, t2)")
    starts = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] sv = starts
    cdef int64_t[::1] cv = counts
    if n > 0:
        with nogil:
            _gate_enter()           # no fork while inside (see _fork_prepare)
            try:
                snap.get().CountBy(lo, hi, org, step, &sv[0], <uint64_t*>&cv[0], n)
            finally:
                _gate_leave()
    return starts, counts


cdef dict _stats(Timelog log):
    """Timelog.stats()."""
    cdef CEngine* eng = log._reader()
    cdef vector[CStatsEntry] entries = StatsEntries(eng.GetStats())
    cdef CStatsEntry e
    cdef size_t k
    global _stats_keys
    if <size_t>len(_stats_keys) != entries.size():   # the names are static: decode them once
        _stats_keys = [(e.section.decode(), e.name.decode()) for e in entries]
    out = {}
    for k in range(entries.size()):  # the engine's list of counters, in order
        e = entries[k]
        sec, name = _stats_keys[k]
        section = out.get(sec)
        if section is None:
            section = out[sec] = {}
        section[name] = None if not e.present else e.i if e.is_signed else e.u
    out["handles"] = {
        "retired_count": log._retired.pushed_total(),
        "drained_count": log._drained,
        "retired_queue_len": log._retired.queued(),
        "pins": log._pins,
        "alloc_failures": log._retired.alloc_failures(),
    }
    return out
