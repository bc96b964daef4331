"""Timelog.to_pandas(), to_arrow() and the Arrow PyCapsule stream (pandas, pyarrow,
polars and duckdb are optional: each test skips without what it needs)."""
import gc
import sys

import pytest
from hypothesis import given, strategies as st

from timelog import Timelog, TimelogError
from timelog import _export

try:
    import strategies as tst
    from model import new_log
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import new_log

np = pytest.importorskip("numpy")

UNITS = ["s", "ms", "us", "ns"]
T0 = 1_700_000_000  # seconds


@pytest.fixture
def pd():
    return pytest.importorskip("pandas")


@pytest.fixture
def pa():
    return pytest.importorskip("pyarrow")


class Payload:
    """A payload that is neither interned nor cached: its refcount is exact."""

    def __init__(self, tag):
        self.tag = tag

    def __repr__(self):
        return f"Payload({self.tag!r})"


# ---------------------------------------------------------------- to_pandas


@pytest.mark.parametrize("unit", UNITS)
def test_to_pandas_index_dtype_and_values(pd, unit):
    a, b = Payload("a"), Payload("b")
    with new_log(time_unit=unit) as log:
        log.extend([(20, b), (10, a)])
        s = log.to_pandas()
    assert isinstance(s, pd.Series)
    assert str(s.index.dtype) == f"datetime64[{unit}]"
    assert isinstance(s.index, pd.DatetimeIndex)
    assert s.index.name == "ts" and s.index.tz is None
    assert s.index.asi8.tolist() == [10, 20]
    assert s.dtype == object
    assert s.iloc[0] is a and s.iloc[1] is b
    assert s.name is None


def test_to_pandas_epoch_dates(pd):
    with new_log(time_unit="ms") as log:
        log.append(T0 * 1000 + 5, "x")
        s = log.to_pandas(name="events")
    assert s.name == "events"
    assert s.index[0] == pd.Timestamp("2023-11-14 22:13:20.005")


def test_to_pandas_ties_duplicates_out_of_order(pd):
    objs = [Payload(i) for i in range(6)]
    with new_log() as log:
        log.extend([(3, objs[0]), (1, objs[1]), (3, objs[2]), (2, objs[3])])
        log.append(1, objs[4])
        log.append(3, objs[5])
        s = log.to_pandas()
        expected = list(log)
    assert s.index.asi8.tolist() == [ts for ts, _ in expected] == [1, 1, 2, 3, 3, 3]
    assert all(x is y for x, (_, y) in zip(s.tolist(), expected))
    assert s.tolist()[3:] == [objs[0], objs[2], objs[5]]       # insertion order at ts=3
    assert not s.index.is_unique


def test_to_pandas_range_and_deletes(pd):
    with new_log() as log:
        log.extend((t, t * 10) for t in range(100))
        log.flush()
        del log[10:20]
        log.delete(50)
        s = log.to_pandas(5, 55)
        assert s.index.asi8.tolist() == [t for t in range(5, 55) if not (10 <= t < 20 or t == 50)]
        assert s.tolist() == [t * 10 for t in s.index.asi8]
        assert log.to_pandas(None, 3).tolist() == [0, 10, 20]
        assert log.to_pandas(97).tolist() == [970, 980, 990]
        assert len(log.to_pandas(30, 30)) == 0
        assert len(log.to_pandas(40, 30)) == 0


def test_to_pandas_mixed_layers(pd):
    with new_log(memtable_max_bytes=4096) as log:
        log.extend((t, t) for t in range(0, 3000, 3))
        log.flush()
        log.compact()
        while log.maint_step():
            pass
        log.extend((t, t) for t in range(1, 3000, 3))      # memtable + sealed runs
        s = log.to_pandas()
        assert s.index.asi8.tolist() == sorted(list(range(0, 3000, 3)) + list(range(1, 3000, 3)))


@pytest.mark.parametrize("unit", UNITS)
def test_to_pandas_empty(pd, unit):
    with new_log(time_unit=unit) as log:
        s = log.to_pandas(name="n")
    assert len(s) == 0 and s.dtype == object and s.name == "n"
    assert str(s.index.dtype) == f"datetime64[{unit}]" and s.index.name == "ts"


def test_to_pandas_extreme_timestamps(pd):
    with new_log(time_unit="ns") as log:
        log.extend([(-2**63, "min"), (2**63 - 1, "max"), (0, "zero")])
        s = log.to_pandas()
    assert s.index.asi8.tolist() == [-2**63, 0, 2**63 - 1]    # -2**63 is NaT, kept as is
    assert pd.isna(s.index[0])
    assert s.tolist() == ["min", "zero", "max"]


def test_to_pandas_refcounts_and_outlives_close(pd):
    p = Payload("p")
    log = new_log()
    log.extend([(1, p), (2, p), (3, p)])
    base = sys.getrefcount(p)
    s = log.to_pandas()
    assert sys.getrefcount(p) == base + 3          # the Series owns one per row
    log.close()
    gc.collect()
    assert sys.getrefcount(p) == base + 3 - 3      # the log's went with close()
    assert all(x is p for x in s)
    del s
    gc.collect()
    assert sys.getrefcount(p) == base - 3


def test_to_pandas_no_leak_on_repeat(pd):
    p = Payload("p")
    with new_log() as log:
        log.append(1, p)
        base = sys.getrefcount(p)
        for _ in range(20):
            log.to_pandas()
        gc.collect()
        assert sys.getrefcount(p) == base
        assert log.stats()["handles"]["pins"] == 0


def test_to_pandas_bad_inputs(pd):
    with new_log() as log:
        log.append(1, "a")
        with pytest.raises(TypeError):
            log.to_pandas("x")
        with pytest.raises(TypeError):
            log.to_pandas(1.5)
        with pytest.raises(OverflowError):
            log.to_pandas(2**64)
        with pytest.raises(TypeError):
            log.to_pandas(1, 2, "name")               # name is keyword-only


def test_closed_log_raises(pd, pa):
    log = new_log()
    log.append(1, "a")
    log.close()
    for call in (log.to_pandas, log.to_arrow, log.__arrow_c_stream__):
        with pytest.raises(TimelogError):
            call()


@given(tst.records(tst.near(50), max_size=60),
       st.lists(st.tuples(tst.near(60), st.integers(0, 10)), max_size=5))
def test_to_pandas_matches_iteration(rows, deletes):
    pd = pytest.importorskip("pandas")
    with new_log(memtable_max_bytes=1024) as log:
        for i, (ts, v) in enumerate(rows):
            log.append(ts, v)
            if i % 17 == 16:
                log.flush()
        for lo, width in deletes:
            del log[lo:lo + width]
        s = log.to_pandas()
        expected = list(log)
    assert list(zip(s.index.asi8.tolist(), s.tolist())) == expected
    assert isinstance(s, pd.Series)


# ---------------------------------------------------------------- to_arrow


@pytest.mark.parametrize("unit", UNITS)
def test_to_arrow_schema(pa, unit):
    with new_log(time_unit=unit) as log:
        log.extend([(2, "b"), (1, "a"), (2, "c")])
        t = log.to_arrow()
    assert t.column_names == ["ts", "value"]
    assert t.schema.field("ts").type == pa.timestamp(unit)
    assert t.schema.field("value").type == pa.string()
    assert t.column("ts").cast(pa.int64()).to_pylist() == [1, 2, 2]
    assert t.column("value").to_pylist() == ["a", "b", "c"]


def test_to_arrow_type_inference(pa):
    with new_log() as log:
        log.extend([(1, {"k": 1, "v": "x"}), (2, {"k": 2, "v": None}), (3, None)])
        t = log.to_arrow()
        assert pa.types.is_struct(t.schema.field("value").type)
        assert t.column("value").to_pylist()[2] is None
        assert t.column("value").null_count == 1
        log.delete(1, 4)
        log.extend([(5, 1), (6, 2.5)])
        assert log.to_arrow().schema.field("value").type == pa.float64()


@pytest.mark.parametrize("payloads, bad", [
    ([1, 2, "three", 4], 2),
    ([object()], 0),
    (["a", "b", "c", "d", "e", "f", "g", "h", object()], 8),
])
def test_to_arrow_unconvertible_names_timestamp(pa, payloads, bad):
    with new_log() as log:
        log.extend((100 + i, p) for i, p in enumerate(payloads))
        with pytest.raises(TypeError, match=rf"at ts={100 + bad}\b") as info:
            log.to_arrow()
    assert isinstance(info.value.__cause__, pa.ArrowException)


def test_to_arrow_unconvertible_repr_is_short(pa):
    class Huge:
        def __repr__(self):
            return "H" * 10_000
    with new_log() as log:
        log.append(7, Huge())
        with pytest.raises(TypeError) as info:
            log.to_arrow()
    assert "ts=7" in str(info.value) and "H" * 100 not in str(info.value).split(":")[0]


@pytest.mark.parametrize("unit", UNITS)
def test_to_arrow_empty(pa, unit):
    with new_log(time_unit=unit) as log:
        t = log.to_arrow()
    assert t.num_rows == 0 and t.column_names == ["ts", "value"]
    assert t.schema.field("ts").type == pa.timestamp(unit)


def test_to_arrow_range_deletes_ties(pa):
    with new_log() as log:
        log.extend([(5, "e"), (1, "a"), (3, "c1"), (3, "c2"), (2, "b")])
        del log[2]
        t = log.to_arrow(2, 5)
    assert t.column("value").to_pylist() == ["c1", "c2"]


def test_to_arrow_holds_no_references(pa):
    p = Payload("p")
    log = new_log()
    log.extend([(1, "x"), (2, "y")])
    log.append(3, p)
    base = sys.getrefcount(p)
    with pytest.raises(TypeError):
        log.to_arrow()                      # Payload is not convertible
    gc.collect()
    assert sys.getrefcount(p) == base        # no reference leaked by the failure
    log.delete(3)
    t = log.to_arrow()
    log.close()
    assert t.column("value").to_pylist() == ["x", "y"]


# ---------------------------------------------------------------- PyCapsule stream


def test_arrow_c_stream_pyarrow(pa):
    with new_log(time_unit="us") as log:
        log.extend([(2, "b"), (1, "a")])
        assert type(log.__arrow_c_stream__()).__name__ == "PyCapsule"
        t = pa.table(log)
        assert t.equals(log.to_arrow())
        reader = pa.RecordBatchReader.from_stream(log)
        assert reader.read_all().num_rows == 2
    assert t.num_rows == 2                                   # outlives close()


def test_arrow_c_stream_requested_schema(pa):
    with new_log() as log:
        log.extend([(1, "a")])
        schema = pa.schema([("ts", pa.timestamp("ms")), ("value", pa.large_string())])
        reader = pa.RecordBatchReader.from_stream(log, schema=schema)
        assert reader.read_all().schema == schema


def test_arrow_c_stream_polars():
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    with new_log(time_unit="ns") as log:
        log.extend([(3, 30), (1, 10), (3, 31)])
        df = pl.DataFrame(log)
        assert df.columns == ["ts", "value"]
        assert df["value"].to_list() == [10, 30, 31]
        assert df.schema["ts"] == pl.Datetime("ns")
        assert pl.from_arrow(log.to_arrow())["value"].to_list() == [10, 30, 31]


def test_arrow_c_stream_duckdb(make_log):
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    log = make_log()
    log.extend((t, t % 3) for t in range(10))
    assert duckdb.sql("select count(*) from log").fetchall() == [(10,)]
    rel = duckdb.sql("select value, count(*) as n from log group by value order by value")
    assert rel.fetchall() == [(0, 4), (1, 3), (2, 3)]
    assert duckdb.from_arrow(log.to_arrow()).count("*").fetchall() == [(10,)]


def test_iterator_arrow_c_stream(pa):
    with new_log() as log:
        log.extend((t, str(t)) for t in range(10))
        it = log[2:8]
        next(it)
        t = pa.table(it)
        assert t.column("value").to_pylist() == ["3", "4", "5", "6", "7"]
        assert len(it) == 0 and it.closed                   # consumed
        assert pa.table(it).num_rows == 0
        assert log.stats()["handles"]["pins"] == 0
        it2 = log.all()
    with pytest.raises(TimelogError):
        it2.__arrow_c_stream__()


# ---------------------------------------------------------------- optional dependencies


@pytest.mark.parametrize("module, extra, call", [
    ("pandas", "pandas", lambda log: log.to_pandas()),
    ("pyarrow", "arrow", lambda log: log.to_arrow()),
    ("pyarrow", "arrow", lambda log: log.__arrow_c_stream__()),
    ("pyarrow", "arrow", lambda log: log.all().__arrow_c_stream__()),
])
def test_missing_dependency_names_extra(monkeypatch, module, extra, call):
    monkeypatch.setitem(sys.modules, module, None)
    with new_log() as log:
        log.append(1, "a")
        with pytest.raises(ImportError, match=rf"pip install 'timelog\[{extra}\]'"):
            call(log)
        assert log.stats()["handles"]["pins"] == 0


# ---------------------------------------------------------------- the columnar primitives


class ColumnarLog:
    """A log that records the exports' calls into its columnar reads."""

    def __init__(self, log):
        self._log = log
        self.calls = []
        self.time_unit = log.time_unit

    def to_numpy(self, t1=None, t2=None):
        self.calls.append(("to_numpy", t1, t2))
        return self._log.to_numpy(t1, t2)


def test_exports_read_through_to_numpy(pd):
    with new_log() as log:
        log.extend([(1, "a"), (2, "b")])
        fake = ColumnarLog(log)
        assert _export.to_pandas(fake, 1, None, None).tolist() == ["a", "b"]
    assert fake.calls == [("to_numpy", 1, None)]


def test_columns_types():
    with new_log() as log:
        rows = [(3, [1, 2]), (1, (3,)), (2, None)]
        log.extend(rows)
        ts, objs = log.to_numpy()
    assert ts.dtype == np.int64 and objs.dtype == object and objs.shape == (3,)
    assert ts.tolist() == [1, 2, 3]
    assert objs[0] is rows[1][1] and objs[2] is rows[0][1]


@pytest.mark.parametrize("every", [1, 3, 10, 1000])
def test_plot_bucket_counts(every):
    stamps = [-25, -11, -10, -1, 0, 0, 9, 10, 11, 999, 1000, 2**20]
    with new_log() as log:
        log.extend((t, None) for t in stamps)
        starts, counts = log.count_by(every)
        expected = {}
        for t in stamps:
            expected[t // every * every] = expected.get(t // every * every, 0) + 1
        full = counts > 0
        assert dict(zip(starts[full].tolist(), counts[full].tolist())) == expected
        assert counts.sum() == len(stamps)
        starts, counts = log.count_by(every, 0, 11)
        assert counts.sum() == 4                       # 0, 0, 9, 10
