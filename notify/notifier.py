"""The notifier: a thread of its own that turns the outbox's notifications into deliveries by the organisation's
subscriptions, and sends those whose time has come.

- One notification per change (the store's outbox key), one delivery per channel and recipient: two subscriptions
  that lead to the same robot send one message.
- Quiet hours hold back all but red until they end. Each channel keeps its own rate (a robot takes 20 a minute):
  what is over waits its turn rather than being refused.
- A failed send is tried again after 2, 4, 8 … s (10 minutes at most), then given up ("dead": visible, replayable);
  a refusal that retrying cannot mend (a wrong address) is given up at once.
- Sends run on a few worker threads with each channel's timeout, outside any transaction, each recorded as it
  ends, two at most per channel: a dead endpoint holds two workers for its timeout, never the other channels, the
  writer, the rule engine or the web.
- Delivery is at least once: a process killed between a send and its record sends it again at the next start (the
  webhook's `id` and `X-CityOps-Delivery` let a receiver drop the repeat).
- Each delivery sent or given up is written in its incident's timeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.org import Organisation, Subscription
from notify import channels, messages
from notify.settings import ChannelSettings, NotifySettings
from store import directives as directive_store
from store import incidents as incident_store
from store import notifications as outbox
from store.database import Store
from store.transaction import retrying, transaction

log = logging.getLogger("cityops.notify")
LONGEST_WAIT = timedelta(minutes=10)
WORKERS = 4
PER_CHANNEL = 2  # sends in flight on one channel at most: a slow one keeps the other workers for the others


class Notifier:
    def __init__(self, store: Store, org: Organisation, settings: NotifySettings, tz: str,
                 publish: Callable[[str, bytes], None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 leading: Callable[[], bool] = lambda: True):  # fmt: skip
        """`publish(topic, payload)`: CityOps' MQTT connection, for channels of kind "mqtt"; `leading()`: whether
        this node leads (several nodes: the leader alone tells people, cityops/leadership.py)."""
        self.leading = leading
        self.store = store
        self.org = org
        self.settings = settings
        self.channels = {c.id: c for c in settings.channels}
        self.tz = ZoneInfo(tz)
        self.publish = publish
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}  # each channel's sends in the last minute (monotonic)
        self._in_flight: dict[int, str] = {}  # deliveries a worker is sending now, and their channels
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="notify")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, and let the sends in flight end and be recorded (before the store closes): one cut off
        here would be sent again at the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.poll_ms / 1000):
            if not self.leading():
                continue
            try:
                self.step()
            except Exception:  # the notifier must outlive a bad moment of the store; the next poll tries again
                log.exception("the notifier's step failed")

    def step(self) -> int:
        """Match what is new, send what is due; how many deliveries were tried."""
        self.match()
        return self.send_due()

    # -- matching ------------------------------------------------------------------------------------------------

    def match(self) -> int:
        """The outbox's new notifications as deliveries, by the subscriptions; how many deliveries were made."""
        made: list[dict] = []

        def work() -> None:
            made.clear()
            cur = self.store.cursor()
            with transaction(cur):
                pending = outbox.unmatched(cur)
                now = self.clock()
                for n in pending:
                    for sub in self.org.file.subscriptions:
                        if sub.channel in self.channels and self._concerns(sub, n):
                            made.append({"notification_id": n["id"], "channel": sub.channel, "recipient": sub.to,
                                         "next_at": self._after_quiet(sub, n, now)})  # fmt: skip
                outbox.matched(cur, [n["id"] for n in pending], made, now)

        retrying(work)
        return len(made)

    def _concerns(self, sub: Subscription, n: dict) -> bool:
        if n["event"] not in sub.events or (sub.severity and n["severity"] not in sub.severity):
            return False
        if sub.domains and n["domain"] not in sub.domains:
            return False
        place = [r for r in (n["grid_id"], n["town_id"], n["district_id"]) if r]
        if sub.regions is not None:
            return bool(place) and any(r.id in sub.regions for r in self.org.regions.ancestors(place[0]))
        unit_id = sub.unit if sub.unit is not None else self.org.person(sub.person).unit
        if unit_id in n["units"]:
            return True
        unit = self.org.units.get(unit_id)
        if unit is None or unit.kind != "centre":
            return False  # a department hears of what is given to it
        region = self.org.regions.get(unit.regions[0])
        if region is not None and region.level == "city":
            return True
        return bool(place) and any(r.id in unit.regions for r in self.org.regions.ancestors(place[0]))

    def _after_quiet(self, sub: Subscription, n: dict, now: datetime) -> datetime:
        """Now; or, within the subscription's quiet hours and for anything but red, when they end."""
        if sub.quiet is None or n["severity"] == "red":
            return now
        begin, end = sub.quiet
        local = now.astimezone(self.tz)
        clock = local.time()
        inside = begin <= clock < end if begin < end else clock >= begin or clock < end
        if not inside:
            return now
        ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if ends <= local:
            ends += timedelta(days=1)
        return ends.astimezone(UTC)

    # -- sending -------------------------------------------------------------------------------------------------

    def send_due(self) -> int:
        """Hand the deliveries whose time has come to the workers (not those being sent); how many."""
        now = self.clock()
        with self._lock:
            due = [d for d in outbox.due(self.store.cursor(), now) if d["id"] not in self._in_flight]
            busy = dict.fromkeys(self.channels, 0)
            for channel in self._in_flight.values():
                busy[channel] = busy.get(channel, 0) + 1
        gone = [d for d in due if d["channel"] not in self.channels]
        if gone:  # its channel was taken out of the configuration: given up, replayable once it is back
            self._record(gone, [channels.SendError("no such channel now", retry=False)] * len(gone))
        ready, held = [], []
        for delivery in (d for d in due if d["channel"] in self.channels):
            if busy[delivery["channel"]] >= PER_CHANNEL:
                continue  # the next poll takes it
            if self._take_turn(delivery["channel"]):
                busy[delivery["channel"]] += 1
                ready.append(delivery)
            else:
                held.append(delivery)
        if held:
            self._postpone(held, now)
        for delivery in ready:
            with self._lock:
                self._in_flight[delivery["id"]] = delivery["channel"]
            self._pool.submit(self._send_and_record, delivery)
        return len(ready)

    def idle(self) -> bool:
        """Whether no delivery is being sent (for tests and a clean stop)."""
        with self._lock:
            return not self._in_flight

    def _send_and_record(self, delivery: dict) -> None:
        try:
            error = self._send(delivery)
            self._record([delivery], [error])
        except Exception:
            log.exception("recording delivery %s failed", delivery["id"])
        finally:
            with self._lock:
                self._in_flight.pop(delivery["id"], None)

    def _take_turn(self, channel_id: str) -> bool:
        """Whether the channel may send one more within its rate (a sliding minute)."""
        sent = self._sent.setdefault(channel_id, deque())
        cutoff = time.monotonic() - 60
        while sent and sent[0] < cutoff:
            sent.popleft()
        if len(sent) >= self.channels[channel_id].per_minute:
            return False
        sent.append(time.monotonic())
        return True

    def _send(self, delivery: dict) -> channels.SendError | None:
        channel = self.channels[delivery["channel"]]
        try:
            _deliver(channel, delivery, self._message(channel, delivery), self.publish)
        except channels.SendError as exc:
            return exc
        except Exception as exc:  # a channel's bug is that delivery's failure, not the notifier's end
            log.exception("sending delivery %s failed", delivery["id"])
            return channels.SendError(f"{type(exc).__name__}: {exc}")
        return None

    def _message(self, channel: ChannelSettings, delivery: dict) -> messages.Message:
        names = {u.id: (u.name.zh_CN if channel.language == "zh_CN" else u.name.en) for u in self.org.units.values()}
        return messages.words(delivery, channel.language, str(self.tz), self.settings.base_url, names)

    def _postpone(self, held: list[dict], now: datetime) -> None:
        def work() -> None:
            cur = self.store.cursor()
            with transaction(cur):
                for delivery in held:
                    outbox.update(cur, delivery["id"], {"next_at": now + timedelta(seconds=5)})

        retrying(work)

    def _record(self, tried: list[dict], results: list[channels.SendError | None]) -> None:
        now = self.clock()

        def work() -> None:
            cur = self.store.cursor()
            with transaction(cur):
                for delivery, error in zip(tried, results, strict=True):
                    self._outcome(cur, delivery, error, now)

        retrying(work)
        self.store.bump_version("handling")

    def _outcome(self, cur, delivery: dict, error: channels.SendError | None, now: datetime) -> None:
        attempts = delivery["attempts"] + 1
        if error is None:
            outbox.update(cur, delivery["id"], {"state": "sent", "attempts": attempts, "sent_at": now,
                                                "last_error": None})  # fmt: skip
            outcome = "sent"
        elif error.retry and attempts < self.settings.attempts:
            wait = min(timedelta(seconds=2**attempts), LONGEST_WAIT)
            outbox.update(cur, delivery["id"], {"attempts": attempts, "next_at": now + wait,
                                                "last_error": str(error)[:500]})  # fmt: skip
            return  # a retry to come: the timeline says how it ended, not every try
        else:
            outbox.update(cur, delivery["id"], {"state": "dead", "attempts": attempts, "last_error": str(error)[:500]})
            outcome = "failed"
            log.warning("notification %s by %s given up: %s", delivery["n_key"], delivery["channel"], error)
        said = {"channel": delivery["channel"], "recipient": delivery["recipient"], "event": delivery["n_event"],
                "outcome": outcome, "delivery": delivery["id"], "attempts": attempts}  # fmt: skip
        if delivery["n_directive_id"]:
            directive_store.log(cur, delivery["n_directive_id"], delivery["n_details"].get("receipt"), now, "notify",
                                "notify", "" if error is None else str(error)[:500], said)  # fmt: skip
        incident = incident_store.get(cur, delivery["n_incident_id"]) if delivery["n_incident_id"] else None
        if incident is not None:
            incident_store.log(cur, incident["id"], now, "notify", "notify", incident["state"], incident["state"],
                               "" if error is None else str(error)[:500], said)  # fmt: skip


def _deliver(channel: ChannelSettings, delivery: dict, message: messages.Message,
             publish: Callable[[str, bytes], None] | None) -> None:  # fmt: skip
    if channel.kind == "webhook":
        channels.webhook(channel, messages.document(delivery, message.link), delivery["id"])
    elif channel.kind == "email":
        if not delivery["recipient"]:
            raise channels.SendError("an e-mail subscription names no address (`to`)", retry=False)
        channels.email(channel, delivery["recipient"], *messages.email(message))
    elif channel.kind == "wecom":
        channels.robot(channel, messages.wecom(message))
    elif channel.kind == "dingtalk":
        channels.robot(channel, messages.dingtalk(message))
    elif channel.kind == "feishu":
        channels.robot(channel, messages.feishu(message, delivery["n_severity"]))
    elif channel.kind == "mqtt":
        if publish is None:
            raise channels.SendError("no MQTT connection to publish on")
        publish(channel.topic, messages.document(delivery, message.link))
