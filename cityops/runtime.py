"""Starts the parts as threads of one process (DuckDB allows one process per file) and stops them in order."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.chain import Chain
from alerts.engine import RuleEngine
from alerts.journal_reader import JournalReader
from alerts.org import Organisation, OrgError, apply_to_accounts
from alerts.rules import Rule, RuleError, Sop, load_rule_file
from alerts.time_limits import TimeLimits, check_working_time
from alerts.working_time import Working
from cityops.broker import Account, Mosquitto, PythonBroker, embedded_broker
from cityops.config import ConfigError, Settings
from cityops.control import ControlServer, ask
from cityops.control import socket_path as control_socket
from cityops.overruns import scheduler_logger
from dashboard.report_view import renderer
from feeds import health, transports
from feeds.wiring import Broker
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex
from notify.mqtt_out import MqttPublisher
from notify.notifier import Notifier
from notify.settings import NotifyError
from store import audit, backup, nodes, retention
from store.accounts import Accounts
from store.attachments import AttachmentFiles, beside
from store.database import Store
from store.duckdb_engine import DuckDBStore
from store.leadership import Leadership
from store.writer import Writer
from supervision import scorecards
from supervision.facts import Facts
from supervision.reports import Reports, reports_folder

log = logging.getLogger("cityops")
# The web threads share the interpreter with ingest, the writer and the snapshot thread. A request takes the
# interpreter lock back after each wait on I/O, and with a busy thread holding it that can take up to the switch
# interval each time (the convoy effect). A shorter interval served the wall's map cells at city scale markedly
# faster with no loss of ingest (bench/city_scale.py and bench/ingest.py measure both).
SWITCH_INTERVAL_S = 0.001
# A full collection of the cyclic garbage collector holds the interpreter lock while it walks every container
# object, and under a steady stream it came every few seconds: every thread, the wall's answers too, stood still
# meanwhile (bench/wall_latency.py). The objects alive once the city is loaded (modules, the app's layouts, the
# snapshot's features) are frozen out of it (gc.freeze), and the youngest generation is collected less often.
GC_THRESHOLDS = (20_000, 20, 20)
GC_FREEZE_AFTER_S = 60.0
INGEST_USER, SIMULATOR_USER, NOTIFY_USER = "cityops", "cityops-simulator", "cityops-notify"  # embedded accounts
NO_BROKER = "this CityOps runs no embedded broker ([broker] embedded = false)"


@dataclass
class Runtime:
    settings: Settings
    regions: RegionIndex
    reference: ReferenceLayers
    store: Store
    writer: Writer
    scheduler: BackgroundScheduler
    engine: RuleEngine
    time_limits: TimeLimits
    accounts: Accounts
    sops: dict[str, Sop] = field(default_factory=dict)  # the rule file's; updated in place on reload
    transports: list = field(default_factory=list)  # what feeds.transports started: MQTT client, file replays
    control: ControlServer | None = None
    broker: Mosquitto | PythonBroker | None = None
    simulator: object | None = None
    sources: object | None = None  # the demo city's HTTP sources
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rules_mtime: float | None = None
    org: Organisation | None = None  # the command chain ([alerts] org); reloaded in place when its file changes
    chain: Chain | None = None  # tasks down the chain, when there is an organisation
    notifier: Notifier | None = None  # tells people off the screen, when there are channels
    publisher: MqttPublisher | None = None  # the notifier's MQTT connection, for channels of kind "mqtt"
    org_mtime: float | None = None
    facts: Facts | None = None  # each incident's figures (supervision), kept current by the scheduler
    reports: Reports | None = None  # the reports made on schedule ([reports])
    leadership: Leadership | None = None  # whether this node leads; its heartbeat
    journal: JournalReader | None = None  # the leader's rule engine following every node's batches (PostgreSQL)

    def leading(self) -> bool:
        return self.leadership is not None and self.leadership.leading

    def leader_only(self, job: Callable[[], object]) -> Callable[[], None]:
        """`job` as the scheduler runs it on every node: done by the leader alone."""

        def run() -> None:
            if self.leading():
                job()

        return run

    def on_leading(self, leading: bool) -> None:
        """This node became the leader, or stopped being it."""
        if self.journal is None:
            return
        if leading:
            self.engine.resume()
            self.journal.start()
        else:
            self.journal.stop()

    def reload_rules(self) -> str:
        """Load the rule file again (on change, or an admin's request); a bad file keeps the rules running."""
        path = self.settings.alerts.rules
        if path is None:
            return "no rule file configured"
        try:
            book = load_rule_file(path)
            rules = book.rules
            check_units(rules, self.settings)
            check_layers(rules, self.settings)
            check_working_time(rules, self.time_limits.calendar)
        except (RuleError, ConfigError) as exc:
            log.error("the rule file was not reloaded; the previous rules stay in force:\n%s", exc)
            audit.record(self.accounts, "rule file", "rules reload", str(path), "failed", str(exc))
            return str(exc)
        self.engine.set_rules(rules, book)
        self.time_limits.set_rules(rules, book)
        self.sops.clear()
        self.sops.update(book.sops)
        log.info("reloaded %d rules from %s", len(rules), path)
        audit.record(self.accounts, "rule file", "rules reload", str(path), detail=f"{len(rules)} rules")
        return f"{len(rules)} rules loaded"

    def watch_rules(self) -> None:
        path = self.settings.alerts.rules
        if path is None or not path.exists():
            return
        mtime = path.stat().st_mtime
        if mtime != self.rules_mtime:
            self.rules_mtime = mtime
            self.reload_rules()

    def reload_org(self) -> str:
        """Load the organisation file again; a bad file keeps the one in force. Accounts follow the new file."""
        path = self.settings.alerts.org
        try:
            newer = self.settings.organisation(self.regions)
            if newer is not None and self.chain is not None:
                check_chain_limits(newer, self.chain.calendar)
            check_notify(self.settings, newer)
        except (OrgError, ConfigError) as exc:
            log.error("the organisation file was not reloaded; the one in force stays:\n%s", exc)
            audit.record(self.accounts, "organisation file", "org reload", str(path), "failed", str(exc))
            return str(exc)
        self.org.take(newer)
        for line in apply_to_accounts(self.org, self.accounts, self._demo_password()):
            log.info("%s", line)
        audit.record(self.accounts, "organisation file", "org reload", str(path),
                     detail=f"{len(newer.units)} units, {len(newer.file.people)} people")  # fmt: skip
        return f"{len(newer.units)} units loaded"

    def watch_org(self) -> None:
        path = self.settings.alerts.org
        if self.org is None or path is None or not path.exists():
            return
        mtime = path.stat().st_mtime
        if mtime != self.org_mtime:
            if self.org_mtime is not None:
                self.reload_org()
            self.org_mtime = mtime

    def _demo_password(self) -> str | None:
        from dashboard.signin import DEMO_PASSWORD

        return DEMO_PASSWORD if self.settings.auth.demo_accounts else None

    def stop(self) -> None:
        # What feeds the store stops before what it reads from (a poll of the demo's sources must not fail for
        # the stop), and the scheduler before the store it writes to closes.
        self.scheduler.shutdown(wait=False)
        for part in (self.journal, self.leadership, self.notifier, self.publisher):
            if part is not None:
                part.stop()
        for part in (self.control, self.simulator, *self.transports, self.sources):
            if part is not None:
                part.stop()
        self.writer.stop()
        if self.broker is not None:
            self.broker.stop()
        self.store.close()
        self.accounts.close()


def check_chain_limits(org: Organisation, calendar) -> None:
    """ConfigError when the organisation counts a task's limits in working time and the city keeps no calendar."""
    limits = org.file.time_limits
    values = [v for stage in ("receipt", "report") for v in ((getattr(limits, stage) or {}).values()
              if isinstance(getattr(limits, stage), dict) else [getattr(limits, stage)])]  # fmt: skip
    if calendar is None and any(isinstance(v, Working) for v in values):
        raise ConfigError("the organisation's time_limits count working time (wh, wd): give the city's working "
                          "calendar: [alerts] calendar = \"calendar.yaml\"")  # fmt: skip


def notifications_command(store: Store, request: dict) -> dict:
    """`cityops notifications list|replay`, answered by the server (or on a store no server holds)."""
    from store import notifications as outbox

    cur = store.cursor()
    if request.get("action") == "replay":
        ids = [int(i) for i in request.get("ids") or []] or [d["id"] for d in outbox.deliveries(cur, "dead", None)]
        return {"replayed": outbox.replay(cur, ids, datetime.now(UTC))}
    rows = outbox.deliveries(cur, request.get("state"), 200)
    return {"deliveries": [{"id": r["id"], "state": r["state"], "channel": r["channel"], "event": r["event"],
                            "attempts": r["attempts"], "title": r["title_zh"], "last_error": r["last_error"]}
                           for r in rows]}  # fmt: skip


def check_notify(settings: Settings, org: Organisation | None) -> None:
    """ConfigError for a channel whose secret the environment lacks, or a subscription to no channel: at start-up,
    not at the first red alert."""
    try:
        settings.notify.check_secrets()
    except NotifyError as exc:
        raise ConfigError(f"[[notify.channels]] {exc}") from None
    channels = {c.id for c in settings.notify.channels}
    for n, sub in enumerate(org.file.subscriptions if org is not None else []):
        if sub.channel not in channels:
            raise ConfigError(f"{settings.alerts.org}: subscriptions[{n}]: no channel {sub.channel!r} among "
                              f"[[notify.channels]] ({', '.join(sorted(channels)) or 'none configured'})")  # fmt: skip


def notify_publisher(settings: Settings, embedded) -> MqttPublisher | None:
    """The notifier's MQTT connection: the embedded broker's account for it, or [mqtt]'s broker and sign-in."""
    if not any(c.kind == "mqtt" for c in settings.notify.channels):
        return None
    mqtt = settings.mqtt
    if embedded is not None:
        account = embedded.accounts[NOTIFY_USER]
        return MqttPublisher(embedded.host, embedded.port, f"{mqtt.client_id}-notify", account.username,
                             account.password)  # fmt: skip
    return MqttPublisher(mqtt.host, mqtt.port, f"{mqtt.client_id}-notify", mqtt.username, mqtt.password(),
                         mqtt.tls_options())  # fmt: skip


def check_units(rules: list[Rule], settings: Settings) -> None:
    """Every rule's responsible unit type must have at least one unit to dispatch to."""
    types = {u.type for u in settings.units}
    missing = sorted({(r.unit, r.id) for r in rules if r.unit not in types})
    if missing and settings.units:
        listed = ", ".join(f"{unit} (rule {rule_id})" for unit, rule_id in missing)
        raise ConfigError(f"no unit of these types is configured in [[units]]: {listed}")


def check_layers(rules: list[Rule], settings: Settings) -> None:
    """Every layer a rule is `near` must be one of the configured reference layers."""
    known = {layer.id for layer in settings.layers}
    missing = sorted({(r.near.layer, r.id) for r in rules if r.near is not None and r.near.layer not in known})
    if missing:
        listed = ", ".join(f"{layer} (rule {rule_id})" for layer, rule_id in missing)
        raise ConfigError(f"rules are near layers that [[layers]] does not configure: {listed}; configured: "
                          f"{', '.join(sorted(known)) or 'none'}")  # fmt: skip


def start(settings: Settings) -> Runtime:
    """Everything but the web server: broker (demo), store, writer, ingest, rules, scheduler, simulator."""
    book = load_rule_file(settings.alerts.rules) if settings.alerts.rules else None  # a bad file stops start-up here
    rules = book.rules if book else []
    check_units(rules, settings)
    check_layers(rules, settings)
    # Before anything starts: bad time limits, calendar, region or layer files stop start-up here.
    limits = TimeLimits(settings.alerts.time_limits, rules, book, calendar=settings.working_calendar())
    calendar_until = limits.calendar.until if limits.calendar is not None else None
    if calendar_until is not None and calendar_until < datetime.now(UTC).date() + timedelta(days=45):
        log.warning("the working calendar %s holds the years until %s only: after it, working days are Monday to "
                    "Friday without holidays; add the next year's State Council notice",
                    settings.alerts.calendar, calendar_until)  # fmt: skip
    regions = settings.city.regions()
    reference = settings.reference_layers()
    org = settings.organisation(regions)
    if org is not None:
        check_chain_limits(org, limits.calendar)
    check_notify(settings, org)
    mqtt = settings.mqtt
    # The embedded broker signs our clients in with accounts of its own; [mqtt]'s are for a broker of yours (a
    # missing secret stops start-up here, before anything runs).
    mqtt_password = None if settings.broker.embedded else mqtt.password()
    # The broker before the store: the folders it makes on the way to its data stay passable for the user mosquitto
    # runs as, where the store would make them the service's alone.
    embedded = start_broker(settings) if settings.broker.embedded else None
    store = open_store(settings)
    writer = Writer(
        store,
        queue_size=settings.store.queue_size,
        max_delay=settings.store.batch_max_delay_ms / 1000,
        max_rows=settings.store.batch_max_rows,
    )
    writer.start()
    scheduler = BackgroundScheduler(timezone="UTC", logger=scheduler_logger())
    every = settings.alerts.evaluate_every_s
    engine = RuleEngine(store, rules, book=book, regions=regions, reference=reference, org=org)
    accounts = open_accounts(settings, store)
    runtime = Runtime(settings, regions, reference, store, writer, scheduler, engine, limits, accounts,
                      dict(book.sops) if book else {}, broker=embedded, org=org)  # fmt: skip
    if store.engine == "duckdb":
        writer.listeners.append(engine.on_batch)  # one node: the batches it writes are all there are
    else:  # several nodes: the leader's engine follows what each of them stored
        runtime.journal = JournalReader(store, engine)
    leader_only = runtime.leader_only
    if org is not None:
        runtime.chain = Chain(store, org, limits.calendar)
        scheduler.add_job(leader_only(lambda: runtime.chain.escalate(datetime.now(UTC))), "interval", seconds=every,
                          id="chain-escalation", max_instances=1, coalesce=True)  # fmt: skip
        scheduler.add_job(runtime.watch_org, "interval", seconds=2, id="org-file", max_instances=1, coalesce=True)
    if org is not None and settings.notify.channels:
        runtime.publisher = notify_publisher(settings, embedded)
        runtime.notifier = Notifier(store, org, settings.notify, settings.city.timezone,
                                    publish=runtime.publisher.publish if runtime.publisher else None,
                                    leading=runtime.leading)  # fmt: skip
        runtime.notifier.start()
    runtime.control = ControlServer(control_socket(settings.store.path), {
        "ping": lambda _request: {"ok": True},
        "backup": lambda request: {"manifest": backup.make(store, settings.auth.path, Path(request["to"]))},
        # `cityops simulate` from a process of its own: the embedded broker's simulator account, which exists only
        # in this process; the socket answers the service's user alone.
        "simulator": lambda _request: simulator_access(settings, embedded) if embedded else {"error": NO_BROKER},
        "notifications": lambda request: notifications_command(store, request),
        "status": lambda _request: nodes.status(store, runtime.leadership.leader() if runtime.leadership else None),
    })  # fmt: skip
    runtime.control.start()
    city = None
    if settings.simulator.enabled:
        from feeds.simulator.sources import DemoSources, SourceServer

        city = demo_city(settings, regions)
        runtime.sources = SourceServer(DemoSources(city))
        runtime.sources.start()
        log.info("demo city's HTTP sources on %s", runtime.sources.url)
    if settings.alerts.rules is not None:
        runtime.rules_mtime = settings.alerts.rules.stat().st_mtime  # the version now in force

    stale_after = {f.id: f.stale_after_s for f in settings.feeds}
    scheduler.add_job(
        leader_only(lambda: health.check_silence(store, stale_after, runtime.started_at)),
        "interval",
        seconds=5,
        id="feed-silence",
        max_instances=1,
        coalesce=True,
    )
    # Writes heal the store when they fail; this heals it when nothing is written (DuckDB invalidates on fatal errors).
    scheduler.add_job(store.heal, "interval", seconds=5, id="store-heal", max_instances=1, coalesce=True)
    # One job keeps the summaries current and removes what retention allows: roll-ups must not run side by side,
    # and the feeds' hours (their scorecards) are rolled up before retention removes the readings they count.
    keep = settings.store.keep_observations_days

    def summaries() -> None:
        try:
            scorecards.roll_up(store, datetime.now(UTC))
        except Exception:  # the scorecards' hours wait for the next minute; retention must not
            log.exception("the feeds' hours could not be rolled up")
        retention.apply(store, keep, settings.city.timezone)

    scheduler.add_job(leader_only(summaries), "interval", minutes=1, id="summaries-retention", max_instances=1,
                      coalesce=True)  # fmt: skip
    scheduler.add_job(leader_only(engine.tick), "interval", seconds=every, id="rules", max_instances=1, coalesce=True)
    scheduler.add_job(leader_only(lambda: limits.check(store, None)), "interval", seconds=every, id="time-limits",
                      max_instances=1, coalesce=True)  # fmt: skip
    scheduler.add_job(runtime.watch_rules, "interval", seconds=2, id="rule-file", max_instances=1, coalesce=True)
    # Supervision's figures follow the incidents' timelines a minute behind at most (a page asks for the rest).
    runtime.facts = Facts(store, limits.calendar)
    scheduler.add_job(leader_only(runtime.facts.refresh), "interval", minutes=1, id="figures", max_instances=1,
                      coalesce=True, next_run_time=datetime.now(UTC))  # fmt: skip
    if settings.reports.enabled:
        runtime.reports = Reports(store, reports_folder(settings.store.path), settings.reports, settings.city.timezone,
                                  org, regions, renderer(runtime.facts, regions, org, settings.feeds,
                                                         settings.city.timezone),
                                  (settings.city.name_zh, settings.city.name_en))  # fmt: skip
        scheduler.add_job(
            leader_only(lambda: runtime.reports.run_due(datetime.now(UTC))),
            "interval",
            minutes=settings.reports.check_every_min,
            id="reports",
            max_instances=1,
            coalesce=True,
        )
    runtime.leadership = Leadership(store, settings.cluster.node, web=f"{settings.web.host}:{settings.web.port}",
                                    writer_stats=writer.stats, on_change=runtime.on_leading,
                                    every_s=settings.cluster.leader_check_s)  # fmt: skip
    runtime.leadership.start()
    scheduler.start()
    if embedded is not None:
        ingest = embedded.accounts[INGEST_USER]
        broker = Broker(embedded.host, embedded.port, mqtt.client_id, embedded.protocol, mqtt.session_expiry_s,
                        ingest.username, ingest.password)  # fmt: skip
    else:
        client_id = f"{mqtt.client_id}-{settings.cluster.node}" if mqtt.shared_group else mqtt.client_id
        broker = Broker(mqtt.host, mqtt.port, client_id, mqtt.protocol, mqtt.session_expiry_s, mqtt.username,
                        mqtt_password, mqtt.tls_options(), mqtt.shared_group)  # fmt: skip
    wiring = transports.Wiring(writer, regions, store, scheduler, broker, runtime.sources, settings.limits)
    runtime.transports = transports.start(settings.feeds, wiring)

    if city is not None and settings.simulator.publish:
        from feeds.simulator.publisher import Publisher

        runtime.simulator = Publisher(city, rate=settings.simulator.rate, **simulator_access(settings, embedded))
        runtime.simulator.start()
    return runtime


def open_store(settings: Settings, tool: str | None = None) -> Store:
    """The store [store] names: the DuckDB file, or the PostgreSQL database shared with other nodes, this one
    being [cluster] node. `tool`: a command line's own connection to it (named "<node>-<tool>"), which follows no
    other node's news."""
    if settings.store.engine == "postgresql":
        from store.postgres_engine import PostgresStore

        node = settings.cluster.node if tool is None else f"{settings.cluster.node}-{tool}"
        return PostgresStore(settings.store.url, password=settings.store.password(), path=settings.store.path,
                             node=node, listen=tool is None)  # fmt: skip
    return DuckDBStore(settings.store.path, settings.store.memory_limit_mb)


def open_accounts(settings: Settings, store: Store | None = None) -> Accounts:
    """The accounts: in [auth]'s SQLite file beside a DuckDB store, or in the PostgreSQL database the nodes share
    (`store`, or one opened for the purpose, as by the command line)."""
    if settings.store.engine != "postgresql":
        return Accounts(settings.auth.path)
    return Accounts(postgres=store or open_store(settings, tool="cli"))


def broker_accounts(settings: Settings) -> tuple[Account, ...]:
    """Whom the embedded broker lets in: ingest reads the MQTT feeds' topics, the demo city's simulator (here or
    `cityops simulate`) writes under its prefix; nobody else gets in."""
    topics = tuple(dict.fromkeys(t for f in settings.feeds if f.transport == "mqtt" for t in f.topics))
    out = tuple(dict.fromkeys(c.topic for c in settings.notify.channels if c.kind == "mqtt"))
    return (Account(INGEST_USER, read=topics),
            Account(SIMULATOR_USER, write=(f"{settings.simulator.topic_prefix}/#",)),
            *([Account(NOTIFY_USER, write=out)] if out else []))  # fmt: skip


def start_broker(settings: Settings, accounts: tuple[Account, ...] | None = None) -> Mosquitto | PythonBroker:
    """The embedded broker, started with fresh passwords for `accounts` (default: broker_accounts)."""
    mqtt, broker_settings = settings.mqtt, settings.broker
    broker = embedded_broker(broker_settings.kind, mqtt.port, broker_settings.data_dir, mqtt.host,
                             accounts=broker_accounts(settings) if accounts is None else accounts,
                             message_kb=settings.limits.mqtt_message_kb)  # fmt: skip
    broker.start()
    log.info("embedded MQTT broker (%s) on %s:%d", broker.name, broker.host, broker.port)
    return broker


def simulator_access(settings: Settings, embedded: Mosquitto | PythonBroker | None) -> dict:
    """Where the demo city's simulator publishes and as whom (Publisher's keywords): the embedded broker with its
    simulator account, or the configured broker with [mqtt]'s credentials (a name of its own when none is set: amqtt
    keeps the queues of named sessions only)."""
    if embedded is not None:
        account = embedded.accounts[SIMULATOR_USER]
        return {"host": embedded.host, "port": embedded.port, "protocol": embedded.protocol,
                "username": account.username, "password": account.password, "tls": None}  # fmt: skip
    mqtt = settings.mqtt
    return {"host": mqtt.host, "port": mqtt.port, "protocol": mqtt.protocol, "username": mqtt.username or
            SIMULATOR_USER, "password": mqtt.password(), "tls": mqtt.tls_options()}  # fmt: skip


def demo_city(settings: Settings, regions: RegionIndex):
    """The simulated city of the `simulator` settings (feeds.simulator.city.DemoCity)."""
    from feeds.simulator.city import DemoCity

    sim = settings.simulator
    return DemoCity(regions, entities=sim.entities, seed=sim.seed, prefix=sim.topic_prefix,
                    cycle_s=sim.scenario_cycle_s, timezone=settings.city.timezone)  # fmt: skip


def simulate(settings: Settings) -> None:
    """Publish the demo city until Ctrl-C or SIGTERM, from this process: to the configured broker, or to the embedded
    broker of the CityOps running on this configuration."""
    from feeds.simulator.publisher import Publisher

    access = simulator_access(settings, None) if not settings.broker.embedded else running_simulator_access(settings)
    city = demo_city(settings, settings.city.regions())
    publisher = Publisher(city, rate=settings.simulator.rate, **access)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    publisher.start()
    log.info("publishing the demo city (%s devices, %s messages/s) to %s:%s", f"{len(city.ids):,}",
             settings.simulator.rate, access["host"], access["port"])  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C
        stopping.wait()
    publisher.stop()
    log.info("published %s messages (%s failed)", f"{publisher.sent:,}", f"{publisher.failed:,}")


def running_simulator_access(settings: Settings) -> dict:
    """The simulator account of the embedded broker of the CityOps running on this configuration, asked over its
    control socket: the broker lives in that process, and so do its passwords."""
    answer = ask(control_socket(settings.store.path), {"command": "simulator"}, timeout=10)
    if answer is None:
        raise ConfigError(f"no CityOps runs on {settings.store.path}: its embedded broker ([broker] embedded = true) "
                          "is what this publishes to; start `cityops run` first (with simulator.publish = false), "
                          "or point [mqtt] at a broker of yours with embedded = false")  # fmt: skip
    if "error" in answer:
        raise ConfigError(f"the running CityOps did not say how to publish to its broker: {answer['error']}")
    return answer


def proxy_options(hops: int, address: str) -> dict:
    """waitress's word for a reverse proxy in front (web.trusted_proxies): it believes the proxy's X-Forwarded-*
    from that address, and removes them from any other request. The server does it, not the app: waitress strips
    those headers before the app sees them unless it is told which proxy to trust."""
    if not hops:
        return {}
    return {"trusted_proxy": address, "trusted_proxy_count": hops, "clear_untrusted_proxy_headers": True,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}}  # fmt: skip


def serve(settings: Settings) -> None:
    """Run until Ctrl-C or SIGTERM: all parts, and the web app on waitress (one process, many threads)."""
    from waitress.server import create_server

    from dashboard.app import create_app, stop_app
    from dashboard.signin import DEMO_DISPLAY_TOKEN, bootstrap

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    runtime = start(settings)
    app = None
    try:
        first_password = bootstrap(runtime.accounts, demo=settings.auth.demo_accounts)
        # Photos from the field beside the store; one fits in a request (the phone page shrinks them first).
        photos = AttachmentFiles(beside(settings.store.path), settings.limits.web_request_kb * 1024, runtime.store)
        if runtime.org is not None:
            for line in apply_to_accounts(runtime.org, runtime.accounts, runtime._demo_password()):
                log.info("%s", line)
            runtime.watch_org()  # the version now in force
        app = create_app(settings, runtime.store, runtime.regions, runtime.accounts, runtime.writer,
                         runtime.time_limits, runtime.sops, reference=runtime.reference, org=runtime.org,
                         chain=runtime.chain, attachments=photos, facts=runtime.facts,
                         leadership=runtime.leadership)  # fmt: skip
        server = create_server(
            app.server,
            host=settings.web.host,
            port=settings.web.port,
            threads=settings.web.threads,
            ident="cityops",
            max_request_body_size=settings.limits.web_request_kb * 1024,  # waitress answers 413 above it
            **proxy_options(settings.web.trusted_proxies, settings.web.trusted_proxy_address),
        )
    except BaseException as exc:
        if app is not None:
            stop_app(app)
        runtime.stop()
        if isinstance(exc, OSError):
            raise SystemExit(
                f"cannot listen on {settings.web.host}:{settings.web.port}: {exc.strerror} "
                f"(set CITYOPS_WEB__PORT to another port)"
            ) from None
        raise
    stopping = threading.Event()

    def on_signal(signum, _frame):
        # Unwind server.run() in the main thread (signals are handled there). Closing the server from here instead
        # left waitress's loop serving the browsers' keep-alive connections through a closed trigger: it never
        # returned while a wall stayed open.
        if not stopping.is_set():
            stopping.set()
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    base = f"http://{settings.web.host}:{server.effective_port}"
    print(f"CityOps is running: {base}/   Stop: Ctrl-C", flush=True)
    if settings.auth.demo_accounts:
        print(
            f"Demo accounts: admin, supervisor, duty, leader, viewer; the password of each is demo-<name>.\n"
            f"Video wall (a display link, no sign-in): {base}/wall?token={DEMO_DISPLAY_TOKEN}",
            flush=True,
        )
    if first_password:
        # Printed once, never logged: it opens the only account, and must be changed at the first sign-in.
        print(
            f"First start: an administrator 'admin' was created with the one-time password {first_password}\n"
            f"Sign in at {base}/login and choose your own. (`cityops users` manages accounts.)",
            flush=True,
        )
    gc.freeze()
    freeze_later = threading.Timer(GC_FREEZE_AFTER_S, gc.freeze)  # the city's loaded by then: its features too
    freeze_later.daemon = True
    freeze_later.start()
    try:
        server.run()
    except (KeyboardInterrupt, OSError):
        pass
    finally:
        log.info("stopping")
        freeze_later.cancel()
        server.close()
        # Let requests in flight finish before the store closes under them (a busy DuckDB cursor cannot close).
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        stop_app(app)
        runtime.stop()
        print("CityOps stopped.", flush=True)
