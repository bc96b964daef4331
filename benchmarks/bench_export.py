"""Exports: Timelog.to_pandas() / to_arrow() vs building the same objects from list(log).

    python benchmarks/bench_export.py             # 1M records x 5 repeats
    python benchmarks/bench_export.py --smoke     # 10k records, 1 repeat: checks the code works

Side by side, median of the repeats (each in a fresh GC state, the log built once):

- ``log.to_pandas()`` vs ``pandas.Series`` of the payloads on a ``DatetimeIndex``
  built from ``rows = list(log)`` (the list and the two columns included);
- ``log.to_arrow()`` vs ``pyarrow.table`` of the same two columns from ``list(log)``
  (skipped without pyarrow).

Each result is checked against the other (length, index, identity of the first
and last payloads). Which read the exports used is printed: the columnar
``Timelog.to_numpy()`` when the log has it, else the fallback over an iterator.
Needs numpy and pandas (``pip install 'timelog[pandas]'``); writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time


def build(n):
    from timelog import Timelog
    log = Timelog(maintenance="disabled", busy_policy="flush", memtable_max_bytes=16 << 20)
    payloads = [f"event-{i}" for i in range(n)]
    log.extend(range(1_700_000_000_000, 1_700_000_000_000 + n), payloads)
    log.flush()
    return log


def series_from_rows(log, pd, np):
    rows = list(log)
    ts = np.fromiter((t for t, _ in rows), dtype=np.int64, count=len(rows))
    index = pd.DatetimeIndex(ts.view(f"datetime64[{log.time_unit}]"), name="ts")
    return pd.Series([o for _, o in rows], index=index, dtype=object)


def table_from_rows(log, pa):
    rows = list(log)
    return pa.table({"ts": pa.array([t for t, _ in rows], type=pa.timestamp(log.time_unit)),
                     "value": pa.array([o for _, o in rows])})


def timed(fn, repeats):
    samples, out = [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), out


def check_series(a, b):
    assert len(a) == len(b) and (a.index == b.index).all(), "indexes differ"
    assert a.iloc[0] is b.iloc[0] and a.iloc[-1] is b.iloc[-1], "payloads differ"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="10k records, 1 repeat")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    if args.smoke:
        args.n, args.repeats = 10_000, 1
    import numpy as np
    import pandas as pd
    try:
        import pyarrow as pa
    except ImportError:
        pa = None

    log = build(args.n)
    read = "Timelog.to_numpy()" if hasattr(log, "to_numpy") else "fallback over an iterator"
    results = []
    fast, a = timed(log.to_pandas, args.repeats)
    slow, b = timed(lambda: series_from_rows(log, pd, np), args.repeats)
    check_series(a, b)
    results.append(("to_pandas()", "Series from list(log)", fast, slow))
    del a, b
    if pa is not None:
        fast, a = timed(log.to_arrow, args.repeats)
        slow, b = timed(lambda: table_from_rows(log, pa), args.repeats)
        assert a.equals(b), "tables differ"
        results.append(("to_arrow()", "pyarrow.table from list(log)", fast, slow))
        del a, b
    log.close()

    print(f"{args.n:,} records (str payloads), median of {args.repeats}; "
          f"columns read by: {read}\n")
    print("| export | s | baseline | s | speed-up |")
    print("|---|---:|---|---:|---:|")
    for name, base, fast, slow in results:
        print(f"| `{name}` | {fast:.3f} | {base} | {slow:.3f} | {slow / fast:.1f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "repeats": args.repeats, "read": read,
                       "python": sys.version.split()[0], "machine": platform.machine(),
                       "results": [dict(zip(("export", "baseline", "s", "baseline_s"), r))
                                   for r in results]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
