"""A scheduled report's pages (supervision/reports.py decides what and when): the period's figures with two charts,
the rankings against the period before, and the late incidents with the feeds' data quality; one HTML document of
three sections, each from a new A4 page, drawn to PDF by WeasyPrint (dashboard/report_pdf.py) with the system's CJK
fonts. Charts are SVG drawn by matplotlib with their
text kept as text, so the PDF sets it in the same font as the rest. Jinja escapes every value."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")  # files, never a screen
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment  # noqa: E402

from dashboard.i18n import N_, translator  # noqa: E402
from dashboard.labels import ALERT_STATE_LABELS, SEVERITY_LABELS  # noqa: E402
from dashboard.report_pdf import to_pdf  # noqa: E402
from dashboard.supervision_view import (  # noqa: E402
    KIND_LABELS,
    STAGES,
    duration,
    frame_records,
    percent,
    place_names,
    stages_text,
)
from dashboard.timefmt import local_time  # noqa: E402
from store import supervision as sql  # noqa: E402
from store.supervision import Selection  # noqa: E402
from supervision import periods, scorecards  # noqa: E402
from supervision.facts import Facts  # noqa: E402
from supervision.figures import STAGE_NAMES, Figures, figures, ranking  # noqa: E402
from supervision.reports import Rendered, ReportRequest  # noqa: E402

LATE_SHOWN = 25  # late incidents on the third page; the history has them all
PAGE = """<!doctype html><html lang="{{ 'zh-CN' if lang == 'zh_CN' else 'en' }}"><head><meta charset="utf-8">
<title>{{ title }}</title><style>
@page { size: A4; margin: 16mm 14mm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 13pt; margin: 5mm 0 2mm; }
.meta { color: #555; margin: 0 0 4mm; }
.page + .page { page-break-before: always; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; }
th, td { border-bottom: 0.5pt solid #bbb; padding: 1.2mm 1.5mm; text-align: left; }
th { color: #444; font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.figures td { width: 25%; } .chart svg { width: 100%; height: auto; max-height: 60mm; }
.better { color: #1b7f3b; } .worse { color: #b54708; }
</style></head><body>
<section class="page"><h1>{{ title }}</h1><p class="meta">{{ meta }}</p>
<h2>{{ w.summary }}</h2><table class="figures">{% for row in summary %}<tr>{% for label, value in row %}
<th>{{ label }}</th><td class="n">{{ value }}</td>{% endfor %}</tr>{% endfor %}</table>
<h2>{{ w.rates }}</h2><div class="chart">{{ rates_chart|safe }}</div>
<h2>{{ w.times }}</h2><div class="chart">{{ times_chart|safe }}</div></section>
<section class="page"><h1>{{ w.rankings }}</h1><p class="meta">{{ against }}</p>
{% for heading, header, rows in rankings %}<h2>{{ heading }}</h2>{% if rows %}<table><tr>{% for h in header %}
<th>{{ h }}</th>{% endfor %}</tr>{% for row in rows %}<tr>{% for cell, style in row %}<td class="{{ style }}">{{ cell }}
</td>{% endfor %}</tr>{% endfor %}</table>{% else %}<p>{{ w.none }}</p>{% endif %}{% endfor %}</section>
<section class="page"><h1>{{ w.late }}</h1><p class="meta">{{ late_count }}</p>{% if late %}<table><tr>
{% for h in late_header %}<th>{{ h }}</th>{% endfor %}</tr>{% for row in late %}<tr>{% for cell in row %}<td>{{ cell }}
</td>{% endfor %}</tr>{% endfor %}</table>{% else %}<p>{{ w.none }}</p>{% endif %}
<h2>{{ w.quality }}</h2>{% if quality %}<table><tr>{% for h in quality_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in quality %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}<p>{{ w.no_quality }}</p>{% endif %}</section></body></html>"""
TEMPLATE = Environment(autoescape=True).from_string(PAGE)  # made by the scheduler, outside any request
WORDS = {
    "summary": N_("The period at a glance"), "rates": N_("On-time rate by stage"),
    "times": N_("MTTA and MTTR, median (minutes)"), "rankings": N_("Rankings"), "none": N_("None."),
    "late": N_("Incidents that ran late"), "quality": N_("Data quality of the departments' feeds"),
    "no_quality": N_("No feed here has an owner."),
}  # fmt: skip


def renderer(facts: Facts, regions, org, feeds: Sequence, zone: str) -> Callable[[ReportRequest], Rendered]:
    """The function supervision/reports.py calls to draw a report."""

    def render(request: ReportRequest) -> Rendered:
        html = report_html(facts, regions, org, feeds, zone, request)
        pdf = to_pdf(html)
        return Rendered(html, pdf[0] if pdf else None, pdf[1] if pdf else 0)

    return render


def report_html(facts: Facts, regions, org, feeds: Sequence, zone: str, request: ReportRequest) -> str:
    t = translator(request.language)
    lang = request.language
    centre, period = request.centre, request.period
    scope = (frozenset({centre.region_id, *(r.id for r in regions.descendants(centre.region_id))})
             if centre.region_id else None)  # fmt: skip
    now = Selection(start=period.start, end=period.end, scope=scope)
    earlier = periods.before(period, zone)
    before = Selection(start=earlier.start, end=earlier.end, scope=scope)
    by = "town" if centre.region_id else "district"
    names = place_names(regions, org, lang)
    working = facts.calendar is not None  # durations as time limits count them, where the city keeps a calendar
    facts.refresh()  # once for this report: its figures and rankings read the same rows
    [total] = figures(facts, now, None, working) or [None]
    groups = [f for f in figures(facts, now, by, working) if f.key is not None]
    rankings = [(t("Ranking of {what}", what=t(N_("Towns") if by == "town" else N_("Districts"))),
                 ranking(facts, now, before, by, working))]  # fmt: skip
    if org is not None:
        rankings.append((t("Ranking of {what}", what=t("Departments")),
                         ranking(facts, now, before, "department", working)))  # fmt: skip
    centre_name = centre.name_en if lang == "en" else centre.name_zh
    title = f"{centre_name} · {t(KIND_LABELS[request.kind])}"
    total_late, late = sql.history(facts.store.cursor(), "incidents", replace(now, overdue=True),
                                   limit=LATE_SHOWN)  # fmt: skip
    return TEMPLATE.render(
        lang=lang, title=title, w={k: t(v) for k, v in WORDS.items()},
        meta=" · ".join([t("{period} · made {made}", period=periods.span(period.first_day, period.last_day),
                             made=local_time(request.made_at, zone, "%Y-%m-%d %H:%M")),
                           t("durations in working time") if working else t("durations on the clock")]),
        summary=_summary(total, t),
        rates_chart=_bars([names.get(f.key, f.key) for f in groups[:12]],
                          {t(label): [(f.rate(stage) or 0) * 100 for f in groups[:12]] for stage, label in STAGES},
                          "%"),
        times_chart=_bars([names.get(f.key, f.key) for f in groups[:12]],
                          {t("MTTA"): [(f.mtta_p50 or 0) / 60 for f in groups[:12]],
                           t("MTTR"): [(f.mttr_p50 or 0) / 60 for f in groups[:12]]}, ""),
        against=t("Against {first} to {last}", first=earlier.first_day.isoformat(), last=earlier.last_day.isoformat()),
        rankings=[(heading, [t("Rank"), t("Name"), t("On time"), t("Change"), t("MTTR median"), t("Incidents"),
                             t("Rank before")], [_ranked(r, names, t) for r in rows]) for heading, rows in rankings],
        late_count=t("{n} incidents ran late.", n=total_late) + (
            " " + t("The first {shown} are listed; the history has them all.", shown=LATE_SHOWN)
            if total_late > LATE_SHOWN else ""),
        late_header=[t("Opened"), t("Title"), t("Place"), t("State"), t("Severity"), t("Late stages")],
        late=[_late(row, names, t, lang, zone) for row in frame_records(late)],
        quality_header=[t("Rank"), t("Department"), t("Score"), t("Available"), t("Timely"), t("Complete"),
                        t("Plausible")],
        quality=_quality(facts.store, period, feeds, names) if centre.region_id is None else [],
    )  # fmt: skip


def _summary(f: Figures | None, t) -> list[list[tuple[str, str]]]:
    if f is None:  # nothing opened in the period
        f = Figures(None, 0, 0, 0, None, None, None, None, dict.fromkeys(STAGE_NAMES, 0),
                    dict.fromkeys(STAGE_NAMES, 0), 0, 0, 0, 0)  # fmt: skip
    return [
        [(t("Incidents"), str(f.incidents)), (t("Not ended"), str(f.open))],
        [(t("MTTA median"), duration(f.mtta_p50, t)), (t("MTTA p90"), duration(f.mtta_p90, t))],
        [(t("MTTR median"), duration(f.mttr_p50, t)), (t("MTTR p90"), duration(f.mttr_p90, t))],
        [(t("On time: {stage}", stage=t(label)), percent(f.rate(stage))) for stage, label in STAGES[:2]],
        [(t("On time: {stage}", stage=t(STAGES[2][1])), percent(f.rate(STAGES[2][0]))),
         (t("On time"), percent(f.rate()))],
        [(t("Ran late"), str(f.overdue)), (t("Escalated"), str(f.escalations))],
        [(t("Returned"), str(f.returned)), (t("Reopened"), str(f.reopened))],
    ]  # fmt: skip


def _ranked(r, names: dict, t) -> list[tuple[str, str]]:
    f = r.figures
    change = r.rate_change
    return [
        (str(r.rank), "n"), (names.get(f.key, f.key), ""), (percent(f.rate()), "n"),
        ("—" if change is None else t("{n} pt", n=f"{change * 100:+.0f}"),
         "n better" if change and change > 0 else "n worse" if change else "n"),
        (duration(f.mttr_p50, t), "n"), (str(f.incidents), "n"), (str(r.previous_rank or "—"), "n"),
    ]  # fmt: skip


def _late(row: dict, names: dict, t, lang: str, zone: str) -> list[str]:
    return [
        local_time(row["opened_at"], zone, "%m-%d %H:%M"), row["title_en"] if lang == "en" else row["title_zh"],
        " · ".join(names.get(r, r) for r in (row["district_id"], row["town_id"]) if r),
        t(ALERT_STATE_LABELS.get(row["state"], row["state"])),
        t(SEVERITY_LABELS.get(row["severity"], row["severity"])),
        stages_text(row["overdue_stages"], t),
    ]  # fmt: skip


def _quality(store, period, feeds: Sequence, names: dict) -> list[list[str]]:
    cards = scorecards.scorecards(store, period.start, period.end, feeds)
    return [[str(r.rank or "—"), names.get(r.id, r.id), percent(r.score), percent(r.card.availability),
             percent(r.card.timely), percent(r.card.completeness), percent(r.card.plausible)]
            for r in scorecards.ranking(scorecards.by_department(cards))]  # fmt: skip


def _bars(labels: list[str], series: dict[str, list[float]], suffix: str) -> str:
    """A grouped bar chart as SVG, its text kept as text (set by the PDF's fonts)."""
    with plt.rc_context({"svg.fonttype": "none", "font.family": ["Noto Sans CJK SC", "DejaVu Sans"],
                         "font.size": 9}):  # fmt: skip
        figure, axes = plt.subplots(figsize=(7.2, 2.1))
        width = 0.8 / max(len(series), 1)
        for n, (name, values) in enumerate(series.items()):
            axes.bar([i + n * width for i in range(len(labels))], values, width, label=name)
        axes.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels, rotation=20,
                        ha="right")  # fmt: skip
        if suffix:
            axes.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0f}{suffix}")
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(frameon=False, ncols=len(series), loc="upper left", bbox_to_anchor=(0, 1.18))
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # the document's XML header does not belong inside HTML
