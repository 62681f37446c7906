"""File transport: a folder of payloads, and a recording replayed N× faster, through the real writer."""

import json
import time
from datetime import UTC, datetime, timedelta

from feeds.file import FileFeedSettings, FileReplay
from store.duckdb_engine import DuckDBStore
from store.writer import Writer


def run(tmp_path, demo_regions, **settings):
    store = DuckDBStore(tmp_path / "replay.duckdb")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    replay = FileReplay(FileFeedSettings(id="drill", **settings), writer=writer, regions=demo_regions)
    started = time.monotonic()
    replay.run()
    elapsed = time.monotonic() - started
    writer.flush()
    counts = {t: store.cursor().execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("events", "observations", "dead_letters")}  # fmt: skip
    writer.stop()
    store.close()
    return counts, elapsed


def test_a_folder_of_cap_files(tmp_path, demo_regions, fixture_path):
    folder = tmp_path / "warnings"
    folder.mkdir()
    for name in ("australia.cap", "canada.cap", "invalid.cap"):
        (folder / name).write_bytes(fixture_path(f"cap/{name}").read_bytes())
    counts, _ = run(tmp_path, demo_regions, path=folder, decoder="cap", speed=0)
    assert counts["events"] == 2 and counts["dead_letters"] == 1  # invalid.cap lacks scope: kept with its reason


def test_a_recording_replayed_100_times_faster(tmp_path, demo_regions):
    t0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
    lines = [
        json.dumps({"at": (t0 + timedelta(seconds=10 * i)).isoformat(), "source": "baoding/flood/obs/g1",
                    "payload": {"type": "observation", "entity": "g1", "id": f"m{i}", "values": {"level": i}}})
        for i in range(4)
    ]  # fmt: skip
    lines.insert(2, "not a recording line")
    recording = tmp_path / "storm.jsonl"
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts, elapsed = run(tmp_path, demo_regions, path=recording, decoder="cityops-json", speed=100)
    assert counts["observations"] == 4 and counts["dead_letters"] == 1
    assert 0.25 <= elapsed < 3  # 30 s of recording at 100×: about 0.3 s
