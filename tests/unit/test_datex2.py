"""DATEX II v2 over England's NTIS and the Netherlands' NDW publications (tests/fixtures/SOURCES.md)."""

from datetime import UTC, datetime

import pytest

from feeds.decoders import DecodeError, Message
from feeds.decoders.datex2 import decode
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from store.writer import Writer

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def load(fixture_path, name: str):
    return decode(Message("datex", name, fixture_path(f"traffic/{name}").read_bytes(), NOW))


def test_abnormal_traffic_situation(fixture_path):
    [event] = load(fixture_path, "Event_Data_3794674417759799.xml").events
    assert event.domain == "traffic" and event.type == "AbnormalTraffic" and event.severity == "blue"  # low
    assert event.ts == datetime(2015, 4, 29, 8, 53, 27, 925000, tzinfo=UTC)  # 09:53:27.925+01:00
    assert (event.lat, event.lon) == (54.108482, -0.85464686)
    assert event.title.startswith("unspecifiedAbnormalTraffic: The A64 northbound")
    assert "Event Reason : Congestion" in event.description


def test_the_other_situation_file(fixture_path):
    events = load(fixture_path, "Event_Data_3794692773234866.xml").events
    assert events and all(e.domain == "traffic" and e.lon is not None for e in events)


def test_a_vms_publication_is_refused_with_the_reason(fixture_path):
    with pytest.raises(DecodeError, match="not a situation, measured data or site table publication .*VmsPublication"):
        load(fixture_path, "VMS_and_Matrix_Signal_Status_Data_3794928453993454.xml")


def test_not_datex():
    with pytest.raises(DecodeError, match="not a DATEX II v2 document"):
        decode(Message("datex", "t", b"<rss/>", NOW))


# -- measured data: per-site readings, with what the source flags as wrong refused and counted ----------------
MIDAS = "ntis_datex2_midas_loop_traffic_data_2015-04-29_trimmed.xml"
TMU = "ntis_datex2_tmu_loop_traffic_data_2015-04-29_trimmed.xml"


def flagged(fixture_path, name: str) -> int:
    """How many values the file's source flags dataError true: read off the file, not the decoder."""
    return fixture_path(f"traffic/{name}").read_text(encoding="utf-8").count("<dataError>true</dataError>")


def test_midas_sites_flow_speed_occupancy_headway_at_their_time(fixture_path):
    out = load(fixture_path, MIDAS)
    first = {o.metric: o for o in out.observations if o.entity_id.endswith("ECB728B9470E0656E0438DC611AC34B2")}
    assert {m: (o.value, o.unit) for m, o in first.items()} == {
        "speed": (94.0, "km/h"),
        "headway": (25.5, "s"),
        "occupancy": (1.0, "%"),
        "flow": (120.0, "veh/h"),
    }
    assert first["flow"].ts == datetime(2015, 4, 29, 8, 38, tzinfo=UTC)  # 09:38:00.000+01:00
    # Every value its source flags in error (speed 255, flow 15300 among them) is refused and counted, not stored.
    assert out.discarded == flagged(fixture_path, MIDAS) > 0
    assert all(o.value not in (255.0, 15300.0) for o in out.observations)


def test_a_site_reported_minute_by_minute_is_a_reading_a_minute(fixture_path):
    out = load(fixture_path, TMU)
    assert out.discarded >= flagged(fixture_path, TMU) > 0
    by_site = {}
    for o in out.observations:
        by_site.setdefault(o.entity_id, set()).add(o.ts)
    assert max(len(times) for times in by_site.values()) == 5  # one site five times, at one-minute steps
    assert len({o.msg_id for o in out.observations}) == len(out.observations)  # each reading once


def test_fill_values_no_input_and_no_vehicles_are_refused():
    def site(*values: tuple[str, str, str, str]) -> bytes:
        body = "".join(
            f'<measuredValue index="{i}"><measuredValue><basicData xsi:type="{kind}"><{box}{extra}>'
            f"<dataError>false</dataError><{tag}>{v}</{tag}></{box}></basicData></measuredValue></measuredValue>"
            for i, (kind, box, tag, v, extra) in enumerate(values)
        )
        return ('<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><payloadPublication '
                'xsi:type="MeasuredDataPublication"><siteMeasurements><measurementSiteReference id="S1"/>'
                f"<measurementTimeDefault>2026-07-20T08:00:00Z</measurementTimeDefault>{body}</siteMeasurements>"
                "</payloadPublication></d2LogicalModel>").encode()  # fmt: skip

    speed = ("TrafficSpeed", "averageVehicleSpeed", "speed")
    flow = ("TrafficFlow", "vehicleFlow", "vehicleFlowRate")
    # NDW's way: a speed of -1 computed from no input; MIDAS's: 255; an occupancy over 100 %.
    out = decode(
        Message(
            "d",
            "t",
            site(
                (*speed, "-1", ' numberOfInputValuesUsed="0"'),
                (*flow, "300", ""),
                ("TrafficConcentration", "occupancy", "percentage", "255.0", ""),
            ),
            NOW,
        )
    )
    assert [(o.metric, o.value) for o in out.observations] == [("flow", 300.0)] and out.discarded == 2
    # No vehicle passed: a speed of 0 is no measurement.
    out = decode(Message("d", "t", site((*speed, "0.0", ""), (*flow, "0", "")), NOW))
    assert [(o.metric, o.value) for o in out.observations] == [("flow", 0.0)] and out.discarded == 1


def test_the_site_table_places_the_detectors(fixture_path):
    # NDW's site record as its repository keeps it: a fragment whose xsi prefix is declared by the table around it,
    # so it is put inside one (header as NDW publishes it), unchanged.
    record = fixture_path("traffic/ndw_datex2_measurement_site_record_pzh01_mst_0629_00.xml").read_text(
        encoding="utf-8")  # fmt: skip
    record = record.split("?>", 1)[-1] if record.lstrip().startswith("<?xml") else record
    table = ('<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2"><payloadPublication '
             'xsi:type="MeasurementSiteTablePublication" lang="nl"><measurementSiteTable id="NDW01_MT" version="1">'
             f"{record}</measurementSiteTable></payloadPublication></d2LogicalModel>").encode()  # fmt: skip
    [site] = decode(Message("ndw", "t", table, NOW)).entities
    assert (site.id, site.kind, site.domain, site.name) == ("ndw:PZH01_MST_0629_00", "traffic_detector", "traffic",
                                                             "N457 hmp 4.75 Re")  # fmt: skip
    assert 51 < site.lat < 53 and 3 < site.lon < 7 and site.attributes == {"lanes": 1}


def test_refused_values_are_counted_on_the_feeds_row_and_never_stored(open_store, fixture_path, demo_regions):
    store = open_store("s")
    writer = Writer(store, max_delay=0.01)
    writer.start()
    try:
        feed = FeedDecoding("ntis", decode, to_wgs84("wgs84"))
        writer.put(feed.envelope("file", fixture_path(f"traffic/{MIDAS}").read_bytes(), NOW, demo_regions))
        assert writer.flush()
        cur = store.cursor()
        assert cur.execute("SELECT discarded FROM feed_status WHERE feed_id = 'ntis'").fetchone()[0] == flagged(
            fixture_path, MIDAS)  # fmt: skip
        assert cur.execute("SELECT count(*) FROM observations WHERE value IN (255, 15300)").fetchone()[0] == 0
    finally:
        writer.stop()
        store.close()
