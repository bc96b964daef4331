"""What the cyclic garbage collector pays for a big Timelog.

A Timelog's tp_traverse visits every payload reference it owns, so every
collection that examines the log walks all of its records. This script measures
gc.collect() with one N-record log alive (default N = 10,000,000), for two
payload shapes:

  shared    every record stores the same int object
  distinct  every record stores its own int object (N small objects)

and prints one JSON line per figure (milliseconds, median of --repeat runs):

  full_empty     gc.collect() with no log (the payload list alive but frozen)
  full_log       gc.collect() with the log alive (it is in the oldest generation)
  young_old_log  gc.collect(0) with the log in the oldest generation (the usual case)
  young_new_log  the first gc.collect(0) after the log was built with no collection
                 in between (the log still in the youngest generation); rebuilt per run
  full_frozen    gc.collect() after gc.freeze() (the log in the permanent generation)

Run it against two builds to compare (e.g. PYTHONPATH=<other checkout>/src).
"""

import argparse
import array
import gc
import json
import statistics
import sys
import time

from timelog import Timelog


def timed(f, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out), out


def build(n, objs):
    log = Timelog(maintenance="disabled", busy_policy="silent")
    log.extend(array.array("q", range(n)), objs)
    log.flush()
    return log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--payload", choices=["shared", "distinct"], default="shared")
    args = ap.parse_args()
    n, rep = args.n, args.repeat
    import timelog

    info = {"payload": args.payload, "n": n, "python": sys.version.split()[0],
            "timelog": timelog.__file__}
    shared = 10**9 + 7
    objs = [shared] * n if args.payload == "shared" else list(range(10**9, 10**9 + n))
    # The payload list itself is a tracked container of n items: freeze it (and
    # everything else alive now) so that the figures below are the log's alone.
    gc.collect()
    gc.freeze()

    def report(name, med, runs):
        print(json.dumps({**info, "figure": name, "median_ms": round(med, 3),
                          "runs_ms": [round(x, 3) for x in runs]}), flush=True)

    report("full_empty", *timed(gc.collect, rep))

    log = build(n, objs)
    gc.collect()
    gc.collect()                       # the log is in the oldest generation now
    assert len(log) == n
    report("full_log", *timed(gc.collect, rep))
    report("young_old_log", *timed(lambda: gc.collect(0), rep))
    log.close()
    del log

    young = []
    for _ in range(rep):
        gc.collect()
        gc.disable()                   # no automatic collection while it is built
        log = build(n, objs)
        t0 = time.perf_counter()
        gc.collect(0)
        young.append((time.perf_counter() - t0) * 1e3)
        gc.enable()
        log.close()
        del log
    report("young_new_log", statistics.median(young), young)

    log = build(n, objs)
    gc.collect()
    gc.freeze()
    report("full_frozen", *timed(gc.collect, rep))
    gc.unfreeze()
    log.close()


if __name__ == "__main__":
    main()
