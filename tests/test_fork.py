"""os.fork(): the child's copy of a log is fully usable, the parent is unaffected.

Every child runs under ``os.fork()`` and reports through ``os._exit(code)``; the
parent polls ``os.waitpid(pid, os.WNOHANG)`` and kills a child that is not done
by the deadline, which fails the test (a hang must never stall the suite).
"""

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback

import pytest

from timelog import Timelog, TimelogError

pytestmark = [
    pytest.mark.skipif(os.name != "posix" or not hasattr(os, "fork"),
                       reason="os.fork() is POSIX-only"),
    # Python 3.12+ warns about fork() with threads running; forking with
    # threads running is exactly what these tests do.
    pytest.mark.filterwarnings("ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"),
]

DEADLINE = 20.0        # seconds a child may take before it counts as hung


def _wait_child(pid):
    """Exit code of child `pid`; kills it and fails the test if it hangs."""
    deadline = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            assert os.WIFEXITED(status), f"child killed by signal {os.WTERMSIG(status)}"
            return os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"child hung: not finished {DEADLINE:.0f} s after the fork")
        time.sleep(0.005)


def run_in_child(body):
    """Fork; the child runs body() and exits 0 if it returns, 1 if it raises
    (traceback on stderr). The parent asserts the child exited 0 in time."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            body()
            code = 0
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0, "the child's checks failed (traceback above)"


def small_log(**overrides):
    """A log whose worker seals, flushes and compacts every few hundred records."""
    opts = dict(memtable_max_bytes=16 << 10, target_page_bytes=4096, max_delta_segments=2,
                window_size=5000, maintenance_wakeup_ms=1, sealed_max_runs=4,
                busy_policy="silent")
    opts.update(overrides)
    return Timelog(**opts)


def until(cond, what):
    """Wait for cond() (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + DEADLINE / 2
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.001)


def flushes(log):
    return log.stats()["operational"]["flushes_total"]


def worker_flushes_without_help(log, start_ts, n=5000):
    """Appends n records; the worker (no flush() call) must flush some of them."""
    before = flushes(log)
    for t in range(start_ts, start_ts + n):
        log.append(t, t)
    until(lambda: flushes(log) > before, "the maintenance worker flushed")


def test_background_child_appends_flushes_iterates_closes():
    with small_log() as log:
        log.extend((t, t) for t in range(3000))
        other = small_log()
        other.append(1, "x")

        def child():
            assert log.maintenance_mode == "background"
            assert list(log) == [(t, t) for t in range(3000)]
            log.append(3000, "c")
            log.extend([(3001, "d"), (3002, "e")])
            log.flush()
            assert len(log) == 3003
            assert list(log[2999:3010]) == [(2999, 2999), (3000, "c"), (3001, "d"), (3002, "e")]
            worker_flushes_without_help(log, 10_000)
            assert log.stats()["operational"]["flushes_total"] > 0
            other.close()
            assert other.closed
            log.__exit__(None, None, None)       # the `with` block's exit, in the child
            assert log.closed
            log.close()

        run_in_child(child)
        # the parent's copies are untouched by the child's writes and closes
        assert len(log) == 3000 and not log.closed
        assert list(other) == [(1, "x")]
        other.close()
    assert log.closed


def test_fork_while_another_thread_writes_20_times():
    """A thread alternates big extends (committed without the GIL), appends and
    flushes, with the worker compacting; each child must see exactly what the
    writer had committed: a prefix ending at a write boundary, never half a write."""
    log = small_log(sealed_wait_ms=5)
    # Payloads are small cached ints, so the children's teardown does not touch
    # (and copy-on-write) one page per record.
    done = [0]          # records committed: timestamps 0 .. done-1, payload ts & 255
    planned = [0]       # what `done` becomes after the write in progress
    writing = threading.Event()     # the writer runs only while this is set
    stop = threading.Event()

    def writer():
        n = 0
        turn = 0
        while not stop.is_set():
            if not writing.wait(0.01):
                continue
            turn += 1
            if turn % 4 == 1:
                size = 66_000                    # above the nogil batch threshold (65536)
                batch = [(t, t & 255) for t in range(n, n + size)]
                planned[0] = n + size
                log.extend(batch)
            elif turn % 4 == 2:
                size = 1
                planned[0] = n + 1
                log.append(n, n & 255)
            elif turn % 4 == 3:
                size = 300
                batch = [(t, t & 255) for t in range(n, n + size)]
                planned[0] = n + size
                log.extend(batch)
            else:
                size = 0
                log.flush()
            n += size
            done[0] = n

    th = threading.Thread(target=writer)
    th.start()
    try:
        for rep in range(20):
            writing.set()
            until(lambda: done[0] > 0, "the writer wrote")
            time.sleep(0.002 + 0.001 * (rep % 5))

            def child():
                # the writer thread does not exist here; what it was doing at the
                # fork either committed completely or not at all
                lo, hi = done[0], planned[0]
                k = len(log)
                assert k in (lo, hi), (k, lo, hi)
                assert log.min_ts() == 0 and log.max_ts() == k - 1
                assert len(list(log[k - 400:k + 400])) == 400
                assert list(log[k - 3:]) == [(t, t & 255) for t in range(k - 3, k)]
                log.extend((t, "child") for t in range(k, k + 1000))
                log.flush()
                assert len(log) == k + 1000
                assert list(log[k + 998:]) == [(k + 998, "child"), (k + 999, "child")]
                worker_flushes_without_help(log, k + 1000)
                log.close()

            run_in_child(child)
            writing.clear()      # bounds the data the next child checks
    finally:
        stop.set()
        writing.set()
        th.join()
    n = done[0]
    assert len(log) == n
    assert list(log[n - 3:]) == [(t, t & 255) for t in range(n - 3, n)]
    assert log.stats()["operational"]["compactions_total"] > 0
    log.close()


def test_parent_unaffected_keeps_writing_and_its_worker_runs():
    log = small_log()
    log.extend((t, t) for t in range(2000))
    it = iter(log)
    assert next(it) == (0, 0)

    def child():
        log.append(5000, "child")
        log.close()

    run_in_child(child)
    assert log.maintenance_mode == "background"
    assert next(it) == (1, 1)                      # a parent's iterator continues
    it.close()
    worker_flushes_without_help(log, 2000)         # its worker still runs
    log.compact()
    until(lambda: log.stats()["operational"]["compactions_total"] > 0, "a compaction")
    assert len(log) == 7000 and 5000 in log and log.at(5000) == [5000]
    assert list(log[1998:2002]) == [(t, t) for t in range(1998, 2002)]
    log.close()
    assert log.closed


def test_disabled_log_forks():
    log = small_log(maintenance="disabled")
    log.extend((t, t) for t in range(1000))

    def child():
        assert log.maintenance_mode == "disabled"
        log.extend((t, t) for t in range(1000, 4000))
        log.flush()
        log.compact()
        steps = 0
        while log.maint_step():
            steps += 1
        assert steps > 0
        assert list(log) == [(t, t) for t in range(4000)]
        log.start_maintenance()                   # and a worker can be started there
        worker_flushes_without_help(log, 4000)
        log.close()

    run_in_child(child)
    assert log.maintenance_mode == "disabled"
    assert len(log) == 1000
    log.close()


def test_closed_log_and_log_mid_iteration():
    closed = small_log()
    closed.append(1, "gone")
    closed.close()
    log = small_log()
    log.extend((t, str(t)) for t in range(500))
    it = iter(log)
    head = [next(it) for _ in range(10)]
    assert head == [(t, str(t)) for t in range(10)]

    def child():
        assert closed.closed
        closed.close()
        with pytest.raises(TimelogError):
            closed.append(2, "x")
        closed.reopen()
        closed.append(3, "new")
        assert list(closed) == [(3, "new")]
        closed.close()
        log.append(1000, "child")
        assert list(it) == [(t, str(t)) for t in range(10, 500)]    # its snapshot
        it2 = iter(log)
        next(it2)
        log.close()
        with pytest.raises(TimelogError):
            next(it2)

    run_in_child(child)
    assert closed.closed
    assert [next(it) for _ in range(3)] == [(t, str(t)) for t in range(10, 13)]
    it.close()
    assert len(log) == 500
    log.close()


def test_registry_holds_no_reference():
    """The fork registry does not keep a log alive; a collected log is skipped."""
    import gc
    import weakref

    gone = small_log()
    gone.append(1, "x")
    ref = weakref.ref(gone)
    del gone
    gc.collect()
    assert ref() is None
    log = small_log()
    log.append(2, "y")

    def child():
        assert list(log) == [(2, "y")]
        log.close()

    run_in_child(child)
    log.close()


_MP_LOG = None


def _mp_target(q):
    log = _MP_LOG
    log.extend((t, t) for t in range(100, 3100))
    worker_flushes_without_help(log, 10_000)
    q.put((len(log), log.at(50), log.maintenance_mode))
    log.close()


def test_multiprocessing_fork_context():
    global _MP_LOG
    ctx = multiprocessing.get_context("fork")
    _MP_LOG = log = small_log()
    try:
        log.extend((t, t) for t in range(100))
        q = ctx.Queue()
        p = ctx.Process(target=_mp_target, args=(q,))
        p.start()
        p.join(DEADLINE)
        if p.is_alive():
            p.kill()
            p.join()
            pytest.fail(f"multiprocessing child hung: not finished after {DEADLINE:.0f} s")
        assert p.exitcode == 0
        assert q.get(timeout=5) == (100 + 3000 + 5000, [50], "background")
        assert len(log) == 100
    finally:
        _MP_LOG = None
        log.close()
