"""Behind a TLS-terminating reverse proxy, through the real server (waitress) on a socket: the proxy's word about the
scheme and the browser's address is believed when `web.trusted_proxies` says so, and only then. Flask's test client
skips waitress, which strips X-Forwarded-* unless told which proxy to trust, so only a socket shows this."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest

from store import audit
from store.accounts import Accounts
from tests.harness import CityOps

pytestmark = pytest.mark.integration
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Host": "ops.city.example"}


def ask(port: int, method: str, path: str, headers: dict[str, str], body: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.body = response.read().decode(errors="replace")
    connection.close()
    return response


def cookies(response) -> dict[str, str]:
    """Each Set-Cookie by name, with its attributes."""
    return {c.split("=", 1)[0]: c for c in response.headers.get_all("Set-Cookie") or []}


def sign_in(port: int, headers: dict[str, str]):
    form = ask(port, "GET", "/login", headers)
    jar = {name: c.split(";", 1)[0] for name, c in cookies(form).items()}
    csrf = jar["cityops_login_csrf"].split("=", 1)[1]
    body = urllib.parse.urlencode({"name": "duty", "password": "demo-duty", "csrf_token": csrf})
    return form, ask(port, "POST", "/login", {**headers, "Cookie": "; ".join(jar.values()),
                                              "Content-Type": "application/x-www-form-urlencoded"}, body)  # fmt: skip


def test_behind_a_trusted_proxy_the_browsers_scheme_and_address_are_believed(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port, env={"CITYOPS_WEB__TRUSTED_PROXIES": "1"})
    app.start()
    try:
        form, signed_in = sign_in(app.web_port, FORWARDED)
        assert "Secure" in cookies(form)["cityops_login_csrf"]
        assert signed_in.status in (302, 303), signed_in.status
        assert "Secure" in cookies(signed_in)["cityops_session"] and "Secure" in cookies(signed_in)["cityops_csrf"]
        assert signed_in.headers["Strict-Transport-Security"].startswith("max-age=")
        assert signed_in.headers["Location"].startswith(("/", "https://ops.city.example/"))
        # The page's callbacks come from the https origin the browser sees: they pass the origin check.
        session = {n: c.split(";", 1)[0] for n, c in cookies(signed_in).items()}
        csrf = session["cityops_csrf"].split("=", 1)[1]
        answer = ask(
            app.web_port,
            "POST",
            "/_dash-update-component",
            {
                **FORWARDED,
                "Origin": "https://ops.city.example",
                "X-CSRFToken": csrf,
                "Cookie": "; ".join(session.values()),
                "Content-Type": "application/json",
            },
            '{"output": "nothing.children", "outputs": {"id": "nothing", "property": "children"}, "inputs": []}',
        )
        assert "CSRF" not in answer.body, answer.body  # refused, if at all, for being no known callback
    finally:
        assert app.stop() == 0
    entries = audit.search(Accounts(tmp_path / "accounts.sqlite"), text="sign in")
    assert entries and {e.address for e in entries} == {"198.51.100.7"}  # the browser's, not the proxy's


def test_without_a_trusted_proxy_its_headers_are_not_believed(tmp_path, mosquitto):
    app = CityOps(tmp_path, mosquitto.port)
    app.start()
    try:
        form, signed_in = sign_in(app.web_port, FORWARDED)
        assert "Secure" not in cookies(signed_in)["cityops_session"]
        assert "Strict-Transport-Security" not in signed_in.headers
    finally:
        assert app.stop() == 0
    entries = audit.search(Accounts(tmp_path / "accounts.sqlite"), text="sign in")
    assert {e.address for e in entries} == {"127.0.0.1"}
