"""Pure-Python reference model of a Timelog, plus small test helpers.

The model is deliberately naive: a list of ``(ts, seq, obj)`` records and a list of
sequenced tombstones ``(t1, t2, seq)`` over half-open intervals. A record is visible
iff no tombstone written *after* it covers its timestamp ("deletes are
sequenced"). Reads are computed by brute force, so the model is obviously right and
slow; it is only used with small inputs.

Unbounded (``None``) bounds really include the extreme timestamps:
internally a ``None`` lower bound is ``-2**63`` and a ``None`` upper bound is ``2**63``
(one past the largest int64, so ``2**63 - 1`` is included).
"""

from __future__ import annotations

import bisect
import sys
import time

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_LO = INT64_MIN
_HI = INT64_MAX + 1  # exclusive upper bound standing for "unbounded"


def _lo(t):
    return _LO if t is None else t


def _hi(t):
    return _HI if t is None else t


class RefModel:
    """Reference multimap from int64 timestamps to objects with sequenced deletes."""

    def __init__(self):
        self._records = []  # (ts, seq, obj) in write order
        self._tombstones = []  # (t1, t2_exclusive, seq)
        self._seq = 0
        self._visible = None  # cache: sorted list of (ts, seq, obj)

    # ------------------------------------------------------------------ writes
    def _next_seq(self):
        self._seq += 1
        self._visible = None
        return self._seq

    def append(self, ts, obj):
        _check_ts(ts)
        self._records.append((ts, self._next_seq(), obj))

    def extend(self, pairs):
        pairs = list(pairs)
        for ts, _ in pairs:
            _check_ts(ts)
        for ts, obj in pairs:
            self.append(ts, obj)

    def delete(self, t1, t2=...):
        """``delete(ts)`` (point) or ``delete(t1, t2)`` (half-open, None = unbounded)."""
        if t2 is ...:
            _check_ts(t1)
            lo, hi = t1, t1 + 1
        else:
            lo, hi = _lo(t1), _hi(t2)
            if lo > hi:
                raise ValueError("t1 > t2")
            if lo == hi:
                return
        self._tombstones.append((lo, hi, self._next_seq()))

    def cutoff(self, ts):
        """Delete every record with a timestamp < ts."""
        self._tombstones.append((_LO, ts, self._next_seq()))

    # ------------------------------------------------------------------- reads
    def visible(self):
        """Sorted list of visible (ts, seq, obj): by timestamp, ties in insertion order."""
        if self._visible is None:
            out = []
            for ts, seq, obj in self._records:
                hidden = False
                for t1, t2, tseq in self._tombstones:
                    if tseq > seq and t1 <= ts < t2:
                        hidden = True
                        break
                if not hidden:
                    out.append((ts, seq, obj))
            out.sort(key=lambda r: (r[0], r[1]))
            self._visible = out
        return self._visible

    def items(self, t1=None, t2=None):
        lo, hi = _lo(t1), _hi(t2)
        return [(ts, obj) for ts, _, obj in self.visible() if lo <= ts < hi]

    range = items

    def all(self):
        return self.items()

    def since(self, t):
        return self.items(t, None)

    def until(self, t):
        return self.items(None, t)

    def equal(self, t):
        return [(ts, obj) for ts, _, obj in self.visible() if ts == t]

    point = equal

    def at(self, t):
        return [obj for ts, _, obj in self.visible() if ts == t]

    def __len__(self):
        return len(self.visible())

    def __contains__(self, t):
        return any(ts == t for ts, _, _ in self.visible())

    def timestamps(self):
        return [ts for ts, _, _ in self.visible()]

    def min_ts(self):
        v = self.visible()
        return v[0][0] if v else None

    def max_ts(self):
        v = self.visible()
        return v[-1][0] if v else None

    def next_ts(self, t):
        """Smallest visible timestamp strictly greater than t."""
        tss = self.timestamps()
        i = bisect.bisect_right(tss, t)
        return tss[i] if i < len(tss) else None

    def prev_ts(self, t):
        """Largest visible timestamp strictly less than t."""
        tss = self.timestamps()
        i = bisect.bisect_left(tss, t)
        return tss[i - 1] if i > 0 else None

    # ------------------------------------------------------------ analysis reads
    def count(self, t1=None, t2=None):
        return len(self.items(t1, t2))

    def first(self):
        v = self.items()
        return v[0] if v else None

    def last(self):
        v = self.items()
        return v[-1] if v else None

    def asof(self, t):
        """Last visible record with ts <= t (equal timestamps: the latest inserted)."""
        v = [r for r in self.items() if r[0] <= t]
        return v[-1] if v else None

    def nearest(self, t):
        """Closest timestamp (ties: the earlier one); among equal ts the latest inserted."""
        v = self.items()
        if not v:
            return None
        best = min({ts for ts, _ in v}, key=lambda ts: (abs(ts - t), ts))
        return [r for r in v if r[0] == best][-1]

    def _bucket_range(self, every, t1, t2, origin):
        """``(q0, q1)``: the first and last bucket index of count_by, or None."""
        v = self.timestamps()
        if (t1 is None or t2 is None) and not v:
            return None
        lo = v[0] if t1 is None else t1
        hi = v[-1] if t2 is None else t2 - 1
        if lo > hi:
            return None
        return (lo - origin) // every, (hi - origin) // every

    def bucket_count(self, every, t1=None, t2=None, origin=0):
        r = self._bucket_range(every, t1, t2, origin)
        return 0 if r is None else r[1] - r[0] + 1

    def count_by(self, every, t1=None, t2=None, origin=0):
        """``(starts, counts)`` as lists: buckets [origin + k*every, ...) covering
        [t1, t2) (None: the first / last visible record), empty buckets included."""
        r = self._bucket_range(every, t1, t2, origin)
        if r is None:
            return [], []
        q0, q1 = r
        counts = [0] * (q1 - q0 + 1)
        for ts, _ in self.items(t1, t2):
            counts[(ts - origin) // every - q0] += 1
        starts = [max(INT64_MIN, origin + q * every) for q in range(q0, q1 + 1)]
        return starts, counts

    def snapshot(self, t1=None, t2=None):
        """Frozen copy of what an iterator created now over [t1, t2) must yield."""
        return list(self.items(t1, t2))


def _check_ts(ts):
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise TypeError("timestamp must be an int")
    if not INT64_MIN <= ts <= INT64_MAX:
        raise OverflowError("timestamp out of int64")


# ---------------------------------------------------------------------------
# Helpers shared by the test modules (plain functions; conftest.py's fixtures are
# built on them).
# ---------------------------------------------------------------------------


class Obj:
    """A unique, identity-compared payload with a readable repr."""

    __slots__ = ("n", "__weakref__")

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"Obj({self.n})"


def new_log(**options):
    """A Timelog with ``maintenance="disabled"`` unless the options say otherwise."""
    import timelog

    options.setdefault("maintenance", "disabled")
    return timelog.Timelog(**options)


def first_accepted(make, candidates):
    """Return the first candidate value for which ``make(value)`` does not raise."""
    last = None
    for c in candidates:
        try:
            log = make(c)
        except (ValueError, TypeError, OverflowError) as e:  # pragma: no cover
            last = e
            continue
        log.close()
        return c
    raise AssertionError(f"no candidate accepted: {candidates!r}: {last!r}")


_small_cache = {}


def small_page_bytes():
    """Smallest accepted target_page_bytes among a few small candidates."""
    if "page" not in _small_cache:
        import timelog

        _small_cache["page"] = first_accepted(
            lambda v: timelog.Timelog(maintenance="disabled", target_page_bytes=v),
            [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536],
        )
    return _small_cache["page"]


def small_memtable_bytes():
    """Smallest accepted memtable_max_bytes among a few small candidates."""
    if "mem" not in _small_cache:
        import timelog

        _small_cache["mem"] = first_accepted(
            lambda v: timelog.Timelog(maintenance="disabled", memtable_max_bytes=v),
            [256, 512, 1024, 2048, 4096, 8192, 16384, 65536],
        )
    return _small_cache["mem"]


def run_maintenance(log, cap=100_000):
    """Disabled mode: request compaction and step maintenance until idle."""
    log.flush()
    log.compact()
    n = 0
    while log.maint_step():
        n += 1
        assert n < cap, "maint_step() kept reporting work"
    return n


LAYERS = ["memtable", "flushed", "compacted", "mixed"]


def fill_layered(log, model, rows, layer):
    """Append rows to log and model, leaving them in ``layer``: the memtable, an L0
    segment ("flushed"), compacted ("compacted"), or "mixed" (a flush after every
    third row, a compaction after the sixth)."""
    for i, (ts, o) in enumerate(rows):
        log.append(ts, o)
        model.append(ts, o)
        if layer == "mixed" and i % 3 == 2:
            log.flush()
        if layer == "mixed" and i == 5:
            run_maintenance(log)
    if layer in ("flushed", "compacted"):
        log.flush()
    if layer == "compacted":
        run_maintenance(log)


def handles(log):
    return log.stats()["handles"]


# A background log whose worker seals, flushes and compacts all the time (add a small
# memtable_max_bytes and max_delta_segments).
CHURN = dict(maintenance="background", busy_policy="flush", maintenance_wakeup_ms=1)


def pressure(busy_policy, **options):
    """Options of a log under backpressure at once: maintenance disabled (unless the
    options say otherwise), a small memtable and one sealed run at most, so nothing
    flushes unless the test calls flush() and writes soon report busy."""
    opts = dict(maintenance="disabled", busy_policy=busy_policy,
                memtable_max_bytes=small_memtable_bytes(), sealed_max_runs=1)
    opts.update(options)
    return opts


def refs(objs):
    """Reference counts of objs, in order."""
    # index instead of iterating: a loop variable or zip() tuple would add references
    return [sys.getrefcount(objs[i]) for i in range(len(objs))]


def make_objs(n, tag=""):
    """``(objs, refs(objs))``: n fresh Obj payloads and their reference counts now."""
    objs = [Obj(f"{tag}{i}") for i in range(n)]
    return objs, refs(objs)


def n_released(objs, base):
    """How many of objs are back at their reference count in ``base``."""
    now = refs(objs)
    return sum(1 for i in range(len(objs)) if now[i] == base[i])


def thread_count():
    """Number of OS threads of this process (sees native std::jthreads too)."""
    import os

    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - non-Linux
        import threading

        return threading.active_count()


def wait_until(pred, timeout=5.0, interval=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def examples(cap):
    """max_examples for a heavy test: the active profile's value, capped."""
    from hypothesis import settings

    n = settings().max_examples
    if n > 200:  # a soak profile ("thorough"): honour it in full
        return n
    return max(1, min(n, cap))
