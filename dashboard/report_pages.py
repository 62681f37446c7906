"""/reports: the archive of the reports made on schedule (supervision/reports.py), newest first, each as HTML and
PDF; a user sees the reports of the centres whose region is in their scope (the city's only those who see the whole
city). The HTML is served as written, with a policy that lets it style itself and run nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from flask import Flask, Response, abort, send_file

from access.policy import region_scope
from dashboard import guard
from dashboard.inbox_view import FOOT, HEAD, language, render
from dashboard.supervision_view import KIND_LABELS, place_names
from dashboard.timefmt import local_time
from layers.regions import RegionIndex
from store import reports as report_store
from store.database import Store
from store.kept_files import KeptFiles
from supervision import periods

SHOWN = 200
PAGE = (
    HEAD
    + """<h1>{{ title }}</h1>{% if rows %}<ul class="inbox-list">{% for row in rows %}<li class="inbox-row">
<a href="{{ row.pdf or row.html }}"><span class="inbox-title">{{ row.title }}</span>
<span class="inbox-meta">{{ row.meta }}</span></a>
{% if row.pdf %}<a class="report-html" href="{{ row.html }}">HTML</a>{% endif %}</li>{% endfor %}</ul>
{% else %}<p class="inbox-empty">{{ nothing }}</p>{% endif %}"""
    + FOOT
)
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def register(server: Flask, store: Store, folder: Path, regions: RegionIndex, org, timezone: str,
             default_language: str) -> None:  # fmt: skip
    files = KeptFiles(folder, store)

    @server.get("/reports")
    def archive():
        lang, t = language(default_language)
        principal = guard.current()
        rows = report_store.in_scope(store.cursor(), region_scope(principal), SHOWN)
        names = place_names(regions, org, lang)
        shown = [{
            "title": f"{names.get(r['centre_id'], t('City'))} · {t(KIND_LABELS[r['kind']])}",
            "meta": " · ".join([_span(r, timezone), *([t("{n} pages", n=r["pages"])] if r["pages"] else []),
                                local_time(r["created_at"], timezone, "%Y-%m-%d %H:%M")]),
            "pdf": f"/reports/{r['id']}.pdf" if r["pdf_file"] else None, "html": f"/reports/{r['id']}.html",
        } for r in rows]  # fmt: skip
        return render(PAGE, t, lang, t("Reports"), 200, rows=shown, nothing=t("No report has been made yet."))

    @server.get("/reports/<int:report_id>.<kind>")
    def report_file(report_id: int, kind: str):
        found = report_store.get(store.cursor(), report_id, region_scope(guard.current()))
        if kind not in ("html", "pdf") or found is None:
            abort(404)
        name = found["pdf_file"] if kind == "pdf" else found["html_file"]
        path = files.path(name) if name else None
        if path is None:
            abort(404)
        guard.record("report open", f"report {report_id}", detail=name)
        if kind == "pdf":
            return send_file(path, mimetype="application/pdf", download_name=name)
        response = Response(path.read_bytes(), mimetype="text/html")
        response.headers["Content-Security-Policy"] = REPORT_POLICY
        return response


def _span(report: dict, timezone: str) -> str:
    first = pd.Timestamp(report["period_start"]).tz_convert(timezone).date()
    last = (pd.Timestamp(report["period_end"]).tz_convert(timezone) - timedelta(days=1)).date()
    return periods.span(first, last)
