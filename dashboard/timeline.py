"""A timeline entry as the pages show it (the duty desk's detail, the history's incident): when, what, what it
concerned, who, and the note."""

from __future__ import annotations

import re
from datetime import datetime

from dash import html

from dashboard.i18n import N_
from dashboard.labels import ACTION_LABELS
from dashboard.timefmt import local_time

# Who acts when no person does: the rule engine and the time limits (the timeline keeps these names).
SYSTEM_ACTORS = {"rules": N_("Rules"), "time-limits": N_("Time limits")}
# What they write as a note, in the reader's language (a person's note is shown as it was written).
SYSTEM_NOTES = {"threshold crossed": N_("threshold crossed"), "all cleared": N_("all cleared"),
                "nothing suppresses it any more": N_("nothing suppresses it any more")}  # fmt: skip
STAGE_WORDS = {"acknowledge": N_("acknowledge"), "dispatch": N_("dispatch"), "resolve": N_("resolve"),
               "receipt": N_("sign for"), "report": N_("report done")}  # fmt: skip
_PASSED = re.compile(r"^(\w+) time limit passed(?: at (\S+))?$")


def unit_name(unit, lang: str) -> str:
    """A unit alerts are dispatched to ([[units]]), in the reader's language."""
    return unit.name_zh if lang == "zh_CN" else unit.name_en


def timeline_entry(entry: dict, units: dict, t, lang: str, tz: str) -> html.Li:
    """One entry of the timeline: when, what, what it concerned (the unit, the step, the value), who, and the note."""
    return html.Li(
        className=f"tl-{entry['action']}",
        children=[
            html.Span(local_time(entry["ts"], tz, "%m-%d %H:%M:%S"), className="event-time"),
            html.B(t(ACTION_LABELS.get(entry["action"], entry["action"]))),
            html.Span(entry_extra(entry, units, t, lang), className="tl-extra"),
            html.Span(
                t(SYSTEM_ACTORS[entry["actor"]]) if entry["actor"] in SYSTEM_ACTORS else entry["actor"],
                className="actor",
            ),
            html.Span(note(entry, t, tz), className="note"),  # people's text: rendered as text by React
        ],
    )


def note(entry: dict, t, tz: str) -> str:
    """The entry's note: a person's as written; the rule engine's and the time limits' in the reader's words, a
    time in the city's clock."""
    text = entry["note"] or ""
    if entry["actor"] not in SYSTEM_ACTORS:
        return text
    if text in SYSTEM_NOTES:
        return t(SYSTEM_NOTES[text])
    passed = _PASSED.match(text)
    if passed and passed.group(1) in STAGE_WORDS:
        stage = t(STAGE_WORDS[passed.group(1)])
        if passed.group(2) is None:
            return t("{stage} time limit passed", stage=stage)
        try:
            due = local_time(datetime.fromisoformat(passed.group(2)), tz, "%Y-%m-%d %H:%M")
        except ValueError:
            return text
        return t("{stage} time limit passed at {time}", stage=stage, time=due)
    return text


def entry_extra(entry: dict, units: dict, t, lang: str) -> str:
    """What a timeline entry concerned: the unit dispatched to, the checklist step, the value that raised it, the
    warning's message that changed or cancelled it."""
    details = entry["details"]
    if entry["action"] == "dispatch" and details.get("unit_id") in units:
        return unit_name(units[details["unit_id"]], lang)
    if entry["action"] == "check" and isinstance(details.get("step"), int):
        n = details["step"] + 1
        return t("step {n} done", n=n) if details.get("done", True) else t("step {n} undone", n=n)
    if entry["action"] == "update" and details.get("message"):  # an official warning's Update
        return t("by message {message}", message=details["message"])
    if entry["action"] == "clear" and details.get("cancelled_by"):
        return t("cancelled by message {message}", message=details["cancelled_by"])
    if entry["action"] == "clear" and details.get("expired"):
        return t("the warning expired")
    if entry["action"] in ("fire", "refire") and details.get("value") is not None:
        return f"{details['value']:g}" if isinstance(details["value"], int | float) else str(details["value"])
    return ""
