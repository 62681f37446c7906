"""The database after SIGKILL: the DuckDB file opens (its WAL replayed), open alerts, incidents and their timelines
are intact, an action taken a moment before the kill is there, and time limits resume from the stored times — no
incident is escalated twice, and none later than its limit says."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import timedelta

import duckdb

from tests.harness import CityOps, callback_body, http_session, publisher, wait_until

LIMIT_S = 12  # the acknowledge limit of a red incident in this test
LIANCHI, QINGYUAN = (115.4906, 38.8581), (115.4898, 38.7652)  # two districts: an incident each


def raise_alert(client, gauge: str, where: tuple[float, float]) -> None:
    entity = {"type": "entity", "id": gauge, "domain": "flood", "kind": "river_gauge", "name": gauge.upper(),
              "lon": where[0], "lat": where[1]}  # fmt: skip
    client.publish(f"test/flood/entity/{gauge}", json.dumps(entity).encode(), qos=1).wait_for_publish(10)
    reading = {"type": "observation", "entity": gauge, "values": {"water_level": 12.6}}
    client.publish(f"test/flood/obs/{gauge}", json.dumps(reading).encode(), qos=1).wait_for_publish(10)


class DutyDesk:
    """The duty desk's HTTP conversation, as the browser has it: signed in, then callbacks with the CSRF token."""

    def __init__(self, port: int, user: str = "duty"):
        self.base = f"http://127.0.0.1:{port}"
        self.opener, self.jar = http_session(port, user)
        self.dependencies = json.loads(self.opener.open(f"{self.base}/_dash-dependencies", timeout=10).read())

    def acknowledge(self, alert_id: int) -> str:
        spec = next(d for d in self.dependencies if any(i["id"] == "duty-bulk" for i in d["inputs"]))
        values = {"duty-bulk.n_clicks": 1, "duty-checked.data": [alert_id], "duty-lang.data": "en"}
        body = callback_body(spec, values, ["duty-bulk.n_clicks"])
        csrf = next(c.value for c in self.jar if c.name == "cityops_csrf")
        request = urllib.request.Request(f"{self.base}/_dash-update-component", data=body,
                                         headers={"Content-Type": "application/json", "X-CSRFToken": csrf})  # fmt: skip
        return self.opener.open(request, timeout=10).read().decode()


def test_after_sigkill_alerts_timelines_and_time_limits_carry_on(tmp_path, mosquitto):
    limit = {"CITYOPS_ALERTS__TIME_LIMITS__ACKNOWLEDGE__RED": str(LIMIT_S / 60)}
    app = CityOps(tmp_path, mosquitto.port, env=limit)
    try:
        app.start()
        client = publisher(mosquitto.port, "reliability-restart-pub")
        raise_alert(client, "g1", LIANCHI)  # alert 1: its incident acknowledged just before the kill
        raise_alert(client, "g2", QINGYUAN)  # alert 2: its incident left new; its limit passes while down or after
        desk = DutyDesk(app.web_port)
        wait_until(lambda: "Acknowledged 1" in desk.acknowledge(1), 20, "alert 1 acknowledged")
        app.kill()  # at once: the action must already be durable
        killed_at = time.monotonic()
        recovery = app.start()
        time.sleep(max(0.0, LIMIT_S + 6 - (time.monotonic() - killed_at)))  # past alert 2's limit, by stored time
        assert app.stop() == 0
        client.loop_stop()
        client.disconnect()
    finally:
        app.kill()

    with duckdb.connect(str(tmp_path / "cityops.duckdb"), read_only=True) as db:
        alerts = {row[0]: row[1:] for row in db.execute(
            "SELECT id, state, created_at, overdue_stages FROM alerts ORDER BY id").fetchall()}  # fmt: skip
        log = db.execute("SELECT alert_id, action, actor, ts FROM alert_log ORDER BY id").fetchall()
        incidents = {row[0]: row[1:] for row in db.execute(
            "SELECT a.id, i.id, i.state, i.opened_at, i.overdue_stages FROM alerts a JOIN incidents i "
            "ON a.incident_id = i.id").fetchall()}  # fmt: skip
        incident_log = db.execute("SELECT incident_id, action, ts FROM incident_log ORDER BY id").fetchall()
    print(
        f"\nrestart after SIGKILL took {recovery:.1f} s; alerts {alerts}; timeline {[(a, b, c) for a, b, c, _ in log]}"
    )
    assert sorted(alerts) == [1, 2], "an alert was lost or raised again"
    assert alerts[1][0] == "acknowledged"
    assert [(a, action, actor) for a, action, actor, _ in log if a == 1] == [(1, "fire", "rules"),
                                                                           (1, "acknowledge", "duty")]  # fmt: skip
    second, state, opened, marked = incidents[2]
    assert state == "new" and incidents[1][1] == "acknowledged"
    overdue = [ts for i, action, ts in incident_log if i == second and action == "overdue"]
    assert len(overdue) == 1, f"incident {second} escalated {len(overdue)} times"
    late_by = overdue[0] - opened - timedelta(seconds=LIMIT_S)
    # From the stored time: within the checker's period and a restart's pause, not a whole limit after the restart.
    assert timedelta(0) <= late_by < timedelta(seconds=LIMIT_S * 0.75), late_by
    assert marked == ["acknowledge"]
