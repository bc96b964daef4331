"""Harness: interpreters per library, one process per job, medians, machine info.

Every (library, workload) pair runs in a fresh process (``worker.py``); the memory
workload runs one process per repetition and the scaling workload one per size. Jobs
run one after another, never in parallel, with the workload as the outer loop so that
all libraries of one row are measured close together in time.
"""

from __future__ import annotations

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
WORKER = HERE / "worker.py"
LIB_VENV = HERE / ".venv-timelog-lib"
TIMELOG_LIB_REQ = "timelog-lib==1.4.0"
LIBS = ("timelog", "timelog-lib", "sortedcontainers", "floor")
EXIT_UNAVAILABLE = 3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- interpreters -----------------------------------------------------------------

def _tail(text: str, lines: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def timelog_lib_python() -> tuple[str | None, str]:
    """The interpreter of the timelog-lib venv, created on first use.

    Returns (python, note); python is None when the venv or the install failed, and
    the note then says why.
    """
    py = LIB_VENV / "bin" / "python"
    probe = [str(py), "-c", "import importlib.metadata as m, timelog; "
             "print(m.version('timelog-lib'))"]
    if py.exists():
        r = subprocess.run(probe, capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == TIMELOG_LIB_REQ.split("==")[1]:
            return str(py), f"timelog-lib {r.stdout.strip()} in {LIB_VENV}"
    log(f"creating {LIB_VENV} and installing {TIMELOG_LIB_REQ} ...")
    r = subprocess.run([sys.executable, "-m", "venv", str(LIB_VENV)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"python -m venv failed: {_tail(r.stderr or r.stdout)}"
    try:
        r = subprocess.run([str(py), "-m", "pip", "install", "--disable-pip-version-check",
                            TIMELOG_LIB_REQ], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return None, f"pip install {TIMELOG_LIB_REQ} timed out"
    if r.returncode != 0:
        return None, f"pip install {TIMELOG_LIB_REQ} failed: {_tail(r.stderr or r.stdout, 2)}"
    r = subprocess.run(probe, capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"timelog-lib installed but import failed: {_tail(r.stderr)}"
    return str(py), f"timelog-lib {r.stdout.strip()} in {LIB_VENV}"


def interpreter_for(lib: str) -> tuple[str | None, str]:
    if lib == "timelog-lib":
        return timelog_lib_python()
    return sys.executable, sys.executable


def child_env(lib: str) -> dict:
    env = dict(os.environ)
    if lib == "timelog-lib":  # the venv must see only its own timelog
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
            r = subprocess.run(cmd, env=child_env(lib), capture_output=True, text=True,
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
