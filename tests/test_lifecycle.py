"""Lifecycle: close, closed-log use, context manager, reopen, maintenance start/stop."""

import time

import pytest

from timelog import Timelog, TimelogError

try:
    from model import thread_count, wait_until
except ImportError:  # pragma: no cover
    from tests.model import thread_count, wait_until


def test_close_idempotent():
    log = Timelog(maintenance="disabled")
    log.append(1, "a")
    assert not log.closed
    log.close()
    assert log.closed
    log.close()
    log.close()
    assert log.closed


def test_close_background_idempotent():
    log = Timelog()
    log.append(1, "a")
    log.close()
    log.close()
    assert log.closed


CLOSED_CALLS = [
    ("append", lambda lg: lg.append(1, "x")),
    ("append_auto", lambda lg: lg.append("x")),
    ("setitem", lambda lg: lg.__setitem__(1, "x")),
    ("extend", lambda lg: lg.extend([(1, "x")])),
    ("extend_cols", lambda lg: lg.extend([1], ["x"])),
    ("delete", lambda lg: lg.delete(1)),
    ("delete_range", lambda lg: lg.delete(1, 2)),
    ("delitem", lambda lg: lg.__delitem__(1)),
    ("delslice", lambda lg: lg.__delitem__(slice(None, None))),
    ("cutoff", lambda lg: lg.cutoff(1)),
    ("count", lambda lg: lg.count()),
    ("first", lambda lg: lg.first()),
    ("last", lambda lg: lg.last()),
    ("asof", lambda lg: lg.asof(1)),
    ("nearest", lambda lg: lg.nearest(1)),
    ("count_by", lambda lg: lg.count_by(10)),
    ("timestamps", lambda lg: lg.timestamps()),
    ("to_numpy", lambda lg: lg.to_numpy()),
    ("at", lambda lg: lg.at(1)),
    ("slice", lambda lg: lg[1:2]),
    ("iter", lambda lg: iter(lg)),
    ("reversed", lambda lg: reversed(lg)),
    ("range", lambda lg: lg.range(1, 2)),
    ("since", lambda lg: lg.since(1)),
    ("until", lambda lg: lg.until(1)),
    ("all", lambda lg: lg.all()),
    ("equal", lambda lg: lg.equal(1)),
    ("point", lambda lg: lg.point(1)),
    ("len", lambda lg: len(lg)),
    ("contains", lambda lg: 1 in lg),
    ("min_ts", lambda lg: lg.min_ts()),
    ("max_ts", lambda lg: lg.max_ts()),
    ("next_ts", lambda lg: lg.next_ts(1)),
    ("prev_ts", lambda lg: lg.prev_ts(1)),
    ("stats", lambda lg: lg.stats()),
    ("views", lambda lg: lg.views()),
    ("page_spans", lambda lg: lg.page_spans(None, None)),
    ("flush", lambda lg: lg.flush()),
    ("compact", lambda lg: lg.compact()),
    ("maint_step", lambda lg: lg.maint_step()),
    ("start_maintenance", lambda lg: lg.start_maintenance()),
    ("stop_maintenance", lambda lg: lg.stop_maintenance()),
]


@pytest.mark.parametrize("name,call", CLOSED_CALLS, ids=[c[0] for c in CLOSED_CALLS])
def test_methods_after_close_raise(name, call):
    log = Timelog(maintenance="disabled")
    log.append(1, "a")
    log.close()
    with pytest.raises(TimelogError):
        call(log)


def test_live_iterator_after_close_raises():
    log = Timelog(maintenance="disabled")
    log.extend((i, i) for i in range(10_000))
    log.flush()
    its = [log.all(), log.range(10, 20), log.equal(5), reversed(log)]
    partially = log.all()
    partially.next_batch(5)
    log.close()
    for it in its + [partially]:
        with pytest.raises(TimelogError):
            next(it)
        with pytest.raises(TimelogError):
            it.next_batch(10)
        it.close()  # closing a dead iterator is allowed
    del its, partially


def test_context_manager_closes():
    with Timelog(maintenance="disabled") as log:
        log.append(1, "a")
        assert not log.closed
    assert log.closed
    with pytest.raises(TimelogError):
        log.append(2, "b")


def test_context_manager_closes_on_exception():
    with pytest.raises(RuntimeError):
        with Timelog() as log:
            raise RuntimeError("boom")
    assert log.closed


def test_context_manager_returns_self():
    log = Timelog(maintenance="disabled")
    with log as same:
        assert same is log


def test_reopen_keeps_options(make_log):
    log = make_log(busy_policy="silent", time_unit="us")
    log.extend([(1, "a"), (2, "b")])
    log.close()
    log.reopen()
    assert not log.closed
    assert len(log) == 0
    assert log.time_unit == "us"
    assert log.busy_policy == "silent"
    assert log.maintenance_mode == "disabled"
    log.append(3, "c")
    assert list(log) == [(3, "c")]


def test_reopen_overrides():
    log = Timelog(maintenance="disabled", busy_policy="silent", time_unit="us", drain_batch_limit=3)
    log.close()
    log.reopen(time_unit="ns")
    assert log.time_unit == "ns"
    assert log.busy_policy == "silent"
    assert log.maintenance_mode == "disabled"
    log.close()
    log.reopen(maintenance="background")
    assert log.maintenance_mode == "background"
    assert log.time_unit == "ns"
    log.append(1, "x")
    log.close()


def test_reopen_bad_options():
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TypeError):
        log.reopen(bogus=1)
    with pytest.raises(ValueError):
        log.reopen(busy_policy="nope")
    log.reopen()
    log.close()


def test_reopen_on_open_log_raises(make_log):
    log = make_log()
    log.append(1, "a")
    with pytest.raises(TimelogError):
        log.reopen()
    assert list(log) == [(1, "a")]


def test_old_iterator_after_reopen_raises_or_keeps_snapshot():
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    it = log.all()
    log.close()
    log.reopen()
    log.append(3, "c")
    with pytest.raises(TimelogError):
        next(it)
    assert list(log) == [(3, "c")]
    log.close()


def test_start_maintenance_twice():
    with Timelog() as log:
        log.start_maintenance()
        log.start_maintenance()
        log.append(1, "a")
        assert log.at(1) == ["a"]


def test_stop_without_start(make_log):
    log = make_log()
    log.stop_maintenance()
    log.stop_maintenance()
    log.append(1, "a")
    log.flush()
    assert log.at(1) == ["a"]


def test_stop_twice_background():
    with Timelog() as log:
        log.stop_maintenance()
        log.stop_maintenance()
        log.start_maintenance()
        log.append(1, "a")


def test_start_stop_cycles_no_thread_leak(make_log):
    log = make_log(maintenance="background", maintenance_wakeup_ms=1)
    log.stop_maintenance()
    time.sleep(0.05)
    before = thread_count()
    for i in range(100):
        log.start_maintenance()
        log.append(i, i)
        log.stop_maintenance()
    assert wait_until(lambda: thread_count() <= before, timeout=2.0), (
        f"thread leak: {before} -> {thread_count()}"
    )
    assert len(log) == 100


def test_create_close_cycles_no_thread_leak():
    time.sleep(0.05)
    before = thread_count()
    for i in range(100):
        log = Timelog(maintenance="background", maintenance_wakeup_ms=1)
        log.append(i, i)
        log.close()
    assert wait_until(lambda: thread_count() <= before, timeout=2.0), (
        f"thread leak: {before} -> {thread_count()}"
    )


def test_background_worker_thread_exists_and_stops():
    import gc

    gc.collect()
    time.sleep(0.05)
    before = thread_count()
    log = Timelog(maintenance="background")
    log.start_maintenance()
    assert wait_until(lambda: thread_count() >= before + 1, timeout=2.0)
    log.stop_maintenance()
    assert wait_until(lambda: thread_count() <= before, timeout=2.0)
    log.close()


def test_maint_step_in_background_mode_raises():
    with Timelog(maintenance="background") as log:
        with pytest.raises(TimelogError):
            log.maint_step()


def test_maint_step_returns_bool(make_log):
    log = make_log()
    assert log.maint_step() is False
    log.extend((i, i) for i in range(100))
    log.flush()
    log.compact()
    r = log.maint_step()
    assert isinstance(r, bool)
    while log.maint_step():
        pass
    assert log.maint_step() is False
    assert len(log) == 100


def test_background_maintenance_flushes_and_compacts():
    with Timelog(
        maintenance="background",
        memtable_max_bytes=4096,
        max_delta_segments=2,
        maintenance_wakeup_ms=1,
        busy_policy="flush",
    ) as log:
        log.extend((i, i) for i in range(20_000))
        log.compact()
        assert wait_until(lambda: log.stats()["operational"]["flushes_total"] > 0, timeout=5)
        assert wait_until(lambda: log.stats()["operational"]["compactions_total"] > 0, timeout=5)
        assert len(log) == 20_000
        assert list(log) == [(i, i) for i in range(20_000)]
