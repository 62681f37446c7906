"""`cityops rules test`: stored history replayed through rules says what would have fired and writes nothing."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.replay import ReplayError, replay
from alerts.rules import parse_rules
from cityops.cli import main
from feeds.decoders import Message, cityops_json
from store.database import Store
from store.writer import Envelope, Writer

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
RULES = """
rules:
  - id: high
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: level, above: 10}}
    for: 2m
    severity: yellow
    title: {zh_CN: "{name} 高", en: "{name} high"}
    message: {zh_CN: m, en: m}
    unit: water_authority
"""


def history(path):
    """Two gauges over an hour: g1 above 10 for 10 minutes, g2 above 10 for one minute only."""
    store = Store(path)
    writer = Writer(store, max_delay=0.01)
    writer.start()
    decode = cityops_json.decode
    items = [{"type": "entity", "id": g, "domain": "flood", "kind": "river_gauge", "name": g.upper(),
              "lon": 115.49, "lat": 38.86} for g in ("g1", "g2")]  # fmt: skip
    for minute in range(60):
        ts = (T0 + timedelta(minutes=minute)).isoformat()
        items.append({"type": "observation", "entity": "g1", "ts": ts,
                      "values": {"level": 11.0 if 20 <= minute < 30 else 8.0}})  # fmt: skip
        items.append(
            {"type": "observation", "entity": "g2", "ts": ts, "values": {"level": 11.0 if minute == 40 else 8.0}}
        )
    for n, item in enumerate(items):
        writer.put(Envelope("f", T0, records=decode(Message("f", f"t{n}", json.dumps(item).encode(), T0))))
    writer.flush()
    writer.stop()
    store.close()


def test_replay_reports_what_would_have_fired_and_writes_nothing(tmp_path):
    path = tmp_path / "history.duckdb"
    history(path)
    fired = replay(path, parse_rules(RULES), since=timedelta(hours=2))
    assert [(f.rule_id, f.count) for f in fired] == [("high", 1)]
    when, subject, title = fired[0].first[0]
    assert subject == "f:g1" and title == "G1 high"
    assert when == T0 + timedelta(minutes=22)  # above from minute 20, for 2 minutes
    store = Store(path)
    assert store.cursor().execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    store.close()


def test_a_store_in_use_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "history.duckdb"
    history(path)
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(ReplayError, match="open in a running cityops"):
            replay(path, parse_rules(RULES), since=timedelta(hours=1))
    finally:
        holder.kill()
        holder.wait()


def test_the_command(tmp_path, capsys):
    path = tmp_path / "history.duckdb"
    history(path)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    from cityops import DEMO_DIR

    (tmp_path / "cityops.toml").write_text(
        f'[city]\nname_zh = "保定市"\nname_en = "Baoding"\nregions = "{DEMO_DIR}/regions.geojson"\n'
        f'center = [115.47, 38.93]\n[store]\npath = "{path}"\n[alerts]\nrules = "rules.yaml"\n',
        encoding="utf-8",
    )
    assert main(["rules", "test", "--config", str(tmp_path / "cityops.toml"), "--since", "2h"]) == 0
    out = capsys.readouterr().out
    assert "high: 1 alert" in out and "f:g1  G1 high" in out
    assert main(["rules", "test", "--config", str(tmp_path / "cityops.toml"), "--since", "2 hours"]) == 2
    assert "is not a duration" in capsys.readouterr().err
