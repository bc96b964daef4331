"""Files and pickling: Timelog.save/load vs pickle of the equivalent list of tuples.

    python benchmarks/bench_persist.py            # 1M records x 5 repeats, RSS at 10M
    python benchmarks/bench_persist.py --smoke    # tiny sizes, 1 repeat (run.py --smoke runs it)

For int payloads and short str payloads:

- time of ``log.save(path)`` and ``Timelog.load(path)`` (median of the repeats) vs
  ``pickle.dump(rows, f, protocol=5)`` / ``pickle.load(f)`` of ``rows = list(log)``
  (a list of ``(ts, obj)`` tuples), each to a file in the same temporary directory;
- file size per record of both;
- peak RSS (``resource.getrusage(...).ru_maxrss``) of a fresh child process that
  builds a log of ``--rss-n`` records and saves it, and of one that loads the file.

Every measurement checks its result (record count, first and last row). Prints a
markdown table and writes JSON with ``--json``. Exits non-zero on a failed check.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("int", "str")


def payloads(kind, lo, hi):
    if kind == "int":
        return list(range(lo + 1_000_000_000, hi + 1_000_000_000))   # distinct int objects
    return [f"ev-{i:08d}" for i in range(lo, hi)]                       # 12-char strings


def build(n, kind, chunk=1_000_000):
    from timelog import Timelog

    log = Timelog.for_bulk_ingest()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        log.extend(range(lo * 3, hi * 3, 3), payloads(kind, lo, hi))
    return log


def _check(log, n, kind, what):
    first = payloads(kind, 0, 1)[0]
    last = payloads(kind, n - 1, n)[0]
    rows = log.all().next_batch(1)
    if len(log) != n or rows != [(0, first)] or log.at(3 * (n - 1)) != [last]:
        raise SystemExit(f"{what}: wrong result ({len(log)} records)")


def _timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_kind(kind, n, repeats, tmp):
    """The four operations, interleaved in each repeat (a busy machine slows them
    alike), then the medians."""
    from timelog import Timelog

    log = build(n, kind)
    rows = list(log)
    tl_path = os.path.join(tmp, f"{kind}.tlog")
    pk_path = os.path.join(tmp, f"{kind}.pickle")
    got = []

    def tl_load():
        got.append(Timelog.load(tl_path))

    def pk_dump():
        with open(pk_path, "wb") as f:
            pickle.dump(rows, f, protocol=5)

    def pk_load():
        with open(pk_path, "rb") as f:
            got.append(pickle.load(f))

    samples = {"save": [], "load": [], "pickle_dump": [], "pickle_load": []}
    for _ in range(repeats):
        samples["save"].append(_timed(lambda: log.save(tl_path)))
        samples["load"].append(_timed(tl_load))
        _check(got[-1], n, kind, "Timelog.load")
        got.pop().close()
        samples["pickle_dump"].append(_timed(pk_dump))
        samples["pickle_load"].append(_timed(pk_load))
        if got.pop() != rows:
            raise SystemExit("pickle.load: wrong result")
    out = {f"{k}_s": statistics.median(v) for k, v in samples.items()}
    out.update({f"{k}_samples": v for k, v in samples.items()})
    out["file_bytes_per_record"] = os.path.getsize(tl_path) / n
    out["pickle_bytes_per_record"] = os.path.getsize(pk_path) / n
    out["save_load_s"] = out["save_s"] + out["load_s"]
    out["pickle_s"] = out["pickle_dump_s"] + out["pickle_load_s"]
    out["speedup"] = out["pickle_s"] / out["save_load_s"]
    out["speedup_save"] = out["pickle_dump_s"] / out["save_s"]
    out["speedup_load"] = out["pickle_load_s"] / out["load_s"]
    log.close()
    return out


# --- peak RSS in a child process ------------------------------------------------------

def _rss_now_kib():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return None


def _maxrss_kib():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r // 1024 if sys.platform == "darwin" else r


def _reset_hwm():
    """Reset the kernel's RSS high-water mark (Linux: /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def child(op, kind, n, path):
    from timelog import Timelog

    before = _maxrss_kib()
    if op == "save":
        log = build(n, kind)
        gc.collect()
    steady = _rss_now_kib()
    peak_before = _maxrss_kib()
    reset = _reset_hwm()
    if op == "save":
        log.save(path)
    else:
        log = Timelog.load(path)
        _check(log, n, kind, "Timelog.load (child)")
    after = _maxrss_kib()
    result = {"op": op, "kind": kind, "n": n, "maxrss_start_kib": before,
              "rss_before_op_kib": steady, "maxrss_before_op_kib": peak_before,
              "maxrss_after_op_kib": after, "rss_after_op_kib": _rss_now_kib(),
              "op_peak_kib": _hwm_kib() if reset else None}
    log.close()
    print(json.dumps(result))


def rss(kind, n, tmp):
    path = os.path.join(tmp, f"rss-{kind}.tlog")
    out = {}
    for op in ("save", "load"):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", op,
                            "--kind", kind, "--n", str(n), "--path", path],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise SystemExit(f"rss child {op}/{kind} failed:\n{r.stderr[-2000:]}")
        out[op] = json.loads(r.stdout.strip().splitlines()[-1])
    out["file_bytes_per_record"] = os.path.getsize(path) / n
    os.unlink(path)
    return out


def machine():
    try:
        with open("/etc/os-release") as f:
            os_name = dict(line.rstrip().split("=", 1) for line in f if "=" in line) \
                .get("PRETTY_NAME", "").strip('"')
    except OSError:
        os_name = platform.platform()
    return {"python": platform.python_version(), "os": os_name, "cpus": os.cpu_count(),
            "machine": platform.machine()}


def _mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


def render(data):
    mib = 1024
    lines = [f"records: {data['n']:,} (timing, median of {data['repeats']}), "
             f"{data['rss_n']:,} (peak RSS)", "",
             "| payloads | save | load | pickle.dump | pickle.load | save+load vs pickle | "
             "file B/record | pickle B/record |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        t = data["timing"][kind]
        lines.append(
            f"| {kind} | {t['save_s']:.3f} s | {t['load_s']:.3f} s | {t['pickle_dump_s']:.3f} s | "
            f"{t['pickle_load_s']:.3f} s | {t['speedup']:.1f}x (save {t['speedup_save']:.1f}x, "
            f"load {t['speedup_load']:.1f}x) | {t['file_bytes_per_record']:.1f} | "
            f"{t['pickle_bytes_per_record']:.1f} |")
    lines += ["", "| payloads | log built (RSS) | peak RSS during save | loaded log (RSS) | "
              "peak RSS during load | ru_maxrss save / load process |", "|---|---|---|---|---|---|"]
    for kind in KINDS:
        r = data["rss"][kind]
        s, ld = r["save"], r["load"]
        lines.append(
            f"| {kind} | {s['rss_before_op_kib'] / mib:.0f} MiB | {_mib(s['op_peak_kib'])} | "
            f"{ld['rss_after_op_kib'] / mib:.0f} MiB | {_mib(ld['op_peak_kib'])} | "
            f"{s['maxrss_after_op_kib'] / mib:.0f} / {ld['maxrss_after_op_kib'] / mib:.0f} MiB |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat")
    ap.add_argument("--n", type=int, default=None, help="records for the timings (default 1M)")
    ap.add_argument("--rss-n", type=int, default=None, help="records for peak RSS (default 10M)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs (default 5)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--child", choices=("save", "load"), help=argparse.SUPPRESS)
    ap.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child, a.kind, a.n, a.path)
        return 0
    n = a.n or (2_000 if a.smoke else 1_000_000)
    rss_n = a.rss_n or (20_000 if a.smoke else 10_000_000)
    repeats = a.repeats or (1 if a.smoke else 5)
    data = {"n": n, "rss_n": rss_n, "repeats": repeats, "machine": machine(),
            "timing": {}, "rss": {}}
    with tempfile.TemporaryDirectory(prefix="timelog-persist-") as tmp:
        # RSS children first, while this process is small: on Linux a child's
        # ru_maxrss starts from its parent's RSS at fork time.
        for kind in KINDS:
            print(f"peak RSS {kind} payloads, {rss_n:,} records ...", file=sys.stderr, flush=True)
            data["rss"][kind] = rss(kind, rss_n, tmp)
        for kind in KINDS:
            print(f"timing {kind} payloads, {n:,} records ...", file=sys.stderr, flush=True)
            data["timing"][kind] = time_kind(kind, n, repeats, tmp)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1)
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
