"""Rules reload while CityOps runs: a bad file keeps the rules in force, a good one replaces them, and open
alerts and pending states stay."""

import json
import os
import time
from datetime import UTC, datetime

from cityops.config import load
from cityops.runtime import start
from feeds.decoders import Message, cityops_json
from store.writer import Envelope
from tests.app_config import CITY

RULE = """
rules:
  - id: high
    domain: flood
    when: {{threshold: {{metric: level, above: {limit}}}}}
    severity: yellow
    title: {{zh_CN: t, en: t}}
    message: {{zh_CN: m, en: m}}
    unit: water_authority
"""


def test_reload_keeps_open_alerts_and_refuses_a_bad_file(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(limit=10), encoding="utf-8")
    (tmp_path / "cityops.toml").write_text(
        CITY + f'[store]\npath = "{tmp_path / "c.duckdb"}"\n[alerts]\nrules = "rules.yaml"\nevaluate_every_s = 1\n',
        encoding="utf-8",
    )
    runtime = start(load(tmp_path / "cityops.toml", environ={}))
    try:
        now = datetime.now(UTC)
        decode = cityops_json.decode
        for item in ({"type": "entity", "id": "g", "domain": "flood", "kind": "gauge", "lon": 115.49, "lat": 38.86},
                     {"type": "observation", "entity": "g", "values": {"level": 12}}):  # fmt: skip
            runtime.writer.put(Envelope("f", now, records=decode(Message("f", "t", json.dumps(item).encode(), now))))
        runtime.writer.flush()
        open_alerts = "SELECT count(*) FROM alerts WHERE state = 'new'"
        assert runtime.store.cursor().execute(open_alerts).fetchone()[0] == 1

        rules.write_text(RULE.format(limit="ten"), encoding="utf-8")
        message = runtime.reload_rules()
        assert "rules.yaml:5" in message and "neither a number nor an attribute" in message
        assert runtime.engine.rules[0].when.threshold.above.value == 10  # the old rules stay in force

        rules.write_text(RULE.format(limit=20), encoding="utf-8")
        os.utime(rules, (time.time() + 5, time.time() + 5))
        runtime.watch_rules()  # what the scheduler does every 2 s
        assert runtime.engine.rules[0].when.threshold.above.value == 20
        assert runtime.store.cursor().execute(open_alerts).fetchone()[0] == 1
    finally:
        runtime.stop()


def test_run_refuses_a_bad_rule_file_before_starting_anything(tmp_path, capsys):
    from cityops.cli import main

    (tmp_path / "rules.yaml").write_text(RULE.format(limit="ten"), encoding="utf-8")
    (tmp_path / "cityops.toml").write_text(
        CITY + f'[store]\npath = "{tmp_path / "c.duckdb"}"\n[alerts]\nrules = "rules.yaml"\n',
        encoding="utf-8",
    )
    assert main(["run", "--config", str(tmp_path / "cityops.toml")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'rules.yaml'}:5: rules[0] (high).when.threshold.above" in err
    assert not (tmp_path / "c.duckdb").exists()  # nothing was started


def test_the_organisation_is_reloaded_while_running_and_a_bad_file_keeps_it(tmp_path):
    """Issue 23: the organisation file changed while CityOps runs is read again; its people's accounts follow, and
    the chain and the routing use the new file. A broken one is refused with its line and the old one stays."""
    from cityops import DEMO_DIR
    from store.audit import search

    org = tmp_path / "org.yaml"
    text = (DEMO_DIR / "org.yaml").read_text(encoding="utf-8")
    org.write_text(text, encoding="utf-8")
    (tmp_path / "cityops.toml").write_text(
        CITY + f'[store]\npath = "{tmp_path / "c.duckdb"}"\n[auth]\npath = "{tmp_path / "a.sqlite"}"\n'
        f'demo_accounts = true\n[alerts]\norg = "org.yaml"\ncalendar = "{DEMO_DIR / "calendar.yaml"}"\n'
        '[[notify.channels]]\nid = "bus"\nkind = "mqtt"\ntopic = "cityops/out/notifications"\n',
        encoding="utf-8",
    )  # fmt: skip
    runtime = start(load(tmp_path / "cityops.toml", environ={}))
    try:
        from alerts.org import apply_to_accounts

        apply_to_accounts(runtime.org, runtime.accounts, "demo-{name}")
        runtime.watch_org()  # the version in force, as `cityops run` notes it
        assert runtime.accounts.get("duty-130629").unit == "d130629"
        held = runtime.chain.org
        # duty-130629 moves to 莲池区's centre; the night officer takes their shifts at 容城县's.
        moved = text.replace(
            '{"account": "duty-130629", "unit": "d130629"', '{"account": "duty-130629", "unit": "d130606"'
        ).replace('"person": "duty-130629"', '"person": "night-130629"')
        org.write_text(moved, encoding="utf-8")
        os.utime(org, (time.time() + 5, time.time() + 5))
        runtime.watch_org()  # what the scheduler does every 2 s
        assert runtime.accounts.get("duty-130629").districts == ("130606",)  # moved to 莲池区's centre
        assert runtime.chain.org is held and held.person("duty-130629").unit == "d130606"  # the same, renewed

        org.write_text(moved.replace('"unit": "d130606", "role"', '"unit": "d9", "role"', 1), encoding="utf-8")
        message = runtime.reload_org()
        assert "org.yaml:" in message and "no unit d9" in message
        assert held.person("duty-130629").unit == "d130606"  # the file in force stays
        assert search(runtime.accounts, "org reload")[0].outcome == "failed"
    finally:
        runtime.stop()
