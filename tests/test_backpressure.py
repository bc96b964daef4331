"""Backpressure and busy policies.

Pressure is created deterministically with maintenance="disabled", a small memtable
and sealed_max_runs=1: nothing flushes unless the test calls flush(), so the sealed
runs pile up and writes report busy at once.
"""

import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from timelog import Timelog, TimelogBusyError, TimelogError

try:
    import strategies as tst
    from model import examples, pressure, small_memtable_bytes
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import examples, pressure, small_memtable_bytes

MAX_WRITES = 200_000


def pressured(policy, **kw):
    return Timelog(**pressure(policy, **kw))


def fill_until_busy(log, start=0):
    """Append (ts, ts) until a write raises busy; return (expected rows, busy ts)."""
    rows = []
    for i in range(start, start + MAX_WRITES):
        try:
            log.append(i, i)
        except TimelogBusyError:
            rows.append((i, i))
            return rows, i
        rows.append((i, i))
    raise AssertionError("no TimelogBusyError after %d writes" % MAX_WRITES)


def test_busy_error_is_timelog_error():
    assert issubclass(TimelogBusyError, TimelogError)


def test_raise_policy_raises_and_record_is_committed():
    with pressured("raise") as log:
        rows, busy_ts = fill_until_busy(log)
        assert log.at(busy_ts) == [busy_ts], "a busy write must still be committed"
        assert busy_ts in log
        assert list(log) == rows
        assert len(log) == len(rows)
        # Still busy: the next write raises again and is committed too.
        more = []
        for j in range(busy_ts + 1, busy_ts + 50):
            try:
                log[j] = j
            except TimelogBusyError:
                pass
            more.append((j, j))
        assert list(log) == rows + more


def test_raise_policy_delete_under_pressure_is_committed():
    with pressured("raise") as log:
        rows, busy_ts = fill_until_busy(log)
        for t in (0, busy_ts):
            try:
                log.delete(t)
            except TimelogBusyError:
                pass
            assert t not in log
        try:
            log.delete(1, 10)
        except TimelogBusyError:
            pass
        try:
            log.cutoff(20)
        except TimelogBusyError:
            pass
        assert log.min_ts() == 20
        assert len(log) == len(rows) - 20 - (1 if busy_ts >= 20 else 0)


def test_silent_policy_never_raises_and_commits():
    with pressured("silent") as log:
        n = 30_000
        for i in range(n):
            log.append(i, i)
        assert len(log) == n
        assert list(log) == [(i, i) for i in range(n)]
        assert log.stats()["memtable"]["sealed_runs"] >= 1


def test_flush_policy_never_raises_and_relieves_pressure():
    with pressured("flush") as log:
        n = 30_000
        for i in range(n):
            log.append(i, i)
            if i % 1000 == 0:
                assert log.stats()["memtable"]["sealed_runs"] <= 1
        assert list(log) == [(i, i) for i in range(n)]
        assert log.stats()["storage"]["segments_l0"] + log.stats()["storage"]["segments_l1"] >= 1


def test_flush_call_relieves_pressure():
    with pressured("raise") as log:
        rows, busy_ts = fill_until_busy(log)
        log.flush()
        assert log.stats()["memtable"]["sealed_runs"] == 0
        log.append(busy_ts + 1, busy_ts + 1)  # must not raise
        rows.append((busy_ts + 1, busy_ts + 1))
        # the next busy comes only after the memtable fills up again
        rows2, busy2 = fill_until_busy(log, busy_ts + 2)
        assert busy2 - busy_ts > 2
        assert list(log) == rows + rows2


def test_extend_under_raise_commits_everything_and_reports_committed():
    n = 50_000
    with pressured("raise") as log:
        with pytest.raises(TimelogBusyError) as ei:
            log.extend((i, i) for i in range(n))
        assert ei.value.committed == n
        assert len(log) == n
        assert list(log) == [(i, i) for i in range(n)]


def test_extend_columns_under_raise_when_already_busy():
    with pressured("raise") as log:
        rows, busy_ts = fill_until_busy(log)
        base = busy_ts + 1
        try:
            log.extend(list(range(base, base + 10)), list(range(base, base + 10)))
        except TimelogBusyError as e:
            assert e.committed == 10
        assert list(log) == rows + [(i, i) for i in range(base, base + 10)]


@pytest.mark.parametrize("policy", ["silent", "flush"])
def test_extend_under_other_policies(policy):
    n = 50_000
    with pressured(policy) as log:
        log.extend(range(n), range(n))
        assert len(log) == n
        assert list(log.range(100, 103)) == [(100, 100), (101, 101), (102, 102)]


def test_busy_error_from_flush_or_maint_step_is_retryable():
    # Contract: busy from flush/maint_step is a publish conflict; nothing is lost.
    with pressured("silent") as log:
        for i in range(5000):
            log.append(i, i)
        for _ in range(3):
            try:
                log.flush()
                break
            except TimelogBusyError:
                continue
        try:
            log.compact()
            while log.maint_step():
                pass
        except TimelogBusyError:
            pass
        assert list(log) == [(i, i) for i in range(5000)]


def _busy_worker_log(make_log, wait_ms):
    """A background log whose worker is about to spend a while compacting a big
    unsorted backlog, so sealed runs cannot be flushed meanwhile."""
    import random

    n = 1_000_000
    log = make_log(**pressure("raise", maintenance="background", memtable_max_bytes=small_memtable_bytes() * 16,
                              sealed_wait_ms=wait_ms))
    rnd = random.Random(7)
    for ts in (range(n), [rnd.randrange(n) for _ in range(n)]):
        try:
            log.extend(ts, range(n))
        except TimelogBusyError as e:  # committed anyway
            assert e.committed == n
    time.sleep(0.3)
    return log, n


@pytest.mark.parametrize("wait_ms", [0, 300])
def test_background_sealed_wait(make_log, wait_ms):
    """sealed_wait_ms=0: a busy write never waits; >0: it may wait up to that long."""
    log, n = _busy_worker_log(make_log, wait_ms)
    log.compact()
    busy = 0
    worst = 0.0
    t_end = time.monotonic() + 2
    i = 0
    while time.monotonic() < t_end and busy < 200:
        t0 = time.monotonic()
        try:
            log.append(n + i, i)
        except TimelogBusyError:
            busy += 1
        worst = max(worst, time.monotonic() - t0)
        i += 1
    assert len(log) == 2 * n + i, "every write, busy or not, is committed"
    if wait_ms == 0:
        assert busy > 0, "expected backpressure while the worker compacts"
        assert worst < 0.1, f"a write waited {worst:.3f}s with sealed_wait_ms=0"
    else:
        assert worst < wait_ms / 1000 + 0.25, f"a write waited {worst:.3f}s > sealed_wait_ms"


def test_background_busy_record_committed(make_log):
    # the worker is stopped so pressure cannot be relieved; the write waits up to
    # sealed_wait_ms and reports busy, the record being committed anyway.
    log = make_log(**pressure("raise", maintenance="background", sealed_wait_ms=20))
    log.stop_maintenance()
    rows, busy_ts = fill_until_busy(log)
    assert log.at(busy_ts) == [busy_ts]
    log.start_maintenance()
    assert list(log) == rows


# --------------------------------------------------------------- properties


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 300)),
        st.tuples(st.just("setitem"), st.integers(1, 300)),
        st.tuples(st.just("extend"), st.integers(0, 3000)),
        st.tuples(st.just("extend_cols"), st.integers(0, 3000)),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(options=tst.pressure_options(), ops=ops)
def test_property_every_write_committed(options, ops):
    """Under every policy and pressure level every write is committed."""
    policy, sealed_max_runs = options["busy_policy"], options["sealed_max_runs"]
    log = Timelog(maintenance="disabled", **options)
    try:
        expected = []  # (ts, obj) in insertion order
        ts = 0

        def busy_ok(fn, n_records=None):
            try:
                fn()
            except TimelogBusyError as e:
                assert policy == "raise", "only the raise policy may raise busy"
                if n_records is not None:
                    assert e.committed == n_records

        for op, n in ops:
            if op == "append":
                for _ in range(n):
                    expected.append((ts, ts))
                    busy_ok(lambda: log.append(ts, ts))
                    ts += 1
            elif op == "setitem":
                for _ in range(n):
                    expected.append((ts, ts))

                    def f():
                        log[ts] = ts

                    busy_ok(f)
                    ts += 1
            elif op in ("extend", "extend_cols"):
                rows = [(t, t) for t in range(ts, ts + n)]
                ts += n
                expected.extend(rows)
                if op == "extend":
                    busy_ok(lambda: log.extend(iter(rows)), n)
                else:
                    busy_ok(lambda: log.extend([r[0] for r in rows], [r[1] for r in rows]), n)
            elif op == "delete":
                lo = max(0, ts - n)
                busy_ok(lambda: log.delete(lo, ts))
                expected = [r for r in expected if not lo <= r[0] < ts]
            elif op == "flush":
                log.flush()
            if policy == "flush":
                assert log.stats()["memtable"]["sealed_runs"] <= sealed_max_runs
        assert len(log) == len(expected)
        assert list(log) == expected
    finally:
        log.close()



@pytest.mark.parametrize("stopped_worker", [False, True])
def test_busy_message_says_what_to_do(make_log, stopped_worker):
    # A disabled log, or a background log whose worker was stopped: nothing makes room.
    log = make_log(maintenance="background" if stopped_worker else "disabled",
                   memtable_max_bytes=1024, sealed_max_runs=1, sealed_wait_ms=0)
    if stopped_worker:
        log.stop_maintenance()
    with pytest.raises(TimelogBusyError) as ei:
        log.extend((t, t) for t in range(10_000))
    msg = str(ei.value)
    assert msg.startswith("write committed, but the log is under backpressure"), msg
    assert "maintenance is disabled" in msg, msg
    for remedy in ("flush()", "busy_policy='flush'", "Timelog.for_bulk_ingest()"):
        assert remedy in msg, (remedy, msg)
    assert ei.value.committed == 10_000
    assert len(log) == 10_000
