"""`cityops rules test`: stored history (readings and events) replayed through a rule file says what would have fired
and which incidents would have opened, and writes nothing."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.replay import Opened, ReplayError, replay
from alerts.rules import parse_rule_file
from cityops.cli import main
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from store.duckdb_engine import DuckDBStore
from store.writer import Writer
from tests.app_config import CITY
from tests.harness import LIANCHI

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
HOTSPOTS = """
  - id: hotspots
    domain: fire
    when: {count: {event_type: hotspot, min: 3, within_km: 2, window: 1h}}
    severity: orange
    title: {zh_CN: 火点聚集, en: Hotspots}
    message: {zh_CN: m, en: m}
    unit: district_office
groups:
  - id: straw-burning
    title: {zh_CN: "{region}秸秆焚烧", en: "Straw burning in {region}"}
    rules: [hotspots]
    by: district
"""
CROWDS = """
  - id: crowds
    domain: security
    when: {count: {domain: security, event_type: crowding, min: 5, within_km: 1, window: 30m}}
    severity: yellow
    title: {zh_CN: 聚集, en: Crowds}
    message: {zh_CN: m, en: m}
    unit: police
"""
MANCHENG = (115.30, 38.95)  # another district, some 20 km away


def history(path, regions, hotspots=True):
    """Two gauges over an hour: g1 above 10 for 10 minutes, g2 above 10 for one minute only. With `hotspots`, three
    fire hotspots within a kilometre of each other in Lianchi (minutes 10, 25 and 35) and two 45 minutes apart in
    Mancheng, written through the real decoder (which places them in their districts) and writer."""
    store = DuckDBStore(path)
    writer = Writer(store, max_delay=0.01)
    writer.start()
    feed = FeedDecoding("f", cityops_json.decode, to_wgs84("wgs84"))
    items = [{"type": "entity", "id": g, "domain": "flood", "kind": "river_gauge", "name": g.upper(),
              "lon": 115.49, "lat": 38.86} for g in ("g1", "g2")]  # fmt: skip
    for minute in range(60):
        ts = (T0 + timedelta(minutes=minute)).isoformat()
        items.append({"type": "observation", "entity": "g1", "ts": ts,
                      "values": {"level": 11.0 if 20 <= minute < 30 else 8.0}})  # fmt: skip
        items.append(
            {"type": "observation", "entity": "g2", "ts": ts, "values": {"level": 11.0 if minute == 40 else 8.0}}
        )
    if hotspots:
        places = [(10, LIANCHI, 0.0), (25, LIANCHI, 0.004), (35, LIANCHI, 0.008), (5, MANCHENG, 0), (50, MANCHENG, 0)]
        for n, (minute, (lon, lat), shift) in enumerate(places):
            ts = (T0 + timedelta(minutes=minute)).isoformat()
            items.append({"type": "event", "id": f"h{n}", "domain": "fire", "event_type": "hotspot", "ts": ts,
                          "lon": lon + shift, "lat": lat})  # fmt: skip
    for n, item in enumerate(items):
        writer.put(feed.envelope(f"t{n}", json.dumps(item).encode(), T0, regions))
    writer.flush()
    writer.stop()
    store.close()


def test_replay_reports_what_would_have_fired_and_writes_nothing(tmp_path, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    result = replay(path, parse_rule_file(RULES), since=timedelta(hours=2))
    assert [(f.rule_id, f.count) for f in result.fired] == [("high", 1)]
    when, subject, title = result.fired[0].first[0]
    assert subject == "f:g1" and title == "G1 high"
    assert when == T0 + timedelta(minutes=22)  # above from minute 20, for 2 minutes
    store = DuckDBStore(path)
    assert store.cursor().execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    assert store.cursor().execute("SELECT count(*) FROM incidents").fetchone()[0] == 0
    store.close()


def test_events_are_replayed_so_count_rules_fire(tmp_path, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    result = replay(path, parse_rule_file(RULES + HOTSPOTS), since=timedelta(hours=2), regions=demo_regions)
    assert [(f.rule_id, f.count) for f in result.fired] == [("high", 1), ("hotspots", 1)]
    when, subject, title = result.fired[1].first[0]
    assert when == T0 + timedelta(minutes=35)  # the third hotspot near Lianchi; Mancheng's two never make three
    assert subject.startswith("130606:") and title == "Hotspots"
    assert result.without_events == []


def test_the_alerts_are_grouped_into_incidents_as_live(tmp_path, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    result = replay(path, parse_rule_file(RULES + HOTSPOTS), since=timedelta(hours=2), regions=demo_regions)
    assert result.incidents == [
        Opened("high", 1, 1, 0, [(T0 + timedelta(minutes=22), 1, "G1 high")]),  # a rule in no group: its own
        Opened("straw-burning", 1, 1, 0, [(T0 + timedelta(minutes=35), 1, "Straw burning in Lianchi District")]),
    ]


def test_a_count_rule_without_events_of_its_kind_is_named(tmp_path, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions, hotspots=False)
    book = parse_rule_file(RULES + CROWDS + HOTSPOTS)
    assert [r.id for r in replay(path, book, since=timedelta(hours=2)).without_events] == ["crowds", "hotspots"]
    history(tmp_path / "hotspots.duckdb", demo_regions)
    result = replay(tmp_path / "hotspots.duckdb", book, since=timedelta(hours=2))
    assert [r.id for r in result.without_events] == ["crowds"]  # hotspots, but not one crowd
    # Events before the period replayed are not in it.
    early = replay(tmp_path / "hotspots.duckdb", book, since=timedelta(minutes=5))
    assert [r.id for r in early.without_events] == ["crowds", "hotspots"]


def test_a_store_in_use_is_refused_with_a_clear_message(tmp_path, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(ReplayError, match="open in a running cityops"):
            replay(path, parse_rule_file(RULES), since=timedelta(hours=1))
    finally:
        holder.kill()
        holder.wait()


def configure(tmp_path, path, rules):
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    (tmp_path / "cityops.toml").write_text(
        CITY + f'[store]\npath = "{path}"\n[alerts]\nrules = "rules.yaml"\n',
        encoding="utf-8",
    )
    return str(tmp_path / "cityops.toml")


def test_the_command(tmp_path, capsys, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    config = configure(tmp_path, path, RULES + HOTSPOTS)
    assert main(["rules", "test", "--config", config, "--since", "2h"]) == 0
    out = capsys.readouterr().out
    assert "high: 1 alert" in out and "f:g1  G1 high" in out
    assert "hotspots: 1 alert" in out
    assert "would have opened 2 incidents: high 1 (1 alert), straw-burning 1 (1 alert)" in out
    assert "straw-burning  Straw burning in Lianchi District  (1 alert)" in out
    assert "could not fire" not in out
    assert main(["rules", "test", "--config", config, "--since", "2 hours"]) == 2
    assert "is not a duration" in capsys.readouterr().err


def test_the_command_says_when_a_count_rule_has_no_events_to_count(tmp_path, capsys, demo_regions):
    path = tmp_path / "history.duckdb"
    history(path, demo_regions)
    config = configure(tmp_path, path, RULES + CROWDS + HOTSPOTS)
    assert main(["rules", "test", "--config", config, "--since", "2h"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "could not fire" in line]
    assert lines == ["  no events of their kind in these 2h, so these count rules could not fire: "
                     "crowds (security/crowding)"]  # fmt: skip


def test_the_command_says_it_cannot_replay_a_postgresql_store_yet(tmp_path, capsys):
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "cityops.toml").write_text(
        CITY + '[store]\nengine = "postgresql"\nurl = "postgresql://cityops@db1:5432/cityops"\n'
        f'path = "{tmp_path / "cityops.store"}"\n[alerts]\nrules = "rules.yaml"\n',
        encoding="utf-8",
    )
    assert main(["rules", "test", "--config", str(tmp_path / "cityops.toml"), "--since", "2h"]) == 2
    assert "cannot read a PostgreSQL store yet" in capsys.readouterr().err
