"""Copies, pickling and timelog files: round trips, errors, atomicity, corruption."""

import copy
import gc
import multiprocessing
import operator
import os
import pickle
import struct
import sys
import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import timelog
from timelog import Timelog, TimelogError, _persist

try:
    import strategies as tst
    from model import INT64_MAX, INT64_MIN, examples, run_maintenance, small_memtable_bytes, small_page_bytes
except ImportError:  # pragma: no cover
    from tests import strategies as tst
    from tests.model import INT64_MAX, INT64_MIN, examples, run_maintenance, small_memtable_bytes, small_page_bytes


class Payload:
    """A picklable payload compared by value."""

    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return type(other) is Payload and other.n == self.n

    def __hash__(self):
        return hash(self.n)

    def __repr__(self):
        return f"Payload({self.n})"


class Unpicklable:
    def __reduce__(self):
        raise TypeError("this payload refuses to be pickled")


class LogSubclass(Timelog):
    pass


def _mixed_log(**options):
    """Records spread over L1, L0, sealed runs and the memtable, with deletes and ties."""
    opts = dict(maintenance="disabled", busy_policy="silent",
                memtable_max_bytes=small_memtable_bytes(), target_page_bytes=small_page_bytes(),
                window_size=100)
    opts.update(options)
    log = Timelog(**opts)
    log.extend((t, Payload(t)) for t in range(0, 600, 2))
    log.extend([(5, "tie-a"), (5, "tie-b"), (5, "tie-c")])
    run_maintenance(log)                               # L1
    log.extend((t, Payload(t)) for t in range(1, 300, 2))
    log.flush()                                        # L0
    log.extend([(INT64_MIN, "min"), (INT64_MAX, "max"), (-7, "neg"), (5, "tie-d")])
    log.delete(100, 200)
    log.delete(7)
    log.extend((t, f"late-{t}") for t in range(150, 160))   # after the delete: visible
    return log


def _rows(log):
    return list(log)


def _close_all(*logs):
    for log in logs:
        log.close()


def _open_logs():
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Timelog) and not o.closed)


# ------------------------------------------------------------------ pickling


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip_every_protocol(protocol):
    log = _mixed_log()
    rows = _rows(log)
    assert any(t == INT64_MIN for t, _ in rows) and any(t == INT64_MAX for t, _ in rows)
    back = pickle.loads(pickle.dumps(log, protocol=protocol))
    assert type(back) is Timelog and not back.closed
    assert _rows(back) == rows
    assert [o for t, o in back if t == 5] == ["tie-a", "tie-b", "tie-c", Payload(5), "tie-d"]
    assert len(back) == len(log)
    _close_all(back, log)


def test_deleted_records_are_not_written():
    log = Timelog(maintenance="disabled")
    log.extend((t, "x" * 1000 + str(t)) for t in range(1000))
    small = len(pickle.dumps(log))
    log.delete(0, 990)
    assert len(pickle.dumps(log)) < small / 50
    back = pickle.loads(pickle.dumps(log))
    assert [t for t, _ in back] == list(range(990, 1000))
    assert back.stats()["storage"]["tombstone_count"] == 0
    _close_all(back, log)


def test_pickle_protocol5_column_is_out_of_band():
    log = Timelog(maintenance="disabled")
    log.extend(range(10_000), [i % 7 for i in range(10_000)])
    buffers = []
    data = pickle.dumps(log, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1
    raw = buffers[0].raw()
    assert raw.nbytes == 80_000
    assert struct.unpack_from("<3q", raw) == (0, 1, 2)     # little-endian int64
    assert len(data) < 80_000                              # the column is not in-band
    back = pickle.loads(data, buffers=[bytes(raw)])        # any bytes-like will do
    assert _rows(back) == _rows(log)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)                                 # the buffer is required
    _close_all(back, log)


def test_pickle_protocol5_in_band_without_callback():
    log = Timelog(maintenance="disabled")
    log.extend(range(1000), range(1000))
    data = pickle.dumps(log, protocol=5)
    assert len(data) > 8000
    back = pickle.loads(data)
    assert _rows(back) == _rows(log)
    _close_all(back, log)


@pytest.mark.parametrize("options", [
    dict(maintenance="disabled"),
    dict(maintenance="background", busy_policy="flush", time_unit="us"),
    dict(time_unit="ns", busy_policy="silent", memtable_max_bytes=65536, sealed_max_runs=2,
         sealed_wait_ms=0, maintenance_wakeup_ms=5, target_page_bytes=4096, max_delta_segments=3,
         window_size=1000, window_origin=-17, delete_debt_threshold=0.25, drain_batch_limit=9,
         compaction={"target_bytes": 1 << 20, "max_inputs": 4}, adaptive={"alpha": 0.5},
         min_ts=-100, mostly_ordered_default=False),
])
def test_options_preserved(options):
    log = Timelog(**options)
    log.extend([(1, "a"), (-5, "b")])
    for back in (pickle.loads(pickle.dumps(log)), copy.copy(log), copy.deepcopy(log)):
        assert back.time_unit == log.time_unit
        assert back.busy_policy == log.busy_policy
        assert back.maintenance_mode == log.maintenance_mode
        assert _rows(back) == _rows(log)
        back.close()                                       # reopen() keeps the options
        back.reopen()
        assert back.time_unit == log.time_unit and back.busy_policy == log.busy_policy
        if "min_ts" in options:
            with pytest.raises(ValueError, match="below min_ts"):
                back.append(-101, "too old")
        back.close()
    log.close()


def test_numpy_option_values_are_written_as_plain_ints(tmp_path):
    np = pytest.importorskip("numpy")
    log = Timelog(maintenance="disabled", memtable_max_bytes=np.int64(65536), window_origin=np.int32(3))
    log.append(1, "a")
    data = pickle.dumps(log, protocol=2)
    assert b"numpy" not in data
    path = tmp_path / "np.tlog"
    log.save(path)
    back = Timelog.load(path)
    assert _rows(back) == [(1, "a")]
    _close_all(back, log)


def test_background_maintenance_round_trip():
    log = Timelog(maintenance="background", busy_policy="flush", memtable_max_bytes=small_memtable_bytes())
    log.extend((t % 997, Payload(t)) for t in range(20_000))
    log.delete(0, 10)
    back = pickle.loads(pickle.dumps(log))
    assert back.maintenance_mode == "background"
    assert _rows(back) == _rows(log)
    back.append(5, "still writable")
    assert back.at(5)[-1] == "still writable"
    _close_all(back, log)


def test_restored_log_is_fully_usable():
    log = _mixed_log()
    back = pickle.loads(pickle.dumps(log))
    back.delete(0, 50)
    log.delete(0, 50)
    back.append(3, "new")
    log.append(3, "new")
    run_maintenance(back)
    assert _rows(back) == _rows(log)
    assert back.min_ts() == log.min_ts() and back.max_ts() == log.max_ts()
    _close_all(back, log)


def test_empty_log_round_trips(tmp_path):
    log = Timelog(maintenance="disabled")
    for back in (pickle.loads(pickle.dumps(log)), copy.copy(log), copy.deepcopy(log)):
        assert len(back) == 0 and not back.closed
        back.close()
    log.save(tmp_path / "empty.tlog")
    back = Timelog.load(tmp_path / "empty.tlog")
    assert len(back) == 0
    _close_all(back, log)


def test_closed_log_cannot_be_pickled_copied_or_saved(tmp_path):
    log = Timelog()
    log.close()
    for fn in (pickle.dumps, copy.copy, copy.deepcopy, lambda x: x.save(tmp_path / "c.tlog")):
        with pytest.raises(TimelogError, match="closed Timelog"):
            fn(log)
    assert not (tmp_path / "c.tlog").exists()


def test_iterators_and_spans_cannot_be_pickled_or_copied():
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    log.flush()
    spans = log.views()
    span = next(log.views())
    view = span.objects()
    cases = [(log.all(), "TimelogIter"), (spans, "PageSpanIter"), (span, "PageSpan"),
             (view, "PageSpanObjectsView")]
    for obj, name in cases:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(TypeError, match=f"cannot pickle or copy a {name}"):
                pickle.dumps(obj, protocol=protocol)
        with pytest.raises(TypeError, match=name):
            copy.copy(obj)
        with pytest.raises(TypeError, match=name):
            copy.deepcopy(obj)
    for obj, _ in cases:
        if hasattr(obj, "close"):
            obj.close()
    log.close()


def test_subclass_and_instance_dict_survive():
    log = LogSubclass(maintenance="disabled")
    log.label = "mine"
    log.append(1, "a")
    for back in (pickle.loads(pickle.dumps(log)), copy.copy(log), copy.deepcopy(log)):
        assert type(back) is LogSubclass and back.label == "mine"
        assert _rows(back) == [(1, "a")]
        back.close()
    log.close()


def test_payload_referring_to_its_log():
    log = Timelog(maintenance="disabled")
    holder = Payload(0)
    holder.log = log
    log.append(1, holder)
    back = pickle.loads(pickle.dumps(log))
    assert back.at(1)[0].log is back
    deep = copy.deepcopy(log)
    assert deep.at(1)[0].log is deep and deep.at(1)[0] is not holder
    _close_all(back, deep, log)


class NoDeep:
    def __deepcopy__(self, memo):
        raise RuntimeError("no deep copies")


@pytest.mark.parametrize("payload,operation,error,match", [
    (Unpicklable, pickle.dumps, TypeError, "refuses"),
    (NoDeep, copy.deepcopy, RuntimeError, "no deep copies"),
])
def test_failing_payload_raises_and_leaves_no_open_log(payload, operation, error, match):
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, payload())])
    before = _open_logs()
    with pytest.raises(error, match=match):
        operation(log)
    assert _open_logs() == before
    log.close()


def test_failed_unpickle_leaves_no_open_log():
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    _, args, state, _, _, setter = log.__reduce_ex__(5)
    col, objs, inst = state
    before = _open_logs()
    with pytest.raises(ValueError, match="length mismatch"):
        setter(_persist._new_v1(*args), (bytes(col), objs + ["extra"], inst))
    with pytest.raises(ValueError, match="multiple of 8"):
        setter(_persist._new_v1(*args), (bytes(col)[:-1], objs, inst))
    assert _open_logs() == before
    with pytest.raises(TypeError, match="Timelog class"):
        _persist._new_v1(dict, {})
    log.close()


# ------------------------------------------------------------------ copies


def test_copy_shares_payloads_and_is_independent():
    log = _mixed_log()
    twin = copy.copy(log)
    assert _rows(twin) == _rows(log)
    for (t1, o1), (t2, o2) in zip(twin, log):
        assert t1 == t2 and o1 is o2
    twin.append(1, "only in twin")
    log.delete(None, None)
    assert len(log) == 0 and twin.at(1)[-1] == "only in twin"
    _close_all(twin, log)


def test_deepcopy_copies_payloads_and_honours_memo():
    shared = Payload("shared")
    log = Timelog(maintenance="disabled")
    log.extend([(1, shared), (2, shared), (3, [shared])])
    deep = copy.deepcopy(log)
    a, b, c = (o for _, o in deep)
    assert a == shared and a is not shared
    assert a is b and c[0] is a                 # one object stays one object
    memo = {}
    outer = copy.deepcopy([log, shared], memo)
    assert outer[0].at(1)[0] is outer[1]            # the same memo across the container
    assert copy.deepcopy(log, memo) is outer[0]  # a log already in the memo is reused
    _close_all(deep, outer[0], log)


# ------------------------------------------------------------------ reference counts


def test_refcounts_copy_pickle_and_load(tmp_path):
    p = Payload("counted")
    base = sys.getrefcount(p)
    log = Timelog(maintenance="disabled")
    log.extend([(1, p), (2, p), (3, p)])
    assert sys.getrefcount(p) - base == 3
    twin = copy.copy(log)
    assert sys.getrefcount(p) - base == 6
    twin.close()
    assert sys.getrefcount(p) - base == 3
    pickle.dumps(log)
    log.save(tmp_path / "r.tlog")
    assert sys.getrefcount(p) - base == 3          # nothing kept by pickling or saving

    for back in (pickle.loads(pickle.dumps(log)), Timelog.load(tmp_path / "r.tlog")):
        objs = [o for _, o in back]
        assert objs[0] is objs[1] is objs[2]       # one object, stored three times
        q = objs[0]
        del objs
        # the log's 3 references + q + getrefcount's argument: nothing else owns it
        assert sys.getrefcount(q) == 5
        back.close()
        assert sys.getrefcount(q) == 2
    log.close()
    assert sys.getrefcount(p) == base


# ------------------------------------------------------------------ files


def test_save_load_round_trip_mixed_layers(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 37)        # many blocks
    log = _mixed_log()
    path = tmp_path / "mixed.tlog"
    log.save(path)
    back = Timelog.load(path)
    assert _rows(back) == _rows(log)
    assert back.stats()["storage"]["tombstone_count"] == 0
    _close_all(back, log)


def test_file_keeps_payloads_shared_within_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 4)
    shared = Payload("s")
    log = Timelog(maintenance="disabled")
    log.extend((t, shared) for t in range(9))
    log.save(tmp_path / "s.tlog")
    back = Timelog.load(tmp_path / "s.tlog")
    objs = [o for _, o in back]
    assert all(o == shared and o is not shared for o in objs)
    # each block of BLOCK_RECORDS records is one pickle: shared inside it, not across
    assert [len({id(o) for o in objs[i:i + 4]}) for i in (0, 4, 8)] == [1, 1, 1]
    assert len({id(o) for o in objs}) == 3
    _close_all(back, log)


class SpyLog(Timelog):
    """Records the block sizes save() asks for."""

    def _next_columns(self, it, n):
        self.asked.append(n)
        return super()._next_columns(it, n)


def test_save_streams_in_bounded_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 3)
    log = SpyLog(maintenance="disabled")
    log.asked = []
    log.extend((t, t) for t in range(10))
    log.save(tmp_path / "b.tlog")
    assert log.asked == [3, 3, 3, 1]            # never the whole log at once
    back = Timelog.load(tmp_path / "b.tlog")
    assert _rows(back) == _rows(log)
    _close_all(back, log)


def test_save_writes_the_snapshot_taken_when_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 2)
    log = Timelog(maintenance="disabled")

    class Writer:
        def __reduce__(self):                    # runs while save() is in block 0
            log.append(3, "written during save")
            log.delete(4)
            return (str, ("w",))

    log.extend([(1, Writer()), (2, "b"), (4, "d"), (5, "e")])
    log.save(tmp_path / "s.tlog")
    back = Timelog.load(tmp_path / "s.tlog")
    assert _rows(back) == [(1, "w"), (2, "b"), (4, "d"), (5, "e")]
    assert [t for t, _ in log] == [1, 2, 3, 5]
    _close_all(back, log)


def test_save_accepts_str_bytes_and_pathlike(tmp_path):
    log = Timelog(maintenance="disabled")
    log.append(1, "a")
    for p in (str(tmp_path / "a.tlog"), os.fsencode(tmp_path / "b.tlog"), tmp_path / "c.tlog"):
        log.save(p)
        back = Timelog.load(p)
        assert _rows(back) == [(1, "a")]
        back.close()
    log.close()


def test_load_overrides(tmp_path):
    log = Timelog(maintenance="disabled", time_unit="us", busy_policy="silent")
    log.extend((t, t) for t in range(-5, 5))
    path = tmp_path / "o.tlog"
    log.save(path)
    back = Timelog.load(path, busy_policy="flush", maintenance="background")
    assert (back.time_unit, back.busy_policy, back.maintenance_mode) == ("us", "flush", "background")
    assert _rows(back) == _rows(log)
    back.close()
    back = Timelog.load(path, min_ts=0)             # min_ts drops the records below it
    assert [t for t, _ in back] == list(range(0, 5))
    with pytest.raises(ValueError, match="below min_ts"):
        back.append(-1, "old")
    back.close()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Timelog.load(path, colour="red")
    with pytest.raises(ValueError, match="time_unit"):
        Timelog.load(path, time_unit="fortnight")
    sub = LogSubclass.load(path)
    assert type(sub) is LogSubclass
    _close_all(sub, log)


def test_load_into_small_memtable_under_backpressure(tmp_path):
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(100_000))
    path = tmp_path / "big.tlog"
    log.save(path)
    back = Timelog.load(path, memtable_max_bytes=small_memtable_bytes(), sealed_max_runs=1,
                        busy_policy="raise")
    assert len(back) == 100_000
    back.append(100_000, "no busy error pending")
    _close_all(back, log)


def test_save_replaces_atomically_and_cleans_up_on_failure(tmp_path):
    path = tmp_path / "keep.tlog"
    good = Timelog(maintenance="disabled")
    good.extend((t, t) for t in range(100))
    good.save(path)
    before = path.read_bytes()

    bad = Timelog(maintenance="disabled")
    bad.extend((t, t) for t in range(100_000))
    bad.append(50_000, Unpicklable())                       # fails in the middle
    with pytest.raises(TypeError, match="refuses"):
        bad.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tlog"]

    with pytest.raises(IsADirectoryError):
        good.save(tmp_path)
    with pytest.raises(FileNotFoundError):
        good.save(tmp_path / "no-such-dir" / "x.tlog")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tlog"]

    bad.delete(50_000)
    bad.save(path)                                          # now it replaces the file
    back = Timelog.load(path)
    assert len(back) == 100_000 - 1
    _close_all(back, bad, good)


def test_save_failure_from_io_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.tlog"
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.save(path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        log.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tlog"]
    log.close()


def test_save_while_payload_closes_the_log(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 1)
    log = Timelog(maintenance="disabled")

    class Closer:
        def __reduce__(self):
            log.close()
            return (str, ("x",))

    log.extend([(1, Closer()), (2, "b")])
    with pytest.raises(TimelogError, match="closed"):
        log.save(tmp_path / "x.tlog")          # the next block cannot be read any more
    assert [p.name for p in tmp_path.iterdir()] == []


def test_load_errors(tmp_path):
    with pytest.raises(TimelogError, match="no such file"):
        Timelog.load(tmp_path / "missing.tlog")
    with pytest.raises(TimelogError, match="is a directory"):
        Timelog.load(tmp_path)
    empty = tmp_path / "empty.tlog"
    empty.write_bytes(b"")
    with pytest.raises(TimelogError, match="empty file"):
        Timelog.load(empty)
    if os.path.exists("/dev/null"):
        with pytest.raises(TimelogError, match="not a regular file"):
            Timelog.load("/dev/null")
    junk = tmp_path / "junk.tlog"
    junk.write_bytes(b"PK\x03\x04 this is a zip file")
    with pytest.raises(TimelogError, match="bad magic"):
        Timelog.load(junk)
    junk.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(TimelogError, match="not a timelog file"):
        Timelog.load(junk)

    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    good = tmp_path / "good.tlog"
    log.save(good)
    data = bytearray(good.read_bytes())

    newer = bytearray(data)
    struct.pack_into("<H", newer, 8, 2)
    (tmp_path / "newer.tlog").write_bytes(newer)
    with pytest.raises(TimelogError, match="version 2 is newer"):
        Timelog.load(tmp_path / "newer.tlog")

    (tmp_path / "trailing.tlog").write_bytes(bytes(data) + b"\0")
    with pytest.raises(TimelogError, match="after the end marker"):
        Timelog.load(tmp_path / "trailing.tlog")

    (tmp_path / "short.tlog").write_bytes(bytes(data[:-1]))
    with pytest.raises(TimelogError, match="truncated"):
        Timelog.load(tmp_path / "short.tlog")

    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x40
    (tmp_path / "flipped.tlog").write_bytes(flipped)
    with pytest.raises(TimelogError, match="corrupted|unexpected|invalid|truncated"):
        Timelog.load(tmp_path / "flipped.tlog")
    log.close()


def _rewrite(data, fn):
    """Re-assemble a v1 file after ``fn(kind, payload) -> payload`` (checksums recomputed)."""
    out = bytearray(data[:_persist._HEADER_SIZE])
    pos = _persist._HEADER_SIZE
    while pos < len(data):
        kind, length = _persist._SECTION.unpack_from(data, pos)
        payload = fn(kind, bytes(data[pos + 16:pos + 16 + length]))
        out += _persist._section_header(kind, len(payload)) + payload
        out += struct.pack("<I", zlib.crc32(payload))
        pos += 16 + length + 4
    return bytes(out)


def test_load_rejects_checksummed_but_inconsistent_files(tmp_path):
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    path = tmp_path / "f.tlog"
    log.save(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.tlog"

    def check(fn, match):
        bad.write_bytes(_rewrite(data, fn))
        before = _open_logs()
        with pytest.raises(TimelogError, match=match):
            Timelog.load(bad)
        assert _open_logs() == before

    check(lambda k, p: b'{"colour": "red"}' if k == b"OPTS" else p, "unknown option")
    check(lambda k, p: b"[1, 2]" if k == b"OPTS" else p, "not a JSON object")
    check(lambda k, p: b"\xff" if k == b"OPTS" else p, "not valid JSON")
    check(lambda k, p: b'{"time_unit": "fortnight"}' if k == b"OPTS" else p, "options are not accepted")
    check(lambda k, p: pickle.dumps([1, 2, 3], protocol=5) if k == b"OBJS" else p, "does not hold")
    check(lambda k, p: p + b"\0" if k == b"OBJS" else p, "after its pickle")
    check(lambda k, p: b"\x80\x05cno_such_module\nthing\n." if k == b"OBJS" else p, "cannot unpickle")
    check(lambda k, p: struct.pack("<QQ", 2, 9) if k == b"END " else p, "end marker says")
    check(lambda k, p: p[:8] if k == b"TIME" else p, "does not hold|invalid TIME")
    log.close()


def test_unknown_header_flags_are_rejected(tmp_path):
    log = Timelog(maintenance="disabled")
    path = tmp_path / "f.tlog"
    log.save(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 10, 1)
    struct.pack_into("<I", data, 24, zlib.crc32(bytes(data[:24])))
    path.write_bytes(data)
    with pytest.raises(TimelogError, match="unsupported header flags"):
        Timelog.load(path)
    log.close()


def test_file_layout_matches_the_documented_format(tmp_path, monkeypatch):
    monkeypatch.setattr(_persist, "BLOCK_RECORDS", 2)
    log = Timelog(maintenance="disabled", time_unit="us")
    log.extend([(3, "c"), (1, "a"), (2, "b")])
    path = tmp_path / "f.tlog"
    log.save(path)
    data = path.read_bytes()
    magic, version, flags, block, count, crc = struct.unpack_from("<8sHHIQI", data)
    assert (magic, version, flags, block, count) == (b"\x89TLG\r\n\x1a\n", 1, 0, 2, 3)
    assert crc == zlib.crc32(data[:24])
    pos, kinds = 28, []
    while pos < len(data):
        kind, length, hcrc = struct.unpack_from("<4sQI", data, pos)
        assert hcrc == zlib.crc32(data[pos:pos + 12])
        payload = data[pos + 16:pos + 16 + length]
        assert struct.unpack_from("<I", data, pos + 16 + length)[0] == zlib.crc32(payload)
        kinds.append((kind, payload))
        pos += 20 + length
    assert [k for k, _ in kinds] == [b"OPTS", b"TIME", b"OBJS", b"TIME", b"OBJS", b"END "]
    assert kinds[0][1] == b'{"maintenance":"disabled","time_unit":"us"}'
    assert kinds[1][1] == struct.pack("<2q", 1, 2) and kinds[3][1] == struct.pack("<q", 3)
    assert kinds[5][1] == struct.pack("<QQ", 3, 2)
    assert pickle.loads(kinds[2][1]) == ["a", "b"] and pickle.loads(kinds[4][1]) == ["c"]
    log.close()


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """A saved file of 4 blocks: a few hundred bytes, every section kind."""
    old = _persist.BLOCK_RECORDS
    _persist.BLOCK_RECORDS = 3
    try:
        log = Timelog(maintenance="disabled", time_unit="us")
        log.extend([(INT64_MIN, "min"), (0, Payload(0)), (0, Payload(1)), (5, "x" * 20),
                    (6, [1, 2]), (7, {"k": b"v"}), (8, 8.5), (INT64_MAX, None)])
        rows = _rows(log)
        path = tmp_path_factory.mktemp("fuzz") / "small.tlog"
        log.save(path)
        log.close()
    finally:
        _persist.BLOCK_RECORDS = old
    return path.read_bytes(), rows


def _load_bytes(tmp_path, data, name="cut.tlog"):
    p = tmp_path / name
    p.write_bytes(data)
    return Timelog.load(p)


def test_every_truncation_is_detected(small_file, tmp_path):
    data, rows = small_file
    back = _load_bytes(tmp_path, data)
    assert _rows(back) == rows
    back.close()
    before = _open_logs()
    for cut in range(len(data)):
        with pytest.raises(TimelogError):
            _load_bytes(tmp_path, data[:cut])
    assert _open_logs() == before


def test_every_single_byte_flip_is_detected(small_file, tmp_path):
    data, rows = small_file
    before = _open_logs()
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(TimelogError):
                _load_bytes(tmp_path, bytes(bad))
    assert _open_logs() == before


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_truncate_and_flip(small_file, tmp_path, data):
    raw, rows = small_file
    cut, flips = data.draw(tst.corruptions(len(raw)), label="cut, flips")
    bad = bytearray(raw[:cut])
    for i, mask in flips:
        if i < len(bad):
            bad[i] ^= mask
    bad = bytes(bad)
    try:
        back = _load_bytes(tmp_path, bad, "fuzz.tlog")
    except TimelogError:
        return
    # only an unchanged file may load, and then completely
    assert bad == raw
    assert _rows(back) == rows
    back.close()


# ------------------------------------------------------------------ processes


def test_spawn_pool_receives_a_pickled_log():
    log = Timelog(maintenance="background", busy_policy="flush")
    log.extend((t, f"v{t}") for t in range(1000))
    log.delete(0, 500)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        # builtins as the task functions: the children only import timelog
        where = pool.apply(eval, ("__import__('timelog').__file__",))
        sizes = pool.map(len, [log, log])
        rows = pool.apply(list, (log,))
        last = pool.apply(operator.methodcaller("at", 999), (log,))
    assert os.path.realpath(where) == os.path.realpath(timelog.__file__)
    assert sizes == [500, 500]
    assert rows == _rows(log)
    assert last == ["v999"]
    log.close()


def test_byte_swapping_path_round_trips(tmp_path, monkeypatch):
    # Big-endian hosts convert the column to and from little-endian; on this host,
    # pretending to be big-endian runs that code: both directions must be inverses.
    log = Timelog(maintenance="disabled")
    log.extend([(INT64_MIN, "min"), (-2, "neg"), (2**40 + 3, "big"), (INT64_MAX, "max")])
    rows = _rows(log)
    monkeypatch.setattr(_persist, "_NATIVE_IS_LE", False)
    for protocol in (2, 5):
        back = pickle.loads(pickle.dumps(log, protocol=protocol))
        assert _rows(back) == rows
        back.close()
    log.save(tmp_path / "swapped.tlog")
    back = Timelog.load(tmp_path / "swapped.tlog")
    assert _rows(back) == rows
    back.close()
    monkeypatch.undo()
    data = (tmp_path / "swapped.tlog").read_bytes()
    assert struct.pack(">q", -2) in data          # the pretend-big-endian save did swap the column
    log.close()
