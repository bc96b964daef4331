"""Side-by-side benchmarks: timelog vs timelog-lib vs SortedKeyList vs plain floors.

    python benchmarks/run.py                 # everything, 1M records, 5 runs each
    python benchmarks/run.py --smoke         # tiny sizes, 1 run: CI keeps the code alive
    python benchmarks/run.py --only full_scan,point_lookup --libs timelog,floor

Also runs bench_persist.py (save/load vs pickle; not with --only), writing
persist.json next to the results. Writes docs/performance/results.{md,json} and
*.png, and rewrites the generated
section of docs/performance.md (not in --smoke mode, whose output goes to a temporary
directory unless --out is given). Exits non-zero when a worker crashed or a
correctness check failed. Method: docs/performance.md.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
import report
import workloads

DOCS = harness.HERE.parent / "docs"


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
    pythons = {}
    for lib in libs:
        python, note = harness.interpreter_for(lib)
        pythons[lib] = python
        data["libs"][lib] = ({"status": "ok", "python": python} if python else
                             {"status": "unavailable", "reason": note})
        if not python:
            harness.log(f"{lib}: unavailable: {note}")

    failures = 0
    started = time.monotonic()
    for name in names:
        wl = workloads.WORKLOADS[name]
        for lib in libs:
            st = data["libs"][lib]
            if st["status"] != "ok" or (lib == "floor" and wl.floor is None):
                continue
            entry = {}
            for key, params, processes in harness.jobs_for(wl, p):
                harness.log(f"[{time.monotonic() - started:7.1f}s] {name}"
                            f"{' @ ' + key if key else ''} / {lib} ...")
                parts = [harness.run_job(pythons[lib], lib, name, params, args.timeout)
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
                data["results"].setdefault(lib, {})[name] = entry

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
