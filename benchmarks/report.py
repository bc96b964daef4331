"""Results -> targets table (PASS/MISS), markdown, JSON, PNG plots, performance.md."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

LIB_TITLES = {"timelog": "timelog", "timelog-lib": "timelog-lib 1.4",
              "sortedcontainers": "SortedKeyList", "floor": "floor"}
BEGIN = "<!-- BEGIN GENERATED RESULTS (benchmarks/run.py rewrites this section) -->"
END = "<!-- END GENERATED RESULTS -->"


@dataclass
class Target:
    """A row of the performance targets table (docs/performance.md).

    ``vs_lib`` / ``vs_skl``: timelog must be at least this many times better (time or
    bytes of the other library divided by timelog's). ``vs_floor``: timelog may cost
    at most this many times the floor; ``vs_fresh``: the same against the fresh-object
    floor. ``limit``: absolute upper bound (bytes, or ns for timed metrics).
    """

    title: str
    workload: str
    metric: str
    vs_lib: float | None = None
    vs_skl: float | None = 3.0
    vs_floor: float | None = None
    limit: float | None = None
    vs_fresh: float | None = None


def targets(p: dict) -> list[Target]:
    n, ln = _count(p["n"]), _count(p["lookup_n"])
    return [
        Target(f"extend, in order ({n})", "extend_inorder", "extend+flush", 5, 3, 3),
        Target(f"extend, 5% out of order ({n})", "extend_ooo5", "extend+flush", 5),
        Target(f"append(ts, obj) loop ({n})", "append_loop", "append+flush", 1.5),
        Target(f"log[ts] = obj loop ({n})", "setitem_loop", "setitem+flush", 1.5),
        Target(f"log.at(ts) point lookups ({ln})", "point_lookup", "lookup", 3, 3, 3),
        Target(f"list(log[a:b]), {p['range_len']} records ({n})", "range_100",
               "range query", 2, vs_fresh=1.2),
        Target(f"range per-query overhead: log[a:b] made and dropped, no row read ({n})",
               "range_100", "per-query overhead", None, None, limit=1000),
        Target(f"full scan ({n})", "full_scan", "scan", 1.5, 3, 1.5, vs_fresh=1.2),
        Target(f"{_count(min(p['deletes'], p['n'] // 4))} range deletes, then scan ({n})",
               "delete_scan", "deletes+scan", 3),
        Target(f"rolling stream + cutoff ({n}, no target)", "retention",
               "stream+cutoff", None, None),
        Target(f"engine bytes/record after compaction ({n})", "memory", "bytes/record",
               2, 3, None, 18),
    ]


def _count(n: int) -> str:
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{suffix}"
    return str(n)


def _metric(results: dict, lib: str, wl: str, metric: str, key: str = None):
    """Per-op cost (ns) of a metric, or its median for non-time units (bytes)."""
    r = results.get(lib, {}).get(wl)
    if key is not None:
        r = (r or {}).get(key)
    if not r or "error" in r or "unavailable" in r:
        return None
    m = r.get("metrics", {}).get(metric)
    if m is None:
        return None
    return m["ns_per_op"] if m["unit"] == "s" else m["median"]


def _fmt(x, unit="ns") -> str:
    if x is None:
        return "—"
    if unit == "B":
        return f"{x:.1f} B"
    if x >= 1e6:
        return f"{x / 1e6:.3g} ms"
    if x >= 1e3:
        return f"{x / 1e3:.3g} µs"
    return f"{x:.3g} ns"


def _judge(ratio, goal, higher_is_better=True):
    if ratio is None or goal is None:
        return None
    return ratio >= goal if higher_is_better else ratio <= goal


def target_rows(data: dict) -> list[dict]:
    res = data["results"]
    rows = []
    for t in targets(data["params"]):
        unit = "B" if t.workload == "memory" else "ns"
        val = {lib: _metric(res, lib, t.workload, t.metric) for lib in LIB_TITLES}
        tl = val["timelog"]
        row = {"target": t, "values": val, "unit": unit, "checks": []}
        for lib, goal, label in (("timelog-lib", t.vs_lib, "vs timelog-lib"),
                                 ("sortedcontainers", t.vs_skl, "vs SortedKeyList")):
            ratio = val[lib] / tl if tl and val[lib] else None
            row[label] = (ratio, goal, _judge(ratio, goal))
            if goal is not None:
                row["checks"].append(_judge(ratio, goal))
        fresh = _metric(res, "floor", t.workload, t.metric + " (fresh floor)")
        row["fresh floor"] = fresh
        ratio = tl / fresh if tl and fresh else None
        row["vs fresh floor"] = (ratio, t.vs_fresh, _judge(ratio, t.vs_fresh, False))
        if t.vs_fresh is not None:
            row["checks"].append(_judge(ratio, t.vs_fresh, False))
        ratio = tl / val["floor"] if tl and val["floor"] else None
        row["vs floor"] = (ratio, t.vs_floor, _judge(ratio, t.vs_floor, False))
        if t.vs_floor is not None:
            row["checks"].append(_judge(ratio, t.vs_floor, False))
        if t.limit is not None:
            row["checks"].append(_judge(tl, t.limit, False))
        row["verdict"] = _verdict(tl, row["checks"])
        rows.append(row)
    return rows


def _verdict(value, checks) -> str:
    if value is None:
        return "n/a"
    if not checks:
        return "—"
    if any(c is False for c in checks):
        return "MISS"
    if any(c is None for c in checks):
        return "PASS (partial)"
    return "PASS"


def growth_rows(data: dict) -> list[dict]:
    """Per-record (per-query) cost at the largest size over the smallest size."""
    res, sizes = data["results"], data["params"]["scale_sizes"]
    lo, hi = str(sizes[0]), str(sizes[-1])
    rows = []
    for metric, goal, note in (("ingest (extend+flush)", 1.3, "≤ 1.3×"),
                               ("scan", 1.3, "≤ 1.3×"),
                               ("lookup", 1.3, "≤ 1.3× the dict.get growth")):
        row = {"metric": metric, "goal": goal, "note": note, "libs": {}}
        for lib in ("timelog", "timelog-lib", "sortedcontainers", "floor"):
            a = _metric(res, lib, "scaling", metric, lo)
            b = _metric(res, lib, "scaling", metric, hi)
            row["libs"][lib] = (a, b, b / a if a and b else None)
        ratio = row["libs"]["timelog"][2]
        if metric == "lookup":
            # A hash lookup is O(1): its growth is the memory hierarchy alone, so the
            # part of timelog's growth beyond it is the algorithm's (log2: 1.22x).
            base = row["libs"]["floor"][2]
            ratio = ratio / max(1.0, base) if ratio and base else None
        row["judged"] = ratio
        row["verdict"] = _verdict(ratio, [_judge(ratio, goal, False)])
        rows.append(row)
    return rows


# --- markdown ---------------------------------------------------------------------

def _ratio_cell(r) -> str:
    ratio, goal, ok = r
    if goal is None:
        return f"{ratio:.2g}×" if ratio else "—"
    if ratio is None:
        return f"— (goal {goal:g}×)"
    text = f"{ratio:.2f}× (goal {goal:g}×)"
    return text if ok else f"**{text}**"


def _floor_cell(r) -> str:
    ratio, goal, ok = r
    if ratio is None:
        return "—"
    if goal is None:
        return f"{ratio:.2f}×"
    text = f"{ratio:.2f}× (goal ≤ {goal:g}×)"
    return text if ok else f"**{text}**"


def render_markdown(data: dict, image_prefix: str = "", h2: str = "##",
                    title: bool = True) -> str:
    p, m, libs = data["params"], data["machine"], data["libs"]
    out = ["# Benchmark results", ""] if title else []
    out += [f"Generated by `{data['command']}` on {m['date']}"
           f"{', commit ' + m['commit'] if m.get('commit') else ''}. "
           f"Medians of {p['repeats']} runs ({p.get('clock', 'wall')} clock), "
           "each library in its own process "
           f"(see [the method](../performance.md) for details).", ""]
    if p.get("clock") == "cpu":
        out += ["Timed with the process CPU clock (`--clock cpu`), not the wall clock: the "
                f"machine was shared (load average {m.get('load_start')} at the start, "
                f"{m.get('load_end')} at the end, on {m.get('cpus')} CPUs).", ""]
    if data.get("smoke"):
        out += ["**Smoke run: sizes are tiny, the numbers mean nothing.**", ""]

    out += [f"{h2} Machine", "", "| | |", "|---|---|"]
    for k in ("cpu", "cpus", "threads_per_core", "hypervisor", "memory", "os", "python",
              "python_cc", "cxx", "cython", "load_start", "load_end"):
        out.append(f"| {k} | {m.get(k)} |")
    if m.get("caches"):
        out.append("| caches | " + ", ".join(f"{k} {v}" for k, v in m["caches"].items()) + " |")
    out += ["", f"{h2} Libraries", "", "| library | status | details |", "|---|---|---|"]
    for lib, st in libs.items():
        info = st.get("info") or {}
        det = st.get("reason") or ", ".join(
            str(x) for x in (info.get("version"), info.get("module")) if x)
        out.append(f"| {LIB_TITLES[lib]} | {st['status']} | {det.replace('|', '/')} |")

    out += ["", f"{h2} Targets", "",
            "Cost per record (ingest, scan), per query (lookups, ranges) or per original "
            "record (deletes + scan, stream), median. A ratio is how many times "
            "timelog is better than the other library (their cost / timelog's cost), "
            "and for the floor how many times the floor's cost timelog takes. Ingest "
            "rows include the final `flush()`. The fresh floor (range and scan) is the "
            "cost of creating one new `int` and one new tuple per row in a tight loop "
            "(see the method). Bold: target missed.", "",
            "| workload | interpreter | timelog | timelog-lib | SortedKeyList | floor "
            "| fresh floor | vs timelog-lib | vs SortedKeyList | vs floor | vs fresh floor "
            "| verdict |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    interp = f"CPython {data['python']}" if data.get("python") else m.get("python")
    for row in target_rows(data):
        t, v, u = row["target"], row["values"], row["unit"]
        tl = _fmt(v["timelog"], u) + (f" (goal ≤ {_fmt(t.limit, u)})" if t.limit else "")
        out.append(f"| {t.title} | {interp} | {tl} | {_fmt(v['timelog-lib'], u)} | "
                   f"{_fmt(v['sortedcontainers'], u)} | {_fmt(v['floor'], u)} | "
                   f"{_fmt(row['fresh floor'], u)} | "
                   f"{_ratio_cell(row['vs timelog-lib'])} | "
                   f"{_ratio_cell(row['vs SortedKeyList'])} | "
                   f"{_floor_cell(row['vs floor'])} | {_floor_cell(row['vs fresh floor'])} | "
                   f"{row['verdict']} |")
    out += per_interpreter_markdown(data, h2)

    sizes = p["scale_sizes"]
    out += ["", f"{h2} Growth {_count(sizes[0])} → {_count(sizes[-1])}", "",
            "Per-record cost of ingest (`extend` calls of up to 1M records, then "
            "`flush()`) and full scan, and per-query cost of "
            f"{_count(p['lookups'])} random point lookups, at each size; the ratio is "
            "largest size / smallest size. The floor row is `list(chunk)`, the `zip` "
            "scan and `dict.get` at the same sizes. Lookups are judged logarithmic when "
            "their growth is at most 1.3× the growth of `dict.get` (an O(1) lookup, so "
            "its growth is the memory hierarchy alone; log₂ grows 1.22× from 1M to 20M).",
            "",
            "| metric | library | " + " | ".join(_count(s) for s in sizes) +
            " | ratio | goal | verdict |",
            "|---|---|" + "---|" * len(sizes) + "---|---|---|"]
    res = data["results"]
    for row in growth_rows(data):
        for lib in ("timelog", "timelog-lib", "sortedcontainers", "floor"):
            if libs.get(lib, {}).get("status") != "ok":
                continue
            cells = [_fmt(_metric(res, lib, "scaling", row["metric"], str(s))) for s in sizes]
            ratio = row["libs"][lib][2]
            rtxt = f"{ratio:.2f}×" if ratio else "—"
            if lib == "timelog":
                verdict = row["verdict"]
                if row["metric"] == "lookup" and row["judged"]:
                    rtxt += f" ({row['judged']:.2f}× the floor's)"
                if verdict == "MISS":
                    rtxt = f"**{rtxt}**"
                goal = row["note"]
            else:
                verdict, goal = "", ""
            out.append(f"| {row['metric']} | {LIB_TITLES[lib]} | " + " | ".join(cells) +
                       f" | {rtxt} | {goal} | {verdict} |")

    out += ["", f"{h2} All measurements", "",
            "Median per operation [min – max over the runs]; `ops` is what one run "
            "divides by.", "",
            "| workload | metric | ops | " +
            " | ".join(LIB_TITLES[lib] for lib in libs) + " |",
            "|---|---|---|" + "---|" * len(libs)]
    for wl, keys in _workload_keys(data):
        for key in keys:
            metrics = {}
            for lib in libs:
                r = res.get(lib, {}).get(wl, {})
                r = r.get(key, {}) if key else r
                for name, mm in r.get("metrics", {}).items():
                    metrics.setdefault(name, {})[lib] = mm
            label = wl + (f" @ {_count(int(key))}" if key else "")
            for name, per_lib in metrics.items():
                ops = next(iter(per_lib.values()))["ops"]
                cells = []
                for lib in libs:
                    mm = per_lib.get(lib)
                    if not mm:
                        cells.append(_status(res, lib, wl, key))
                        continue
                    u = mm["unit"]
                    scale = 1e9 / mm["ops"] if u == "s" else 1
                    unit = "ns" if u == "s" else "B"
                    cells.append(f"{_fmt(mm['median'] * scale, unit)} "
                                 f"[{_fmt(mm['min'] * scale, unit)} – "
                                 f"{_fmt(mm['max'] * scale, unit)}]")
                out.append(f"| {label} | {name} | {ops:,} | " + " | ".join(cells) + " |")

    errors = [(lib, wl, r) for lib, per in res.items() for wl, r in per.items()
              if isinstance(r, dict) and "error" in r]
    if errors:
        out += ["", f"{h2} Errors", ""]
        out += [f"- {LIB_TITLES[lib]} / {wl}: `{r['error']}`" for lib, wl, r in errors]

    plots = data.get("plots") or []
    if plots:
        out += ["", f"{h2} Plots", ""]
        out += [f"![{name}]({image_prefix}{name})" for name in plots]
    return "\n".join(out) + "\n"


PER_INTERPRETER_COLUMNS = (
    ("point_lookup", "lookup", "log.at(ts)", "dict.get"),
    ("range_100", "range query", "list(log[a:b])", None),
    ("full_scan", "scan", "full scan / record", "zip"),
)


def per_interpreter_markdown(data: dict, h2: str) -> list[str]:
    """timelog alone on each interpreter, each cost with its floors' ratios."""
    per = data.get("per_interpreter") or {}
    if not per:
        return []
    pp = data.get("per_interpreter_params") or data["params"]
    out = ["", f"{h2} timelog per interpreter", "",
           f"This checkout on each interpreter (its own cached venv), {_count(pp['n'])} "
           f"records, point lookups in a log of {_count(pp['lookup_n'])} (not the "
           f"{_count(data['params']['lookup_n'])} above), medians of {pp['repeats']}. "
           "Each cell: timelog's cost, then timelog / floor (`dict.get`, the stored-tuple "
           "slice, `zip` of existing ints) and timelog / fresh floor (a new `int` and a "
           "new tuple per row), both measured on that interpreter.", "",
           "| interpreter | " + " | ".join(title for _, _, title, _ in
                                          PER_INTERPRETER_COLUMNS) + " |",
           "|---|" + "---|" * len(PER_INTERPRETER_COLUMNS)]
    for ver, entry in sorted(per.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))):
        res = entry.get("results", {})
        cells = []
        for wl, metric, _, _ in PER_INTERPRETER_COLUMNS:
            tl = _metric(res, "timelog", wl, metric)
            if tl is None:
                cells.append(_status(res, "timelog", wl, None))
                continue
            fl = _metric(res, "floor", wl, metric)
            fresh = _metric(res, "floor", wl, metric + " (fresh floor)")
            text = _fmt(tl)
            if fl:
                text += f" ({tl / fl:.2f}× floor"
                text += f", {tl / fresh:.2f}× fresh)" if fresh else ")"
            cells.append(text)
        out.append(f"| CPython {ver} | " + " | ".join(cells) + " |")
    return out


def _status(res, lib, wl, key) -> str:
    r = res.get(lib, {}).get(wl)
    if r is None:
        return "—"
    if key and isinstance(r, dict) and key in r:
        r = r[key]
    if "error" in r:
        return "error"
    if "unavailable" in r:
        return "n/a"
    return "—"


def _workload_keys(data):
    seen = {}
    for per in data["results"].values():
        for wl, r in per.items():
            keys = [None]
            if wl == "scaling":
                keys = [str(s) for s in data["params"]["scale_sizes"]]
            seen.setdefault(wl, keys)
    order = list(data["workloads"])
    return sorted(seen.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)


# --- plots ------------------------------------------------------------------------

def make_plots(data: dict, out_dir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping plots (pip install matplotlib)")
        return []
    res = data["results"]
    libs = [lib for lib, st in data["libs"].items() if st.get("status") == "ok"]
    colors = {"timelog": "#1f77b4", "timelog-lib": "#ff7f0e",
              "sortedcontainers": "#2ca02c", "floor": "#7f7f7f"}
    names = []

    rows = [r for r in target_rows(data) if r["unit"] == "ns"]
    if rows:
        fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.5))
        height = 0.8 / len(libs)
        for i, lib in enumerate(libs):
            ys = [j + i * height for j in range(len(rows))]
            xs = [r["values"][lib] or 0 for r in rows]
            ax.barh(ys, xs, height, label=LIB_TITLES[lib], color=colors[lib])
        ax.set_yticks([j + 0.4 - height / 2 for j in range(len(rows))])
        ax.set_yticklabels([r["target"].title for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ns per record / per query (median, log scale, lower is better)")
        ax.legend(fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / "workloads.png", dpi=110)
        plt.close(fig)
        names.append("workloads.png")

    sizes = data["params"]["scale_sizes"]
    if any("scaling" in res.get(lib, {}) for lib in libs):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
        for ax, metric in zip(axes, ("ingest (extend+flush)", "scan", "lookup")):
            for lib in libs:
                ys = [_metric(res, lib, "scaling", metric, str(s)) for s in sizes]
                if any(y is not None for y in ys):
                    ax.plot(sizes, ys, marker="o", label=LIB_TITLES[lib], color=colors[lib])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(metric, fontsize=9)
            ax.set_xlabel("records")
            ax.set_ylabel("ns per record" if metric != "lookup" else "ns per lookup")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "scaling.png", dpi=110)
        plt.close(fig)
        names.append("scaling.png")

    mem = {lib: _metric(res, lib, "memory", "bytes/record") for lib in libs}
    mem = {k: v for k, v in mem.items() if v is not None}
    if mem:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([LIB_TITLES[k] for k in mem], list(mem.values()),
               color=[colors[k] for k in mem])
        ax.axhline(18, color="red", linestyle="--", linewidth=1, label="target ≤ 18 B")
        ax.set_ylabel("bytes per record (payloads excluded)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "memory.png", dpi=110)
        plt.close(fig)
        names.append("memory.png")
    return names


# --- files ------------------------------------------------------------------------

def write_all(data: dict, out_dir: Path, plots: bool, performance_md: Path | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data["plots"] = make_plots(data, out_dir) if plots else []
    (out_dir / "results.json").write_text(json.dumps(data, indent=1, default=repr) + "\n")
    (out_dir / "results.md").write_text(render_markdown(data))
    if performance_md is not None and performance_md.exists():
        rel = out_dir.resolve().relative_to(performance_md.parent.resolve())
        section = render_markdown(data, image_prefix=f"{rel}/", h2="###", title=False)
        section = section.replace("(../performance.md)", "(#method)")
        text = performance_md.read_text()
        if BEGIN in text and END in text:
            new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                         lambda _: f"{BEGIN}\n\n{section}\n{END}", text, flags=re.S)
            performance_md.write_text(new)
