"""A dead endpoint slows neither the web nor ingest (issue 24), measured through the real server: the inbox's answer
time with nobody to tell, and again while the notifier's sends to an endpoint that never answers hold their
workers for their timeout."""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from cityops import DEMO_DIR
from tests.app_config import demo_regions
from tests.browser.test_chain import http_as
from tests.harness import CityOps, publisher, send, wait_until
from tests.integration.test_notify import RED_FIRE

pytestmark = pytest.mark.integration


def answer_times(opener, port: int, n: int = 30) -> list[float]:
    times = []
    for _ in range(n):
        began = time.monotonic()
        opener.open(f"http://127.0.0.1:{port}/inbox?lang=en", timeout=30).read()
        times.append(time.monotonic() - began)
    return times


def test_the_web_answers_as_fast_beside_an_endpoint_that_never_answers(tmp_path, mosquitto):
    hole = socket.socket()  # accepts connections, never answers: each send waits out its timeout
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    org = tmp_path / "org.yaml"
    org.write_text((DEMO_DIR / "org.yaml").read_text(encoding="utf-8").replace(
        "subscriptions:\n", "subscriptions:\n  - {unit: d130606, channel: hole}\n", 1), encoding="utf-8")  # fmt: skip
    channels = (f'[[notify.channels]]\nid = "hole"\nkind = "webhook"\nurl = "http://127.0.0.1:{hole.getsockname()[1]}/"'
                f'\ntimeout_s = 5\nper_minute = 600\n')  # fmt: skip
    server = CityOps(tmp_path, mosquitto.port, rules=RED_FIRE, org=org, channels=channels)
    try:
        server.start()
        port = server.web_port
        opener = http_as(port, "duty-130606")
        answer_times(opener, port, 5)  # warm
        alone = answer_times(opener, port)
        client = publisher(mosquitto.port, "notify-web")
        inside = demo_regions().get("130606009-G01").geometry.representative_point()
        for n in range(12):  # clusters along a line: those in 莲池区 are told to the hole
            send(client, f"test/flood/event/h{n}", {"type": "event", "id": f"h{n}", "domain": "fire",
                                                    "event_type": "hotspot", "lon": inside.x + (n // 3) * 0.05,
                                                    "lat": inside.y})  # fmt: skip
        client.loop_stop()
        wait_until(lambda: server.health()["notifications"]["pending"] >= 1, 30, "sends to the hole under way")
        beside = answer_times(opener, port)
        print(
            f"inbox answer, median of 30: {statistics.median(alone) * 1000:.0f} ms alone, "
            f"{statistics.median(beside) * 1000:.0f} ms beside an endpoint that never answers"
        )
        assert statistics.median(beside) < max(3 * statistics.median(alone), 0.25), (alone, beside)
    finally:
        code = server.stop()
        hole.close()
    assert code == 0, server.log_path.read_text()[-3000:]
