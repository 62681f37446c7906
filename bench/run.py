"""Runs the benchmarks and writes BENCHMARKS.md: figure, target, baseline measured in the same run, how, machine.

`make bench` runs them at full size; tests/unit/test_bench.py runs them tiny, to check they still work.
`python -m bench.run BENCHMARKS.md wall_latency …` runs only those named and puts their rows and sections in place of
the file's earlier ones, each section saying when it was measured.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench import city_scale, clients, cluster, history, ingest, rules, storm, supervision, wall_latency, wall_nodes

# Each returns a row, or a list of rows; in the order of the table.
BENCHMARKS = [
    ingest.run,
    cluster.run,
    wall_latency.run,
    wall_nodes.run,
    rules.run,
    storm.run,
    city_scale.run,
    clients.run,
    history.run,
    history.run_postgres,
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
    lines += [row(r) for r in results]
    lines.append("")
    for r in results:
        lines += [f"## {r['name']}", "", f"How: {r['how']}.", ""]
        if r.get("limits"):
            lines += [f"What limits it: {r['limits']}.", ""]
    return "\n".join(lines)


def row(result: dict) -> str:
    met = {True: "yes", False: "**no**", None: "—"}[result["met"]]
    return (f"| {result['name']} | {result['figure']} | {result['target']} | {met} | {result['baseline']} | "
            f"{result['ratio']} |")  # fmt: skip


def replace(path: Path, result: dict, by: str, key: str | None = None) -> None:
    """Put one result's row and section into the file, in place of the earlier ones whose name starts with `key`
    (its name by default), or after the last; its section says when it was measured, on what, and `by` what."""
    key = key or result["name"]
    lines = path.read_text(encoding="utf-8").splitlines()
    old = [i for i, line in enumerate(lines) if line.startswith(f"| {key}")]
    at = old[0] if old else max(i for i, line in enumerate(lines) if line.startswith("| ")) + 1
    lines = [line for i, line in enumerate(lines) if i not in old]
    lines.insert(at, row(result))
    section = f"## {result['name']}\n\nHow: {result['how']}.\n\n"
    if result.get("limits"):
        section += f"What limits it: {result['limits']}.\n\n"
    section += f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, by {by}.\n"
    text, replaced = re.subn(rf"\n## {re.escape(key)}.*?(?=\n## |\Z)", lambda _m: "\n" + section.rstrip("\n"),
                             "\n".join(lines), count=1, flags=re.S)  # fmt: skip
    if not replaced:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("BENCHMARKS.md")
    named = sys.argv[2:]
    if named:
        chosen = [b for b in BENCHMARKS if b.__module__.rsplit(".", 1)[-1] in named]
        if {b.__module__.rsplit(".", 1)[-1] for b in chosen} != set(named):  # a module may hold several
            raise SystemExit(f"no such benchmark among {named}: choose from "
                             f"{[b.__module__.rsplit('.', 1)[-1] for b in BENCHMARKS]}")  # fmt: skip
        for bench in chosen:
            rows = bench()
            for result in rows if isinstance(rows, list) else [rows]:
                print(f"{result['name']}: {result['figure']}", flush=True)
                replace(out, result, by=f"`python -m bench.run {out.name} {' '.join(named)}`")
        print(f"wrote {out}")
        return 0
    results = []
    for bench in BENCHMARKS:
        rows = bench()
        for result in rows if isinstance(rows, list) else [rows]:
            print(f"{result['name']}: {result['figure']} — baseline {result['baseline']} ({result['ratio']})",
                  flush=True)  # fmt: skip
            results.append(result)
    out.write_text(report(results), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
