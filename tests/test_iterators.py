"""TimelogIter: len, next_batch, close, context manager, snapshot isolation."""

import random

import pytest

import timelog
from timelog import TimelogIter

try:
    from model import INT64_MAX, INT64_MIN, Obj, RefModel, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, Obj, RefModel, run_maintenance


@pytest.fixture
def log(filled_log):
    return filled_log


def test_cannot_construct_directly():
    with pytest.raises(TypeError):
        TimelogIter()
    with pytest.raises(TypeError):
        timelog.PageSpanIter()
    with pytest.raises(TypeError):
        timelog.PageSpan()


def test_iter_returns_self(log):
    it = log.all()
    assert iter(it) is it


def test_len_shrinks_as_consumed(log):
    it = log[10:30]
    assert len(it) == 20
    next(it)
    assert len(it) == 19
    it.next_batch(5)
    assert len(it) == 14
    rest = list(it)
    assert len(rest) == 14
    assert len(it) == 0


def test_len_matches_for_all_forms(log):
    assert len(iter(log)) == 100
    assert len(log.since(90)) == 10
    assert len(log.until(5)) == 5
    assert len(log.equal(7)) == 1
    assert len(log.point(500)) == 0
    assert len(log.range(3, 3)) == 0


def test_yields_tuples(log):
    row = next(log.since(42))
    assert type(row) is tuple and len(row) == 2
    assert row[0] == 42 and row[1].n == 42


def test_next_batch(log):
    it = log.all()
    b = it.next_batch(10)
    assert isinstance(b, list)
    assert [t for t, _ in b] == list(range(10))
    assert it.next_batch(0) == []
    b = it.next_batch(1000)
    assert [t for t, _ in b] == list(range(10, 100))
    assert it.next_batch(10) == []
    with pytest.raises(StopIteration):
        next(it)


def test_next_batch_negative(log):
    it = log.all()
    with pytest.raises(ValueError):
        it.next_batch(-1)
    assert len(it) == 100


def test_next_batch_bad_type(log):
    it = log.all()
    with pytest.raises(TypeError):
        it.next_batch(1.5)
    with pytest.raises(TypeError):
        it.next_batch("3")


def test_close(log):
    it = log.all()
    assert it.closed is False
    next(it)
    it.close()
    assert it.closed is True
    it.close()  # idempotent
    with pytest.raises((StopIteration, timelog.TimelogError, ValueError)):
        next(it)


def test_context_manager(log):
    with log.range(0, 50) as it:
        assert it.closed is False
        assert next(it)[0] == 0
    assert it.closed is True


def test_exhausted_iterator_stays_exhausted(log):
    it = log.range(0, 3)
    assert len(list(it)) == 3
    assert list(it) == []
    with pytest.raises(StopIteration):
        next(it)


def test_large_iteration_crosses_batches(make_log):
    log = make_log()
    n = 50_000
    log.extend(range(n), range(n))
    it = log.all()
    seen = 0
    expected_len = n
    for i, (t, o) in enumerate(it):
        assert t == i and o == i
        seen += 1
        if i % 9973 == 0:
            expected_len = n - i - 1
            assert len(it) == expected_len
    assert seen == n


def _check_isolation(log, mutate):
    before = list(log)
    its = [log.all(), log[20:60], log.since(50), log.until(30), log.equal(40), log.equal(41)]
    exp = [before, [r for r in before if 20 <= r[0] < 60], [r for r in before if r[0] >= 50],
           [r for r in before if r[0] < 30], [r for r in before if r[0] == 40],
           [r for r in before if r[0] == 41]]
    partial = [it.next_batch(3) for it in its]
    mutate(log)
    for it, p, e in zip(its, partial, exp):
        assert p + list(it) == e


def test_snapshot_isolation_writes(log):
    def mutate(lg):
        for i in range(200):
            lg.append(i % 120, "new")
        lg.extend((40, "x") for _ in range(5))
    _check_isolation(log, mutate)


def test_snapshot_isolation_deletes(log):
    def mutate(lg):
        del lg[:]
        lg.cutoff(INT64_MAX)
    _check_isolation(log, mutate)


def test_snapshot_isolation_flush_and_compaction(log):
    def mutate(lg):
        lg.delete(10, 70)
        lg.append(41, "y")
        lg.flush()
        run_maintenance(lg)
        lg.extend((i, "z") for i in range(100))
        lg.flush()
        lg.delete(0, 100)
        run_maintenance(lg)
    _check_isolation(log, mutate)


def test_snapshot_isolation_of_memtable_prefix(make_log):
    log = make_log()
    log.append(1, "a")
    it = log.all()
    log.append(2, "b")
    log.append(0, "ooo")
    assert list(it) == [(1, "a")]


def test_snapshot_sees_state_at_creation_not_first_next(make_log):
    log = make_log()
    log.extend([(1, "a"), (2, "b")])
    it = log.all()
    log.delete(1)
    log.append(3, "c")
    assert next(it) == (1, "a")
    assert list(it) == [(2, "b")]


def test_reversed_is_snapshot_and_matches_model(make_log):
    m = RefModel()
    log = make_log()
    for i in range(30):
        log.append(i % 4, i)
        m.append(i % 4, i)
    r = reversed(log)
    log.append(2, "later")
    assert list(r) == m.items()[::-1]


def test_many_iterators_alive(log):
    its = [log.all() for _ in range(200)]
    log.delete(0, 100)
    for it in its:
        assert len(it) == 100
    assert all(len(list(it)) == 100 for it in its[::7])


def test_iterators_over_extremes(make_log):
    log = make_log()
    log.extend([(INT64_MIN, 1), (INT64_MAX, 2)])
    it = log.all()
    assert len(it) == 2
    assert it.next_batch(5) == [(INT64_MIN, 1), (INT64_MAX, 2)]


def test_next_batch_huge_n(log):
    it = log.all()
    assert len(it.next_batch(10**12)) == 100
    it = log.all()
    try:
        rows = it.next_batch(2**63 - 1)
    except (OverflowError, MemoryError):
        return
    assert len(rows) == 100


def test_len_of_reversed(log):
    r = reversed(log)
    assert len(r) == 100
    assert next(r)[0] == 99
    assert len(r) == 99
    assert [t for t, _ in r.next_batch(3)] == [98, 97, 96]


def test_mixed_consumption_across_internal_batches(make_log):
    import random

    rnd = random.Random(11)
    log = make_log(busy_policy="silent")
    rows = [(rnd.randrange(5000), i) for i in range(60_000)]
    log.extend(rows[:30_000])
    log.flush()
    log.extend(rows[30_000:])
    exp = sorted(rows, key=lambda r: r[0])  # stable: ties in insertion order
    for it, e in ((log.all(), exp), (reversed(log), exp[::-1]), (log.range(1000, 4000), [r for r in exp if 1000 <= r[0] < 4000])):
        got = []
        while True:
            k = rnd.choice([0, 1, 7, 255, 256, 257, 1000, 4097])
            if rnd.random() < 0.3:
                try:
                    got.append(next(it))
                except StopIteration:
                    break
            else:
                b = it.next_batch(k)
                if not b and k:
                    break
                got.extend(b)
            assert len(it) == len(e) - len(got)
        assert got == e


def test_new_outside_the_module_is_inert():
    # TimelogIter() is refused; TimelogIter.__new__ gives an iterator of no log.
    it = TimelogIter.__new__(TimelogIter)
    with pytest.raises(timelog.TimelogError):
        next(it)
    with pytest.raises(timelog.TimelogError):
        len(it)
    assert "log closed" in repr(it)
    it.close()
    assert it.closed


def test_recycled_iterators_each_see_their_own_snapshot(make_log):
    # Iterators made and dropped by the hundred (their cursors are recycled)
    # between writes, deletes, flushes and compactions: each live one yields
    # exactly the state at its creation, however many were dropped since.
    rng = random.Random(7)
    m = RefModel()
    log = make_log()
    alive = []
    for step in range(400):
        op = rng.randrange(10)
        if op < 4:
            pairs = [(rng.randrange(200), step) for _ in range(rng.randrange(1, 20))]
            log.extend(pairs)
            m.extend(pairs)
        elif op < 6:
            t1 = rng.randrange(200)
            t2 = t1 + rng.randrange(1, 30)
            log.delete(t1, t2)
            m.delete(t1, t2)
        elif op == 6:
            log.flush()
        elif op == 7:
            run_maintenance(log)
        for _ in range(rng.randrange(1, 8)):
            t1 = rng.randrange(-5, 200)
            t2 = t1 + rng.randrange(0, 60)
            reverse = rng.random() < 0.3
            if reverse and rng.random() < 0.5:
                it = reversed(log[t1:t2])       # Cursor::Reversed, from a copy
            else:
                it = log.range(t1, t2, reverse=reverse)
            want = m.items(t1, t2)
            alive.append((it, want[::-1] if reverse else want))
        rng.shuffle(alive)
        while len(alive) > 12:          # dropped unread, partly read or fully read
            it, want = alive.pop()
            k = rng.randrange(3)
            if k == 1:
                assert it.next_batch(3) == want[:3]
            elif k == 2:
                assert list(it) == want
            del it
    for it, want in alive:
        assert list(it) == want


def test_iterator_alive_across_close(make_log):
    log = make_log()
    log.extend((i, i) for i in range(50))
    log.flush()
    its = [log[10:20] for _ in range(3)]
    assert next(its[0]) == (10, 10)
    log.close()
    for it in its:
        with pytest.raises(timelog.TimelogError):
            next(it)
        it.close()
    # New logs made after the close reuse the recycled cursors correctly.
    for _ in range(3):
        log2 = make_log()
        log2.extend((i, -i) for i in range(5))
        assert list(log2[1:4]) == [(1, -1), (2, -2), (3, -3)]
        del log2
