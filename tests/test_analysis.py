"""Analysis reads: count, first/last, asof/nearest, reverse reads, count_by and the
numpy exports (timestamps, to_numpy, TimelogIter.to_numpy), against the model,
in every storage layer, at the int64 extremes, with bad input and refcounts."""

import gc
import os
import random
import sys

import pytest

from timelog import Timelog, TimelogError

try:
    from concurrency import Workers
    from model import INT64_MAX, INT64_MIN, LAYERS, Obj, RefModel, fill_layered, run_maintenance, small_memtable_bytes
except ImportError:  # pragma: no cover
    from tests.concurrency import Workers
    from tests.model import INT64_MAX, INT64_MIN, LAYERS, Obj, RefModel, fill_layered, run_maintenance, small_memtable_bytes

np = pytest.importorskip("numpy")

DATA = [(5, "e"), (1, "a"), (3, "c"), (3, "c2"), (9, "i"), (7, "g"), (3, "c3"), (-4, "m"), (12, "l")]


@pytest.fixture(params=LAYERS)
def pair(request, make_log):
    log = make_log(busy_policy="silent", memtable_max_bytes=small_memtable_bytes())
    model = RefModel()
    fill_layered(log, model, DATA, request.param)
    log.delete(7)
    model.delete(7)
    log.append(3, "c4")                 # a tie in the memtable, after the flushes
    model.append(3, "c4")
    log.append(0, "z")                  # out of order in the memtable
    model.append(0, "z")
    return log, model


BOUNDS = [None, -10, -4, 0, 3, 4, 7, 9, 12, 13, INT64_MIN, INT64_MAX]


def _pairs(ts, objs):
    return list(zip(ts.tolist(), objs.tolist()))


# ---------------------------------------------------------------- count / first / last

def test_count_matches_model(pair):
    log, m = pair
    for t1 in BOUNDS:
        for t2 in BOUNDS:
            assert log.count(t1, t2) == m.count(t1, t2), (t1, t2)
    assert log.count() == len(log)


def test_first_last(pair):
    log, m = pair
    assert log.first() == m.first() == (-4, "m")
    assert log.last() == m.last() == (12, "l")


def test_first_last_ties_and_empty(make_log):
    log = make_log()
    assert log.first() is None and log.last() is None
    log.extend([(2, "a"), (2, "b")])
    log.flush()
    log.extend([(2, "c"), (1, "x"), (1, "y")])
    assert log.first() == (1, "x") and log.last() == (2, "c")
    log.delete(None, None)
    assert log.first() is None and log.last() is None


def test_asof_nearest_match_model(pair):
    log, m = pair
    for t in list(range(-12, 16)) + [INT64_MIN, INT64_MAX]:
        assert log.asof(t) == m.asof(t), ("asof", t)
        assert log.nearest(t) == m.nearest(t), ("nearest", t)


def test_asof_nearest_examples(make_log):
    log = make_log()
    assert log.asof(5) is None and log.nearest(5) is None
    log.extend([(10, "a"), (20, "b"), (20, "b2")])
    assert log.asof(20) == (20, "b2")
    assert log.asof(9) is None
    assert log.nearest(15) == (10, "a")       # distance tie: the earlier timestamp
    assert log.nearest(16) == (20, "b2")      # latest inserted at that timestamp
    assert log.nearest(INT64_MIN) == (10, "a")
    assert log.nearest(INT64_MAX) == (20, "b2")


def test_nearest_at_int64_extremes(make_log):
    log = make_log()
    log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    # distances 2**63 and 2**63 - 1 do not fit int64
    assert log.nearest(0) == (INT64_MAX, "hi")
    assert log.nearest(-1) == (INT64_MIN, "lo")
    assert log.nearest(INT64_MIN) == (INT64_MIN, "lo")
    assert log.nearest(INT64_MAX) == (INT64_MAX, "hi")
    assert log.asof(INT64_MAX - 1) == (INT64_MIN, "lo")
    assert log.asof(INT64_MIN) == (INT64_MIN, "lo")


@pytest.mark.parametrize("bad,exc", [(1.5, TypeError), ("3", TypeError), (True, TypeError),
                                     (2**63, OverflowError), (-(2**63) - 1, OverflowError)])
def test_bad_timestamps(bad, exc, make_log):
    log = make_log()
    log.append(1, "a")
    for call in (log.asof, log.nearest, lambda t: log.count(t, None), lambda t: log.count_by(1, t)):
        with pytest.raises(exc):
            call(bad)


# ---------------------------------------------------------------- reverse reads

def test_range_reverse(pair):
    log, m = pair
    for t1 in BOUNDS:
        for t2 in BOUNDS:
            assert list(log.range(t1, t2, reverse=True)) == m.items(t1, t2)[::-1], (t1, t2)


def test_reversed_iterator(pair):
    log, m = pair
    exp = m.items(0, 10)
    it = log[0:10]
    back = reversed(it)
    log.append(5, "later")               # neither sees it: same snapshot
    assert list(back) == exp[::-1]
    assert list(it) == exp
    m.append(5, "later")
    assert list(reversed(log.range(0, 10, reverse=True))) == m.items(0, 10)   # sees "later"


def test_reversed_iterator_same_snapshot(make_log):
    log = make_log()
    log.extend([(1, "a"), (2, "b"), (2, "c")])
    it = log.all()
    log.append(3, "d")
    log.delete(1)
    assert list(reversed(it)) == [(2, "c"), (2, "b"), (1, "a")]
    assert list(reversed(reversed(log))) == [(2, "b"), (2, "c"), (3, "d")]
    assert list(reversed(log[5:])) == []
    assert len(reversed(log.all())) == 3


def test_reversed_advanced_iterator_raises(make_log):
    log = make_log()
    log.extend([(1, "a"), (2, "b")])
    it = log.all()
    next(it)
    with pytest.raises(TypeError, match="has not yielded anything yet"):
        reversed(it)
    it2 = log.all()
    it2.next_batch(0)                    # nothing yielded: still reversible
    assert list(reversed(it2)) == [(2, "b"), (1, "a")]
    it3 = log.all()
    list(it3)
    with pytest.raises(TypeError):
        reversed(it3)
    it4 = log.all()
    log.close()
    with pytest.raises(TimelogError):
        reversed(it4)


# ---------------------------------------------------------------- count_by

EVERIES = [1, 2, 3, 5, 7, 100]
ORIGINS = [0, 1, -3, 13, INT64_MIN, INT64_MAX]


def test_count_by_matches_model(pair):
    log, m = pair
    for every in EVERIES:
        for origin in ORIGINS:
            for t1, t2 in [(None, None), (0, 10), (-10, 20), (3, None), (None, 4), (4, 4), (9, 3), (13, 20)]:
                starts, counts = log.count_by(every, t1, t2, origin=origin)
                assert starts.dtype == np.int64 and counts.dtype == np.int64
                exp = m.count_by(every, t1, t2, origin)
                assert (starts.tolist(), counts.tolist()) == exp, (every, origin, t1, t2)


def test_count_by_examples(make_log):
    log = make_log()
    s, c = log.count_by(10)
    assert s.tolist() == [] and c.tolist() == []          # empty log
    s, c = log.count_by(10, 0, 30)                         # explicit bounds: zero buckets
    assert s.tolist() == [0, 10, 20] and c.tolist() == [0, 0, 0]
    log.extend([(-11, "a"), (-10, "b"), (-1, "c"), (0, "d"), (25, "e")])
    s, c = log.count_by(10)
    assert s.tolist() == [-20, -10, 0, 10, 20] and c.tolist() == [1, 2, 1, 0, 1]
    s, c = log.count_by(10, origin=5)
    assert s.tolist() == [-15, -5, 5, 15, 25] and c.tolist() == [2, 2, 0, 0, 1]
    s, c = log.count_by(10, -10, 1)
    assert s.tolist() == [-10, 0] and c.tolist() == [2, 1]


def test_count_by_extremes(make_log):
    log = make_log()
    log.extend([(INT64_MIN, 1), (INT64_MIN + 1, 2), (0, 3), (INT64_MAX, 4)])
    s, c = log.count_by(2**62)
    assert c.tolist() == [2, 0, 1, 1]
    assert s.tolist() == [-(2**63) + k * 2**62 for k in range(4)]
    s, c = log.count_by(INT64_MAX)                         # first bucket starts below int64
    assert s[0] == INT64_MIN and c.sum() == 4
    s, c = log.count_by(1, INT64_MAX - 2, None)
    assert s.tolist() == [INT64_MAX - 2, INT64_MAX - 1, INT64_MAX] and c.tolist() == [0, 0, 1]
    s, c = log.count_by(3, None, INT64_MIN + 2, origin=INT64_MAX)
    assert c.sum() == 2 and s[0] == INT64_MIN


def test_count_by_bad_input(make_log):
    log = make_log()
    log.extend([(0, "a"), (10**9, "b")])
    for bad in (0, -1, -(2**70)):
        with pytest.raises(ValueError, match="every > 0"):
            log.count_by(bad)
    with pytest.raises(ValueError, match="1,000,000,001 buckets"):
        log.count_by(1)
    with pytest.raises(ValueError, match="10,000,000"):
        log.count_by(1, INT64_MIN, None)
    with pytest.raises(TypeError):
        log.count_by(1.5)
    with pytest.raises(TypeError):
        log.count_by("10")
    with pytest.raises(TypeError):
        log.count_by(True)
    with pytest.raises(OverflowError):
        log.count_by(2**63)
    assert log.count_by(10**9)[1].tolist() == [1, 1]


def test_count_by_big_log_with_another_thread_running(make_log):
    # The engine call runs with the GIL released; another Python thread keeps running.
    log = make_log()
    log.extend(range(0, 2_000_000, 2), [None] * 1_000_000)
    workers = Workers()
    ticks = []

    def other():
        while not workers.stop.is_set():
            ticks.append(1)

    def counter():
        for _ in range(3):
            s, c = log.count_by(1, 0, 2_000_000)
            assert c.sum() == 1_000_000 and len(s) == 2_000_000

    workers.start(other)
    workers.start(counter, stops=True)
    workers.join()


# ---------------------------------------------------------------- numpy exports

def test_timestamps_and_to_numpy_match_model(pair):
    log, m = pair
    for t1 in BOUNDS:
        for t2 in BOUNDS:
            exp = m.items(t1, t2)
            ts = log.timestamps(t1, t2)
            assert ts.dtype == np.int64 and ts.tolist() == [t for t, _ in exp]
            ts, objs = log.to_numpy(t1, t2)
            assert objs.dtype == object and len(ts) == len(objs) == len(exp)
            assert _pairs(ts, objs) == exp
            assert all(a is b for a, (_, b) in zip(objs, exp))


def test_iterator_to_numpy(pair):
    log, m = pair
    exp = m.items()
    it = log.all()
    head = [next(it) for _ in range(3)]
    assert head == exp[:3]
    ts, objs = it.to_numpy()
    assert _pairs(ts, objs) == exp[3:]
    assert it.closed and list(it) == []
    ts, objs = it.to_numpy()
    assert len(ts) == 0 and len(objs) == 0
    it = reversed(log)
    assert _pairs(*it.to_numpy()) == exp[::-1]
    assert log.stats()["handles"]["pins"] == 0


def test_exports_big_and_extremes():
    with Timelog(maintenance="disabled", memtable_max_bytes=small_memtable_bytes()) as log:
        n = 5000
        log.extend([(i % 997, i) for i in range(n)])
        log.flush()
        run_maintenance(log)
        log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi"), (500, "mem")])
        log.delete(100, 200)
        m = RefModel()
        m.extend([(i % 997, i) for i in range(n)])
        m.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi"), (500, "mem")])
        m.delete(100, 200)
        assert _pairs(*log.to_numpy()) == m.items()
        assert log.timestamps().tolist() == m.timestamps()
        assert log.timestamps(INT64_MAX).tolist() == [INT64_MAX]


def test_to_numpy_refcounts_and_outlives_close():
    payload = Obj(1)
    other = Obj(2)
    base = sys.getrefcount(payload)
    log = Timelog(maintenance="disabled")
    log.extend([(1, payload), (2, other), (3, payload)])
    assert sys.getrefcount(payload) == base + 2
    ts, objs = log.to_numpy()
    assert sys.getrefcount(payload) == base + 4
    log.close()
    assert sys.getrefcount(payload) == base + 2            # the array's references
    assert objs[0] is payload and objs[2] is payload and objs[1] is other
    del objs
    gc.collect()
    assert sys.getrefcount(payload) == base
    # timestamps() takes no reference at all
    log = Timelog(maintenance="disabled")
    log.append(1, payload)
    log.timestamps()
    assert sys.getrefcount(payload) == base + 1
    log.close()


def test_exports_on_closed_log_raise():
    log = Timelog(maintenance="disabled")
    log.append(1, "a")
    it = log.all()
    log.close()
    for call in (log.timestamps, log.to_numpy, it.to_numpy, log.count, log.first, log.last):
        with pytest.raises(TimelogError):
            call()


def test_exports_without_numpy(monkeypatch, make_log):
    log = make_log()
    log.append(1, "a")
    monkeypatch.setitem(sys.modules, "numpy", None)
    for call in (log.timestamps, log.to_numpy, log.all().to_numpy, lambda: log.count_by(10)):
        with pytest.raises(ImportError, match=r"pip install 'timelog\[numpy\]'"):
            call()
    assert log.count() == 1 and log.first() == (1, "a")    # the rest works without numpy
    assert log.stats()["handles"]["pins"] == 0


def test_to_numpy_concurrent_with_writer():
    # A writer thread appends and deletes while another exports; every export
    # is one consistent snapshot (sorted, no deleted range half-applied).
    with Timelog(maintenance="background", busy_policy="silent") as log:
        log.extend(range(10_000), range(10_000))
        workers = Workers()

        def writer():
            for t in range(10_000, 110_000, 1000):
                log.extend(range(t, t + 1000), range(t, t + 1000))
                log.delete(t, t + 500)

        def exporter():
            for _ in range(20):
                ts, objs = log.to_numpy()
                assert (np.diff(ts) >= 0).all()
                assert ts.tolist()[:100] == list(range(100))
                assert objs.tolist() == ts.tolist()
                # each later 1000-block has its first half deleted, except perhaps
                # the newest (the snapshot fell between its extend and its delete)
                late = ts[ts >= 10_000]
                undeleted = set((late[(late % 1000) < 500] // 1000).tolist())
                assert undeleted <= {int(late.max()) // 1000} if len(late) else not undeleted

        workers.start(writer)
        workers.start(exporter)
        workers.join()
        assert log.count() == 10_000 + 100 * 500


# ---------------------------------------------------------------- not a sequence

def test_not_a_positional_sequence(make_log):
    log = make_log()
    log.extend([(0, "a"), (1, "b"), (2, "c")])
    with pytest.raises(TypeError, match=r"not a sequence.*log.at\(1\)"):
        log[1]
    with pytest.raises(TypeError):
        random.choice(log)
    with pytest.raises(TypeError):
        log[np.int64(1)]
    assert log.at(1) == ["b"]
    assert list(log[1:]) == [(1, "b"), (2, "c")]
    log[5] = "x"                              # writes by timestamp still work
    del log[0]
    assert log.at(5) == ["x"] and log.at(0) == []
    arr = np.array(log, dtype=object)         # numpy iterates logical records
    assert arr.shape == (3, 2) and arr[0].tolist() == [1, "b"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX-only")
@pytest.mark.filterwarnings("ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning")
def test_fork_while_another_thread_runs_gil_free_reads():
    # count_by and the exports run engine code with the GIL released; a fork in
    # the middle must leave the child a usable log (no lock inherited locked).
    try:
        from test_fork import run_in_child
    except ImportError:  # pragma: no cover
        from tests.test_fork import run_in_child

    log = Timelog(maintenance="background", busy_policy="silent", memtable_max_bytes=16 << 10)
    log.extend(range(200_000), [None] * 200_000)
    log.delete(1000, 2000)                       # tombstones: the reads use hide sets
    workers = Workers()

    def reader():
        while not workers.stop.is_set():
            assert log.count_by(1000)[1].sum() == 199_000
            assert len(log.timestamps()) == 199_000

    def child():
        assert log.count_by(1000)[1].sum() == 199_000
        assert log.count() == 199_000 and len(log.to_numpy()[0]) == 199_000
        log.append(5, "child")
        assert log.count(5, 6) == 2
        log.close()

    # Import what the reads import lazily before the thread starts: a fork while
    # another thread is inside its first import leaves the child a module lock
    # held for ever (a CPython limitation, not the log's).
    log.count_by(1000), log.to_numpy()
    workers.start(reader)
    try:
        for _ in range(10):
            run_in_child(child)
    finally:
        workers.stop.set()
        workers.join()
        log.close()
