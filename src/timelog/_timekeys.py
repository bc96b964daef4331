"""Time keys: ``datetime``, ``numpy.datetime64`` and ``pandas.Timestamp`` values
(and the durations ``timedelta``, ``numpy.timedelta64``, ``pandas.Timedelta``)
converted to integer timestamps in a log's ``time_unit``.

``timelog._core`` takes plain ints on its own fast path and calls here only for
other types. Every conversion is exact integer arithmetic; a time between two
ticks of a coarser unit is floored toward -infinity (so a pre-1970 time lands on
the tick at or before it). Naive datetimes are UTC; aware ones are converted to
UTC. numpy is used only when the value is a numpy object (it is never imported
here), pandas never: a ``pandas.Timestamp`` is a ``datetime`` subclass whose
``asm8`` (a ``numpy.datetime64`` in its own unit) keeps its nanoseconds.
"""

import datetime as _dt
import math
import operator
import sys

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# How to pass a time: the end of every TypeError about a timestamp.
HOW = ("pass an int in the log's time_unit, a datetime.datetime (naive = UTC), "
       "a numpy.datetime64 or a pandas.Timestamp")
HOW_DURATION = ("pass an int number of the log's time_unit, a datetime.timedelta, "
                "a numpy.timedelta64 or a pandas.Timedelta")

# Nanoseconds per numpy datetime/timedelta unit, as (numerator, denominator).
_NP_NS = {
    "W": (7 * 86400 * 10**9, 1), "D": (86400 * 10**9, 1), "h": (3600 * 10**9, 1),
    "m": (60 * 10**9, 1), "s": (10**9, 1), "ms": (10**6, 1), "us": (10**3, 1),
    "\u03bcs": (10**3, 1), "ns": (1, 1), "ps": (1, 10**3), "fs": (1, 10**6),
    "as": (1, 10**9),
}
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def _numpy():
    return sys.modules.get("numpy")


def _ratio(np_unit, count, unit_ns, what):
    """``(A, B)``: a value in ``count`` x ``np_unit`` is ``value * A / B`` log units."""
    if np_unit not in _NP_NS:
        raise ValueError(f"{what} has no fixed-length unit ({np_unit!r}); "
                         "give it a unit such as 's', 'ms', 'us' or 'ns'")
    num, den = _NP_NS[np_unit]
    num *= count
    den *= unit_ns
    g = math.gcd(num, den)
    return num // g, den // g


def _datetime_us(d):
    """Microseconds since 1970-01-01 UTC of a ``datetime`` (naive = UTC)."""
    us = ((((d.toordinal() - _EPOCH_ORDINAL) * 24 + d.hour) * 60 + d.minute) * 60
          + d.second) * 10**6 + d.microsecond
    off = d.utcoffset()
    if off is not None:
        us -= (off.days * 86400 + off.seconds) * 10**6 + off.microseconds
    return us


def _datetime64_units(v, unit_ns, name):
    np = _numpy()
    if np.isnat(v):
        raise ValueError(f"{name} is NaT (not a time)")
    unit, count = np.datetime_data(v.dtype)
    if unit in ("Y", "M"):              # calendar units: exact as days
        v = v.astype("datetime64[D]")
        unit, count = "D", 1
    a, b = _ratio(unit, count, unit_ns, f"{name} {v!r}")
    return (int(v.astype(np.int64)) * a) // b


def to_units(o, unit_ns, name="timestamp"):
    """The int timestamp of the time ``o`` in units of ``unit_ns`` nanoseconds,
    or ``None`` if ``o`` is not a time object. Not range-checked."""
    if isinstance(o, _dt.datetime):
        asm8 = getattr(o, "asm8", None)     # pandas.Timestamp (and NaT)
        if asm8 is not None:
            return _datetime64_units(asm8, unit_ns, name)
        return (_datetime_us(o) * 1000) // unit_ns
    np = _numpy()
    if np is not None and isinstance(o, np.datetime64):
        return _datetime64_units(o, unit_ns, name)
    return None


def duration_units(o, unit_ns, name="every"):
    """A duration as an int number of log units (exact: a duration that is not
    a whole number of units raises ``ValueError``). Not range-checked."""
    if isinstance(o, (bool, float)):
        raise TypeError(f"{name} must be a duration, not {type(o).__name__}: {HOW_DURATION}")
    if type(o) is int:
        return o
    np = _numpy()
    if isinstance(o, _dt.timedelta):
        asm8 = getattr(o, "asm8", None)     # pandas.Timedelta keeps nanoseconds
        if asm8 is None:
            num, den = ((o.days * 86400 + o.seconds) * 10**6 + o.microseconds) * 1000, unit_ns
            return _whole(num, den, o, name)
        o = asm8
    if np is not None and isinstance(o, np.timedelta64):
        if np.isnat(o):
            raise ValueError(f"{name} is NaT (not a duration)")
        unit, count = np.datetime_data(o.dtype)
        if unit in ("Y", "M"):
            raise ValueError(f"{name} {o!r} has no fixed length (years and months vary)")
        a, b = _ratio(unit, count, unit_ns, f"{name} {o!r}")
        return _whole(int(o.astype(np.int64)) * a, b, o, name)
    try:
        return operator.index(o)
    except TypeError:
        raise TypeError(f"{name} must be a duration, not {type(o).__name__}: "
                        f"{HOW_DURATION}") from None


def _whole(num, den, o, name):
    q, r = divmod(num, den)
    if r:
        raise ValueError(f"{name}={o!r} is not a whole number of the log's time_unit")
    return q


def datetime64_array_units(arr, unit_ns, strict):
    """A 1-d ``datetime64`` array as ``(int64 array, keep)`` in log units,
    vectorised (no per-element Python work for the fixed-length units).

    NaT and values outside int64 after conversion raise ``ValueError`` /
    ``OverflowError`` when ``strict``; otherwise they are marked 0 in ``keep``
    (a uint8 array; ``None`` when every value converted).
    """
    np = _numpy()
    if arr.ndim != 1:
        raise ValueError(f"timestamps must be 1-dimensional, got {arr.ndim} dimensions")
    if not arr.dtype.isnative:              # byte-swapped: the int64 view needs native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    unit, count = np.datetime_data(arr.dtype)
    if unit in ("Y", "M"):
        arr = arr.astype("datetime64[D]")
        unit, count = "D", 1
    a, b = _ratio(unit, count, unit_ns, f"timestamps of dtype {arr.dtype}")
    raw = arr.view(np.int64)
    bad = raw == INT64_MIN                  # NaT
    if strict and bad.any():
        raise ValueError(f"timestamps[{int(np.argmax(bad))}] is NaT (not a time)")
    if a * b > INT64_MAX:                   # exotic unit pair: exact Python ints
        vals = [(int(x) * a) // b for x in raw.tolist()]
        over = np.array([not INT64_MIN <= v <= INT64_MAX for v in vals], dtype=bool)
        out = np.array([v if INT64_MIN <= v <= INT64_MAX else 0 for v in vals], dtype=np.int64)
    else:
        q = raw // b if b > 1 else raw.copy()
        over = np.zeros(len(raw), dtype=bool)
        if a > 1:
            extra = ((raw - q * b) * a) // b if b > 1 else 0  # in [0, a)
            qmax, qmin = INT64_MAX // a, -(-INT64_MIN // a)   # q * a fits iff qmin <= q <= qmax
            over = (q > qmax) | (q < qmin)
            q = np.where(over, 0, q)
            out = q * a
            if b > 1:
                over |= out > INT64_MAX - extra
                out = np.where(over, 0, out + np.where(over, 0, extra))
        else:
            out = q
    over &= ~bad
    if strict and over.any():
        i = int(np.argmax(over))
        raise OverflowError(f"timestamps[{i}] ({arr[i]}) does not fit in a signed 64-bit "
                            "integer in the log's time_unit (int64: -2**63 .. 2**63-1)")
    bad |= over
    keep = None
    if bad.any():
        keep = (~bad).astype(np.uint8)
        out = np.where(bad, 0, out)
    return np.ascontiguousarray(out, dtype=np.int64), keep
