"""Hypothesis state machine: Timelog vs the pure-Python reference model.

Random appends, extends, deletes (point / range / unbounded), cutoffs, flushes,
maint_steps, compactions, iterator creation and partial consumption, reverse ranges,
reversed() iterators, count, first/last, asof/nearest, count_by and the numpy
exports (timestamps, to_numpy, TimelogIter.to_numpy) are applied to a
disabled-maintenance log with tiny memtable, pages and windows, and to RefModel.
After every step contents, order (ties in insertion order), len, navigation and the
snapshot of every live iterator are checked.
"""

import copy
import pickle

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from timelog import Timelog, TimelogBusyError

try:
    import numpy                    # count_by and the numpy exports
except ImportError:  # pragma: no cover
    numpy = None

try:
    import strategies as tst
    from model import INT64_MAX, INT64_MIN, Obj, RefModel, examples
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import INT64_MAX, INT64_MIN, Obj, RefModel, examples

timestamps, bounds = tst.MACHINE_TIMESTAMPS, tst.MACHINE_BOUNDS


class TimelogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.log = None
        self.model = RefModel()
        self.counter = 0
        self.iters = []  # [iterator, remaining expected rows]
        self.replaced = []  # logs replaced by a copy, closed at teardown

    @initialize(options=tst.machine_options())
    def open(self, options):
        self.log = Timelog(**options)

    def teardown(self):
        try:
            if self.log is not None:
                for it, rest in self.iters:
                    assert list(it) == rest
                self.iters = []
                self.log.close()
            for old in self.replaced:
                old.close()
        finally:
            self.log = None
            self.replaced = []

    def _obj(self):
        self.counter += 1
        return Obj(self.counter)

    # -------------------------------------------------------------- writes
    @rule(ts=timestamps, form=st.sampled_from(["append", "append_kw", "setitem"]))
    def append(self, ts, form):
        o = self._obj()
        if form == "append":
            self.log.append(ts, o)
        elif form == "append_kw":
            self.log.append(o, ts=ts)
        else:
            self.log[ts] = o
        self.model.append(ts, o)

    @rule(tss=tst.batches(timestamps, max_size=40), form=st.sampled_from(["pairs", "gen", "cols"]),
          mostly_ordered=st.booleans())
    def extend(self, tss, form, mostly_ordered):
        pairs = [(t, self._obj()) for t in tss]
        if form == "pairs":
            self.log.extend(pairs, mostly_ordered=mostly_ordered)
        elif form == "gen":
            self.log.extend(p for p in pairs)
        else:
            self.log.extend([p[0] for p in pairs], [p[1] for p in pairs])
        self.model.extend(pairs)

    @rule(tss=tst.batches(timestamps, min_size=1, max_size=10), bad=st.sampled_from([1.5, None, True, "x", 2**63]))
    def extend_bad(self, tss, bad):
        pairs = [(t, self._obj()) for t in tss]
        pairs.insert(len(pairs) // 2, (bad, self._obj()))
        with pytest.raises((TypeError, OverflowError)):
            self.log.extend(pairs)

    @rule(ts=timestamps, form=st.sampled_from(["delete", "delitem"]))
    def delete_point(self, ts, form):
        if form == "delete":
            self.log.delete(ts)
        else:
            del self.log[ts]
        self.model.delete(ts)

    @rule(a=timestamps, b=timestamps, form=st.sampled_from(["delete", "delslice"]))
    def delete_range(self, a, b, form):
        t1, t2 = min(a, b), max(a, b)
        if form == "delete":
            self.log.delete(t1, t2)
        else:
            del self.log[t1:t2]
        self.model.delete(t1, t2)

    @rule(t1=bounds, t2=bounds)
    def delete_unbounded(self, t1, t2):
        if t1 is not None and t2 is not None and t1 > t2:
            t1, t2 = t2, t1
        del self.log[t1:t2]
        self.model.delete(t1, t2)

    @rule(ts=timestamps)
    def cutoff(self, ts):
        self.log.cutoff(ts)
        self.model.cutoff(ts)

    # ------------------------------------------------------------ maintenance
    @rule()
    def flush(self):
        self._retry(self.log.flush)

    @rule(n=st.integers(1, 4))
    def maint_step(self, n):
        for _ in range(n):
            r = self._retry(self.log.maint_step)
            assert r in (True, False)

    @rule(run=st.booleans())
    def compact(self, run):
        self.log.compact()
        if run:
            self._retry(self.log.flush)
            for _ in range(10_000):
                if not self._retry(self.log.maint_step):
                    break
            else:
                raise AssertionError("maint_step() never went idle")

    @staticmethod
    def _retry(fn):
        for _ in range(5):
            try:
                return fn()
            except TimelogBusyError:  # publish conflict: nothing lost, retry is safe
                continue
        return fn()

    # ------------------------------------------------------- copies and pickling
    # protocols 0 and 1 cannot pickle Obj (it has __slots__); test_persist covers them
    @rule(protocol=st.integers(2, pickle.HIGHEST_PROTOCOL))
    def pickle_round_trip(self, protocol):
        back = pickle.loads(pickle.dumps(self.log, protocol=protocol))
        try:
            exp = self.model.items()
            got = list(back)
            assert [t for t, _ in got] == [t for t, _ in exp]
            assert [o.n for _, o in got] == [o.n for _, o in exp]   # copies, same order
        finally:
            back.close()

    @rule()
    def continue_on_a_copy(self):
        # copy.copy shares the payloads: the model stays valid for the copy, which
        # then takes every later step; the old log (and its iterators) stays open.
        self.replaced.append(self.log)
        self.log = copy.copy(self.log)

    # --------------------------------------------------------------- iterators
    @rule(kind=st.sampled_from(["all", "iter", "slice", "range", "since", "until", "equal", "point", "reversed"]),
          a=bounds, b=bounds)
    def new_iterator(self, kind, a, b):
        if len(self.iters) >= 6:
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
            a = INT64_MIN if a is None else a
            b = INT64_MAX if b is None else b
            it, exp = self.log.range(a, b), m.items(a, b)
        elif kind == "since":
            a = 0 if a is None else a
            it, exp = self.log.since(a), m.since(a)
        elif kind == "until":
            b = 0 if b is None else b
            it, exp = self.log.until(b), m.until(b)
        elif kind in ("equal", "point"):
            a = 0 if a is None else a
            it = self.log.equal(a) if kind == "equal" else self.log.point(a)
            exp = m.equal(a)
        else:
            it, exp = reversed(self.log), m.items()[::-1]
        assert len(it) == len(exp)
        self.iters.append([it, list(exp)])

    @rule(a=bounds, b=bounds, reverse=st.booleans())
    def reverse_range(self, a, b, reverse):
        exp = self.model.items(a, b)
        it = self.log.range(a, b, reverse=reverse)
        if reverse:
            exp = exp[::-1]
        back = reversed(it)                 # not advanced: the other direction, same snapshot
        assert list(back) == exp[::-1]
        got = list(it)
        assert len(got) == len(exp) and all(g[0] == e[0] and g[1] is e[1] for g, e in zip(got, exp))
        if got:
            with pytest.raises(TypeError):
                reversed(it)

    # ------------------------------------------------------------ analysis reads
    @rule(a=bounds, b=bounds)
    def count(self, a, b):
        assert self.log.count(a, b) == self.model.count(a, b)

    @rule(t=timestamps)
    def point_analysis(self, t):
        m, log = self.model, self.log
        for got, exp in ((log.first(), m.first()), (log.last(), m.last()),
                         (log.asof(t), m.asof(t)), (log.nearest(t), m.nearest(t))):
            assert (got is None) == (exp is None), (got, exp)
            if got is not None:
                assert got[0] == exp[0] and got[1] is exp[1], (got, exp)

    @precondition(lambda self: numpy is not None)
    @rule(every=st.one_of(st.integers(1, 20), st.sampled_from([2**61, 2**62, INT64_MAX])),
          a=bounds, b=bounds, origin=timestamps)
    def count_by(self, every, a, b, origin):
        n = self.model.bucket_count(every, a, b, origin)
        if n > 10_000_000:
            with pytest.raises(ValueError, match="buckets"):
                self.log.count_by(every, a, b, origin=origin)
            return
        if n > 2000:                       # the model enumerates buckets: keep it small
            return
        starts, counts = self.log.count_by(every, a, b, origin=origin)
        assert (starts.tolist(), counts.tolist()) == self.model.count_by(every, a, b, origin)

    @precondition(lambda self: numpy is not None)
    @rule(a=bounds, b=bounds, form=st.sampled_from(["timestamps", "to_numpy", "iter"]), skip=st.integers(0, 3))
    def export_numpy(self, a, b, form, skip):
        exp = self.model.items(a, b)
        if form == "timestamps":
            assert self.log.timestamps(a, b).tolist() == [t for t, _ in exp]
            return
        if form == "to_numpy":
            ts, objs = self.log.to_numpy(a, b)
        else:
            it = self.log.range(a, b)
            for _ in range(min(skip, len(exp))):
                next(it)
            exp = exp[min(skip, len(exp)):]
            ts, objs = it.to_numpy()
            assert it.closed
        assert ts.tolist() == [t for t, _ in exp]
        assert len(objs) == len(exp) and all(g is e for g, (_, e) in zip(objs, exp))

    @precondition(lambda self: self.iters)
    @rule(i=st.integers(0, 5), n=st.integers(0, 7), how=st.sampled_from(["next", "batch", "close"]))
    def consume(self, i, n, how):
        entry = self.iters[i % len(self.iters)]
        it, rest = entry
        if how == "next":
            for _ in range(min(n, len(rest))):
                assert next(it) == rest.pop(0)
            if not rest:
                with pytest.raises(StopIteration):
                    next(it)
        elif how == "batch":
            got = it.next_batch(n)
            assert got == rest[:n]
            del rest[:n]
        else:
            it.close()
            assert it.closed
            self.iters.remove(entry)
            return
        assert len(it) == len(rest)

    # -------------------------------------------------------------- invariants
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

    @invariant()
    def structure_is_well_formed(self):
        if self.log is not None:
            self.log._check_invariants()

    @invariant()
    def navigation_matches(self):
        if self.log is None:
            return
        m, log = self.model, self.log
        assert log.min_ts() == m.min_ts()
        assert log.max_ts() == m.max_ts()
        tss = m.timestamps()
        probes = {0, INT64_MIN, INT64_MAX}
        for t in set(tss[:4] + tss[-4:]):
            probes.update({t, max(INT64_MIN, t - 1), min(INT64_MAX, t + 1)})
        for t in probes:
            assert log.next_ts(t) == m.next_ts(t), ("next_ts", t)
            assert log.prev_ts(t) == m.prev_ts(t), ("prev_ts", t)
            assert (t in log) == (t in m), ("in", t)
            got = log.at(t)
            exp = m.at(t)
            assert len(got) == len(exp) and all(g is e for g, e in zip(got, exp)), ("at", t)

    @invariant()
    def iterators_keep_their_snapshot(self):
        if self.log is None:
            return
        for it, rest in self.iters:
            assert len(it) == len(rest)

    @invariant()
    def stats_exact(self):
        if self.log is None:
            return
        st_ = self.log.stats()["storage"]
        assert st_["records_estimate"] == len(self.model)
        assert st_["min_ts"] == self.model.min_ts()
        assert st_["max_ts"] == self.model.max_ts()


TimelogMachine.TestCase.settings = settings(
    max_examples=examples(60),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
test_timelog_state_machine = TimelogMachine.TestCase
