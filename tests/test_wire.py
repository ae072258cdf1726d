"""Wire overhead: hand-computed sizes, the model against scapy packet by packet, vectorized totals.

Hand computations use the fixed headers IPv4 20 / IPv6 40 (RFC 791, RFC 8200), TCP 20
(RFC 9293), UDP 8 (RFC 768); TCP options: SYN 20 bytes with Linux defaults, established
segments 12 (NOP, NOP, Timestamps) when timestamps are on (RFC 7323).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cellfleet.emulator.exchanges import (
    EXCHANGES,
    CoapExchange,
    HttpExchange,
    MqttExchange,
    UdpExchange,
    make_exchange,
)
from cellfleet.emulator.framing import (
    MQTT_CONNACK_BYTES,
    MQTT_DISCONNECT_BYTES,
    MQTT_PINGREQ_BYTES,
    MQTT_PINGRESP_BYTES,
    MQTT_PUBACK_BYTES,
    coap_message_size_bytes,
    coap_options_size_bytes,
    mqtt_connect_size_bytes,
    mqtt_publish_size_bytes,
    mqtt_remaining_length_bytes,
)
from cellfleet.emulator.messages import (
    coap_request_bytes,
    exchange_writes,
    mqtt_connack_bytes,
    mqtt_connect_bytes,
    mqtt_disconnect_bytes,
    mqtt_pingreq_bytes,
    mqtt_pingresp_bytes,
    mqtt_puback_bytes,
    mqtt_publish_bytes,
)
from cellfleet.emulator.packets import (
    Endpoints,
    exchange_packets,
    tcp_exchange_packets,
    udp_exchange_packets,
    wire_packets,
)
from cellfleet.emulator.wire import (
    WireOptions,
    WirePacket,
    Write,
    effective_mss_bytes,
    syn_options_bytes,
    tcp_exchange_sizes,
    tcp_totals,
    udp_exchange_sizes,
    udp_totals,
)

V4, V6 = WireOptions(), WireOptions(ip_version=6)


def _shape(packets: list[WirePacket]) -> list[tuple[str, int]]:
    return [(p.direction, p.ip_bytes) for p in packets]


def _sums(packets: list[WirePacket]) -> tuple[int, int]:
    up = sum(p.ip_bytes for p in packets if p.direction == "up")
    return up, sum(p.ip_bytes for p in packets) - up


def _scapy_tcp(writes: list[Write], opts: WireOptions) -> list[WirePacket]:
    return wire_packets(tcp_exchange_packets(writes, opts))


# --- (a) hand-computed sizes -------------------------------------------------------------------

HANDSHAKE_V4 = [("up", 60), ("down", 60), ("up", 52)]
TEARDOWN_V4 = [("up", 52), ("down", 52), ("down", 52), ("up", 52)]


def test_mss_and_syn_options_by_hand() -> None:
    assert effective_mss_bytes(V4) == 1500 - 20 - 20 - 12 == 1448
    assert effective_mss_bytes(V6) == 1500 - 40 - 20 - 12 == 1428
    assert effective_mss_bytes(WireOptions(tcp_timestamps=False)) == 1460
    assert effective_mss_bytes(WireOptions(ip_version=6, mtu_bytes=1280)) == 1208
    # MSS 4 + SACK-Permitted/Timestamps 12 + NOP/WScale 4; without timestamps NOP,NOP,SACK-Perm 4
    assert syn_options_bytes(V4) == 20
    assert syn_options_bytes(WireOptions(tcp_timestamps=False)) == 12
    assert syn_options_bytes(WireOptions(sack_permitted=False)) == 20
    assert (
        syn_options_bytes(
            WireOptions(tcp_timestamps=False, sack_permitted=False, window_scale=False)
        )
        == 4
    )


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_ipv4_one_full_segment(source: str) -> None:
    writes = [Write("up", 1448, "report")]
    packets = tcp_exchange_sizes(writes, V4) if source == "model" else _scapy_tcp(writes, V4)
    # SYN, SYN-ACK, ACK; one 1448-byte segment = 1500; the delayed ACK; FIN/ACK both ways
    assert _shape(packets) == HANDSHAKE_V4 + [("up", 1500), ("down", 52)] + TEARDOWN_V4
    assert [p.label for p in packets] == [
        "SYN",
        "SYN-ACK",
        "ACK",
        "report",
        "ACK",
        "FIN",
        "ACK",
        "FIN",
        "ACK",
    ]
    assert _sums(packets) == (60 + 52 + 1500 + 52 + 52, 60 + 52 + 52 + 52) == (1716, 216)
    up, down = tcp_totals(["up"], [1448], V4)
    assert (int(up), int(down)) == (1716, 216)


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_ipv6_one_full_segment_is_20_bytes_more_per_packet(source: str) -> None:
    writes = [Write("up", 1428, "report")]
    packets = tcp_exchange_sizes(writes, V6) if source == "model" else _scapy_tcp(writes, V6)
    assert _shape(packets) == [
        ("up", 80),
        ("down", 80),
        ("up", 72),
        ("up", 1500),
        ("down", 72),
        ("up", 72),
        ("down", 72),
        ("down", 72),
        ("up", 72),
    ]
    assert _sums(packets) == (1796, 296)


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_delayed_ack_every_second_segment_and_after_the_write(source: str) -> None:
    writes = [Write("up", 4 * 1448 + 1, "bulk")]  # 5 segments
    packets = tcp_exchange_sizes(writes, V4) if source == "model" else _scapy_tcp(writes, V4)
    # ACKs after segments 2 and 4; the 1-byte fifth (20 + 20 + 12 + 1 = 53) gets the timer's ACK
    assert _shape(packets)[3:-4] == [
        ("up", 1500),
        ("up", 1500),
        ("down", 52),
        ("up", 1500),
        ("up", 1500),
        ("down", 52),
        ("up", 53),
        ("down", 52),
    ]


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_answer_within_the_timer_carries_the_ack(source: str) -> None:
    writes = [Write("up", 3 * 1448, "req"), Write("down", 10, "resp")]
    packets = tcp_exchange_sizes(writes, V4) if source == "model" else _scapy_tcp(writes, V4)
    # ACK after segment 2; segment 3's ACK rides on the response; the response's ACK is delayed
    assert _shape(packets)[3:-4] == [
        ("up", 1500),
        ("up", 1500),
        ("down", 52),
        ("up", 1500),
        ("down", 62),
        ("up", 52),
    ]


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_no_delayed_ack_acks_every_segment(source: str) -> None:
    opts = WireOptions(delayed_ack=False)
    writes = [Write("up", 2 * 1448, "req"), Write("down", 10, "resp")]
    packets = tcp_exchange_sizes(writes, opts) if source == "model" else _scapy_tcp(writes, opts)
    assert _shape(packets)[3:-4] == [
        ("up", 1500),
        ("down", 52),
        ("up", 1500),
        ("down", 52),
        ("down", 62),
        ("up", 52),
    ]


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_lost_syns_and_segments_are_billed_twice(source: str) -> None:
    opts = WireOptions(syn_retries=2, retransmit_segments=(1, 7))  # 7 names no segment
    writes = [Write("up", 1448 + 100, "req")]
    packets = tcp_exchange_sizes(writes, opts) if source == "model" else _scapy_tcp(writes, opts)
    assert [p.label for p in packets][:7] == [
        "SYN (lost)",
        "SYN (lost)",
        "SYN",
        "SYN-ACK",
        "ACK",
        "req [1/2]",
        "req [2/2] (lost)",
    ]
    assert _sums(packets) == (3 * 60 + 52 + 1500 + 2 * 152 + 2 * 52, 60 + 52 + 2 * 52)


@pytest.mark.parametrize("source", ["model", "scapy"])
def test_a_segment_listed_k_times_is_lost_k_times(source: str) -> None:
    """Index 1 listed 3 times: three lost copies, then the one received (4 x 152 bytes)."""
    opts = WireOptions(retransmit_segments=(1, 1, 0, 1))
    writes = [Write("up", 1448 + 100, "req")]
    packets = tcp_exchange_sizes(writes, opts) if source == "model" else _scapy_tcp(writes, opts)
    assert [p.label for p in packets][3:9] == [
        "req [1/2] (lost)", "req [1/2]",
        "req [2/2] (lost)", "req [2/2] (lost)", "req [2/2] (lost)", "req [2/2]",
    ]  # fmt: skip
    expected = (60 + 52 + 2 * 1500 + 4 * 152 + 2 * 52, 60 + 52 + 2 * 52)
    assert _sums(packets) == expected
    up, down = tcp_totals(["up"], [1448 + 100], opts)
    assert (int(up), int(down)) == expected


def test_without_handshake_and_teardown_only_data_and_acks() -> None:
    opts = WireOptions(handshake=False, teardown=False, tcp_timestamps=False)
    writes = [Write("up", 100, "a"), Write("up", 0, "empty"), Write("down", 5, "b")]
    assert _shape(tcp_exchange_sizes(writes, opts)) == [("up", 140), ("down", 45), ("up", 40)]
    assert _shape(_scapy_tcp(writes, opts)) == [("up", 140), ("down", 45), ("up", 40)]


@pytest.mark.parametrize(
    ("opts", "payload_bytes", "sizes"),
    [
        (V4, 0, [28]),
        (V4, 100, [128]),
        (V6, 100, [148]),
        (V4, 1472, [1500]),
        (V4, 1473, [1500, 21]),  # 1481 UDP bytes: 1480 + 1 behind 20-byte headers
        (V6, 1452, [1500]),
        (V6, 1453, [1496, 61]),  # 1461: 1448 + 13 behind 40 + 8 fragment header
        (V4, 3000, [1500, 1500, 68]),
    ],
)
def test_udp_datagrams_and_fragments(
    opts: WireOptions, payload_bytes: int, sizes: list[int]
) -> None:
    writes = [Write("up", payload_bytes, "d")]
    assert [p.ip_bytes for p in udp_exchange_sizes(writes, opts)] == sizes
    assert wire_packets(udp_exchange_packets(writes, opts)) == udp_exchange_sizes(writes, opts)
    assert int(udp_totals(["up"], [payload_bytes], opts)[0]) == sum(sizes)


def test_mqtt_sizes_by_hand_and_from_scapy() -> None:
    # PUBLISH QoS 1: fixed header 2, topic length 2 + "t/1" 3, packet id 2, payload 20
    assert int(mqtt_publish_size_bytes("t/1", 20, 1)) == 2 + 2 + 3 + 2 + 20 == 29
    assert len(mqtt_publish_bytes("t/1", 20, 1)) == 29
    assert int(mqtt_publish_size_bytes("t/1", 20, 0)) == len(mqtt_publish_bytes("t/1", 20, 0)) == 27
    # CONNECT: fixed header 2, "MQTT" 6, level/flags/keep-alive 4, client id 2 + 16
    assert mqtt_connect_size_bytes("cellfleet-000001") == 30
    assert len(mqtt_connect_bytes("cellfleet-000001", 60)) == 30
    fixed = [
        (MQTT_CONNACK_BYTES, mqtt_connack_bytes()),
        (MQTT_PUBACK_BYTES, mqtt_puback_bytes()),
        (MQTT_PINGREQ_BYTES, mqtt_pingreq_bytes()),
        (MQTT_PINGRESP_BYTES, mqtt_pingresp_bytes()),
        (MQTT_DISCONNECT_BYTES, mqtt_disconnect_bytes()),
    ]
    assert [(size, len(b)) for size, b in fixed] == [(4, 4), (4, 4), (2, 2), (2, 2), (2, 2)]


@pytest.mark.parametrize(
    ("remaining", "varint_bytes"), [(127, 1), (128, 2), (16383, 2), (16384, 3)]
)
def test_mqtt_remaining_length_boundaries_against_scapy(remaining: int, varint_bytes: int) -> None:
    payload_bytes = remaining - 5  # topic "t/1" with its 2-byte length, QoS 0
    assert int(mqtt_remaining_length_bytes(remaining)) == varint_bytes
    built = mqtt_publish_bytes("t/1", payload_bytes, 0)
    assert (
        len(built)
        == int(mqtt_publish_size_bytes("t/1", payload_bytes, 0))
        == 1 + varint_bytes + remaining
    )


def test_mqtt_remaining_length_upper_boundaries() -> None:
    sizes = mqtt_remaining_length_bytes(np.array([2_097_151, 2_097_152, 268_435_455]))
    assert sizes.tolist() == [3, 4, 4]
    with pytest.raises(ValueError, match="Remaining Length"):
        mqtt_remaining_length_bytes(268_435_456)


def test_coap_sizes_by_hand_and_from_scapy() -> None:
    # header 4, token 4, Uri-Path "t" (1 + 1), payload marker 1, payload 20
    con = CoapExchange(token_bytes=4, uri_path=("t",))
    assert int(coap_message_size_bytes(4, con.request_options(), 20)) == 4 + 4 + 2 + 1 + 20 == 31
    assert len(coap_request_bytes(True, 4, ("t",), None, 20)) == 31
    assert _shape(con.explain(20)) == [("up", 28 + 31), ("down", 28 + 4 + 4)]
    non = CoapExchange(confirmable=False, token_bytes=0, uri_path=())
    assert _shape(non.explain(0)) == [("up", 28 + 4)]  # empty payload: no marker


@pytest.mark.parametrize("segment_bytes", [0, 12, 13, 268, 269, 300])
@pytest.mark.parametrize("content_format", [None, 0, 50, 11542])
def test_coap_option_extended_lengths_against_scapy(segment_bytes: int, content_format) -> None:
    x = CoapExchange(
        token_bytes=2, uri_path=("a" * segment_bytes, "b"), content_format=content_format
    )
    expected = len(coap_request_bytes(True, 2, x.uri_path, content_format, 5))
    assert int(coap_message_size_bytes(2, x.request_options(), 5)) == expected
    assert coap_options_size_bytes([(11, 13)]) == 1 + 1 + 13  # extended length byte


def test_http_sizes_by_hand() -> None:
    x = HttpExchange()
    request = (
        29 + 23 + 20 + 32 + 2 + 20
    )  # request line, Host, Content-Length: 20, Content-Type, CRLF
    response = 17 + 37 + 19 + 2  # status line, Date, Content-Length: 0, CRLF
    assert [w.size_bytes for w in x.writes(20)] == [request, response] == [126, 75]
    assert exchange_writes(x, 20) == x.writes(20)


# --- (b) model == scapy over a grid ------------------------------------------------------------


def _payload_grid(mss_bytes: int) -> list[int]:
    return [
        0,
        1,
        mss_bytes - 1,
        mss_bytes,
        mss_bytes + 1,
        2 * mss_bytes - 1,
        2 * mss_bytes,
        2 * mss_bytes + 1,
        3 * mss_bytes,
        5 * mss_bytes,
    ]


GRID = [
    WireOptions(ip_version=ip, tcp_timestamps=ts, delayed_ack=da, retransmit_segments=lost)
    for ip, ts, da, lost in itertools.product((4, 6), (True, False), (True, False), ((), (0, 2)))
] + [
    WireOptions(sack_permitted=False, window_scale=False, syn_retries=1, mtu_bytes=1358),
    WireOptions(ip_version=6, tcp_timestamps=False, sack_permitted=False, mtu_bytes=1280),
    WireOptions(handshake=False, teardown=False, retransmit_segments=(1,)),
    WireOptions(ip_version=6, retransmit_segments=(0, 2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("opts", GRID, ids=repr)
def test_tcp_model_equals_scapy_over_the_grid(opts: WireOptions) -> None:
    mss_bytes = effective_mss_bytes(opts)
    for n in _payload_grid(mss_bytes):
        for writes in (
            [Write("up", n, "req")],
            [Write("up", n, "req"), Write("down", n // 3 + 1, "resp"), Write("up", 7, "end")],
            [Write("down", 9, "hello"), Write("up", n, "a"), Write("up", n, "b")],
        ):
            model = tcp_exchange_sizes(writes, opts)
            assert wire_packets(tcp_exchange_packets(writes, opts)) == model, (n, writes)
            up, down = tcp_totals(
                [w.direction for w in writes], [w.size_bytes for w in writes], opts
            )
            assert (int(up), int(down)) == _sums(model)


@pytest.mark.parametrize("ip_version", [4, 6])
@pytest.mark.parametrize("mtu_bytes", [1500, 1358, 1280])
def test_udp_model_equals_scapy_around_fragmentation(ip_version: int, mtu_bytes: int) -> None:
    opts = WireOptions(ip_version=ip_version, mtu_bytes=mtu_bytes)
    fits_bytes = mtu_bytes - (20 if ip_version == 4 else 40) - 8
    for n in [0, 1, fits_bytes - 1, fits_bytes, fits_bytes + 1, 2 * fits_bytes + 7, 4000]:
        writes = [Write("up", n, "req"), Write("down", n // 2, "resp")]
        assert wire_packets(udp_exchange_packets(writes, opts)) == udp_exchange_sizes(writes, opts)


EXCHANGE_CASES = [
    MqttExchange(),
    MqttExchange(qos=1, pings=2, client_id="x"),
    CoapExchange(),
    CoapExchange(confirmable=False, uri_path=("v1", "telemetry"), content_format=50),
    CoapExchange(retransmissions=2, token_bytes=8),
    UdpExchange(),
    UdpExchange(response_bytes=16),
    HttpExchange(),
    HttpExchange(
        method="PUT",
        request_headers=(),
        status_code=201,
        reason="Created",
        response_headers=(("ETag", '"1"'),),
        response_body_bytes=2000,
    ),
]


@pytest.mark.parametrize("exchange", EXCHANGE_CASES, ids=repr)
@pytest.mark.parametrize(
    "opts", [V4, WireOptions(ip_version=6, retransmit_segments=(2,))], ids=repr
)
def test_exchange_shapes_equal_scapy(exchange, opts: WireOptions) -> None:
    for n in [0, 9, 10, 99, 100, 1400, 3000]:
        assert exchange_writes(exchange, n) == exchange.writes(n)
        endpoints = Endpoints(server_port=5683 if exchange.name == "coap" else 1883)
        assert wire_packets(exchange_packets(exchange, n, opts), endpoints) == exchange.explain(
            n, opts
        )


@pytest.mark.parametrize("exchange", EXCHANGE_CASES, ids=repr)
@pytest.mark.parametrize(
    "opts",
    [
        V4,
        WireOptions(
            ip_version=6,
            delayed_ack=False,
            mtu_bytes=1280,
            retransmit_segments=(0, 3),
            syn_retries=1,
        ),
    ],
    ids=repr,
)
def test_vectorized_totals_equal_scalar_sums(exchange, opts: WireOptions) -> None:
    rng = np.random.default_rng(7)
    payloads = np.concatenate([rng.integers(0, 6000, 150), [0, 1, 127, 128, 16383, 16384]])
    up, down = exchange.totals(payloads, opts)
    expected = [_sums(exchange.explain(int(n), opts)) for n in payloads]
    assert list(zip(up.tolist(), down.tolist())) == expected


def test_tcp_totals_on_random_multi_write_sessions() -> None:
    rng = np.random.default_rng(11)
    directions = ["up", "down", "down", "up", "up", "down"]
    sizes = rng.integers(0, 4000, (len(directions), 300)) * (
        rng.random((len(directions), 300)) < 0.7
    )
    for opts in [
        V4,
        WireOptions(ip_version=6, delayed_ack=False, retransmit_segments=(0, 4, 5)),
        WireOptions(tcp_timestamps=False, retransmit_segments=(3,), handshake=False),
        WireOptions(retransmit_segments=(1, 1, 2, 6, 6, 6)),
    ]:
        up, down = tcp_totals(directions, list(sizes), opts)
        for s in range(sizes.shape[1]):
            writes = [Write(d, int(sizes[i, s]), f"w{i}") for i, d in enumerate(directions)]
            assert (int(up[s]), int(down[s])) == _sums(tcp_exchange_sizes(writes, opts))


def test_registry_and_validation() -> None:
    assert sorted(EXCHANGES) == ["coap", "http", "mqtt", "udp"]
    assert make_exchange("mqtt", qos=1) == MqttExchange(qos=1)
    with pytest.raises(ValueError, match="unknown exchange 'lwm2m'; known: coap, http, mqtt, udp"):
        make_exchange("lwm2m")
    with pytest.raises(ValueError, match="mtu_bytes must be at least 1280 for IPv6"):
        WireOptions(ip_version=6, mtu_bytes=1279)
    with pytest.raises(ValueError, match="written by the framing"):
        HttpExchange(request_headers=(("Content-Length", "3"),))
    with pytest.raises(ValueError, match="qos must be 0 or 1"):
        MqttExchange(qos=2)
