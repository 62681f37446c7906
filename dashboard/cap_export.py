"""An alert as OASIS CAP 1.2 (/api/alerts/<id>.cap), for the city's other systems and for the record: for anyone who
may see the alert's district, and audited."""

from __future__ import annotations

from flask import Flask, Response

from access.policy import permission_allowed, place
from alerts.cap import to_cap
from dashboard import guard
from layers.regions import RegionIndex
from store import alerts as alert_store
from store.database import Store


def register(server: Flask, store: Store, regions: RegionIndex, city) -> None:
    @server.get("/api/alerts/<int:alert_id>.cap")
    def alert_cap(alert_id: int):
        alert = alert_store.get(store.cursor(), alert_id)
        if alert is None or not permission_allowed(guard.current(), "view", place(alert)):
            return Response("no such alert\n", status=404, mimetype="text/plain")
        guard.record("alert export", f"alert {alert_id}")
        district = regions.get(alert["district_id"]) if alert["district_id"] else None
        body = to_cap(
            alert,
            sender=f"cityops.{city.name_en.lower()}",
            timezone=city.timezone,
            district_name=(district.name_zh, district.name_en) if district else None,
            district_shape=district.geometry if district else None,
        )
        return Response(body, mimetype="application/cap+xml")
