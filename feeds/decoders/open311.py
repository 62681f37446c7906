"""Open311 GeoReport v2 service requests (JSON or XML, told apart by the first byte) → hotline events.

Each ticket state is one event (`ticket_open`, `ticket_closed`), so a ticket's history is kept; its id is the
request id with the time it was updated. Invalid JSON is refused with the parser's reason — the specification's
own JSON examples are invalid ("service_code":006) — and an Open311 error response becomes a reason, not data.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feeds.decoders.base import DecodeError, Message, parse_json, parse_time, parse_xml
from store.records import Decoded, Event


def decode(message: Message) -> Decoded:
    body = message.payload.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"<"):
        requests = _from_xml(body)
    else:
        doc = parse_json(body)
        requests = doc if isinstance(doc, list) else [doc]
    if not requests:
        raise DecodeError("no service request in the payload")
    if all(isinstance(r, dict) and "code" in r and "description" in r and "service_request_id" not in r
           for r in requests):  # fmt: skip
        errors = "; ".join(f"{r['code']} {r['description']}" for r in requests)
        raise DecodeError(f"the Open311 server answered with an error: {errors}"[:500])
    events = []
    for n, request in enumerate(requests):
        try:
            events.append(_event(request, message))
        except DecodeError as exc:
            raise DecodeError(f"request {n}: {exc}" if len(requests) > 1 else str(exc)) from None
    return Decoded(events=events)


def _from_xml(body: bytes) -> list[dict[str, Any]]:
    root = parse_xml(body)
    if root.tag == "errors":
        return [{child.tag: (child.text or "").strip() for child in error} for error in root]
    if root.tag not in ("service_requests", "service_request"):
        raise DecodeError(f"not Open311 service requests (root element <{root.tag[:40]}>)")
    items = root if root.tag == "service_requests" else [root]
    return [{child.tag: (child.text or "").strip() or None for child in request} for request in items]


def _time(value: Any, name: str, message: Message) -> datetime | None:
    if value in (None, ""):
        return None
    return parse_time(str(value), name, assume=message.time_zone)


def _event(request: Any, message: Message) -> Event:
    if not isinstance(request, dict):
        raise DecodeError(f"a service request is an object, not {type(request).__name__}")
    request_id = request.get("service_request_id") or request.get("token")
    if request_id in (None, ""):
        raise DecodeError("a service request needs 'service_request_id'")
    requested = _time(request.get("requested_datetime"), "requested_datetime", message)
    updated = _time(request.get("updated_datetime"), "updated_datetime", message) or requested or message.received_at
    lon = lat = None
    if request.get("lat") not in (None, "") and request.get("long") not in (None, ""):
        try:
            lat, lon = float(request["lat"]), float(request["long"])
        except (TypeError, ValueError):
            raise DecodeError(f"lat/long are not numbers: {request['lat']!r}, {request['long']!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise DecodeError(f"lat/long out of range: {lat}, {lon}")
    status = str(request.get("status") or "open").lower()
    service = str(request.get("service_name") or request.get("service_code") or "service request")
    details = [str(request[k]) for k in ("description", "status_notes", "address") if request.get(k)]
    source_id = f"{request_id}@{updated.isoformat()}"
    return Event(
        id=f"{message.feed_id}:{source_id}",
        feed_id=message.feed_id,
        msg_id=source_id,
        domain="hotline",
        type=f"ticket_{status}"[:40],
        ts=updated,
        lon=lon,
        lat=lat,
        title=service[:500],
        description=" · ".join(details)[:4000],
        source_ref=message.source,
        raw=json.dumps(request, ensure_ascii=False, default=str)[:4000],
    )
