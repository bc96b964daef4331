# Batch ingest of Timelog.extend(): validate pairs or columns into staging columns, take the references, commit.


cdef int _reserve_rows(vector[int64_t]* tsv, vector[uint64_t]* hv,
                       Py_ssize_t n_ts, Py_ssize_t n_h) except -1:
    """Reserve the staging columns of a batch; a failure names what and how big."""
    cdef Py_ssize_t n = n_ts
    try:
        if tsv != NULL:
            tsv.reserve(n_ts)
        n = n_h
        if hv != NULL:
            hv.reserve(n_h)
    except MemoryError:
        raise MemoryError(
            f"could not allocate the staging column for a batch of {n} records: "
            f"{n} rows x 8 bytes = {n * 8 / 2**20:.1f} MiB") from None
    return 0


cdef void _decref_all(vector[uint64_t]* hv, size_t start) noexcept:
    """Release the references ``hv[start:]`` (records not committed, or the
    references a closed log collected); ``hv`` is left empty."""
    cdef size_t i
    cdef vector[uint64_t] tmp
    if start >= hv.size():
        hv.clear()
        return
    # Move them out first (no allocation): a __del__ may run during the loop.
    if start > 0:
        hv.erase(hv.begin(), hv.begin() + start)
    tmp.swap(hv[0])
    for i in range(tmp.size()):
        _decref(<PyObject*>tmp[i])


cdef int _collect_pairs(Timelog log, object pairs, vector[int64_t]* tsv, vector[uint64_t]* hv,
                        bint strict) except -1:
    cdef object seq = PySequence_Fast(
        pairs, "extend() needs an iterable of (timestamp, object) pairs")
    cdef PyObject* s = <PyObject*>seq
    cdef PyObject* item
    cdef PyObject* t
    cdef PyObject* o
    cdef Py_ssize_t i = 0
    cdef int64_t v
    cdef bint guard = log._has_min_ts
    cdef int64_t lo = log._min_ts
    _reserve_rows(tsv, hv, _Fast_SIZE(s), _Fast_SIZE(s))
    cdef Py_ssize_t ahead
    cdef PyObject* nxt
    while i < _Fast_SIZE(s):   # re-read: Python code in the slow path may resize a list
        # Prefetch the pair 16 ahead and the timestamp int of the pair 8
        # ahead (whose tuple was prefetched 8 steps ago): the loop is bound
        # by memory latency on these objects, not by instructions.
        ahead = i + 16
        if ahead < _Fast_SIZE(s):
            _prefetch(<void*>_Fast_ITEM(s, ahead))
        ahead = i + 8
        if ahead < _Fast_SIZE(s):
            nxt = _Fast_ITEM(s, ahead)
            if _PyTuple_CheckExact(nxt) and _PyTuple_GET_SIZE(nxt) == 2:
                _prefetch(<void*>_PyTuple_GET_ITEM(nxt, 0))
        item = _Fast_ITEM(s, i)
        if (_PyTuple_CheckExact(item) and _PyTuple_GET_SIZE(item) == 2
                and _ts_exact(_PyTuple_GET_ITEM(item, 0), &v)
                and not (guard and v < lo)):
            o = _PyTuple_GET_ITEM(item, 1)
            tsv.push_back(v)
            hv.push_back(<uint64_t>o)
            _incref(o)
            i += 1
            continue
        _pair_slow(log, <object>item, tsv, hv, strict)
        i += 1
    return 0


cdef int _pair_slow(Timelog log, object item, vector[int64_t]* tsv, vector[uint64_t]* hv,
                    bint strict) except -1:
    cdef int64_t v
    cdef Py_ssize_t n
    try:
        if isinstance(item, (str, bytes, bytearray)) or not PySequence_Check(item):
            raise TypeError("extend() items must be (timestamp, object) pairs, "
                            f"not {type(item).__name__}")
        n = len(item)
        if n != 2:
            raise ValueError("extend() items must be (timestamp, object) pairs; "
                             f"got a {type(item).__name__} of length {n}")
        t = item[0]
        o = item[1]
        v = _ts_of(t, log._unit_div)
        if log._has_min_ts and v < log._min_ts:
            raise ValueError(f"timestamp {v} is below min_ts={log._min_ts}")
    except (TypeError, ValueError, OverflowError):
        if strict:
            raise
        return 0
    tsv.push_back(v)
    hv.push_back(<uint64_t><PyObject*>o)
    _incref(<PyObject*>o)
    return 0


cdef int _collect_columns(Timelog log, object tss, object objs, vector[int64_t]* tsv,
                          vector[uint64_t]* hv, bint strict) except -1:
    cdef object oseq = PySequence_Fast(
        objs, "extend(timestamps, objects): objects must be a sequence")
    cdef PyObject* os = <PyObject*>oseq
    cdef PyObject* s
    cdef PyObject* o
    cdef vector[uint8_t] keep
    cdef Py_ssize_t i, n
    cdef int64_t v
    cdef bint ok
    cdef bint guard = log._has_min_ts
    cdef int64_t lo = log._min_ts
    cdef int handled = 0
    np = _sys.modules.get("numpy")
    if (np is not None and not isinstance(tss, np.ndarray)
            and getattr(getattr(tss, "dtype", None), "kind", None) == "M"):
        tss = np.asarray(tss)       # pandas DatetimeIndex / Series (naive: datetime64)
    if np is not None and isinstance(tss, np.ndarray) and tss.dtype.kind == "M":
        # datetime64 column: converted to the time_unit vectorised (exact,
        # NaT and int64 overflow checked), then copied like an int64 array.
        tss, kept = _timekeys.datetime64_array_units(tss, log._unit_div, strict)
        if kept is not None:
            keep.assign(<uint8_t*>(<Py_ssize_t>kept.ctypes.data),
                        <uint8_t*>(<Py_ssize_t>kept.ctypes.data) + len(kept))
    if PyObject_CheckBuffer(tss) and not isinstance(tss, (bytes, bytearray, str)):
        handled = _ts_from_buffer(tss, _Fast_SIZE(os), tsv, <vector[uint8_t]*>NULL if strict else &keep)
    if handled:
        n = tsv.size()
        if guard or not strict:
            if keep.size() == 0:
                keep.assign(n, 1)
            for i in range(n):
                if guard and keep[i] and tsv[0][i] < lo:
                    if strict:
                        raise ValueError(f"timestamp {tsv[0][i]} is below min_ts={lo}")
                    keep[i] = 0
    else:
        seq = PySequence_Fast(tss, "extend(timestamps, objects): timestamps must be a sequence")
        s = <PyObject*>seq
        n = _Fast_SIZE(s)
        if n != _Fast_SIZE(os):
            raise ValueError(f"extend(timestamps, objects): length mismatch "
                             f"({n} timestamps, {_Fast_SIZE(os)} objects)")
        _reserve_rows(tsv, NULL, n, 0)
        if not strict:
            keep.assign(n, 1)
        i = 0
        while i < n and i < _Fast_SIZE(s):
            ok = True
            t = _Fast_ITEM(s, i)
            if not _ts_exact(t, &v):
                try:
                    v = _ts_of(<object>t, log._unit_div)
                except (TypeError, ValueError, OverflowError):
                    if strict:
                        raise
                    v = 0
                    ok = False
            if ok and guard and v < lo:
                if strict:
                    raise ValueError(f"timestamp {v} is below min_ts={lo}")
                ok = False
            if not ok:
                keep[i] = 0
            tsv.push_back(v)
            i += 1
        n = tsv.size()
    # Everything validated; take the references. No Python code runs below,
    # but conversions above might have resized the objects list.
    if n != _Fast_SIZE(os):
        raise ValueError(f"extend(timestamps, objects): length mismatch "
                         f"({n} timestamps, {_Fast_SIZE(os)} objects)")
    _reserve_rows(NULL, hv, 0, n)
    if keep.size() == 0:
        for i in range(n):
            o = _Fast_ITEM(os, i)
            hv.push_back(<uint64_t>o)
            _incref(o)
    else:
        # Compact the timestamps of the kept items in place.
        v = 0
        for i in range(n):
            if keep[i]:
                o = _Fast_ITEM(os, i)
                tsv[0][v] = tsv[0][i]
                hv.push_back(<uint64_t>o)
                _incref(o)
                v += 1
        tsv.resize(v)
    return 0


cdef int _commit(Timelog log, vector[int64_t]* tsv, vector[uint64_t]* hv) except -1:
    """Commit validated records whose references are already taken.

    All or nothing: the engine commits a batch in one step or, on an exception
    (an allocation failure), not at all; then every reference is given back."""
    cdef size_t n = hv.size()
    cdef CEngine* eng
    cdef CWriteResult r = CWriteResult.kOk
    if n == 0:
        log._maybe_drain()
        return 0
    try:
        if n < _BIG_BATCH:
            eng = log._writer()
            r = eng.AppendBatch(tsv.data(), hv.data(), n)
        else:
            log._lock(True)
            try:
                eng = log._engine.get()
                with nogil:
                    # A big sorted batch becomes a sealed run as it is (no copy).
                    if not eng.AdoptSortedBatch(tsv, hv, &r):
                        r = eng.AppendBatch(tsv.data(), hv.data(), n)
            finally:
                log._unlock()
    except BaseException:
        # Nothing was committed (on an exception the engine leaves the columns
        # intact). After the unlock: a __del__ may write to the log.
        _decref_all(hv, 0)
        raise
    log._after_write(r, n)
    return 0
