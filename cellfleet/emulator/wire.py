"""Exact IP-layer wire overhead of device exchanges: the fast, closed-form model.

Volume is billed at the IP layer, both directions: the IP header and everything above it, with
retransmissions and failed connection attempts (``shared/reference/platforms.md`` §7). An
application exchange is a list of :class:`Write` (the bytes one side hands to its transport in
one ``send()``); this module turns it into the IP packets on the wire: per packet
(:func:`tcp_exchange_sizes`, :func:`udp_exchange_sizes`, for ``explain``) and as per-session
uplink/downlink totals over numpy arrays of many sessions (:func:`tcp_totals`,
:func:`udp_totals`, for the fleet path).

The source of truth is :mod:`cellfleet.emulator.packets`, which builds the same exchanges as
scapy packets; ``tests/test_wire.py`` checks this model against it packet by packet and byte for
byte. The deterministic rules both implement:

* **Segmentation**: a write is cut into segments of the effective MSS, the last one short
  (:func:`effective_mss_bytes`); zero-byte writes send nothing.
* **Delayed ACK** (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2): the receiver sends a pure ACK after
  every second segment of a write (Linux's "more than one MSS unacknowledged"; only a write's
  last segment can be short, so the two coincide). If a segment is still unacknowledged when the
  write ends, the ACK piggybacks on the receiver's own data when the next non-empty write comes
  from the receiver (it answers within the delayed-ACK timer); otherwise (the same side writes
  again, or the exchange ends) the timer fires and a pure ACK is sent. With ``delayed_ack=False``
  every data segment gets its own pure ACK. Each ACK is listed right after the segment that
  triggers it.
* **Handshake** (RFC 9293 §3.5): SYN, SYN-ACK, ACK, the client (uplink) opening; each of
  ``syn_retries`` lost SYNs is sent (and billed) before the one that gets through (RFC 6298 §5).
* **Retransmission**: ``retransmit_segments`` are indices into the exchange's data segments,
  counted from 0 across all writes of both directions. Such a segment is sent twice back to back;
  the first copy is lost after the gateway counted it, the receiver only sees the second, so ACKs
  are as without loss (no duplicate ACKs or SACK blocks: the model has no segment overtaking the
  hole, i.e. recovery by retransmission timeout, RFC 6298 §5). Indices beyond the exchange's last
  segment name no segment and are ignored, so one options object serves sessions of any size.
* **Teardown** (RFC 9293 §3.6): after any pending delayed ACK, the client closes: FIN (up), ACK
  (down), FIN (down), ACK (up), four header-only segments.
* **UDP** (RFC 768): one datagram per write (zero-byte datagrams included). A datagram larger
  than the MTU is fragmented at the IP layer (RFC 791 §2.3 and §3.2; RFC 8200 §4.5 with its
  8-byte fragment header): every fragment but the last carries a multiple of 8 bytes.

Only fixed headers: no IP options or IPv6 extension headers (but the fragment header), no SACK
blocks, no TCP Fast Open, no path-MTU discovery. The application framing sizes (MQTT, CoAP,
HTTP) follow, then the named exchange shapes of traffic profiles (:data:`EXCHANGES`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

Direction = Literal["up", "down"]
UP: Direction = "up"
DOWN: Direction = "down"

#: IPv4 header without options (RFC 791 §3.1).
IPV4_HEADER_BYTES = 20
#: IPv6 fixed header (RFC 8200 §3).
IPV6_HEADER_BYTES = 40
#: IPv6 Fragment extension header (RFC 8200 §4.5).
IPV6_FRAGMENT_HEADER_BYTES = 8
#: Fragment offsets count 8-octet units, so non-last fragments carry multiples of 8 bytes
#: (RFC 791 §3.1 "Fragment Offset"; RFC 8200 §4.5).
FRAGMENT_UNIT_BYTES = 8
#: Smallest MTU every IPv4 host must accept (RFC 791 §3.1 "Total Length"; RFC 9293 §3.7.1 uses
#: it for the default MSS 536).
IPV4_MIN_MTU_BYTES = 576
#: Minimum link MTU of IPv6 (RFC 8200 §5).
IPV6_MIN_MTU_BYTES = 1280
#: TCP header without options (RFC 9293 §3.1).
TCP_HEADER_BYTES = 20
#: UDP header (RFC 768).
UDP_HEADER_BYTES = 8
#: TCP option sizes: NOP (RFC 9293 §3.2), MSS (RFC 9293 §3.2), SACK-Permitted (RFC 2018 §2),
#: Window Scale (RFC 7323 §2.2), Timestamps (RFC 7323 §3.2).
TCP_OPT_NOP_BYTES = 1
TCP_OPT_MSS_BYTES = 4
TCP_OPT_SACK_PERM_BYTES = 2
TCP_OPT_WSCALE_BYTES = 3
TCP_OPT_TIMESTAMP_BYTES = 10

#: Packet labels shared with :mod:`cellfleet.emulator.packets`.
LABEL_SYN = "SYN"
LABEL_SYN_LOST = "SYN (lost)"
LABEL_SYN_ACK = "SYN-ACK"
LABEL_ACK = "ACK"
LABEL_FIN = "FIN"
LOST_SUFFIX = " (lost)"


@dataclass(frozen=True)
class Write:
    """Bytes one side hands to its transport in one ``send()`` call (shared with the TLS layer)."""

    direction: Direction
    size_bytes: int
    label: str


@dataclass(frozen=True)
class WirePacket:
    """One IP packet: its direction, IP length (billed bytes) and transport payload size.

    ``payload_bytes`` is the TCP segment data or UDP datagram data it carries (for an IP
    fragment: its share of the UDP data, the UDP header excluded).
    """

    direction: Direction
    ip_bytes: int
    payload_bytes: int
    label: str


@dataclass(frozen=True)
class WireOptions:
    """What shapes the packets of an exchange (defaults: a Linux client on a 1500-byte MTU)."""

    ip_version: Literal[4, 6] = 4
    mtu_bytes: int = 1500
    tcp_timestamps: bool = True
    sack_permitted: bool = True
    window_scale: bool = True
    delayed_ack: bool = True
    retransmit_segments: tuple[int, ...] = ()
    syn_retries: int = 0
    teardown: bool = True
    handshake: bool = True

    def __post_init__(self) -> None:
        if self.ip_version not in (4, 6):
            raise ValueError(f"ip_version must be 4 or 6, got {self.ip_version!r}")
        min_mtu_bytes = IPV4_MIN_MTU_BYTES if self.ip_version == 4 else IPV6_MIN_MTU_BYTES
        if self.mtu_bytes < min_mtu_bytes:
            raise ValueError(
                f"mtu_bytes must be at least {min_mtu_bytes} for IPv{self.ip_version}, "
                f"got {self.mtu_bytes}"
            )
        if any(i < 0 for i in self.retransmit_segments):
            raise ValueError(f"retransmit_segments must be >= 0, got {self.retransmit_segments}")
        if self.syn_retries < 0:
            raise ValueError(f"syn_retries must be >= 0, got {self.syn_retries}")


#: The defaults, shared as one immutable value for argument defaults.
DEFAULT_WIRE_OPTIONS = WireOptions()


def opposite(direction: Direction) -> Direction:
    """The other direction."""
    return DOWN if direction == UP else UP


def ip_header_bytes(opts: WireOptions) -> int:
    """Fixed IP header size of the options' IP version."""
    return IPV4_HEADER_BYTES if opts.ip_version == 4 else IPV6_HEADER_BYTES


def syn_options_bytes(opts: WireOptions) -> int:
    """TCP options on SYN and SYN-ACK, laid out as Linux ``tcp_options_write`` does.

    MSS (4); with timestamps SACK-Permitted+Timestamps (12) or NOP,NOP,Timestamps (12); without
    timestamps NOP,NOP,SACK-Permitted (4); NOP,Window Scale (4). Linux defaults give 20 bytes.
    Both ends are assumed to support the same options, so the SYN-ACK mirrors the SYN.
    """
    size_bytes = TCP_OPT_MSS_BYTES
    if opts.tcp_timestamps:
        size_bytes += 2 + TCP_OPT_TIMESTAMP_BYTES
    elif opts.sack_permitted:
        size_bytes += 2 * TCP_OPT_NOP_BYTES + TCP_OPT_SACK_PERM_BYTES
    if opts.window_scale:
        size_bytes += TCP_OPT_NOP_BYTES + TCP_OPT_WSCALE_BYTES
    return size_bytes


def established_options_bytes(opts: WireOptions) -> int:
    """TCP options on every established segment: NOP,NOP,Timestamps (RFC 7323 App. A) or none."""
    return 2 * TCP_OPT_NOP_BYTES + TCP_OPT_TIMESTAMP_BYTES if opts.tcp_timestamps else 0


def advertised_mss_bytes(opts: WireOptions) -> int:
    """MSS option value: MTU - fixed IP header - fixed TCP header (RFC 9293 §3.7.1)."""
    return opts.mtu_bytes - ip_header_bytes(opts) - TCP_HEADER_BYTES


def effective_mss_bytes(opts: WireOptions) -> int:
    """Data bytes per full segment: the MSS less the options on every segment.

    RFC 9293 §3.7.1 (``Eff.snd.MSS`` subtracts the TCP header including options) with the
    Timestamps option of RFC 7323 §3: 1500 - 20 - 20 - 12 = 1448 on IPv4, 1428 on IPv6.
    """
    return advertised_mss_bytes(opts) - established_options_bytes(opts)


def tcp_control_bytes(opts: WireOptions) -> int:
    """IP length of a segment without data (pure ACK, FIN): 52 on IPv4 with timestamps."""
    return ip_header_bytes(opts) + TCP_HEADER_BYTES + established_options_bytes(opts)


def tcp_syn_bytes(opts: WireOptions) -> int:
    """IP length of a SYN or SYN-ACK: 60 on IPv4 with Linux's default options."""
    return ip_header_bytes(opts) + TCP_HEADER_BYTES + syn_options_bytes(opts)


def segment_label(write_label: str, index: int, count: int) -> str:
    """Label of segment ``index`` (0-based) of a write cut into ``count`` segments."""
    return write_label if count == 1 else f"{write_label} [{index + 1}/{count}]"


def fragment_label(datagram_label: str, index: int, count: int) -> str:
    """Label of IP fragment ``index`` (0-based) of ``count``."""
    return datagram_label if count == 1 else f"{datagram_label} [frag {index + 1}/{count}]"


def tcp_exchange_sizes(
    writes: Sequence[Write], opts: WireOptions = DEFAULT_WIRE_OPTIONS
) -> list[WirePacket]:
    """Every IP packet of a TCP connection carrying ``writes``, in model order (see module doc)."""
    control_bytes = tcp_control_bytes(opts)
    mss_bytes = effective_mss_bytes(opts)
    packets: list[WirePacket] = []
    if opts.handshake:
        syn_bytes = tcp_syn_bytes(opts)
        packets += [WirePacket(UP, syn_bytes, 0, LABEL_SYN_LOST)] * opts.syn_retries
        packets += [
            WirePacket(UP, syn_bytes, 0, LABEL_SYN),
            WirePacket(DOWN, syn_bytes, 0, LABEL_SYN_ACK),
            WirePacket(UP, control_bytes, 0, LABEL_ACK),
        ]
    live = [w for w in writes if w.size_bytes > 0]
    lost = set(opts.retransmit_segments)
    first_segment = 0
    for i, write in enumerate(live):
        receiver = opposite(write.direction)
        ack = WirePacket(receiver, control_bytes, 0, LABEL_ACK)
        count = -(-write.size_bytes // mss_bytes)
        for k in range(count):
            data_bytes = mss_bytes if k < count - 1 else write.size_bytes - (count - 1) * mss_bytes
            label = segment_label(write.label, k, count)
            segment = WirePacket(write.direction, control_bytes + data_bytes, data_bytes, label)
            if first_segment + k in lost:
                packets.append(
                    WirePacket(segment.direction, segment.ip_bytes, data_bytes, label + LOST_SUFFIX)
                )
            packets.append(segment)
            if not opts.delayed_ack or k % 2 == 1:
                packets.append(ack)
        answered = i + 1 < len(live) and live[i + 1].direction == receiver
        if opts.delayed_ack and count % 2 == 1 and not answered:
            packets.append(ack)
        first_segment += count
    if opts.teardown:
        packets += [
            WirePacket(UP, control_bytes, 0, LABEL_FIN),
            WirePacket(DOWN, control_bytes, 0, LABEL_ACK),
            WirePacket(DOWN, control_bytes, 0, LABEL_FIN),
            WirePacket(UP, control_bytes, 0, LABEL_ACK),
        ]
    return packets


def _columns(write_sizes_bytes: Sequence[ArrayLike]) -> list[np.ndarray]:
    """The per-write size columns as int64 arrays broadcast to one session shape."""
    arrays = [np.asarray(s, dtype=np.int64) for s in write_sizes_bytes]
    if any((a < 0).any() for a in arrays):
        raise ValueError("write sizes must be >= 0 bytes")
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    return [np.broadcast_to(a, shape) for a in arrays]


def _totals_by_direction(directions: Sequence[Direction], up: np.ndarray, down: np.ndarray):
    """Check the directions and pick the running total each write adds to."""
    for d in directions:
        if d not in (UP, DOWN):
            raise ValueError(f"direction must be 'up' or 'down', got {d!r}")
    return {UP: up, DOWN: down}


def tcp_totals(
    directions: Sequence[Direction],
    write_sizes_bytes: Sequence[ArrayLike],
    opts: WireOptions = DEFAULT_WIRE_OPTIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-session (uplink, downlink) IP bytes of a fixed TCP exchange shape, vectorized.

    Write ``i`` goes in ``directions[i]`` and has ``write_sizes_bytes[i]`` bytes: a scalar or an
    array with one entry per session (all broadcast together). Equals the sums of
    :func:`tcp_exchange_sizes` per session.
    """
    sizes = _columns(write_sizes_bytes)
    if len(sizes) != len(directions):
        raise ValueError(f"{len(directions)} directions but {len(sizes)} write sizes")
    shape = sizes[0].shape if sizes else ()
    up = np.zeros(shape, dtype=np.int64)
    down = np.zeros(shape, dtype=np.int64)
    total = _totals_by_direction(directions, up, down)
    control_bytes = tcp_control_bytes(opts)
    mss_bytes = effective_mss_bytes(opts)
    if opts.handshake:
        up += (1 + opts.syn_retries) * tcp_syn_bytes(opts) + control_bytes
        down += tcp_syn_bytes(opts)
    # answered[i]: the next non-empty write after write i comes from write i's receiver
    answered: list[np.ndarray] = [np.zeros(shape, dtype=bool)] * len(sizes)
    next_is_up = np.zeros(shape, dtype=bool)
    next_exists = np.zeros(shape, dtype=bool)
    for i in range(len(sizes) - 1, -1, -1):
        receiver_is_up = directions[i] == DOWN
        answered[i] = next_exists & (next_is_up == receiver_is_up)
        live = sizes[i] > 0
        next_is_up = np.where(live, directions[i] == UP, next_is_up)
        next_exists = next_exists | live
    first_segment = np.zeros(shape, dtype=np.int64)
    for i, direction in enumerate(directions):
        size = sizes[i]
        count = -(-size // mss_bytes)
        total[direction] += size + count * control_bytes
        if opts.delayed_ack:
            acks = count // 2 + ((count % 2 == 1) & ~answered[i])
        else:
            acks = count
        total[opposite(direction)] += acks * control_bytes
        for index in set(opts.retransmit_segments):
            k = index - first_segment
            hit = (k >= 0) & (k < count)
            data_bytes = np.where(k < count - 1, mss_bytes, size - (count - 1) * mss_bytes)
            total[direction] += np.where(hit, control_bytes + data_bytes, 0)
        first_segment = first_segment + count
    if opts.teardown:
        up += 2 * control_bytes
        down += 2 * control_bytes
    return up, down


def _fragment_geometry(opts: WireOptions) -> tuple[int, int, int]:
    """(IP bytes per fragment header, largest last-fragment data, non-last fragment data)."""
    if opts.ip_version == 4:
        header_bytes = IPV4_HEADER_BYTES
    else:
        header_bytes = IPV6_HEADER_BYTES + IPV6_FRAGMENT_HEADER_BYTES
    last_max_bytes = opts.mtu_bytes - header_bytes
    return header_bytes, last_max_bytes, last_max_bytes // FRAGMENT_UNIT_BYTES * FRAGMENT_UNIT_BYTES


def ip_fragment_count(l4_bytes: ArrayLike, opts: WireOptions) -> np.ndarray:
    """Number of IP packets carrying a transport datagram of ``l4_bytes`` (1 if it fits the MTU)."""
    l4 = np.asarray(l4_bytes, dtype=np.int64)
    _header_bytes, last_max_bytes, inner_bytes = _fragment_geometry(opts)
    fits = l4 + ip_header_bytes(opts) <= opts.mtu_bytes
    fragments = 1 + np.maximum(-(-(l4 - last_max_bytes) // inner_bytes), 0)
    return np.where(fits, 1, fragments)


def udp_datagram_ip_bytes(payload_bytes: ArrayLike, opts: WireOptions) -> np.ndarray:
    """IP bytes of one UDP datagram, all fragments together: 28 + N on IPv4 when it fits."""
    l4 = np.asarray(payload_bytes, dtype=np.int64) + UDP_HEADER_BYTES
    count = ip_fragment_count(l4, opts)
    header_bytes = _fragment_geometry(opts)[0]
    return np.where(count == 1, ip_header_bytes(opts) + l4, count * header_bytes + l4)


def udp_exchange_sizes(
    writes: Sequence[Write], opts: WireOptions = DEFAULT_WIRE_OPTIONS
) -> list[WirePacket]:
    """Every IP packet of ``writes`` sent as UDP datagrams, fragments in offset order."""
    packets: list[WirePacket] = []
    for write in writes:
        l4_bytes = UDP_HEADER_BYTES + write.size_bytes
        count = int(ip_fragment_count(l4_bytes, opts))
        if count == 1:
            packets.append(
                WirePacket(
                    write.direction, ip_header_bytes(opts) + l4_bytes, write.size_bytes, write.label
                )
            )
            continue
        header_bytes, _last_max_bytes, inner_bytes = _fragment_geometry(opts)
        for k in range(count):
            data_bytes = inner_bytes if k < count - 1 else l4_bytes - (count - 1) * inner_bytes
            app_bytes = data_bytes - UDP_HEADER_BYTES if k == 0 else data_bytes
            packets.append(
                WirePacket(
                    write.direction,
                    header_bytes + data_bytes,
                    app_bytes,
                    fragment_label(write.label, k, count),
                )
            )
    return packets


def udp_totals(
    directions: Sequence[Direction],
    write_sizes_bytes: Sequence[ArrayLike],
    opts: WireOptions = DEFAULT_WIRE_OPTIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-session (uplink, downlink) IP bytes of a fixed UDP exchange shape, vectorized."""
    sizes = _columns(write_sizes_bytes)
    if len(sizes) != len(directions):
        raise ValueError(f"{len(directions)} directions but {len(sizes)} write sizes")
    shape = sizes[0].shape if sizes else ()
    up = np.zeros(shape, dtype=np.int64)
    down = np.zeros(shape, dtype=np.int64)
    total = _totals_by_direction(directions, up, down)
    for direction, size in zip(directions, sizes):
        total[direction] += udp_datagram_ip_bytes(size, opts)
    return up, down


# --- Application framing (sizes of the writes) ----------------------------------------------

#: MQTT 3.1.1 §2.2: one byte of packet type and flags, then the Remaining Length.
MQTT_FIXED_HEADER_FIRST_BYTES = 1
#: MQTT 3.1.1 §2.2.3: the Remaining Length takes 1 to 4 bytes of 7 bits each.
MQTT_MAX_REMAINING_LENGTH_BYTES = 268_435_455
#: MQTT 3.1.1 §1.5.3: a UTF-8 string is prefixed by its 2-byte length.
MQTT_STRING_PREFIX_BYTES = 2
#: MQTT 3.1.1 §3.1.2: protocol name "MQTT" (2 + 4), level (1), flags (1), keep alive (2).
MQTT_CONNECT_VARIABLE_HEADER_BYTES = 10
#: MQTT 3.1.1 §2.3.1: Packet Identifier of PUBLISH QoS > 0 and of PUBACK.
MQTT_PACKET_ID_BYTES = 2
#: Fixed sizes: CONNACK §3.2, PUBACK §3.4, PINGREQ §3.12, PINGRESP §3.13, DISCONNECT §3.14.
MQTT_CONNACK_BYTES = 4
MQTT_PUBACK_BYTES = 4
MQTT_PINGREQ_BYTES = 2
MQTT_PINGRESP_BYTES = 2
MQTT_DISCONNECT_BYTES = 2


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def mqtt_remaining_length_bytes(remaining_length_bytes: ArrayLike) -> np.ndarray:
    """Size of the Remaining Length varint: 1 below 128, 2 below 16,384, 3, 4 (§2.2.3)."""
    rl = np.asarray(remaining_length_bytes, dtype=np.int64)
    if ((rl < 0) | (rl > MQTT_MAX_REMAINING_LENGTH_BYTES)).any():
        raise ValueError(f"MQTT Remaining Length must be 0..{MQTT_MAX_REMAINING_LENGTH_BYTES}")
    return 1 + (rl >= 128) + (rl >= 16_384) + (rl >= 2_097_152)


def mqtt_packet_size_bytes(remaining_length_bytes: ArrayLike) -> np.ndarray:
    """Whole MQTT control packet: fixed header first byte, the varint, the remaining bytes."""
    rl = np.asarray(remaining_length_bytes, dtype=np.int64)
    return MQTT_FIXED_HEADER_FIRST_BYTES + mqtt_remaining_length_bytes(rl) + rl


def mqtt_connect_size_bytes(client_id: str) -> int:
    """CONNECT with a client id, no will, user name or password (MQTT 3.1.1 §3.1)."""
    rl = MQTT_CONNECT_VARIABLE_HEADER_BYTES + MQTT_STRING_PREFIX_BYTES + _utf8_bytes(client_id)
    return int(mqtt_packet_size_bytes(rl))


def mqtt_publish_size_bytes(topic: str, payload_bytes: ArrayLike, qos: int) -> np.ndarray:
    """PUBLISH: topic string, packet id if QoS > 0, payload (MQTT 3.1.1 §3.3)."""
    if qos not in (0, 1, 2):
        raise ValueError(f"MQTT QoS must be 0, 1 or 2, got {qos!r}")
    rl = (
        MQTT_STRING_PREFIX_BYTES
        + _utf8_bytes(topic)
        + (MQTT_PACKET_ID_BYTES if qos else 0)
        + np.asarray(payload_bytes, dtype=np.int64)
    )
    return mqtt_packet_size_bytes(rl)


#: RFC 7252 §3: Ver, T, TKL, Code, Message ID.
COAP_HEADER_BYTES = 4
#: RFC 7252 §3: token lengths 9..15 are reserved.
COAP_MAX_TOKEN_BYTES = 8
#: RFC 7252 §3: the 0xFF marker before a non-empty payload.
COAP_PAYLOAD_MARKER_BYTES = 1
#: RFC 7252 §5.10 option numbers.
COAP_OPTION_URI_PATH = 11
COAP_OPTION_CONTENT_FORMAT = 12
#: RFC 7252 §4.8: MAX_RETRANSMIT of a confirmable message.
COAP_MAX_RETRANSMIT = 4


def coap_uint_bytes(value: int) -> int:
    """Length of a CoAP uint option value: minimal big-endian, 0 is empty (RFC 7252 §3.2)."""
    return (value.bit_length() + 7) // 8


def _coap_extended_bytes(value: int) -> int:
    """Extended delta/length bytes: none below 13, 1 below 269, else 2 (RFC 7252 §3.1)."""
    return 0 if value < 13 else 1 if value < 269 else 2


def coap_options_size_bytes(options: Sequence[tuple[int, int]]) -> int:
    """Encoded options given as (number, value length) pairs, sorted by number (RFC 7252 §3.1)."""
    size_bytes, previous = 0, 0
    for number, value_bytes in sorted(options, key=lambda o: o[0]):
        delta = number - previous
        size_bytes += (
            1 + _coap_extended_bytes(delta) + _coap_extended_bytes(value_bytes) + value_bytes
        )
        previous = number
    return size_bytes


def coap_message_size_bytes(
    token_bytes: int, options: Sequence[tuple[int, int]], payload_bytes: ArrayLike
) -> np.ndarray:
    """CoAP message: header, token, options, payload marker and payload if any (RFC 7252 §3)."""
    if not 0 <= token_bytes <= COAP_MAX_TOKEN_BYTES:
        raise ValueError(f"CoAP token must be 0..{COAP_MAX_TOKEN_BYTES} bytes, got {token_bytes}")
    payload = np.asarray(payload_bytes, dtype=np.int64)
    marker = np.where(payload > 0, COAP_PAYLOAD_MARKER_BYTES, 0)
    return COAP_HEADER_BYTES + token_bytes + coap_options_size_bytes(options) + marker + payload


#: RFC 9112 §2.3: the protocol version written in request and status lines.
HTTP_VERSION = "HTTP/1.1"
#: RFC 9112 §2.1: lines end in CRLF.
CRLF_BYTES = 2
#: RFC 9112 §5.1: ``name: value`` written with one space of optional whitespace.
HTTP_FIELD_SEPARATOR_BYTES = 2
#: RFC 9110 §5.6.7: an IMF-fixdate such as ``Sun, 06 Nov 1994 08:49:37 GMT``.
HTTP_DATE_VALUE_BYTES = 29
#: Fields the framing writes itself: Host (RFC 9112 §3.2), Content-Length (RFC 9110 §8.6) and,
#: on responses, Date (RFC 9110 §6.6.1, an origin server with a clock MUST send it).
HTTP_MANAGED_FIELDS = ("host", "content-length", "date")


def _decimal_digits(values: ArrayLike) -> np.ndarray:
    """Number of decimal digits of non-negative integers (1 for 0)."""
    v = np.asarray(values, dtype=np.int64)
    return 1 + sum((v >= 10**k).astype(np.int64) for k in range(1, 19))


def http_field_line_bytes(name: str, value_bytes: ArrayLike) -> np.ndarray:
    """One header field line ``name: value`` CRLF (RFC 9112 §5)."""
    return _utf8_bytes(name) + HTTP_FIELD_SEPARATOR_BYTES + np.asarray(value_bytes) + CRLF_BYTES


def _check_fields(headers: Sequence[tuple[str, str]]) -> None:
    names = [name.lower() for name, _ in headers]
    if len(set(names)) != len(names):
        raise ValueError(f"HTTP header names must be distinct, got {names}")
    managed = sorted(set(names) & set(HTTP_MANAGED_FIELDS))
    if managed:
        raise ValueError(f"HTTP headers {managed} are written by the framing, do not pass them")


def _fields_bytes(headers: Sequence[tuple[str, str]]) -> int:
    _check_fields(headers)
    return sum(int(http_field_line_bytes(name, _utf8_bytes(value))) for name, value in headers)


def http_request_size_bytes(
    method: str, target: str, host: str, headers: Sequence[tuple[str, str]], body_bytes: ArrayLike
) -> np.ndarray:
    """Request line (RFC 9112 §3), Host, Content-Length, ``headers``, empty line, body.

    Content-Length is always written (scapy does so even for an empty body).
    """
    body = np.asarray(body_bytes, dtype=np.int64)
    request_line_bytes = _utf8_bytes(f"{method} {target} {HTTP_VERSION}") + CRLF_BYTES
    return (
        request_line_bytes
        + http_field_line_bytes("Host", _utf8_bytes(host))
        + http_field_line_bytes("Content-Length", _decimal_digits(body))
        + _fields_bytes(headers)
        + CRLF_BYTES
        + body
    )


def http_response_size_bytes(
    status_code: int, reason: str, headers: Sequence[tuple[str, str]], body_bytes: ArrayLike
) -> np.ndarray:
    """Status line (RFC 9112 §4), Date, Content-Length, ``headers``, empty line, body."""
    body = np.asarray(body_bytes, dtype=np.int64)
    status_line_bytes = _utf8_bytes(f"{HTTP_VERSION} {status_code:03d} {reason}") + CRLF_BYTES
    return (
        status_line_bytes
        + http_field_line_bytes("Date", HTTP_DATE_VALUE_BYTES)
        + http_field_line_bytes("Content-Length", _decimal_digits(body))
        + _fields_bytes(headers)
        + CRLF_BYTES
        + body
    )


# --- Named exchange shapes --------------------------------------------------------------------

#: One planned write: direction, size (a scalar or one entry per session) and label.
PlannedWrite = tuple[Direction, np.ndarray, str]


class Exchange(ABC):
    """A named exchange shape of a traffic profile: the writes of one session of N app bytes.

    Subclasses define :meth:`plan`; :meth:`explain` lists the packets of one session and
    :meth:`totals` gives per-session (uplink, downlink) IP bytes for an array of payload sizes.
    """

    name: ClassVar[str]
    transport: ClassVar[Literal["tcp", "udp"]]

    @abstractmethod
    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        """The writes of a session carrying ``payload_bytes`` (sizes broadcast over sessions)."""

    def writes(self, payload_bytes: int) -> list[Write]:
        """The writes of one session, as :class:`Write` records."""
        return [Write(d, int(size), label) for d, size, label in self.plan(payload_bytes)]

    def explain(
        self, payload_bytes: int, opts: WireOptions = DEFAULT_WIRE_OPTIONS
    ) -> list[WirePacket]:
        """Every IP packet of one session."""
        sizes = tcp_exchange_sizes if self.transport == "tcp" else udp_exchange_sizes
        return sizes(self.writes(payload_bytes), opts)

    def totals(
        self, payload_bytes: ArrayLike, opts: WireOptions = DEFAULT_WIRE_OPTIONS
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-session (uplink, downlink) IP bytes, vectorized over ``payload_bytes``."""
        planned = self.plan(np.asarray(payload_bytes, dtype=np.int64))
        totals = tcp_totals if self.transport == "tcp" else udp_totals
        return totals([d for d, _, _ in planned], [s for _, s, _ in planned], opts)


@dataclass(frozen=True)
class MqttExchange(Exchange):
    """MQTT 3.1.1 session: CONNECT/CONNACK, PUBLISH (+PUBACK at QoS 1), pings, DISCONNECT."""

    name: ClassVar[str] = "mqtt"
    transport: ClassVar[Literal["tcp", "udp"]] = "tcp"
    client_id: str = "cellfleet-000001"
    keepalive_s: int = 60
    topic: str = "t/1"
    qos: Literal[0, 1] = 0
    pings: int = 0

    def __post_init__(self) -> None:
        if self.qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {self.qos!r}")
        if self.pings < 0 or not 0 <= self.keepalive_s <= 0xFFFF:
            raise ValueError("pings must be >= 0 and keepalive_s 0..65535 (MQTT 3.1.1 §3.1.2.10)")

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        one = np.int64(1)
        planned = [
            (UP, one * mqtt_connect_size_bytes(self.client_id), "MQTT CONNECT"),
            (DOWN, one * MQTT_CONNACK_BYTES, "MQTT CONNACK"),
            (UP, mqtt_publish_size_bytes(self.topic, payload_bytes, self.qos), "MQTT PUBLISH"),
        ]
        if self.qos == 1:
            planned.append((DOWN, one * MQTT_PUBACK_BYTES, "MQTT PUBACK"))
        for _ in range(self.pings):
            planned += [
                (UP, one * MQTT_PINGREQ_BYTES, "MQTT PINGREQ"),
                (DOWN, one * MQTT_PINGRESP_BYTES, "MQTT PINGRESP"),
            ]
        planned.append((UP, one * MQTT_DISCONNECT_BYTES, "MQTT DISCONNECT"))
        return planned


@dataclass(frozen=True)
class CoapExchange(Exchange):
    """CoAP POST: CON answered by a piggybacked ACK 2.04 (RFC 7252 §5.2.1), or NON unanswered.

    ``retransmissions`` lost copies of the CON precede the one answered (RFC 7252 §4.2).
    """

    name: ClassVar[str] = "coap"
    transport: ClassVar[Literal["tcp", "udp"]] = "udp"
    confirmable: bool = True
    token_bytes: int = 4
    uri_path: tuple[str, ...] = ("t",)
    content_format: int | None = None
    retransmissions: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.token_bytes <= COAP_MAX_TOKEN_BYTES:
            raise ValueError(f"token_bytes must be 0..{COAP_MAX_TOKEN_BYTES}")
        if not 0 <= self.retransmissions <= (COAP_MAX_RETRANSMIT if self.confirmable else 0):
            raise ValueError("retransmissions must be 0..4 for CON and 0 for NON (RFC 7252 §4.8)")

    def request_options(self) -> list[tuple[int, int]]:
        """(number, value length) of the request options: Uri-Path segments, Content-Format."""
        options = [(COAP_OPTION_URI_PATH, _utf8_bytes(seg)) for seg in self.uri_path]
        if self.content_format is not None:
            options.append((COAP_OPTION_CONTENT_FORMAT, coap_uint_bytes(self.content_format)))
        return options

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        request = coap_message_size_bytes(self.token_bytes, self.request_options(), payload_bytes)
        kind = "CON" if self.confirmable else "NON"
        planned = [(UP, request, f"CoAP {kind} POST" + LOST_SUFFIX)] * self.retransmissions
        planned.append((UP, request, f"CoAP {kind} POST"))
        if self.confirmable:
            ack = coap_message_size_bytes(self.token_bytes, [], 0)
            planned.append((DOWN, ack, "CoAP ACK 2.04"))
        return planned


@dataclass(frozen=True)
class UdpExchange(Exchange):
    """A raw UDP datagram of the payload, optionally answered by ``response_bytes``."""

    name: ClassVar[str] = "udp"
    transport: ClassVar[Literal["tcp", "udp"]] = "udp"
    response_bytes: int | None = None

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        planned = [(UP, np.asarray(payload_bytes, dtype=np.int64), "UDP datagram")]
        if self.response_bytes is not None:
            planned.append((DOWN, np.int64(self.response_bytes), "UDP response"))
        return planned


@dataclass(frozen=True)
class HttpExchange(Exchange):
    """HTTP/1.1 request carrying the payload as body, one response, over its own connection."""

    name: ClassVar[str] = "http"
    transport: ClassVar[Literal["tcp", "udp"]] = "tcp"
    method: str = "POST"
    target: str = "/v1/telemetry"
    host: str = "api.example.com"
    request_headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    status_code: int = 200
    reason: str = "OK"
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body_bytes: int = 0

    def __post_init__(self) -> None:
        _check_fields(self.request_headers)
        _check_fields(self.response_headers)

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        request = http_request_size_bytes(
            self.method, self.target, self.host, self.request_headers, payload_bytes
        )
        response = http_response_size_bytes(
            self.status_code, self.reason, self.response_headers, self.response_body_bytes
        )
        return [(UP, request, f"HTTP {self.method}"), (DOWN, response, f"HTTP {self.status_code}")]


#: The exchange shapes traffic profiles name.
EXCHANGES: dict[str, type[Exchange]] = {
    cls.name: cls for cls in (MqttExchange, CoapExchange, UdpExchange, HttpExchange)
}


def make_exchange(name: str, **params: object) -> Exchange:
    """The exchange shape ``name`` with ``params``; raises ValueError naming the known shapes."""
    if name not in EXCHANGES:
        raise ValueError(f"unknown exchange {name!r}; known: {', '.join(sorted(EXCHANGES))}")
    return EXCHANGES[name](**params)
