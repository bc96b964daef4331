"""Analysis reads: timestamps() / to_numpy() / count_by() vs the Python-level ways.

    python benchmarks/bench_analysis.py             # 1M records (count_by: 10M) x 7 repeats
    python benchmarks/bench_analysis.py --smoke     # 10k / 100k records, 1 repeat

Side by side in one run, median of the repeats (each after gc.collect(); the logs
are built once, flushed and compacted, plus a tail left in the memtable):

- ``log.timestamps()`` vs ``[t for t, _ in log]`` (target: >= 50x faster) and vs
  ``numpy.copy`` of an int64 array of the same length (target: within 3x);
- ``log.to_numpy()`` vs ``numpy.array(list(log), dtype=object)`` (target: >= 10x);
- ``log.count_by(every)`` with 1,000 buckets over 10M records (time reported).

Each result is checked against its baseline. Needs numpy; ``--json`` writes the
figures to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from bench_export import timed      # median of repeats, each after gc.collect()

BASE = 1_700_000_000_000


def build(n):
    from timelog import Timelog
    log = Timelog(maintenance="disabled", busy_policy="flush", memtable_max_bytes=16 << 20)
    tail = min(10_000, n // 10)
    body = n - tail
    payloads = [f"event-{i}" for i in range(n)]
    log.extend(range(BASE, BASE + body), payloads[:body])
    log.flush()
    log.compact()
    while log.maint_step():
        pass
    log.extend(range(BASE + body, BASE + n), payloads[body:])   # stays in the memtable
    return log


def fmt(s):
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--count-n", type=int, default=10_000_000, help="records for count_by")
    ap.add_argument("--buckets", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--smoke", action="store_true", help="small sizes, 1 repeat")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    if args.smoke:
        args.n, args.count_n, args.repeats = 10_000, 100_000, 1
    import numpy as np

    rows = []     # (measurement, seconds, baseline, seconds, ratio label)
    log = build(args.n)
    fast, ts = timed(log.timestamps, args.repeats)
    slow, lst = timed(lambda: [t for t, _ in log], args.repeats)
    assert ts.tolist() == lst, "timestamps() differs from iteration"
    rows.append(("timestamps()", fast, "[t for t, _ in log]", slow, f"{slow / fast:.0f}x faster (target >= 50x)"))
    src = np.arange(args.n, dtype=np.int64)
    copy_s, _ = timed(lambda: np.copy(src), args.repeats)
    rows.append(("timestamps()", fast, "numpy.copy(int64 array)", copy_s,
                 f"{fast / copy_s:.1f}x the copy (target <= 3x)"))
    del ts, lst, src

    fast, (ts, objs) = timed(log.to_numpy, args.repeats)
    slow, arr = timed(lambda: np.array(list(log), dtype=object), args.repeats)
    assert arr.shape == (args.n, 2) and arr[0, 1] is objs[0] and arr[-1, 1] is objs[-1]
    assert ts[-1] == arr[-1, 0]
    rows.append(("to_numpy()", fast, "numpy.array(list(log), dtype=object)", slow,
                 f"{slow / fast:.0f}x faster (target >= 10x)"))
    del ts, objs, arr
    log.close()

    from timelog import Timelog
    big = Timelog(maintenance="disabled", busy_policy="flush", memtable_max_bytes=64 << 20)
    chunk = 1_000_000
    none = [None] * chunk
    for start in range(0, args.count_n, chunk):
        k = min(chunk, args.count_n - start)
        big.extend(range(BASE + start, BASE + start + k), none[:k])
    big.flush()
    big.compact()
    while big.maint_step():
        pass
    every = -(-args.count_n // args.buckets)
    cb_s, (starts, counts) = timed(lambda: big.count_by(every), args.repeats)
    assert int(counts.sum()) == args.count_n and len(starts) <= args.buckets + 1
    rows.append((f"count_by() {len(starts):,} buckets, {args.count_n:,} records", cb_s, "", 0.0, ""))
    big.close()

    print(f"{args.n:,} records (str payloads; count_by: {args.count_n:,}), median of "
          f"{args.repeats}; Python {platform.python_version()}, {os.cpu_count()} cores\n")
    print("| measurement | time | baseline | time | ratio |")
    print("|---|---:|---|---:|---|")
    for name, f, base, s, ratio in rows:
        print(f"| `{name}` | {fmt(f)} | {base and f'`{base}`'} | {fmt(s) if base else ''} | {ratio} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n": args.n, "count_n": args.count_n, "repeats": args.repeats,
                       "python": sys.version.split()[0], "machine": platform.machine(),
                       "results": [dict(zip(("measurement", "s", "baseline", "baseline_s", "ratio"), r))
                                   for r in rows]}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
