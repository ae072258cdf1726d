"""Device captures (``cellfleet.emulator.pcap``): read back with scapy and with the real tshark.

The expected values come from the size model (``SessionProfile.packets``) and the timing rule
stated in ``packet_offsets_us``'s docstring, recomputed here, not from the module under test.
tshark is required: CI installs it (``apt-get install -y tshark``); without it the tshark tests
fail rather than skip, so a CI image that lost it cannot pass silently.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import scapy.layers.inet6  # noqa: F401  (binds LINKTYPE_RAW 101 to IPv4/IPv6 dissection)
from scapy.layers.inet import IP, TCP, UDP, defragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, defragment6
from scapy.packet import NoPayload, Raw
from scapy.utils import RawPcapReader

from cellfleet.emulator.pcap import (
    LINKTYPE_RAW,
    ExchangeOnWire,
    PcapSummary,
    SessionOnWire,
    client_port,
    device_addresses,
    packet_offsets_us,
    server_port,
    write_pcap,
)
from cellfleet.emulator.session import SessionProfile, named_session
from cellfleet.emulator.wire import WireOptions

START_EPOCH_S = 1_704_067_200.0  # 2024-01-01T00:00:00Z
START_EPOCH_US = 1_704_067_200_000_000
DEVICE = 41
V4, V6 = device_addresses(DEVICE)
SERVER_V4, SERVER_V6 = "192.0.2.10", "2001:db8::10"
#: rtt_s=0.2 and inter_packet_s=0.001 (the defaults): a turn costs 100 ms, a follow-up 1 ms.
TURN_US, GAP_US = 100_000, 1_000


def _session(name: str, ip_version: int) -> SessionProfile:
    return named_session(name, wire=WireOptions(ip_version=ip_version))


#: (name, IP version, payload bytes): segmented (3000-byte MQTT, HTTPS) and IP-fragmented (UDP)
#: cases included. Sessions start 10 s apart, so none overlap.
CASES = [
    ("mqtt", 4, 100),
    ("mqtt", 6, 3000),
    ("mqtt-tls", 4, 100),
    ("mqtt-tls", 6, 100),
    ("coap-dtls", 4, 64),
    ("coap-dtls", 6, 64),
    ("https", 4, 100),
    ("https", 6, 3000),
    ("udp", 4, 3000),
    ("udp", 6, 3000),
    ("coap", 4, 64),
    ("http", 6, 200),
]
SESSIONS = [
    SessionOnWire(0.25 + 10 * i, _session(name, v), payload, i)
    for i, (name, v, payload) in enumerate(CASES)
]


def _model_packets(sessions):
    """(session, WirePacket) of every packet, in session order, from the size model."""
    return [(s, p) for s in sessions for p in s.session.packets(s.payload_bytes)]


def _expected_times_us(sessions) -> list[int]:
    """Session start (rounded to µs) + 100 ms per change of direction, 1 ms otherwise."""
    times = []
    for s in sessions:
        t_us, previous = START_EPOCH_US + round(s.start_time_s * 1_000_000), None
        for p in s.session.packets(s.payload_bytes):
            if previous is not None:
                t_us += GAP_US if p.direction == previous else TURN_US
            times.append(t_us)
            previous = p.direction
    return times


def _dissect(raw: bytes):
    """IPv4/IPv6 and TCP/UDP layers of one IP packet, the transport payload left as Raw bytes.

    scapy would dissect port 443 as its TLS layer, which cannot rebuild records it has no keys
    for; the checks here only need the headers.
    """
    pkt = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
    for layer in (TCP, UDP):
        if layer in pkt and not isinstance(pkt[layer].payload, NoPayload):
            data = pkt[layer].payload.original
            pkt[layer].remove_payload()
            pkt[layer].add_payload(Raw(load=data))
    return pkt


def _read_pcap(path: str) -> list:
    """Every record of a LINKTYPE_RAW pcap as a packet (:func:`_dissect`) with its ``time``."""
    packets = []
    with RawPcapReader(path) as reader:
        assert reader.linktype == LINKTYPE_RAW
        for raw, meta in reader:
            pkt = _dissect(raw)
            pkt.time = Decimal(meta.sec) + Decimal(meta.usec).scaleb(-6)
            packets.append(pkt)
    return packets


def _ip_bytes(pkt) -> int:
    """IP length from the header: IPv4 Total Length, IPv6 40 + Payload Length."""
    return pkt[IP].len if IP in pkt else 40 + pkt[IPv6].plen


def _is_fragment(pkt) -> bool:
    if IP in pkt:
        return bool(pkt[IP].flags.MF) or pkt[IP].frag > 0
    return IPv6ExtHdrFragment in pkt


def _write(path: Path, sessions=SESSIONS) -> PcapSummary:
    return write_pcap(
        path,
        sessions,
        start_epoch_s=START_EPOCH_S,
        device_address_v4=V4,
        device_address_v6=V6,
    )


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, PcapSummary]:
    path = tmp_path_factory.mktemp("pcap") / "device.pcap"
    return path, _write(path)


# --- the helpers ---------------------------------------------------------------------------------


def test_device_addresses_are_private_or_documentation_and_distinct():
    assert device_addresses(0) == ("10.0.0.1", "2001:db8:0:1::1")
    assert device_addresses(41) == ("10.0.0.42", "2001:db8:0:2a::1")
    assert device_addresses(70_000) == ("10.1.17.113", "2001:db8:1:1171::1")
    last = 2**24 - 3
    assert device_addresses(last)[0] == "10.255.255.254"
    v4, v6 = device_addresses(last)
    assert ipaddress.ip_address(v4).is_private
    assert ipaddress.ip_address(v6) in ipaddress.ip_network("2001:db8::/32")
    for bad in (-1, last + 1):
        with pytest.raises(ValueError, match="device must be in"):
            device_addresses(bad)


def test_ports():
    assert [client_port(i) for i in (0, 1, 16_383, 16_384, 16_385)] == [
        49_152,
        49_153,
        65_535,
        49_152,
        49_153,
    ]
    with pytest.raises(ValueError, match="session_index"):
        client_port(-1)
    ports = {name: server_port(_session(name, 4)) for name in
             ("mqtt", "mqtt-tls", "http", "https", "coap", "coap-dtls", "udp")}  # fmt: skip
    assert ports == {
        "mqtt": 1883,
        "mqtt-tls": 8883,
        "http": 80,
        "https": 443,
        "coap": 5683,
        "coap-dtls": 5684,
        "udp": 40_000,
    }


def test_packet_offsets_follow_the_timing_model():
    directions = ["up", "down", "up", "up", "down", "down", "down", "up"]
    assert packet_offsets_us(directions, rtt_s=0.2, inter_packet_s=0.001) == [
        0,
        100_000,
        200_000,
        201_000,
        301_000,
        302_000,
        303_000,
        403_000,
    ]
    assert packet_offsets_us([], rtt_s=0.2, inter_packet_s=0.001) == []
    assert packet_offsets_us(["down"], rtt_s=0.2, inter_packet_s=0.001) == [0]
    # steps are rounded to whole microseconds before they are added up
    assert packet_offsets_us(
        ["up", "down", "down"], rtt_s=3e-6, inter_packet_s=4e-7
    ) == [0, 2, 2]
    with pytest.raises(ValueError, match="must be >= 0"):
        packet_offsets_us(["up"], rtt_s=-0.1, inter_packet_s=0.001)


# --- read back with scapy ------------------------------------------------------------------------


def test_summary_matches_the_size_model(capture):
    _, summary = capture
    model = _model_packets(SESSIONS)
    up = sum(p.ip_bytes for _, p in model if p.direction == "up")
    down = sum(p.ip_bytes for _, p in model if p.direction == "down")
    assert summary == PcapSummary(len(model), up + down, up, down)


def test_scapy_reads_every_packet_with_model_lengths_and_times(capture):
    path, summary = capture
    packets = _read_pcap(str(path))
    model = _model_packets(SESSIONS)
    assert len(packets) == len(model) == summary.packets
    # sessions do not overlap, so the file order is the model's order
    assert [_ip_bytes(p) for p in packets] == [w.ip_bytes for _, w in model]
    assert [len(p) for p in packets] == [
        w.ip_bytes for _, w in model
    ]  # one IP packet per record
    assert sum(_ip_bytes(p) for p in packets) == summary.ip_bytes
    expected = _expected_times_us(SESSIONS)
    assert [p.time for p in packets] == [Decimal(t).scaleb(-6) for t in expected]
    assert [int(p.time * 1_000_000) for p in packets] == expected


def test_addresses_ports_and_directions(capture):
    path, summary = capture
    model = _model_packets(SESSIONS)
    up_bytes = 0
    for pkt, (session, wire) in zip(_read_pcap(str(path)), model):
        v = session.session.wire.ip_version
        device, server = (V4, SERVER_V4) if v == 4 else (V6, SERVER_V6)
        layer = pkt[IP] if v == 4 else pkt[IPv6]
        if wire.direction == "up":
            assert (layer.src, layer.dst) == (device, server)
            up_bytes += _ip_bytes(pkt)
        else:
            assert (layer.src, layer.dst) == (server, device)
        if _is_fragment(pkt) and not (TCP in pkt or UDP in pkt):
            continue  # a non-first fragment has no transport header
        transport = pkt[TCP] if TCP in pkt else pkt[UDP]
        ports = (transport.sport, transport.dport)
        expected = (49_152 + session.session_index, server_port(session.session))
        assert ports == (expected if wire.direction == "up" else expected[::-1])
    assert up_bytes == summary.uplink_bytes


def test_checksums_are_valid(capture):
    path, _ = capture
    packets = _read_pcap(str(path))
    fragments_v4, fragments_v6 = [], []
    for pkt in packets:
        rebuilt = _dissect(bytes(pkt))
        if IP in rebuilt:
            del rebuilt[IP].chksum
        if _is_fragment(pkt):
            # the transport checksum covers the whole datagram: checked after reassembly below
            (fragments_v4 if IP in pkt else fragments_v6).append(pkt)
        elif TCP in rebuilt:
            del rebuilt[TCP].chksum
        else:
            del rebuilt[UDP].chksum
        assert bytes(rebuilt) == bytes(pkt), pkt.summary()
    assert fragments_v4 and fragments_v6  # the 3000-byte UDP datagrams
    datagrams = [p for p in defragment(fragments_v4) if not _is_fragment(p)]
    datagrams.append(defragment6(fragments_v6))  # one IPv6 datagram was fragmented
    assert len(datagrams) == 2
    for datagram in datagrams:
        datagram = datagram.__class__(
            bytes(datagram)
        )  # dissect the reassembled bytes afresh
        assert len(datagram[UDP].payload) == 3000
        rebuilt = datagram.copy()
        del rebuilt[UDP].chksum
        assert bytes(rebuilt) == bytes(datagram)
    # the oracle: a corrupted checksum is recomputed by the rebuild, so the comparison can fail
    raw = bytearray(bytes(packets[0]))
    raw[20 + 16] ^= 0xFF  # the TCP checksum of the first SYN (RFC 9293 §3.1)
    corrupted = _dissect(bytes(raw))
    del corrupted[TCP].chksum
    assert bytes(corrupted) == bytes(packets[0]) != bytes(raw)


def test_overlapping_sessions_are_interleaved_in_time(tmp_path):
    sessions = [
        SessionOnWire(1.0, _session("mqtt", 4), 10, 0),
        SessionOnWire(1.05, _session("coap", 6), 10, 1),
    ]
    summary = _write(tmp_path / "overlap.pcap", sessions)
    packets = _read_pcap(str(tmp_path / "overlap.pcap"))
    times = [int(p.time * 1_000_000) for p in packets]
    assert times == sorted(times)
    assert sorted(times) == sorted(_expected_times_us(sessions))
    assert (
        summary.packets
        == len(packets)
        == sum(len(s.session.packets(10)) for s in sessions)
    )
    # the CoAP POST (1.05 s) falls between the MQTT SYN (1.0 s) and SYN-ACK (1.1 s)
    assert [IPv6 in p for p in packets[:3]] == [False, True, False]


def test_write_is_atomic(tmp_path):
    path = tmp_path / "device.pcap"
    path.write_bytes(b"previous")
    bad = SessionOnWire(0.0, _session("mqtt", 4), 10, -1)
    with pytest.raises(ValueError, match="session_index"):
        _write(path, [SESSIONS[0], bad])
    assert path.read_bytes() == b"previous"
    summary = _write(path, [SESSIONS[0]])
    assert len(_read_pcap(str(path))) == summary.packets
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.pcap"]


# --- the real tshark -----------------------------------------------------------------------------

#: tshark's warning when run as root (CI containers): not about the file, so not an error.
ROOT_WARNING = 'Running as user "root" and group "root". This could be dangerous.'
#: Verify the IPv4, TCP and UDP checksums (off by default): a bad one is an expert Error.
CHECKSUM_PREFS = [
    "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
]  # fmt: skip


def _tshark(path: Path, *args: str) -> str:
    """Run tshark on ``path``; assert exit code 0 and no diagnostics; return stdout."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail(
            "tshark is not installed; CI installs it with "
            "'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark'"
        )
    done = subprocess.run(
        [tshark, "-n", "-r", str(path), *CHECKSUM_PREFS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line != ROOT_WARNING] == []
    return done.stdout


def _fields(path: Path, display_filter: str | None, *fields: str) -> list[list[str]]:
    args = ["-T", "fields"] + [a for f in fields for a in ("-e", f)]
    if display_filter:
        args += ["-Y", display_filter]
    return [line.split("\t") for line in _tshark(path, *args).splitlines()]


def test_tshark_reads_every_frame_with_our_lengths_and_times(capture):
    path, summary = capture
    rows = _fields(
        path,
        None,
        "frame.number",
        "ip.len",
        "ipv6.plen",
        "tcp.stream",
        "frame.time_epoch",
    )
    assert [int(r[0]) for r in rows] == list(range(1, summary.packets + 1))
    lengths = [int(r[1]) if r[1] else 40 + int(r[2]) for r in rows]
    assert all(
        bool(r[1]) != bool(r[2]) for r in rows
    )  # exactly one IP header per frame
    assert sum(lengths) == summary.ip_bytes
    assert lengths == [w.ip_bytes for _, w in _model_packets(SESSIONS)]
    assert [Decimal(r[4]) for r in rows] == [
        Decimal(t).scaleb(-6) for t in _expected_times_us(SESSIONS)
    ]
    # one TCP stream per TCP session, each with all of that session's packets
    tcp_sessions = [s for s in SESSIONS if s.session.transport == "tcp"]
    streams = Counter(r[3] for r in rows if r[3])
    assert sorted(streams.values()) == sorted(
        len(s.session.packets(s.payload_bytes)) for s in tcp_sessions
    )


def test_tshark_reports_no_expert_errors_or_malformed_packets(capture):
    path, _ = capture
    assert _tshark(path, "-q", "-z", "expert,error").strip() == ""
    # nothing at Warning level either (malformed fields are reported as warnings)
    assert _tshark(path, "-q", "-z", "expert,warn").strip() == ""
    assert (
        _fields(path, "_ws.malformed or _ws.expert.severity >= warning", "frame.number")
        == []
    )


@pytest.mark.parametrize("name", ["https", "mqtt-tls"])
def test_tshark_parses_tls12_certificates_without_warnings(tmp_path, name):
    """TLS 1.2 sends Certificate in the clear (RFC 5246 §7.4.2): tshark dissects each entry as
    DER X.509, so the placeholders must be real certificates of the modelled sizes."""
    path = tmp_path / f"{name}-tls12.pcap"
    session = named_session(name, tls_version="1.2")
    summary = write_pcap(
        path,
        [SessionOnWire(1.0, session, 100, 0)],
        start_epoch_s=START_EPOCH_S,
        device_address_v4="10.0.0.4",
        device_address_v6="2001:db8:0:4::1",
    )
    assert _tshark(path, "-q", "-z", "expert,warn").strip() == ""
    assert (
        _fields(path, "_ws.malformed or _ws.expert.severity >= warning", "frame.number")
        == []
    )
    up, down = session.totals(100)
    rows = _fields(path, None, "ip.len")
    assert sum(int(r[0]) for r in rows) == int(up) + int(down) == summary.ip_bytes
    # the server's chain, each certificate dissected with its subject
    certificates = _fields(
        path, "tls.handshake.type == 11", "tls.handshake.certificate_length"
    )
    chain = session.security.certificate_chain_bytes
    assert certificates == [[",".join(str(n) for n in chain)]]
    names = _fields(path, "tls.handshake.type == 11", "x509sat.uTF8String")
    assert names == [[",".join(["cellfleet test CA", "api.example.com"] * len(chain))]]


def test_tshark_expert_check_does_catch_a_bad_checksum(tmp_path):
    """The oracle of the test above: a corrupted TCP checksum is reported as an Error."""
    path = tmp_path / "bad.pcap"
    _write(path, [SESSIONS[0]])
    data = bytearray(path.read_bytes())
    # first record: 24-byte file header + 16-byte record header + 20-byte IPv4 header, then TCP
    # whose checksum is at offset 16 (RFC 9293 §3.1)
    data[24 + 16 + 20 + 16] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "Bad checksum" in _tshark(path, "-q", "-z", "expert,error")


def test_tshark_dissects_the_application_protocols(capture):
    path, _ = capture
    # MQTT in the clear: CONNECT, CONNACK, PUBLISH, DISCONNECT per session (QoS 0), in both the
    # 100-byte IPv4 and the segmented 3000-byte IPv6 sessions
    mqtt = _fields(path, "mqtt", "mqtt.msgtype", "mqtt.len")
    assert [int(t) for t, _ in mqtt] == [1, 2, 3, 14] * 2
    publish_lengths = [int(n) for t, n in mqtt if t == "3"]
    assert len(publish_lengths) == 2 and publish_lengths[1] - publish_lengths[0] == 2900
    # TLS 1.3 (mqtt-tls, https; client ports 49152 + session index): a ClientHello (1) and a
    # ServerHello (2) per session in the clear, the rest encrypted
    hellos = _fields(path, "tls.handshake", "tcp.dstport", "tls.handshake.type")
    assert sorted(hellos) == sorted(
        [["8883", "1"], ["49154", "2"], ["8883", "1"], ["49155", "2"],
         ["443", "1"], ["49158", "2"], ["443", "1"], ["49159", "2"]]
    )  # fmt: skip
    # DTLS 1.2 with cookie exchange (RFC 6347 §4.2.1): ClientHello, HelloVerifyRequest,
    # ClientHello, ServerHello + ServerHelloDone, ... per coap-dtls session
    dtls_types = [
        r[0] for r in _fields(path, "dtls.handshake.type", "dtls.handshake.type")
    ]
    assert dtls_types[:4] == ["1", "3", "1", "2,14"]
    assert len(_fields(path, "dtls.handshake.type == 3", "frame.number")) == 2
    # CoAP and HTTP in the clear
    assert len(_fields(path, "coap.code == 2", "frame.number")) == 1  # POST
    assert _fields(path, "http.request", "http.request.method") == [["POST"]]
    assert _fields(path, "http.response", "http.response.code") == [["200"]]


# --- connection phases, failed attempts and losses ----------------------------------------------


def _phased_exchanges() -> list[ExchangeOnWire]:
    """A persistent MQTT connection (QoS 1; open, 2 reports, 3 pings one keep alive apart) and a
    persistent MQTT over TLS 1.3 connection that closes; a failed HTTPS attempt (SYN + 2
    retransmissions); a lossy IPv6 MQTT session (CONNACK lost once, a PUBLISH segment twice);
    a failed coap-dtls attempt; a coap-dtls session with 2 lost CON copies."""
    mqtt = named_session("mqtt", qos=1, keepalive_s=60)
    secured = named_session("mqtt-tls")
    lossy = _session("mqtt", 6)
    return [
        ExchangeOnWire(1.0, "open", mqtt, connection_index=0),
        ExchangeOnWire(30.0, "report", mqtt, 100, 0),
        ExchangeOnWire(90.0, "report", mqtt, 3000, 0),
        ExchangeOnWire(150.0, "ping", mqtt, connection_index=0, ping_count=3),
        ExchangeOnWire(20.0, "open", secured, connection_index=1),
        ExchangeOnWire(40.0, "report", secured, 200, 1),
        ExchangeOnWire(95.0, "close", secured, connection_index=1),
        ExchangeOnWire(400.0, "failed", named_session("https"), connection_index=2),
        ExchangeOnWire(500.0, "session", lossy, 5000, 3, lost_segments=(1, 3, 3)),
        ExchangeOnWire(600.0, "failed", named_session("coap-dtls"), connection_index=4),
        ExchangeOnWire(700.0, "session", named_session("coap-dtls"), 64, 5, lost_con_copies=2),
    ]


def _phased_model_totals() -> tuple[int, int]:
    """(uplink, downlink) of :func:`_phased_exchanges` from the ``SessionProfile`` methods."""
    mqtt = named_session("mqtt", qos=1)
    secured = named_session("mqtt-tls")
    parts = [
        mqtt.open_totals(), mqtt.report_totals(100), mqtt.report_totals(3000),
        *[mqtt.ping_totals()] * 3,
        secured.open_totals(), secured.report_totals(200), secured.close_totals(),
        named_session("https").failed_attempt_totals(),
        _session("mqtt", 6).with_losses(lost_segments=(1, 3, 3)).totals(5000),
        named_session("coap-dtls").failed_attempt_totals(),
        named_session("coap-dtls").with_losses(lost_con_copies=2).totals(64),
    ]  # fmt: skip
    return sum(int(up) for up, _ in parts), sum(int(down) for _, down in parts)


def test_tshark_reads_phases_failed_attempts_and_losses(tmp_path):
    path = tmp_path / "phases.pcap"
    exchanges = _phased_exchanges()
    summary = _write(path, exchanges)
    up, down = _phased_model_totals()
    assert (summary.uplink_bytes, summary.downlink_bytes) == (up, down)
    assert summary.packets == sum(len(x.model_packets()) for x in exchanges)
    assert _tshark(path, "-q", "-z", "expert,error").strip() == ""
    assert _fields(path, "_ws.malformed or _ws.expert.severity >= warning", "frame.number") == []
    rows = _fields(path, None, "ip.len", "ipv6.plen", "tcp.stream", "tcp.srcport", "tcp.dstport",
                   "frame.time_epoch", "tcp.analysis.retransmission")  # fmt: skip
    assert sum(int(r[0]) if r[0] else 40 + int(r[1]) for r in rows) == up + down
    # tshark sees each lost TCP copy again: 3 lost segment copies and the 2 retransmitted SYNs
    assert sum(1 for r in rows if r[6]) == 3 + 2
    # the persistent connection: one TCP stream, one client port, every packet of its phases
    mqtt = named_session("mqtt", qos=1)
    persistent = [r for r in rows if r[4] == "1883" and r[3] == "49152" or r[3] == "1883" and r[4] == "49152"]
    assert len({r[2] for r in persistent}) == 1
    expected = (len(mqtt.open_packets()) + len(mqtt.report_packets(100))
                + len(mqtt.report_packets(3000)) + 3 * len(mqtt.ping_packets()))  # fmt: skip
    assert len(persistent) == expected
    # the pings one keep alive apart: PINGREQs at 150, 210, 270 s
    pings = _fields(path, "mqtt.msgtype == 12", "frame.time_epoch")
    assert [Decimal(t[0]) - Decimal(START_EPOCH_S) for t in pings] == [150, 210, 270]
    # the failed HTTPS attempt: 3 SYNs at 0, 1 and 3 s (RTO 1 s, doubled: RFC 6298 §5.5)
    syns = _fields(path, "tcp.flags.syn == 1 and tcp.dstport == 443", "frame.time_epoch")
    assert [Decimal(t[0]) - Decimal(START_EPOCH_S) for t in syns] == [400, 401, 403]
    assert _fields(path, "tcp.dstport == 443 and tcp.flags.syn == 0", "frame.number") == []
    # the failed and the full coap-dtls exchange: 3 + 1 initial ClientHellos without cookie
    assert len(_fields(path, "dtls.handshake.type == 1 and dtls.handshake.cookie_length == 0",
                       "frame.number")) == 4  # fmt: skip
