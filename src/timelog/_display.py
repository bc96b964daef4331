"""How a ``Timelog`` shows itself: the Jupyter HTML view, the iterator's repr,
and ``Timelog.plot()`` (plain Python; the methods in ``timelog._core`` delegate here).

The HTML view needs nothing but the standard library; ``plot()`` needs
matplotlib and numpy (the ``plot`` extra). Record counts per bucket come from
``Timelog.count_by()`` (the engine's binary searches, no scan of the records).
"""

import datetime as _dt
import html
import math

from timelog import _export

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH = _dt.datetime(1970, 1, 1)
PREVIEW = 5          # records shown from each end of the log

# The value each option has when it is not given (None: the unit-dependent default).
_DEFAULTS = {
    "time_unit": "ms", "maintenance": "background", "busy_policy": "raise",
    "memtable_max_bytes": 0, "ooo_budget_bytes": 0, "sealed_max_runs": 0,
    "sealed_wait_ms": 100, "maintenance_wakeup_ms": 0, "target_page_bytes": 0,
    "max_delta_segments": 0, "window_size": None, "window_origin": 0,
    "delete_debt_threshold": 0.0, "drain_batch_limit": 0, "compaction": None,
    "adaptive": None, "min_ts": None, "mostly_ordered_default": True,
}


def format_ts(ts, unit):
    """``ts`` (an int in ``unit``) as a UTC date, ``YYYY-MM-DD HH:MM:SS[.fraction]``
    with the unit's digits; the plain int when the date is outside years 1-9999."""
    per_s = _PER_SECOND[unit]
    secs, frac = divmod(ts, per_s)
    try:
        when = _EPOCH + _dt.timedelta(seconds=secs)
    except OverflowError:
        return str(ts)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    if per_s > 1:
        text += "." + str(frac).rjust(len(str(per_s)) - 1, "0")
    return text


def changed_options(options, unit):
    """The given ``options`` whose values differ from the defaults, sorted by name."""
    defaults = dict(_DEFAULTS, window_size=3600 * _PER_SECOND[unit])
    return {name: value for name, value in sorted(options.items())
            if not (name in defaults and _same(value, defaults[name]))
            and not (name == "window_size" and value is None)}


def _same(value, default):
    """``value == default``, but a bool never equals an int."""
    return value == default and isinstance(value, bool) == isinstance(default, bool)


# ---------------------------------------------------------------- HTML view

# Scoped to .tl-view, and specific enough to win over the notebook's own table and
# <code> rules. No colours of its own: text inherits the theme's (light or dark);
# rules and muted text are translucent.
_STYLE = (
    "<style>"
    ".tl-view{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;"
    "line-height:1.45;color:inherit;background:transparent;max-width:60em}"
    ".tl-view .tl-dim{opacity:.65}"
    ".tl-view .tl-mono{font-family:var(--jp-code-font-family,monospace);font-size:12px}"
    ".tl-view table.tl-t{border-collapse:collapse;margin:4px 0 8px 0;color:inherit;"
    "background:transparent;table-layout:auto}"
    ".tl-view table.tl-t th,.tl-view table.tl-t td{padding:2px 12px 2px 0;text-align:left;"
    "border:0;border-bottom:1px solid rgba(128,128,128,.3);color:inherit;"
    "vertical-align:top;white-space:pre}"
    ".tl-view table.tl-t th{font-weight:600}"
    ".tl-view table.tl-t td.tl-num{text-align:right;font-variant-numeric:tabular-nums}"
    "</style>"
)


def _plural(n, word):
    return word if n == 1 else word + "s"


def _count(n, word):
    return f"{n:,} {_plural(n, word)}"


def _e(value):
    return html.escape(str(value), quote=True)


def repr_html(log, options):
    """``Timelog._repr_html_()``: a summary of the log as a small HTML fragment."""
    head = f"<b>timelog.Timelog</b> <span class='tl-dim'>time_unit={_e(log.time_unit)}</span>"
    if log.closed:
        return f"<div class='tl-view'>{_STYLE}{head} &mdash; <b>closed</b></div>"
    unit = log.time_unit
    n = len(log)
    parts = [_STYLE, "<div class='tl-view'>", head, "<br>",
             f"<b>{n:,}</b> {_plural(n, 'record')}"]
    lo, hi = log.min_ts(), log.max_ts()
    if lo is not None:
        parts.append(f", from {_mono(format_ts(lo, unit), lo)} to "
                     f"{_mono(format_ts(hi, unit), hi)} <span class='tl-dim'>UTC</span>")
    parts.append(_layers_table(log.stats()))
    parts.append(_options_line(log, options))
    parts.append(_preview(log, n))
    parts.append("</div>")
    return "".join(parts)


def _layers_table(stats):
    st, mem = stats["storage"], stats["memtable"]
    rows = [
        ("memtable", f"{_count(mem['active_records'], 'record')} "
                     f"({mem['ooo_records']:,} out of order)"),
        ("sealed runs", f"{mem['sealed_runs']:,}"),
        ("L0 segments", f"{st['segments_l0']:,}"),
        ("L1 segments", f"{st['segments_l1']:,} in {st['windows_l1']:,} windows"),
        ("tombstones", f"{st['tombstone_count']:,}"),
        ("engine memory", f"{st['engine_bytes'] / 2**20:,.1f} MiB"),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table class='tl-t'>{body}</table>"


def _options_line(log, options):
    shown = dict(changed_options(options, log.time_unit))
    shown.pop("time_unit", None)                 # already in the heading
    # The mode can change after construction (start/stop_maintenance).
    if log.maintenance_mode != _DEFAULTS["maintenance"]:
        shown["maintenance"] = log.maintenance_mode
    else:
        shown.pop("maintenance", None)
    if not shown:
        return "<div class='tl-dim'>default options</div>"
    text = ", ".join(f"{k}={_export.short_repr(v)}" for k, v in sorted(shown.items()))
    return f"<div>options: {_mono(text)}</div>"


def _preview(log, n):
    if n == 0:
        return "<div class='tl-dim'>(empty)</div>"
    with log.all() as it:
        first = it.next_batch(2 * PREVIEW if n <= 2 * PREVIEW else PREVIEW)
    last = []
    if n > 2 * PREVIEW:
        with reversed(log) as it:
            last = it.next_batch(PREVIEW)[::-1]
    unit = log.time_unit
    rows = [_row(ts, obj, unit) for ts, obj in first]
    if last:
        skipped = n - len(first) - len(last)
        if skipped > 0:
            rows.append(f"<tr><td class='tl-dim' colspan='3'>&hellip; {skipped:,} more "
                        f"{_plural(skipped, 'record')} &hellip;</td></tr>")
        rows.extend(_row(ts, obj, unit) for ts, obj in last)
    return ("<table class='tl-t'><tr><th>ts (UTC)</th><th>ts</th><th>value</th></tr>"
            + "".join(rows) + "</table>")


def _row(ts, obj, unit):
    return (f"<tr><td>{_mono(format_ts(ts, unit))}</td>"
            f"<td class='tl-num'>{_mono(ts)}</td>"
            f"<td>{_mono(_export.short_repr(obj))}</td></tr>")


def _mono(text, title=None):
    """``text`` escaped, in the code font; ``title`` becomes its tooltip."""
    tip = f" title='{_e(title)}'" if title is not None else ""
    return f"<span class='tl-mono'{tip}>{_e(text)}</span>"


# ---------------------------------------------------------------- iterator repr

def iter_repr(lo, hi, reverse, left, min_ts, max_ts):
    """``repr(TimelogIter)``: its range (half-open, ``None`` = unbounded), its
    direction, and the rows it has left (``left`` is None when its log is closed)."""
    if lo > hi:
        text = "<timelog.TimelogIter empty range"
    else:
        start = "None" if lo == min_ts else str(lo)
        stop = "None" if hi == max_ts else str(hi + 1)
        text = f"<timelog.TimelogIter [{start}, {stop})"
    if reverse:
        text += " reversed"
    if left is None:
        return text + " log closed>"
    return text + f" rows_left={left}>"


# ---------------------------------------------------------------- plot

# Round bucket widths from one second up, in seconds.
_CALENDAR = (1, 2, 5, 10, 15, 30,
             60, 120, 300, 600, 900, 1800,
             3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600,
             86400, 2 * 86400, 7 * 86400)
TARGET_BUCKETS = 100


def nice_every(span, unit, target=TARGET_BUCKETS):
    """A round bucket width (an int in ``unit``) that cuts ``span`` into about
    ``target`` buckets: 1/2/5 x 10^k of the unit below one second, round calendar
    durations from 1 s to 1 week, then 1/2/5 x 10^k days."""
    per_s = _PER_SECOND[unit]
    raw = max(span / target, 1)
    candidates = [m * 10 ** k for k in range(len(str(per_s)) - 1) for m in (1, 2, 5)
                  if m * 10 ** k < per_s]
    candidates += [s * per_s for s in _CALENDAR]
    candidates += [m * 10 ** k * 86400 * per_s for k in range(1, 12) for m in (1, 2, 5)]
    return min(candidates, key=lambda c: (abs(math.log(c / raw)), c))


def plot(log, every, t1, t2, ax):
    """``Timelog.plot()``: see its docstring."""
    _export.require("numpy", "Timelog.plot()", "plot")
    if ax is None:
        plt = _export.require("matplotlib.pyplot", "Timelog.plot()")
        _, ax = plt.subplots(figsize=(9, 3))
    else:
        _export.require("matplotlib", "Timelog.plot()")
    unit = _export.unit_of(log)
    if every is None:
        every = _auto_every(log, t1, t2, unit)
    elif isinstance(every, bool) or not isinstance(every, int):
        raise TypeError(f"plot(every=...) needs a positive int in time_unit ({unit}), "
                        f"not {type(every).__name__}")
    elif every <= 0:
        raise ValueError(f"plot(every=...) needs a positive int in time_unit ({unit}), got {every}")
    starts, counts = log.count_by(every, t1, t2)
    keep = counts > 0
    starts, counts = starts[keep], counts[keep]
    width_days = every / _PER_SECOND[unit] / 86400
    ax.bar(starts.view(f"datetime64[{unit}]"), counts, width=width_days, align="edge",
           linewidth=0, color="C0")
    mdates = _export.require("matplotlib.dates", "Timelog.plot()")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel(f"records per {_duration(every, unit)}")
    ax.set_xlabel("time (UTC)")
    if counts.size == 0:
        ax.set_title("no records")
    return ax


def _auto_every(log, t1, t2, unit):
    """The round width for the span of the records in ``[t1, t2)`` (the bounds are
    only passed on to the log, which parses them)."""
    with log.range(t1, t2) as it:
        first = it.next_batch(1)
    if not first:
        return _PER_SECOND[unit]
    last = log.max_ts() if t2 is None else log.prev_ts(t2)
    return nice_every(max(last - first[0][0], 0), unit)


_DURATIONS = ((86_400 * 10**9, "day"), (3_600 * 10**9, "h"), (60 * 10**9, "min"),
              (10**9, "s"), (10**6, "ms"), (10**3, "us"), (1, "ns"))


def _duration(every, unit):
    """``every`` (in ``unit``) as a short duration: ``"5 min"``, ``"20 ms"``, ``"3 days"``."""
    ns = every * (10**9 // _PER_SECOND[unit])
    size, name = next((size, name) for size, name in _DURATIONS if ns % size == 0)
    k = ns // size
    return _count(k, name) if name == "day" else f"{k:,} {name}"
