"""Differential fuzzing: random operation programs against Timelog and RefModel.

A hypothesis state machine (test_state_machine.TimelogMachine, extended here) drives
a log through everything a user can do to it:
appends (three spellings), extends of pairs and generators and of columns (lists,
tuples, ranges, numpy arrays of several integer dtypes, strided views), rejected
extends, out-of-order and tied timestamps, INT64 extremes, point / range / unbounded
deletes, cutoffs, flush, compact, maint_step, start/stop of the background worker,
close + reopen (also switching the maintenance mode), iterators over full, bounded
and reversed ranges consumed a bit at a time, point lookups, len, min/max,
next/prev, ``in``, page views, copies and pickling. After every step the log must
equal the model.

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
from hypothesis.stateful import initialize, rule, run_state_machine_as_test

from timelog import Timelog, TimelogError

try:
    import strategies as tst
    from model import INT64_MAX, INT64_MIN, Obj, RefModel
    from test_state_machine import TimelogMachine
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import INT64_MAX, INT64_MIN, Obj, RefModel
    from tests.test_state_machine import TimelogMachine

timestamps, bounds = tst.MACHINE_TIMESTAMPS, tst.MACHINE_BOUNDS

FUZZ_SECONDS = float(os.environ.get("TIMELOG_FUZZ_SECONDS", "3"))

# (numpy dtype, smallest, largest) timestamp a column of that dtype can hold
DTYPES = {
    "int64": (INT64_MIN, INT64_MAX),
    "int32": (-(2**31), 2**31 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, INT64_MAX),
}


class FuzzMachine(TimelogMachine):
    """TimelogMachine (its writes, deletes, copies, pickling, iterators and invariants)
    plus background maintenance, close + reopen, numpy columns, more rejected inputs,
    random navigation probes and page views."""

    def __init__(self):
        super().__init__()
        # Every payload ever created, to check refcounts exactly. The first is a control
        # that is never stored: the reference count every payload must return to.
        self.payloads = [Obj(-1)]

    # ------------------------------------------------------------- lifecycle
    @initialize(options=tst.fuzz_options())  # busy policies whose writes never raise: the rules stay simple
    def open(self, options):
        self.log = Timelog(**options)

    def teardown(self):
        if self.log is None:
            return
        if sys.exc_info()[1] is not None:
            # A step failed (teardown runs in hypothesis' `finally`): its traceback
            # holds payloads, so a refcount check here would only hide the real report.
            for log in [self.log, *self.replaced]:
                log.close()
            self.log, self.iters, self.replaced = None, [], []
            return
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
        for old in self.replaced:  # logs continue_on_a_copy left behind
            old.close()
        self.replaced = []
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
        assert len(self.log) == 0

    @rule()
    def start_maintenance(self):
        self.log.start_maintenance()
        assert self.log.maintenance_mode == "background"

    @rule()
    def stop_maintenance(self):
        self.log.stop_maintenance()
        assert self.log.maintenance_mode == "disabled"

    def _background(self):
        return self.log.maintenance_mode == "background"

    def _obj(self):
        o = Obj(len(self.payloads))
        self.payloads.append(o)
        return o

    # ---------------------------------------------------------------- writes
    @rule(data=st.data(), dtype=st.sampled_from(sorted(DTYPES) + ["list", "tuple"]),
          n=st.integers(0, 50), strided=st.booleans(), presort=st.booleans())
    def extend_columns(self, data, dtype, n, strided, presort):
        lo, hi = DTYPES.get(dtype, (INT64_MIN, INT64_MAX))
        tss = data.draw(tst.batches(tst.timestamps(width=6, lo=lo, hi=hi), min_size=n, max_size=n))
        if presort:  # in-order batches take the engine's fast path
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
        self.log.extend(cols, objs)
        self.model.extend(list(zip(tss, objs)))

    @rule(n=st.integers(0, 20), start=timestamps)
    def extend_range(self, n, start):
        start = min(start, INT64_MAX - n)
        objs = tuple(self._obj() for _ in range(n))
        self.log.extend(range(start, start + n), objs)
        self.model.extend(list(zip(range(start, start + n), objs)))

    @rule(tss=tst.batches(timestamps, min_size=1, max_size=10), bad=st.sampled_from(["short", "mismatch", "uint64"]))
    def extend_rejected(self, tss, bad):
        """A rejected extend stores nothing and takes no reference (checked at close)."""
        objs = [self._obj() for _ in tss]
        if bad == "short":
            pairs = list(zip(tss, objs))
            pairs.insert(len(pairs) // 2, (1,))
            with pytest.raises(ValueError):
                self.log.extend(pairs)
        elif bad == "mismatch":
            with pytest.raises(ValueError):
                self.log.extend(tss, objs[:-1])
        else:
            cols = np.array([t & INT64_MAX for t in tss] + [2**63], dtype=np.uint64)
            with pytest.raises(OverflowError):
                self.log.extend(cols, objs + [self._obj()])

    # ----------------------------------------------------------- maintenance
    @rule(n=st.integers(1, 4))
    def maint_step(self, n):
        if self._background():
            with pytest.raises(TimelogError):
                self.log.maint_step()
        else:
            super().maint_step(n)

    @rule(run=st.booleans())
    def compact(self, run):
        super().compact(run and not self._background())

    # ------------------------------------------------------------------ reads
    @rule(t=timestamps)
    def probe(self, t):
        m, log = self.model, self.log
        assert log.next_ts(t) == m.next_ts(t), ("next_ts", t)
        assert log.prev_ts(t) == m.prev_ts(t), ("prev_ts", t)
        assert (t in log) == (t in m), ("in", t)
        got, exp = log.at(t), m.at(t)
        assert len(got) == len(exp) and all(g is e for g, e in zip(got, exp)), ("at", t)

    @rule(t1=bounds, t2=bounds)
    def views_hold_the_visible_records(self, t1, t2):
        """Page views are physical (deleted records may still be there) and exclude the
        memtable: after a flush every visible record of the range is in some page."""
        if t1 is not None and t2 is not None and t1 > t2:
            t1, t2 = t2, t1
        self.flush()
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
