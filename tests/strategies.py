"""Hypothesis strategies shared by every property test and state machine in tests/."""

from hypothesis import strategies as st

try:
    from model import INT64_MAX, INT64_MIN, small_memtable_bytes, small_page_bytes
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, small_memtable_bytes, small_page_bytes

EXTREMES = [INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX]


def extremes(lo=INT64_MIN, hi=INT64_MAX):
    """The two ends of [lo, hi] and their neighbours (all four int64 extremes by default)."""
    return sorted({lo, min(lo + 1, hi), max(hi - 1, lo), hi})


def near(width):
    """Timestamps in [-width, width]: a narrow band, so ties are frequent."""
    return st.integers(-width, width)


def timestamps(width=8, weight=1, lo=INT64_MIN, hi=INT64_MAX):
    """Timestamps in [lo, hi]: the band [-width, width] clipped to it (drawn ``weight``
    times as often as the others: many ties), its extremes, and any value at all."""
    band = st.integers(max(lo, -width), min(hi, width))
    return st.one_of(*[band] * weight, st.sampled_from(extremes(lo, hi)), st.integers(lo, hi))


def bounds(ts=None):
    """A range bound: None (unbounded) or a timestamp."""
    return st.one_of(st.none(), timestamps() if ts is None else ts)


def ranges(ts=None):
    """``(t1, t2)`` pairs of bounds, either way round (t1 > t2 included)."""
    b = bounds(ts)
    return st.tuples(b, b)


# What the state machines draw from: narrow (many collisions) mixed with the extremes
# and the odd wide value.
MACHINE_TIMESTAMPS = timestamps(width=8, weight=3)
MACHINE_BOUNDS = bounds(MACHINE_TIMESTAMPS)


def payloads():
    """Payloads compared by value."""
    return st.integers()


def batches(ts=None, min_size=0, max_size=40):
    """Lists of timestamps, as one extend() would take them."""
    return st.lists(timestamps() if ts is None else ts, min_size=min_size, max_size=max_size)


def records(ts=None, values=None, max_size=60):
    """Lists of ``(ts, payload)`` rows."""
    return st.lists(st.tuples(timestamps() if ts is None else ts,
                              payloads() if values is None else values), max_size=max_size)


def drain_limits(hi):
    """drain_batch_limit values 0..hi (0: unlimited)."""
    return st.integers(0, hi)


def corruptions(size):
    """``(cut, flips)`` damage to a file of ``size`` bytes: truncate to ``cut``, then
    xor up to three ``(offset, mask)`` pairs (offsets past the cut do nothing)."""
    return st.tuples(st.integers(0, size),
                     st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), max_size=3))


# -------------------------------------------------------------- option dicts


def _mem(factors):
    return st.sampled_from(factors).map(lambda f: small_memtable_bytes() * f)


def _page(factors):
    return st.sampled_from(factors).map(lambda f: small_page_bytes() * f)


def machine_options():
    """Options of the state machine's disabled log: tiny memtable, pages and windows."""
    return st.fixed_dictionaries({
        "maintenance": st.just("disabled"),
        "busy_policy": st.just("silent"),
        "memtable_max_bytes": _mem([1, 2, 4]),
        "target_page_bytes": _page([1, 2, 8]),
        "window_size": st.sampled_from([1, 3, 16, 1000]),
        "window_origin": st.sampled_from([0, -5, INT64_MAX]),
        "max_delta_segments": st.sampled_from([0, 1, 2, 3]),
    })


def fuzz_options():
    """Options of the fuzz machine's log: either maintenance mode, writes that never
    raise busy, no window_size at times (the default)."""
    return st.fixed_dictionaries(
        {
            "maintenance": st.sampled_from(["disabled", "background"]),
            "busy_policy": st.sampled_from(["silent", "flush"]),
            "memtable_max_bytes": _mem([1, 2, 8]),
            "target_page_bytes": _page([1, 4]),
            "max_delta_segments": st.sampled_from([0, 1, 3]),
            "sealed_max_runs": st.just(2),
            "sealed_wait_ms": st.just(0),
        },
        optional={"window_size": st.sampled_from([1, 7, 1000])},
    )


def background_options():
    """Options of a background log whose worker seals, flushes and compacts all the time."""
    return st.fixed_dictionaries({
        "compaction": st.sampled_from([None, {"max_inputs": 2}, {"target_bytes": 4096, "max_windows": 1}]),
        "window_size": st.sampled_from([1, 7, 1000]),
        "delete_debt_threshold": st.sampled_from([0.0, 0.2]),
    })


def pressure_options():
    """Options of a disabled log under backpressure: every busy policy and level."""
    return st.fixed_dictionaries({
        "busy_policy": st.sampled_from(["raise", "silent", "flush"]),
        "sealed_max_runs": st.integers(1, 3),
        "memtable_max_bytes": _mem([1, 2, 8]),
    })
