"""The PostgreSQL engine beside DuckDB, in the same run: ingest on one node and on two, and how long a failover
takes (another node leading; the nodes writing again after a standby is promoted).

Ingest: the same backlog as bench/ingest.py (QoS 1, cityops-json, 200 rules) is queued at a real mosquitto for each
contestant, which then connects and takes it: a bare paho subscriber that only counts (the yardstick); CityOps on a
DuckDB file (in this process, as bench/ingest.py); CityOps on PostgreSQL as one node; and as two nodes sharing the
feed through a shared subscription ($share/bench/…). Each PostgreSQL node is a process of its own
(`python -m bench.cluster node …`), the first one leading (its rule engine follows the journal). The figure is
messages a second from the nodes' start to the last reading committed (counted in the database every 0.2 s), and
when the leader's rule engine had read the whole journal.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import ingest
from cityops.broker import Mosquitto, free_port
from tests.postgres_server import PASSWORD, PostgresServer

SHARE = "bench"
ROOT = Path(__file__).resolve().parent.parent


def _shared_session(client_id: str, port: int) -> None:
    """A persistent session in the shared subscription group, left queueing its share."""
    client = ingest._client(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    ingest._connect(client, port)
    client.loop_start()
    client.subscribe(f"$share/{SHARE}/bench/#", qos=1)
    if not subscribed.wait(10):
        raise RuntimeError(f"{client_id} could not subscribe")
    client.disconnect()
    client.loop_stop()


def node(options: dict) -> None:
    """One PostgreSQL node: MQTT ingest into its writer, and, if it leads, the rule engine following the journal;
    until its standard input closes."""
    from alerts.engine import RuleEngine
    from alerts.journal_reader import JournalReader
    from alerts.rules import parse_rules
    from bench.rules import make_rules
    from cityops import DEMO_DIR
    from cityops.config import load
    from cityops.runtime import SWITCH_INTERVAL_S
    from feeds.decoders import cityops_json
    from feeds.decoding import FeedDecoding
    from feeds.mqtt import MqttFeed, MqttIngest
    from layers.crs import to_wgs84
    from store.postgres_engine import PostgresStore
    from store.writer import Writer

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    store = PostgresStore(options["url"], password=PASSWORD, node=options["node"])
    writer = Writer(store)
    writer.start()
    reader = None
    if options["leads"]:
        reader = JournalReader(store, RuleEngine(store, parse_rules(make_rules(options["rules"]))))
        reader.start()
    feed = MqttFeed(FeedDecoding("b", cityops_json.decode, to_wgs84("wgs84")), ("bench/#",))
    mqtt = MqttIngest(host="127.0.0.1", port=options["port"], client_id=options["client_id"], feeds=[feed],
                      writer=writer, regions=load(DEMO_DIR / "cityops.toml").city.regions(), session_expiry_s=3600,
                      shared_group=options.get("shared"))  # fmt: skip
    mqtt.start()
    sys.stdin.read()  # until the benchmark closes it
    mqtt.stop()
    writer.stop()
    if reader is not None:
        reader.stop()
    store.close()


def _nodes_rate(server: PostgresServer, broker: Mosquitto, body: list[bytes], readings: int, rules: int,
                count: int, round_: str) -> tuple[float, float]:  # fmt: skip
    """Seconds for `count` nodes to commit the backlog, and for the leader's rules to have read it all."""
    from store.postgres_engine import PostgresStore

    database = f"bench_{round_}"
    server.psql(f"CREATE DATABASE {database}")
    url = server.url(database)
    PostgresStore(url, password=PASSWORD, listen=False).close()  # migrated before the clock starts
    clients = [f"bench-{round_}-{n}" for n in range(count)]
    for client_id in clients:
        if count > 1:
            _shared_session(client_id, broker.port)
        else:
            ingest._session(client_id, broker.port)
    ingest._publish(broker.port, body)
    processes = []
    began = time.perf_counter()
    for n, client_id in enumerate(clients):
        options = {"url": url, "node": f"n{n}", "leads": n == 0, "rules": rules, "port": broker.port,
                   "client_id": client_id, "shared": SHARE if count > 1 else None}  # fmt: skip
        processes.append(subprocess.Popen([sys.executable, "-m", "bench.cluster", "node", json.dumps(options)],
                                          stdin=subprocess.PIPE, cwd=ROOT,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)}))  # fmt: skip
    stored = 0
    deadline = time.monotonic() + 900
    while stored < readings and time.monotonic() < deadline:
        time.sleep(0.2)
        stored = int(server.psql("SELECT count(*) FROM observations", database) or 0)
    committed = time.perf_counter() - began
    while int(server.psql("SELECT count(*) FROM ingest_journal", database)) and time.monotonic() < deadline:
        time.sleep(0.2)
    evaluated = time.perf_counter() - began
    for process in processes:
        process.stdin.close()
        process.wait(60)
    if stored != readings:
        raise RuntimeError(f"{count} PostgreSQL node(s) stored {stored:,} of {readings:,} readings")
    return committed, evaluated


def run(messages: int = 100_000, entities: int = 2_000, rules_count: int = 200, takeovers: int = 5) -> list[dict]:
    body = ingest.payloads(messages, entities, random.Random(1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = PostgresServer(folder / "postgres").start()
        broker = Mosquitto(free_port(), folder / "broker")
        broker.start()
        try:
            ingest._session(ingest.BARE, broker.port)
            ingest._publish(broker.port, body)
            bare = len(body) / ingest._bare(broker.port, len(body), ingest.BARE)
            ingest._session(ingest.OURS, broker.port)
            ingest._publish(broker.port, body)
            duck_s, _, _ = ingest._ours(broker.port, len(body), messages, rules_count, folder / "duckdb", ingest.OURS)
            one_s, one_rules_s = _nodes_rate(server, broker, body, messages, rules_count, 1, "one")
            two_s, two_rules_s = _nodes_rate(server, broker, body, messages, rules_count, 2, "two")
            takeover = leader_takeover(server, takeovers)
        finally:
            broker.stop()
            server.stop()
        promoted = database_failover(folder / "failover")
    duck, one, two = (len(body) / s for s in (duck_s, one_s, two_s))
    full = messages == 100_000
    how = (f"{len(body):,} QoS 1 messages ({entities:,} entity descriptions, then one reading each) queued at a real "
           f"mosquitto for each contestant in turn, {rules_count} rules on; PostgreSQL 15 (Debian's, fsync on) on this "
           "machine; each PostgreSQL node a process of its own (bench/cluster.py), the first leading")  # fmt: skip
    return [
        {
            "name": "MQTT → PostgreSQL ingest, one node",
            "figure": f"{one:,.0f} msg/s to the last commit; the leader's rules had read it all after "
            f"{one_rules_s:.1f} s",
            "target": "≥ half the bare subscriber's rate per node",
            "met": (one >= bare / 2) if full else None,
            "baseline": f"the same on DuckDB {duck:,.0f} msg/s; a bare paho subscriber {bare:,.0f} msg/s",
            "ratio": f"{one / duck:.0%} of DuckDB's; {one / bare:.0%} of the bare subscriber",
            "how": how,
            "limits": "the node's Python work per message (decoding, the writer's columns) as on DuckDB, plus the "
            "COPY into a temporary table, the insert that the unique index keeps to once per reading, the journal "
            "entry; and PostgreSQL's own processes take the machine's second core",
        },
        {
            "name": "MQTT → PostgreSQL ingest, two nodes",
            "figure": f"{two:,.0f} msg/s together ({two / 2:,.0f} per node); the rules had read it all after "
            f"{two_rules_s:.1f} s",
            "target": "≥ half the bare subscriber's rate per node",
            "met": (two / 2 >= bare / 2) if full else None,
            "baseline": f"one node {one:,.0f} msg/s",
            "ratio": f"{two / one:.2f}× one node",
            "how": how + "; the two nodes share the feed ($share/bench/bench/#)",
            "limits": "on 2 cores two nodes and PostgreSQL compete for the same cores: the sum cannot double; on "
            "machines of their own each node would take its share at one node's rate",
        },
        {
            "name": "Failover",
            "figure": f"another node leads {statistics.median(takeover):.1f} s after the leader's connection ends "
            f"(median of {len(takeover)}, at most {max(takeover):.1f} s); the nodes write again {promoted:.1f} s "
            "after the primary dies and its standby is promoted",
            "target": "≤ 10 s",
            "met": max(max(takeover), promoted) <= 10,
            "baseline": "—",
            "ratio": "—",
            "how": "in-process nodes with the default cluster.leader_check_s (1 s): the leader's lock connection is "
            "closed, the time until the other holds the lock; a primary with a synchronous standby, a store whose "
            "URL names both (target_session_attrs=read-write) writing a row every 50 ms: the primary is SIGKILLed "
            "and the standby promoted, the time from the last write before to the first after",
            "limits": "the followers' polling interval (cluster.leader_check_s) and libpq's connect_timeout while "
            "the old primary does not answer",
        },
    ]


def leader_takeover(server: PostgresServer, times: int = 5) -> list[float]:
    from store.leadership import Leadership
    from store.postgres_engine import PostgresStore

    server.psql("CREATE DATABASE bench_leader")
    took = []
    for n in range(times):
        stores = [PostgresStore(server.url("bench_leader"), password=PASSWORD, node=f"{n}{side}", listen=False)
                  for side in "ab"]  # fmt: skip
        first, second = (Leadership(store, store.node) for store in stores)
        first.start()
        first.wait_until_leading(10)
        second.start()
        time.sleep(1.5)
        began = time.monotonic()
        first.stop()
        if not second.wait_until_leading(30):
            raise RuntimeError("nobody took over")
        took.append(time.monotonic() - began)
        second.stop()
        for store in stores:
            store.close()
    return took


def database_failover(folder: Path) -> float:
    from store.postgres_engine import PostgresStore

    primary = PostgresServer(folder / "primary", synchronous=True).start()
    standby = PostgresServer(folder / "standby", primary=primary).start()
    try:
        primary.psql("CREATE DATABASE bench_failover")
        deadline = time.monotonic() + 30
        while primary.psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") != "1":
            if time.monotonic() > deadline:
                raise RuntimeError("the standby is not streaming")
            time.sleep(0.2)
        store = PostgresStore(primary.url("bench_failover", hosts=[primary, standby]), password=PASSWORD,
                              listen=False)  # fmt: skip
        last_before = first_after = None
        killed = threading.Event()

        def write() -> None:
            nonlocal last_before, first_after
            while first_after is None:
                try:
                    store.cursor().execute("INSERT INTO summary_progress VALUES ('bench', now()) "
                                           "ON CONFLICT (name) DO UPDATE SET until = excluded.until")  # fmt: skip
                    if killed.is_set():
                        first_after = time.monotonic()
                    else:
                        last_before = time.monotonic()
                except Exception:
                    pass
                time.sleep(0.05)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(1)
        primary.kill()
        killed.set()
        standby.promote()
        writer.join(60)
        store.close()
        if first_after is None:
            raise RuntimeError("no write after the failover")
        return first_after - last_before
    finally:
        standby.stop()
        primary.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["node"]:
        node(json.loads(sys.argv[2]))
    else:
        for result in run():
            print(result)
