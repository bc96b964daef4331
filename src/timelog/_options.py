"""Timelog's options, in one table: name, default, type, and what each accepts.

The binding checks names and types against ``OPTIONS`` (``normalise``), the
signature of ``Timelog`` and of its presets is made from it, and the docs list it.
Ranges that go beyond what the engine's C++ field can hold are checked by the engine
itself, whose messages name the option as spelled here and the value given.

>>> from timelog._options import OPTIONS, defaults
>>> defaults()["memtable_max_bytes"]
1048576
>>> [o.name for o in OPTIONS][:3]
['time_unit', 'maintenance', 'busy_policy']
"""
import operator as _operator
from collections.abc import Mapping as _Mapping
from collections import namedtuple as _namedtuple

U32 = 2**32 - 1
U64 = 2**64 - 1
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

# Integer kinds and the range of the C field each one is stored in.
_INT_RANGES = {
    "uint32": (0, U32, "an int in [0, 2**32-1]"),
    "uint64": (0, U64, "an int in [0, 2**64-1]"),
    "int64": (I64_MIN, I64_MAX, "an int in [-2**63, 2**63-1]"),
}

UNITS = ("s", "ms", "us", "ns")
UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# window_size=None: one hour in the log's time unit.
WINDOW_DEFAULT = {u: 3600 * 1_000_000_000 // ns for u, ns in UNIT_NS.items()}


# kind: uint32 | uint64 | int64 | float | bool | choice | table | window | ts
# sub: for kind "table", the Options of the dict's keys; compat: accepted and
# validated for compatibility only, without effect; maximum: a compat option's bound
# (the engine, which checks every other range, never sees compat options).
Option = _namedtuple("Option", "name default kind doc choices sub compat maximum",
                     defaults=((), (), False, None))


COMPACTION = (
    Option("target_bytes", 0, "uint64", "split L1 outputs at about this many bytes; 0 = unlimited"),
    Option("max_inputs", 0, "uint32", "L0 segments per compaction; 0 = unlimited"),
    Option("max_windows", 0, "uint32", "L1 windows rewritten per step; 0 = unlimited"),
)

ADAPTIVE = (
    Option("target_records", 100_000, "uint64", "records per window to aim for (positive)"),
    Option("min_window", 0, "int64", "lower clamp of the window size; 0 = none"),
    Option("max_window", 0, "int64", "upper clamp of the window size; 0 = none"),
    Option("hysteresis_pct", 10, "uint32", "ignore window changes smaller than this (0-100)"),
    Option("window_quantum", 0, "int64", "round the window size to a multiple; 0 = none"),
    Option("alpha", 0.2, "float", "smoothing of the observed density, (0.0, 1.0]"),
    Option("warmup_flushes", 2, "uint32", "flushes observed before adapting"),
    Option("stale_flushes", 0, "uint32",
           "reset the estimate after this many flushes without data; 0 = never"),
    Option("failure_backoff_threshold", 0, "uint32",
           "accepted for compatibility: this engine's compactions never fail to publish",
           compat=True),
    Option("failure_backoff_pct", 0, "uint32",
           "accepted for compatibility (0-1000): no effect", compat=True, maximum=1000),
)

OPTIONS = (
    Option("time_unit", "ms", "choice", "unit of auto-timestamps and of the default window",
           choices=UNITS),
    Option("maintenance", "background", "choice",
           "'background': a worker thread flushes and compacts; 'disabled': you call "
           "flush()/maint_step()", choices=("background", "disabled")),
    Option("busy_policy", "raise", "choice",
           "what a write does when sealed runs are at sealed_max_runs (it is committed "
           "in every case)", choices=("raise", "silent", "flush")),
    Option("memtable_max_bytes", 1 << 20, "uint64",
           "memtable size that triggers a seal (1 KiB to 64 GiB; 0 = the default)"),
    Option("ooo_budget_bytes", 0, "uint64",
           "out-of-order buffer that triggers a seal; 0 = memtable_max_bytes / 10"),
    Option("sealed_max_runs", 4, "uint32",
           "sealed runs waiting for flush before writes report busy; 0 = the default"),
    Option("sealed_wait_ms", 100, "uint32",
           "background mode: how long a busy write waits for the worker; 0 = never waits"),
    Option("maintenance_wakeup_ms", 100, "uint32",
           "idle worker's polling period; 0 = the default"),
    Option("target_page_bytes", 64 << 10, "uint64",
           "page size of segments (256 bytes to 1 GiB; 0 = the default)"),
    Option("max_delta_segments", 8, "uint32",
           "L0 segments that trigger a compaction; 0 = the default"),
    Option("window_size", None, "window", "L1 window width in time_unit; None = 1 hour"),
    Option("window_origin", 0, "int64", "timestamp the L1 window grid is aligned to"),
    Option("delete_debt_threshold", 0.0, "float",
           "fraction of deleted records that triggers a window rewrite, [0.0, 1.0]; 0.0 = off"),
    Option("drain_batch_limit", 0, "uint64",
           "references released per opportunistic drain; 0 = unlimited"),
    Option("compaction", None, "table", "compaction limits (a dict), or None", sub=COMPACTION),
    Option("adaptive", None, "table",
           "adaptive window sizing (a dict; {} = the defaults), or None for a fixed window",
           sub=ADAPTIVE),
    Option("min_ts", None, "ts", "drop every record older than this at creation (a cutoff)"),
    Option("mostly_ordered_default", True, "bool",
           "accepted for compatibility: the engine detects order by itself", compat=True),
)

NAMES = frozenset(o.name for o in OPTIONS)
_BY_NAME = {o.name: o for o in OPTIONS}


def defaults():
    """Every option's default, by name (a new dict)."""
    return {o.name: o.default for o in OPTIONS}


def _int(label, value, kind, hint):
    lo, hi, accepted = _INT_RANGES[kind]
    if hint:
        accepted = f"{accepted}, {hint}"
    if isinstance(value, (bool, float)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{label} must be {accepted}, not {type(value).__name__}")
    value = _operator.index(value)
    if value < lo or value > hi:
        raise ValueError(f"{label} must be {accepted}; got {value}")
    return value


def _check(opt, label, value):
    kind = opt.kind
    if kind in _INT_RANGES:
        value = _int(label, value, kind, opt.doc if opt.compat else "")
        if opt.maximum is not None and value > opt.maximum:
            raise ValueError(f"{label} must be an int in [0, {opt.maximum}]; got {value}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{label} must be a float; not {type(value).__name__}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{label} must be a bool; not {type(value).__name__}")
        return value
    if kind == "choice":
        accepted = ", ".join(repr(c) for c in opt.choices)
        if not isinstance(value, str):
            raise TypeError(f"{label} must be a str, one of {accepted}; not {type(value).__name__}")
        if value not in opt.choices:
            raise ValueError(f"{label} must be one of {accepted}; got {value!r}")
        return value
    if kind == "window":
        return None if value is None else _int(label, value, "int64", "or None for 1 hour")
    if kind == "ts":
        if value is None:
            return None
        if isinstance(value, (bool, float)) or not hasattr(type(value), "__index__"):
            raise TypeError(f"{label} must be an int64 timestamp or None, not {type(value).__name__}")
        value = _operator.index(value)
        if value < I64_MIN or value > I64_MAX:
            raise OverflowError(f"{label} must be an int64 timestamp (-2**63 .. 2**63-1) or None; "
                                f"{value} does not fit")
        return value
    # kind == "table"
    if value is None:
        return None
    if not isinstance(value, _Mapping):
        raise TypeError(f"{label} must be a dict or None, not {type(value).__name__}")
    subs = {s.name: s for s in opt.sub}
    out = {}
    for key, v in value.items():
        sub = subs.get(key) if isinstance(key, str) else None
        if sub is None:
            raise ValueError(f"{label}: unknown key {key!r}; accepted keys: {', '.join(subs)}")
        out[key] = _check(sub, f"{label}[{key!r}]", v)
    return out


def normalise(options, caller="Timelog()"):
    """Checks names and types; returns every option's value (defaults filled in) as
    a new dict. Python code may run (an option's ``__index__``, a Mapping's ``items``).

    >>> normalise({"time_unit": "us"})["time_unit"]
    'us'
    >>> normalise({"memtable_bytes": 1})
    Traceback (most recent call last):
    TypeError: Timelog() got an unexpected keyword argument 'memtable_bytes'
    """
    for name in options:
        if name not in NAMES:
            raise TypeError(f"{caller} got an unexpected keyword argument {name!r}")
    out = {}
    for opt in OPTIONS:
        value = options.get(opt.name, opt.default)
        out[opt.name] = _check(opt, opt.name, value)
    return out


def table_value(o, table, key):
    """The value of ``key`` in the (normalised) dict option ``table``, or its default."""
    given = o[table]
    if given is not None and key in given:
        return given[key]
    return next(s.default for s in _BY_NAME[table].sub if s.name == key)


def signature():
    """``inspect.Signature`` of ``Timelog(**options)``: keyword-only, real defaults."""
    import inspect
    kw = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([inspect.Parameter(o.name, kw, default=o.default) for o in OPTIONS])


class LazySignature:
    """A class attribute ``__signature__`` made on first use (``inspect`` is only
    imported then)."""

    def __get__(self, obj, owner=None):
        return signature()


def describe():
    """The options as text, one per line: ``name=default  what it does``."""
    width = max(len(f"{o.name}={o.default!r}") for o in OPTIONS)
    return "\n".join(f"{f'{o.name}={o.default!r}':<{width}}  {o.doc}" for o in OPTIONS)
