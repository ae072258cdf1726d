"""Scapy-built packets of device exchanges: the source of truth of the wire sizes.

Every packet of an exchange is a real scapy stack (IPv4 or IPv6 / TCP or UDP / data) whose
lengths and checksums scapy fills at build time; the application writes (MQTT, CoAP, HTTP) are
built with scapy's protocol layers too, by :mod:`cellfleet.emulator.messages`. This is slow
(about a thousand packets a second) and meant for tests, pcaps and ``explain``;
:mod:`cellfleet.emulator.wire` is the fast model that ``tests/test_wire.py`` checks against it
packet by packet.

The exchange rules (segmentation, delayed ACK, handshake, retransmission, teardown, UDP
fragmentation) are those stated in :mod:`cellfleet.emulator.wire`; here they are played out by
a small stateful simulation of the two TCP ends (sequence numbers, timestamps, the count of
unacknowledged segments), independently of the model's arithmetic; :class:`TcpConnection` keeps
that state across the phases of a persistent connection. Each packet's label is in its
``comment`` (scapy writes it into pcapng). Packet ``time`` is left to the caller: simulated-time
captures must set it.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.packet import Packet, Raw

from cellfleet.emulator.exchanges import Exchange
from cellfleet.emulator.messages import exchange_messages
from cellfleet.emulator.wire import (
    DEFAULT_WIRE_OPTIONS,
    DOWN,
    LABEL_ACK,
    LABEL_FIN,
    LABEL_SYN,
    LABEL_SYN_ACK,
    LABEL_SYN_LOST,
    LOST_SUFFIX,
    UP,
    Direction,
    WireOptions,
    WirePacket,
    Write,
    fragment_label,
    opposite,
    segment_label,
)

#: Initial sequence numbers and first timestamp value: fixed so captures are reproducible.
CLIENT_ISN = 1_000
SERVER_ISN = 500_000
FIRST_TSVAL = 100_000
#: Linux's default window scale shift and the windows it advertises (sizes do not depend on them).
WINDOW_SCALE_SHIFT = 7
SYN_WINDOW = 64_240
ESTABLISHED_WINDOW = 502
#: Server ports: MQTT 1883 (MQTT 3.1.1 §4.2), CoAP 5683 (RFC 7252 §6.1), HTTP 80
#: (RFC 9110 §4.2.1); raw UDP uses an arbitrary application port.
WELL_KNOWN_PORTS = {"mqtt": 1883, "coap": 5683, "http": 80, "udp": 40_000}
#: IP protocol numbers (IANA): TCP 6, UDP 17, IPv6 Fragment header 44 (RFC 8200 §4.5).
PROTO_TCP, PROTO_UDP, PROTO_IPV6_FRAGMENT = 6, 17, 44


@dataclass(frozen=True)
class Endpoints:
    """Addresses and ports of the device (client) and its server."""

    client_ipv4: str = "10.45.0.2"  # a PDN-assigned private address (RFC 1918)
    server_ipv4: str = "192.0.2.10"  # TEST-NET-1 (RFC 5737)
    client_ipv6: str = "2001:db8::2"  # documentation prefix (RFC 3849)
    server_ipv6: str = "2001:db8::10"
    client_port: int = 49_152  # first dynamic port (RFC 6335 §6)
    server_port: int = WELL_KNOWN_PORTS["mqtt"]

    def addresses(self, ip_version: int) -> tuple[str, str]:
        """(client, server) addresses of an IP version."""
        if ip_version == 4:
            return self.client_ipv4, self.server_ipv4
        return self.client_ipv6, self.server_ipv6


def _ip_layer(ip_version: int, src: str, dst: str) -> Packet:
    return IP(src=src, dst=dst) if ip_version == 4 else IPv6(src=src, dst=dst)


def _payloads(writes: Sequence[Write], data: Sequence[bytes] | None) -> list[bytes]:
    """The bytes of every write: ``data`` if given (checked against the sizes), else zeros."""
    if data is None:
        return [bytes(w.size_bytes) for w in writes]
    if len(data) != len(writes) or any(len(d) != w.size_bytes for d, w in zip(data, writes)):
        raise ValueError("data must hold one bytes object of each write's size_bytes")
    return list(data)


class _TcpEnd:
    """One end of the connection: address, port, next sequence number, timestamp and ACK state."""

    def __init__(self, address: str, port: int, isn: int) -> None:
        self.address = address
        self.port = port
        self.snd_nxt = isn
        self.ts_recent = 0
        self.unacked_segments = 0


class _TcpBuilder:
    """Emits the scapy segments of one connection, keeping both ends' state."""

    def __init__(self, opts: WireOptions, endpoints: Endpoints) -> None:
        client_address, server_address = endpoints.addresses(opts.ip_version)
        self.opts = opts
        self.ends = {
            UP: _TcpEnd(client_address, endpoints.client_port, CLIENT_ISN),
            DOWN: _TcpEnd(server_address, endpoints.server_port, SERVER_ISN),
        }
        self.packets: list[Packet] = []
        header_bytes = len(_ip_layer(opts.ip_version, client_address, server_address) / TCP())
        #: RFC 9293 §3.7.1: MSS = MTU - fixed IP and TCP headers.
        self.mss_option = opts.mtu_bytes - header_bytes
        #: Data per segment: the MSS less the options every established segment carries.
        self.segment_bytes = self.mss_option - (len(TCP(options=self._options(0, 0))) - len(TCP()))

    def _options(self, tsval: int, tsecr: int) -> list[tuple]:
        if not self.opts.tcp_timestamps:
            return []
        return [("NOP", None), ("NOP", None), ("Timestamp", (tsval, tsecr))]

    def _syn_options(self, tsval: int, tsecr: int) -> list[tuple]:
        """SYN options in Linux ``tcp_options_write`` order."""
        options: list[tuple] = [("MSS", self.mss_option)]
        if self.opts.tcp_timestamps:
            first = (
                [("SAckOK", b"")] if self.opts.sack_permitted else [("NOP", None), ("NOP", None)]
            )
            options += first + [("Timestamp", (tsval, tsecr))]
        elif self.opts.sack_permitted:
            options += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
        if self.opts.window_scale:
            options += [("NOP", None), ("WScale", WINDOW_SCALE_SHIFT)]
        return options

    def emit(self, direction: Direction, flags: str, label: str, load: bytes = b"") -> None:
        """Append one segment from the ``direction`` sender with its current seq/ack/timestamps."""
        sender, receiver = self.ends[direction], self.ends[opposite(direction)]
        tsval = FIRST_TSVAL + len(self.packets)
        syn = "S" in flags
        options = self._syn_options if syn else self._options
        tcp = TCP(
            sport=sender.port,
            dport=receiver.port,
            flags=flags,
            seq=sender.snd_nxt,
            ack=receiver.snd_nxt if "A" in flags else 0,
            window=SYN_WINDOW if syn else ESTABLISHED_WINDOW,
            options=options(tsval, sender.ts_recent if "A" in flags else 0),
        )
        pkt = _ip_layer(self.opts.ip_version, sender.address, receiver.address) / tcp
        if load:
            pkt = pkt / Raw(load=load)
        pkt.comment = label.encode()
        receiver.ts_recent = tsval
        self.packets.append(pkt)

    def ack(self, direction: Direction) -> None:
        """A pure ACK from the ``direction`` sender, clearing its unacknowledged count."""
        self.emit(direction, "A", LABEL_ACK)
        self.ends[direction].unacked_segments = 0

    def handshake(self) -> None:
        client, server = self.ends[UP], self.ends[DOWN]
        for _ in range(self.opts.syn_retries):
            self.emit(UP, "S", LABEL_SYN_LOST)
        self.emit(UP, "S", LABEL_SYN)
        client.snd_nxt += 1
        self.emit(DOWN, "SA", LABEL_SYN_ACK)
        server.snd_nxt += 1
        self.emit(UP, "A", LABEL_ACK)

    def write(
        self, write: Write, load: bytes, first_segment: int, next_sender: Direction | None
    ) -> int:
        """Send one write as segments with the receiver's ACKs; returns its segment count."""
        sender, receiver_direction = self.ends[write.direction], opposite(write.direction)
        receiver = self.ends[receiver_direction]
        sender.unacked_segments = 0  # its data carries the ACK (piggybacked)
        chunks = [load[o : o + self.segment_bytes] for o in range(0, len(load), self.segment_bytes)]
        for k, chunk in enumerate(chunks):
            flags = "PA" if k == len(chunks) - 1 else "A"
            label = segment_label(write.label, k, len(chunks))
            for _ in range(self.opts.retransmit_segments.count(first_segment + k)):
                self.emit(write.direction, flags, label + LOST_SUFFIX, chunk)  # lost copies
            self.emit(write.direction, flags, label, chunk)
            sender.snd_nxt += len(chunk)
            receiver.unacked_segments += 1
            if not self.opts.delayed_ack or receiver.unacked_segments >= 2:
                self.ack(receiver_direction)
        if receiver.unacked_segments and next_sender != receiver_direction:
            self.ack(receiver_direction)  # the delayed-ACK timer fires: nobody answers in time
        return len(chunks)

    def teardown(self) -> None:
        self.emit(UP, "FA", LABEL_FIN)
        self.ends[UP].snd_nxt += 1
        self.emit(DOWN, "A", LABEL_ACK)
        self.emit(DOWN, "FA", LABEL_FIN)
        self.ends[DOWN].snd_nxt += 1
        self.emit(UP, "A", LABEL_ACK)


class TcpConnection:
    """One TCP connection played out in phases that continue each other.

    A persistent connection (an MQTT device that stays connected) is opened once, then carries
    reports and keepalive pings seconds or minutes apart, and is maybe closed: each phase is a
    :meth:`play` call whose packets continue the sequence numbers, timestamps and ports of the
    phases before, so a capture holds one TCP stream per connection. :meth:`failed_attempt`
    plays a connection attempt nobody answers. Every phase follows the rules of
    :mod:`cellfleet.emulator.wire` with its own options (``handshake``, ``teardown``,
    ``retransmit_segments`` counted from the phase's first data segment); options that shape
    segments (IP version, MTU, TCP options) must stay those of the connection.
    """

    def __init__(self, opts: WireOptions, endpoints: Endpoints = Endpoints()) -> None:
        self._builder = _TcpBuilder(opts, endpoints)
        self._synchronized = False

    def _use(self, opts: WireOptions) -> _TcpBuilder:
        builder = self._builder
        shape = ("ip_version", "mtu_bytes", "tcp_timestamps", "sack_permitted", "window_scale")
        if any(getattr(opts, f) != getattr(builder.opts, f) for f in shape):
            raise ValueError(f"a phase cannot change {shape} of its connection")
        builder.opts = opts
        return builder

    def play(
        self, writes: Sequence[Write], opts: WireOptions, data: Sequence[bytes] | None = None
    ) -> list[Packet]:
        """The packets of one phase: handshake if ``opts.handshake``, the writes, the teardown
        if ``opts.teardown``; returns only this phase's packets.

        A phase without handshake on a fresh connection starts as after a handshake made earlier
        (both sequence numbers past their SYN).
        """
        builder = self._use(opts)
        start = len(builder.packets)
        if opts.handshake:
            builder.handshake()
        elif not self._synchronized:
            builder.ends[UP].snd_nxt += 1
            builder.ends[DOWN].snd_nxt += 1
        self._synchronized = True
        live = [(w, d) for w, d in zip(writes, _payloads(writes, data)) if w.size_bytes > 0]
        first_segment = 0
        for i, (write, load) in enumerate(live):
            next_sender = live[i + 1][0].direction if i + 1 < len(live) else None
            first_segment += builder.write(write, load, first_segment, next_sender)
        if opts.teardown:
            builder.teardown()
        return builder.packets[start:]

    def failed_attempt(self, syn_retries: int) -> list[Packet]:
        """A SYN and ``syn_retries`` retransmissions of it, none answered (RFC 9293 §3.5,
        RFC 6298 §5.5): the same segment each time, labelled lost."""
        if syn_retries < 0:
            raise ValueError(f"syn_retries must be >= 0, got {syn_retries}")
        builder = self._builder
        start = len(builder.packets)
        for _ in range(1 + syn_retries):
            builder.emit(UP, "S", LABEL_SYN_LOST)
        return builder.packets[start:]


def tcp_exchange_packets(
    writes: Sequence[Write],
    opts: WireOptions = DEFAULT_WIRE_OPTIONS,
    endpoints: Endpoints = Endpoints(),
    data: Sequence[bytes] | None = None,
) -> list[Packet]:
    """The scapy packets of one TCP connection carrying ``writes`` (rules in ``wire``'s doc).

    ``data`` optionally gives each write's bytes (e.g. real MQTT packets); zeros otherwise.
    """
    return TcpConnection(opts, endpoints).play(writes, opts, data)


def udp_exchange_packets(
    writes: Sequence[Write],
    opts: WireOptions = DEFAULT_WIRE_OPTIONS,
    endpoints: Endpoints = Endpoints(),
    data: Sequence[bytes] | None = None,
) -> list[Packet]:
    """One UDP datagram per write; larger than the MTU, it is sent as IP fragments.

    IPv4 fragments come from scapy's ``fragment`` (RFC 791), IPv6 ones from ``fragment6`` with
    a Fragment header (RFC 8200 §4.5). Each packet's label is in its ``comment``.
    """
    client_address, server_address = endpoints.addresses(opts.ip_version)
    ends = {
        UP: (client_address, endpoints.client_port),
        DOWN: (server_address, endpoints.server_port),
    }
    packets: list[Packet] = []
    for index, (write, load) in enumerate(zip(writes, _payloads(writes, data))):
        (src, sport), (dst, dport) = ends[write.direction], ends[opposite(write.direction)]
        datagram = UDP(sport=sport, dport=dport) / Raw(load=load)
        pkt = _ip_layer(opts.ip_version, src, dst) / datagram
        if len(pkt) <= opts.mtu_bytes:
            pieces = [pkt]
        elif opts.ip_version == 4:
            pieces = fragment(pkt, fragsize=opts.mtu_bytes - len(IP()))
        else:
            with_header = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=index) / datagram
            pieces = fragment6(with_header, opts.mtu_bytes)
        for k, piece in enumerate(pieces):
            piece.comment = fragment_label(write.label, k, len(pieces)).encode()
            packets.append(piece)
    return packets


def _same_address(a: str, b: str) -> bool:
    family = socket.AF_INET6 if ":" in a else socket.AF_INET
    return (":" in a) == (":" in b) and socket.inet_pton(family, a) == socket.inet_pton(family, b)


def wire_packet(pkt: Packet, endpoints: Endpoints = Endpoints()) -> WirePacket:
    """Direction, IP length and transport payload of a packet, read from its built bytes.

    The packet is built (``bytes``) and its IP header re-dissected: the length is the one scapy
    wrote into the header (IPv4 Total Length, IPv6 40 + Payload Length), checked against the
    built size. Raises ValueError if they differ.
    """
    raw = bytes(pkt)
    if raw[0] >> 4 == 4:
        header = IP(raw[: len(IP())])
        ip_bytes, header_bytes = header.len, header.ihl * 4
        proto, first = header.proto, header.frag == 0
        client = endpoints.client_ipv4
    else:
        header = IPv6(raw[: len(IPv6())])
        ip_bytes, header_bytes, proto = len(IPv6()) + header.plen, len(IPv6()), header.nh
        first = True
        if proto == PROTO_IPV6_FRAGMENT:
            frag = IPv6ExtHdrFragment(raw[header_bytes : header_bytes + len(IPv6ExtHdrFragment())])
            header_bytes += len(IPv6ExtHdrFragment())
            proto, first = frag.nh, frag.offset == 0
        client = endpoints.client_ipv6
    if ip_bytes != len(raw):
        raise ValueError(f"IP header says {ip_bytes} bytes, the packet has {len(raw)}")
    transport_bytes = ip_bytes - header_bytes
    if proto == PROTO_TCP:
        payload_bytes = (
            transport_bytes - TCP(raw[header_bytes : header_bytes + len(TCP())]).dataofs * 4
        )
    elif proto == PROTO_UDP:
        payload_bytes = transport_bytes - (len(UDP()) if first else 0)
    else:
        raise ValueError(f"not a TCP or UDP packet (protocol {proto})")
    direction = UP if _same_address(header.src, client) else DOWN
    label = (pkt.comment or b"").decode()
    return WirePacket(direction, ip_bytes, payload_bytes, label)


def wire_packets(packets: Sequence[Packet], endpoints: Endpoints = Endpoints()) -> list[WirePacket]:
    """:func:`wire_packet` of every packet."""
    return [wire_packet(p, endpoints) for p in packets]


def exchange_packets(
    exchange: Exchange,
    payload_bytes: int,
    opts: WireOptions = DEFAULT_WIRE_OPTIONS,
    endpoints: Endpoints | None = None,
) -> list[Packet]:
    """All packets of one session, carrying the real application bytes.

    Without ``endpoints`` the server listens on the exchange's well-known port.
    """
    if endpoints is None:
        endpoints = Endpoints(server_port=WELL_KNOWN_PORTS[exchange.name])
    messages = exchange_messages(exchange, payload_bytes)
    writes = [Write(d, len(m), label) for d, m, label in messages]
    build = tcp_exchange_packets if exchange.transport == "tcp" else udp_exchange_packets
    return build(writes, opts, endpoints, [m for _, m, _ in messages])
