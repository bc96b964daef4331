"""Reads: slicing, range forms, point reads, len, `in`, navigation."""

import pytest

from timelog import TimelogIter

try:
    from model import INT64_MAX, INT64_MIN, LAYERS, RefModel, fill_layered, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, LAYERS, RefModel, fill_layered, run_maintenance


DATA = [(5, "e"), (1, "a"), (3, "c"), (3, "c2"), (9, "i"), (7, "g"), (3, "c3")]


@pytest.fixture(params=LAYERS)
def pair(request, log):
    model = RefModel()
    fill_layered(log, model, DATA, request.param)
    return log, model


def test_iter_and_all(pair):
    log, m = pair
    assert list(log) == m.items()
    assert list(log.all()) == m.items()
    assert list(log[:]) == m.items()
    assert isinstance(iter(log), TimelogIter)
    assert isinstance(log.all(), TimelogIter)


@pytest.mark.parametrize("t1,t2", [(0, 10), (1, 3), (3, 4), (3, 3), (2, 8), (10, 20), (-5, 1), (4, 5)])
def test_slices_and_range(pair, t1, t2):
    log, m = pair
    exp = m.items(t1, t2)
    assert list(log[t1:t2]) == exp
    assert list(log.range(t1, t2)) == exp
    assert list(log[t1:]) == m.items(t1, None)
    assert list(log[:t2]) == m.items(None, t2)
    assert list(log.since(t1)) == m.since(t1)
    assert list(log.until(t2)) == m.until(t2)
    assert isinstance(log[t1:t2], TimelogIter)


def test_slice_none_bounds_and_step_one(pair):
    log, m = pair
    assert list(log[None:None]) == m.items()
    assert list(log[3:None]) == m.items(3, None)
    assert list(log[None:5]) == m.items(None, 5)
    assert list(log[1:9:1]) == m.items(1, 9)
    assert list(log[1:9:None]) == m.items(1, 9)


@pytest.mark.parametrize("step", [2, -1, 0, 3])
def test_slice_bad_step(pair, step):
    log, _ = pair
    with pytest.raises(ValueError):
        log[1:9:step]


def test_slice_bad_bounds(pair):
    log, _ = pair
    with pytest.raises(TypeError):
        log[1.5:3]
    with pytest.raises(TypeError):
        log["a":]
    with pytest.raises(TypeError):
        log[:True]
    with pytest.raises(OverflowError):
        log[: 2**63 + 5]


def test_range_reversed_bounds_empty_or_value_error(pair):
    log, _ = pair
    try:
        rows = list(log.range(8, 2))
    except ValueError:
        return
    assert rows == []


@pytest.mark.parametrize("t", [0, 1, 3, 4, 9, 10])
def test_point_reads(pair, t):
    log, m = pair
    assert log.at(t) == m.at(t)
    assert log.at(t) == m.at(t)
    assert isinstance(log.at(t), list)
    assert list(log.equal(t)) == m.equal(t)
    assert list(log.point(t)) == m.equal(t)
    assert (t in log) == (t in m)


def test_ties_in_insertion_order(pair):
    log, _ = pair
    assert log.at(3) == ["c", "c2", "c3"]


def test_len(pair):
    log, m = pair
    assert len(log) == len(m) == 7


def test_navigation(pair):
    log, m = pair
    assert log.min_ts() == m.min_ts() == 1
    assert log.max_ts() == m.max_ts() == 9
    for t in [INT64_MIN, -1, 0, 1, 2, 3, 4, 5, 8, 9, 10, INT64_MAX]:
        assert log.next_ts(t) == m.next_ts(t), t
        assert log.prev_ts(t) == m.prev_ts(t), t


def test_navigation_semantics_strict(make_log):
    log = make_log()
    log.extend([(10, "a"), (20, "b"), (30, "c")])
    assert log.next_ts(10) == 20
    assert log.next_ts(9) == 10
    assert log.prev_ts(20) == 10
    assert log.prev_ts(21) == 20
    assert log.next_ts(30) is None
    assert log.prev_ts(10) is None


def test_empty_log_reads(make_log):
    log = make_log()
    assert list(log) == []
    assert len(log) == 0
    assert log.at(5) == []
    assert 5 not in log
    assert log.min_ts() is None and log.max_ts() is None
    assert log.next_ts(0) is None and log.prev_ts(0) is None
    assert list(reversed(log)) == []


def test_reversed(pair):
    log, m = pair
    assert list(reversed(log)) == m.items()[::-1]


def test_point_read_bad_ts(pair):
    log, _ = pair
    for bad, exc in [(1.5, TypeError), (True, TypeError), (None, TypeError), (2**63, OverflowError)]:
        with pytest.raises(exc):
            log.at(bad)
        with pytest.raises(exc):
            log.at(bad)
        with pytest.raises(exc):
            log.next_ts(bad)
        with pytest.raises(exc):
            log.prev_ts(bad)


def test_extremes_visible_through_unbounded_reads(make_log):
    log = make_log()
    log.extend([(INT64_MAX, "hi"), (INT64_MIN, "lo"), (0, "z")])
    for stage in range(3):
        assert list(log) == [(INT64_MIN, "lo"), (0, "z"), (INT64_MAX, "hi")]
        assert list(log[:]) == list(log)
        assert list(log[0:]) == [(0, "z"), (INT64_MAX, "hi")]
        assert list(log.since(INT64_MAX)) == [(INT64_MAX, "hi")]
        assert list(log[INT64_MIN:]) == list(log)
        assert list(log.until(INT64_MAX)) == [(INT64_MIN, "lo"), (0, "z")]
        assert list(log[:INT64_MIN]) == []
        assert list(log.range(INT64_MIN, INT64_MAX)) == [(INT64_MIN, "lo"), (0, "z")]
        assert log.at(INT64_MAX) == ["hi"] and log.at(INT64_MIN) == ["lo"]
        assert INT64_MAX in log and INT64_MIN in log
        assert list(log.equal(INT64_MAX)) == [(INT64_MAX, "hi")]
        assert log.min_ts() == INT64_MIN and log.max_ts() == INT64_MAX
        assert log.next_ts(0) == INT64_MAX and log.next_ts(INT64_MAX) is None
        assert log.prev_ts(0) == INT64_MIN and log.prev_ts(INT64_MIN) is None
        assert log.next_ts(INT64_MIN) == 0 and log.prev_ts(INT64_MAX) == 0
        assert len(log) == 3
        if stage == 0:
            log.flush()
        else:
            run_maintenance(log)


def test_equal_timestamps_insertion_order_across_flush_and_compaction(make_log):
    log = make_log()
    expected = []
    for round_ in range(5):
        for i in range(3):
            o = f"r{round_}i{i}"
            log.append(5, o)
            expected.append(o)
        log.append(100 + round_, "tail")  # later appends at 5 become out-of-order
        if round_ % 2 == 0:
            log.flush()
        assert log.at(5) == expected
    run_maintenance(log)
    assert log.at(5) == expected
    log.append(5, "last")
    expected.append("last")
    assert log.at(5) == expected
    assert [o for t, o in log if t == 5] == expected
    assert [o for t, o in log.equal(5)] == expected
    assert [o for t, o in reversed(log) if t == 5] == expected[::-1]
    log.flush()
    run_maintenance(log)
    assert log.at(5) == expected


def test_equal_timestamps_order_with_small_pages(make_log):
    log = make_log(busy_policy="silent", memtable_max_bytes=4096, window_size=4)
    expected = []
    for i in range(3000):
        ts = i % 7
        log.append(ts, i)
        expected.append((ts, i))
        if i % 500 == 499:
            log.flush()
    run_maintenance(log)
    expected.sort(key=lambda r: r[0])  # stable: ties keep insertion order
    assert list(log) == expected
    for t in range(7):
        assert log.at(t) == [o for ts, o in expected if ts == t]


def test_contains_after_delete(make_log):
    log = make_log()
    log.append(1, "a")
    log.append(1, "b")
    assert 1 in log
    log.delete(1)
    assert 1 not in log
    log.append(1, "c")
    assert 1 in log
    assert 2 not in log
