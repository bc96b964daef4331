"""Threads: concurrent readers, writer + background maintenance, GIL release."""

import sys
import threading
import time

import pytest

from timelog import Timelog, TimelogBusyError

try:
    from concurrency import Workers
    from model import CHURN, pressure, small_memtable_bytes
except ImportError:  # pragma: no cover
    from tests.concurrency import Workers
    from tests.model import CHURN, pressure, small_memtable_bytes


def _check_snapshot(rows, prev_len):
    """rows = list of (ts, (ts, seq)); writes were sequential, so a snapshot must hold
    exactly the seqs 0..k-1, sorted by ts with ties in seq order."""
    seqs = []
    last = None
    for ts, payload in rows:
        pts, seq = payload
        assert pts == ts, "payload/timestamp mismatch"
        if last is not None:
            assert (ts, seq) > last, f"order broken: {last} then {(ts, seq)}"
        last = (ts, seq)
        seqs.append(seq)
    assert sorted(seqs) == list(range(len(seqs))), "snapshot is not a prefix of the writes"
    assert len(rows) >= prev_len, "snapshots went backwards"
    return len(rows)


def test_readers_while_writer_appends_and_worker_compacts(make_log):
    log = make_log(**CHURN, memtable_max_bytes=small_memtable_bytes() * 4, max_delta_segments=2, window_size=1000)
    workers = Workers()
    written = [0]
    checks = [0]

    def writer():
        seq = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            for _ in range(200):
                # mostly in order, with collisions and some out-of-order records
                ts = seq // 3 if seq % 17 else max(0, seq // 3 - 400)
                log.append(ts, (ts, seq))
                seq += 1
            if seq % 2000 < 200:
                log.compact()
        written[0] = seq

    def reader(kind):
        prev = 0
        while not workers.stop.is_set():
            if kind == "list":
                rows = list(log)
            elif kind == "batch":
                it = log.all()
                n0 = len(it)
                rows = []
                while True:
                    b = it.next_batch(97)
                    if not b:
                        break
                    rows.extend(b)
                assert len(rows) == n0
            else:
                rows = list(reversed(log))[::-1]
            prev = _check_snapshot(rows, prev)
            n = len(log)
            assert n >= prev
            checks[0] += 1

    workers.start(writer, stops=True)
    for k in ("list", "batch", "reversed"):
        workers.start(reader, k)
    workers.join()
    assert checks[0] > 0
    rows = list(log)
    _check_snapshot(rows, 0)
    assert len(rows) == written[0] == len(log)
    assert log.stats()["operational"]["flushes_total"] > 0


def test_concurrent_point_reads_and_navigation(make_log):
    log = make_log(maintenance="background", busy_policy="flush", memtable_max_bytes=small_memtable_bytes() * 4)
    workers = Workers()

    def writer():
        for i in range(30_000):
            log.append(i, i)

    def reader():
        while not workers.stop.is_set():
            hi = log.max_ts()
            if hi is None:
                continue
            assert log.at(hi) == [hi]
            assert hi in log
            assert log.prev_ts(hi) in (None, hi - 1)
            assert log.min_ts() == 0
            assert len(log) >= hi + 1

    workers.start(writer, stops=True)
    workers.start(reader)
    workers.start(reader)
    workers.join()
    assert len(log) == 30_000


class _Spinner:
    """A Python thread counting as fast as it can; measures who holds the GIL."""

    def __init__(self):
        self.count = 0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run)

    def _run(self):
        while not self._stop.is_set():
            self.count += 1

    def __enter__(self):
        self._th.start()
        time.sleep(0.1)
        c, t = self.count, time.monotonic()
        time.sleep(0.2)
        self.rate = (self.count - c) / (time.monotonic() - t)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join()

    def measure(self, fn):
        """Run fn(); return (elapsed seconds, fraction of the free-running spin rate
        the other thread achieved meanwhile). With the GIL held throughout, the
        fraction is at most one switch interval (5 ms) over the elapsed time."""
        c0, t0 = self.count, time.monotonic()
        fn()
        el = time.monotonic() - t0
        return el, (self.count - c0) / (self.rate * el)


def _big_log(make_log, **kw):
    import random

    n = 1_500_000
    log = make_log(**kw)
    log.extend(range(n), range(n))
    rnd = random.Random(3)
    log.extend([rnd.randrange(n) for _ in range(n)], range(n))
    return log, n


def test_blocked_writer_releases_gil(make_log):
    """A write blocked on backpressure (the worker is busy with a big compaction, so
    sealed runs cannot be flushed) waits with the GIL released."""
    log, n = _big_log(make_log, **pressure("raise", maintenance="background", memtable_max_bytes=small_memtable_bytes() * 16,
                                 sealed_wait_ms=2000))
    time.sleep(0.3)
    slow = []

    def write(i):
        try:
            log.append(n + i, i)
        except TimelogBusyError:
            pass

    with _Spinner() as sp:
        log.compact()
        for i in range(300_000):
            el, frac = sp.measure(lambda: write(i))
            if el > 0.05:
                slow.append((el, frac))
                if len(slow) >= 3:
                    break
    if not slow:
        pytest.skip("no write was blocked on backpressure in this run")
    # With the GIL held throughout the wait, the other thread could run for at
    # most about one switch interval; it must have run for clearly more (the
    # machine may be loaded, so no fixed fraction of its free-running rate).
    budget = 3 * sys.getswitchinterval()
    for el, frac in slow:
        assert frac * el > budget, (
            f"another thread stalled while a writer waited {el:.3f}s: {slow}")
    assert log.stats()["operational"]["backpressure_waits"] > 0
    assert len(log) == 2 * n + i + 1


def test_long_maint_step_releases_gil(make_log):
    log, n = _big_log(make_log, busy_policy="silent")
    log.flush()
    log.compact()
    with _Spinner() as sp:
        steps = []
        while True:
            did = []
            el, frac = sp.measure(lambda: did.append(log.maint_step()))
            steps.append((el, frac))
            if not did[0]:
                break
    long_steps = [(el, fr) for el, fr in steps if el > 0.05]
    if not long_steps:
        pytest.skip("compaction too fast to observe")
    budget = 3 * sys.getswitchinterval()   # see test_blocked_writer_releases_gil
    for el, frac in long_steps:
        assert frac * el > budget, f"maint_step held the GIL: {long_steps}"
    assert len(log) == 2 * n


def test_flush_policy_in_threads_commits_everything(make_log):
    log = make_log(maintenance="background", busy_policy="flush", memtable_max_bytes=small_memtable_bytes(),
                   sealed_max_runs=1)
    workers = Workers()
    lock = threading.Lock()  # one writer at a time

    def writer(base):
        for i in range(5000):
            with lock:
                log.append(base + i, base + i)

    for k in range(3):
        workers.start(writer, k * 1_000_000)
    workers.join()
    assert len(log) == 15_000


def test_concurrent_unserialized_writes_do_not_crash(make_log):
    # Contract: misuse (several writers) must never corrupt memory or crash.
    log = make_log(maintenance="background", busy_policy="silent")
    errors = []

    def writer(base):
        try:
            for i in range(3000):
                log.append(base + i, i)
                if i % 500 == 0:
                    log.delete(base, base + 10)
        except Exception as e:  # an exception is acceptable; a crash is not
            errors.append(e)

    workers = Workers()
    for k in range(3):
        workers.start(writer, k * 10_000)
    workers.join()
    rows = list(log)
    assert [t for t, _ in rows] == sorted(t for t, _ in rows)


def test_close_while_readers_iterate():
    log = Timelog(maintenance="background")
    log.extend((i, i) for i in range(50_000))
    started = threading.Barrier(3)
    errors = []

    def reader():
        from timelog import TimelogError

        started.wait()
        try:
            for _ in range(50):
                for _row in log.all():
                    pass
        except TimelogError:
            pass
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    started.wait()
    time.sleep(0.01)
    log.close()
    for t in ts:
        t.join(60)
    assert not errors, errors


def test_the_thread_helper_reports_failures_and_hangs():
    # The helper the threaded tests rely on must not hide an error or a stuck thread.
    w = Workers()
    w.start(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        w.join()
    assert w.stop.is_set()
    release = threading.Event()
    w = Workers(deadline=0.2)
    w.start(release.wait)
    with pytest.raises(AssertionError, match="1 thread"):
        w.join()
    release.set()
