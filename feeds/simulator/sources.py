"""The demo city's systems that CityOps polls over HTTP, each in the format its real counterpart uses.

- `/hydrology/id/stations` — the hydrology bureau's rural river stations in the shape of the UK Environment
  Agency's flood-monitoring API (stations with their measures and latest readings, as `_view=full` gives them);
- `/firms/viirs_24h.csv` — satellite fire detections of the last 24 hours, a NASA FIRMS VIIRS text file;
- `/cap/latest.xml` — the meteorological bureau's latest CAP 1.2 warning (Alert, Update, then Cancel), in
  Chinese and English.

Each answer has an `ETag` and `Last-Modified`, and a conditional request for an unchanged answer gets a 304, so
the poller's conditional path runs in the demo too. The server binds to loopback on a free port of its own: it is
up before the pollers start, whatever port the web app gets.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from feeds.simulator.city import DemoCity

log = logging.getLogger(__name__)

EA_BASE = "http://environment.data.gov.uk/flood-monitoring"  # the shape is EA's, so are the @id forms


class DemoSources:
    def __init__(self, city: DemoCity):
        self.city = city

    def routes(self) -> dict[str, tuple[str, Callable[[], bytes]]]:
        return {
            "/hydrology/id/stations": ("application/json", self.hydrology_stations),
            "/firms/viirs_24h.csv": ("text/csv; charset=utf-8", self.firms_csv),
            "/cap/latest.xml": ("application/xml; charset=utf-8", self.cap_latest),
        }

    def hydrology_stations(self) -> bytes:
        """Each bureau station, its typical range (its warning level) and its stage reading of this minute."""
        city = self.city
        at = (self.city.last_step or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
        items = []
        for i in city.bureau.nonzero()[0]:
            reference = city.ids[i].upper().replace("-", "")
            notation = f"{reference}-level-stage-i-15_min-m"
            items.append({
                "@id": f"{EA_BASE}/id/stations/{reference}",
                "stationReference": reference,
                "label": f"水文站 {reference}",
                "lat": round(float(city.lat[i]), 6),
                "long": round(float(city.lon[i]), 6),
                "status": f"{EA_BASE}/def/core/statusActive",
                "type": [f"{EA_BASE}/def/core/SingleLevel"],
                "stageScale": {"typicalRangeHigh": float(city.warning_level[i]),
                               "maxOnRecord": {"value": float(city.guaranteed_level[i])}},
                "measures": [{
                    "@id": f"{EA_BASE}/id/measures/{notation}",
                    "notation": notation,
                    "parameter": "level",
                    "qualifier": "Stage",
                    "unitName": "m",
                    "latestReading": {"dateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                      "value": round(float(city.river_level[i]), 3)},
                }],
            })  # fmt: skip
        doc = {"meta": {"publisher": "CityOps demo hydrology bureau", "version": "0.9"}, "items": items}
        return json.dumps(doc, ensure_ascii=False).encode()

    def firms_csv(self) -> bytes:
        header = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,"
        lines = [header + "bright_ti5,frp,daynight"]
        for h in self.city.hotspots:
            at = h["at"].astimezone(UTC)
            lines.append(f"{h['lat']:.5f},{h['lon']:.5f},{h['bright_ti4']},0.39,0.36,{at:%Y-%m-%d},{at:%H%M},N,VIIRS,"
                         f"{h['confidence']},2.0NRT,290.1,{h['frp']},{'D' if 0 <= at.hour < 12 else 'N'}")  # fmt: skip
        return ("\n".join(lines) + "\n").encode()

    def cap_latest(self) -> bytes | None:
        """The latest warning message, or None (204 No Content) before the first one."""
        if not self.city.warnings:
            return None
        return cap_message(self.city.warnings[-1], self.city)


# The bureau's warning as it goes: orange over the whole city (its extent), then red over the urban districts.
WARNINGS = {
    "Alert": ("Severe", 3, (114.8, 38.2, 116.3, 39.7), "保定市", (
        ("zh-CN", "暴雨", "保定市气象台发布暴雨橙色预警信号",
         "预计未来3小时内全市将出现50毫米以上降雨，请注意防范城市内涝和山洪。"),
        ("en-US", "Rainstorm", "Baoding Meteorological Observatory: orange rainstorm warning",
         "More than 50 mm of rain is expected across the city within 3 hours: beware of urban waterlogging."),
    )),
    "Update": ("Extreme", 2, (115.38, 38.80, 115.58, 38.95), "竞秀区 莲池区", (
        ("zh-CN", "暴雨", "保定市气象台将暴雨橙色预警信号升级为红色预警信号",
         "竞秀区、莲池区未来2小时内降雨量将达100毫米以上，请停止户外活动，远离低洼地带和下穿通道。"),
        ("en-US", "Rainstorm", "Baoding Meteorological Observatory raises the rainstorm warning to red",
         "More than 100 mm of rain within 2 hours over Jingxiu and Lianchi: stay indoors, keep away from "
         "underpasses and low-lying ground."),
    )),
}  # fmt: skip


def cap_message(warning: dict, city: DemoCity) -> bytes:
    sent = warning["sent"].astimezone(city.tz).isoformat()
    references = ""
    if warning["references"] is not None:
        earlier = warning["references"]
        references = f"<references>BDQXT,{earlier['identifier']},{earlier['sent'].astimezone(city.tz).isoformat()}"
        references += "</references>"
    infos = ""
    if warning["type"] in WARNINGS:
        severity, expires_h, (lon0, lat0, lon1, lat1), area, texts = WARNINGS[warning["type"]]
        # The area as a CAP polygon ("lat,lon" pairs, closed).
        polygon = " ".join(f"{lat},{lon}" for lon, lat in ((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1),
                                                              (lon0, lat0)))  # fmt: skip
        expires = (warning["sent"] + timedelta(hours=expires_h)).astimezone(city.tz).isoformat()
        for language, event, headline, description in texts:
            infos += (
                f"<info><language>{language}</language><category>Met</category><event>{escape(event)}</event>"
                f"<urgency>Immediate</urgency><severity>{severity}</severity><certainty>Likely</certainty>"
                f"<expires>{expires}</expires>"
                f"<senderName>{escape('保定市气象台')}</senderName><headline>{escape(headline)}</headline>"
                f"<description>{escape(description)}</description>"
                f"<area><areaDesc>{escape(area)}</areaDesc><polygon>{polygon}</polygon></area></info>"
            )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{warning['identifier']}</identifier><sender>BDQXT</sender><sent>{sent}</sent>"
        f"<status>Actual</status><msgType>{warning['type']}</msgType><scope>Public</scope>"
        f"{references}{infos}</alert>"
    ).encode()


class SourceServer:
    """A loopback HTTP server for DemoSources, on a free port, in its own thread."""

    def __init__(self, sources: DemoSources, host: str = "127.0.0.1", port: int = 0):
        routes = sources.routes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                path = self.path.split("?", 1)[0]
                if path not in routes:
                    self.send_error(404)
                    return
                content_type, render = routes[path]
                body = render()
                if body is None:  # nothing in force: a warning service answers, with nothing
                    self.send_response(204)
                    self.end_headers()
                    return
                etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", format_datetime(datetime.now(UTC), usegmt=True))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
                log.debug("demo source: " + format, *args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="cityops-demo-sources", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
