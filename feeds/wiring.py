"""What the house gives a transport when it starts its feeds (feeds/transports.py): where messages go, where health is
kept, the scheduler that runs pollers and the broker MQTT feeds are read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler

from layers.regions import RegionIndex
from store.database import Store
from store.limits import Limits
from store.writer import Writer


@dataclass(frozen=True)
class Broker:
    """The broker the MQTT feeds are read from and how to sign in: the MQTT transport's connection arguments."""

    host: str
    port: int
    client_id: str  # the defaults of these three are the configuration's ([mqtt])
    protocol: str
    session_expiry_s: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log
    tls: dict | None = None  # paho's tls_set arguments; None: no TLS
    # Several nodes share the MQTT feeds' messages: each subscribes as $share/<group>/<topic> (MQTT 5 shared
    # subscriptions), and the broker hands each message to one of them. None: this node takes every message.
    shared_group: str | None = None


@dataclass(frozen=True)
class Wiring:
    """What the house gives a transport: where its messages go, where its health is kept, and what some share."""

    writer: Writer
    regions: RegionIndex
    store: Store  # feed health (feeds/health.py)
    scheduler: BaseScheduler  # runs the pollers
    broker: Broker  # where the MQTT feeds are read from
    demo_sources: object | None = None  # the demo city's HTTP sources (a SourceServer), for `{demo}/` URLs
    limits: Limits = field(default_factory=Limits)  # sizes of messages, documents and texts (store/limits.py)


class Started(Protocol):
    def stop(self) -> None: ...
