"""Reference cycles through payloads, iterators and spans are collected.

A log owns one reference per stored record as a handle inside the engine; its
``tp_traverse`` reports each of them (memtable, sealed runs, segments, and the
retirement queue) to the cyclic collector, and its ``tp_clear`` closes it. So a
cycle such as ``log.append(1, {"log": log})`` is freed by ``gc.collect()``:
weak references to the log die, payload finalizers run, the worker thread ends.
Reference counts stay exact, and a reachable log keeps every payload intact
(nothing is visited more often than it is referenced).
"""

import ctypes
import gc
import os
import sys
import threading
import time
import weakref

import pytest

from timelog import Timelog, TimelogError

try:
    from model import refs, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import refs, run_maintenance


MODES = ["background", "disabled"]


def new_log(mode, **kw):
    kw.setdefault("busy_policy", "silent")
    return Timelog(maintenance=mode, **kw)


def os_threads():
    """Threads of this process, as the kernel sees them (worker threads included)."""
    return len(os.listdir("/proc/self/task"))


def threads_settle(expected, timeout=10.0):
    """The thread count once it is `expected`, or when `timeout` seconds have passed.

    A worker thread that close() has joined can stay listed in /proc/self/task for a
    moment, until the kernel reaps it, so a count taken right after a collection may
    still include it. A worker that really outlives its log keeps the count high past
    the timeout and fails the comparison."""
    deadline = time.monotonic() + timeout
    n = os_threads()
    while n != expected and time.monotonic() < deadline:
        time.sleep(0.01)
        n = os_threads()
    return n


class Fin:
    """A payload whose finalizer records that it ran."""

    finalized = []

    def __init__(self, tag, **refs):
        self.tag = tag
        self.__dict__.update(refs)

    def __del__(self):
        Fin.finalized.append(self.tag)


@pytest.fixture(autouse=True)
def _clean():
    gc.collect()
    Fin.finalized.clear()
    yield
    Fin.finalized.clear()


def collect_cycle(build, mode):
    """Builds a cycle with build(log) (which returns nothing that holds the log),
    drops every outside reference, collects, and checks that the log, its worker
    thread and the payloads are gone."""
    threads_before = os_threads()
    log = new_log(mode)
    if mode == "background":
        assert threads_settle(threads_before + 1) == threads_before + 1
    build(log)
    wlog = weakref.ref(log)
    del log
    assert wlog() is not None, "build() must make a cycle through the log"
    gc.collect()
    assert wlog() is None, "the cycle through the log was not collected"
    assert threads_settle(threads_before) == threads_before, "the worker thread outlived the log"


# ------------------------------------------------------------ cycle shapes


@pytest.mark.parametrize("mode", MODES)
def test_payload_dict_holding_the_log(mode):
    threads_before = os_threads()
    wlogs = []
    for i in range(20):
        log = new_log(mode)
        log.append(1, Fin(f"p{i}", log=log))
        log.append(2, {"log": log})
        wlogs.append(weakref.ref(log))
    del log
    gc.collect()
    assert [w() for w in wlogs] == [None] * 20
    assert sorted(Fin.finalized) == sorted(f"p{i}" for i in range(20))
    assert threads_settle(threads_before) == threads_before


@pytest.mark.parametrize("mode", MODES)
def test_payload_list_holding_an_iterator_of_the_log(mode):
    threads_before = os_threads()
    log = new_log(mode)
    log.extend((t, Fin(f"x{t}")) for t in range(10))
    it = log.all()
    next(it)                                   # a live, pinned, partly consumed iterator
    log.append(1, [it, Fin("holder")])
    wlog = weakref.ref(log)
    del log, it
    gc.collect()
    assert wlog() is None
    assert sorted(Fin.finalized) == sorted([f"x{t}" for t in range(10)] + ["holder"])
    assert threads_settle(threads_before) == threads_before


@pytest.mark.parametrize("mode", MODES)
def test_iterator_stored_in_its_own_log(mode):
    log = new_log(mode)
    it = log.all()
    log.append(1, it)
    wlog = weakref.ref(log)
    del log, it
    gc.collect()
    assert wlog() is None


@pytest.mark.parametrize("mode", MODES)
def test_span_view_and_span_iterator_stored_in_the_log(mode):
    threads_before = os_threads()
    log = new_log(mode)
    log.extend((t, Fin(f"s{t}")) for t in range(1000))
    log.flush()
    spans = log.views()
    span = next(spans)
    view = span.objects()
    mv = memoryview(span)
    log.append(5000, (span, view, spans, mv))
    wlog = weakref.ref(log)
    del log, spans, span, view, mv
    gc.collect()
    assert wlog() is None
    assert len(Fin.finalized) == 1000
    assert threads_settle(threads_before) == threads_before


@pytest.mark.parametrize("mode", MODES)
def test_cycle_through_the_memtable(mode):
    def build(log):
        log.append(1, Fin("m", log=log))
        assert log.stats()["memtable"]["active_records"] == 1
    collect_cycle(build, mode)
    assert Fin.finalized == ["m"]


def test_cycle_through_sealed_runs():
    # disabled: sealed runs wait for an explicit flush, nothing moves them on
    log = new_log("disabled", memtable_max_bytes=4096, sealed_max_runs=1 << 20)
    log.extend((t, t) for t in range(5000))
    log.append(6000, Fin("sealed", log=log))
    log.extend((t, t) for t in range(7000, 12000))  # seals the memtable again
    assert log.stats()["memtable"]["sealed_runs"] > 0
    assert log.stats()["storage"]["segments_l0"] == 0
    wlog = weakref.ref(log)
    del log
    gc.collect()
    assert wlog() is None
    assert Fin.finalized == ["sealed"]


@pytest.mark.parametrize("mode", MODES)
def test_cycle_through_flushed_and_compacted_segments(mode):
    for compacted in (False, True):
        Fin.finalized.clear()

        def build(log):
            log.extend((t, t) for t in range(100))
            log.append(50, Fin("seg", log=log))
            log.flush()
            if compacted:
                if mode == "disabled":
                    run_maintenance(log)
                else:
                    log.stop_maintenance()
                    run_maintenance(log)
                    log.start_maintenance()
                assert log.stats()["storage"]["segments_l1"] > 0
            else:
                assert log.stats()["storage"]["segments_l0"] > 0
            assert log.stats()["memtable"]["active_records"] == 0
        collect_cycle(build, mode)
        assert Fin.finalized == ["seg"]


@pytest.mark.parametrize("mode", MODES)
def test_cycle_through_the_retirement_queue(mode):
    """The cyclic payload was deleted and dropped by maintenance, but drains are
    pinned by a live iterator: its only reference sits in the retirement queue."""
    threads_before = os_threads()
    log = new_log(mode)
    log.extend((t, t) for t in range(100))
    payload = Fin("retired", log=log)
    log.append(1000, payload)
    log.flush()
    pin = log.all()
    payload.pin = pin                           # the pin is part of the garbage too
    log.delete(1000)
    if mode == "background":                    # compaction drops it, deterministically
        log.stop_maintenance()
    run_maintenance(log)
    if mode == "background":
        log.start_maintenance()
    st = log.stats()
    assert st["handles"]["retired_queue_len"] >= 1
    assert st["storage"]["records_physical"] == 100   # not stored any more
    assert st["handles"]["pins"] == 1
    wlog = weakref.ref(log)
    del log, payload, pin, st
    gc.collect()
    assert wlog() is None
    assert Fin.finalized == ["retired"]
    assert threads_settle(threads_before) == threads_before


def test_collections_while_the_worker_drops():
    """Cyclic logs whose workers flush, compact and drop (into the retirement
    queue) while the main thread runs full collections: live payloads are never
    finalized early, and in the end every log is collected and every payload
    finalized exactly once."""
    threads_before = os_threads()
    wlogs = []
    n_fin = 0
    for i in range(4):
        log = new_log("background", memtable_max_bytes=4096, maintenance_wakeup_ms=1,
                      sealed_max_runs=1 << 20, sealed_wait_ms=0)
        log.append(-1, {"log": log})
        live = set()
        for k in range(25):
            log.extend((t, Fin(f"{i}.{t}")) for t in range(k * 50, k * 50 + 50))
            log.delete(k * 50, k * 50 + 25)     # the worker drops these
            live.update(f"{i}.{t}" for t in range(k * 50 + 25, k * 50 + 50))
            n_fin += 50
            if k % 5 == 0:
                log.compact()
            gc.collect()
        assert not live & set(Fin.finalized), "a live payload was finalized"
        assert len(log) == 25 * 25 + 1
        wlogs.append(weakref.ref(log))
        del log
        gc.collect()
    assert [w() for w in wlogs] == [None] * 4
    assert len(Fin.finalized) == n_fin == len(set(Fin.finalized))
    assert threads_settle(threads_before) == threads_before


# ------------------------------------------------------------ refcounts and safety


@pytest.mark.parametrize("mode", MODES)
def test_refcounts_exact_after_collecting_a_cycle(mode):
    shared = object()
    others = [object() for _ in range(50)]
    base = sys.getrefcount(shared)
    obase = refs(others)
    log = new_log(mode, memtable_max_bytes=4096, sealed_max_runs=1 << 20)
    log.extend((t, shared) for t in range(3000))
    log.extend((t, others[t]) for t in range(50))
    log.flush()
    log.extend((t, shared) for t in range(3000, 3100))      # memtable too
    assert sys.getrefcount(shared) == base + 3100
    log.delete(0, 1000)
    log.append(1, {"log": log})
    del log
    gc.collect()
    assert sys.getrefcount(shared) == base
    assert refs(others) == obase


@pytest.mark.parametrize("where", ["memtable", "sealed", "l0", "l1", "retired"])
def test_a_reachable_log_keeps_self_referencing_payloads_intact(where):
    """Each payload refers to itself and is held only by the live log, so the
    subtraction pass of a collection brings it to zero outside references and only
    the reachability pass, walking the log again, saves it. A traversal that did not
    report the same handles in every pass (or reported the wrong objects) would let
    the collector clear payloads of a live log."""
    log = new_log("disabled", memtable_max_bytes=4096, sealed_max_runs=1 << 20)
    for i in range(30):
        p = [i]
        p.append(p)
        log.append(i, p)
        log.append(i, p)                        # stored twice: referenced twice
    del p
    pin = None
    if where == "sealed":
        log.extend((t, t) for t in range(100, 1000))
        assert log.stats()["memtable"]["sealed_runs"] > 0
    elif where == "l0":
        log.flush()
    elif where == "l1":
        run_maintenance(log)
        assert log.stats()["storage"]["segments_l1"] > 0
    elif where == "retired":
        log.flush()
        pin = log.all()                         # blocks drains: they stay queued
        log.delete(0, 30)
        run_maintenance(log)
        assert log.stats()["handles"]["retired_queue_len"] == 60
        assert log.stats()["storage"]["records_physical"] == 0
    for _ in range(3):
        gc.collect()
    if where == "retired":
        snapshot = [o for _, o in pin]
        del pin
        # the queue drained when the pin went away; the snapshot list holds them
        rows = snapshot
    else:
        rows = [o for _, o in log.all() if isinstance(o, list)]
    assert len(rows) == 60
    for p in rows:
        assert len(p) == 2 and p[1] is p, "a payload held by a live log was cleared"
    log.close()


@pytest.mark.parametrize("mode", MODES)
def test_outside_references_to_payloads_of_a_collected_log_survive(mode):
    """The log is garbage but some of its payloads are also held from outside. If
    the traversal reported a payload more often than the log references it, the
    collector would count the outside reference as internal and clear (or finalize)
    a payload that is still in use."""
    once = [1, 2, 3]
    twice = {"k": "v"}
    fin = Fin("outside")
    log = new_log(mode)
    log.append(1, once)
    log.append(2, twice)
    log.append(3, twice)
    log.append(4, fin)
    log.flush()
    log.append(5, once)                         # memtable and segment
    log.append(6, {"log": log})
    wlog = weakref.ref(log)
    del log
    gc.collect()
    assert wlog() is None
    assert once == [1, 2, 3] and twice == {"k": "v"} and fin.tag == "outside"
    assert Fin.finalized == []
    assert sys.getrefcount(once) == 2 and sys.getrefcount(twice) == 2


def test_get_referents_lists_every_owned_payload_once_per_record():
    a, b, c = [], {}, Fin("c")                  # payloads that can be part of a cycle
    log = new_log("disabled")
    log.append(7, 12345678901)                  # atomic: no GC support, not listed
    log.append(8, "text")
    log.append(1, a)
    log.append(2, a)
    log.append(3, b)
    log.flush()
    log.append(0, c)                            # out of order, memtable
    log.delete(3)                               # tombstoned, still stored
    refs = [r for r in gc.get_referents(log) if r is a or r is b or r is c]
    assert sorted(map(id, refs)) == sorted(map(id, [a, a, b, c]))
    pin = log.all()
    run_maintenance(log)                        # b dropped into the retirement queue
    assert log.retired_queue_len == 1
    refs = [r for r in gc.get_referents(log) if r is a or r is b or r is c]
    assert sorted(map(id, refs)) == sorted(map(id, [a, a, b, c]))
    del pin
    assert log.retired_queue_len == 0           # drained: b is no longer owned
    refs = [r for r in gc.get_referents(log) if r is a or r is b or r is c]
    assert sorted(map(id, refs)) == sorted(map(id, [a, a, c]))
    assert not [r for r in gc.get_referents(log) if isinstance(r, (int, str))]
    log.close()
    assert [r for r in gc.get_referents(log) if r is a or r is c] == []


def test_log_and_iterators_are_tracked_by_the_collector():
    log = new_log("disabled")
    log.append(1, "x")
    it = log.all()
    assert gc.is_tracked(log) and gc.is_tracked(it)
    assert any(r is log for r in gc.get_referents(it))
    it.close()
    log.close()


def test_iterator_cycle_without_the_log_releases_its_pin():
    """An iterator in a garbage cycle that does not include its (live) log: the
    collector must not drop the iterator's reference to the log without unpinning,
    or drains would stay blocked for the rest of the log's life."""
    log = new_log("disabled")
    log.extend((t, object()) for t in range(10))
    log.flush()
    for shape in range(3):
        it = log.all()
        next(it)
        if shape == 0:
            box = [it]
            box.append(box)
        elif shape == 1:
            box = {"it": it}
            box["self"] = box
        else:
            row = next(it)                      # the recycled row tuple of the iterator
            box = [it, row]
            box.append(box)
            del row
        assert log.stats()["handles"]["pins"] == 1
        del it, box
        gc.collect()
        assert log.stats()["handles"]["pins"] == 0
    log.delete(0, 10)
    run_maintenance(log)
    assert log.retired_queue_len == 0, "drains still blocked by a collected iterator"
    log.close()


# ------------------------------------------------------------ finalizers


@pytest.mark.parametrize("mode", MODES)
def test_finalizer_in_the_cycle_may_use_the_log(mode):
    """Python finalizers of the garbage run before anything is cleared: the log is
    still open for them (or closed: TimelogError), never a crash."""
    seen = []

    class UsesLog:
        def __init__(self, log):
            self.log = log

        def __del__(self):
            try:
                self.log.append(99, "from __del__")
                seen.append((len(self.log), self.log.at(99)))
            except TimelogError as e:
                seen.append(e)

    threads_before = os_threads()
    log = new_log(mode)
    log.append(1, UsesLog(log))
    wlog = weakref.ref(log)
    del log
    gc.collect()
    gc.collect()
    assert wlog() is None
    assert len(seen) == 1
    assert isinstance(seen[0], TimelogError) or seen[0] == (2, ["from __del__"])
    assert threads_settle(threads_before) == threads_before


class _LateFinalizer:
    """Frozen (gc.freeze) before the log exists, so the collection does not examine
    it and its __del__ does not run with the garbage's finalizers but when the log's
    clear releases the last reference to it."""

    target = 0            # id() of the log, an int: not a reference
    seen = []

    def __del__(self):
        # A real reference from the address (the collector holds the log alive while
        # it clears it), as code reaching the log after its clear would have.
        log = ctypes.cast(_LateFinalizer.target, ctypes.py_object).value
        out = [log.closed]
        for op in (lambda: log.append(1, "x"), lambda: len(log), lambda: list(log),
                   lambda: log.stats(), lambda: log.flush()):
            try:
                op()
                out.append("ok")
            except TimelogError as e:
                out.append(str(e))
        del log
        _LateFinalizer.seen.append(out)


@pytest.mark.parametrize("mode", MODES)
def test_finalizer_touching_the_log_after_it_was_cleared_gets_timelog_error(mode):
    threads_before = os_threads()
    late = _LateFinalizer()
    _LateFinalizer.seen = []
    gc.freeze()
    try:
        log = new_log(mode)
        log.append(1, {"log": log})
        log.append(2, late)
        del late
        _LateFinalizer.target = id(log)
        wlog = weakref.ref(log)
        del log
        gc.collect()
        assert wlog() is None
    finally:
        gc.unfreeze()
    assert _LateFinalizer.seen == [[True] + ["Timelog is closed"] * 5]
    assert threads_settle(threads_before) == threads_before


def test_iterators_and_spans_in_the_garbage_touch_the_cleared_log_safely():
    """Their deallocators run after the log's clear and unpin on a closed log."""
    import warnings

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for k in range(12):
            log = new_log("disabled")
            log.extend((t, Fin(f"{k}.{t}")) for t in range(300))
            log.flush()
            items = [log.all(), log.views()]
            next(items[0])
            span = next(items[1])
            items += [span, span.objects(), log.all()]
            if k % 2:
                items.reverse()
            log.append(1000, items)
            del log, items, span
            gc.collect()
    assert not w, [str(x.message) for x in w]
    assert len(Fin.finalized) == 12 * 300


def test_subclass_cycles_are_collected():
    """A Python subclass traverses its __dict__ and then the log's own slots."""

    class MyLog(Timelog):
        pass

    threads_before = os_threads()
    log = MyLog(maintenance="background")
    log.me = log                                # through the instance __dict__
    log.append(1, Fin("sub", log=log))          # through a payload
    wlog = weakref.ref(log)
    del log
    gc.collect()
    assert wlog() is None
    assert Fin.finalized == ["sub"]
    assert threads_settle(threads_before) == threads_before
