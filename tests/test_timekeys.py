"""Time keys: datetime / numpy.datetime64 / pandas.Timestamp timestamps and
timedelta-like durations, converted exactly to the log's time_unit (floor toward
-infinity), in every API that takes a timestamp; bad input errors."""

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

try:
    import strategies as tst
    from model import INT64_MAX, INT64_MIN, new_log
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import INT64_MAX, INT64_MIN, new_log

np = pytest.importorskip("numpy")

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1)
UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
NP_NS = {"W": (7 * 86400 * 10**9, 1), "D": (86400 * 10**9, 1), "h": (3600 * 10**9, 1),
         "m": (60 * 10**9, 1), "s": (10**9, 1), "ms": (10**6, 1), "us": (10**3, 1),
         "ns": (1, 1), "ps": (1, 10**3), "fs": (1, 10**6)}


def _stored_ts(log, key):
    log.append(key, "x")
    (ts, _), = list(log)
    return ts


@pytest.mark.parametrize("unit", list(UNITS))
@pytest.mark.parametrize("d,us", [
    (dt.datetime(1970, 1, 1), 0),
    (dt.datetime(2023, 11, 14, 22, 13, 20, 123456), 1_700_000_000_123_456),
    (dt.datetime(1969, 12, 31, 23, 59, 59, 999999), -1),
    (dt.datetime(1, 1, 1), -62_135_596_800_000_000),
    (dt.datetime(9999, 12, 31, 23, 59, 59, 999999), 253_402_300_799_999_999),
])
def test_naive_datetime_is_utc_and_floored(unit, d, us):
    want = (us * 1000) // UNITS[unit]
    with new_log(time_unit=unit) as log:
        if not INT64_MIN <= want <= INT64_MAX:      # years 1 and 9999 in ns
            with pytest.raises(OverflowError):
                log.append(d, "x")
            return
        assert _stored_ts(log, d) == want


def test_aware_datetime_converted_to_utc():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    with new_log(time_unit="s") as log:
        assert _stored_ts(log, dt.datetime(1970, 1, 1, 2, tzinfo=plus2)) == 0
    with new_log(time_unit="us") as log:
        odd = dt.timezone(dt.timedelta(hours=-5, minutes=-30, microseconds=-7))
        d = dt.datetime(2000, 1, 1, tzinfo=odd)
        assert _stored_ts(log, d) == (d - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


@pytest.mark.parametrize("unit", list(UNITS))
@pytest.mark.parametrize("value,np_unit", [
    (0, "ns"), (1, "ns"), (-1, "ns"), (1_700_000_000_123_456_789, "ns"), (-999_999, "ns"),
    (5, "us"), (-5, "ms"), (7, "s"), (-3, "m"), (2, "h"), (-1, "D"), (3, "W"),
    (1234567, "ps"), (-1, "fs"), (54, "Y"), (-13, "M"), (INT64_MAX, "ns"), (INT64_MIN + 1, "ns"),
])
def test_datetime64_exact_any_unit(unit, value, np_unit):
    v = np.datetime64(value, np_unit)
    if np_unit in ("Y", "M"):       # calendar units: the first day of the year / month
        value, np_unit = int(v.astype("datetime64[D]").astype(np.int64)), "D"
    num, den = NP_NS[np_unit]       # one np_unit is num / den nanoseconds
    want = (value * num) // (den * UNITS[unit])
    with new_log(time_unit=unit) as log:
        if not INT64_MIN <= want <= INT64_MAX:
            with pytest.raises(OverflowError):
                log.append(v, "x")
            return
        assert _stored_ts(log, v) == want


def test_datetime64_overflow_and_nat():
    with new_log(time_unit="ns") as log:
        with pytest.raises(OverflowError):
            log.append(np.datetime64(300, "Y") + np.timedelta64(0, "D"), "x")  # 2270: beyond ns int64
        with pytest.raises(OverflowError):
            log.append(np.datetime64(10**17, "s"), "x")
        with pytest.raises(ValueError, match="NaT"):
            log.append(np.datetime64("NaT", "s"), "x")
        with pytest.raises(ValueError, match="NaT"):
            log.count(np.datetime64("NaT"))
        assert len(log) == 0


class FakeTimestamp(dt.datetime):
    """Stands in for pandas.Timestamp: a datetime subclass whose asm8 keeps ns."""

    def __new__(cls, ns):
        base = EPOCH + dt.timedelta(microseconds=ns // 1000)
        self = super().__new__(cls, base.year, base.month, base.day, base.hour,
                               base.minute, base.second, base.microsecond)
        self._ns = ns
        return self

    @property
    def asm8(self):
        return np.datetime64(self._ns, "ns")


def test_timestamp_like_keeps_nanoseconds():
    with new_log(time_unit="ns") as log:
        assert _stored_ts(log, FakeTimestamp(1_700_000_000_123_456_789)) == 1_700_000_000_123_456_789
    with new_log(time_unit="us") as log:
        assert _stored_ts(log, FakeTimestamp(-1)) == -1       # floored


def test_pandas_timestamp():
    pd = pytest.importorskip("pandas")
    with new_log(time_unit="ns") as log:
        t = pd.Timestamp("2023-11-14 22:13:20.123456789")
        assert _stored_ts(log, t) == t.value
    with new_log(time_unit="ms") as log:
        t = pd.Timestamp("2023-11-14 22:13:20.123456789", tz="Europe/Paris")
        assert _stored_ts(log, t) == t.value // 10**6
        with pytest.raises(ValueError):
            log.append(pd.NaT, "x")
        assert log.count_by(pd.Timedelta("1s"))[1].sum() == 1


def test_every_api_takes_time_keys():
    d = lambda s: EPOCH + dt.timedelta(seconds=s)     # noqa: E731
    n = lambda s: np.datetime64(s, "s")               # noqa: E731
    with new_log(time_unit="s") as log:
        log.append(d(1), "a")
        log.append("b", ts=n(2))
        log[d(3)] = "c"
        log.extend([(n(4), "d"), (d(5), "e")])
        log.extend([d(6), n(7)], ["f", "g"])
        log.extend(np.array([8, 9, 10], "M8[s]"), ["h", "i", "j"])
        assert log.timestamps().tolist() == list(range(1, 11))
        assert log.at(d(2)) == ["b"] and log.at(n(3)) == ["c"]
        assert [o for _, o in log[d(2):n(4)]] == ["b", "c"]
        assert [o for _, o in log.range(n(8), d(10))] == ["h", "i"]
        assert [o for _, o in log.since(d(9))] == ["i", "j"]
        assert [o for _, o in log.until(n(2))] == ["a"]
        assert [o for _, o in log.equal(d(5))] == ["e"]
        assert n(5) in log and d(11) not in log
        assert log.next_ts(d(5)) == 6 and log.prev_ts(n(5)) == 4
        assert log.count(d(2), n(5)) == 3
        assert log.asof(d(5) + dt.timedelta(milliseconds=999)) == (5, "e")
        assert log.nearest(n(0)) == (1, "a")
        assert log.timestamps(d(9)).tolist() == [9, 10]
        assert log.to_numpy(n(10))[1].tolist() == ["j"]
        s, c = log.count_by(dt.timedelta(seconds=5), d(0), n(10), origin=d(0))
        assert s.tolist() == [0, 5] and c.tolist() == [4, 5]
        s, c = log.count_by(np.timedelta64(5000, "ms"), origin=n(0))
        assert s.tolist() == [0, 5, 10] and c.tolist() == [4, 5, 1]
        log.delete(d(1))
        log.delete(n(2), d(4))
        del log[d(4)]
        del log[n(5):d(7)]
        log.cutoff(n(8))
        assert [o for _, o in log] == ["h", "i", "j"]


def test_datetime64_column_vectorised_and_checked():
    with new_log(time_unit="ms") as log:
        col = np.array([1_500, -1, 0, 2**62], dtype="M8[us]")
        log.extend(col, ["a", "b", "c", "d"])
        assert log.timestamps().tolist() == [-1, 0, 1, 2**62 // 1000]   # -1 us floors to -1 ms
    with new_log(time_unit="ns") as log:
        with pytest.raises(OverflowError, match=r"timestamps\[1\]"):
            log.extend(np.array([0, 10**17], dtype="M8[s]"), ["a", "b"])
        with pytest.raises(ValueError, match=r"timestamps\[0\] is NaT"):
            log.extend(np.array(["NaT", 1], dtype="M8[s]"), ["a", "b"])
        with pytest.raises(ValueError, match="length mismatch"):
            log.extend(np.array([1, 2], dtype="M8[s]"), ["a"])
        assert len(log) == 0
        log.extend(np.array([1, "NaT", 10**17, 2], dtype="M8[s]"), ["a", "b", "c", "d"],
                   insert_on_error=True)
        assert list(log) == [(10**9, "a"), (2 * 10**9, "d")]
    with new_log(time_unit="s") as log:
        log.extend(np.array(["2020-01", "1969-12"], dtype="M8[M]"), ["a", "b"])
        assert log.timestamps().tolist() == [-31 * 86400, 1_577_836_800]
        log.extend(np.array([3, -3], dtype="M8[7s]"), ["c", "d"])
        assert log.at(21) == ["c"] and log.at(-21) == ["d"]
        log.extend(np.array([1999, -1], dtype="M8[ms]")[::-1], ["e", "f"])   # strided
        assert log.at(-1) == ["e"] and log.at(1) == ["f"]           # -1 ms floors to -1 s


@pytest.mark.parametrize("bad", [1.5, True, "2020-01-01", dt.date(2020, 1, 1), dt.timedelta(1),
                                 np.timedelta64(1, "s"), None, object()])
def test_bad_time_types(bad):
    with new_log(time_unit="ms") as log:
        with pytest.raises(TypeError) as info:
            log.append(bad, "x")
        if bad is not None:
            assert "datetime" in str(info.value) and "time_unit" in str(info.value)
        with pytest.raises(TypeError):
            log.asof(bad)
        assert len(log) == 0


def test_datetime_out_of_int64_after_conversion():
    with new_log(time_unit="ns") as log:
        with pytest.raises(OverflowError):
            log.append(dt.datetime(2300, 1, 1), "x")
        with pytest.raises(OverflowError):
            log.count(dt.datetime(1600, 1, 1))
        log.append(dt.datetime(2262, 4, 11), "ok")
        assert len(log) == 1


@pytest.mark.parametrize("unit", list(UNITS))
def test_durations(unit):
    with new_log(time_unit=unit) as log:
        log.extend([(0, "a"), (1, "b")])
        per_s = 10**9 // UNITS[unit]
        for every in (dt.timedelta(seconds=2), np.timedelta64(2, "s"), np.timedelta64(2000, "ms"), 2 * per_s):
            s, c = log.count_by(every, 0, 4 * per_s)
            assert s.tolist() == [0, 2 * per_s] and c.tolist() == [2, 0]
        with pytest.raises(ValueError, match="whole number"):
            if unit == "s":
                log.count_by(dt.timedelta(milliseconds=1500))
            else:
                log.count_by(np.timedelta64(1, "ps"))
        with pytest.raises(ValueError):
            log.count_by(np.timedelta64(1, "M"))
        with pytest.raises(ValueError, match="NaT"):
            log.count_by(np.timedelta64("NaT"))
        with pytest.raises(ValueError, match="every > 0"):
            log.count_by(dt.timedelta(0))
        with pytest.raises(ValueError, match="every > 0"):
            log.count_by(-dt.timedelta(seconds=1))
        for bad in (1.0, "1s", True, dt.datetime(2020, 1, 1)):
            with pytest.raises(TypeError, match="timedelta"):
                log.count_by(bad)


def test_int_fast_path_unchanged():
    with new_log(time_unit="ms") as log:
        log.extend([(np.int64(5), "a"), (7, "b")])
        log.extend(np.array([1, 2], dtype=np.int32), ["c", "d"])
        assert log.timestamps().tolist() == [1, 2, 5, 7]
        with pytest.raises(OverflowError):
            log.append(2**63, "x")


def test_datetime64_column_like_pandas_index():
    class Column:                           # what a naive pandas DatetimeIndex looks like
        dtype = np.dtype("M8[ns]")

        def __array__(self, dtype=None, copy=None):
            return np.array([1_500_000_000, -1], dtype="M8[ns]")

        def __len__(self):
            return 2

    with new_log(time_unit="s") as log:
        log.extend(Column(), ["a", "b"])
        assert list(log) == [(-1, "b"), (1, "a")]


def test_datetime64_column_byte_swapped_and_empty():
    with new_log(time_unit="s") as log:
        swapped = np.array([3, -2], dtype=">M8[s]") if np.little_endian else np.array([3, -2], dtype="<M8[s]")
        log.extend(swapped, ["a", "b"])
        assert list(log) == [(-2, "b"), (3, "a")]
        log.extend(np.array([], dtype="M8[ns]"), [])
        with pytest.raises(ValueError, match="unit"):          # generic datetime64: no unit
            log.extend(np.array(["NaT"], dtype="M8"), ["x"])
        with pytest.raises(ValueError, match="1-dimensional"):
            log.extend(np.array([[1]], dtype="M8[s]"), ["x"])
        assert len(log) == 2


def test_bad_buffer_messages_say_how():
    with new_log(time_unit="ms") as log:
        with pytest.raises(TypeError, match="datetime64"):
            log.extend(np.array([1.5]), ["a"])
        with pytest.raises(TypeError, match="datetime64"):
            log.extend(np.array([True]), ["a"])


@settings(max_examples=200, deadline=None)
@given(values=tst.batches(tst.timestamps(lo=INT64_MIN + 1), min_size=1, max_size=20),  # INT64_MIN is NaT
       np_unit=st.sampled_from(["W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]),
       count=st.sampled_from([1, 3, 7, 1000]),
       unit=st.sampled_from(list(UNITS)))
def test_datetime64_column_matches_exact_arithmetic(values, np_unit, count, unit):
    # The vectorised column conversion equals exact Python-int arithmetic,
    # element by element: floor, and OverflowError exactly when out of int64.
    col = np.array(values, dtype=f"M8[{count}{np_unit}]")
    num, den = NP_NS.get(np_unit, (1, 10**9))
    want = [(v * count * num) // (den * UNITS[unit]) for v in values]
    fits = [INT64_MIN <= w <= INT64_MAX for w in want]
    with new_log(time_unit=unit) as log:
        if all(fits):
            log.extend(col, list(range(len(values))))
            got = [t for t, _ in sorted(log, key=lambda r: r[1])]
            assert got == want
        else:
            with pytest.raises(OverflowError):
                log.extend(col, list(range(len(values))))
            log.extend(col, list(range(len(values))), insert_on_error=True)
            assert sorted(t for t, _ in log) == sorted(w for w, f in zip(want, fits) if f)
