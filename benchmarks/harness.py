"""Harness: interpreters per library, one process per job, medians, machine info.

Every (library, workload) pair runs in a fresh process (``worker.py``); the memory
workload runs one process per repetition and the scaling workload one per size. Jobs
run one after another, never in parallel, with the workload as the outer loop so that
all libraries of one row are measured close together in time.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workloads

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"
TIMELOG_LIB_REQ = "timelog-lib==1.4.0"
LIBS = ("timelog", "timelog-lib", "sortedcontainers", "floor")
EXIT_UNAVAILABLE = 3
# The interpreter every library runs on in a full run (timelog-lib 1.4 needs >= 3.12),
# and where the per-interpreter venvs are cached between runs.
BENCH_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python"
CACHE = Path(os.environ.get("TIMELOG_BENCH_CACHE",
                            Path.home() / ".cache" / "timelog-bench"))
# Build inputs of our package: a change to any of them rebuilds the cached install.
SOURCE_GLOBS = ("setup.py", "pyproject.toml", "src/timelog/*.py", "src/timelog/*.pyx",
                "src/timelog/*.pxi", "src/timelog/*.pxd", "src/timelog/*.h", "src/timelog/*.pyi",
                "cpp/include/**/*.h", "cpp/src/*.h", "cpp/src/*.cc")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- interpreters -----------------------------------------------------------------

def _tail(text: str, lines: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def python_version(python: str) -> str | None:
    """'3.12.1' for an interpreter path, None if it does not run."""
    try:
        r = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def source_hash() -> str:
    """Digest of our package's build inputs (names and contents)."""
    h = hashlib.sha256()
    for pattern in SOURCE_GLOBS:
        for f in sorted(ROOT.glob(pattern)):
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _venv(base: str, name: str) -> tuple[Path | None, str]:
    """CACHE/<name>-py<version>: a venv of `base`, created if missing."""
    ver = python_version(base)
    if ver is None:
        return None, f"{base} does not run"
    d = CACHE / f"{name}-py{ver}"
    py = d / "bin" / "python"
    if not py.exists():
        log(f"creating {d} ...")
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([base, "-m", "venv", "--clear", str(d)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            return None, f"{base} -m venv failed: {_tail(r.stderr or r.stdout)}"
    return py, str(d)


def _pip(py: Path, *args: str, timeout: float = 1800) -> str | None:
    """Runs pip in the venv; returns None on success, else why it failed."""
    try:
        r = subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check",
                            "-q", *args], capture_output=True, text=True, timeout=timeout,
                           env=child_env(str(py)))
    except subprocess.TimeoutExpired:
        return f"pip install {' '.join(args)} timed out"
    if r.returncode != 0:
        return f"pip install {' '.join(args)} failed: {_tail(r.stderr or r.stdout, 2)}"
    return None


def timelog_lib_python(base: str = BENCH_PYTHON) -> tuple[str | None, str]:
    """timelog-lib 1.4.0 in a cached venv of `base`: (python, note), python None on failure."""
    py, note = _venv(base, "timelog-lib")
    if py is None:
        return None, note
    probe = [str(py), "-c", "import importlib.metadata as m, timelog; "
             "print(m.version('timelog-lib'))"]
    want = TIMELOG_LIB_REQ.split("==")[1]
    r = subprocess.run(probe, capture_output=True, text=True, env=child_env(str(py)))
    if r.returncode != 0 or r.stdout.strip() != want:
        log(f"installing {TIMELOG_LIB_REQ} into {note} ...")
        err = _pip(py, TIMELOG_LIB_REQ)
        if err:
            return None, err
        r = subprocess.run(probe, capture_output=True, text=True,
                           env=child_env(str(py)))
        if r.returncode != 0:
            return None, f"timelog-lib installed but import failed: {_tail(r.stderr)}"
    return str(py), f"timelog-lib {r.stdout.strip()} in {note}"


def timelog_python(base: str = BENCH_PYTHON) -> tuple[str | None, str]:
    """Our package (this checkout) plus sortedcontainers in a cached venv of `base`.

    The install is redone when the build inputs changed (see ``source_hash``).
    """
    py, note = _venv(base, "timelog")
    if py is None:
        return None, note
    stamp = py.parent.parent / "timelog-source-hash"
    digest = source_hash()
    if not (stamp.exists() and stamp.read_text().strip() == digest):
        log(f"building this checkout's timelog into {note} (source {digest}) ...")
        err = (_pip(py, "setuptools>=77", "Cython>=3.0,<4", "sortedcontainers")
               or _pip(py, "--no-build-isolation", "--no-deps", "--force-reinstall",
                       str(ROOT)))
        if err:
            return None, err
        stamp.write_text(digest + "\n")
    r = subprocess.run([str(py), "-c", "import timelog, sortedcontainers; "
                        "print(timelog.__file__)"], capture_output=True, text=True,
                       cwd=tempfile.gettempdir(), env=child_env(str(py)))
    if r.returncode != 0:
        return None, f"timelog installed but import failed: {_tail(r.stderr)}"
    return str(py), f"this checkout ({digest}) in {note}"


def interpreter_for(lib: str, base: str | None = None) -> tuple[str | None, str]:
    """The python that runs `lib`'s workers.

    base None (smoke runs): this interpreter, timelog-lib unavailable. Otherwise every
    library runs on `base`: timelog-lib in one cached venv, our package, sortedcontainers
    and the floors in another (both venvs of the same interpreter).
    """
    if base is None:
        if lib == "timelog-lib":
            return None, "not run in smoke mode"
        return sys.executable, sys.executable
    if lib == "timelog-lib":
        return timelog_lib_python(base)
    return timelog_python(base)


def child_env(python: str) -> dict:
    """The environment of a worker: a cached venv must see only its own packages."""
    env = dict(os.environ)
    if Path(python).is_relative_to(CACHE):
        for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
            env.pop(var, None)
    env["PYTHONHASHSEED"] = "0"
    return env


# --- jobs -------------------------------------------------------------------------

def run_job(python: str, lib: str, wl: str, params: dict, timeout: float) -> dict:
    """Run one worker process; returns its JSON (with "error"/"unavailable" on failure)."""
    with tempfile.TemporaryDirectory(prefix="timelog-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python, str(WORKER), "--lib", lib, "--workload", wl,
               "--params", json.dumps(params), "--out", str(out)]
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, env=child_env(python), capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        wall = time.monotonic() - t0
        if out.exists():
            result = json.loads(out.read_text())
        else:
            result = {"error": f"worker exited {r.returncode} without a result: "
                               f"{_tail(r.stderr, 5)}"}
        if r.returncode not in (0, EXIT_UNAVAILABLE) and "error" not in result:
            result["error"] = f"worker exited {r.returncode}: {_tail(r.stderr, 5)}"
        if "error" in result and r.stderr.strip():
            result["stderr_tail"] = r.stderr.strip().splitlines()[-20:]
        result["wall_s"] = round(wall, 2)
        return result


def merge(parts: list[dict]) -> dict:
    """Merge the results of several processes of one job (memory repetitions)."""
    merged = {"samples": {}, "ops": {}, "units": {}, "checks": [], "info": {},
              "processes": len(parts)}
    for part in parts:
        for key in ("error", "unavailable", "lib_info"):
            if key in part and key not in merged:
                merged[key] = part[key]
        for m, xs in part.get("samples", {}).items():
            merged["samples"].setdefault(m, []).extend(xs)
        merged["ops"].update(part.get("ops", {}))
        merged["units"].update(part.get("units", {}))
        merged["checks"] = part.get("checks", merged["checks"])
        merged["info"].update(part.get("info", {}))
    return merged


def summarize(result: dict) -> dict:
    """Replace raw samples by median/min/max per metric and the per-operation cost."""
    metrics = {}
    for m, xs in result.get("samples", {}).items():
        ops = result["ops"][m]
        unit = result.get("units", {}).get(m, "s")
        med = statistics.median(xs)
        entry = {"unit": unit, "runs": len(xs), "median": med, "min": min(xs),
                 "max": max(xs), "samples": xs, "ops": ops}
        if unit == "s":
            entry["ns_per_op"] = med / ops * 1e9
        metrics[m] = entry
    out = {k: v for k, v in result.items() if k not in ("samples", "ops", "units")}
    out["metrics"] = metrics
    return out


def jobs_for(wl: workloads.Workload, params: workloads.Params):
    """(key, params, processes) tuples: one entry per process group of a workload."""
    base = params.to_dict()
    if wl.per_size:
        for size in params.scale_sizes:
            yield str(size), dict(base, size=size), 1
    elif wl.fresh_process_per_repeat:
        yield None, dict(base, repeats=1), params.repeats
    else:
        yield None, base, 1


# --- machine ----------------------------------------------------------------------

def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    lscpu = {}
    for line in _cmd(["lscpu"]).splitlines():
        k, _, v = line.partition(":")
        lscpu[k.strip()] = v.strip()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    import sysconfig
    cxx = shutil.which("c++") or shutil.which("g++")
    cython = _cmd([sys.executable, "-c", "import Cython; print(Cython.__version__)"]).strip()
    commit = _cmd(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"]).strip()
    return {
        "cpu": lscpu.get("Model name", platform.processor()),
        "cpus": os.cpu_count(),
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "caches": {k: lscpu[k] for k in ("L1d cache", "L2 cache", "L3 cache") if k in lscpu},
        "hypervisor": lscpu.get("Hypervisor vendor"),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_cc": sysconfig.get_config_var("CC"),
        "cxx": _cmd([cxx, "--version"]).splitlines()[0] if cxx else None,
        "cython": cython or None,
        "commit": commit or None,
        "load_start": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def load_average() -> str:
    """1/5/15-minute load averages: the machine is shared, so say how busy it was."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"
