"""timelog: an in-memory, time-indexed multimap of Python objects.

Signed 64-bit timestamps map to Python objects, stored by reference. Writes may
arrive out of order; reads return records in timestamp order (equal timestamps
in insertion order) from a snapshot taken when the read starts. A C++20
log-structured engine does the work; the Cython binding ``timelog._core`` owns
the Python objects.

>>> from timelog import Timelog
>>> with Timelog() as log:
...     log[1_700_000_000_000] = {"event": "tick"}
...     log.at(1_700_000_000_000)
[{'event': 'tick'}]

Documentation: ``help(timelog.Timelog)`` for every method; the user guide and the
API reference are docs/user-guide.md and docs/api.md in the source distribution,
and build into an HTML site (with these docstrings) with ``tox -e docs``.
"""

from timelog._core import (
    PageSpan,
    PageSpanIter,
    PageSpanObjectsView,
    Timelog,
    TimelogBusyError,
    TimelogError,
    TimelogIter,
)

__version__ = "0.1.0"

__all__ = [
    "Timelog",
    "TimelogError",
    "TimelogBusyError",
    "TimelogIter",
    "PageSpan",
    "PageSpanIter",
    "PageSpanObjectsView",
    "__version__",
]
