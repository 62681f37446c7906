"""Runs the benchmarks and writes BENCHMARKS.md: figure, target, baseline measured in the same run, how, machine.

`make bench` runs them at full size; tests/unit/test_bench.py runs them tiny, to check they still work.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench import city_scale, clients, history, ingest, rules, storm, supervision, wall_latency

# Each returns a row, or a list of rows; in the order of the table.
BENCHMARKS = [
    ingest.run,
    wall_latency.run,
    rules.run,
    storm.run,
    city_scale.run,
    clients.run,
    history.run,
    supervision.run,
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")  # fmt: skip


def report(results: list[dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, by `make bench` (bench/run.py).",
        "Each baseline is measured in the same run; ratios compare the two.",
        "",
        "| what | figure | target | met | baseline | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        lines.append(f"| {r['name']} | {r['figure']} | {r['target']} | {met} | {r['baseline']} | {r['ratio']} |")
    lines.append("")
    for r in results:
        lines += [f"## {r['name']}", "", f"How: {r['how']}.", ""]
        if r.get("limits"):
            lines += [f"What limits it: {r['limits']}.", ""]
    return "\n".join(lines)


def main() -> int:
    results = []
    for bench in BENCHMARKS:
        rows = bench()
        for result in rows if isinstance(rows, list) else [rows]:
            print(f"{result['name']}: {result['figure']} — baseline {result['baseline']} ({result['ratio']})",
                  flush=True)  # fmt: skip
            results.append(result)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("BENCHMARKS.md")
    out.write_text(report(results), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
