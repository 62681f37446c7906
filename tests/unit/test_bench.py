"""The benchmarks still run (at a tiny size; `make bench` measures them at full size). No timing is asserted."""

from bench import city_scale, clients, cluster, history, ingest, rules, storm, supervision, wall_latency, wall_nodes
from bench.run import report


def test_rule_benchmark_runs_and_reports(tmp_path):
    result = rules.run(rules_count=10, rows=200, entities_count=50, batches=3)
    assert result["met"] is None  # a tiny run says nothing about the target
    text = report([result])
    assert "| Rule evaluation |" in text and "naive per-row evaluation" in text


def test_storm_benchmark_opens_alerts_into_incidents_and_reports():
    result = storm.run(alerts=200, next_batches=2)
    assert result["met"] is None
    assert "a batch that opens 200 alerts" in result["figure"] and "48 incidents" in result["figure"], result
    assert "one at a time" in result["baseline"] and "| Storm: alerts opened into incidents |" in report([result])


def test_ingest_benchmark_runs_against_a_real_broker_and_reports():
    result = ingest.run(messages=1_000, entities=20, rules_count=5, rounds=2)
    assert result["met"] is None
    assert "bare paho subscriber" in result["baseline"] and "msg/s" in result["figure"]
    assert "| MQTT → DuckDB ingest |" in report([result])


def test_cluster_benchmark_runs_postgresql_beside_duckdb_and_reports():
    results = cluster.run(messages=2_000, entities=20, rules_count=5, takeovers=2)
    assert [r["name"] for r in results] == ["MQTT → PostgreSQL ingest, one node", "MQTT → PostgreSQL ingest, two nodes",
                                            "Failover"]  # fmt: skip
    assert results[0]["met"] is None and "DuckDB" in results[0]["baseline"] and "msg/s" in results[1]["figure"]
    assert "another node leads" in results[2]["figure"]
    assert "| Failover |" in report(results)


def test_postgresql_history_benchmark_runs_and_reports():
    result = history.run_postgres(rows=20_000, entities=48)
    assert result["met"] is None and "30-day chart" in result["figure"]


def test_history_benchmark_runs_and_reports():
    result = history.run(rows=20_000, entities=48)
    assert result["met"] is None
    assert "30-day chart" in result["figure"] and "raw rows" in result["baseline"]


def test_city_scale_benchmark_runs_the_real_wall_in_chromium_and_reports(chromium):
    map_row, memory_row = city_scale.run(entities=400, observations=10_000, rate=50, watch_s=3, browser=chromium)
    assert map_row["met"] is None and memory_row["met"] is None
    assert "first render" in map_row["figure"] and "inlined" in map_row["baseline"]
    assert "peak RSS" in memory_row["figure"]


def test_wall_latency_benchmark_sees_its_probes_on_the_real_wall(chromium):
    result = wall_latency.run(entities=200, rate=100, watch_s=4, browser=chromium, warm_up_s=1)
    assert result["met"] is None
    assert "p95" in result["figure"] and " 0 never" in result["figure"], result["figure"]


def test_wall_across_nodes_benchmark_sees_node_a_s_probes_on_node_b_s_wall(chromium):
    result = wall_nodes.run(entities=100, rate=100, watch_s=4, browser=chromium, warm_up_s=1)
    assert result["met"] is None
    assert "on node b's wall: p50" in result["figure"] and " 0 never" in result["figure"], result["figure"]
    assert " 0 never" in result["baseline"], result["baseline"]


def test_clients_benchmark_runs_against_the_real_app_without_errors():
    result = clients.run(clients=3, entities=200, rate=100, seconds=6)
    assert result["met"] is None
    assert " 0 errors" in result["figure"] and "1 client" in result["baseline"], result
    assert "answered in full" in result["figure"] and "(0 answered in full)" not in result["figure"], result


def test_supervision_benchmark_runs_and_reports():
    figures_row, report_row = supervision.run(incidents=2_000)
    assert figures_row["met"] is None and report_row["met"] is None
    assert "a year by district" in figures_row["figure"] and "raw rows" in figures_row["baseline"]
    assert "pages" in report_row["figure"] and "| Monthly report as PDF |" in report([report_row])
