"""`make soak`'s judgement and its row in BENCHMARKS.md (bench/soak.py), on figures given here: the hour itself runs
only under `make soak`."""

from __future__ import annotations

from bench import soak
from bench.run import replace

LOG_CLEAN = "2026-12-04 08:00:00,001 INFO cityops: CityOps is running\n"


def samples(ms_start: float, ms_end: float) -> list[tuple[float, int, float]]:
    """A duty refresh every 10 s over the hour: 8 KB, taking ms_start, then ms_end in the last ten minutes."""
    minutes = [n / 6 for n in range(int(soak.MINUTES * 6))]
    return [(m, 8_000, (ms_end if m >= soak.MINUTES - 10 else ms_start) / 1000) for m in minutes]


def rss(start_mb: float, end_mb: float) -> list[tuple[float, float]]:
    return [(m / 2, start_mb + (end_mb - start_mb) * m / (2 * soak.MINUTES)) for m in range(int(2 * soak.MINUTES))]


HEALTH = {"observations": 2_000_000, "events": 3_000}


def test_a_quiet_hour_meets_the_targets_and_says_its_figures():
    result = soak.summarise(samples(40, 45), rss(900, 950), [120, 90], 180.0, LOG_CLEAN, HEALTH)
    assert result["met"], result["figure"]
    assert "7.8 KB, p95 40 ms in the first 10 min" in result["figure"] and "p95 45 ms in the last" in result["figure"]
    assert "0 ERROR lines, 0 tracebacks, 0 write conflicts" in result["figure"]


def test_growth_slow_refreshes_errors_and_conflicts_each_fail_it():
    assert not soak.summarise(samples(40, 400), rss(900, 950), [], 0.0, LOG_CLEAN, HEALTH)["met"]
    assert not soak.summarise(samples(40, 45), rss(900, 1_200), [], 0.0, LOG_CLEAN, HEALTH)["met"]
    error = LOG_CLEAN + "2026-12-04 08:10:00,001 ERROR store.writer: a batch listener failed\nTraceback (most recent"
    assert not soak.summarise(samples(40, 45), rss(900, 950), [], 0.0, error, HEALTH)["met"]
    conflict = LOG_CLEAN + "duckdb.TransactionException: Conflict on update!\n"
    assert not soak.summarise(samples(40, 45), rss(900, 950), [], 0.0, conflict, HEALTH)["met"]


def test_its_row_replaces_an_earlier_soaks_in_the_table_and_its_section(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n| what | figure |\n|---|---|\n| Ingest | 1 |\n\n## Ingest\n\nHow: x.\n")
    result = soak.summarise(samples(40, 45), rss(900, 950), [120], 180.0, LOG_CLEAN, HEALTH)
    replace(path, result, by="make soak", key="Soak:")
    replace(path, result, by="make soak", key="Soak:")
    text = path.read_text()
    assert text.count("| Soak:") == 1 and text.count("## Soak:") == 1
    assert text.index("| Ingest |") < text.index("| Soak:") < text.index("## Ingest") < text.index("## Soak:")


def test_a_benchmark_measured_again_takes_the_place_of_its_row_and_section(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# B\n\n| what | figure |\n|---|---|\n| Ingest | 1 |\n| Wall | 2 |\n| Rules | 3 |\n\n"
                    "## Ingest\n\nHow: a.\n\n## Wall\n\nHow: old.\n\n## Rules\n\nHow: c.\n")  # fmt: skip
    again = {"name": "Wall", "figure": "9", "target": "t", "met": True, "baseline": "b", "ratio": "r", "how": "new"}
    replace(path, again, by="`python -m bench.run BENCHMARKS.md wall_latency`")
    text = path.read_text()
    assert "| Wall | 9 | t | yes | b | r |" in text and "| Wall | 2 |" not in text and "How: old" not in text
    assert text.index("| Ingest |") < text.index("| Wall | 9") < text.index("| Rules |")
    assert text.index("## Ingest") < text.index("## Wall") < text.index("How: new") < text.index("## Rules")
    assert "by `python -m bench.run BENCHMARKS.md wall_latency`" in text
