"""Reference-count balance over many operations."""

import gc
import random
import sys

import pytest

from timelog import Timelog, TimelogError

try:
    from model import Obj, refs, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import Obj, refs, run_maintenance


def test_no_refcount_leak_over_100k_ops():
    rnd = random.Random(1234)
    pool = [Obj(i) for i in range(64)]
    base = refs(pool)
    sentinel = Obj("sentinel")
    sbase = sys.getrefcount(sentinel)
    log = Timelog(
        maintenance="disabled",
        busy_policy="silent",
        memtable_max_bytes=16384,
        drain_batch_limit=7,
    )
    ops = 0
    its = []
    while ops < 100_000:
        r = rnd.random()
        ts = rnd.randrange(0, 2000)
        o = pool[rnd.randrange(len(pool))]
        if r < 0.35:
            log.append(ts, o)
            ops += 1
        elif r < 0.45:
            log[ts] = o
            ops += 1
        elif r < 0.50:
            log.extend([(ts + k, pool[k % 64]) for k in range(50)])
            ops += 50
        elif r < 0.52:
            log.extend(range(ts, ts + 20), [pool[k] for k in range(20)])
            ops += 20
        elif r < 0.55:
            try:
                log.extend([(ts, sentinel), (ts + 1, sentinel), (1.5, sentinel)])
            except TypeError:
                pass
            try:
                log.extend([ts, ts + 1], [sentinel])
            except ValueError:
                pass
            ops += 2
        elif r < 0.65:
            x = log.at(ts)
            del x
            ops += 1
        elif r < 0.70:
            rows = list(log[ts : ts + 30])
            del rows
            ops += 1
        elif r < 0.73:
            it = log.since(ts)
            it.next_batch(rnd.randrange(0, 20))
            if rnd.random() < 0.3:
                its.append(it)  # keep a few live pins for a while
            del it
            ops += 1
        elif r < 0.75 and its:
            its.pop(0).close()
            ops += 1
        elif r < 0.83:
            log.delete(ts)
            ops += 1
        elif r < 0.86:
            log.delete(ts, ts + rnd.randrange(0, 200))
            ops += 1
        elif r < 0.87:
            log.cutoff(rnd.randrange(0, 300))
            ops += 1
        elif r < 0.90:
            log.flush()
            ops += 1
        elif r < 0.93:
            log.maint_step()
            ops += 1
        elif r < 0.935:
            log.compact()
            ops += 1
        else:
            _ = ts in log
            log.next_ts(ts)
            log.prev_ts(ts)
            ops += 1
    del o  # the loop variable holds a reference to one pool object
    assert sys.getrefcount(sentinel) == sbase
    for it in its:
        it.close()
    del its
    gc.collect()
    # The log holds exactly one reference per visible record plus queued/retired ones.
    del log[:]
    run_maintenance(log)
    for _ in range(10_000):
        if not log.retired_queue_len:
            break
        log.flush()
    assert log.retired_queue_len == 0
    assert refs(pool) == base, "payload refs not released after delete + maintenance + drain"
    h = log.stats()["handles"]
    assert h["retired_count"] == h["drained_count"]
    log.close()
    assert refs(pool) == base
    assert sys.getrefcount(sentinel) == sbase


def test_refcount_of_visible_records_exact(make_log):
    rnd = random.Random(5)
    pool = [Obj(i) for i in range(32)]
    base = refs(pool)
    log = make_log(busy_policy="silent", memtable_max_bytes=8192)
    for i in range(20_000):
        log.append(rnd.randrange(1000), pool[i % 32])
        if i % 3000 == 0:
            log.flush()
    log.delete(100, 300)
    run_maintenance(log)
    while log.retired_queue_len:
        log.flush()
    counts = [0] * 32
    for _, o in log:
        counts[o.n] += 1
    del o
    now = refs(pool)
    assert [now[i] - base[i] for i in range(32)] == counts


def test_no_leak_in_error_paths():
    o = Obj("x")
    base = sys.getrefcount(o)
    with Timelog(maintenance="disabled") as log:
        for _ in range(5000):
            for bad in (1.5, True, None, "1", 2**64):
                try:
                    log.append(bad, o)
                except (TypeError, OverflowError):
                    pass
                try:
                    log[bad] = o
                except (TypeError, OverflowError):
                    pass
            try:
                log.extend([(1, o), (2,)])
            except (TypeError, ValueError):
                pass
    assert sys.getrefcount(o) == base
    log2 = Timelog(maintenance="disabled")
    log2.close()
    for _ in range(1000):
        with pytest.raises(TimelogError):
            log2.append(1, o)
        with pytest.raises(TimelogError):
            log2.extend([(1, o)])
    assert sys.getrefcount(o) == base


def test_create_close_many_logs_releases_payloads():
    o = Obj("x")
    base = sys.getrefcount(o)
    for i in range(300):
        log = Timelog(maintenance="disabled" if i % 2 else "background")
        log.extend((k, o) for k in range(20))
        if i % 3 == 0:
            log.close()
        del log
    gc.collect()
    assert sys.getrefcount(o) == base
