"""Payload lifetimes, retirement drains, pins, close/dealloc and re-entrancy.

Deleted payloads are physically removed in disabled mode by
``flush(); compact(); while maint_step(): pass``; the binding then releases their
references in drains. Drains are observed through ``sys.getrefcount`` on unique
payload objects, ``retired_queue_len`` and ``stats()["handles"]``.
"""

import gc
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from timelog import Timelog, TimelogError

try:
    import strategies as tst
    from model import Obj, examples, handles, make_objs, n_released, refs, run_maintenance
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import Obj, examples, handles, run_maintenance


def store_and_retire(log, objs, ts0=0, pin=False):
    """Store objs at ts0.., flush them to L0, delete them and compact.

    Returns the pin iterator (created before the delete) if pin=True.
    """
    log.extend([(ts0 + i, o) for i, o in enumerate(objs)])
    log.flush()
    it = log.all() if pin else None
    log.delete(ts0, ts0 + len(objs))
    run_maintenance(log)
    return it


def disabled(**kw):
    return Timelog(maintenance="disabled", busy_policy="silent", **kw)


def stored(objs, **kw):
    """A disabled() log holding objs at 0.. in an L0 segment."""
    log = disabled(**kw)
    log.extend(enumerate(objs))
    log.flush()
    return log


# ------------------------------------------------------------------ refcounts


def test_one_reference_per_stored_record():
    o = Obj("x")
    base = sys.getrefcount(o)
    with disabled() as log:
        log.append(1, o)
        assert sys.getrefcount(o) == base + 1
        log.append(2, o)
        log[3] = o
        log.extend([(4, o), (5, o)])
        assert sys.getrefcount(o) == base + 5
        log.flush()
        run_maintenance(log)
        assert sys.getrefcount(o) == base + 5
    assert sys.getrefcount(o) == base


def test_refcounts_return_after_close():
    objs, base = make_objs(500)
    log = stored(objs)
    log.extend((i + 1000, o) for i, o in enumerate(objs))
    assert refs(objs) == [b + 2 for b in base]
    log.close()
    assert refs(objs) == base


def test_refcounts_after_iterating():
    objs, base = make_objs(300)
    with stored(objs) as log:
        rows = list(log)
        assert refs(objs) == [b + 2 for b in base]
        del rows
        it = log.all()
        it.next_batch(10)
        next(it)
        del it
        gc.collect()
        for t in range(300):
            log.at(t)
        list(reversed(log))
        list(log.range(10, 20))
        assert refs(objs) == [b + 1 for b in base]
    assert refs(objs) == base


def test_refcounts_after_delete_compaction_drain():
    objs, base = make_objs(200)
    keep, kbase = make_objs(50, "k")
    with disabled() as log:
        log.extend((1000 + i, o) for i, o in enumerate(keep))
        store_and_retire(log, objs)
        log.flush()  # trigger an opportunistic drain
        assert refs(objs) == base, "deleted payloads must be released after maintenance + drain"
        assert refs(keep) == [b + 1 for b in kbase]
        h = handles(log)
        assert h["retired_count"] == 200
        assert h["drained_count"] == 200
        assert h["retired_queue_len"] == 0
        assert log.retired_queue_len == 0
    assert refs(keep) == kbase


def test_cutoff_releases_payloads():
    objs, base = make_objs(300)
    with disabled(window_size=10) as log:
        log.extend(enumerate(objs))
        log.flush()
        run_maintenance(log)
        log.cutoff(300)
        run_maintenance(log)
        log.flush()
        assert refs(objs) == base
        assert len(log) == 0


def test_memtable_deleted_records_released_after_maintenance():
    objs, base = make_objs(100)
    with disabled() as log:
        log.extend(enumerate(objs))
        del log[:]
        run_maintenance(log)
        log.flush()
        assert refs(objs) == base


def test_gc_of_unclosed_log_releases_everything():
    objs, base = make_objs(100)
    log = stored(objs)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del log
        gc.collect()
    assert refs(objs) == base
    assert not [x for x in w if issubclass(x.category, ResourceWarning)], "no pins: no warning"


def test_gc_of_unclosed_background_log():
    objs, base = make_objs(100)
    log = Timelog(maintenance="background")
    log.extend(enumerate(objs))
    del log
    gc.collect()
    assert refs(objs) == base


# ---------------------------------------------------------------- drain limits


def test_metrics_exact_after_heavy_churn():
    with disabled() as log:
        all_objs = []
        for r in range(5):
            objs, base = make_objs(30, f"r{r}-")
            store_and_retire(log, objs, ts0=r * 100)
            log.flush()
            all_objs.append((objs, base))
            h = handles(log)
            assert h["retired_count"] == 30 * (r + 1)
            assert h["drained_count"] == 30 * (r + 1)
            assert h["retired_queue_len"] == 0
            assert h["pins"] == 0
            assert h["alloc_failures"] == 0
        for objs, base in all_objs:
            assert refs(objs) == base
        assert handles(log)["retired_count"] == 150
        assert handles(log)["drained_count"] == 150


def test_live_iterator_defers_drains():
    objs, base = make_objs(40)
    with disabled() as log:
        pin = store_and_retire(log, objs, pin=True)
        h = handles(log)
        assert h["retired_count"] == 40
        assert h["drained_count"] == 0
        assert h["retired_queue_len"] == 40
        assert log.retired_queue_len == 40
        assert h["pins"] >= 1
        log.flush()
        log.append(10_000, "trigger")
        assert handles(log)["drained_count"] == 0
        # the pinned snapshot still yields the deleted payloads
        assert [o for _, o in pin] == objs
        pin.close()  # last pin released: drain
        assert handles(log)["drained_count"] == 40
        assert handles(log)["pins"] == 0
        assert refs(objs) == base


def test_only_last_pin_release_drains():
    objs, base = make_objs(20)
    with stored(objs) as log:
        p1 = log.all()
        p2 = log.since(5)
        log.delete(0, 20)
        run_maintenance(log)
        assert log.retired_queue_len == 20
        p1.close()
        log.flush()
        assert log.retired_queue_len == 20
        del p2  # dealloc releases the pin too
        gc.collect()
        if log.retired_queue_len:
            log.flush()
        assert log.retired_queue_len == 0
        assert refs(objs) == base


def test_drain_batch_limit_exact():
    limit, n = 10, 95
    objs, base = make_objs(n)
    with disabled(drain_batch_limit=limit) as log:
        pin = store_and_retire(log, objs, pin=True)
        assert log.retired_queue_len == n
        pin.close()
        expected_drained = min(limit, n)
        assert handles(log)["drained_count"] == expected_drained
        assert n_released(objs, base) == expected_drained
        queued = n - expected_drained
        assert log.retired_queue_len == queued
        while queued:
            log.flush()
            step = min(limit, queued)
            queued -= step
            expected_drained += step
            assert log.retired_queue_len == queued
            assert handles(log)["drained_count"] == expected_drained
            assert n_released(objs, base) == expected_drained
        assert refs(objs) == base


@pytest.mark.parametrize("trigger", ["append", "setitem", "extend", "delete", "flush", "maint_step", "compact"])
def test_each_call_kind_drains(trigger):
    limit, n = 3, 10
    objs, base = make_objs(n)
    with disabled(drain_batch_limit=limit) as log:
        pin = store_and_retire(log, objs, pin=True)
        pin.close()
        assert log.retired_queue_len == n - limit
        if trigger == "append":
            log.append(50_000, "x")
        elif trigger == "setitem":
            log[50_000] = "x"
        elif trigger == "extend":
            log.extend([(50_000, "x")])
        elif trigger == "delete":
            log.delete(60_000)
        elif trigger == "flush":
            log.flush()
        elif trigger == "maint_step":
            log.maint_step()
        elif trigger == "compact":
            log.compact()
        # A write of k records may release 2k more than the limit (its drain credit).
        earned = 2 if trigger in ("append", "setitem", "extend") else 0
        assert log.retired_queue_len == n - 2 * limit - earned
        assert n_released(objs, base) == 2 * limit + earned


def test_drain_reattaches_remainder_and_later_drops_still_drain():
    limit = 10
    a, abase = make_objs(35, "a")
    b, bbase = make_objs(20, "b")
    with disabled(drain_batch_limit=limit) as log:
        pin = store_and_retire(log, a, pin=True)
        pin.close()
        assert log.retired_queue_len == 25
        assert n_released(a, abase) == 10
        store_and_retire(log, b, ts0=1000)
        h = handles(log)
        assert h["retired_count"] == 55
        assert h["retired_queue_len"] == 55 - h["drained_count"]
        for _ in range(100):
            if not log.retired_queue_len:
                break
            before = log.retired_queue_len
            log.flush()
            assert before - log.retired_queue_len == min(limit, before)
        assert log.retired_queue_len == 0
        assert handles(log)["drained_count"] == 55
        assert refs(a) == abase and refs(b) == bbase


def test_force_drain_at_close_ignores_limit():
    objs, base = make_objs(95)
    log = disabled(drain_batch_limit=1)
    pin = store_and_retire(log, objs, pin=True)
    pin.close()
    assert log.retired_queue_len == 94
    log.close()
    assert log.retired_queue_len == 0
    assert refs(objs) == base


def test_close_with_nonempty_retired_queue_and_live_records():
    dead, dbase = make_objs(60, "d")
    live, lbase = make_objs(60, "l")
    log = disabled(drain_batch_limit=5)
    log.extend((10_000 + i, o) for i, o in enumerate(live))
    pin = store_and_retire(log, dead, pin=True)
    del pin
    gc.collect()
    assert log.retired_queue_len == 55
    log.close()
    assert refs(dead) == dbase
    assert refs(live) == lbase
    log.close()  # idempotent
    assert refs(dead) == dbase


def test_close_with_live_pin_releases_everything():
    objs, base = make_objs(50)
    log = disabled(drain_batch_limit=2)
    pin = store_and_retire(log, objs, pin=True)
    other = Obj("other")
    obase = sys.getrefcount(other)
    log.append(5, other)
    it2 = log.all()
    log.close()
    with pytest.raises(TimelogError):
        next(pin)
    with pytest.raises(TimelogError):
        it2.next_batch(3)
    del pin, it2
    gc.collect()
    assert refs(objs) == base
    assert sys.getrefcount(other) == obase


def test_dealloc_with_live_iterator_warns_and_does_not_crash():
    objs, base = make_objs(100)
    log = stored(objs)
    it = log.all()
    first = next(it)
    assert first[1] is objs[0]
    del first
    holds_log = any(r is log for r in gc.get_referents(it))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del log
        gc.collect()
        if not holds_log:
            assert any(issubclass(x.category, ResourceWarning) for x in w), (
                "dealloc of a log whose pins are still held must warn"
            )
        try:
            rest = list(it)
            assert [t for t, _ in rest] == list(range(1, 100))
            assert all(o is objs[t] for t, o in rest)
            del rest
        except TimelogError:
            pass
        del it
        gc.collect()
    assert refs(objs) == base


def test_reference_cycle_between_log_and_iterator_collected():
    """An iterator keeps its log alive, so a log can only be deallocated under a
    live iterator through a garbage cycle: whatever order the collector clears the
    cycle in, nothing crashes and every payload is released. The collector never
    clears an iterator's or span's reference to its log (the log's own clear closes
    it), so the pins are always released in order: no ResourceWarning."""
    objs, base = make_objs(50)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for k in range(20):
            log = stored(objs)
            it = log.all() if k % 4 < 2 else next(iter(log.views()))
            if k % 4 < 2:
                next(it)
            box = [log, it] if k % 2 else [it, log]
            box.append(box)
            del log, it, box
            gc.collect()
    assert refs(objs) == base
    assert not w, [str(x.message) for x in w]


# ------------------------------------------------------------------ __del__


class Reentrant:
    """A payload whose __del__ re-enters the log during a drain."""

    action = None
    holder = []
    errors = []
    deleted = 0

    def __init__(self, n):
        self.n = n

    def __del__(self):
        type(self).deleted += 1
        if not self.holder:
            return
        log = self.holder[0]
        try:
            if self.action == "append":
                log.append(-1_000_000 - self.n, "from-del")
            elif self.action == "flush":
                log.flush()
            elif self.action == "close":
                log.close()
            elif self.action == "read":
                list(log.range(0, 5))
                len(log)
        except TimelogError as e:
            self.errors.append(e)


@pytest.fixture
def reentrant():
    Reentrant.holder = []
    Reentrant.errors = []
    Reentrant.deleted = 0
    yield Reentrant
    Reentrant.holder = []
    Reentrant.action = None


@pytest.mark.parametrize("action", ["append", "flush", "read", "close"])
@pytest.mark.parametrize("limit", [0, 3])
def test_del_reentrancy_during_drain(reentrant, action, limit):
    reentrant.action = action
    keep, kbase = make_objs(20, "k")
    log = disabled(drain_batch_limit=limit)
    reentrant.holder.append(log)
    n = 25
    log.extend((5000 + i, o) for i, o in enumerate(keep))
    log.extend((i, Reentrant(i)) for i in range(n))
    log.flush()
    log.delete(0, n)
    try:
        run_maintenance(log)
        for _ in range(50):
            if log.closed or not log.retired_queue_len:
                break
            log.flush()
    except TimelogError:
        assert action == "close"
    assert reentrant.deleted == n or action == "close" or log.closed
    if action == "append":
        assert not log.closed
        from_del = log.range(-1_000_000 - n, -1_000_000 + 1)
        assert len(from_del) == n
        assert len(log) == n + 20
    if action == "close":
        assert log.closed
    reentrant.holder.clear()
    log.close()
    assert reentrant.deleted == n
    assert refs(keep) == kbase


@pytest.mark.parametrize("action", ["append", "flush", "close"])
def test_del_reentrancy_during_close(reentrant, action):
    reentrant.action = action
    log = disabled(drain_batch_limit=1)
    log.extend((i, Reentrant(i)) for i in range(30))
    log.flush()
    log.extend((100 + i, Reentrant(100 + i)) for i in range(10))
    pin = log.all()
    log.delete(0, 15)
    run_maintenance(log)
    pin.close()  # drains one (limit=1); 14 stay queued for the forced drain
    assert reentrant.deleted == 1
    reentrant.holder.append(log)  # from now on __del__ re-enters the log
    log.close()
    assert log.closed
    assert reentrant.deleted == 40
    reentrant.holder.clear()
    with pytest.raises(TimelogError):
        log.append(1, "x")


# --------------------------------------------------------------- properties


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=tst.drain_limits(20), n=st.integers(0, 120))
def test_property_drain_batch_limit(limit, n):
    """Each opportunistic drain releases exactly min(limit, queued); the rest later."""
    objs, base = make_objs(n)
    log = disabled(drain_batch_limit=limit)
    try:
        pin = store_and_retire(log, objs, pin=True)
        assert handles(log)["retired_count"] == n
        queued = n
        assert log.retired_queue_len == queued
        pin.close()
        drained = 0
        while True:
            step = queued if limit == 0 else min(limit, queued)
            queued -= step
            drained += step
            assert log.retired_queue_len == queued
            h = handles(log)
            assert h["drained_count"] == drained
            assert h["retired_queue_len"] == queued
            assert n_released(objs, base) == drained
            if not queued:
                break
            log.flush()
    finally:
        log.close()
    assert refs(objs) == base


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    limit=tst.drain_limits(10),
    n=st.integers(0, 100),
    live=st.integers(0, 50),
    triggers=st.integers(0, 4),
    keep_pin=st.booleans(),
)
def test_property_close_force_drains(limit, n, live, triggers, keep_pin):
    """close() releases every reference, whatever the limit and the queue."""
    objs, base = make_objs(n)
    lobjs, lbase = make_objs(live, "l")
    log = disabled(drain_batch_limit=limit)
    log.extend((100_000 + i, o) for i, o in enumerate(lobjs))
    pin = store_and_retire(log, objs, pin=True)
    if not keep_pin:
        pin.close()
    for _ in range(triggers):
        log.flush()
    log.close()
    assert log.retired_queue_len == 0
    if keep_pin:
        with pytest.raises(TimelogError):
            next(pin)
    del pin  # no cycle: refcounting alone frees it
    assert refs(objs) == base
    assert refs(lobjs) == lbase


def test_exhausted_iterator_releases_its_pin():
    objs, base = make_objs(30)
    with disabled() as log:
        pin = store_and_retire(log, objs, pin=True)
        assert log.retired_queue_len == 30
        assert len(list(pin)) == 30  # exhausted, not closed
        assert handles(log)["pins"] == 0
        if log.retired_queue_len:
            log.flush()
        assert log.retired_queue_len == 0
        assert refs(objs) == base


def test_queue_plateaus_under_a_steady_drop_stream_with_a_tiny_limit():
    # extend(10k) + cutoff() in a loop with drain_batch_limit=1 and no reader: the
    # worker drops ~10k records per round; the writes' drain credit must keep pace,
    # so the retired queue stays bounded (it used to grow by ~10k per round).
    log = Timelog(maintenance="background", drain_batch_limit=1, busy_policy="flush")
    payload = object()
    base = sys.getrefcount(payload)
    peaks = []
    try:
        t = 0
        for rnd in range(60):
            log.extend(range(t, t + 10_000), [payload] * 10_000)
            t += 10_000
            log.cutoff(t)
            log.flush()
            peaks.append(log.retired_queue_len)
        first, last = max(peaks[:20]), max(peaks[40:])
        # 60 rounds drop 600k records; bounded means the late rounds' queue is no
        # longer than what a few rounds drop, not a growing multiple of it.
        assert last <= max(first, 1) + 30_000, peaks
        assert last < 100_000, peaks
    finally:
        log.close()
    assert sys.getrefcount(payload) == base
