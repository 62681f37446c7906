"""SL 651-2014 over real frames from nine publishers (tests/fixtures/sl651/SOURCES.md says where each is from and
which clauses it exercises): HEX/BCD and ASCII frames, the CRC of 表11, the body of 6.6, the elements of 附录C, the
series of 34H/31H/38H, negative and missing values, the station's class of 附录A."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from cityops.config import ConfigError, load
from feeds.decoders import DecodeError
from feeds.decoders.sl651 import crc16, parse
from feeds.decoding import FeedDecoding
from tests.app_config import CITY

NOW = datetime(2026, 12, 3, tzinfo=UTC)
BAD_CRC = ["blog-35-manual-bad.hex", "co-33-add-edited-bad.hex", "hw-32-timed-bad.hex", "hw-32-timed-bad2.hex"]


def frame(fixture_path, name: str) -> bytes:
    """The frame's bytes (the fixtures are written as published: hex text, or an ASCII frame's bytes)."""
    raw = fixture_path(f"sl651/{name}").read_bytes()
    return raw if name.endswith(".txt") else bytes.fromhex(raw.decode("ascii"))


def feed(tmp_path, stations: str | None = None) -> FeedDecoding:
    table = ""
    if stations is not None:
        (tmp_path / "stations.csv").write_text(stations, encoding="utf-8")
        table = 'stations = "stations.csv"\n'
    path = tmp_path / "cityops.toml"
    path.write_text(f'{CITY}\n[store]\npath = "x.duckdb"\n[[feeds]]\nid = "hydro"\ntransport = "mqtt"\n'
                    f'topics = ["sl651/#"]\ndecoder = "sl651"\n{table}', encoding="utf-8")  # fmt: skip
    return FeedDecoding.from_settings(load(path, environ={}).feeds[0])


def records(decoding: FeedDecoding, payload: bytes, demo_regions):
    env = decoding.envelope("t", payload, NOW, demo_regions)
    assert env.dead_letter is None, env.dead_letter.reason
    return env.records


def values(records) -> list[tuple[str, float | None, str]]:
    return [(o.metric, o.value, f"{o.ts:%Y-%m-%d %H:%M}") for o in records.observations]


def test_the_crc_is_crc16_modbus_sent_high_byte_first():
    assert crc16(b"123456789") == 0x4B37  # the catalogue's check value of CRC-16/MODBUS
    link = bytes.fromhex("7E7E01001234567812342F000802000359101115511103")  # the blog's 2F frame, SPEC §4
    assert crc16(link) == 0x6BCA


def test_every_real_frame_with_a_good_crc_decodes_and_every_bad_one_is_refused(fixture_path, tmp_path, demo_regions):
    decoding = feed(tmp_path)
    names = sorted(p.name for p in fixture_path("sl651").glob("*") if p.suffix in (".hex", ".txt"))
    assert len(names) == 48
    for name in names:
        env = decoding.envelope(name, frame(fixture_path, name), NOW, demo_regions)
        if name in BAD_CRC:
            assert env.dead_letter is not None and "does not match its contents" in env.dead_letter.reason, name
        else:
            assert env.dead_letter is None, f"{name}: {env.dead_letter.reason}"


def test_a_timed_report_of_a_river_station(fixture_path, tmp_path, demo_regions):
    got = records(feed(tmp_path), frame(fixture_path, "blog-32-timed-river.hex"), demo_regions)
    [station] = got.entities
    assert (station.id, station.kind, station.domain) == ("hydro:0011223344", "river_gauge", "flood")
    # Observation time 2017-07-18 11:00 Beijing time (F0F0 1707181100) is 03:00 UTC.
    utc = "2017-07-18 03:00"
    assert values(got) == [("rain_current", 4.0, utc), ("rain_total", 4.0, utc), ("water_level", 10.49, utc),
                           ("voltage", 10.99, utc)]  # fmt: skip
    assert {o.unit for o in got.observations} == {"mm", "m", "V"}


def test_an_hourly_report_gives_twelve_five_minute_rains_and_levels(fixture_path, tmp_path, demo_regions):
    got = records(feed(tmp_path), frame(fixture_path, "blog-34-hourly-drp-drz.hex"), demo_regions)
    rain = [(v, t[-5:]) for m, v, t in values(got) if m == "rain_5min"]
    assert rain == [(0.5, "02:05"), (0.0, "02:10"), (0.0, "02:15"), (0.0, "02:20"), (2.0, "02:25"), (None, "02:30"),
                    (None, "02:35"), (None, "02:40"), (None, "02:45"), (None, "02:50"), (0.0, "02:55"),
                    (0.0, "03:00")]  # fmt: skip
    levels = [v for m, v, _ in values(got) if m == "water_level"]
    assert levels[:5] == [0.12, 0.12, 0.28, 0.49, 0.49] and levels[5:10] == [None] * 5 and levels[-1] == 10.49
    missing = [o for o in got.observations if o.value is None]
    assert missing and all(o.quality == "missing" for o in missing)


def test_a_uniform_interval_report_and_its_step(fixture_path):
    """31H: the time step (04 18 000005), then one element (39 23) and twelve values; published with a stray 7E
    after its CRC, which is no frame and is left."""
    [report] = parse(frame(fixture_path, "tk-31-fujian-uniform-z.hex"))
    [station] = report.stations
    assert [(r.metric, r.value, f"{r.ts:%H:%M}") for r in station.readings][::11] == [
        ("water_level", 28.96, "02:05"), ("water_level", 28.96, "03:00")]  # fmt: skip
    assert len(station.readings) == 12


def test_negative_missing_and_stations_own_elements(fixture_path):
    [gate] = parse(frame(fixture_path, "shishi-32-gate-negative.hex"))
    assert gate.stations[0].kind == "gate" and gate.address == "40590235C2"  # an address that is no BCD, kept
    assert [(r.metric, r.value) for r in gate.stations[0].readings] == [
        ("sl651_76", -1.72),
        ("sl651_77", -0.21),
        ("sl651_78", 1.52),
    ]  # FF prefix: negative (6.6.3.3 a)
    [vendor] = parse(frame(fixture_path, "co-32-timed-nodata-ff11.hex"))
    got = {r.metric: r.value for r in vendor.stations[0].readings}
    assert got["water_level"] is None  # AAAAAAAA: the station's "no reading"
    assert got["sl651_ff11"] == pytest.approx(0.008)  # an FF-extended identifier of the vendor's own
    [reservoir] = parse(frame(fixture_path, "tk-32-njnrs-reservoir.hex"))
    assert reservoir.stations[0].kind == "reservoir_gauge"
    assert {r.metric: r.value for r in reservoir.stations[0].readings}["upstream_level"] == 37.865  # ZU 3BH


def test_the_frames_own_definition_byte_decides_but_series_keep_their_width(fixture_path):
    [hourly] = parse(frame(fixture_path, "tk-34-hourly-f5-defmismatch.hex"))
    readings = hourly.stations[0].readings
    assert [r.value for r in readings[:3]] == [27.3, 27.3, None]  # F5 says 11 bytes, carries 24: read as 24
    assert (readings[-2].metric, readings[-2].value) == ("water_level", 27.3)  # 39 1A: 3 bytes, 2 decimals


def test_an_ascii_frame(fixture_path, tmp_path, demo_regions):
    [test] = parse(frame(fixture_path, "dyx-ascii-30-test.txt"))
    assert (test.function, test.address, test.serial) == (0x30, "0011223344", 0x0787)
    assert [(r.metric, r.value) for r in test.stations[0].readings] == [
        ("rain_current", 0.0), ("rain_total", 3.5), ("water_level", 1.234), ("voltage", 12.29)]  # fmt: skip
    got = records(feed(tmp_path), frame(fixture_path, "dyx-ascii-30-test.txt"), demo_regions)
    assert not got.observations and got.discarded == 4 and len(got.entities) == 1  # a test report is no reading


def test_keep_alive_pictures_and_the_centres_own_frames_change_no_device(fixture_path, tmp_path, demo_regions):
    """They are messages of the feed (it is alive), but name no station's class: a river gauge stays one."""
    decoding = feed(tmp_path)
    names = [
        "blog-2f-linkkeep.hex",
        "blog-2f-linkkeep-b.hex",
        "blog-36-image-m3-pkt01.hex",
        "blog-36-image-m3-pkt13-last.hex",
        "co-35-manual-ascii.hex",
        "blog-32-timed-down-esc.hex",
        "aaasoft-32-timed-down-eot.hex",
        "co-38-query-down-enq.hex",
        "shishi-32-timed-down-ack.hex",
    ]
    for name in names:
        assert len(records(decoding, frame(fixture_path, name), demo_regions)) == 0, name


def packets(single: bytes, cut: int) -> list[bytes]:
    """A one-packet HEX frame sent as a message of two packets (6.5.3): SYN, the packet numbers, its part."""
    body = single[14:-3]
    out = []
    for number, part in ((1, body[:cut]), (2, body[cut:])):
        numbers = (2 << 12 | number).to_bytes(3, "big")
        head = bytearray(single[:14])
        head[11:13] = (len(part) + 3).to_bytes(2, "big")
        head[13] = 0x16
        framed = bytes(head) + numbers + part + (b"\x17" if number == 1 else b"\x03")
        out.append(framed + crc16(framed).to_bytes(2, "big"))
    return out


def test_a_message_of_several_packets_is_read_when_all_came(fixture_path, tmp_path, demo_regions):
    decoding = feed(tmp_path)
    single = frame(fixture_path, "blog-38-period-up-drp.hex")
    whole = values(records(decoding, single, demo_regions))
    first, second = packets(single, 20)
    assert values(records(decoding, first + second, demo_regions)) == whole
    assert values(records(decoding, second + first, demo_regions)) == whole  # in any order
    assert len(records(decoding, second, demo_regions)) == 0  # a packet alone: nothing read, nothing lost to a crash


def test_hex_text_and_several_frames_in_one_payload(fixture_path, tmp_path, demo_regions):
    decoding = feed(tmp_path)
    text = fixture_path("sl651/blog-32-timed-river.hex").read_bytes()  # as gateways forward it: hex text
    assert values(records(decoding, text, demo_regions)) == values(
        records(decoding, frame(fixture_path, "blog-32-timed-river.hex"), demo_regions))  # fmt: skip
    both = frame(fixture_path, "blog-32-timed-river.hex") + frame(fixture_path, "blog-33-add-river.hex")
    assert len(records(decoding, both, demo_regions).observations) == 8


def test_the_station_table_places_each_station(fixture_path, tmp_path, demo_regions):
    table = "address,name,lon,lat\n0011223344,府河 保定站,115.4906,38.8581\n"
    got = records(feed(tmp_path, table), frame(fixture_path, "blog-32-timed-river.hex"), demo_regions)
    [station] = got.entities
    assert (station.name, station.district_id) == ("府河 保定站", "130606")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (bytes.fromhex("7E7E01001234567812342F0008020003"), "a HEX frame of 16 bytes; the shortest is 17"),
        (bytes.fromhex("7E7E01001234567812342F0008020003591011155111"), "its body is 8 bytes; only 5 follow"),
        (bytes.fromhex("7E7E01001234567812342F00FF020003591011155111036BCA"), "the frame says its body is 255"),
        (bytes.fromhex("7E7E01001234567812342F40080200035910111551110361CB"), "direction 0x4 is neither"),
        (b"GET / HTTP/1.1\r\n", "byte 0: no frame starts here"),
        (b"7E7E0100123", "odd number of digits"),
        (b"\x01" + b"0" * 10, "SOH without the header"),
    ],
)
def test_a_bad_frame_is_a_dead_letter_with_the_reason(tmp_path, demo_regions, payload, reason):
    with pytest.raises(DecodeError, match=reason):
        parse(payload)
    env = feed(tmp_path).envelope("t", payload, NOW, demo_regions)
    assert env.dead_letter is not None and reason in env.dead_letter.reason


def test_a_frame_with_a_good_crc_and_a_bad_time_is_refused():
    body = bytes.fromhex("7E7E01001234567812342F000802000359139915511103")  # month 13
    crc = crc16(body).to_bytes(2, "big")
    with pytest.raises(DecodeError, match="send time 591399155111 is no date and time"):
        parse(body + crc)


def test_an_ascii_value_is_decimal_text(fixture_path):
    original = frame(fixture_path, "dyx-ascii-30-test.txt")
    for bad in (b"nan", b"inf", b"1e3"):
        text = original[24:-5].replace(b"PT 3.5 ", b"PT " + bad + b" ")
        head = original[:20] + f"{len(text):03X}".encode() + original[23:24]
        framed = head + text + b"\x03"
        with pytest.raises(DecodeError, match=f"element PT: '{bad.decode()}' is no number"):
            parse(framed + f"{crc16(framed):04X}".encode())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("address,name,lon\n0011223344,x,1\n", "the columns lat are needed"),
        ("address,name,lon,lat\n00112233,x,1,2\n", "stations.csv:2: address '00112233' is not 10 hex digits"),
        ("address,name,lon,lat\n0011223344,x,east,2\n", "stations.csv:2: lon and lat must be numbers"),
    ],
)
def test_a_bad_station_table_fails_at_start_up(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        feed(tmp_path, table)


def test_only_sl651_reads_a_station_table(tmp_path):
    path = tmp_path / "cityops.toml"
    path.write_text(f'{CITY}\n[store]\npath = "x.duckdb"\n[[feeds]]\nid = "f"\ntransport = "mqtt"\ntopics = ["x"]\n'
                    'decoder = "cap"\nstations = "s.csv"\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match="the cap decoder takes no stations table"):
        load(path, environ={})


def test_frames_mutated_behind_a_good_crc_raise_only_decode_errors(fixture_path):
    """The CRC stops almost every corrupted frame (tests/reliability/test_bad_input.py); a station with a bug
    sends a well-checked frame with a bad body. 20,000 bodies mutated, their length and CRC made right again."""
    rng = random.Random(651)
    frames = [frame(fixture_path, p.name) for p in sorted(fixture_path("sl651").glob("*.hex"))]
    frames = [f for f in frames if crc16(f[:-2]) == int.from_bytes(f[-2:], "big")]
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(20_000):
        original = rng.choice(frames)
        body = bytearray(original[14:-3])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body) + 1)
            choice = rng.randrange(4)
            if choice == 0 and body:
                body[min(at, len(body) - 1)] = rng.randrange(256)
            elif choice == 1:
                del body[at : at + rng.randint(1, 6)]
            elif choice == 2:
                body[at:at] = bytes(rng.choice([0xF0, 0xF1, 0xF4, 0xFF, 0x04, 0x18, 0x39, 0x23]) for _ in range(3))
            else:
                body[at:at] = rng.randbytes(rng.randint(1, 8))
        head = bytearray(original[:14])
        head[11:13] = ((head[11] & 0xF0) << 8 | len(body)).to_bytes(2, "big")
        framed = bytes(head) + bytes(body) + original[-3:-2]
        framed += crc16(framed).to_bytes(2, "big")
        try:
            parse(framed)
            outcomes["decoded"] += 1
        except DecodeError:
            outcomes["refused"] += 1
    assert outcomes["decoded"] > 1000 and outcomes["refused"] > 1000, outcomes


def test_ascii_frames_mutated_behind_a_good_crc_raise_only_decode_errors(fixture_path):
    rng = random.Random(16)
    original = frame(fixture_path, "dyx-ascii-30-test.txt")
    body = original[24:-5].decode("ascii")
    words = ["ST", "TT", "PJ", "Z", "DRN05", "M", "-1.5", "9" * 30, "H", "ZZ", "1812181925", "", "0011223344"]
    refused = 0
    for _ in range(5_000):
        tokens = body.split(" ")
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(tokens) + 1)
            if rng.random() < 0.5 and at < len(tokens):
                del tokens[at]
            else:
                tokens.insert(at, rng.choice(words))
        text = " ".join(tokens).encode("ascii")
        for function in (b"30", b"32", b"31"):
            head = b"\x01" + original[1:17] + function + b"0" + f"{len(text):03X}".encode() + b"\x02"
            framed = head + text + b"\x03"
            framed += f"{crc16(framed):04X}".encode()
            try:
                parse(framed)
            except DecodeError:
                refused += 1
    assert refused > 500


def test_an_ascii_message_of_several_packets_is_left_unread_not_refused(fixture_path, tmp_path, demo_regions):
    original = frame(fixture_path, "dyx-ascii-30-test.txt")
    body = b"001001" + original[24:-5]  # packet 1 of 1, its numbers counted in the body as HEX frames count them
    head = original[:20] + f"{len(body):03X}".encode() + b"\x16"
    framed = head + body + b"\x03"
    framed += f"{crc16(framed):04X}".encode()
    assert len(records(feed(tmp_path), framed, demo_regions)) == 0
