# TimelogIter: the iterator of (ts, obj) rows over a snapshot, and its constructor _new_iter.

cdef TimelogIter _new_iter(Timelog log, int64_t lo, int64_t hi, bint empty, bint reverse):
    """A TimelogIter over the closed range [lo, hi] of ``log`` (no rows if ``empty``)."""
    cdef CEngine* eng
    log._reader()
    # Allocate first: an allocation may run finalizers that close the log,
    # so the engine pointer is fetched afterwards.
    cdef TimelogIter it = TimelogIter.__new__(TimelogIter)
    eng = log._reader()
    it._bind(log)
    it._reverse = reverse
    if empty:
        it._closed = True
        it._lo, it._hi = 1, 0      # repr(it): lo > hi marks an empty range
        return it
    it._lo, it._hi = lo, hi        # repr(it)
    it._cursor = move(eng.Range(lo, hi, reverse))
    if it._cursor.get().Remaining() == 0:
        it._cursor.reset()
        it._closed = True
        return it
    it._pin()
    return it


# ----------------------------------------------------------------------------
# TimelogIter
# ----------------------------------------------------------------------------


@cython.final
cdef class TimelogIter(_Pinned):
    """Iterator of ``(ts, obj)`` tuples over a snapshot of a ``Timelog``.

    Created by ``iter(log)``, ``log[t1:t2]``, ``range()``, ``since()``,
    ``until()``, ``all()``, ``equal()``, ``point()`` and ``reversed(log)``;
    it cannot be constructed directly. It yields exactly the state of the log at
    its creation. ``len(it)`` is the number of rows left. While it is alive and
    not exhausted it pins its snapshot: dropped payloads are not released until
    it is exhausted, closed or collected. After the log is closed, every use
    raises ``TimelogError``.

    >>> from timelog import Timelog
    >>> log = Timelog(maintenance="disabled")
    >>> log.extend((t, str(t)) for t in range(5))
    >>> it = log.all()
    >>> len(it), next(it)
    (5, (0, '0'))
    >>> it.next_batch(2), len(it)
    ([(1, '1'), (2, '2')], 2)
    >>> it.close(); it.closed
    True
    >>> log.close()
    """

    cdef unique_ptr[CCursor] _cursor
    cdef CRecord* _buf
    cdef size_t _cap
    cdef size_t _pos
    cdef size_t _n
    cdef tuple _last                 # the last row, recycled when unshared
    cdef int64_t _lo, _hi            # the closed range [_lo, _hi] it was created for
    cdef bint _reverse
    cdef bint _started               # rows were fetched from the cursor (reversed() refuses)

    # No __cinit__: the module makes iterators with TimelogIter.__new__ (no
    # argument tuple to build and parse per range read); TimelogIter() from
    # Python reaches __init__, which refuses. One made by TimelogIter.__new__
    # from Python belongs to no log: every read of it raises TimelogError.
    def __init__(self, *args, **kwargs):
        raise TypeError("TimelogIter cannot be created directly; use iter(log), "
                        "log[t1:t2], log.range(), ...")

    def __dealloc__(self):
        if self._buf != NULL:
            free(self._buf)
            self._buf = NULL
        self._cursor.reset()
        self._release_pin()

    cdef inline int _check(self) except -1:
        if not self._live():
            raise TimelogError("the Timelog of this iterator is closed")
        return 0

    cdef void _finish(self) noexcept:
        """Release the cursor and buffer; unpin exactly once (may drain)."""
        self._closed = True
        self._cursor.reset()
        if self._buf != NULL:
            free(self._buf)
            self._buf = NULL
        self._pos = 0
        self._n = 0
        self._last = None                      # the recycled row's references
        self._release_pin()                    # last: may run __del__ code

    cdef int _fill(self) except -1:
        """Refill the buffer; returns 0 (and finishes) when the cursor is done."""
        cdef uint64_t rem
        if self._closed or self._cursor.get() == NULL:
            return 0
        if self._buf == NULL:
            rem = self._cursor.get().Remaining()
            self._cap = _ITER_BUF_MAX if rem > _ITER_BUF_MAX else (rem if rem > 0 else 1)
            self._buf = <CRecord*>malloc(self._cap * sizeof(CRecord))
            if self._buf == NULL:
                raise MemoryError(
                    f"could not allocate the iterator's row buffer: {self._cap} rows x "
                    f"{sizeof(CRecord)} bytes")
        self._pos = 0
        self._started = True
        self._n = self._cursor.get().Next(self._buf, self._cap)
        if self._n == 0:
            self._finish()
            return 0
        return 1

    cdef inline object _row(self):
        """Next (ts, obj) or None when exhausted. Caller checked the log.

        Like zip(), the result tuple is recycled when nobody else holds it
        (``for ts, obj in it`` unpacks and drops it), which saves an
        allocation per row.
        """
        cdef tuple t = self._last
        cdef bint fresh = t is None or _Py_REFCNT(<PyObject*>t) != 2
        cdef PyObject* o
        cdef PyObject* tso
        cdef PyObject* old0
        cdef PyObject* old1
        cdef CRecord rec
        if fresh:
            t = PyTuple_New(2)                 # may run GC (and finalizers)
        self._check()
        if self._pos >= self._n:
            if not self._fill():
                return None
        rec = self._buf[self._pos]
        self._pos += 1
        o = <PyObject*>rec.handle
        tso = _PyLong_FromLongLong(rec.ts)      # not GC-tracked: runs no Python code
        _incref(o)
        if fresh:
            _PyTuple_SET_ITEM(<PyObject*>t, 0, tso)
            _PyTuple_SET_ITEM(<PyObject*>t, 1, o)
            self._last = t                      # may free the previous tuple
        else:
            old0 = _PyTuple_GET_ITEM(<PyObject*>t, 0)
            old1 = _PyTuple_GET_ITEM(<PyObject*>t, 1)
            _PyTuple_SET_ITEM(<PyObject*>t, 0, tso)
            _PyTuple_SET_ITEM(<PyObject*>t, 1, o)
            if not _PyObject_GC_IsTracked(<PyObject*>t):
                _PyObject_GC_Track(<void*>t)    # the GC may have untracked it
            _decref(old0)
            _decref(old1)                       # may run __del__: state is consistent
        if self._pos >= self._n and self._cursor.get() != NULL and self._cursor.get().Remaining() == 0:
            self._finish()
        return t

    def __iter__(self):
        return self

    def __next__(self):
        row = self._row()
        if row is None:
            raise StopIteration
        return row

    def __len__(self):
        self._check()
        if self._closed:
            return 0
        cdef uint64_t rem = self._cursor.get().Remaining() if self._cursor.get() != NULL else 0
        return rem + (self._n - self._pos)

    def next_batch(self, Py_ssize_t n):
        """Return a list of up to ``n`` more rows (``[]`` when exhausted).

        ``n < 0`` raises ``ValueError``.
        """
        cdef Py_ssize_t k, i
        self._check()
        if n < 0:
            raise ValueError(f"next_batch(n) needs n >= 0, got {n}")
        if self._closed or n == 0:
            return []
        k = self._cursor.get().Remaining() + (self._n - self._pos) if self._cursor.get() != NULL else (self._n - self._pos)
        if n < k:
            k = n
        cdef list out = PyList_New(k)
        cdef object row
        for i in range(k):
            row = self._row()
            if row is None:             # cannot happen: len is exact
                del out[i:]
                break
            _incref(<PyObject*>row)
            _PyList_SET_ITEM(<PyObject*>out, i, <PyObject*>row)
        return out

    def __reversed__(self):
        """``reversed(it)``: the same rows last to first, from the same snapshot.

        Only for an iterator that has not yielded anything yet (``it`` itself is
        left as it is); on one that has, ``TypeError``.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (2, "c")])
        >>> it = log[1:]
        >>> list(reversed(it)), list(it)
        ([(2, 'c'), (2, 'b'), (1, 'a')], [(1, 'a'), (2, 'b'), (2, 'c')])
        >>> reversed(it)
        Traceback (most recent call last):
          ...
        TypeError: reversed() needs a TimelogIter that has not yielded anything yet; this one has: use log.range(t1, t2, reverse=True) or reversed(log)
        >>> log.close()
        """
        cdef TimelogIter it
        self._check()
        if self._started:
            raise TypeError("reversed() needs a TimelogIter that has not yielded anything "
                            "yet; this one has: use log.range(t1, t2, reverse=True) or "
                            "reversed(log)")
        it = TimelogIter.__new__(TimelogIter)
        self._check()                   # the allocation may have run finalizers
        it._bind(self._log)
        it._reverse = not self._reverse
        it._lo, it._hi = self._lo, self._hi
        if self._closed or self._cursor.get() == NULL:
            it._closed = True
            return it
        it._cursor = move(self._cursor.get().Reversed())
        it._pin()
        return it

    def to_numpy(self):
        """``(timestamps, objects)`` of the rows this iterator has left, as
        ``Timelog.to_numpy()`` returns them (int64 array, object array owning
        its references); consumes the iterator. Needs numpy.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> it = reversed(log)
        >>> next(it)
        (3, 'c')
        >>> it.to_numpy()
        (array([2, 1]), array(['b', 'a'], dtype=object))
        >>> it.closed
        True
        >>> log.close()
        """
        return self._columns(True, "TimelogIter.to_numpy()")

    cdef object _columns(self, bint objects, str what):
        """The rows left as an int64 array (``objects`` False) or as ``(int64
        array, object array)``; consumes the iterator.

        The buffered rows are copied first; the cursor then fills the columns
        with the GIL released. It is moved out of the iterator beforehand, so
        another thread using the iterator meanwhile finds it exhausted. Until the
        objects are referenced the log is pinned (a drain may not release a
        payload that an old snapshot's handle still names), and a close() of the
        log during the gather is detected through the epoch."""
        from timelog import _export
        np = _export.require("numpy", what)
        cdef Timelog log = self._log
        cdef uint64_t epoch = self._epoch
        cdef size_t m, rem, total, i, got = 0
        cdef unique_ptr[CCursor] cur
        cdef uint64_t* hbuf = NULL
        cdef int64_t* tsp
        cdef PyObject** data
        cdef PyObject* o
        cdef PyObject* old
        self._check()
        m = self._n - self._pos if not self._closed else 0
        rem = self._cursor.get().Remaining() if (not self._closed and self._cursor.get() != NULL) else 0
        total = m + rem
        ts = np.empty(total, dtype=np.int64)
        objs = np.empty(total, dtype=object) if objects else None
        cdef int64_t[::1] tv = ts
        if objects and total > 0:
            hbuf = <uint64_t*>malloc(total * sizeof(uint64_t))
            if hbuf == NULL:
                raise MemoryError(f"could not allocate the handle column for {what}: "
                                  f"{total} rows x 8 bytes")
        log._add_pin()                  # our own pin, released in the finally
        try:
            self._check()               # the allocations may have run finalizers
            tsp = &tv[0] if total > 0 else NULL
            for i in range(m):
                tsp[i] = self._buf[self._pos + i].ts
                if hbuf != NULL:
                    hbuf[i] = self._buf[self._pos + i].handle
            self._pos = self._n
            self._started = True
            cur.swap(self._cursor)
            self._finish()              # drops the iterator's pin; ours keeps drains off
            got = m
            if rem > 0:
                with nogil:
                    got += cur.get().NextColumns(tsp + m, hbuf + m if hbuf != NULL else NULL, rem)
            cur.reset()
            if not log._in_epoch(epoch):
                raise TimelogError("Timelog was closed during the read")
            if got != total:            # cannot happen: Remaining() is exact
                raise TimelogError(f"{what}: the engine returned {got} of {total} rows")
            if not objects:
                return ts
            if total > 0:
                data = <PyObject**><Py_ssize_t>objs.ctypes.data
                for i in range(total):
                    o = <PyObject*>hbuf[i]
                    _incref(o)
                    old = data[i]
                    data[i] = o
                    _decref(old)        # None: runs no code
            return ts, objs
        finally:
            free(hbuf)
            log._unpin(epoch)

    cdef tuple _next_columns(self, Py_ssize_t n):
        """For Timelog._next_columns (copies, pickling, save): the next up to ``n``
        rows as ``(bytearray of native int64 timestamps, list of objects)``."""
        cdef Py_ssize_t k, i = 0, j, take
        cdef char* dst
        cdef PyObject* o
        cdef CRecord* rec
        cdef bytearray ts
        cdef list objs
        if n < 0:
            raise ValueError(f"_next_columns() needs n >= 0, got {n}")
        self._check()
        k = len(self)
        if n < k:
            k = n
        ts = bytearray(k * 8)
        objs = PyList_New(k)
        self._check()                   # the allocations may have run finalizers
        dst = ts
        while i < k:
            if self._pos >= self._n:
                if not self._fill():
                    break
            take = <Py_ssize_t>(self._n - self._pos)
            if take > k - i:
                take = k - i
            rec = self._buf + self._pos
            for j in range(take):
                memcpy(dst + (i + j) * 8, &rec[j].ts, 8)
                o = <PyObject*>rec[j].handle
                _incref(o)
                _PyList_SET_ITEM(<PyObject*>objs, i + j, o)
            self._pos += take
            i += take
        if i < k:                       # cannot happen: len(it) is exact
            del objs[i:]
            del ts[i * 8:]
        if self._pos >= self._n and (self._cursor.get() == NULL or self._cursor.get().Remaining() == 0):
            self._finish()              # last: unpinning may drain and run __del__ code
        return ts, objs

    def close(self):
        """Release the snapshot now (idempotent). Further ``next()`` raises ``StopIteration``."""
        self._finish()

    @property
    def closed(self):
        """``True`` once the iterator is closed or exhausted."""
        return self._closed

    # ------------------------------------------------------------ display, Arrow export
    # Thin hooks; the logic is plain Python in timelog/_display.py and timelog/_export.py.

    def __repr__(self):
        """The range (half-open, ``None`` = unbounded), the direction and the rows left.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b"), (3, "c")])
        >>> it = log[2:]
        >>> it
        <timelog.TimelogIter [2, None) rows_left=2>
        >>> _ = next(it); it
        <timelog.TimelogIter [2, None) rows_left=1>
        >>> reversed(log)
        <timelog.TimelogIter [None, None) reversed rows_left=3>
        >>> log.close(); it
        <timelog.TimelogIter [2, None) log closed>
        """
        from timelog import _display
        cdef object left = None
        if self._live():
            left = len(self)
        return _display.iter_repr(self._lo, self._hi, self._reverse, left, kMinTs, kMaxTs)

    def __arrow_c_stream__(self, requested_schema=None):
        """Arrow PyCapsule stream of the rows left (consumes them), with the columns of
        ``Timelog.to_arrow()``: ``pyarrow.table(it)``. Needs pyarrow (the ``arrow`` extra).
        """
        from timelog import _export
        self._check()
        return _export.iter_arrow_c_stream(self, self._log, requested_schema)

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle or copy a TimelogIter: it is a live cursor over a snapshot of its Timelog; pickle the Timelog, or list(it)")

    def __reduce__(self):
        raise TypeError("cannot pickle or copy a TimelogIter: it is a live cursor over a snapshot of its Timelog; pickle the Timelog, or list(it)")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._finish()
        return False
