# Zero-copy page views: PageSpanIter (made by _new_span_iter), PageSpan and PageSpanObjectsView.

cdef PageSpanIter _new_span_iter(Timelog log, int64_t lo, int64_t hi, bint empty):
    """A PageSpanIter over the pages of ``log`` overlapping [lo, hi] (none if ``empty``)."""
    cdef CEngine* eng
    log._reader()
    cdef PageSpanIter it = PageSpanIter.__new__(PageSpanIter, _TOKEN)
    cdef shared_ptr[const CSnapshot] snap
    eng = log._reader()       # after the allocation (see _new_iter)
    it._bind(log)
    if empty:
        it._closed = True
        return it
    snap = eng.GetSnapshot()
    it._spans = snap.get().PageSpans(lo, hi)
    if it._spans.size() == 0:
        it._closed = True
        return it
    it._pin()
    return it


# ----------------------------------------------------------------------------
# Views
# ----------------------------------------------------------------------------


@cython.final
cdef class PageSpanIter(_Pinned):
    """Iterator of ``PageSpan`` objects over the immutable pages of a snapshot.

    Created by ``Timelog.views()`` / ``page_spans()``; cannot be constructed
    directly. Pins its snapshot until exhausted, closed or collected.
    """

    cdef vector[CPageSpan] _spans
    cdef size_t _pos

    def __cinit__(self, *args, **kwargs):
        if len(args) != 1 or args[0] is not _TOKEN or kwargs:
            raise TypeError("PageSpanIter cannot be created directly; use Timelog.views()")

    def __dealloc__(self):
        self._spans.clear()
        self._release_pin()

    cdef int _check(self) except -1:
        if not self._live():
            raise TimelogError("the Timelog of this view is closed")
        return 0

    cdef void _finish(self) noexcept:
        self._closed = True
        self._spans.clear()
        self._spans.shrink_to_fit()
        self._pos = 0
        self._release_pin()

    def __iter__(self):
        return self

    def __next__(self):
        cdef PageSpan span
        self._check()
        if self._closed or self._pos >= self._spans.size():
            self._finish()
            raise StopIteration
        span = PageSpan.__new__(PageSpan, _TOKEN)
        self._check()
        span._bind(self._log)
        span._span = self._spans[self._pos]
        self._pos += 1
        span._pin()
        if self._pos >= self._spans.size():
            self._finish()
        return span

    def __len__(self):
        self._check()
        return 0 if self._closed else self._spans.size() - self._pos

    def close(self):
        """Release the snapshot now (idempotent)."""
        self._finish()

    @property
    def closed(self):
        return self._closed

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle or copy a PageSpanIter: it iterates views into the memory of its Timelog; pickle the Timelog instead")

    def __reduce__(self):
        raise TypeError("cannot pickle or copy a PageSpanIter: it iterates views into the memory of its Timelog; pickle the Timelog instead")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._finish()
        return False


@cython.final
cdef class PageSpan(_Pinned):
    """A sorted run of timestamps of one immutable page, with its payloads.

    Supports the buffer protocol: ``memoryview(span)`` is a zero-copy,
    read-only, 1-d view of the timestamps (format ``'q'``, itemsize 8).
    ``objects()`` is a read-only sequence of the payloads aligned with them.
    Spans are physical (not filtered by tombstones). A live span pins its
    snapshot until ``close()`` or collection; a closed span cannot be exported
    again (existing memoryviews stay valid).
    """

    cdef CPageSpan _span
    cdef Py_ssize_t _exports
    cdef Py_ssize_t _shape[1]
    cdef Py_ssize_t _strides[1]

    def __cinit__(self, *args, **kwargs):
        if len(args) != 1 or args[0] is not _TOKEN or kwargs:
            raise TypeError("PageSpan cannot be created directly; use Timelog.views()")

    def __dealloc__(self):
        self._release_pin()

    cdef int _check(self) except -1:
        if not self._live():
            raise TimelogError("the Timelog of this span is closed")
        if self._closed:
            raise TimelogError("the PageSpan is closed")
        return 0

    # For PageSpanObjectsView (valid after _check()).

    cdef inline size_t _size(self) noexcept:
        return self._span.size

    cdef inline PyObject* _handle(self, Py_ssize_t i) noexcept:
        return <PyObject*>self._span.handles[i]

    @property
    def start_ts(self):
        """First (smallest) timestamp of the span."""
        self._check()
        return self._span.ts[0] if self._span.size else None

    @property
    def end_ts(self):
        """Last (largest) timestamp of the span, inclusive."""
        self._check()
        return self._span.ts[self._span.size - 1] if self._span.size else None

    def __len__(self):
        self._check()
        return self._span.size

    def __getbuffer__(self, Py_buffer* buf, int flags):
        self._check()
        if flags & PyBUF_WRITABLE:
            raise BufferError("PageSpan timestamps are read-only")
        self._shape[0] = self._span.size
        self._strides[0] = 8
        buf.buf = <void*>self._span.ts if self._span.ts != NULL else <void*>&self._shape[0]
        buf.obj = self
        buf.len = self._span.size * 8
        buf.readonly = 1
        buf.itemsize = 8
        if flags & PyBUF_FORMAT:
            buf.format = b"q"
        else:
            buf.format = NULL
        buf.ndim = 1
        buf.shape = NULL
        buf.strides = NULL
        if flags & PyBUF_ND:
            buf.shape = self._shape
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            buf.strides = self._strides
        buf.suboffsets = NULL
        buf.internal = NULL
        self._exports += 1

    def __releasebuffer__(self, Py_buffer* buf):
        self._exports -= 1

    def objects(self):
        """Read-only sequence of the payloads, aligned with the timestamps."""
        self._check()
        cdef PageSpanObjectsView v = PageSpanObjectsView.__new__(PageSpanObjectsView, _TOKEN)
        v._span = self
        return v

    def copy_timestamps(self):
        """A new ``list`` of the timestamps (a copy; ``memoryview(span)`` is the zero-copy view)."""
        self._check()
        cdef size_t i
        cdef list out = PyList_New(self._span.size)
        for i in range(self._span.size):
            _PyList_SET_ITEM(<PyObject*>out, i, _PyLong_FromLongLong(self._span.ts[i]))
        return out

    def close(self):
        """Release the pin (idempotent). Existing memoryviews stay valid."""
        self._closed = True
        self._release_pin()

    @property
    def closed(self):
        return self._closed

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle or copy a PageSpan: it is a view into the memory of its Timelog; pickle the Timelog, or span.copy_timestamps() and list(span.objects())")

    def __reduce__(self):
        raise TypeError("cannot pickle or copy a PageSpan: it is a view into the memory of its Timelog; pickle the Timelog, or span.copy_timestamps() and list(span.objects())")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        if self._closed:
            return "<timelog.PageSpan closed>"
        return f"<timelog.PageSpan len={self._span.size}>"


@cython.final
cdef class PageSpanObjectsView:
    """Read-only sequence of the payloads of a ``PageSpan`` (``len``, indexing,
    slicing, iteration). Raises ``TimelogError`` once the span or log is closed."""

    cdef PageSpan _span

    def __cinit__(self, *args, **kwargs):
        if len(args) != 1 or args[0] is not _TOKEN or kwargs:
            raise TypeError("PageSpanObjectsView cannot be created directly; use PageSpan.objects()")

    def __len__(self):
        self._span._check()
        return self._span._size()

    def __getitem__(self, key):
        cdef Py_ssize_t i, n, start, stop, step, k, j
        cdef PyObject* o
        self._span._check()
        n = self._span._size()
        if _is_slice(key):
            start, stop, step = key.indices(n)
            idx = range(start, stop, step)
            k = len(idx)
            out = PyList_New(k)
            self._span._check()
            j = 0
            for i in idx:
                o = self._span._handle(i)
                _incref(o)
                _PyList_SET_ITEM(<PyObject*>out, j, o)
                j += 1
            return out
        i = _operator.index(key)
        if i < 0:
            i += n
        if i < 0 or i >= n:
            raise IndexError("PageSpanObjectsView index out of range")
        self._span._check()
        return <object>self._span._handle(i)

    def __iter__(self):
        cdef Py_ssize_t i = 0
        while True:
            self._span._check()
            if i >= <Py_ssize_t>self._span._size():
                return
            yield <object>self._span._handle(i)
            i += 1

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle or copy a PageSpanObjectsView: it is a view into the memory of its Timelog; pickle list(view) instead")

    def __reduce__(self):
        raise TypeError("cannot pickle or copy a PageSpanObjectsView: it is a view into the memory of its Timelog; pickle list(view) instead")

    def __repr__(self):
        return f"<timelog.PageSpanObjectsView len={self._span._size()}>"


_Sequence.register(PageSpanObjectsView)
