"""The database fails over during ingest: the primary PostgreSQL server dies, its synchronous standby is promoted, and
two CityOps nodes, whose URL names both servers (target_session_attrs=read-write), connect to the new primary and go
on. A QoS 1 message is acknowledged only after its commit, and a commit is confirmed only once the standby has it:
nothing is lost, and nothing is stored twice."""

from __future__ import annotations

import time

from tests.cluster import two_nodes
from tests.harness import Stream, publish_gauge, publisher, wait_until
from tests.postgres_server import PostgresServer

MESSAGES = 20_000
RATE = 2_000  # a second: the stream lasts 10 s


def test_a_standby_promoted_during_ingest_loses_nothing(mosquitto, tmp_path):
    primary = PostgresServer(tmp_path / "primary", synchronous=True).start()
    standby = PostgresServer(tmp_path / "standby", primary=primary).start()
    try:
        wait_until(lambda: primary.psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1",
                   30, "the standby streaming synchronously")  # fmt: skip
        with two_nodes(primary, mosquitto, tmp_path, "failover", standbys=(standby,)) as nodes:
            for node in nodes.values():
                node.start()
            client = publisher(mosquitto.port, "failover-pub")
            publish_gauge(client)
            stream = Stream(client, MESSAGES, RATE).start()
            readings = "SELECT count(*) FROM observations WHERE entity_id LIKE '%:g1'"
            wait_until(lambda: int(primary.psql(readings, "failover")) >= MESSAGES // 3, 60, "ingest under way")
            stored_before = int(primary.psql(readings, "failover"))
            failed_at = time.monotonic()
            primary.kill()
            standby.promote()
            promoted_s = time.monotonic() - failed_at
            assert stream.published < MESSAGES, "the stream ended before the failover"
            stream.join(120)
            wait_until(lambda: int(standby.psql(readings, "failover")) >= MESSAGES, 120, "every message stored",
                       every=1)  # fmt: skip
            time.sleep(3)  # redeliveries would come now
            client.loop_stop()
            client.disconnect()
            total = int(standby.psql(readings, "failover"))
            distinct = int(standby.psql(readings.replace("count(*)", "count(DISTINCT msg_id)"), "failover"))
            print(f"\nstored {stored_before:,} before the primary died; promoted in {promoted_s:.1f} s; "
                  f"{total:,} rows, {distinct:,} distinct")  # fmt: skip
            assert distinct == MESSAGES, f"lost {MESSAGES - distinct}"
            assert total == distinct, f"{total - distinct} stored twice"
            for node in nodes.values():
                assert node.stop() == 0
    finally:
        standby.stop()
        primary.stop()
