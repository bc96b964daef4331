"""Differential fuzzing: random operation programs against Timelog and RefModel.

A hypothesis state machine drives a log through everything a user can do to it:
appends (three spellings), extends of pairs and generators and of columns (lists,
tuples, ranges, numpy arrays of several integer dtypes, strided views), rejected
extends, out-of-order and tied timestamps, INT64 extremes, point / range / unbounded
deletes, cutoffs, flush, compact, maint_step, start/stop of the background worker,
close + reopen (also switching the maintenance mode), iterators over full, bounded
and reversed ranges consumed a bit at a time, point lookups, len, min/max,
next/prev, ``in`` and page views. After every step the log must equal the model.

Payload reference counts are checked exactly whenever the log is closed: once no
iterator and no model holds them, every payload must be back to the reference count
of a control object that was never stored.

The run is bounded by wall time, not by an example count: the test repeats
hypothesis runs (fresh random seeds, no example database) until
``TIMELOG_FUZZ_SECONDS`` (default 3) have passed. ``tox -e fuzz`` runs it for 60 s.
A failure is shrunk and printed as a reproducible program like any hypothesis failure.
"""

import os
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from timelog import Timelog, TimelogBusyError, TimelogError

try:
    from model import INT64_MAX, INT64_MIN, Obj, RefModel, small_memtable_bytes, small_page_bytes
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, Obj, RefModel, small_memtable_bytes, small_page_bytes

FUZZ_SECONDS = float(os.environ.get("TIMELOG_FUZZ_SECONDS", "3"))

EXTREMES = [INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]
# mostly a narrow band (ties, out-of-order), plus the extremes and the odd wide value
timestamps = st.one_of(
    st.integers(-6, 6),
    st.integers(-6, 6),
    st.integers(-100, 100),
    st.sampled_from(EXTREMES),
    st.integers(INT64_MIN, INT64_MAX),
)
bounds = st.one_of(st.none(), timestamps)
# (numpy dtype, smallest, largest) timestamp a column of that dtype can hold
DTYPES = {
    "int64": (INT64_MIN, INT64_MAX),
    "int32": (-(2**31), 2**31 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, INT64_MAX),
}


class FuzzMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.log = None
        self.model = RefModel()
        # Every payload ever created, to check refcounts exactly. The first is a control
        # that is never stored: the reference count every payload must return to.
        self.payloads = [Obj(-1)]
        self.iters = []  # [iterator, remaining expected rows]
        self.background = False

    # ------------------------------------------------------------- lifecycle
    @initialize(
        mem_factor=st.sampled_from([1, 2, 8]),
        page=st.sampled_from([1, 4]),
        window=st.sampled_from([1, 7, 1000, None]),
        max_delta=st.sampled_from([0, 1, 3]),
        policy=st.sampled_from(["raise", "silent", "flush"]),
        background=st.booleans(),
    )
    def open(self, mem_factor, page, window, max_delta, policy, background):
        opts = dict(
            maintenance="background" if background else "disabled",
            busy_policy=policy,
            memtable_max_bytes=small_memtable_bytes() * mem_factor,
            target_page_bytes=small_page_bytes() * page,
            max_delta_segments=max_delta,
            sealed_max_runs=2,
            sealed_wait_ms=0,
        )
        if window is not None:
            opts["window_size"] = window
        self.log = Timelog(**opts)
        self.background = background

    def teardown(self):
        if self.log is None:
            return
        if sys.exc_info()[1] is not None:
            # A step failed (teardown runs in hypothesis' `finally`): its traceback
            # holds payloads, so a refcount check here would only hide the real report.
            self.iters = []
            self.log.close()
        else:
            self._close_and_check_refcounts()
        self.log = None

    def _finish_iterators(self):
        for it, rest in self.iters:
            assert list(it) == rest
        self.iters = []

    def _close_and_check_refcounts(self):
        self._finish_iterators()  # (in a function of its own: its locals hold payloads)
        self.log.close()
        assert self.log.closed
        self.model = RefModel()  # the model's references go too
        counts = [sys.getrefcount(o) for o in self.payloads]
        wrong = [(o, c) for o, c in zip(self.payloads, counts) if c != counts[0]]
        assert not wrong, f"payload refcounts {wrong[:5]} != {counts[0]} (the control's)"

    @rule(background=st.booleans())
    def close_and_reopen(self, background):
        self._close_and_check_refcounts()
        with pytest.raises(TimelogError):
            len(self.log)
        self.log.reopen(maintenance="background" if background else "disabled")
        self.background = background
        assert len(self.log) == 0

    @rule()
    def start_maintenance(self):
        self.log.start_maintenance()
        self.background = True
        assert self.log.maintenance_mode == "background"

    @rule()
    def stop_maintenance(self):
        self.log.stop_maintenance()
        self.background = False
        assert self.log.maintenance_mode == "disabled"

    def _obj(self):
        o = Obj(len(self.payloads))
        self.payloads.append(o)
        return o

    def _write(self, fn, committed):
        """Run a write; under busy_policy="raise" it may report backpressure, but it
        has committed everything anyway."""
        try:
            fn()
        except TimelogBusyError as e:
            assert self.log.busy_policy == "raise"
            assert e.committed == committed

    # ---------------------------------------------------------------- writes
    @rule(ts=timestamps, form=st.sampled_from(["append", "append_kw", "setitem"]))
    def append(self, ts, form):
        o = self._obj()
        if form == "append":
            self._write(lambda: self.log.append(ts, o), 1)
        elif form == "append_kw":
            self._write(lambda: self.log.append(o, ts=ts), 1)
        else:
            self._write(lambda: self.log.__setitem__(ts, o), 1)
        self.model.append(ts, o)

    @rule(tss=st.lists(timestamps, max_size=60), form=st.sampled_from(["list", "tuple", "gen"]),
          mostly_ordered=st.sampled_from([None, True, False]), presort=st.booleans())
    def extend_pairs(self, tss, form, mostly_ordered, presort):
        if presort:  # in-order batches take the engine's fast path
            tss = sorted(tss)
        pairs = [(t, self._obj()) for t in tss]
        if form == "list":
            arg = pairs
        elif form == "tuple":
            arg = tuple([t, o] for t, o in pairs)  # lists as pairs: the slow path
        else:
            arg = (p for p in pairs)
        self._write(lambda: self.log.extend(arg, mostly_ordered=mostly_ordered), len(pairs))
        self.model.extend(pairs)

    @rule(data=st.data(), dtype=st.sampled_from(sorted(DTYPES) + ["list", "tuple"]),
          n=st.integers(0, 50), strided=st.booleans(), presort=st.booleans())
    def extend_columns(self, data, dtype, n, strided, presort):
        lo, hi = DTYPES.get(dtype, (INT64_MIN, INT64_MAX))
        ts_values = st.one_of(st.integers(max(lo, -6), min(hi, 6)), st.sampled_from([lo, hi]),
                              st.integers(lo, hi))
        tss = data.draw(st.lists(ts_values, min_size=n, max_size=n))
        if presort:
            tss = sorted(tss)
        objs = [self._obj() for _ in tss]
        if dtype == "list":
            cols = tss
        elif dtype == "tuple":
            cols = tuple(tss)
        elif strided:  # a non-contiguous view: every other element of a bigger array
            big = np.zeros(2 * n, dtype=dtype)
            big[::2] = tss
            cols = big[::2]
        else:
            cols = np.array(tss, dtype=dtype)
        self._write(lambda: self.log.extend(cols, objs), n)
        self.model.extend(list(zip(tss, objs)))

    @rule(n=st.integers(0, 20), start=timestamps)
    def extend_range(self, n, start):
        start = min(start, INT64_MAX - n)
        objs = tuple(self._obj() for _ in range(n))
        self._write(lambda: self.log.extend(range(start, start + n), objs), n)
        self.model.extend(list(zip(range(start, start + n), objs)))

    @rule(tss=st.lists(timestamps, min_size=1, max_size=10),
          bad=st.sampled_from(["float", "none", "bool", "str", "big", "short", "mismatch", "uint64"]))
    def extend_rejected(self, tss, bad):
        """A rejected extend stores nothing and takes no reference (checked at close)."""
        pairs = [(t, self._obj()) for t in tss]
        if bad == "mismatch":
            call, exc = (lambda: self.log.extend([t for t, _ in pairs], [o for _, o in pairs][:-1])), ValueError
        elif bad == "uint64":
            cols = np.array([t & INT64_MAX for t, _ in pairs] + [2**63], dtype=np.uint64)
            objs = [o for _, o in pairs] + [self._obj()]
            call, exc = (lambda: self.log.extend(cols, objs)), OverflowError
        else:
            item, exc = {
                "float": ((1.5, self._obj()), TypeError),
                "none": ((None, self._obj()), TypeError),
                "bool": ((True, self._obj()), TypeError),
                "str": (("1", self._obj()), TypeError),
                "big": ((2**63, self._obj()), OverflowError),
                "short": ((1,), ValueError),
            }[bad]
            pairs.insert(len(pairs) // 2, item)
            call = lambda: self.log.extend(pairs)  # noqa: E731
        with pytest.raises(exc):
            call()

    @rule(ts=timestamps, form=st.sampled_from(["delete", "delitem"]))
    def delete_point(self, ts, form):
        fn = (lambda: self.log.delete(ts)) if form == "delete" else (lambda: self.log.__delitem__(ts))
        self._write(fn, 0)
        self.model.delete(ts)

    @rule(t1=bounds, t2=bounds, form=st.sampled_from(["delete", "delslice"]))
    def delete_range(self, t1, t2, form):
        if t1 is not None and t2 is not None and t1 > t2:
            t1, t2 = t2, t1
        if form == "delete":
            self._write(lambda: self.log.delete(t1, t2), 0)
        else:
            self._write(lambda: self.log.__delitem__(slice(t1, t2)), 0)
        self.model.delete(t1, t2)

    @rule(ts=timestamps)
    def cutoff(self, ts):
        self._write(lambda: self.log.cutoff(ts), 0)
        self.model.cutoff(ts)

    # ----------------------------------------------------------- maintenance
    @staticmethod
    def _retry(fn):
        for _ in range(5):
            try:
                return fn()
            except TimelogBusyError:  # publish conflict: nothing lost, retry is safe
                continue
        return fn()

    @rule()
    def flush(self):
        self._retry(self.log.flush)

    @rule()
    def compact(self):
        self.log.compact()

    @rule(n=st.integers(1, 6))
    def maint_step(self, n):
        if self.background:
            with pytest.raises(TimelogError):
                self.log.maint_step()
            return
        for _ in range(n):
            assert self._retry(self.log.maint_step) in (True, False)

    @precondition(lambda self: not self.background)
    @rule()
    def maintain_until_idle(self):
        self._retry(self.log.flush)
        self.log.compact()
        for _ in range(10_000):
            if not self._retry(self.log.maint_step):
                break
        else:
            raise AssertionError("maint_step() never went idle")

    # ------------------------------------------------------------------ reads
    @rule(kind=st.sampled_from(["all", "iter", "slice", "range", "since", "until", "equal", "reversed"]),
          a=bounds, b=bounds)
    def new_iterator(self, kind, a, b):
        if len(self.iters) >= 5:
            it, rest = self.iters.pop(0)
            assert list(it) == rest
        m = self.model
        if kind in ("slice", "range") and a is not None and b is not None and a > b:
            a, b = b, a
        if kind == "all":
            it, exp = self.log.all(), m.items()
        elif kind == "iter":
            it, exp = iter(self.log), m.items()
        elif kind == "slice":
            it, exp = self.log[a:b], m.items(a, b)
        elif kind == "range":
            it, exp = self.log.range(a, b), m.items(a, b)
        elif kind == "since":
            it, exp = self.log.since(a), m.items(a, None)
        elif kind == "until":
            it, exp = self.log.until(b), m.items(None, b)
        elif kind == "equal":
            a = 0 if a is None else a
            it, exp = self.log.equal(a), m.equal(a)
        else:
            it, exp = reversed(self.log), m.items()[::-1]
        assert len(it) == len(exp)
        self.iters.append([it, list(exp)])

    @precondition(lambda self: self.iters)
    @rule(i=st.integers(0, 4), n=st.integers(0, 9), how=st.sampled_from(["next", "batch", "close"]))
    def consume(self, i, n, how):
        entry = self.iters[i % len(self.iters)]
        it, rest = entry
        if how == "next":
            for _ in range(min(n, len(rest))):
                t, o = next(it)
                et, eo = rest.pop(0)
                assert t == et and o is eo
            if not rest:
                with pytest.raises(StopIteration):
                    next(it)
        elif how == "batch":
            got = it.next_batch(n)
            assert len(got) == len(rest[:n])
            assert all(g[0] == e[0] and g[1] is e[1] for g, e in zip(got, rest))
            del rest[:n]
        else:
            it.close()
            assert it.closed
            self.iters.remove(entry)
            return
        assert len(it) == len(rest)

    @rule(t=timestamps, form=st.sampled_from(["getitem", "at"]))
    def point_lookup(self, t, form):
        got = self.log[t] if form == "getitem" else self.log.at(t)
        exp = self.model.at(t)
        assert len(got) == len(exp) and all(g is e for g, e in zip(got, exp)), (t, got, exp)
        assert (t in self.log) == (t in self.model)

    @rule(t=timestamps)
    def navigate(self, t):
        assert self.log.next_ts(t) == self.model.next_ts(t), ("next_ts", t)
        assert self.log.prev_ts(t) == self.model.prev_ts(t), ("prev_ts", t)

    @rule(t1=bounds, t2=bounds)
    def views_hold_the_visible_records(self, t1, t2):
        """Page views are physical (deleted records may still be there) and exclude the
        memtable: after a flush every visible record of the range is in some page."""
        if t1 is not None and t2 is not None and t1 > t2:
            t1, t2 = t2, t1
        self._retry(self.log.flush)
        seen = {}
        with self.log.views(t1, t2) as spans:
            for span in spans:
                with span:
                    tss = memoryview(span).tolist()
                    assert tss == sorted(tss)
                    objs = list(span.objects())
                    assert len(objs) == len(tss) == len(span)
                    for t, o in zip(tss, objs):
                        seen[id(o)] = t
        for t, o in self.model.items(t1, t2):
            assert seen.get(id(o)) == t, (t, o)

    # ------------------------------------------------------------- invariants
    @invariant()
    def contents_match(self):
        if self.log is None:
            return
        exp = self.model.items()
        got = list(self.log)
        assert len(got) == len(exp)
        for (gt, go), (et, eo) in zip(got, exp):
            assert gt == et and go is eo, f"{(gt, go)} != {(et, eo)}"
        assert len(self.log) == len(exp)
        assert self.log.min_ts() == self.model.min_ts()
        assert self.log.max_ts() == self.model.max_ts()

    @invariant()
    def iterators_keep_their_snapshot(self):
        if self.log is None:
            return
        for it, rest in self.iters:
            assert len(it) == len(rest)


def test_fuzz_differential():
    """Repeat hypothesis runs with fresh seeds until TIMELOG_FUZZ_SECONDS are spent."""
    run_settings = settings(
        max_examples=25,
        stateful_step_count=50,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )
    end = time.monotonic() + FUZZ_SECONDS
    rounds = 0
    while rounds == 0 or time.monotonic() < end:
        run_state_machine_as_test(FuzzMachine, settings=run_settings)
        rounds += 1
    print(f"fuzz: {rounds} rounds of {run_settings.max_examples} programs in {FUZZ_SECONDS:g} s budget")
