"""What a notification says, in each channel's format: a versioned JSON document for webhooks and MQTT, a subject and
a body for e-mail, and the documented message shapes of the WeCom, DingTalk and Feishu group robots. Words go
through the translation catalog, in the channel's language."""

from __future__ import annotations

import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dashboard.i18n import N_, translator
from dashboard.labels import SEVERITY_LABELS

SCHEMA = "cityops.notification/1"
EVENT_LABELS = {
    "incident_new": N_("New incident"), "overdue": N_("Time limit passed: {stage}"),
    "escalation": N_("Overdue below, raised to {to}"), "directive": N_("Directive"),
    "chase": N_("Reminder: a directive awaits your answer"), "report": N_("Report ready"),
}  # fmt: skip
STAGE_LABELS = {"acknowledge": N_("acknowledge"), "dispatch": N_("dispatch"), "resolve": N_("resolve"),
                "receipt": N_("sign for"), "report": N_("report done")}  # fmt: skip
# Feishu's card header colours for the four severities.
FEISHU_TEMPLATE = {"red": "red", "orange": "orange", "yellow": "yellow", "blue": "blue"}
WECOM_BYTES = 4096  # the robot's markdown limit


@dataclass(frozen=True)
class Message:
    """One notification as words: a headline ("[Red] New incident"), the incident's title, the lines below it, and
    a link to it."""

    headline: str
    title: str
    lines: tuple[str, ...]
    link: str | None


def words(delivery: dict, lang: str, tz: str, base_url: str | None, unit_names: dict[str, str]) -> Message:
    """A delivery (store.notifications.due's row) said in `lang`."""
    t = translator(lang)
    details = delivery["n_details"]
    stage = t(STAGE_LABELS[details["stage"]]) if details.get("stage") in STAGE_LABELS else ""
    event = t(EVENT_LABELS[delivery["n_event"]], stage=stage, to=unit_names.get(details.get("to", ""), ""))
    severity = t(SEVERITY_LABELS[delivery["n_severity"]]) if delivery["n_severity"] in SEVERITY_LABELS else ""
    when = delivery["n_created_at"].astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    lines = [t("Time: {time}", time=when)]
    if details.get("owner"):
        lines.append(t("Still owed by: {unit}", unit=unit_names.get(details["owner"], details["owner"])))
    link = None
    if base_url and delivery["n_incident_id"]:
        link = f"{base_url.rstrip('/')}/duty?incident={delivery['n_incident_id']}"
    elif base_url and delivery["n_directive_id"]:
        link = f"{base_url.rstrip('/')}/inbox"
    elif base_url and details.get("path"):  # a report's file
        link = f"{base_url.rstrip('/')}{details['path']}"
    title = delivery["n_title_zh"] if lang == "zh_CN" else delivery["n_title_en"]
    return Message(f"[{severity}] {event}" if severity else event, title, tuple(lines), link)


def document(delivery: dict, link: str | None) -> bytes:
    """The webhook's and MQTT's JSON (schema cityops.notification/1): stable field names, both languages."""
    body = {
        "schema": SCHEMA,
        "id": delivery["n_key"],
        "delivery": delivery["id"],
        "event": delivery["n_event"],
        "created_at": delivery["n_created_at"].isoformat(),
        "severity": delivery["n_severity"],
        "domain": delivery["n_domain"],
        "district_id": delivery["n_district_id"],
        "incident_id": delivery["n_incident_id"],
        "task_id": delivery["n_task_id"],
        "directive_id": delivery["n_directive_id"],
        "title": {"zh_CN": delivery["n_title_zh"], "en": delivery["n_title_en"]},
        "details": delivery["n_details"],
        "link": link,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def markdown(message: Message) -> str:
    """The robots' markdown: the headline bold, the title quoted, the lines, the link."""
    text = "\n".join([f"**{message.headline}**", f"> {message.title}", *(f"> {x}" for x in message.lines)])
    return text + (f"\n[{message.link}]({message.link})" if message.link else "")


def wecom(message: Message) -> dict:
    content = markdown(message).encode()[:WECOM_BYTES].decode(errors="ignore")
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk(message: Message) -> dict:
    return {"msgtype": "markdown", "markdown": {"title": message.headline, "text": markdown(message)}}


def feishu(message: Message, severity: str | None) -> dict:
    body = "\n".join([message.title, *message.lines] + ([f"[{message.link}]({message.link})"] if message.link else []))
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": message.headline},
                   "template": FEISHU_TEMPLATE.get(severity or "", "grey")},
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": body}}],
    }}  # fmt: skip


def email(message: Message) -> tuple[str, str]:
    """Subject and plain-text body."""
    body = "\n".join([message.title, "", *message.lines] + (["", message.link] if message.link else []))
    return f"{message.headline}: {message.title}", body
