"""One adapter per library, so every workload is written once.

An adapter makes logs (``new(profile)``) that support the subset of the timelog API the
workloads use: ``extend(pairs)``, ``append(ts, obj)``, ``log[ts] = obj``, ``log.at(ts)``,
``log[a:b]``, ``iter(log)``, ``delete(t1, t2)``, ``cutoff(ts)``, ``flush()``, ``len``.
Both ``timelog`` (this package) and ``timelog-lib`` (PyPI) import as ``timelog`` and
share ``TimelogAdapter``; they differ only in the interpreter that runs the worker.
"""

from __future__ import annotations

import platform
import sys
from operator import itemgetter


class Unavailable(Exception):
    """The library cannot be imported in this interpreter."""


class TimelogAdapter:
    """The real Timelog API, called directly (no wrapper in the timed paths).

    Profiles, as a user would pick them:
      bulk   -- ``Timelog.for_bulk_ingest()``: maintenance disabled, busy_policy="flush",
                16 MiB memtable; the caller flushes.
      stream -- ``Timelog.for_streaming()``: background maintenance, busy_policy="flush".
    """

    is_floor = False

    def __init__(self, name: str) -> None:
        self.name = name
        try:
            import timelog
        except ImportError as e:
            raise Unavailable(f"import timelog failed: {e}") from e
        self.mod = timelog
        self.Timelog = timelog.Timelog

    def new(self, profile: str):
        T = self.Timelog
        if profile == "bulk":
            if hasattr(T, "for_bulk_ingest"):
                return T.for_bulk_ingest()
            return T(maintenance="disabled", busy_policy="flush", memtable_max_bytes=16 << 20)
        if profile == "stream":
            if hasattr(T, "for_streaming"):
                return T.for_streaming()
            return T(maintenance="background", busy_policy="flush")
        raise ValueError(profile)

    def settle(self, log) -> None:
        """Flush, request compaction and, in disabled mode, run maintenance until idle."""
        log.flush()
        if hasattr(log, "compact"):
            log.compact()
        if getattr(log, "maintenance_mode", None) == "disabled" and hasattr(log, "maint_step"):
            for _ in range(100_000):
                if not log.maint_step():
                    break

    def stats(self, log):
        return log.stats()

    def close(self, log) -> None:
        log.close()

    def info(self) -> dict:
        from importlib import metadata
        dists = {}
        for dist in ("timelog", "timelog-lib"):
            try:
                dists[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
        return {"module": getattr(self.mod, "__file__", None),
                "version": getattr(self.mod, "__version__", None),
                "distributions": dists, "python": sys.executable}


class SortedLog:
    """A time log on ``sortedcontainers.SortedKeyList`` of ``(ts, obj)`` keyed by ts.

    Equal timestamps keep insertion order (``add`` inserts after equal keys). Ranges
    and point lookups use ``irange_key`` (faster than bisect + positional
    indexing), deletes bisect then delete an index slice.
    """

    __slots__ = ("_sl", "_add")

    def __init__(self, SortedKeyList) -> None:
        self._sl = SortedKeyList(key=itemgetter(0))
        self._add = self._sl.add

    def extend(self, pairs) -> None:
        self._sl.update(pairs)

    def append(self, ts, obj) -> None:
        self._add((ts, obj))

    def __setitem__(self, ts, obj) -> None:
        self._add((ts, obj))

    def __getitem__(self, key):
        sl = self._sl
        if isinstance(key, slice):
            return sl.irange_key(key.start, key.stop, inclusive=(True, False))
        return self.at(key)

    def at(self, ts):
        return [obj for _, obj in self._sl.irange_key(ts, ts)]

    def __iter__(self):
        return iter(self._sl)

    def __len__(self) -> int:
        return len(self._sl)

    def delete(self, t1, t2) -> None:
        sl = self._sl
        lo = 0 if t1 is None else sl.bisect_key_left(t1)
        hi = len(sl) if t2 is None else sl.bisect_key_left(t2)
        del sl[lo:hi]

    def cutoff(self, ts) -> None:
        self.delete(None, ts)

    def flush(self) -> None:
        pass


class SortedContainersAdapter:
    is_floor = False
    name = "sortedcontainers"

    def __init__(self, name: str) -> None:
        try:
            import sortedcontainers
        except ImportError as e:
            raise Unavailable(f"import sortedcontainers failed: {e}") from e
        self.mod = sortedcontainers

    def new(self, profile: str) -> SortedLog:
        return SortedLog(self.mod.SortedKeyList)

    def settle(self, log) -> None:
        pass

    def stats(self, log):
        return None

    def close(self, log) -> None:
        pass

    def info(self) -> dict:
        return {"module": self.mod.__file__, "version": self.mod.__version__,
                "python": sys.executable}


class FloorAdapter:
    """Marker for the plain-Python floors; workloads provide the floor code."""

    is_floor = True

    def __init__(self, name: str) -> None:
        self.name = name

    def info(self) -> dict:
        return {"version": platform.python_version(), "python": sys.executable}


ADAPTERS = {
    "timelog": TimelogAdapter,
    "timelog-lib": TimelogAdapter,
    "sortedcontainers": SortedContainersAdapter,
    "floor": FloorAdapter,
}


def load(name: str):
    return ADAPTERS[name](name)
