"""Exports of a ``Timelog`` to pandas and Arrow (plain Python).

``Timelog.to_pandas()``, ``Timelog.to_arrow()`` and the Arrow PyCapsule hooks
(``Timelog.__arrow_c_stream__``, ``TimelogIter.__arrow_c_stream__``) are thin
methods in ``timelog._core`` that call the functions here. pandas, pyarrow and
numpy are optional dependencies, imported only when a function needs them.

The log is read only through its columnar primitives: ``Timelog.to_numpy()``
and ``TimelogIter.to_numpy()`` (one snapshot, gathered by the engine with the
GIL released); ``timelog._display`` counts with ``Timelog.count_by()``.
"""

import importlib

# The extra that installs each optional module (``pip install 'timelog[EXTRA]'``).
_EXTRA_OF = {"numpy": "numpy", "pandas": "pandas", "pyarrow": "arrow", "matplotlib": "plot"}

# timelog's time units are numpy's, pandas' and Arrow's unit codes.
_UNITS = ("s", "ms", "us", "ns")

REPR_LIMIT = 80     # characters of a payload's repr in messages and previews


def require(module, what, extra=None):
    """Import ``module`` for ``what`` (e.g. ``"Timelog.to_pandas()"``), or raise
    ``ImportError`` naming the extra that installs it."""
    extra = extra or _EXTRA_OF.get(module.split(".")[0], module)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs {module.split('.')[0]}, which is not installed: "
            f"pip install 'timelog[{extra}]'") from exc


def unit_of(log):
    """The log's time unit as a numpy/pandas/Arrow unit code."""
    unit = log.time_unit
    if unit not in _UNITS:          # cannot happen: Timelog validates time_unit
        raise ValueError(f"unknown time_unit {unit!r}")
    return unit


def short_repr(obj, limit=REPR_LIMIT):
    """``repr(obj)`` cut to ``limit`` characters; a failing ``__repr__`` gives a
    placeholder instead of an exception."""
    try:
        text = repr(obj)
    except Exception as exc:        # a payload's broken __repr__ must not break a view
        text = f"<{type(obj).__name__} object: repr() raised {type(exc).__name__}>"
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return text


def to_pandas(log, t1, t2, name):
    """``Timelog.to_pandas()``: see its docstring."""
    pd = require("pandas", "Timelog.to_pandas()")
    ts, objs = log.to_numpy(t1, t2)
    index = pd.DatetimeIndex(ts.view(f"datetime64[{unit_of(log)}]"), name="ts")
    return pd.Series(objs, index=index, dtype=object, name=name, copy=False)


def _value_array(pa, objs, ts):
    """The Arrow array of ``objs`` (type inferred); a payload it cannot convert
    raises ``TypeError`` naming its timestamp."""
    try:
        return pa.array(objs, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        bad = _first_unconvertible(pa, objs)
        raise TypeError(
            f"cannot convert the payload at ts={int(ts[bad])} ({short_repr(objs[bad])}) "
            f"to an Arrow value: {exc}") from exc


def _first_unconvertible(pa, objs):
    """Index of the first payload that the ones before it can convert with, but
    not together with it (bisection over prefixes: conversion failures only grow
    with the prefix)."""
    lo, hi = 0, len(objs)           # objs[:lo] converts, objs[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pa.array(objs[:mid], from_pandas=False)
        except Exception:
            hi = mid
        else:
            lo = mid
    return hi - 1


def _table(pa, unit, ts, objs):
    return pa.table({"ts": pa.array(ts, type=pa.timestamp(unit)),
                     "value": _value_array(pa, objs, ts)})


def to_arrow(log, t1, t2):
    """``Timelog.to_arrow()``: see its docstring."""
    pa = require("pyarrow", "Timelog.to_arrow()")
    ts, objs = log.to_numpy(t1, t2)
    return _table(pa, unit_of(log), ts, objs)


def arrow_c_stream(log, requested_schema):
    """``Timelog.__arrow_c_stream__``: every record, as ``to_arrow()``."""
    return to_arrow(log, None, None).__arrow_c_stream__(requested_schema)


def iter_arrow_c_stream(it, log, requested_schema):
    """``TimelogIter.__arrow_c_stream__``: the rows left in ``it`` (consumed)."""
    pa = require("pyarrow", "TimelogIter.__arrow_c_stream__()")
    ts, objs = it.to_numpy()
    return _table(pa, unit_of(log), ts, objs).__arrow_c_stream__(requested_schema)
