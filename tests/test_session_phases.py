"""Downloads, persistent-connection phases, failed attempts and losses: model == scapy.

The size model (``SessionProfile`` methods, :mod:`cellfleet.emulator.connection`) against the
scapy reference (:mod:`cellfleet.emulator.connection_scapy`, real message and record bytes),
packet by packet, over grids of payloads and options (IPv4/IPv6, TLS 1.2/1.3, QoS 0/1), plus
hand-computed totals. Hand computations: IPv4 20, IPv6 40, TCP 20 + 12 timestamp options on
established segments (SYN 60 with Linux's 20 option bytes), UDP 8.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from types import SimpleNamespace

import numpy as np
import pytest
from scapy.contrib.mqtt import MQTT

from cellfleet.emulator import connection, connection_scapy
from cellfleet.emulator.packets import wire_packets
from cellfleet.emulator.session import (
    FAILED_ATTEMPT_SYN_RETRIES,
    NAMED_SESSIONS,
    bill,
    named_session,
    session_for_profile,
)
from cellfleet.emulator.wire import WireOptions, tcp_control_bytes

MIB = 2**20
TCP_SESSIONS = ["mqtt", "mqtt-tls", "http", "https", "http-download", "https-download"]
MQTT_GRID = [
    (name, ip, tls, qos)
    for name, ip, tls, qos in itertools.product(("mqtt", "mqtt-tls"), (4, 6), ("1.2", "1.3"), (0, 1))
    if name == "mqtt-tls" or tls == "1.3"
]


def _session(name: str, ip: int = 4, tls: str = "1.3", qos: int = 0):
    return named_session(name, tls_version=tls, qos=qos, wire=WireOptions(ip_version=ip))


def _sums(packets) -> tuple[int, int]:
    b = bill(packets, 0)
    return b.uplink_bytes, b.downlink_bytes


def _scapy(session, phase, payload_bytes=0):
    return wire_packets(connection_scapy.phase_packets(session, phase, payload_bytes))


# --- downloads -----------------------------------------------------------------------------------


def test_http_download_by_hand() -> None:
    """GET request: "GET /v1/firmware HTTP/1.1" CRLF 27, Host 23, Content-Length: 0 19, CRLF 2 =
    71; response: status line 17, Date 37, Content-Length: 1000 22, Content-Type:
    application/octet-stream 40, CRLF 2, body 1000 = 1118. The GET is answered (ACK piggybacked);
    the response is one segment nobody answers: the device's delayed ACK fires."""
    session = named_session("http-download")
    assert [w.size_bytes for w in session.writes(1000)] == [71, 1118]
    assert [(p.direction, p.ip_bytes, p.label) for p in session.packets(1000)] == [
        ("up", 60, "SYN"), ("down", 60, "SYN-ACK"), ("up", 52, "ACK"),
        ("up", 123, "HTTP GET"), ("down", 1170, "HTTP 200"), ("up", 52, "ACK"),
        ("up", 52, "FIN"), ("down", 52, "ACK"), ("down", 52, "FIN"), ("up", 52, "ACK"),
    ]  # fmt: skip
    assert _sums(session.packets(1000)) == (391, 1334)


def test_16_mib_firmware_download_totals_by_hand_and_fast() -> None:
    """Response 17 + 37 + "Content-Length: 16777216" 26 + 40 + 2 + 16 MiB = 16,777,338 bytes:
    11,587 segments (11,586 x 1448 + 810), each with 52 bytes of headers; the device ACKs every
    second one and the odd last one (5,794 ACKs)."""
    session = named_session("http-download")
    start = time.perf_counter()
    up, down = session.totals(16 * MIB)
    assert time.perf_counter() - start < 0.5
    response_bytes = 16 * MIB + 122
    segments = -(-response_bytes // 1448)
    assert segments == 11_587
    assert int(down) == 60 + response_bytes + segments * 52 + 2 * 52
    assert int(up) == 60 + 52 + 123 + (segments // 2 + 1) * 52 + 2 * 52
    assert (int(up), int(down)) == _sums(session.packets(16 * MIB))
    secured = named_session("https-download")
    start = time.perf_counter()
    _, tls_down = secured.totals(np.array([16 * MIB, 16 * MIB - 1, 1]))
    assert time.perf_counter() - start < 0.5
    # TLS 1.3 AES-GCM: 1024 records of 2^14 plaintext bytes (+1 for the headers), 22 bytes each
    assert int(tls_down[0]) > int(down) + 1025 * 22


@pytest.mark.parametrize("name", ["http-download", "https-download"])
@pytest.mark.parametrize("ip", [4, 6])
@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_download_model_equals_scapy(name: str, ip: int, tls: str) -> None:
    session = _session(name, ip, tls)
    for payload in (0, 1, 1447, 1448, 20_000, 70_000):
        assert _scapy(session, "session", payload) == session.packets(payload), payload
    payloads = np.array([0, 1, 1000, 16_383, 16_384, 16_385, 100_000, 16 * MIB])
    up, down = session.totals(payloads)
    assert list(zip(up.tolist(), down.tolist())) == [_sums(session.packets(int(n))) for n in payloads]


def test_one_mib_download_built_by_scapy() -> None:
    session = _session("https-download", ip=6)
    assert _scapy(session, "session", MIB) == session.packets(MIB)


def test_download_sessions_are_named_and_resolved_from_profiles() -> None:
    assert {"http-download", "https-download"} <= set(NAMED_SESSIONS)
    profile = SimpleNamespace(protocol="https-download", tls_version="1.2", mqtt_qos=None, ip_version=6)
    session = session_for_profile(profile)
    assert session.exchange.payload_in_response and session.exchange.method == "GET"
    assert session.security.version == "1.2" and session.security.sni_hostname == "api.example.com"
    assert session.wire.ip_version == 6


# --- persistent connection phases ----------------------------------------------------------------


def test_mqtt_phases_by_hand() -> None:
    """open: SYN 60, SYN-ACK 60, ACK 52, CONNECT 82, CONNACK 56, the device's delayed ACK 52;
    report (20 B, QoS 0): PUBLISH 79, server ACK 52; ping: PINGREQ 54, PINGRESP 54, ACK 52;
    close: DISCONNECT 54, ACK 52, then FIN/ACK both ways."""
    session = named_session("mqtt")
    assert [(p.direction, p.ip_bytes) for p in session.open_packets()] == [
        ("up", 60), ("down", 60), ("up", 52), ("up", 82), ("down", 56), ("up", 52),
    ]  # fmt: skip
    assert session.open_totals() == (246, 116)
    assert [(p.direction, p.ip_bytes, p.label) for p in session.report_packets(20)] == [
        ("up", 79, "MQTT PUBLISH"), ("down", 52, "ACK"),
    ]  # fmt: skip
    assert [int(x) for x in session.report_totals(20)] == [79, 52]
    assert session.ping_totals() == (54 + 52, 54)
    assert session.close_totals() == (54 + 52 + 52, 52 + 52 + 52)
    qos1 = named_session("mqtt", qos=1)  # PUBLISH + 2-byte packet id, PUBACK 4 + 52, device ACK
    assert [int(x) for x in qos1.report_totals(20)] == [81 + 52, 56]


@pytest.mark.parametrize(("name", "ip", "tls", "qos"), MQTT_GRID)
def test_phases_model_equals_scapy(name: str, ip: int, tls: str, qos: int) -> None:
    session = _session(name, ip, tls, qos)
    assert _scapy(session, "open") == session.open_packets()
    assert _scapy(session, "ping") == session.ping_packets()
    assert _scapy(session, "close") == session.close_packets()
    payloads = [0, 20, 1400, 1448, 5000, 20_000]
    for payload in payloads:
        assert _scapy(session, "report", payload) == session.report_packets(payload), payload
    up, down = session.report_totals(payloads)
    assert list(zip(up.tolist(), down.tolist())) == [_sums(session.report_packets(n)) for n in payloads]
    assert session.open_totals() == _sums(session.open_packets())
    assert session.ping_totals() == _sums(session.ping_packets())
    assert session.close_totals() == _sums(session.close_packets())


@pytest.mark.parametrize(("name", "ip", "tls", "qos"), MQTT_GRID)
@pytest.mark.parametrize("pings", [0, 2])
def test_phases_add_up_to_a_session_plus_the_timer_acks(name, ip, tls, qos, pings) -> None:
    """Phases end with a pure ACK where a session piggybacks it on the device's next write: after
    CONNACK, after PUBACK (QoS 1) and after every PINGRESP: one uplink ACK each."""
    base = _session(name, ip, tls, qos)
    session = dataclasses.replace(base, exchange=dataclasses.replace(base.exchange, pings=pings))
    payloads = np.array([0, 20, 3000, 40_000])
    up, down = session.totals(payloads)
    report_up, report_down = session.report_totals(payloads)
    open_up, open_down = session.open_totals()
    ping_up, ping_down = session.ping_totals()
    close_up, close_down = session.close_totals()
    timer_acks = 1 + qos + pings
    np.testing.assert_array_equal(
        open_up + report_up + pings * ping_up + close_up,
        up + timer_acks * tcp_control_bytes(session.wire),
    )
    np.testing.assert_array_equal(open_down + report_down + pings * ping_down + close_down, down)


def test_keepalive_from_named_session_and_profile() -> None:
    session = named_session("mqtt-tls", keepalive_s=1200)
    assert session.exchange.keepalive_s == 1200
    connect = connection_scapy.phase_messages(named_session("mqtt", keepalive_s=1200), "open")[0][1]
    assert MQTT(connect).klive == 1200
    assert named_session("mqtt").exchange.keepalive_s == 60  # MqttExchange's default
    assert named_session("http", keepalive_s=30) == named_session("http")  # no keep alive: ignored
    fields = {"protocol": "mqtt", "tls_version": None, "mqtt_qos": 1, "ip_version": None}
    assert session_for_profile(SimpleNamespace(**fields, keepalive_s=300)).exchange.keepalive_s == 300
    assert session_for_profile(SimpleNamespace(**fields, keepalive_s=None)).exchange.keepalive_s == 60
    assert session_for_profile(SimpleNamespace(**fields)).exchange.qos == 1
    # 2 bytes whatever the value (MQTT 3.1.1 §3.1.2.10)
    assert named_session("mqtt", keepalive_s=0).open_totals() == named_session("mqtt").open_totals()


@pytest.mark.parametrize("name", ["http", "https-download", "coap", "coap-dtls", "udp"])
def test_only_mqtt_has_phases(name: str) -> None:
    with pytest.raises(ValueError, match="no persistent-connection phases"):
        named_session(name).report_totals(10)
    with pytest.raises(ValueError, match="unknown phase"):
        named_session("mqtt").segment_runs(10, "linger")


# --- failed attempts -----------------------------------------------------------------------------


def test_failed_attempts_by_hand() -> None:
    """TCP: 3 SYNs of 60 (IPv4) / 80 (IPv6) bytes. coap-dtls: the ClientHello datagram of 107
    bytes (13 record + 12 handshake header + 2 version, 32 random, 1 session id, 1 cookie,
    2+2 suites, 1+1 compression, 2 + 40 extensions: SNI 25, renegotiation_info 5,
    session_ticket 4, extended_master_secret 4) + 28, three times."""
    assert FAILED_ATTEMPT_SYN_RETRIES == 2
    assert named_session("mqtt-tls").failed_attempt_totals() == (180, 0)
    assert _session("https", ip=6).failed_attempt_totals(FAILED_ATTEMPT_SYN_RETRIES) == (240, 0)
    assert named_session("http").failed_attempt_totals(0) == (60, 0)
    assert named_session("coap-dtls").failed_attempt_totals() == (3 * 135, 0)
    assert [p.label for p in named_session("mqtt").failed_attempt_packets(1)] == ["SYN (lost)"] * 2


@pytest.mark.parametrize("name", TCP_SESSIONS + ["coap-dtls"])
@pytest.mark.parametrize("ip", [4, 6])
def test_failed_attempts_model_equals_scapy(name: str, ip: int) -> None:
    session = _session(name, ip)
    for retries in (0, 1, 3):
        built = wire_packets(connection_scapy.failed_attempt_packets(session, retries))
        assert built == session.failed_attempt_packets(retries)
        assert _sums(built) == session.failed_attempt_totals(retries)


@pytest.mark.parametrize("name", ["coap", "udp"])
def test_sessions_without_set_up_cannot_fail_to_connect(name: str) -> None:
    with pytest.raises(ValueError, match="no connection set-up"):
        named_session(name).failed_attempt_totals(2)
    with pytest.raises(ValueError, match="syn_retries"):
        named_session("mqtt").failed_attempt_totals(-1)


# --- losses --------------------------------------------------------------------------------------


def _data_segments(packets) -> list[tuple[bool, int]]:
    return [(p.direction == "up", p.ip_bytes) for p in packets if p.payload_bytes > 0]


@pytest.mark.parametrize("name", TCP_SESSIONS)
@pytest.mark.parametrize("ip", [4, 6])
@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_segment_runs_number_the_segments_as_the_wire_model(name: str, ip: int, tls: str) -> None:
    session = _session(name, ip, tls, qos=1)
    phases = ["session"] + (["open", "report", "ping", "close"] if name.startswith("mqtt") else [])
    payloads = np.array([0, 1, 1427, 1428, 1448, 5000, 40_000])
    rng = np.random.default_rng(3)
    for phase in phases:
        runs = session.segment_runs(payloads, phase)
        assert runs.full_segments.shape == runs.direction_up.shape == (len(payloads), runs.full_segments.shape[1])
        for row, payload in enumerate(payloads.tolist()):
            packets = connection.phase_packets(session, phase, payload)
            segments = runs.segments(row)
            assert segments == _data_segments(packets), (phase, payload)
            up, down = connection.phase_totals(session, phase, payload)
            for index, copies in ((0, 1), (int(rng.integers(len(segments))), 2), (len(segments), 1)):
                lossy = session.with_losses(lost_segments=(index,) * copies)
                lossy_up, lossy_down = connection.phase_totals(lossy, phase, payload)
                is_up, ip_bytes = segments[index] if index < len(segments) else (True, 0)
                assert int(lossy_up - up) == copies * ip_bytes * is_up
                assert int(lossy_down - down) == copies * ip_bytes * (not is_up)


@pytest.mark.parametrize(("name", "ip", "tls", "qos"), MQTT_GRID)
def test_lossy_phases_model_equals_scapy(name, ip, tls, qos) -> None:
    session = _session(name, ip, tls, qos).with_losses(lost_segments=(0, 1, 1, 3))
    for phase, payload in (("session", 3000), ("open", 0), ("report", 3000), ("ping", 0)):
        assert _scapy(session, phase, payload) == connection.phase_packets(session, phase, payload)
    lossy_download = _session("https-download", ip, tls).with_losses(lost_segments=(2, 4, 4))
    assert _scapy(lossy_download, "session", 9000) == lossy_download.packets(9000)


@pytest.mark.parametrize("name", ["coap", "coap-dtls"])
@pytest.mark.parametrize("ip", [4, 6])
def test_lost_con_copies(name: str, ip: int) -> None:
    session = _session(name, ip)
    payloads = np.array([0, 10, 1200, 1500, 3000])
    copy_bytes = session.con_datagram_ip_bytes(payloads)
    up, down = session.totals(payloads)
    for copies in range(5):  # MAX_RETRANSMIT = 4 (RFC 7252 §4.8)
        lossy = session.with_losses(lost_con_copies=copies)
        lossy_up, lossy_down = lossy.totals(payloads)
        np.testing.assert_array_equal(lossy_up - up, copies * copy_bytes)
        np.testing.assert_array_equal(lossy_down, down)
        for payload in (10, 3000):
            assert _scapy(lossy, "session", payload) == lossy.packets(payload)
    if ip == 4:  # CoAP POST: 4 header + 4 token + Uri-Path "t" 2 + marker 1 + 10 = 21, + 28;
        # over DTLS + 29 (13 record header, 8 explicit nonce, 8 CCM-8 tag)
        assert int(copy_bytes[1]) == (49 if name == "coap" else 78)


def test_loss_helpers_reject_what_the_transport_cannot_lose() -> None:
    with pytest.raises(ValueError, match="not carried by TCP"):
        named_session("coap").segment_runs([10])
    with pytest.raises(ValueError, match="not carried by TCP"):
        named_session("coap-dtls").with_losses(lost_segments=(1,))
    with pytest.raises(ValueError, match="no CoAP request"):
        named_session("mqtt").with_losses(lost_con_copies=1)
    with pytest.raises(ValueError, match="no CoAP confirmable request"):
        named_session("udp").con_datagram_ip_bytes(10)
    with pytest.raises(ValueError, match="retransmissions must be 0..4"):
        named_session("coap").with_losses(lost_con_copies=5)
