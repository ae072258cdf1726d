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
  counted from 0 across all writes of both directions. A segment listed ``k`` times has ``k`` lost
  copies: it is sent ``k + 1`` times back to back; the lost copies are lost after the gateway
  counted them (billed), the receiver only sees the last, so ACKs
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
HTTP) are in :mod:`cellfleet.emulator.framing`, the named exchange shapes of traffic profiles in
:mod:`cellfleet.emulator.exchanges`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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
    lost = Counter(opts.retransmit_segments)
    first_segment = 0
    for i, write in enumerate(live):
        receiver = opposite(write.direction)
        ack = WirePacket(receiver, control_bytes, 0, LABEL_ACK)
        count = -(-write.size_bytes // mss_bytes)
        for k in range(count):
            data_bytes = mss_bytes if k < count - 1 else write.size_bytes - (count - 1) * mss_bytes
            label = segment_label(write.label, k, count)
            segment = WirePacket(write.direction, control_bytes + data_bytes, data_bytes, label)
            packets += [
                WirePacket(segment.direction, segment.ip_bytes, data_bytes, label + LOST_SUFFIX)
            ] * lost[first_segment + k]
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


def _accumulators(directions: Sequence[Direction], write_sizes_bytes: Sequence[ArrayLike]):
    """Broadcast write sizes (checked against the directions), and zeroed (uplink, downlink)
    totals with the running total each direction adds to."""
    for d in directions:
        if d not in (UP, DOWN):
            raise ValueError(f"direction must be 'up' or 'down', got {d!r}")
    sizes = _columns(write_sizes_bytes)
    if len(sizes) != len(directions):
        raise ValueError(f"{len(directions)} directions but {len(sizes)} write sizes")
    shape = sizes[0].shape if sizes else ()
    up = np.zeros(shape, dtype=np.int64)
    down = np.zeros(shape, dtype=np.int64)
    return sizes, up, down, {UP: up, DOWN: down}


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
    sizes, up, down, total = _accumulators(directions, write_sizes_bytes)
    shape = up.shape
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
        for index, copies in Counter(opts.retransmit_segments).items():
            k = index - first_segment
            hit = (k >= 0) & (k < count)
            data_bytes = np.where(k < count - 1, mss_bytes, size - (count - 1) * mss_bytes)
            total[direction] += np.where(hit, copies * (control_bytes + data_bytes), 0)
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
    sizes, up, down, total = _accumulators(directions, write_sizes_bytes)
    for direction, size in zip(directions, sizes):
        total[direction] += udp_datagram_ip_bytes(size, opts)
    return up, down
