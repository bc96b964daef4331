"""Side-by-side benchmarks: timelog vs timelog-lib vs SortedKeyList vs plain floors.

    python benchmarks/run.py                 # everything, 1M records, 5 runs each
    python benchmarks/run.py --smoke         # tiny sizes, 1 run: CI keeps the code alive
    python benchmarks/run.py --only full_scan,point_lookup --libs timelog,floor

Also runs bench_persist.py (save/load vs pickle; not with --only), writing
persist.json next to the results. Writes docs/performance/results.{md,json} and
*.png, and rewrites the generated
section of docs/performance.md (not in --smoke mode, whose output goes to a temporary
directory unless --out is given). Every library runs on one
interpreter (``--python``, default CPython 3.12: timelog-lib 1.4 needs it), each in a
venv cached under ~/.cache/timelog-bench (our package is rebuilt there when its
sources change); a second table runs timelog alone on each of ``--interpreters``.
Exits non-zero only when a worker crashed or a correctness check failed, never
because of a timing. Method: docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
import report
import workloads

DOCS = harness.HERE.parent / "docs"
PER_INTERPRETER_DEFAULT = tuple(f"python3.{m}" for m in (10, 11, 12, 13))
PER_INTERPRETER_WORKLOADS = ("point_lookup", "range_100", "full_scan")


def _resolve(python: str) -> str | None:
    """An interpreter name or path as the absolute path of one that runs.

    A name is looked up on PATH, then in /tmp/pybin and ~/.pyenv/versions/*/bin (a
    pyenv shim on PATH may refuse a version that is installed but not selected).
    """
    if os.sep in python:
        cands = [python]
    else:
        cands = [shutil.which(python), shutil.which(python, path="/tmp/pybin")]
        cands += sorted(str(p) for p in (Path.home() / ".pyenv" / "versions").glob(
            f"*/bin/{python}"))
    for c in sorted(filter(None, cands), key=lambda c: "/shims/" in c):  # shims last
        if harness.python_version(c):
            return os.path.realpath(c)
    return None


def run_matrix(names, libs, pythons, lib_status, p, timeout, results, started) -> int:
    """Runs every (workload, library) job into `results`; returns the failure count."""
    failures = 0
    for name in names:
        wl = workloads.WORKLOADS[name]
        for lib in libs:
            st = lib_status[lib]
            if st["status"] != "ok" or (lib == "floor" and wl.floor is None):
                continue
            entry = {}
            for key, params, processes in harness.jobs_for(wl, p):
                harness.log(f"[{time.monotonic() - started:7.1f}s] {name}"
                            f"{' @ ' + key if key else ''} / {lib} ...")
                parts = [harness.run_job(pythons[lib], lib, name, params, timeout)
                         for _ in range(processes)]
                result = harness.summarize(harness.merge(parts) if processes > 1 else parts[0])
                if "unavailable" in result:
                    st.update(status="unavailable", reason=result["unavailable"])
                    harness.log(f"  {lib}: unavailable: {result['unavailable']}")
                    break
                if "error" in result:
                    failures += 1
                    harness.log(f"  ERROR: {result['error']}")
                    for line in result.get("stderr_tail", [])[-8:]:
                        harness.log(f"    {line}")
                else:
                    st.setdefault("info", result.get("lib_info"))
                    for m, mm in result["metrics"].items():
                        if mm["unit"] == "s":
                            harness.log(f"  {m:32s} {mm['ns_per_op']:12.1f} ns/op")
                        else:
                            harness.log(f"  {m:32s} {mm['median']:12.1f} {mm['unit']}")
                if key is None:
                    entry = result
                else:
                    entry[key] = result
            if entry:
                results.setdefault(lib, {})[name] = entry
    return failures


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, 1 repeat, no plots, no timelog-lib venv (for CI)")
    ap.add_argument("--n", type=int, help="records per workload (default 1M)")
    ap.add_argument("--lookup-n", type=int, help="log size for point lookups (default 10M)")
    ap.add_argument("--scale-sizes", help="comma list for the growth sweep (default "
                    "1000000,5000000,20000000)")
    ap.add_argument("--repeats", type=int, help="timed runs per workload (default 5)")
    ap.add_argument("--only", help="comma list of workloads: " + ",".join(workloads.WORKLOADS))
    ap.add_argument("--libs", help="comma list of libraries: " + ",".join(harness.LIBS))
    ap.add_argument("--out", type=Path, help="output directory (default docs/performance)")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default) or process CPU time, for a busy machine")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per worker process")
    ap.add_argument("--python", default=harness.BENCH_PYTHON,
                    help="interpreter every library runs on, each in a cached venv under "
                    f"{harness.CACHE} (default {harness.BENCH_PYTHON}; smoke runs use "
                    "this interpreter and skip timelog-lib)")
    ap.add_argument("--interpreters", default=",".join(PER_INTERPRETER_DEFAULT),
                    help="comma list of interpreters for the per-interpreter table of "
                    "timelog (empty: none; not in smoke runs or with --only)")
    return ap.parse_args(argv)


def _split(text, allowed, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad:
        sys.exit(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    p = workloads.Params.smoke() if args.smoke else workloads.Params()
    if args.n:
        p.n = args.n
    if args.lookup_n:
        p.lookup_n = args.lookup_n
    if args.repeats:
        p.repeats = args.repeats
    p.clock = args.clock
    if args.scale_sizes:
        p.scale_sizes = [int(x) for x in args.scale_sizes.split(",")]
    default_libs = "timelog,sortedcontainers,floor" if args.smoke else ",".join(harness.LIBS)
    libs = _split(args.libs or default_libs, harness.LIBS, "library")
    names = _split(args.only or ",".join(workloads.WORKLOADS), list(workloads.WORKLOADS),
                   "workload")
    out_dir = args.out or (Path(tempfile.mkdtemp(prefix="timelog-smoke-")) if args.smoke
                           else DOCS / "performance")
    performance_md = None if args.smoke or args.out else DOCS / "performance.md"

    data = {"command": "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None
                                                                 else argv),
            "smoke": args.smoke, "params": p.to_dict(), "workloads": names,
            "machine": harness.machine_info(), "libs": {}, "results": {}}
    base = None if args.smoke else _resolve(args.python)
    if not args.smoke and base is None:
        sys.exit(f"--python {args.python}: no such interpreter")
    data["python"] = harness.python_version(base) if base else None
    if base:
        data["machine"]["python"] = f"CPython {data['python']} ({base}): every library"
    pythons = {}
    for lib in libs:
        python, note = harness.interpreter_for(lib, base)
        pythons[lib] = python
        data["libs"][lib] = ({"status": "ok", "python": python, "note": note} if python else
                             {"status": "unavailable", "reason": note})
        if not python:
            harness.log(f"{lib}: unavailable: {note}")

    started = time.monotonic()
    failures = run_matrix(names, libs, pythons, data["libs"], p, args.timeout,
                          data["results"], started)

    # The per-interpreter table: our package and the floors on each interpreter, with
    # the point-lookup log as large as the other workloads' to keep it short.
    interps = [] if args.smoke or args.only else [
        x.strip() for x in args.interpreters.split(",") if x.strip()]
    if interps:
        data["per_interpreter"] = {}
        pi_params = workloads.Params(**dict(p.to_dict(), lookup_n=p.n))
        data["per_interpreter_params"] = pi_params.to_dict()
        for name in interps:
            path = _resolve(name)
            ver = harness.python_version(path) if path else None
            if ver is None:
                harness.log(f"per-interpreter: {name} not found, skipped")
                continue
            py, note = harness.timelog_python(path)
            entry = {"python": path, "version": ver, "results": {},
                     "libs": {lib: ({"status": "ok"} if py else
                                    {"status": "unavailable", "reason": note})
                              for lib in ("timelog", "floor")}}
            data["per_interpreter"][ver] = entry
            if py is None:
                harness.log(f"per-interpreter {ver}: unavailable: {note}")
                continue
            harness.log(f"per-interpreter {ver} ({path}) ...")
            failures += run_matrix(PER_INTERPRETER_WORKLOADS, ("timelog", "floor"),
                                   {"timelog": py, "floor": py}, entry["libs"], pi_params,
                                   args.timeout, entry["results"], started)

    if args.only is None and data["libs"].get("timelog", {}).get("status") == "ok":
        # save/load vs pickle: its own script (timelog only, child processes for RSS)
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [pythons["timelog"], str(harness.HERE / "bench_persist.py"),
               "--json", str(out_dir / "persist.json")] + (["--smoke"] if args.smoke else [])
        harness.log(f"[{time.monotonic() - started:7.1f}s] bench_persist.py ...")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        if r.returncode != 0:
            failures += 1
            harness.log(f"  ERROR: bench_persist.py exited {r.returncode}: {r.stderr[-2000:]}")
        else:
            harness.log(r.stdout.rstrip())

    data["machine"]["load_end"] = harness.load_average()
    if args.smoke and data["libs"].get("timelog", {}).get("status") != "ok":
        harness.log("smoke: the timelog package is not importable")
        failures += 1
    report.write_all(data, out_dir, plots=not (args.smoke or args.no_plots),
                     performance_md=performance_md)
    harness.log(f"wrote {out_dir}/results.md and results.json"
                + (f"; updated {performance_md}" if performance_md else ""))
    print(report.render_markdown(data) if not args.smoke else
          f"smoke: {len(names)} workloads x {len(libs)} libraries, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
