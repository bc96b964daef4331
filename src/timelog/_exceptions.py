"""The exception classes of timelog (defined here, raised by the binding timelog._core)."""


class TimelogError(Exception):
    """Base class of every timelog-specific error.

    Raised for operations on a closed log (or on an iterator whose log was
    closed), for ``maint_step()`` in background mode, for ``reopen()`` of an
    open log, and for unexpected engine failures.

    >>> from timelog import Timelog, TimelogError
    >>> log = Timelog()
    >>> log.close()
    >>> try:
    ...     log.append(1, "x")
    ... except TimelogError as e:
    ...     print(e)
    Timelog is closed
    """


class TimelogBusyError(TimelogError):
    """A write was committed, but the log is under backpressure.

    Raised only with ``busy_policy="raise"``. The record (or tombstone) **was
    committed**: nothing is rolled back and nothing must be retried.
    ``committed`` is the number of records stored by the call that raised it
    (1 for ``append``/``log[ts] = obj``, 0 for deletes, the whole input for
    ``extend``). From ``flush()``/``maint_step()`` it would mean a publish
    conflict (nothing lost, retry is safe); the current engine never reports one.
    """

    def __init__(self, *args, committed=None):
        super().__init__(*args)
        self.committed = committed


TimelogError.__module__ = "timelog"
TimelogBusyError.__module__ = "timelog"
