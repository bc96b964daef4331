"""ShardedTimelog (timelog.distributed) on 1 and 2 Dask workers vs a local Timelog.

    python benchmarks/bench_distributed.py            # 200k records, 3 repeats
    python benchmarks/bench_distributed.py --smoke    # 5k records, 1 repeat: checks the code works

For each setup (a local ``Timelog``; a ``ShardedTimelog`` on a ``LocalCluster`` of 1
and of 2 worker processes, one thread each) and each batch size:

- ingest: ``extend(timestamps, objects)`` of ``n`` records in batches of that size
  (a numpy int64 timestamp column, string payloads), records per second;
- range read: ``log.range(None, None)`` drained with ``next_batch(batch)``, records
  per second (for the sharded log ``prefetch_rows`` is the batch size too).

Figures are medians of the repeats, each on a fresh log. The sharded log uses
buckets of 10 000 timestamps (one record per timestamp), so a read walks
``n / 10 000`` buckets. Run with the source tree's ``src`` on ``PYTHONPATH`` (the
workers must import the same timelog). Needs ``pip install 'timelog[distributed]'``;
writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

BUCKET = 10_000


def run_once(make, n, batch):
    import numpy as np
    ts = np.arange(n, dtype=np.int64)
    objs = [f"event-{i}" for i in range(n)]
    log = make(batch)
    try:
        t0 = time.perf_counter()
        for a in range(0, n, batch):
            log.extend(ts[a:a + batch], objs[a:a + batch])
        ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        it = log.range(None, None)
        got = 0
        while rows := it.next_batch(batch):
            got += len(rows)
        read = time.perf_counter() - t0
        if got != n:
            raise AssertionError(f"read {got} records, wrote {n}")
    finally:
        log.close()
    return n / ingest, n / read


def measure(name, make, n, batches, repeats, results):
    for batch in batches:
        samples = [run_once(make, n, batch) for _ in range(repeats)]
        row = {"setup": name, "batch": batch, "n": n,
               "ingest_per_s": statistics.median(s[0] for s in samples),
               "read_per_s": statistics.median(s[1] for s in samples)}
        results.append(row)
        print(f"{name:>10}  batch {batch:>7,}  ingest {row['ingest_per_s']:>12,.0f}/s"
              f"  read {row['read_per_s']:>12,.0f}/s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    n, repeats = (5_000, 1) if args.smoke else (args.n, args.repeats)
    batches = [1_000, 10_000, 100_000] if not args.smoke else [1_000]

    from distributed import Client, LocalCluster
    from timelog import Timelog
    from timelog.distributed import ShardedTimelog

    results = []
    measure("local", lambda batch: Timelog(maintenance="background"), n, batches, repeats, results)
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            measure(f"{workers} worker" + ("s" if workers > 1 else ""),
                    lambda batch: ShardedTimelog(client, bucket=BUCKET, prefetch_rows=batch),
                    n, batches, repeats, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
