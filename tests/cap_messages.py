"""CAP 1.2 messages as China's meteorological bureaus publish them (a Chinese and an English info), for the tests
of official warnings: the unit tests' engine and the wall in Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from tests.rule_city import T0

# Lianchi and Jingxiu, as a warning would outline them ("lat,lon" pairs, closed), then the east half of it.
WIDE = [(38.80, 115.35), (38.80, 115.60), (38.95, 115.60), (38.95, 115.35), (38.80, 115.35)]
NARROW = [(38.80, 115.48), (38.80, 115.60), (38.95, 115.60), (38.95, 115.48), (38.80, 115.48)]
SEVERITY = {"red": "Extreme", "orange": "Severe", "yellow": "Moderate", "blue": "Minor"}


def message(identifier: str, msg_type: str = "Alert", colour: str = "orange", refs: tuple[str, ...] = (),
            polygon=WIDE, status: str = "Actual", expires_in=timedelta(hours=6), sent: datetime | None = None,
            event=("暴雨", "Rainstorm"), geocode: str | None = None) -> bytes:  # fmt: skip
    """A CAP 1.2 message as China's meteorological bureaus publish them: a Chinese and an English info."""
    sent = sent or T0
    references = " ".join(f"BDQXT,{r},{sent.isoformat()}" for r in refs)
    infos = ""
    for language, name, headline in (("zh-CN", event[0], f"保定市气象台发布暴雨{colour}预警"),
                                     ("en-US", event[1], f"Rainstorm {colour} warning")):  # fmt: skip
        where = f"<polygon>{' '.join(f'{lat},{lon}' for lat, lon in polygon)}</polygon>" if polygon else ""
        where += f"<geocode><valueName>行政区划代码</valueName><value>{geocode}</value></geocode>" if geocode else ""
        infos += (
            f"<info><language>{language}</language><category>Met</category><event>{escape(name)}</event>"
            f"<urgency>Immediate</urgency><severity>{SEVERITY[colour]}</severity><certainty>Likely</certainty>"
            f"<expires>{(sent + expires_in).isoformat()}</expires><headline>{escape(headline)}</headline>"
            "<instruction>Avoid underpasses</instruction>"
            f"<area><areaDesc>{escape('莲池区 竞秀区')}</areaDesc>{where}</area></info>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>BDQXT</sender><sent>{sent.isoformat()}</sent>"
        f"<status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>"
        + (f"<references>{references}</references>" if references else "")
        + (infos if msg_type != "Cancel" else "")
        + "</alert>"
    ).encode()
