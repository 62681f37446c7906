"""Plain pages served before Dash (no session yet) or outside it: sign-in, password change, "not allowed".
Jinja escapes every value."""

from __future__ import annotations

from flask import Response, render_template_string

HEAD = """<!doctype html><html lang="{{ 'zh-CN' if lang == 'zh_CN' else 'en' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="/assets/cityops.css"></head><body class="signin-body"><main class="signin">"""
LOGIN_PAGE = (
    HEAD
    + """<h1>{{ city }}</h1><h2>{{ title }}</h2>
{% if message %}<p class="signin-message" role="alert">{{ message }}</p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label>{{ labels.name }}<input name="name" autocomplete="username" autofocus required></label>
<label>{{ labels.password }}<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="btn">{{ labels.submit }}</button></form>
{% if demo %}<section class="signin-demo"><p>{{ demo_note }}</p><ul>
{% for name, role in demo_accounts %}<li><code>{{ name }}</code> — {{ role }}</li>{% endfor %}</ul>
<p>{{ demo_wall }}</p></section>{% endif %}
<p><a href="/login?lang={{ other[1] }}&amp;next={{ next|urlencode }}">{{ other[0] }}</a></p></main></body></html>"""
)
PAGE = (
    HEAD
    + """<h1>{{ title }}</h1>{% for tag, text in content %}<p class="signin-message">{{ text }}</p>{% endfor %}
{% if form %}<form method="post"{% if form.action %} action="{{ form.action }}"{% endif %}>
<input type="hidden" name="csrf_token" value="{{ form.csrf }}">
{% for name, value in form.hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
{% for name, label in form.fields %}<label>{{ label }}<input name="{{ name }}" type="password" required></label>
{% endfor %}<button type="submit" class="btn">{{ form.submit }}</button></form>{% endif %}
{% for href, text in links %}<p><a href="{{ href }}">{{ text }}</a></p>{% endfor %}</main></body></html>"""
)


def render(template: str, status: int = 200, **values) -> Response:
    return Response(render_template_string(template, **values), status=status, mimetype="text/html")


def plain_text(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")
