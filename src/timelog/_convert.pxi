# Conversions between Python values and engine values: timestamps, slices and ranges, timestamp buffers, options.

# --- timestamps -------------------------------------------------------------

cdef int64_t _ts_overflow(object name) except? -1:
    raise OverflowError(f"{name} does not fit in a signed 64-bit integer "
                        f"(int64: -2**63 .. 2**63-1)")


cdef inline bint _ts_exact(PyObject* o, int64_t* out) noexcept:
    """Fast path of the timestamp conversion: an exact int that fits in int64.

    Runs no Python code. Anything else (int subclasses, __index__ objects,
    out-of-range ints, wrong types) goes to _ts_of_slow, which raises the
    right error.
    """
    if not _PyLong_CheckExact(o):
        return False
    # Cython's own conversion reads small ints' digits inline (no call into
    # libpython on the common path); overflow falls back to the slow path.
    try:
        out[0] = <long long>(<object>o)
    except OverflowError:
        return False
    return True


cdef int64_t _ts_of_slow(object o, object name, int64_t unit) except? -1:
    """Everything but an exact int in int64: ints with ``__index__`` (numpy
    integers), then the time objects of timelog._timekeys (datetime,
    numpy.datetime64, pandas.Timestamp) in units of ``unit`` ns."""
    cdef int overflow = 0
    cdef long long v
    if isinstance(o, bool) or isinstance(o, float) or isinstance(o, str):
        raise TypeError(f"{name} must be an int or a time, not {type(o).__name__}: "
                        f"{_timekeys.HOW}")
    try:
        i = PyNumber_Index(o)
    except TypeError:
        i = _timekeys.to_units(o, unit, name)
        if i is None:
            raise TypeError(f"{name} must be an int or a time, not {type(o).__name__}: "
                            f"{_timekeys.HOW}") from None
    v = _PyLong_AsLongLongAndOverflow(<PyObject*>i, &overflow)
    if overflow != 0:
        return _ts_overflow(name)
    return v


cdef inline int64_t _ts_of(object o, int64_t unit) except? -1:
    """Convert a Python timestamp to int64: THE conversion used by every path.

    Exact ints take the fast path (_ts_exact, also used directly by the extend
    loops), checked first; bool, float and str raise TypeError; anything else
    goes through __index__ (numpy integers) or, for time objects, through
    timelog._timekeys in units of ``unit`` nanoseconds (the log's time_unit);
    outside int64 raises OverflowError.
    """
    cdef int64_t v
    if _ts_exact(<PyObject*>o, &v):
        return v
    return _ts_of_slow(o, "timestamp", unit)


cdef inline bint _is_slice(object o):
    return PySlice_Check(o)


cdef int _slice_bounds(object s, int64_t unit, int64_t* lo, int64_t* hi) except -1:
    """Half-open slice [start, stop) -> closed [lo, hi]; returns 1 if empty.

    None bounds are unbounded and include INT64_MIN / INT64_MAX.
    """
    cdef slice sl = <slice>s
    cdef object step = sl.step
    cdef int64_t stop
    if step is not None and not (type(step) is int and step == 1):
        raise ValueError(f"slice step must be None or 1, not {step!r}")
    lo[0] = kMinTs if sl.start is None else _ts_of(sl.start, unit)
    if sl.stop is None:
        hi[0] = kMaxTs
        return 0
    stop = _ts_of(sl.stop, unit)
    if stop == kMinTs:
        hi[0] = kMinTs
        return 1
    hi[0] = stop - 1
    return 1 if lo[0] > hi[0] else 0


cdef int _range_bounds(object t1, object t2, int64_t unit, int64_t* lo, int64_t* hi) except -1:
    """Half-open [t1, t2) with None = unbounded -> closed [lo, hi].

    Returns 0 for a non-empty range, 1 for t1 == t2 (or stop == INT64_MIN),
    2 for t1 > t2.
    """
    cdef int64_t stop
    lo[0] = kMinTs if t1 is None else _ts_of(t1, unit)
    if t2 is None:
        hi[0] = kMaxTs
        return 0
    stop = _ts_of(t2, unit)
    if lo[0] > stop:
        return 2
    if lo[0] == stop:
        return 1
    hi[0] = stop - 1
    return 0


cdef object _opt(optional[int64_t] v):
    if v.has_value():
        return v.value()
    return None


# --- timestamp buffers ------------------------------------------------------


cdef int _ts_from_buffer(object obj, Py_ssize_t expected, vector[int64_t]* out,
                        vector[uint8_t]* keep) except -1:
    """Timestamps from a 1-d integer buffer (numpy arrays...), zero Python calls.

    Returns 1 if handled, 0 if the caller should fall back to the sequence path
    (no buffer, unknown format, non-native byte order). Float/bool buffers raise
    TypeError; a length mismatch raises ValueError. An unsigned value above
    2**63 - 1 raises OverflowError, or, when ``keep`` is given (insert_on_error),
    is marked 0 in ``keep`` (then sized to the column, 1 = keep).
    """
    cdef Py_buffer view
    cdef Py_ssize_t i, n, stride
    cdef char* p
    cdef int64_t v64
    cdef uint64_t u64
    cdef int32_t v32
    cdef uint32_t u32
    cdef int16_t v16
    cdef uint16_t u16
    cdef bint signed
    cdef Py_ssize_t size
    try:
        PyObject_GetBuffer(obj, &view, PyBUF_FORMAT | PyBUF_STRIDES)
    except (BufferError, TypeError, ValueError):
        return 0
    try:
        fmt = (view.format if view.format != NULL else b"B").decode("ascii", "replace")
        if fmt[:1] in ("@", "="):
            fmt = fmt[1:]
        elif fmt[:1] == "<":
            if _sys.byteorder != "little":
                return 0
            fmt = fmt[1:]
        elif fmt[:1] in (">", "!"):
            if _sys.byteorder != "big":
                return 0
            fmt = fmt[1:]
        if fmt in ("e", "f", "d", "g", "Zf", "Zd"):
            raise TypeError("timestamps must be integers, not a floating-point array "
                            f"(buffer format {fmt!r}): pass an integer array in the log's "
                            "time_unit or a numpy datetime64 array")
        if fmt == "?":
            raise TypeError("timestamps must be integers, not a bool array: pass an integer "
                            "array in the log's time_unit or a numpy datetime64 array")
        if fmt in ("b", "h", "i", "l", "q", "n"):
            signed = True
        elif fmt in ("B", "H", "I", "L", "Q", "N"):
            signed = False
        else:
            return 0
        if view.ndim != 1:
            raise ValueError(f"timestamps must be 1-dimensional, got {view.ndim} dimensions")
        size = view.itemsize
        if size not in (1, 2, 4, 8):
            return 0
        n = view.shape[0]
        if n != expected:
            raise ValueError(f"extend(timestamps, objects): length mismatch "
                             f"({n} timestamps, {expected} objects)")
        stride = view.strides[0] if view.strides != NULL else size
        out.resize(n)
        p = <char*>view.buf
        if signed and size == 8 and stride == 8:
            if n:
                memcpy(out.data(), p, n * 8)
            return 1
        for i in range(n):
            if size == 8:
                if signed:
                    memcpy(&v64, p, 8)
                else:
                    memcpy(&u64, p, 8)
                    if u64 > <uint64_t>kMaxTs:
                        if keep == NULL:
                            _ts_overflow("timestamp")
                        if keep.size() == 0:
                            keep.assign(n, 1)
                        keep[0][i] = 0
                        u64 = 0
                    v64 = <int64_t>u64
            elif size == 4:
                if signed:
                    memcpy(&v32, p, 4)
                    v64 = v32
                else:
                    memcpy(&u32, p, 4)
                    v64 = u32
            elif size == 2:
                if signed:
                    memcpy(&v16, p, 2)
                    v64 = v16
                else:
                    memcpy(&u16, p, 2)
                    v64 = u16
            else:
                v64 = (<signed char*>p)[0] if signed else (<unsigned char*>p)[0]
            out[0][i] = v64
            p += stride
        return 1
    finally:
        PyBuffer_Release(&view)


# --- options ----------------------------------------------------------------

def _engine_defaults():
    """The engine's own defaults, by option name (for the tests that keep the option
    table in _options.py equal to them)."""
    return {
        "memtable_max_bytes": kDefaultMemtableMaxBytes,
        "sealed_max_runs": kDefaultSealedMaxRuns,
        "maintenance_wakeup_ms": kDefaultMaintenanceWakeupMs,
        "target_page_bytes": kDefaultTargetPageBytes,
        "max_delta_segments": kDefaultMaxDeltaSegments,
        "adaptive['target_records']": kDefaultTargetRecords,
        "adaptive['hysteresis_pct']": kDefaultHysteresisPct,
        "adaptive['alpha']": kDefaultAlpha,
        "adaptive['warmup_flushes']": kDefaultWarmupFlushes,
    }

#
# Names, types and defaults come from the table in timelog/_options.py
# (normalise); the engine's ValidateConfig checks the ranges, with messages that
# name the option. Here only the C fields are filled.

cdef int _fill_config(dict o, CConfig* c) except -1:
    """Fill `c` from normalised options `o` (every option present)."""
    c.maintenance = (CMaintenanceMode.kBackground if o["maintenance"] == "background"
                     else CMaintenanceMode.kDisabled)
    c.memtable_max_bytes = o["memtable_max_bytes"]
    c.ooo_budget_bytes = o["ooo_budget_bytes"]
    c.sealed_max_runs = o["sealed_max_runs"]
    c.maintenance_wakeup_ms = o["maintenance_wakeup_ms"]
    c.target_page_bytes = o["target_page_bytes"]
    c.max_delta_segments = o["max_delta_segments"]
    ws = o["window_size"]
    c.window_size = _optab.WINDOW_DEFAULT[o["time_unit"]] if ws is None else ws
    c.window_origin = o["window_origin"]
    c.delete_debt_threshold = o["delete_debt_threshold"]
    if o["compaction"] is not None:
        c.compaction.target_bytes = _optab.table_value(o, "compaction", "target_bytes")
        c.compaction.max_inputs = _optab.table_value(o, "compaction", "max_inputs")
        c.compaction.max_windows = _optab.table_value(o, "compaction", "max_windows")
    if o["adaptive"] is not None:
        c.adaptive.enabled = True
        c.adaptive.target_records = _optab.table_value(o, "adaptive", "target_records")
        c.adaptive.min_window = _optab.table_value(o, "adaptive", "min_window")
        c.adaptive.max_window = _optab.table_value(o, "adaptive", "max_window")
        c.adaptive.hysteresis_pct = _optab.table_value(o, "adaptive", "hysteresis_pct")
        c.adaptive.window_quantum = _optab.table_value(o, "adaptive", "window_quantum")
        c.adaptive.alpha = _optab.table_value(o, "adaptive", "alpha")
        c.adaptive.warmup_flushes = _optab.table_value(o, "adaptive", "warmup_flushes")
        c.adaptive.stale_flushes = _optab.table_value(o, "adaptive", "stale_flushes")
    return 0
