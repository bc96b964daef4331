"""Zero-copy page views. Pages exist only after flush()."""

import gc
import sys

import pytest

import timelog
from timelog import Timelog

try:
    from model import INT64_MAX, INT64_MIN, Obj, handles, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, Obj, handles, run_maintenance


@pytest.fixture
def log(make_log):
    return make_log(busy_policy="silent", target_page_bytes=4096)


def _spans(log, t1=None, t2=None):
    return list(log.views(t1, t2))


def _all_ts(spans):
    out = []
    for s in spans:
        out.extend(memoryview(s).tolist())
    return out


def _fill(log, n=5000):
    objs = [Obj(i) for i in range(n)]
    log.extend((i * 2, o) for i, o in enumerate(objs))
    log.flush()
    return objs


def test_views_types_and_buffer(log):
    _fill(log)
    it = log.views()
    assert isinstance(it, timelog.PageSpanIter)
    spans = list(it)
    assert spans and all(isinstance(s, timelog.PageSpan) for s in spans)
    for s in spans:
        mv = memoryview(s)
        assert mv.format == "q"
        assert mv.readonly
        assert mv.itemsize == 8
        assert mv.ndim == 1
        assert len(mv) == len(s) > 0
        ts = mv.tolist()
        assert ts == sorted(ts)
        assert s.start_ts == ts[0]
        assert s.end_ts in (ts[-1], ts[-1] + 1)
        with pytest.raises(TypeError):
            mv[0] = 5
        s.close()


def test_views_cover_all_records(log):
    _fill(log)
    spans = _spans(log)
    assert _all_ts(spans) == [i * 2 for i in range(5000)]
    assert len(spans) > 1, "small pages: expected several spans"
    for s in spans:
        s.close()


def test_views_range_restricted(log):
    _fill(log)
    spans = _spans(log, 1001, 3001)
    got = _all_ts(spans)
    assert got == [t for t in range(0, 10000, 2) if 1001 <= t < 3001]
    spans2 = list(log.page_spans(1001, 3001))
    assert _all_ts(spans2) == got
    for s in spans + spans2:
        s.close()


def test_objects_aligned(log):
    objs = _fill(log)
    for s in _spans(log):
        ts = memoryview(s).tolist()
        ob = s.objects()
        assert isinstance(ob, timelog.PageSpanObjectsView) or hasattr(ob, "__getitem__")
        assert len(ob) == len(ts)
        for i, t in enumerate(ts):
            assert ob[i] is objs[t // 2]
        assert list(ob) == [objs[t // 2] for t in ts]
        s.close()


def test_copy_timestamps(log):
    _fill(log)
    for s in _spans(log):
        c = s.copy_timestamps()
        assert list(c) == memoryview(s).tolist()
        s.close()


def test_numpy_zero_copy(log):
    np = pytest.importorskip("numpy")
    _fill(log)
    s = _spans(log)[0]
    a = np.frombuffer(s, dtype=np.int64)
    assert a.tolist() == memoryview(s).tolist()
    assert not a.flags.writeable
    a2 = np.asarray(memoryview(s))
    assert a2.dtype == np.int64
    del a, a2
    s.close()


def test_views_only_flushed_data(log):
    log.extend((i, i) for i in range(10))
    assert _all_ts(_spans(log)) == []
    log.flush()
    assert _all_ts(_spans(log)) == list(range(10))


def test_spans_are_physical_not_tombstone_filtered(log):
    _fill(log, 1000)
    log.delete(0, 1000)  # logically hides ts 0..998
    assert log.min_ts() == 1000
    phys = _all_ts(_spans(log))
    assert phys[:3] == [0, 2, 4], "spans are physical: deleted-but-not-compacted rows stay"
    assert len(phys) == 1000


def test_views_extremes(make_log):
    log = make_log()
    log.extend([(INT64_MIN, "lo"), (0, "z"), (INT64_MAX, "hi")])
    log.flush()
    spans = _spans(log)
    assert _all_ts(spans) == [INT64_MIN, 0, INT64_MAX]
    assert _all_ts(_spans(log, 0, None)) == [0, INT64_MAX]
    for s in spans:
        s.close()


def test_span_close_and_use_after_close(log):
    _fill(log, 100)
    s = _spans(log)[0]
    s.close()
    s.close()
    with pytest.raises((ValueError, timelog.TimelogError)):
        memoryview(s)
    with pytest.raises((ValueError, timelog.TimelogError)):
        s.objects()


def test_live_span_pins_payloads(log):
    objs = [Obj(i) for i in range(200)]
    base = [sys.getrefcount(o) for o in objs]
    log.extend(enumerate(objs))
    log.flush()
    spans = _spans(log)
    log.delete(0, 200)
    run_maintenance(log)
    log.flush()
    assert log.retired_queue_len == 200, "a live span must defer drains"
    ob = spans[0].objects()
    assert ob[0] is objs[0]
    del ob
    for s in spans:
        s.close()
    del spans
    gc.collect()
    log.flush()
    assert log.retired_queue_len == 0
    assert [sys.getrefcount(o) for o in objs] == base
    assert handles(log)["pins"] == 0


def test_memoryview_outlives_span_close_safely(log):
    _fill(log, 100)
    s = _spans(log)[0]
    mv = memoryview(s)
    # with an exported buffer the span must either refuse to close or keep memory alive
    try:
        s.close()
    except (BufferError, ValueError):
        pass
    assert mv.tolist()[:3] == [0, 2, 4]
    mv.release()
    s.close()


def test_views_after_compaction(log):
    _fill(log, 3000)
    log.delete(0, 1000)
    run_maintenance(log)
    ts = _all_ts(_spans(log))
    assert ts == [t for t in range(0, 6000, 2) if t >= 1000]


def test_views_reversed_bounds_empty_or_value_error(log):
    _fill(log, 100)
    try:
        spans = list(log.views(50, 10))
    except ValueError:
        return
    assert _all_ts(spans) == []


def test_exported_buffer_survives_log_close():
    log = Timelog(maintenance="disabled")
    log.extend((i, Obj(i)) for i in range(1000))
    log.flush()
    s = next(iter(log.views()))
    mv = memoryview(s)
    exp = list(range(len(mv)))
    ob = s.objects()
    log.close()
    junk = [Obj(-1) for _ in range(50_000)]  # reuse freed memory if any
    assert mv.tolist() == exp, "the buffer must stay valid while exported"
    with pytest.raises(timelog.TimelogError):
        ob[0]  # payload references were released by close(): no stale objects
    with pytest.raises(timelog.TimelogError):
        s.objects()
    del junk
    mv.release()
    s.close()
