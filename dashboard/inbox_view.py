"""The inbox's pages as the server renders them (dashboard/inbox.py's tasks, dashboard/directive_pages.py's
directives): the frame every page shares, the list of sections, and how a step's outcome is answered (JSON to the
page's script, else a page or a redirect). Jinja escapes every value."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, jsonify, redirect, render_template_string, request

from alerts.chain import Photo
from dashboard import guard
from dashboard.i18n import N_, page_language, translator
from store.attachments import PhotoError, StoredPhoto

# The fixed words of the templates, marked here for the catalogs (templates are not read for them).
WORDS = {"inbox": N_("Inbox"), "sign_out": N_("Sign out"), "nothing": N_("Nothing here."), "to": N_("To"),
         "photos": N_("Photos"), "photo": N_("Photo"), "timeline": N_("Timeline"), "sending": N_("Sending…"),
         "again": N_("No network: sending again in {s} s…"),
         "failed": N_("Not sent: check the network and try again."),
         "too_large": N_("Too large to send at once: send fewer photos."),
         "refused": N_("Not done: your session may have ended. Reload the page.")}  # fmt: skip

HEAD = """<!doctype html><html lang="{{ 'zh-CN' if lang == 'zh_CN' else 'en' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="/assets/cityops.css"><script src="/assets/cityops_inbox.js" defer></script></head>
<body class="inbox-body"><header class="inbox-head"><a href="/inbox" class="inbox-home">{{ w.inbox }}</a>
<span class="inbox-who">{{ who }}</span><a href="?lang={{ other[1] }}">{{ other[0] }}</a>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit">{{ w.sign_out }}</button></form></header><main class="inbox">
{% if message %}<p class="inbox-message" role="alert">{{ message }}</p>{% endif %}"""
FOOT = "</main></body></html>"
LIST = (
    HEAD
    + """<h1>{{ title }}</h1>{% if on_duty %}<p class="inbox-duty">{{ on_duty }}</p>{% endif %}
{% for href, label in links %}<a class="inbox-link" href="{{ href }}">{{ label }}</a>{% endfor %}
{% if search %}<form method="get" action="/inbox" class="inbox-search" role="search"><input type="search" name="q"
value="{{ search.q }}" aria-label="{{ search.label }}" placeholder="{{ search.label }}"><button type="submit">{{
search.label }}</button></form>{% endif %}
{% for heading, rows, total in sections %}<section class="inbox-section"><h2>{{ heading }} <span class="inbox-count">
{{ total }}</span></h2>{% if total > rows|length %}<p class="inbox-more">{{ shown_of.format(n=rows|length, total=total)
}}</p>{% endif %}{% if rows %}<ul class="inbox-list">{% for row in rows %}<li class="inbox-row sev-{{
row.severity }}"><a href="{{ row.href }}"><span class="inbox-title">{{ row.title }}</span><span class="inbox-meta">
{{ row.meta }}</span></a></li>{% endfor %}</ul>{% else %}<p class="inbox-empty">{{ w.nothing }}</p>
{% endif %}</section>{% endfor %}"""
    + FOOT
)


def language(default: str) -> tuple[str, Callable[..., str]]:
    """This request's language (`?lang=`, the user's, the browser's, else `default`) and its translator."""
    lang = page_language(request.args.get("lang"), default)
    return lang, translator(lang)


def unit_name(unit, lang: str) -> str:
    """An organisation unit's name in `lang`."""
    return unit.name.zh_CN if lang == "zh_CN" else unit.name.en


def uploads(field: str, keep: Callable[[bytes], StoredPhoto], at_most: int) -> tuple[Photo, ...]:
    """The files of a form's field, each checked and kept by `keep` (PhotoError says why one is refused)."""
    sent = [f for f in request.files.getlist(field) if f and f.filename]
    if len(sent) > at_most:
        raise PhotoError(f"{at_most} files at most at once", "photos")
    kept = []
    for upload in sent:
        stored = keep(upload.read())
        kept.append(Photo(stored.id, stored.media_type, stored.bytes, stored.width, stored.height,
                          (upload.filename or "file")[-100:]))  # fmt: skip
    return tuple(kept)


def render(template: str, t, lang: str, title: str, status: int, **values) -> Response:
    """An inbox page (HEAD … FOOT) for this request's principal, in `lang`."""
    principal = guard.current()
    other = ("English", "en") if lang == "zh_CN" else ("中文", "zh_CN")
    words = {key: t(text) for key, text in WORDS.items()}
    html = render_template_string(template, w=words, lang=lang, title=title, who=principal.name, other=other,
                                  csrf=principal.csrf, **values)  # fmt: skip
    return Response(html, status=status, mimetype="text/html")


def refused(message: str, code: str, page) -> Response:
    """A refused step: said in JSON to the page's script, else the page again with the message."""
    if wants_json():
        return jsonify({"ok": False, "message": message}), 400 if code != "missing" else 404
    return page(message)


def done(next_path: str) -> Response:
    """A step done: where to go next (JSON to the page's script, else a redirect)."""
    if wants_json():
        return jsonify({"ok": True, "next": next_path})
    return redirect(next_path, 303)


def wants_json() -> bool:
    return "application/json" in request.headers.get("Accept", "")
