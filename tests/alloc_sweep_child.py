"""Allocation-failure sweep, run by tests/test_alloc_failure.py in a child process
with the failure-injection shim (cpp/testing/fail_alloc_shim.cc) preloaded.

For every operation, fail its 1st, 2nd, 3rd ... C++ allocation in turn (on this
thread) until it completes without reaching the armed allocation. Each run must
end in MemoryError (its message naming what could not be allocated) or success;
afterwards the log must hold exactly the records a reference model says (a
failed write stored nothing, a successful one everything), and once the log is
closed every payload's reference count must be back where it started.

Prints one line per operation and exits 1 with a report on the first violation.
"""
import copy
import ctypes
import io
import os
import pickle
import sys

from timelog import Timelog, TimelogError

shim = ctypes.CDLL(os.environ["TIMELOG_FAILALLOC_SHIM"])
shim.timelog_fail_alloc_arm.argtypes = [ctypes.c_long, ctypes.c_size_t]
shim.timelog_fail_alloc_arm.restype = None
MAX_STEPS = int(os.environ.get("TIMELOG_FAILALLOC_MAX", "400"))


class Obj:
    __slots__ = ("k", "__weakref__")

    def __init__(self, k):
        self.k = k

    def __repr__(self):
        return f"O{self.k}"


def refcounts(objs):
    """Reference counts, each taken the same way (no iterator or tuple holds one)."""
    counts = []
    for i in range(len(objs)):
        counts.append(sys.getrefcount(objs[i]))
    return counts


def visible(records):
    """Reference model: records in insertion order -> read order."""
    return sorted(records, key=lambda r: r[0])   # sort is stable: ties keep insertion order


def payloads():
    return [Obj(i) for i in range(700)]


def fresh(pay):
    """A log with records in L0 segments, a tombstone, and a memtable with
    out-of-order rows; returns (log, model records, payloads)."""
    log = Timelog(maintenance="disabled", memtable_max_bytes=4096, busy_policy="silent")
    recs = [(t * 10, pay[t]) for t in range(500)]
    recs[100], recs[101] = recs[101], recs[100]
    log.extend(recs)
    log.flush()
    log.delete(1000, 1500)
    model = [r for r in recs if not 1000 <= r[0] < 1500]
    tail = [((600 - i) * 7, pay[500 + i]) for i in range(60)]   # out of order
    for t, o in tail:
        log.append(t, o)
    model += tail
    return log, model, pay


# Each operation: (name, do(log, pay) -> result, model(records, pay) -> records or
# None when the operation does not change the visible records).
def _extend_big(log, pay):
    log.extend(range(10_000, 10_000 + 70_000), [pay[1]] * 70_000)


def _extend_big_model(m, pay):
    return m + [(10_000 + i, pay[1]) for i in range(70_000)]


def _extend_big_unsorted(log, pay):
    log.extend([(10_000 + (i * 7919) % 70_000, pay[2]) for i in range(70_000)])


def _extend_big_unsorted_model(m, pay):
    return m + [(10_000 + (i * 7919) % 70_000, pay[2]) for i in range(70_000)]


def _iterate(log, pay):
    return list(log)


def _drain_iter_in_steps(log, pay):
    it = log[0:4000]
    out = []
    while True:
        b = it.next_batch(37)
        if not b:
            return out
        out += b


def _fill_memtable(log, model, pay):
    """Before arming: fill the memtable to its last row, so the next write seals."""
    log.flush()
    t = 6000
    while True:
        m = log.stats()["memtable"]
        if m["active_records"] + m["ooo_records"] >= 256:   # memtable_max_bytes / 16
            return model
        log.append(t, pay[607])
        model = model + [(t, pay[607])]
        t += 1


def _maint(log, pay):
    log.compact()
    while log.maint_step():
        pass


def _pickle(log, pay):
    other = pickle.loads(pickle.dumps(log, protocol=5))
    try:
        a = [(t, o.k) for t, o in other]    # pickled payloads are copies
        b = [(t, o.k) for t, o in log]
        assert a == b, f"the copy has {len(a)} records, the log {len(b)}"
    finally:
        other.close()


def _copy(log, pay):
    other = copy.copy(log)
    try:
        assert list(other) == list(log), "copy.copy(log) differs from the log"
    finally:
        other.close()


def _save_load(log, pay):
    path = os.path.join(os.environ["TIMELOG_FAILALLOC_TMP"], "sweep.tl")
    log.save(path)
    other = Timelog.load(path)
    other.close()


OPS = [
    ("append in order", lambda log, p: log.append(5000, p[600]), lambda m, p: m + [(5000, p[600])]),
    ("append out of order", lambda log, p: log.append(3, p[601]), lambda m, p: m + [(3, p[601])]),
    ("setitem", lambda log, p: log.__setitem__(7, p[602]), lambda m, p: m + [(7, p[602])]),
    ("append that seals", lambda log, p: log.append(9000, p[603]), lambda m, p: m + [(9000, p[603])],
     _fill_memtable),
    ("extend small", lambda log, p: log.extend([(8000 + i, p[604]) for i in range(50)]),
     lambda m, p: m + [(8000 + i, p[604]) for i in range(50)]),
    ("extend crossing a seal", lambda log, p: log.extend([(8000 + i % 90, p[605]) for i in range(400)]),
     lambda m, p: m + [(8000 + i % 90, p[605]) for i in range(400)]),
    ("extend columns", lambda log, p: log.extend(list(range(20, 220)), [p[606]] * 200),
     lambda m, p: m + [(20 + i, p[606]) for i in range(200)]),
    ("extend big sorted", _extend_big, _extend_big_model),
    ("extend big unsorted", _extend_big_unsorted, _extend_big_unsorted_model),
    ("delete point", lambda log, p: log.delete(20), lambda m, p: [r for r in m if r[0] != 20]),
    ("delete range", lambda log, p: log.__delitem__(slice(300, 2500)),
     lambda m, p: [r for r in m if not 300 <= r[0] < 2500]),
    ("cutoff", lambda log, p: log.cutoff(2000), lambda m, p: [r for r in m if r[0] >= 2000]),
    ("flush", lambda log, p: log.flush(), None),
    ("compact + maint_step", _maint, None),
    ("iterate", _iterate, None),
    ("range in batches", _drain_iter_in_steps, None),
    ("reversed", lambda log, p: list(reversed(log)), None),
    ("point lookup", lambda log, p: log.at(70), None),
    ("len, min, max, next, prev", lambda log, p: (len(log), log.min_ts(), log.max_ts(),
                                                  log.next_ts(5), log.prev_ts(5)), None),
    ("contains", lambda log, p: 70 in log, None),
    ("stats", lambda log, p: log.stats(), None),
    ("views", lambda log, p: [list(s.objects()) for s in log.views()], None),
    ("pickle round trip", _pickle, None),
    ("copy", _copy, None),
    ("save + load", _save_load, None),
    ("start + stop maintenance", lambda log, p: (log.start_maintenance(), log.stop_maintenance()), None),
]


def fail(msg, obj=None):
    print("FAIL:", msg, flush=True)
    if obj is not None:
        import gc
        for r in gc.get_referrers(obj):
            print("  referred to by", type(r).__name__, repr(r)[:160], flush=True)
    sys.exit(1)


def check_op(name, do, model_fn, prep=None):
    steps = 0
    failures = 0
    for k in range(1, MAX_STEPS + 1):
        pay = payloads()
        bases = refcounts(pay)
        log, model, pay = fresh(pay)
        if prep is not None:
            model = prep(log, model, pay)
        expect_ok = model if model_fn is None else model_fn(list(model), pay)
        shim.timelog_fail_alloc_arm(k, 0)
        err = None
        try:
            do(log, pay)
        except MemoryError as e:
            err = e
        except BaseException as e:   # anything else is a bug
            shim.timelog_fail_alloc_arm(0, 0)
            fail(f"{name}, allocation {k}: {type(e).__name__}: {e}")
        finally:
            fired = shim.timelog_fail_alloc_fired()
            shim.timelog_fail_alloc_arm(0, 0)
        steps = k
        if err is not None:
            failures += 1
            if not fired:
                fail(f"{name}, allocation {k}: MemoryError without an injected failure: {err}")
            if not str(err):
                fail(f"{name}, allocation {k}: MemoryError with an empty message")
        if not log.closed:
            got = list(log)
            want = visible(model if err is not None else expect_ok)
            if got != want:
                fail(f"{name}, allocation {k} ({'MemoryError: ' + str(err) if err else 'ok'}): "
                     f"log has {len(got)} records, model {len(want)}; "
                     f"first difference at {next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
            if len(log) != len(want):
                fail(f"{name}, allocation {k}: len(log)={len(log)} but {len(want)} records")
            del got, want
        log.close()
        del log, model, expect_ok
        outcome = f"after MemoryError: {err}" if err is not None else "after success"
        if err is not None:
            import traceback
            outcome += "\n" + "".join(traceback.format_exception(err))
        err = None
        now = refcounts(pay)
        if now != bases:
            i = next(i for i in range(len(pay)) if now[i] != bases[i])
            fail(f"{name}, allocation {k}: payload {i} refcount {now[i]} != {bases[i]} "
                 f"after close ({outcome})", pay[i])
        if not fired:
            break
    else:
        fail(f"{name}: still failing after {MAX_STEPS} allocations (raise TIMELOG_FAILALLOC_MAX)")
    print(f"{name}: {steps - 1} allocations failed in turn, {failures} MemoryError, then success",
          flush=True)


def main():
    only = os.environ.get("TIMELOG_FAILALLOC_ONLY")
    skip = os.environ.get("TIMELOG_FAILALLOC_SKIP")
    for name, do, model_fn, *prep in OPS:
        if (only and only not in name) or (skip and skip in name):
            continue
        check_op(name, do, model_fn, *prep)
    def fail_kth(k, call):
        """Runs call() with the k-th allocation failing: (MemoryError or None, fired)."""
        shim.timelog_fail_alloc_arm(k, 0)
        try:
            call()
            return None, shim.timelog_fail_alloc_fired()
        except MemoryError as e:
            return e, shim.timelog_fail_alloc_fired()
        finally:
            shim.timelog_fail_alloc_arm(0, 0)

    # Lifecycle: close() and reopen() themselves under failure.
    for k in range(1, MAX_STEPS + 1):
        pay = payloads()
        bases = refcounts(pay)
        log, model, pay = fresh(pay)
        err, fired = fail_kth(k, log.close)
        if err is not None and not log.closed:
            if list(log) != visible(model):
                fail(f"close, allocation {k}: records changed by a failed close")
        log.close()                 # a failed close can be retried
        del model
        err = None
        if refcounts(pay) != bases:
            fail(f"close, allocation {k}: payload refcounts changed after a failed close + retry")
        if not fired:
            print(f"close: {k - 1} allocations failed in turn, then success", flush=True)
            break
    for k in range(1, MAX_STEPS + 1):
        log, model, pay = fresh(payloads())
        log.close()
        err, fired = fail_kth(k, lambda: log.reopen(memtable_max_bytes=8192))
        if err is not None and not log.closed:
            fail(f"reopen, allocation {k}: MemoryError but the log is open")
        if not log.closed:
            log.append(1, "x")
            if list(log) != [(1, "x")]:
                fail(f"reopen, allocation {k}: reopened log is not empty and usable")
            log.close()
        if not fired:
            print(f"reopen: {k - 1} allocations failed in turn, then success", flush=True)
            break
    print("alloc sweep: OK", flush=True)


if __name__ == "__main__":
    main()
