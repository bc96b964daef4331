"""Benchmark workloads.

Each workload is a small function ``run(lib, p, rec)`` executed inside the process of
one library: ``lib`` is an adapter from ``adapters.py``, ``p`` the ``Params`` and
``rec`` a ``Recorder`` that collects timings and correctness checks. Data generation
and log construction are never timed; only the operation a user would wait for is.
A workload may also have a *floor*: the cheapest plain-Python operation producing the
same result (``list(pairs)``, ``dict.get``, ``zip``), run in its own process too.

Every workload checks what it measured (row counts, identity of the returned payload
objects), so a broken library or adapter fails loudly instead of timing nothing.
"""

from __future__ import annotations

import ctypes
import gc
from bisect import bisect_left
import os
import random
import time
from dataclasses import asdict, dataclass, field

BASE_TS = 1_700_000_000_000  # a realistic epoch-millisecond origin (not small ints)
STEP = 10  # spacing of consecutive timestamps
# A few preallocated payload objects, shared by all records: payload creation is never
# timed and payload memory never counted.
PAYLOADS = tuple(object() for _ in range(8))
CHUNK = 1_000_000  # records per extend() call when building large logs

clock = time.perf_counter  # replaced by time.process_time under --clock cpu
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class Params:
    """Workload sizes. Defaults are the full run; ``smoke()`` is the CI size."""

    n: int = 1_000_000  # records of most workloads
    repeats: int = 5  # timed repetitions per process (medians are reported)
    lookup_n: int = 10_000_000  # log size of the point-lookup workload
    lookups: int = 100_000  # point lookups per repetition
    ranges: int = 10_000  # range queries per repetition
    range_len: int = 100  # records per range query
    deletes: int = 10_000  # range deletes per repetition
    delete_width: int = 10  # records removed by one range delete
    stream_chunk: int = 10_000  # records per extend() in the retention stream
    window: int = 100_000  # records kept by the retention stream
    mem_chunk: int = 4_096  # records per extend() in the memory workload
    scale_sizes: list = field(default_factory=lambda: [1_000_000, 5_000_000, 20_000_000])
    size: int = 0  # the scaling size handled by one process
    clock: str = "wall"  # "wall" (what the user waits for) or "cpu" (process CPU time)
    seed: int = 20240601

    @classmethod
    def smoke(cls) -> "Params":
        return cls(n=2_000, repeats=1, lookup_n=5_000, lookups=500, ranges=200,
                   deletes=100, stream_chunk=200, window=1_000, mem_chunk=256,
                   scale_sizes=[1_000, 2_000, 4_000])

    def to_dict(self) -> dict:
        return asdict(self)


class CheckFailed(AssertionError):
    pass


class Recorder:
    """Collects timing samples (seconds), operation counts and checks."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.ops: dict[str, int] = {}
        self.units: dict[str, str] = {}
        self.checks: list[str] = []
        self.info: dict = {}

    def add(self, metric: str, seconds: float, ops: int, unit: str = "s") -> None:
        self.samples.setdefault(metric, []).append(seconds)
        self.ops[metric] = ops
        self.units[metric] = unit

    def check(self, what: str, got, want) -> None:
        if got != want:
            raise CheckFailed(f"{what}: got {got!r}, want {want!r}")
        self.checks.append(f"{what} == {want!r}")

    def to_dict(self) -> dict:
        return {"samples": self.samples, "ops": self.ops, "units": self.units,
                "checks": self.checks, "info": self.info}


WORKLOADS: dict[str, "Workload"] = {}


@dataclass
class Workload:
    name: str
    title: str
    run: object
    floor: object = None
    floor_title: str = ""
    per_size: bool = False  # one process per scaling size
    fresh_process_per_repeat: bool = False  # one process per repetition (memory)


def workload(name: str, title: str, **kw):
    def register(fn):
        WORKLOADS[name] = Workload(name, title, fn, **kw)
        return fn
    return register


def floor(name: str, title: str):
    def register(fn):
        WORKLOADS[name].floor = fn
        WORKLOADS[name].floor_title = title
        return fn
    return register


# --- data -------------------------------------------------------------------------

def ts_of(i: int) -> int:
    return BASE_TS + i * STEP


def make_ts(n: int, start: int = 0) -> list[int]:
    return list(range(ts_of(start), ts_of(start + n), STEP))


def make_objs(n: int, start: int = 0) -> list:
    return [PAYLOADS[i & 7] for i in range(start, start + n)]


def make_pairs(n: int, start: int = 0) -> list[tuple]:
    return list(zip(make_ts(n, start), make_objs(n, start)))


def make_ooo_pairs(n: int, rng: random.Random, fraction: float = 0.05) -> list[tuple]:
    """In-order pairs where ``fraction`` of them arrive late (up to 1000 steps)."""
    pairs = make_pairs(n)
    for i in rng.sample(range(n), int(n * fraction)):
        pairs[i] = (pairs[i][0] - rng.randint(1, 1000) * STEP, pairs[i][1])
    return pairs


def build(lib, n: int, profile: str = "bulk"):
    """A settled (flushed) log holding records 0..n-1, built in CHUNK-sized extends."""
    log = lib.new(profile)
    for start in range(0, n, CHUNK):
        log.extend(make_pairs(min(CHUNK, n - start), start))
    lib.settle(log)
    return log


def random_keys(n: int, count: int, rng: random.Random) -> list[int]:
    return [ts_of(rng.randrange(n)) for _ in range(count)]


def quiet() -> None:
    """Start of a timed region: collect now, keep the cyclic GC out of the timing."""
    gc.collect()
    gc.disable()


def loud() -> None:
    gc.enable()


# --- ingest -------------------------------------------------------------------------

def _timed_ingest(lib, p, rec, pairs, how: str) -> None:
    for _ in range(p.repeats):
        log = lib.new("bulk")
        quiet()
        t0 = clock()
        if how == "extend":
            log.extend(pairs)
        elif how == "append":
            append = log.append
            for ts, obj in pairs:
                append(ts, obj)
        else:
            for ts, obj in pairs:
                log[ts] = obj
        t1 = clock()
        log.flush()
        t2 = clock()
        loud()
        rec.add(how, t1 - t0, len(pairs))
        rec.add(f"{how}+flush", t2 - t0, len(pairs))
        rec.check("len(log) after ingest", len(log), len(pairs))
        lib.close(log)


@workload("extend_inorder", "extend(list of (ts, obj)), in order")
def extend_inorder(lib, p, rec):
    _timed_ingest(lib, p, rec, make_pairs(p.n), "extend")


@floor("extend_inorder", "list(pairs)")
def extend_inorder_floor(p, rec):
    pairs = make_pairs(p.n)
    for _ in range(p.repeats):
        quiet()
        t0 = clock()
        copy = list(pairs)
        t1 = clock()
        loud()
        rec.add("extend", t1 - t0, p.n)
        rec.add("extend+flush", t1 - t0, p.n)
        rec.check("len(list(pairs))", len(copy), p.n)
        del copy


@workload("extend_ooo5", "extend(list of (ts, obj)), 5% out of order")
def extend_ooo5(lib, p, rec):
    pairs = make_ooo_pairs(p.n, random.Random(p.seed))
    _timed_ingest(lib, p, rec, pairs, "extend")
    # Order check on the last build: a stable sort by timestamp is the reference.
    log = lib.new("bulk")
    log.extend(pairs)
    log.flush()
    got = [ts for ts, _ in log]
    rec.check("scan order after ooo extend", got == sorted(ts for ts, _ in pairs), True)
    lib.close(log)


@workload("append_loop", "append(ts, obj) loop")
def append_loop(lib, p, rec):
    _timed_ingest(lib, p, rec, make_pairs(p.n), "append")


@workload("setitem_loop", "log[ts] = obj loop")
def setitem_loop(lib, p, rec):
    _timed_ingest(lib, p, rec, make_pairs(p.n), "setitem")


# --- reads --------------------------------------------------------------------------

@workload("point_lookup", "log.at(ts) point lookups (lookup_n records)")
def point_lookup(lib, p, rec):
    rng = random.Random(p.seed)
    log = build(lib, p.lookup_n)
    keys = random_keys(p.lookup_n, p.lookups, rng)
    for _ in range(p.repeats):
        quiet()
        t0 = clock()
        for k in keys:
            log.at(k)
        t1 = clock()
        loud()
        rec.add("lookup", t1 - t0, len(keys))
    for k in keys[:1000]:
        got = log.at(k)
        rec.check("log.at(ts) is [the stored object]",
                  len(got) == 1 and got[0] is PAYLOADS[((k - BASE_TS) // STEP) & 7], True)
    rec.check("log.at(missing ts)", log.at(BASE_TS - 1), [])
    rec.info["records"] = len(log)
    lib.close(log)


@floor("point_lookup", "dict.get of the same key")
def point_lookup_floor(p, rec):
    rng = random.Random(p.seed)
    d = {}
    for start in range(0, p.lookup_n, CHUNK):
        d.update(make_pairs(min(CHUNK, p.lookup_n - start), start))
    keys = random_keys(p.lookup_n, p.lookups, rng)
    for _ in range(p.repeats):
        quiet()
        t0 = clock()
        for k in keys:
            d.get(k)
        t1 = clock()
        loud()
        rec.add("lookup", t1 - t0, len(keys))
    rec.check("dict.get", all(d.get(k) is not None for k in keys), True)


@workload("range_100", "list(log[a:b]) of ~100 records")
def range_100(lib, p, rec):
    rng = random.Random(p.seed)
    log = build(lib, p.n)
    starts = [rng.randrange(p.n - p.range_len) for _ in range(p.ranges)]
    bounds = [(ts_of(s), ts_of(s + p.range_len)) for s in starts]
    for _ in range(p.repeats):
        rows = 0
        quiet()
        t0 = clock()
        for a, b in bounds:
            rows += len(list(log[a:b]))
        t1 = clock()
        loud()
        rec.add("range query", t1 - t0, len(bounds))
        rec.check("rows returned by all range queries", rows, p.ranges * p.range_len)
        quiet()
        t0 = clock()
        for a, b in bounds:
            log[a:b]            # the iterator (snapshot, pin) is made and dropped unread
        t1 = clock()
        loud()
        rec.add("per-query overhead", t1 - t0, len(bounds))
    first = list(log[bounds[0][0]:bounds[0][1]])[0]
    rec.check("first row of a range", (first[0], first[1] is PAYLOADS[starts[0] & 7]),
              (bounds[0][0], True))
    lib.close(log)


@floor("range_100", "stored-tuple slice; fresh floor: list(zip(range(a, b, STEP), objs[i:j]))")
def range_100_floor(p, rec):
    """Two floors of a range query, measured side by side in one process.

    ``range query``: bisect the sorted timestamps for both ends and slice the list of
    stored ``(ts, obj)`` tuples: no object is created per row (what a container of
    tuples pays). ``range query (fresh floor)``: the same bisects, then
    ``list(zip(range(a, b, STEP), objs[i:j]))``, which creates per row one new ``int``
    (timestamps are far above the small-int cache) and one new 2-tuple kept by the
    list: the objects a log storing int64 timestamps must create for each row it returns.
    """
    rng = random.Random(p.seed)
    ts_list, objs = make_ts(p.n), make_objs(p.n)
    pairs = list(zip(ts_list, objs))
    starts = [rng.randrange(p.n - p.range_len) for _ in range(p.ranges)]
    bounds = [(ts_of(s), ts_of(s + p.range_len)) for s in starts]
    for _ in range(p.repeats):
        rows = fresh_rows = 0
        quiet()
        t0 = clock()
        for a, b in bounds:
            rows += len(pairs[bisect_left(ts_list, a):bisect_left(ts_list, b)])
        t1 = clock()
        for a, b in bounds:
            fresh_rows += len(list(zip(range(a, b, STEP), objs[bisect_left(ts_list, a):
                                                                bisect_left(ts_list, b)])))
        t2 = clock()
        loud()
        rec.add("range query", t1 - t0, len(bounds))
        rec.add("range query (fresh floor)", t2 - t1, len(bounds))
        rec.check("rows returned by all range queries", (rows, fresh_rows),
                  (p.ranges * p.range_len, p.ranges * p.range_len))


@workload("full_scan", "full scan: for ts, obj in log")
def full_scan(lib, p, rec):
    log = build(lib, p.n)
    rec.check("rows of a full scan", sum(1 for _ in log), p.n)
    for _ in range(p.repeats):
        ts = None
        quiet()
        t0 = clock()
        for ts, obj in log:
            pass
        t1 = clock()
        loud()
        rec.add("scan", t1 - t0, p.n)
        rec.check("last timestamp of the scan", ts, ts_of(p.n - 1))
    lib.close(log)


@floor("full_scan", "for ts, obj in zip(ts_list, objs); fresh floor: zip(range(...), objs)")
def full_scan_floor(p, rec):
    """Two floors of a full scan, measured side by side in one process.

    ``scan``: ``for ts, obj in zip(ts_list, objs)`` over existing ints (zip recycles
    its result tuple, so nothing is created per row). ``scan (fresh floor)``:
    ``for row in zip(range(ts0, ts_end, STEP), objs): ts, obj = row``, which creates
    per row one new ``int`` (from the range iterator) and one new 2-tuple (zip cannot
    recycle it, ``row`` still holds the previous one): the objects a scan of int64
    timestamps creates when the caller keeps its rows.
    """
    ts_list, objs = make_ts(p.n), make_objs(p.n)
    lo, hi = ts_of(0), ts_of(p.n)
    rec.check("rows of zip", sum(1 for _ in zip(ts_list, objs)), p.n)
    for _ in range(p.repeats):
        ts = fresh = None
        quiet()
        t0 = clock()
        for ts, obj in zip(ts_list, objs):
            pass
        t1 = clock()
        for row in zip(range(lo, hi, STEP), objs):
            fresh, obj = row
        t2 = clock()
        loud()
        rec.add("scan", t1 - t0, p.n)
        rec.add("scan (fresh floor)", t2 - t1, p.n)
        rec.check("last timestamp of the scan", (ts, fresh), (ts_of(p.n - 1),) * 2)


# --- deletes and retention ----------------------------------------------------------

@workload("delete_scan", "range deletes, then full scan")
def delete_scan(lib, p, rec):
    rng = random.Random(p.seed)
    # Non-overlapping ranges, one per slot, each removing exactly `width` records,
    # issued in random order.
    deletes = min(p.deletes, p.n // 4)
    slot = p.n // deletes
    width = max(1, min(p.delete_width, slot // 2))
    spans = []
    for j in range(deletes):
        s = j * slot + rng.randrange(slot - width)
        spans.append((ts_of(s), ts_of(s + width)))
    rng.shuffle(spans)
    left = p.n - deletes * width
    rec.info.update(deletes=deletes, width=width)
    for _ in range(p.repeats):
        log = build(lib, p.n)
        delete = log.delete
        quiet()
        t0 = clock()
        for a, b in spans:
            delete(a, b)
        t1 = clock()
        for ts, obj in log:
            pass
        t2 = clock()
        loud()
        rec.add("deletes", t1 - t0, deletes)
        rec.add("scan after deletes", t2 - t1, left)
        rec.add("deletes+scan", t2 - t0, p.n)
        rec.check("rows of the scan after deletes", sum(1 for _ in log), left)
        rec.check("len(log) after deletes", len(log), left)
        lib.close(log)


@workload("retention", "rolling stream: extend chunks + cutoff, keep a window")
def retention(lib, p, rec):
    pairs = make_pairs(p.n)
    chunks = [pairs[i:i + p.stream_chunk] for i in range(0, p.n, p.stream_chunk)]
    window = min(p.window, p.n)
    rec.info.update(chunk=p.stream_chunk, window=window)
    for _ in range(p.repeats):
        log = lib.new("stream")
        end = 0
        quiet()
        t0 = clock()
        for chunk in chunks:
            log.extend(chunk)
            end += len(chunk)
            if end > window:
                log.cutoff(ts_of(end - window))
        log.flush()
        t1 = clock()
        loud()
        rec.add("stream+cutoff", t1 - t0, p.n)
        rec.check("len(log) after the stream", len(log), window)
        rec.check("oldest record kept", next(iter(log))[0], ts_of(p.n - window))
        lib.close(log)


# --- memory -------------------------------------------------------------------------

def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _settle_heap() -> None:
    gc.collect()
    try:  # hand freed malloc memory back to the OS so RSS counts live bytes only
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@workload("memory", "engine bytes per record after compaction (RSS delta)",
          fresh_process_per_repeat=True)
def memory(lib, p, rec):
    """RSS growth of a fresh process while it stores n records, payloads excluded.

    The records are fed in small chunks that are freed after each extend(), so the
    input never accumulates; all records share PAYLOADS, so payload memory is zero.
    What remains is what the container itself keeps: for timelog the engine, for
    SortedKeyList its lists plus the (ts, obj) tuples and int objects it holds.
    """
    log = lib.new("bulk")
    make_pairs(p.mem_chunk)  # warm the allocator with one chunk, then measure
    _settle_heap()
    rss0 = _rss_bytes()
    half = None
    for start in range(0, p.n, p.mem_chunk):
        chunk = make_pairs(min(p.mem_chunk, p.n - start), start)
        log.extend(chunk)
        del chunk
        if half is None and start + p.mem_chunk >= p.n // 2:
            lib.settle(log)
            _settle_heap()
            half = (_rss_bytes(), start + p.mem_chunk)
    lib.settle(log)
    _settle_heap()
    rss1 = _rss_bytes()
    rec.check("len(log)", len(log), p.n)
    # "seconds" here are bytes per record: the harness treats every metric alike.
    rec.add("bytes/record", (rss1 - rss0) / p.n, p.n, unit="B")
    rec.add("bytes/record (marginal, n/2->n)", (rss1 - half[0]) / (p.n - half[1]), p.n,
            unit="B")
    stats = lib.stats(log)
    if stats is not None:
        rec.info["stats"] = stats
        reported = _find(stats, "engine_bytes")
        if reported is not None:  # the engine's own count, as a cross-check of RSS
            rec.add("bytes/record (stats engine_bytes)", reported / p.n, p.n, unit="B")
    lib.close(log)


def _find(tree, key):
    """The value of ``key`` anywhere in a nested dict, or None."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for v in tree.values():
            found = _find(v, key)
            if found is not None:
                return found
    return None


# --- scaling ------------------------------------------------------------------------

@workload("scaling", "growth: ingest, scan and lookups at each size", per_size=True)
def scaling(lib, p, rec):
    n = p.size
    rng = random.Random(p.seed)
    chunks = [make_pairs(min(CHUNK, n - s), s) for s in range(0, n, CHUNK)]
    keys = random_keys(n, p.lookups, rng)
    for _ in range(p.repeats):
        log = lib.new("bulk")
        quiet()
        t0 = clock()
        for chunk in chunks:
            log.extend(chunk)
        log.flush()
        t1 = clock()
        ts = None
        for ts, obj in log:
            pass
        t2 = clock()
        for k in keys:
            log.at(k)
        t3 = clock()
        loud()
        rec.add("ingest (extend+flush)", t1 - t0, n)
        rec.add("scan", t2 - t1, n)
        rec.add("lookup", t3 - t2, len(keys))
        rec.check("len(log)", len(log), n)
        rec.check("last timestamp of the scan", ts, ts_of(n - 1))
        lib.close(log)


@floor("scaling", "list(chunk) per input chunk, zip scan, dict.get lookups")
def scaling_floor(p, rec):
    n = p.size
    rng = random.Random(p.seed)
    chunks = [make_pairs(min(CHUNK, n - s), s) for s in range(0, n, CHUNK)]
    keys = random_keys(n, p.lookups, rng)
    ts_list, objs = make_ts(n), make_objs(n)
    d = {}
    for chunk in chunks:
        d.update(chunk)
    for _ in range(p.repeats):
        quiet()
        t0 = clock()
        copies = [list(chunk) for chunk in chunks]
        t1 = clock()
        ts = None
        for ts, obj in zip(ts_list, objs):
            pass
        t2 = clock()
        for k in keys:
            d.get(k)
        t3 = clock()
        loud()
        rec.add("ingest (extend+flush)", t1 - t0, n)
        rec.add("scan", t2 - t1, n)
        rec.add("lookup", t3 - t2, len(keys))
        rec.check("records copied", sum(map(len, copies)), n)
        rec.check("last timestamp of the scan", ts, ts_of(n - 1))
        del copies
