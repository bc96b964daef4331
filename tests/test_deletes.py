"""Deletes: point, range, slices, cutoff, sequencing, extremes."""

import pytest

try:
    from model import INT64_MAX, INT64_MIN, LAYERS, RefModel, fill_layered, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, LAYERS, RefModel, fill_layered, run_maintenance


@pytest.fixture(params=LAYERS[:3])
def log(request, log):
    """A log with records at 0..9 (two per ts: 'a<i>' then 'b<i>') in a given layer."""
    rows = [(i, f"a{i}") for i in range(10)] + [(i, f"b{i}") for i in range(10)]
    fill_layered(log, RefModel(), rows, request.param)
    return log


def _ts(log):
    return [t for t, _ in log]


def test_point_delete(log):
    log.delete(3)
    assert 3 not in log
    assert log.at(3) == []
    assert len(log) == 18
    assert _ts(log) == sorted([i for i in range(10) if i != 3] * 2)


def test_point_delete_missing_is_noop(log):
    log.delete(100)
    log.delete(INT64_MIN)
    assert len(log) == 20


def test_range_delete_half_open(log):
    log.delete(2, 5)
    assert sorted(set(_ts(log))) == [0, 1, 5, 6, 7, 8, 9]
    assert len(log) == 14


def test_range_delete_t1_gt_t2(log):
    with pytest.raises(ValueError):
        log.delete(5, 2)
    assert len(log) == 20


def test_range_delete_t1_eq_t2_noop(log):
    log.delete(5, 5)
    assert len(log) == 20
    assert log.at(5) == ["a5", "b5"]


def test_del_item(log):
    del log[4]
    assert log.at(4) == []
    assert len(log) == 18


def test_del_slice(log):
    del log[2:4]
    assert sorted(set(_ts(log))) == [0, 1, 4, 5, 6, 7, 8, 9]
    del log[:1]
    assert sorted(set(_ts(log))) == [1, 4, 5, 6, 7, 8, 9]
    del log[8:]
    assert sorted(set(_ts(log))) == [1, 4, 5, 6, 7]
    del log[None:5]
    assert sorted(set(_ts(log))) == [5, 6, 7]
    del log[6:None]
    assert sorted(set(_ts(log))) == [5]
    del log[:]
    assert len(log) == 0
    assert list(log) == []


def test_del_slice_step(log):
    del log[1:3:1]
    del log[3:4:None]
    assert sorted(set(_ts(log))) == [0, 4, 5, 6, 7, 8, 9]
    with pytest.raises(ValueError):
        del log[0:10:2]
    with pytest.raises(ValueError):
        del log[::-1]
    with pytest.raises(ValueError):
        del log[::0]
    assert len(log) == 14


def test_del_slice_reversed_bounds(log):
    with pytest.raises(ValueError):
        del log[5:2]
    assert len(log) == 20


def test_cutoff(log):
    log.cutoff(6)
    assert sorted(set(_ts(log))) == [6, 7, 8, 9]
    assert len(log) == 8
    log.cutoff(0)
    assert len(log) == 8
    log.cutoff(INT64_MAX)
    assert len(log) == 0


@pytest.mark.parametrize("bad,exc", [(1.5, TypeError), (True, TypeError), ("1", TypeError), (None, TypeError), (2**63, OverflowError)])
def test_delete_bad_timestamps(log, bad, exc):
    with pytest.raises(exc):
        log.delete(bad)
    with pytest.raises(exc):
        del log[bad]
    with pytest.raises(exc):
        log.cutoff(bad)
    assert len(log) == 20


@pytest.mark.parametrize("bad", [1.5, "1", True])
def test_delete_bad_range_bound(log, bad):
    with pytest.raises(TypeError):
        log.delete(bad, 5)
    with pytest.raises(TypeError):
        log.delete(1, bad)
    with pytest.raises(TypeError):
        del log[bad:5]
    assert len(log) == 20


def test_sequenced_delete_then_insert(log):
    log.delete(5)
    log.append(5, "c5")
    assert log.at(5) == ["c5"]
    log.flush()
    assert log.at(5) == ["c5"]
    run_maintenance(log)
    assert log.at(5) == ["c5"]
    assert len(log) == 19


def test_sequenced_insert_delete_insert_across_layers(make_log):
    log = make_log()
    log.append(1, "first")
    log.flush()
    log.delete(1)
    log.flush()
    log.append(1, "second")
    assert log.at(1) == ["second"]
    run_maintenance(log)
    assert log.at(1) == ["second"]
    log.delete(0, 2)
    log.append(1, "third")
    run_maintenance(log)
    assert log.at(1) == ["third"]
    assert len(log) == 1


def test_cutoff_is_sequenced(make_log):
    log = make_log()
    log.append(1, "old")
    log.cutoff(10)
    log.append(1, "new")
    assert list(log) == [(1, "new")]
    run_maintenance(log)
    assert list(log) == [(1, "new")]


def test_extreme_timestamps_deleted_by_unbounded(make_log):
    log = make_log()
    log.extend([(INT64_MIN, "lo"), (0, "mid"), (INT64_MAX, "hi")])
    del log[0:]
    assert list(log) == [(INT64_MIN, "lo")]
    log.append(INT64_MAX, "hi2")
    del log[:0]
    assert list(log) == [(INT64_MAX, "hi2")]
    log.append(INT64_MIN, "lo2")
    del log[:]
    assert list(log) == []
    assert len(log) == 0
    assert log.min_ts() is None and log.max_ts() is None


def test_half_open_range_excludes_int64_max(make_log):
    log = make_log()
    log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    log.delete(INT64_MIN, INT64_MAX)
    assert list(log) == [(INT64_MAX, "hi")]
    log.delete(INT64_MAX)
    assert list(log) == []


def test_point_delete_extremes(make_log):
    log = make_log()
    log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    log.flush()
    log.delete(INT64_MAX)
    log.delete(INT64_MIN)
    assert len(log) == 0
    run_maintenance(log)
    assert list(log) == []


def test_deletes_match_model_many_layers(make_log):
    model = RefModel()
    log = make_log()
    k = 0
    for round_ in range(6):
        for i in range(40):
            ts = (i * 7 + round_) % 23
            log.append(ts, k)
            model.append(ts, k)
            k += 1
        log.delete(round_ * 3, round_ * 3 + 4)
        model.delete(round_ * 3, round_ * 3 + 4)
        log.delete(round_ + 10)
        model.delete(round_ + 10)
        if round_ % 2:
            log.flush()
        if round_ % 3 == 2:
            run_maintenance(log)
        assert list(log) == model.items()
        assert len(log) == len(model)
    log.cutoff(5)
    model.cutoff(5)
    assert list(log) == model.items()
    run_maintenance(log)
    assert list(log) == model.items()
    assert len(log) == len(model)


def test_many_overlapping_range_deletes_match_model(make_log):
    import random

    rnd = random.Random(99)
    visible = []  # eager model: deletes only hide earlier records
    log = make_log(busy_policy="silent", memtable_max_bytes=8192, window_size=50)
    k = 0
    for step in range(1500):
        r = rnd.random()
        if r < 0.5:
            rows = [(rnd.randrange(2000), k + j) for j in range(rnd.randrange(1, 6))]
            k += len(rows)
            log.extend(rows)
            visible.extend(rows)
        elif r < 0.95:
            a = rnd.randrange(2000)
            b = a + rnd.randrange(0, 60)
            log.delete(a, b)
            visible = [x for x in visible if not a <= x[0] < b]
        elif r < 0.98:
            log.flush()
        else:
            run_maintenance(log)
    exp = sorted(visible, key=lambda x: x[0])
    assert list(log) == exp
    assert len(log) == len(exp)
    run_maintenance(log)
    assert list(log) == exp
    assert log.stats()["storage"]["records_estimate"] == len(exp)
