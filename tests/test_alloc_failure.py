"""Allocation failure: with a C++ operator-new shim preloaded (built here from
cpp/testing/fail_alloc_shim.cc), every operation ends in MemoryError or success,
the log keeps exactly what a model says, and no reference leaks or dangles.

The sweep itself runs in a child process (tests/alloc_sweep_child.py), since the
shim must be loaded before the interpreter starts."""
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

import timelog

HERE = pathlib.Path(__file__).resolve().parent
SHIM_SRC = HERE.parent / "cpp" / "testing" / "fail_alloc_shim.cc"

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="LD_PRELOAD shim: Linux only"),
    # A sanitizer runtime, preloaded first, defines operator new itself: the shim's
    # definition would never be the one called, so the sweep could inject nothing.
    pytest.mark.skipif(bool(os.environ.get("TIMELOG_TEST_SANITIZER")),
                       reason="the sanitizer runtime replaces operator new before the shim"),
]


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the allocation-failure shim")
    if not SHIM_SRC.exists():
        pytest.skip(f"{SHIM_SRC} is not here (tests run outside a source tree)")
    out = tmp_path_factory.mktemp("shim") / "fail_alloc_shim.so"
    subprocess.run([cxx, "-std=c++17", "-O2", "-shared", "-fPIC", "-o", str(out), str(SHIM_SRC)],
                   check=True, capture_output=True, timeout=300)
    return out


def _run(shim, args, tmp_path, **env):
    root = str(pathlib.Path(timelog.__file__).resolve().parent.parent)
    preload = os.environ.get("LD_PRELOAD", "")   # a sanitizer runtime must stay first
    full_env = {
        **os.environ,
        "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "LD_PRELOAD": (preload + ":" if preload else "") + str(shim),
        "TIMELOG_FAILALLOC_SHIM": str(shim),
        "TIMELOG_FAILALLOC_TMP": str(tmp_path),
        **env,
    }
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=900, env=full_env)


def test_every_operation_survives_each_allocation_failing(shim, tmp_path):
    proc = _run(shim, [str(HERE / "alloc_sweep_child.py")], tmp_path)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("alloc sweep: OK")
    # The sweep really injected failures (a shim that never fires proves nothing).
    assert "extend crossing a seal: 0 allocations" not in proc.stdout


def test_extend_crossing_a_seal_when_the_new_memtable_cannot_be_allocated(shim, tmp_path):
    # A 16 MiB memtable filled to 100 rows short of sealing; a batch of 1000 needs a
    # fresh memtable, whose (>= 8 MiB) allocation fails. The extend must store
    # nothing and give back every reference; the log stays readable and writable.
    code = textwrap.dedent("""
        import ctypes, os, sys
        from timelog import Timelog
        shim = ctypes.CDLL(os.environ["TIMELOG_FAILALLOC_SHIM"])
        shim.timelog_fail_alloc_arm.argtypes = [ctypes.c_long, ctypes.c_size_t]
        log = Timelog(maintenance="disabled", memtable_max_bytes=16 << 20,
                      busy_policy="silent")
        cap = (16 << 20) // 16
        for lo in range(0, cap - 100, 10_000):     # small batches go into the memtable
            hi = min(lo + 10_000, cap - 100)
            log.extend(range(lo, hi), [None] * (hi - lo))
        assert log.stats()["memtable"]["active_records"] == cap - 100
        obj = object()
        base = sys.getrefcount(obj)
        shim.timelog_fail_alloc_arm(1, 8 << 20)
        try:
            log.extend(range(cap, cap + 1000), [obj] * 1000)
            print("no error")
        except MemoryError as e:
            print("MemoryError:", e)
        finally:
            print("fired:", shim.timelog_fail_alloc_fired())
            shim.timelog_fail_alloc_arm(0, 0)
        print("len:", len(log), "refs:", sys.getrefcount(obj) - base)
        print("rows:", sum(1 for _ in log))
        log.extend(range(cap, cap + 1000), [obj] * 1000)     # works once memory is there
        print("after retry:", len(log), sys.getrefcount(obj) - base)
        log.close()
        print("closed refs:", sys.getrefcount(obj) - base)
    """)
    proc = _run(shim, ["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    cap = (16 << 20) // 16
    assert lines[0].startswith("MemoryError: could not allocate the memtable's"), lines
    assert lines[1] == "fired: 1"
    assert lines[2] == f"len: {cap - 100} refs: 0"
    assert lines[3] == f"rows: {cap - 100}"
    assert lines[4] == f"after retry: {cap + 900} 1000"
    assert lines[5] == "closed refs: 0"


def test_start_maintenance_that_cannot_start_its_thread_leaves_the_log_disabled(shim, tmp_path):
    # The first C++ allocation of start_maintenance() is the worker thread's state:
    # when it fails, the log must stay in disabled mode (maint_step() works) and a
    # later start_maintenance() must start the worker.
    code = textwrap.dedent("""
        import ctypes, os
        from timelog import Timelog
        shim = ctypes.CDLL(os.environ["TIMELOG_FAILALLOC_SHIM"])
        shim.timelog_fail_alloc_arm.argtypes = [ctypes.c_long, ctypes.c_size_t]
        log = Timelog(maintenance="disabled")
        log.extend([(t, t) for t in range(1000)])
        shim.timelog_fail_alloc_arm(1, 0)
        try:
            log.start_maintenance()
            print("no error")
        except MemoryError as e:
            print("MemoryError")
        finally:
            print("fired:", shim.timelog_fail_alloc_fired())
            shim.timelog_fail_alloc_arm(0, 0)
        print("mode:", log.maintenance_mode)
        log.flush()
        print("maint_step:", type(log.maint_step()).__name__)
        log.start_maintenance()
        print("mode:", log.maintenance_mode)
        log.stop_maintenance()
        print("rows:", len(log), sum(1 for _ in log))
        log.close()
    """)
    proc = _run(shim, ["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.splitlines() == [
        "MemoryError", "fired: 1", "mode: disabled", "maint_step: bool",
        "mode: background", "rows: 1000 1000"], proc.stdout
