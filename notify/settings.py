"""The channels notifications leave by ([[notify.channels]]): each a real protocol, its secrets from the environment.

[[notify.channels]]
id = "ops-webhook"
kind = "webhook"                 # JSON (schema cityops.notification/1), HMAC-SHA256 signed
url = "https://ops.example.org/cityops"
secret_env = "CITYOPS_WEBHOOK_SECRET"

[[notify.channels]]
id = "mail"
kind = "email"                   # SMTP with STARTTLS
host = "smtp.example.org"
port = 587
username = "cityops"
password_env = "CITYOPS_SMTP_PASSWORD"
sender = "cityops@example.org"

[[notify.channels]]
id = "wecom-duty"
kind = "wecom"                   # or "dingtalk", "feishu": a group robot's webhook
url_env = "CITYOPS_WECOM_URL"    # the robot's URL holds its key: kept out of the file
# secret_env = "…"               # DingTalk's and Feishu's signing secret (加签 / 签名校验)

[[notify.channels]]
id = "bus"
kind = "mqtt"                    # republished on CityOps' MQTT connection for other platforms
topic = "cityops/out/notifications"
"""

from __future__ import annotations

import os
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

KINDS = ("webhook", "email", "wecom", "dingtalk", "feishu", "mqtt")


class NotifyError(ValueError):
    """A channel that cannot be used as configured (a missing secret), said at start-up."""


class ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    kind: Literal[KINDS]  # type: ignore[valid-type]
    url: str | None = None
    url_env: str | None = None  # a robot's URL holds its key: from the environment, not the file
    secret_env: str | None = None
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    ca_file: str | None = None  # the CA of a mail server with a certificate of the city's own
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    topic: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5
    per_minute: Annotated[int, Field(ge=1, le=6000)] = 20  # the robots' own limit is 20 a minute (Feishu's 100)
    language: Literal["zh_CN", "en"] = "zh_CN"

    @model_validator(mode="after")
    def _complete(self) -> ChannelSettings:
        needs = {"webhook": ("url",), "email": ("host", "sender"), "wecom": ("url",), "dingtalk": ("url",),
                 "feishu": ("url",), "mqtt": ("topic",)}[self.kind]  # fmt: skip
        for name in needs:
            if name == "url" and self.url_env:
                continue
            if getattr(self, name) is None:
                raise ValueError(
                    f"a channel of kind {self.kind} needs `{name}`" + (" (or url_env)" if name == "url" else "")
                )
        if self.url and self.url_env:
            raise ValueError("give url or url_env, not both")
        if self.url is not None:
            _checked_url(self.url, "url")
        if self.username and not self.starttls:
            raise ValueError("a password is sent over STARTTLS only: keep starttls = true")
        return self

    def address(self) -> str:
        if self.url:
            return self.url
        try:
            return _checked_url(_env(self.url_env, f"channel {self.id}: url_env").strip(), "url_env")
        except ValueError as exc:
            raise NotifyError(f"channel {self.id}: {exc}") from None

    def secret(self) -> str | None:
        return _env(self.secret_env, f"channel {self.id}: secret_env") if self.secret_env else None

    def password(self) -> str | None:
        return _env(self.password_env, f"channel {self.id}: password_env") if self.password_env else None


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ChannelSettings] = Field(default_factory=list)
    attempts: Annotated[int, Field(ge=1, le=50)] = 8  # tries before a delivery is given up (then replayable)
    poll_ms: Annotated[int, Field(ge=50, le=10_000)] = 500
    base_url: str | None = None  # where a message's link leads (the web app as people reach it)

    def check_secrets(self) -> None:
        """NotifyError for a secret the environment does not hold: at start-up, not at the first red alert."""
        for channel in self.channels:
            if channel.kind not in ("email", "mqtt"):
                channel.address()
            channel.secret()
            channel.password()


def _checked_url(url: str, where: str) -> str:
    """An http(s) URL, or ValueError that does not repeat it (a robot's URL holds its key)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise ValueError(f"{where}: not an http(s) URL")
    return url


def _env(name: str | None, where: str) -> str:
    value = os.environ.get(name or "")
    if not value:
        raise NotifyError(f"{where}: the variable {name} is not set")
    return value
