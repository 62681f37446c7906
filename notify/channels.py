"""Sending one message by one channel: each a function that either returns or raises SendError (retry: whether
trying again later may help). Network calls have the channel's timeout and no retries of their own: the notifier
(notify/notifier.py) retries with backoff, so a dead endpoint costs a worker a few seconds, not the city its news."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

from notify.settings import ChannelSettings

SIGNATURE = "X-CityOps-Signature"  # sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
TIMESTAMP = "X-CityOps-Timestamp"  # seconds since the epoch; a receiver refuses one far from its clock
# Robots' answers that say "too many, later": WeCom's frequency limit, DingTalk's, Feishu's.
BUSY = {45009, 130101, 410100, 11232}


class SendError(Exception):
    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook's signature, as a receiver computes it to check one (README shows how)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def webhook(channel: ChannelSettings, body: bytes, delivery_id: int) -> None:
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP: str(timestamp),
               "X-CityOps-Delivery": str(delivery_id)}  # fmt: skip
    secret = channel.secret()
    if secret:
        headers[SIGNATURE] = sign(secret, timestamp, body)
    _post(channel, channel.address(), body, headers)


def dingtalk_url(url: str, secret: str | None, now_ms: int | None = None) -> str:
    """DingTalk's signed URL (加签): timestamp in milliseconds, sign = base64(HMAC-SHA256(key = secret, message =
    "timestamp\\nsecret")), URL-encoded."""
    if not secret:
        return url
    timestamp = str(now_ms if now_ms is not None else round(time.time() * 1000))
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign_ = urllib.parse.quote_plus(base64.b64encode(mac))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign_}"


def feishu_signed(body: dict, secret: str | None, now_s: int | None = None) -> dict:
    """Feishu's signature (签名校验): timestamp in seconds, sign = base64(HMAC-SHA256(key = "timestamp\\nsecret",
    message = empty)), both in the body. The key and message are DingTalk's the other way round."""
    if not secret:
        return body
    timestamp = str(now_s if now_s is not None else int(time.time()))
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return {"timestamp": timestamp, "sign": base64.b64encode(mac).decode(), **body}


def robot(channel: ChannelSettings, body: dict) -> None:
    """A group robot's webhook; its answer's error code says whether it took the message."""
    url = channel.address()
    if channel.kind == "dingtalk":
        url = dingtalk_url(url, channel.secret())
    if channel.kind == "feishu":
        body = feishu_signed(body, channel.secret())
    answer = _post(channel, url, json.dumps(body, ensure_ascii=False).encode(),
                   {"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError:
        raise SendError(f"{channel.kind} answered what is not JSON: {answer[:200]!r}") from None
    code = parsed.get("errcode", parsed.get("code", parsed.get("StatusCode", 0)))
    if code not in (0, None):
        message = parsed.get("errmsg") or parsed.get("msg") or ""
        raise SendError(f"{channel.kind} refused it: {code} {message}", retry=code in BUSY)


def email(channel: ChannelSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = channel.sender, to, subject
    message.set_content(body)
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s) as smtp:
            smtp.ehlo()
            if channel.starttls:
                # The server's certificate is checked: against the system's roots, or the city's own CA (ca_file).
                smtp.starttls(context=ssl.create_default_context(cafile=channel.ca_file))
                smtp.ehlo()
            if channel.username:
                smtp.login(channel.username, channel.password() or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"the mail server refused {to}: {exc.recipients}", retry=False) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"the mail server refused the sign-in: {exc.smtp_code}", retry=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"mail: {type(exc).__name__}: {exc}") from None


def _post(channel: ChannelSettings, url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """POST and the answer's body. No error says the URL: a robot's holds its key."""
    try:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=channel.timeout_s) as response:
            return response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        # A 4xx other than "too many" is the message or the address: sending it again will not help.
        raise SendError(f"HTTP {exc.code} {exc.reason}", retry=exc.code == 429 or exc.code >= 500) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, OSError) else "the address cannot be reached"
        raise SendError(f"URLError: {reason}") from None
    except (OSError, TimeoutError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc.strerror or 'timed out'}") from None
    except (ValueError, http.client.HTTPException):  # a malformed URL (its text would carry the key)
        raise SendError(f"channel {channel.id}: its URL is not a valid http(s) URL", retry=False) from None
