"""Whole sessions on the wire (exchange + TLS/DTLS + IP) and ``cellfleet traffic explain``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.emulator.dtls import dtls_handshake_datagrams, dtls_protect
from cellfleet.emulator.packets import (
    Endpoints,
    tcp_exchange_packets,
    udp_exchange_packets,
    wire_packets,
)
from cellfleet.emulator.session import KB_BYTES, NAMED_SESSIONS, bill, named_session
from cellfleet.emulator.tls import handshake_writes, protect_writes
from cellfleet.emulator.wire import WireOptions


def sizes(packets):
    return [(p.direction, p.ip_bytes, p.label) for p in packets]


def test_mqtt_publish_of_20_bytes_hand_computed() -> None:
    """IPv4 + TCP with timestamps: SYN/SYN-ACK 60 (20 + 20 + 20 options), others 52 (20 + 20 +
    12); MQTT 3.1.1 CONNECT 30, CONNACK 4, PUBLISH QoS 0 to "t/1" = 2 + 2 + 3 + 20 = 27,
    DISCONNECT 2; delayed ACKs after a write the peer does not answer; FIN teardown."""
    packets = named_session("mqtt").packets(20)
    assert sizes(packets) == [
        ("up", 60, "SYN"), ("down", 60, "SYN-ACK"), ("up", 52, "ACK"),
        ("up", 82, "MQTT CONNECT"), ("down", 56, "MQTT CONNACK"),
        ("up", 79, "MQTT PUBLISH"), ("down", 52, "ACK"),
        ("up", 54, "MQTT DISCONNECT"), ("down", 52, "ACK"),
        ("up", 52, "FIN"), ("down", 52, "ACK"), ("down", 52, "FIN"), ("up", 52, "ACK"),
    ]  # fmt: skip
    b = bill(packets, 20)
    assert (b.uplink_bytes, b.downlink_bytes, b.total_bytes, b.overhead_bytes) == (431, 324, 755, 735)
    assert b.billed_kb == 1
    # IPv6: every one of the 13 packets carries a 40-byte instead of a 20-byte IP header
    v6 = bill(named_session("mqtt", wire=WireOptions(ip_version=6)).packets(20), 20)
    assert v6.total_bytes == 755 + 13 * 20


def test_mqtt_over_tls13_is_the_tls_writes_carried_by_tcp() -> None:
    session = named_session("mqtt-tls", tls_version="1.3")
    app = [(w.direction, w.size_bytes, w.label) for w in session.exchange.writes(20)]
    expected = handshake_writes(session.security) + protect_writes(app, session.security)
    assert [(w.direction, w.size_bytes, w.label) for w in session.writes(20)] == expected
    # TLS 1.3 AES-128-GCM record = 5 header + 1 content type + 16 tag (RFC 8446 §5.2): the MQTT
    # packets grow by 22 bytes each; close_notify is a 2-byte alert in one record, both ways.
    protected = [size for _, size, _ in expected[len(handshake_writes(session.security)):]]
    assert protected == [30 + 22, 4 + 22, 27 + 22, 2 + 22, 2 + 22, 2 + 22]
    # every byte handed to TCP appears once in the packets' TCP payloads
    packets = session.packets(20)
    assert sum(p.payload_bytes for p in packets) == sum(size for _, size, _ in expected)
    assert bill(packets, 20).billed_kb == -(-bill(packets, 20).total_bytes // KB_BYTES) > 1


def test_coap_over_dtls_is_the_dtls_datagrams_carried_by_udp() -> None:
    session = named_session("coap-dtls")
    app = [(w.direction, w.size_bytes, w.label) for w in session.exchange.writes(20)]
    expected = dtls_handshake_datagrams(session.security) + dtls_protect(app, session.security)
    packets = session.packets(20)
    # one UDP datagram per DTLS datagram: 20 (IPv4) + 8 (UDP) each
    assert [(p.direction, p.ip_bytes) for p in packets] == [(d, n + 28) for d, n, _ in expected]


@pytest.mark.parametrize("name", sorted(NAMED_SESSIONS))
@pytest.mark.parametrize("ip_version", [4, 6])
def test_model_equals_scapy_built_packets(name: str, ip_version: int) -> None:
    """The one source of truth: the same writes, built as real packets by scapy."""
    wire = WireOptions(ip_version=ip_version)
    session = named_session(name, wire=wire)
    for payload_bytes in (0, 20, 1500, 5000):
        writes = session.writes(payload_bytes)
        build = tcp_exchange_packets if session.transport == "tcp" else udp_exchange_packets
        built = wire_packets(build(writes, wire, Endpoints()))
        assert sizes(built) == sizes(session.packets(payload_bytes)), (name, payload_bytes)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(NAMED_SESSIONS)), payload_bytes=st.integers(0, 40_000),
       ip_version=st.sampled_from([4, 6]), qos=st.sampled_from([0, 1]))  # fmt: skip
def test_bytes_are_conserved_from_writes_to_packets(name, payload_bytes, ip_version, qos) -> None:
    session = named_session(name, qos=qos, wire=WireOptions(ip_version=ip_version))
    if session.transport == "udp" and payload_bytes > 16_000:
        payload_bytes = 16_000  # one (D)TLS record / UDP datagram carries at most 2^14 bytes
    writes = session.writes(payload_bytes)
    packets = session.packets(payload_bytes)
    assert sum(p.payload_bytes for p in packets) == sum(w.size_bytes for w in writes)
    b = bill(packets, payload_bytes)
    assert b.total_bytes == sum(p.ip_bytes for p in packets) > payload_bytes
    assert b.uplink_bytes == sum(p.ip_bytes for p in packets if p.direction == "up")
    assert (b.billed_kb - 1) * KB_BYTES < b.total_bytes <= b.billed_kb * KB_BYTES


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cellfleet.cli", *args], capture_output=True, text=True, timeout=120)


def test_traffic_explain_cli() -> None:
    proc = _cli("traffic", "explain", "mqtt", "--payload", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["uplink_bytes"], data["downlink_bytes"], data["total_bytes"]) == (431, 324, 755)
    assert data["overhead_ratio"] == round(755 / 20, 3) and data["billed_kb"] == 1
    assert [p["ip_bytes"] for p in data["packets"]][:4] == [60, 60, 52, 82]
    text = _cli("traffic", "explain", "mqtt-tls", "--payload", "20", "--tls", "1.2").stdout
    session = named_session("mqtt-tls", tls_version="1.2")
    total = bill(session.packets(20), 20)
    assert f"= {total.total_bytes:,} B on" in text.replace("\n", " ")
    assert f"billed {total.billed_kb} KB per session" in text
    assert "ClientHello" in text
    bad = _cli("traffic", "explain", "carrier-pigeon")
    assert bad.returncode == 2 and "mqtt-tls" in bad.stderr and "Traceback" not in bad.stderr


def test_traffic_explain_phases_cli() -> None:
    """One keep-alive on an open MQTT connection, by hand: PINGREQ and PINGRESP are 2 bytes each
    (MQTT 3.1.1 §3.12, §3.13) in segments of 20 B IPv4 + 32 B TCP (20 + 12 B timestamps option),
    then the device's delayed ACK fires (52 B). A failed set-up is the SYN sent three times:
    3 x (20 + 20 + 20 B of SYN options)."""
    ping = json.loads(_cli("traffic", "explain", "mqtt", "--phase", "ping", "--json").stdout)
    assert [p["ip_bytes"] for p in ping["packets"]] == [54, 54, 52]
    assert (ping["uplink_bytes"], ping["downlink_bytes"], ping["phase"]) == (106, 54, "ping")
    failed = json.loads(_cli("traffic", "explain", "https", "--phase", "failed", "--json").stdout)
    assert (failed["uplink_bytes"], failed["downlink_bytes"], len(failed["packets"])) == (180, 0, 3)
    report = _cli("traffic", "explain", "mqtt-tls", "--phase", "report", "--payload", "100").stdout
    assert "billed within its connection's session record" in report
    bad = _cli("traffic", "explain", "coap", "--phase", "ping")
    assert bad.returncode == 2 and "no persistent-connection phases" in bad.stderr and "Traceback" not in bad.stderr
