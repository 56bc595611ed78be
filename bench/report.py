"""Results as a plain-text table and as JSON (with machine info and every raw sample)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from dataclasses import dataclass

from benchmarks.base import Benchmark, Goal, format_metric, part_views
from runner import BenchResult, Row


@dataclass
class View:
    """What the report shows as one benchmark: a single-part benchmark, or one part of a
    multi-part one (named "<benchmark>-<part>")."""
    bench: Benchmark       # for a part: a Benchmark describing the part (name, unit, goals)
    group: str             # the benchmark that ran it
    rows: list[Row]
    result: BenchResult


def views(results: list[BenchResult]) -> list[View]:
    return [View(view, res.bench.name, [r for r in res.rows if r.part == part], res)
            for res in results for part, view in part_views(res.bench)]


def speedup(bench, estuary: Row, base: Row) -> float:
    """How many times faster Estuary is than base (>1 = Estuary faster), whatever the unit."""
    if bench.is_rate:
        return estuary.median / base.median
    return base.median / estuary.median


def ratios(view: View, estuary: Row) -> dict:
    """Estuary vs every native row, and vs the best mergerfs config (named)."""
    ok = [r for r in view.rows if r.ok and r.median]  # a zero median has no meaningful ratio
    native = {r.short_label: speedup(view.bench, estuary, r) for r in ok if r.kind == "native"}
    mergerfs = [r for r in ok if r.kind == "mergerfs"]
    out = {"vs_native": native}
    if mergerfs:
        best = max(mergerfs, key=lambda r: 1 / speedup(view.bench, estuary, r))
        out["vs_mergerfs"] = {"config": best.target, "ratio": speedup(view.bench, estuary, best)}
    return out


def goal_status(view: View, goal: Goal) -> dict:
    """{"goal", "status": met | NOT met | not measured, "ratio", "why"} for Estuary's row."""
    out = {"goal": goal.describe(), "status": "not measured", "ratio": None, "why": None}
    estuary = next((r for r in view.rows if r.kind == "estuary"), None)
    if estuary is None or not estuary.ok or not estuary.median:
        out["why"] = (estuary.failure if estuary and estuary.failure else "no Estuary measurement")
        return out
    r = ratios(view, estuary)
    if goal.baseline == "mergerfs":
        ratio = r["vs_mergerfs"]["ratio"] if "vs_mergerfs" in r else None
    elif len(r["vs_native"]) == 1:
        ratio = next(iter(r["vs_native"].values()))
    else:
        ratio = None
    if ratio is None:
        out["why"] = f"no {goal.baseline} measurement"
        return out
    out.update(status="met" if ratio >= goal.min_ratio else "NOT met", ratio=ratio)
    return out


def _ratio_cells(view: View, row: Row) -> tuple[str, str]:
    if row.kind != "estuary" or not row.ok or not row.median:
        return "", ""
    r = ratios(view, row)
    native = r["vs_native"]
    if len(native) == 1:
        native_cell = f"{next(iter(native.values())):.2f}x"
    else:
        native_cell = ", ".join(f"{v:.2f}x {k}" for k, v in native.items())
    m = r.get("vs_mergerfs")
    return native_cell, (f"{m['ratio']:.2f}x {m['config']}" if m else "")


def _goal_cell(view: View, row: Row) -> str:
    if row.kind != "estuary" or not view.bench.goals:
        return ""
    return "; ".join(f"{g.describe()}: {goal_status(view, g)['status']}" for g in view.bench.goals)


def table(results: list[BenchResult]) -> str:
    vs = views(results)
    with_alt = any(v.bench.alt_unit for v in vs)
    with_goals = any(v.bench.goals for v in vs)
    header = ("benchmark", "target", "median", "unit", "runs", *(("also",) if with_alt else ()),
              "estuary/native", "estuary/mergerfs", *(("goal",) if with_goals else ()))
    lines, failures = [header], {}
    for view in vs:
        for row in view.rows:
            if row.failure is not None:
                # The reason replaces the remaining cells instead of stretching the median column.
                failures[len(lines)] = row.failure
                lines.append((view.bench.name, row.label, *[""] * (len(header) - 2)))
                continue
            alt = ()
            if with_alt:
                alt = (f"{format_metric(row.alt_median)} {view.bench.alt_unit}"
                       if view.bench.alt_unit and row.alt_median is not None else "",)
            goal = (_goal_cell(view, row),) if with_goals else ()
            lines.append((view.bench.name, row.label, format_metric(row.median), view.bench.unit,
                          str(len(row.samples)), *alt, *_ratio_cells(view, row), *goal))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(i: int, line: tuple) -> str:
        if i in failures:
            return " | ".join([*(c.ljust(w) for c, w in zip(line[:2], widths)), failures[i]])
        return " | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()

    out = [fmt(0, header), "-+-".join("-" * w for w in widths)]
    out += [fmt(i, line) for i, line in enumerate(lines) if i > 0]
    out.append("ratios: >1 means Estuary is faster (throughput estuary/baseline); "
               "estuary/mergerfs uses the best mergerfs config, named.")
    goals = [(v, g) for v in vs for g in v.bench.goals]
    if goals:
        out.append("goals (from the issue):")
        width = max(len(v.bench.name) for v, _ in goals)
        for v, g in goals:
            s = goal_status(v, g)
            detail = f"{s['ratio']:.2f}x" if s["ratio"] is not None else s["why"]
            out.append(f"  {v.bench.name.ljust(width)}  estuary {g.describe():<16} {s['status']:<12} ({detail})")
    notes = [(res.bench.name, n) for res in results for n in res.notes + res.bench.notes]
    out += [f"{name}: {note}" for name, note in notes]
    return "\n".join(out)


def _command_output(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(work: str) -> dict:
    cpu = None
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem_kib / 2**20, 1),
        "loadavg_at_start": load,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mergerfs": _command_output(["mergerfs", "--version"]),
        "fio": _command_output(["fio", "--version"]),
        "find": (_command_output(["find", "--version"]) or "").split("\n")[0],
        "work_fs": _command_output(["findmnt", "-no", "FSTYPE,SOURCE,OPTIONS", "-T", work]),
    }


def results_json(res: BenchResult) -> list[dict]:
    """One entry per reported benchmark (every part of a multi-part benchmark separately)."""
    out = []
    for view in views([res]):
        rows = []
        for row in view.rows:
            entry = {"target": row.target, "kind": row.kind, "label": row.label,
                     "status": row.failure or "ok", "median": row.median, "runs": len(row.samples),
                     "samples": row.samples}
            if view.bench.alt_unit:
                entry["alt_median"] = row.alt_median
            if row.kind == "estuary" and row.ok and row.median:
                entry["ratios"] = ratios(view, row)
            rows.append(entry)
        out.append({"name": view.bench.name, "group": view.group, "unit": view.bench.unit,
                    "alt_unit": view.bench.alt_unit, "description": view.bench.description,
                    "goals": [goal_status(view, g) for g in view.bench.goals],
                    "rounds": res.rounds, "seconds": round(res.seconds, 1),
                    "notes": res.notes + res.bench.notes, "rows": rows})
    return out


def write_json(path: str, document: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
