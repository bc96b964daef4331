"""Construction, options, presets and read-only properties."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

import timelog
from timelog import Timelog, TimelogBusyError, TimelogError

try:
    from model import Obj
except ImportError:  # pragma: no cover
    from tests.model import Obj


def test_public_names():
    for name in (
        "Timelog",
        "TimelogError",
        "TimelogBusyError",
        "TimelogIter",
        "PageSpan",
        "PageSpanIter",
        "PageSpanObjectsView",
        "__version__",
    ):
        assert hasattr(timelog, name), name
    assert isinstance(timelog.__version__, str) and timelog.__version__


def test_error_hierarchy():
    assert issubclass(TimelogError, Exception)
    assert issubclass(TimelogBusyError, TimelogError)


def test_defaults():
    with Timelog() as log:
        assert log.closed is False
        assert log.time_unit == "ms"
        assert log.maintenance_mode == "background"
        assert log.busy_policy == "raise"
        assert log.retired_queue_len == 0
        assert log.alloc_failures == 0
        assert len(log) == 0


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_time_unit_values_and_auto_timestamps(unit):
    div = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    with Timelog(time_unit=unit, maintenance="disabled") as log:
        assert log.time_unit == unit
        o = Obj(1)
        before = time.time_ns() // div
        log.append(o)
        after = time.time_ns() // div
        ts = log.min_ts()
        assert before <= ts <= after
        assert log.at(ts) == [o]


@pytest.mark.parametrize("mode", ["background", "disabled"])
def test_maintenance_values(mode):
    with Timelog(maintenance=mode) as log:
        assert log.maintenance_mode == mode


@pytest.mark.parametrize("policy", ["raise", "silent", "flush"])
def test_busy_policy_values(policy):
    with Timelog(busy_policy=policy, maintenance="disabled") as log:
        assert log.busy_policy == policy


GOOD_OPTIONS = [
    ("memtable_max_bytes", 0),
    ("memtable_max_bytes", 1 << 20),
    ("ooo_budget_bytes", 0),
    ("ooo_budget_bytes", 4096),
    ("sealed_max_runs", 0),
    ("sealed_max_runs", 1),
    ("sealed_wait_ms", 0),
    ("sealed_wait_ms", 500),
    ("maintenance_wakeup_ms", 0),
    ("maintenance_wakeup_ms", 10),
    ("target_page_bytes", 0),
    ("target_page_bytes", 65536),
    ("max_delta_segments", 0),
    ("max_delta_segments", 2),
    ("window_size", 1000),
    ("window_origin", 0),
    ("window_origin", -12345),
    ("delete_debt_threshold", 0.0),
    ("delete_debt_threshold", 0.5),
    ("drain_batch_limit", 0),
    ("drain_batch_limit", 7),
    ("compaction", None),
    ("compaction", {}),
    ("compaction", {"target_bytes": 1 << 20, "max_inputs": 4, "max_windows": 0}),
    ("adaptive", None),
    ("adaptive", {}),
    ("adaptive", {"target_records": 10000}),
    ("min_ts", None),
    ("min_ts", 0),
    ("min_ts", -(2**63)),
    ("mostly_ordered_default", True),
    ("mostly_ordered_default", False),
]


@pytest.mark.parametrize("name,value", GOOD_OPTIONS)
def test_good_option_values(make_log, name, value):
    for mode in ("disabled", "background"):
        log = make_log(maintenance=mode, **{name: value})
        log.append(5, "x")
        assert log.at(5) == ["x"]


def test_adaptive_all_keys_accepted(make_log):
    adaptive = {
        "target_records": 10000,
        "min_window": 10,
        "max_window": 10**9,
        "hysteresis_pct": 10,
        "window_quantum": 10,
        "alpha": 0.5,
        "warmup_flushes": 2,
        "stale_flushes": 4,
        "failure_backoff_threshold": 3,
        "failure_backoff_pct": 50,
    }
    log = make_log(adaptive=adaptive)
    log.append(1, "a")
    assert len(log) == 1


# (option, bad value, expected exception)
BAD_VALUES = [
    ("time_unit", "xs", ValueError),
    ("time_unit", "", ValueError),
    ("time_unit", "MS", ValueError),
    ("time_unit", 5, TypeError),
    ("time_unit", None, TypeError),
    ("maintenance", "sometimes", ValueError),
    ("maintenance", 1, TypeError),
    ("busy_policy", "retry", ValueError),
    ("busy_policy", 0, TypeError),
    ("memtable_max_bytes", -1, ValueError),
    ("memtable_max_bytes", "1", TypeError),
    ("memtable_max_bytes", 1.5, TypeError),
    ("memtable_max_bytes", 2**64, (ValueError, OverflowError)),
    ("ooo_budget_bytes", -1, ValueError),
    ("ooo_budget_bytes", "x", TypeError),
    ("sealed_max_runs", -1, ValueError),
    ("sealed_max_runs", 2.0, TypeError),
    ("sealed_wait_ms", -1, ValueError),
    ("sealed_wait_ms", "100", TypeError),
    ("maintenance_wakeup_ms", -1, ValueError),
    ("maintenance_wakeup_ms", [], TypeError),
    ("target_page_bytes", -1, ValueError),
    ("target_page_bytes", 1, ValueError),  # tiny values raise
    ("target_page_bytes", "big", TypeError),
    ("max_delta_segments", -1, ValueError),
    ("max_delta_segments", 1.0, TypeError),
    ("window_size", -1, ValueError),
    ("window_size", "1h", TypeError),
    ("window_origin", "0", TypeError),
    ("window_origin", 2**64, (ValueError, OverflowError)),
    ("delete_debt_threshold", -0.5, ValueError),
    ("delete_debt_threshold", 1.5, ValueError),
    ("delete_debt_threshold", "half", TypeError),
    ("drain_batch_limit", -1, ValueError),
    ("drain_batch_limit", 1.5, TypeError),
    ("compaction", {"bogus": 1}, ValueError),
    ("compaction", {"target_bytes": -1}, ValueError),
    ("compaction", "fast", TypeError),
    ("compaction", 5, TypeError),
    ("adaptive", {"bogus": 1}, ValueError),
    ("adaptive", 5, TypeError),
    ("adaptive", "on", TypeError),
    ("min_ts", "0", TypeError),
    ("min_ts", 1.5, TypeError),
    ("min_ts", 2**63, (ValueError, OverflowError)),
]


@pytest.mark.parametrize("name,value,exc", BAD_VALUES)
def test_bad_option_values(name, value, exc):
    kwargs = {"maintenance": "disabled"}
    kwargs[name] = value
    with pytest.raises(exc) as ei:
        Timelog(**kwargs)
    assert name in str(ei.value), f"message must name the option: {ei.value!r}"


@pytest.mark.parametrize(
    "name,bad,accepted",
    [
        ("time_unit", "xs", ["s", "ms", "us", "ns"]),
        ("maintenance", "sometimes", ["background", "disabled"]),
        ("busy_policy", "retry", ["raise", "silent", "flush"]),
    ],
)
def test_bad_string_option_message_lists_accepted_values(name, bad, accepted):
    with pytest.raises(ValueError) as ei:
        Timelog(**{name: bad})
    msg = str(ei.value)
    assert name in msg
    for v in accepted:
        assert v in msg, f"{v!r} missing from {msg!r}"


def test_unknown_dict_key_message_names_key():
    with pytest.raises(ValueError) as ei:
        Timelog(maintenance="disabled", compaction={"bogus_key": 1})
    assert "bogus_key" in str(ei.value) or "compaction" in str(ei.value)


def test_unknown_kwarg_raises_type_error():
    with pytest.raises(TypeError):
        Timelog(bogus=1)
    with pytest.raises(TypeError):
        Timelog(maintenance="disabled", memtable_bytes=1024)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        Timelog("ms")


@pytest.mark.parametrize(
    "preset,mode,policy",
    [
        ("for_streaming", "background", "flush"),
        ("for_bulk_ingest", "disabled", "flush"),
        ("for_low_latency", "background", "raise"),
    ],
)
def test_presets(preset, mode, policy):
    log = getattr(Timelog, preset)()
    try:
        assert isinstance(log, Timelog)
        assert log.maintenance_mode == mode
        assert log.busy_policy == policy
        log.append(1, "a")
        assert log.at(1) == ["a"]
    finally:
        log.close()


@pytest.mark.parametrize("preset", ["for_streaming", "for_bulk_ingest", "for_low_latency"])
def test_presets_take_overrides(preset):
    log = getattr(Timelog, preset)(busy_policy="silent", time_unit="us")
    try:
        assert log.busy_policy == "silent"
        assert log.time_unit == "us"
    finally:
        log.close()
    log = getattr(Timelog, preset)(maintenance="disabled")
    try:
        assert log.maintenance_mode == "disabled"
    finally:
        log.close()


@pytest.mark.parametrize("preset", ["for_streaming", "for_bulk_ingest", "for_low_latency"])
def test_presets_reject_bad_overrides(preset):
    with pytest.raises(TypeError):
        getattr(Timelog, preset)(bogus=1)
    with pytest.raises(ValueError):
        getattr(Timelog, preset)(busy_policy="nope")


@pytest.mark.parametrize(
    "prop",
    ["closed", "time_unit", "maintenance_mode", "busy_policy", "retired_queue_len", "alloc_failures"],
)
def test_properties_are_read_only(prop, make_log):
    log = make_log()
    value = getattr(log, prop)
    with pytest.raises(AttributeError):
        setattr(log, prop, value)


def test_properties_readable_after_close():
    log = Timelog(maintenance="disabled", time_unit="us", busy_policy="silent")
    log.close()
    assert log.closed is True
    assert log.time_unit == "us"
    assert log.busy_policy == "silent"
    assert log.maintenance_mode == "disabled"
    assert log.retired_queue_len == 0
    assert isinstance(log.alloc_failures, int)


def test_min_ts_guard_rejects_earlier_writes(make_log):
    log = make_log(min_ts=100)
    log.append(100, "a")
    log.append(200, "b")
    with pytest.raises(ValueError):
        log.append(99, "x")
    with pytest.raises(ValueError):
        log[-(2**63)] = "x"
    with pytest.raises(ValueError):
        log.extend([(150, "ok"), (5, "bad")])
    assert [o for _, o in log] == ["a", "b"]


def test_window_options_with_extremes(make_log):
    # a tiny window and extreme timestamps must not overflow the window grid
    log = make_log(window_size=1, window_origin=2**63 - 1)
    log.extend([(-(2**63), "lo"), (0, "mid"), (2**63 - 1, "hi")])
    log.flush()
    log.compact()
    n = 0
    while log.maint_step():
        n += 1
        assert n < 10000
    assert list(log) == [(-(2**63), "lo"), (0, "mid"), (2**63 - 1, "hi")]


def test_repr_does_not_raise():
    log = Timelog(maintenance="disabled")
    assert isinstance(repr(log), str)
    log.close()
    assert isinstance(repr(log), str)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics are Linux's")
def test_memtable_allocation_failure_names_the_option():
    # A child with a capped address space asks for a 32 GiB memtable: the MemoryError
    # must say what could not be allocated, how big, and which option sized it.
    code = textwrap.dedent("""
        import resource
        from timelog import Timelog
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        try:
            Timelog(memtable_max_bytes=32 << 30)
        except MemoryError as e:
            print("MemoryError:", e)
        else:
            print("no error")
        log = Timelog(memtable_max_bytes=1 << 20)   # the process is still usable
        log.append(1, "x")
        print(log.at(1))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": _import_root()})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("MemoryError: could not allocate the memtable's"), lines
    assert "(memtable_max_bytes)" in lines[0] and "GiB" in lines[0], lines
    assert lines[1] == "['x']"


def _import_root():
    # The directory the tested timelog was imported from, so the child imports it too.
    return os.path.dirname(os.path.dirname(os.path.abspath(timelog.__file__)))
