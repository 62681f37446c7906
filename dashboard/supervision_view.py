"""What the supervision pages and reports share: the controls of their filters, the names of places and units, and
how they write durations, shares, stages and periods, in the reader's language."""

from __future__ import annotations

from dash import dcc, html

from access.policy import permission_allowed
from dashboard import guard
from dashboard.i18n import N_
from dashboard.labels import ALERT_STATE_LABELS, DOMAIN_LABELS, SEVERITY_LABELS
from dashboard.selection import Query
from store import supervision as sql

# The stages of the work as the timeline names them (time limits' overdue_stages), and as figures name them.
STAGE_LABELS = {"acknowledge": N_("Acknowledgement"), "dispatch": N_("Dispatch"), "resolve": N_("Resolve")}
STAGES = (("ack", STAGE_LABELS["acknowledge"]), ("dispatch", STAGE_LABELS["dispatch"]),
          ("resolve", STAGE_LABELS["resolve"]))  # fmt: skip
OVERDUE_LABELS = {"yes": N_("Ran late"), "no": N_("On time")}
KIND_LABELS = {"daily": N_("Daily report"), "weekly": N_("Weekly report"), "monthly": N_("Monthly report")}


def period_controls(q: Query, t, prefix: str) -> list[html.Label]:
    """The first and last day of the period, with ids `<prefix>-from` and `<prefix>-to`."""
    return [html.Label([t("From"), dcc.Input(id=f"{prefix}-from", type="date", value=q.first.isoformat())]),
            html.Label([t("To"), dcc.Input(id=f"{prefix}-to", type="date", value=q.last.isoformat())])]  # fmt: skip


def filter_controls(context, q: Query, t, lang: str, prefix: str, names: tuple[str, ...]) -> list:
    """Dropdowns for the filters `names`, set from the query, with ids `<prefix>-<name>` (figures take some)."""
    principal = guard.current()
    regions = [(r.id, r.name(lang)) for level in ("district", "town") for r in context.regions.level(level)
               if permission_allowed(principal, "view", r.id)]  # fmt: skip
    known = place_names(context.regions, context.org, lang)
    units = [(u.id, known[u.id]) for u in context.org.units.values()] if context.org is not None else []
    choices = {
        "domain": (N_("Domain"), [(d, t(label)) for d, label in DOMAIN_LABELS.items()]),
        "rule": (N_("Rule"), [(r, r) for r in sql.rule_names(context.store.cursor())] if "rule" in names else []),
        "severity": (N_("Severity"), [(s, t(label)) for s, label in SEVERITY_LABELS.items()]),
        "region": (N_("Region"), regions),
        "unit": (N_("Unit"), units),
        "state": (N_("State"), [("open", t("Not ended")), *[(s, t(label)) for s, label in ALERT_STATE_LABELS.items()]]),
        "overdue": (N_("Time limits"), [(v, t(label)) for v, label in OVERDUE_LABELS.items()]),
    }  # fmt: skip
    return [
        html.Label([t(choices[name][0]), dcc.Dropdown(id=f"{prefix}-{name}", value=q.values.get(name),
                                                      placeholder=t("All"),
                                                      options=[{"label": label, "value": v}
                                                               for v, label in choices[name][1]])])
        for name in names
    ]  # fmt: skip


def place_names(regions, org, lang: str) -> dict[str, str]:
    """Region and org unit ids → their names in the reader's language."""
    names = {r.id: r.name(lang) for level in ("district", "town", "grid") for r in regions.level(level)}
    if org is not None:
        names.update({u.id: u.name.en if lang == "en" else u.name.zh_CN for u in org.units.values()})
    return names


def frame_records(rows) -> list[dict]:
    """The rows as dicts, a missing value as None (pandas reads SQL NULLs as NaN, and a column of ids with a NULL
    as floats: those are whole numbers again here)."""
    rows = rows.copy()
    for column in [c for c in rows.columns if c == "id" or c.endswith("_id")]:
        if rows[column].dtype.kind == "f":
            rows[column] = rows[column].astype("Int64")
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def duration(seconds: float | None, t) -> str:
    """A duration as people say it: seconds under two minutes, minutes under two hours, hours under two days, days
    beyond."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return t("{n} s", n=f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}")
    if seconds < 7200:
        return t("{n} min", n=f"{seconds / 60:.0f}" if seconds >= 600 else f"{seconds / 60:.1f}")
    if seconds < 2 * 86400:
        return t("{n} h", n=f"{seconds / 3600:.1f}")
    return t("{n} d", n=f"{seconds / 86400:.1f}")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def stages_text(stages, t) -> str:
    """The stages that ran late, in words."""
    return "、".join(t(STAGE_LABELS.get(s, s)) for s in (stages if stages is not None else []))
