# _Pinned: the pin/epoch/closed-check protocol shared by every class that reads a snapshot of a Timelog.


@cython.auto_pickle(False)          # the readers refuse pickling themselves (__reduce__)
cdef class _Pinned:
    """Internal base of the classes that read a snapshot of a ``Timelog``.

    It names the log, the log's epoch when the snapshot was taken (``close()``
    bumps it, which voids every older reader at once) and whether the reader
    holds one of the log's pins (opportunistic drains wait while any is held).
    """

    cdef Timelog _log
    cdef uint64_t _epoch
    cdef bint _pinned
    cdef bint _closed

    cdef inline void _bind(self, Timelog log) noexcept:
        """Belong to ``log``'s current snapshot epoch."""
        self._log = log
        self._epoch = log._current_epoch()

    cdef inline void _pin(self) noexcept:
        """Take one of the log's pins (after ``_bind``); ``_release_pin`` gives it back."""
        self._log._add_pin()
        self._pinned = True

    cdef inline bint _reads(self, Timelog log) noexcept:
        """Whether this reader belongs to ``log``."""
        return self._log is log

    cdef inline bint _live(self) noexcept:
        """Whether the log is open and still in the epoch this reader belongs to."""
        return self._log is not None and self._log._in_epoch(self._epoch)

    cdef inline void _release_pin(self) noexcept:
        """Give the pin back, exactly once (a no-op without one); may drain and so
        run ``__del__`` code: call it last."""
        if self._pinned:
            self._pinned = False
            if self._log is not None:
                self._log._unpin(self._epoch)
