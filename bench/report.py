"""Results as a plain-text table and as JSON (with machine info and every raw sample)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess

from benchmarks.base import format_metric
from runner import BenchResult, Row


def speedup(bench, estuary: Row, base: Row) -> float:
    """How many times faster Estuary is than base (>1 = Estuary faster), whatever the unit."""
    if bench.is_rate:
        return estuary.median / base.median
    return base.median / estuary.median


def ratios(result: BenchResult, estuary: Row) -> dict:
    """Estuary vs every native row, and vs the best mergerfs config (named)."""
    ok = [r for r in result.rows if r.ok and r.median]  # a zero median has no meaningful ratio
    native = {r.short_label: speedup(result.bench, estuary, r) for r in ok if r.kind == "native"}
    mergerfs = [r for r in ok if r.kind == "mergerfs"]
    out = {"vs_native": native}
    if mergerfs:
        best = max(mergerfs, key=lambda r: 1 / speedup(result.bench, estuary, r))
        out["vs_mergerfs"] = {"config": best.target, "ratio": speedup(result.bench, estuary, best)}
    return out


def _ratio_cells(result: BenchResult, row: Row) -> tuple[str, str]:
    if row.kind != "estuary" or not row.ok or not row.median:
        return "", ""
    r = ratios(result, row)
    native = r["vs_native"]
    if len(native) == 1:
        native_cell = f"{next(iter(native.values())):.2f}x"
    else:
        native_cell = ", ".join(f"{v:.2f}x {k}" for k, v in native.items())
    m = r.get("vs_mergerfs")
    return native_cell, (f"{m['ratio']:.2f}x {m['config']}" if m else "")


def table(results: list[BenchResult]) -> str:
    header = ("benchmark", "target", "median", "unit", "runs", "estuary/native", "estuary/mergerfs")
    lines, failures = [header], {}
    for res in results:
        for row in res.rows:
            if row.failure is not None:
                # The reason replaces the remaining cells instead of stretching the median column.
                failures[len(lines)] = row.failure
                lines.append((res.bench.name, row.label, "", "", "", "", ""))
                continue
            lines.append((res.bench.name, row.label, format_metric(row.median), res.bench.unit,
                          str(len(row.samples)), *_ratio_cells(res, row)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(i: int, line: tuple) -> str:
        if i in failures:
            return " | ".join([*(c.ljust(w) for c, w in zip(line[:2], widths)), failures[i]])
        return " | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()

    out = [fmt(0, header), "-+-".join("-" * w for w in widths)]
    out += [fmt(i, line) for i, line in enumerate(lines) if i > 0]
    out.append("ratios: >1 means Estuary is faster (throughput estuary/baseline); "
               "estuary/mergerfs uses the best mergerfs config, named.")
    out += [f"{res.bench.name}: {note}" for res in results for note in res.notes]
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
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mergerfs": _command_output(["mergerfs", "--version"]),
        "find": (_command_output(["find", "--version"]) or "").split("\n")[0],
        "work_fs": _command_output(["findmnt", "-no", "FSTYPE,SOURCE,OPTIONS", "-T", work]),
    }


def result_json(res: BenchResult) -> dict:
    rows = []
    for row in res.rows:
        entry = {"target": row.target, "kind": row.kind, "label": row.label,
                 "status": row.failure or "ok", "median": row.median, "runs": len(row.samples),
                 "samples": row.samples}
        if row.kind == "estuary" and row.ok and row.median:
            entry["ratios"] = ratios(res, row)
        rows.append(entry)
    return {"name": res.bench.name, "unit": res.bench.unit, "description": res.bench.description,
            "rounds": res.rounds, "seconds": round(res.seconds, 1), "notes": res.notes, "rows": rows}


def write_json(path: str, document: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
