"""Background maintenance: results must not depend on what the worker does or when.

Random operations run against a log whose worker seals, flushes and compacts
concurrently (tiny memtable, pages and windows), and against RefModel; reads are
compared at checkpoints. Also: snapshots stay consistent while deletes and compaction
run, delete-debt compaction, out-of-order budget, and the misuse "chaos" run (several
threads doing anything at all, including close/reopen) in a subprocess, which must
not crash the interpreter.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from timelog import Timelog, TimelogBusyError

try:
    import strategies as tst
    from concurrency import Workers
    from model import CHURN, Obj, RefModel, examples, refs, small_memtable_bytes, small_page_bytes, wait_until
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.concurrency import Workers
    from tests.model import CHURN, Obj, RefModel, examples, refs, small_memtable_bytes, small_page_bytes, wait_until

ts_st = tst.timestamps(width=50)

op_st = st.one_of(
    st.tuples(st.just("append"), ts_st),
    st.tuples(st.just("extend"), tst.batches(ts_st, max_size=300)),
    st.tuples(st.just("delete"), ts_st),
    st.tuples(st.just("delete_range"), st.tuples(ts_st, ts_st)),
    st.tuples(st.just("cutoff"), st.integers(-60, 60)),
    st.tuples(st.just("compact"), st.none()),
    st.tuples(st.just("check"), st.none()),
)


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=st.lists(op_st, min_size=1, max_size=60), options=tst.background_options())
def test_background_random_ops_match_model(ops, options):
    log = Timelog(**CHURN, memtable_max_bytes=small_memtable_bytes(), target_page_bytes=small_page_bytes(),
                  max_delta_segments=1, **options)
    m = RefModel()
    k = 0
    snaps = []
    try:
        def check():
            assert list(log) == m.items()
            assert len(log) == len(m)
            assert log.min_ts() == m.min_ts() and log.max_ts() == m.max_ts()
            for t in m.timestamps()[:5]:
                assert log.at(t) == m.at(t)
                assert log.next_ts(t) == m.next_ts(t)
                assert log.prev_ts(t) == m.prev_ts(t)

        for op, arg in ops:
            if op == "append":
                k += 1
                log.append(arg, k)
                m.append(arg, k)
            elif op == "extend":
                pairs = []
                for t in arg:
                    k += 1
                    pairs.append((t, k))
                log.extend(pairs)
                m.extend(pairs)
            elif op == "delete":
                log.delete(arg)
                m.delete(arg)
            elif op == "delete_range":
                a, b = sorted(arg)
                log.delete(a, b)
                m.delete(a, b)
            elif op == "cutoff":
                log.cutoff(arg)
                m.cutoff(arg)
            elif op == "compact":
                log.compact()
            else:
                check()
                snaps.append((log.all(), m.items()))
        check()
        time.sleep(0.01)  # let the worker work, then compare again
        check()
        for it, exp in snaps:
            assert list(it) == exp
    finally:
        log.close()


def test_snapshots_consistent_under_deletes_and_compaction(make_log):
    """Writer appends ts=i and advances a cutoff; the worker compacts. Any consistent
    snapshot is then a contiguous run of timestamps [c, m)."""
    log = make_log(**CHURN, memtable_max_bytes=small_memtable_bytes() * 2, max_delta_segments=1, window_size=64)
    workers = Workers()
    final = {}

    def writer():
        i = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            log.extend((j, j) for j in range(i, i + 100))
            i += 100
            if i % 1000 == 0:
                log.cutoff(i - 700)
            if i % 3000 == 0:
                log.delete(i - 600, i - 500)  # re-deleting inside an already cut range is a no-op
                log.compact()
        final["n"] = i

    def reader():
        while not workers.stop.is_set():
            rows = list(log)
            ts = [t for t, _ in rows]
            if ts:
                assert all(t == o for t, o in rows)
                gaps = [(a, b) for a, b in zip(ts, ts[1:]) if b != a + 1]
                # the only allowed hole is the [i-600, i-500) delete, never crossed by cutoff later
                for a, b in gaps:
                    assert (b - a - 1) == 100 and (a + 1) % 100 == 0, f"torn snapshot gap {a}->{b}"

    workers.start(writer, stops=True)
    workers.start(reader)
    workers.start(reader)
    workers.join()
    n = final["n"]
    cut, hole = 0, None
    for i in range(100, n + 1, 100):
        if i % 1000 == 0:
            cut = i - 700
        if i % 3000 == 0:
            hole = (i - 600, i - 500)
    exp = [t for t in range(cut, n) if not (hole and hole[0] <= t < hole[1])]
    got = [t for t, _ in log]
    assert got == exp
    assert len(log) == len(exp)


def test_delete_debt_threshold_triggers_compaction_and_release(make_log):
    import gc

    objs = [Obj(i) for i in range(5000)]
    base = refs(objs)
    log = make_log(maintenance="background", delete_debt_threshold=0.1, max_delta_segments=100,
                   maintenance_wakeup_ms=5, window_size=1000)
    log.extend(enumerate(objs))
    log.flush()
    log.compact()
    assert wait_until(lambda: log.stats()["storage"]["segments_l0"] == 0, timeout=5)
    before = log.stats()["operational"]["compactions_total"]
    log.delete(0, 2500)
    log.flush()
    # no explicit compact(): the delete debt alone must trigger it
    assert wait_until(lambda: log.stats()["handles"]["retired_count"] == 2500, timeout=10), log.stats()
    assert log.stats()["operational"]["compactions_total"] > before
    log.append(10**6, "trigger a drain")
    gc.collect()
    now = refs(objs)
    assert now[:2500] == base[:2500]
    assert now[2500:] == [b + 1 for b in base[2500:]]


def test_ooo_budget_forces_early_seal():
    with Timelog(maintenance="disabled", busy_policy="silent", memtable_max_bytes=1 << 20,
                 ooo_budget_bytes=1024) as log:
        log.append(10**9, "head")
        for i in range(2000):
            log.append(i, i)  # all out of order
        st_ = log.stats()
        assert st_["operational"]["ooo_budget_hits"] >= 1
        assert st_["operational"]["seals_total"] >= 1
        assert [t for t, _ in log][:3] == [0, 1, 2]
        assert len(log) == 2001


def test_adaptive_windows_keep_results_exact():
    adaptive = {"target_records": 500, "min_window": 1, "max_window": 10**6, "warmup_flushes": 1}
    m = RefModel()
    with Timelog(maintenance="disabled", busy_policy="silent", memtable_max_bytes=small_memtable_bytes(),
                 adaptive=adaptive, window_size=10) as log:
        k = 0
        for r in range(30):
            rows = [((r * 997 + j * 13) % 20000, (k := k + 1)) for j in range(400)]
            log.extend(rows)
            m.extend(rows)
            if r % 5 == 4:
                log.delete(r * 300, r * 300 + 500)
                m.delete(r * 300, r * 300 + 500)
            log.flush()
            log.compact()
            while log.maint_step():
                pass
        assert list(log) == m.items()
        assert len(log) == len(m)


CHAOS = textwrap.dedent(
    r"""
    import random, sys, threading, time, gc
    import timelog
    from timelog import Timelog, TimelogError

    log = Timelog(maintenance="background", busy_policy=sys.argv[1],
                  memtable_max_bytes=4096, max_delta_segments=1, maintenance_wakeup_ms=1,
                  drain_batch_limit=int(sys.argv[2]))
    stop = time.monotonic() + float(sys.argv[3])
    ALLOWED = (TimelogError, ValueError, TypeError)

    def worker(seed):
        rnd = random.Random(seed)
        its = []
        while time.monotonic() < stop:
            r = rnd.random()
            t = rnd.randrange(-1000, 1000)
            try:
                if r < 0.3:
                    log.append(t, object())
                elif r < 0.4:
                    log.extend((t + j, [j]) for j in range(rnd.randrange(300)))
                elif r < 0.5:
                    log.delete(t, t + rnd.randrange(200))
                elif r < 0.55:
                    log.cutoff(t)
                elif r < 0.65:
                    it = log.since(t)
                    it.next_batch(rnd.randrange(50))
                    its.append(it)
                elif r < 0.7 and its:
                    it = its.pop(rnd.randrange(len(its)))
                    list(it) if rnd.random() < 0.5 else it.close()
                elif r < 0.75:
                    for sp in log.views(t, t + 500):
                        memoryview(sp).tolist(); list(sp.objects()); sp.close()
                elif r < 0.8:
                    log.at(t); t in log; len(log); log.next_ts(t); log.prev_ts(t); log.stats()
                elif r < 0.83:
                    log.flush()
                elif r < 0.86:
                    log.compact()
                elif r < 0.88:
                    log.stop_maintenance() if rnd.random() < 0.5 else log.start_maintenance()
                elif r < 0.89:
                    log.maint_step()
                elif r < 0.9:
                    log.close()
                elif r < 0.91:
                    try:
                        log.reopen()
                    except TimelogError:
                        pass
                else:
                    list(log.range(t, t + 100))
            except ALLOWED:
                pass
            if len(its) > 20:
                its.pop(0)

    ths = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for th in ths: th.start()
    for th in ths: th.join()
    try:
        log.close()
    except TimelogError:
        pass
    gc.collect()
    print("OK")
    """
)


@pytest.mark.parametrize("policy,limit", [("raise", 0), ("flush", 3), ("silent", 1)])
def test_chaos_misuse_never_crashes(tmp_path, policy, limit):
    script = tmp_path / "chaos.py"
    script.write_text(CHAOS)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    p = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script), policy, str(limit), "3"],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path), env=env,
    )
    assert p.returncode == 0 and "OK" in p.stdout, (
        f"interpreter crashed or hung (rc={p.returncode})\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    )
