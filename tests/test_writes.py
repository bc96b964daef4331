"""Writes: append forms, __setitem__, extend forms, strict validation."""

import sys

import pytest

from timelog import Timelog

try:
    from model import INT64_MAX, INT64_MIN, Obj
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, Obj


class Index:
    """An object implementing __index__ (like numpy integers)."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


BAD_TS = [
    (True, TypeError),
    (False, TypeError),
    (1.0, TypeError),
    (1.5, TypeError),
    ("5", TypeError),
    (None, TypeError),
    (b"5", TypeError),
    (2**63, OverflowError),
    (-(2**63) - 1, OverflowError),
    (2**100, OverflowError),
]


# ----------------------------------------------------------------- append forms


def test_append_forms(log):
    a, b, c, d = Obj("a"), Obj("b"), Obj("c"), Obj("d")
    log.append(a, ts=10)
    log.append(20, b)
    log[30] = c
    log.append(d, ts=40)
    got = list(log)
    assert got == [(10, a), (20, b), (30, c), (40, d)]
    assert got[0][1] is a and got[3][1] is d


def test_append_auto_timestamp(log):
    o = Obj(1)
    log.append(o)
    assert len(log) == 1
    ts = log.min_ts()
    assert log.at(ts) == [o]


def test_append_stores_identity_not_copy(log):
    o = [1, 2, 3]
    log.append(1, o)
    log.append(2, o)
    assert log.at(1)[0] is o and log.at(2)[0] is o
    (t, got), = list(log[1:2])
    assert got is o


def test_append_any_object(log):
    objs = [None, 0, "s", b"b", (1,), {"k": 1}, Obj(0), object(), float("nan")]
    for i, o in enumerate(objs):
        log.append(i, o)
    assert all(x is y for (_, x), y in zip(log, objs))


def test_append_extremes(log):
    log.append(INT64_MAX, "hi")
    log.append(INT64_MIN, "lo")
    log[0] = "zero"
    assert list(log) == [(INT64_MIN, "lo"), (0, "zero"), (INT64_MAX, "hi")]


def test_append_index_objects(log):
    log.append(Index(7), "a")
    log[Index(8)] = "b"
    log.append("c", ts=Index(9))
    assert list(log) == [(7, "a"), (8, "b"), (9, "c")]


def test_append_numpy_scalar(log):
    np = pytest.importorskip("numpy")
    log.append(np.int64(5), "a")
    log[np.int32(6)] = "b"
    log.append("c", ts=np.uint8(7))
    assert list(log) == [(5, "a"), (6, "b"), (7, "c")]
    with pytest.raises(TypeError):
        log.append(np.float64(5.0), "x")
    with pytest.raises(OverflowError):
        log.append(np.uint64(2**63), "x")


@pytest.mark.parametrize("bad,exc", BAD_TS)
def test_append_bad_timestamp(log, bad, exc):
    o = Obj("x")
    base = sys.getrefcount(o)
    with pytest.raises(exc):
        log.append(bad, o)
    if bad is not None:  # append(obj, ts=None) means "auto timestamp"
        with pytest.raises(exc):
            log.append(o, ts=bad)
    with pytest.raises(exc):
        log[bad] = o
    assert len(log) == 0
    assert sys.getrefcount(o) == base


def test_append_arity_errors(log):
    with pytest.raises(TypeError):
        log.append()
    with pytest.raises(TypeError):
        log.append(1, "a", "b")
    with pytest.raises(TypeError):
        log.append(1, "a", ts=2)
    with pytest.raises(TypeError):
        log.append("a", bogus=1)
    assert len(log) == 0


def test_setitem_with_slice_rejected(log):
    with pytest.raises((TypeError, ValueError)):
        log[1:2] = "x"
    assert len(log) == 0


def test_equal_timestamps_keep_insertion_order(log):
    objs = [Obj(i) for i in range(50)]
    for o in objs:
        log.append(7, o)
    assert log.at(7) == objs
    assert all(a is b for a, b in zip(log.at(7), objs))


# ----------------------------------------------------------------- extend forms


def test_extend_pairs_list(log):
    objs = [Obj(i) for i in range(5)]
    log.extend([(i, o) for i, o in enumerate(objs)])
    assert list(log) == list(enumerate(objs))


def test_extend_pairs_list_of_lists(log):
    log.extend([[1, "a"], [2, "b"]])
    assert list(log) == [(1, "a"), (2, "b")]


def test_extend_pairs_generator(log):
    log.extend((i, str(i)) for i in range(100))
    assert len(log) == 100
    assert list(log)[42] == (42, "42")


def test_extend_pairs_iterator_and_tuple(log):
    log.extend(iter([(3, "c"), (1, "a")]))
    log.extend(((2, "b"),))
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_extend_columns(log):
    log.extend([3, 1, 2], ["c", "a", "b"])
    log.extend((10, 11), ("x", "y"))
    log.extend(range(20, 23), ["p", "q", "r"])
    assert [t for t, _ in log] == [1, 2, 3, 10, 11, 20, 21, 22]


def test_extend_out_of_order_and_ties(log):
    log.extend([(5, "a"), (1, "b"), (5, "c"), (1, "d"), (3, "e"), (5, "f")])
    assert list(log) == [(1, "b"), (1, "d"), (3, "e"), (5, "a"), (5, "c"), (5, "f")]


def test_extend_empty(log):
    log.extend([])
    log.extend([], [])
    log.extend(iter(()))
    assert len(log) == 0


def test_extend_mostly_ordered_hint(log):
    log.extend([(2, "b"), (1, "a")], mostly_ordered=False)
    log.extend([(3, "c")], mostly_ordered=True)
    log.extend([4], ["d"], mostly_ordered=True)
    assert [o for _, o in log] == ["a", "b", "c", "d"]


def test_extend_large_batch(log):
    n = 200_000
    log.extend(range(n), range(n))
    assert len(log) == n
    assert log.min_ts() == 0 and log.max_ts() == n - 1
    assert log.at(123_456) == [123_456]


def test_extend_extremes(log):
    log.extend([(INT64_MAX, "hi"), (INT64_MIN, "lo")])
    assert list(log) == [(INT64_MIN, "lo"), (INT64_MAX, "hi")]


def test_extend_numpy_columns(log):
    np = pytest.importorskip("numpy")
    ts = np.array([5, 1, 3, INT64_MIN, INT64_MAX], dtype=np.int64)
    objs = ["e", "a", "c", "lo", "hi"]
    log.extend(ts, objs)
    assert list(log) == [(INT64_MIN, "lo"), (1, "a"), (3, "c"), (5, "e"), (INT64_MAX, "hi")]


def test_extend_numpy_strided_and_large(log):
    np = pytest.importorskip("numpy")
    base = np.arange(0, 20_000, dtype=np.int64)
    ts = base[::2]  # non-contiguous view
    objs = list(range(len(ts)))
    log.extend(ts, objs)
    assert len(log) == 10_000
    assert log.at(2 * 4321) == [4321]
    assert [t for t, _ in log[0:10]] == [0, 2, 4, 6, 8]


def test_extend_numpy_object_column(log):
    np = pytest.importorskip("numpy")
    objs = np.array(["a", "b"], dtype=object)
    log.extend(np.array([1, 2], dtype=np.int64), objs)
    assert list(log) == [(1, "a"), (2, "b")]


def test_extend_numpy_float_column_rejected(log):
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError):
        log.extend(np.array([1.0, 2.0]), ["a", "b"])
    assert len(log) == 0


# ----------------------------------------------------------- strict validation


@pytest.mark.parametrize("bad,exc", BAD_TS)
def test_extend_strict_bad_timestamp_stores_nothing(log, bad, exc):
    log.append(0, "pre")
    objs = [Obj(i) for i in range(4)]
    bases = [sys.getrefcount(o) for o in objs]
    with pytest.raises(exc):
        log.extend([(1, objs[0]), (2, objs[1]), (bad, objs[2]), (3, objs[3])])
    with pytest.raises(exc):
        log.extend([1, 2, bad, 3], objs)
    with pytest.raises(exc):
        log.extend((t, o) for t, o in [(1, objs[0]), (bad, objs[1])])
    assert list(log) == [(0, "pre")]
    assert [sys.getrefcount(o) for o in objs] == bases


@pytest.mark.parametrize(
    "item",
    [
        (1,),
        (1, "a", "b"),
        (),
        5,
        None,
        "ab",  # a 2-item sequence whose first item is a str timestamp
        {1: "a"},
    ],
)
def test_extend_strict_malformed_item_stores_nothing(log, item):
    with pytest.raises((TypeError, ValueError)):
        log.extend([(1, "a"), item, (2, "b")])
    assert len(log) == 0
    assert list(log) == []


def test_extend_length_mismatch(log):
    with pytest.raises(ValueError):
        log.extend([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError):
        log.extend([1], ["a", "b"])
    assert len(log) == 0


def test_extend_length_mismatch_numpy(log):
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError):
        log.extend(np.arange(3, dtype=np.int64), ["a"])
    assert len(log) == 0


def test_extend_not_iterable(log):
    with pytest.raises(TypeError):
        log.extend(5)
    with pytest.raises(TypeError):
        log.extend(None)
    assert len(log) == 0


def test_extend_generator_raising_midway_stores_nothing(log):
    def gen():
        yield (1, "a")
        yield (2, "b")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        log.extend(gen())
    assert len(log) == 0


def test_extend_strict_does_not_leak_on_failure(log):
    o = Obj("leak")
    base = sys.getrefcount(o)
    for _ in range(2000):
        with pytest.raises(TypeError):
            log.extend([(1, o), (2, o), (1.5, o)])
        with pytest.raises(ValueError):
            log.extend([1, 2], [o])
    assert sys.getrefcount(o) == base
    assert len(log) == 0


def test_extend_insert_on_error_skips_bad_items(log):
    a, b, c = Obj("a"), Obj("b"), Obj("c")
    bad = Obj("bad")
    base_bad = sys.getrefcount(bad)
    log.extend(
        [(1, a), (1.5, bad), (2, b), ("x", bad), (True, bad), (None, bad), (2**64, bad), (3, c)],
        insert_on_error=True,
    )
    assert list(log) == [(1, a), (2, b), (3, c)]
    assert sys.getrefcount(bad) == base_bad


@pytest.mark.parametrize("dtype", ["uint64", "int64", "uint32"])
def test_extend_numpy_column_insert_on_error_skips_what_does_not_fit(log, dtype):
    # A uint64 column with a value above 2**63 - 1: skipped with insert_on_error,
    # like the same value in a list column; strict mode raises and stores nothing.
    np = pytest.importorskip("numpy")
    vals = [6, 2**63, 2, 2**63 - 1] if dtype == "uint64" else [6, 1, 2, 3]
    ts = np.array(vals, dtype=dtype)
    objs = [Obj(str(v)) for v in vals]
    bases = [sys.getrefcount(o) for o in objs]
    if dtype == "uint64":
        with pytest.raises(OverflowError):
            log.extend(ts, objs)
        assert len(log) == 0
        log.extend(ts, objs, insert_on_error=True)
        assert list(log) == [(2, objs[2]), (6, objs[0]), (2**63 - 1, objs[3])]
        assert sys.getrefcount(objs[1]) == bases[1]
        assert list(log) == list(_list_log(vals, objs))
    else:
        log.extend(ts, objs, insert_on_error=True)
        assert len(log) == 4


def _list_log(vals, objs):
    # The same input as a list column gives the same result.
    from timelog import Timelog
    with Timelog(maintenance="disabled") as other:
        other.extend(vals, objs, insert_on_error=True)
        return list(other)


def test_extend_insert_on_error_false_is_strict(log):
    with pytest.raises(TypeError):
        log.extend([(1, "a"), (1.5, "b")], insert_on_error=False)
    assert len(log) == 0


def test_extend_unknown_kwarg(log):
    with pytest.raises(TypeError):
        log.extend([(1, "a")], bogus=True)
    assert len(log) == 0


# ------------------------------------------------------------ numpy dtypes


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
def test_extend_numpy_integer_dtypes(log, dtype):
    np = pytest.importorskip("numpy")
    ts = np.array([3, 1, 2], dtype=dtype)
    log.extend(ts, ["c", "a", "b"])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_extend_numpy_uint64_overflow_stores_nothing(log):
    np = pytest.importorskip("numpy")
    ts = np.array([1, 2**63, 3], dtype=np.uint64)
    with pytest.raises(OverflowError):
        log.extend(ts, ["a", "b", "c"])
    assert len(log) == 0


def test_extend_numpy_bool_array_rejected(log):
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError):
        log.extend(np.array([True, False]), ["a", "b"])
    assert len(log) == 0


def test_extend_numpy_big_endian(log):
    np = pytest.importorskip("numpy")
    ts = np.array([2, 1, INT64_MIN, INT64_MAX], dtype=">i8")
    log.extend(ts, ["b", "a", "lo", "hi"])
    assert list(log) == [(INT64_MIN, "lo"), (1, "a"), (2, "b"), (INT64_MAX, "hi")]


def test_extend_numpy_2d_rejected(log):
    np = pytest.importorskip("numpy")
    with pytest.raises((TypeError, ValueError)):
        log.extend(np.zeros((2, 2), dtype=np.int64), ["a", "b"])
    assert len(log) == 0


def test_extend_numpy_pairs_of_scalars(log):
    np = pytest.importorskip("numpy")
    log.extend([(np.int64(2), "b"), (np.int32(1), "a")])
    assert list(log) == [(1, "a"), (2, "b")]


def test_extend_numpy_readonly_and_reversed_view(log):
    np = pytest.importorskip("numpy")
    a = np.arange(10, dtype=np.int64)
    a.flags.writeable = False
    log.extend(a[::-1], list(range(10)))
    assert [t for t, _ in log] == list(range(10))
    assert log.at(0) == [9]


# ---------------------------------------------------- exotic input objects


def test_extend_index_objects(log):
    log.extend([(Index(2), "b"), (Index(1), "a")])
    log.extend([Index(3)], ["c"])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_index_raising_stores_nothing(log):
    class Bad:
        def __index__(self):
            raise RuntimeError("no index")

    with pytest.raises(RuntimeError):
        log.extend([(1, "a"), (Bad(), "b")])
    with pytest.raises(RuntimeError):
        log.append(Bad(), "x")
    assert len(log) == 0


def test_index_with_side_effects_on_the_log(log):
    class Sneaky:
        def __init__(self, v):
            self.v = v

        def __index__(self):
            log.append(-1, "sneaked")  # re-enters the log during validation
            return self.v

    try:
        log.extend([(1, "a"), (Sneaky(2), "b"), (3, "c")])
    except Exception:  # refusing re-entry is fine, crashing or losing records is not
        pass
    rows = list(log)
    assert [t for t, _ in rows] == sorted(t for t, _ in rows)
    assert set(rows) <= {(-1, "sneaked"), (1, "a"), (2, "b"), (3, "c")}
    assert len(log) == len(rows)


def test_len_raising_sequence(log):
    class Weird:
        def __len__(self):
            raise RuntimeError("len")

        def __iter__(self):
            return iter([(1, "a")])

        def __getitem__(self, i):
            return [(1, "a")][i]

    try:
        log.extend(Weird())
    except RuntimeError:
        assert len(log) == 0
    else:
        assert list(log) == [(1, "a")]


def test_failed_extend_cleanup_runs_del_that_reenters(log):
    appended = []

    class Reenter:
        def __del__(self):
            try:
                log.append(-5, "from-del")
                appended.append(1)
            except Exception:
                pass

    def gen():
        for i in range(10):
            yield (i, Reenter())
        yield (1.5, "bad")

    with pytest.raises(TypeError):
        log.extend(gen())
    import gc

    gc.collect()
    assert len(appended) == 10
    assert list(log) == [(-5, "from-del")] * 10
