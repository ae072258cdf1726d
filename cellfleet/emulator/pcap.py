"""A device's sessions as a pcap file in simulated time, readable by Wireshark and tshark.

Each session is played out by the scapy builders of :mod:`cellfleet.emulator.packets` from the
session's own writes (``SessionProfile.writes``) and wire options, so the file holds exactly the
packets the size model bills: the sum of the IP lengths in the file equals the sum of
``SessionProfile.packets(...)`` IP bytes, i.e. the uplink + downlink bytes of the session
records (platforms.md §7: volume counted at the IP layer, both directions).

What goes into the file:

* **Bytes**: the real application messages (MQTT, CoAP, HTTP built by scapy's layers); over TLS,
  the handshake records and encrypted application records built by
  :mod:`cellfleet.emulator.tls_scapy` (so Wireshark shows a Client Hello and Server Hello); over
  DTLS, the DTLS 1.2 records built the same way by :mod:`cellfleet.emulator.dtls_scapy`. Raw UDP
  datagrams are zeros. Their sizes must be those of the writes: the builders raise ``ValueError``
  otherwise, so a size model that drifts from the bytes cannot produce a file.
* **Addresses**: a device address from :func:`device_addresses` (or the caller's) and a server in
  the documentation ranges (192.0.2.0/24 TEST-NET-1, RFC 5737 §3; 2001:db8::/32, RFC 3849 §2),
  since emulated traffic must not pretend to come from or go to real hosts.
* **Ports**: the server listens on the protocol's registered port (:func:`server_port`); each
  session (connection) gets its own client port in the dynamic range 49152-65535 (RFC 6335 §6),
  chosen from its ``session_index`` (``connection_index``), so Wireshark sees one TCP stream / UDP
  conversation per session or persistent connection.
* **Checksums**: every packet is serialised with ``bytes()``, which makes scapy compute the IPv4
  header, TCP and UDP checksums (its ``post_build``; the builders leave ``chksum`` unset).
* **Timestamps** (:func:`packet_offsets_us`): the session's start plus a deterministic model, in
  whole microseconds, the resolution of a classic pcap record header.
* **Connections and phases** (:class:`ExchangeOnWire`): besides whole sessions
  (:class:`SessionOnWire`, kind ``session``), the phases of a persistent MQTT connection
  (``open``, ``report``, ``ping``, ``close``: :mod:`cellfleet.emulator.connection`) stamped at
  their own times; the phases that share a ``connection_index`` continue one TCP connection
  (one client port, sequence numbers and timestamps going on), so Wireshark shows one stream.
  Failed connection attempts (``failed``) and sessions with lost segments or CoAP copies
  (``lost_segments``, ``lost_con_copies``) are written with their lost packets, which the gateway
  counted and the platform bills.
* **Format**: classic pcap, link type ``LINKTYPE_RAW`` (101, tcpdump.org link-layer header types:
  the packet begins with the IPv4 or IPv6 header, no link layer), so each record is exactly one IP
  packet and its captured length is its IP length.

The file is written to a temporary file next to ``path`` and renamed over it (``os.replace``),
so a reader never sees a half-written capture. scapy is slow (about a thousand packets a second):
this is for one device over a window, not for fleets.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scapy.packet import Packet
from scapy.utils import EDecimal, PcapWriter

from cellfleet.emulator import connection_scapy
from cellfleet.emulator.connection import phase_packets
from cellfleet.emulator.packets import (
    WELL_KNOWN_PORTS,
    Endpoints,
    TcpConnection,
    wire_packet,
)
from cellfleet.emulator.session import FAILED_ATTEMPT_SYN_RETRIES, SessionProfile
from cellfleet.emulator.wire import UP, Direction, WirePacket

#: LINKTYPE_RAW: the record starts with an IPv4 or IPv6 header (tcpdump.org "Link-layer header
#: types"). The file value is 101 on every platform, unlike the OS-specific DLT_RAW.
LINKTYPE_RAW = 101
#: Largest IP packet (IPv4 Total Length and IPv6 Payload Length are 16-bit), the snapshot length.
SNAPLEN_BYTES = 65_535
#: Dynamic (ephemeral) ports: 49152-65535 (RFC 6335 §6).
EPHEMERAL_PORT_FIRST = 49_152
EPHEMERAL_PORT_COUNT = 65_536 - EPHEMERAL_PORT_FIRST
#: Ports of the TLS/DTLS-secured variants: MQTT over TLS 8883 (MQTT 3.1.1 §4.2, IANA), HTTPS 443
#: (RFC 9110 §4.2.2), CoAP over DTLS 5684 (RFC 7252 §6.2, §12.7).
SECURE_PORTS = {"mqtt": 8_883, "http": 443, "coap": 5_684}
#: Server addresses: TEST-NET-1 (RFC 5737 §3) and the IPv6 documentation prefix (RFC 3849 §2).
SERVER_IPV4 = "192.0.2.10"
SERVER_IPV6 = "2001:db8::10"
#: Device addresses: IPv4 from 10.0.0.0/8 (RFC 1918 §3), as a PDN gateway assigns private
#: addresses behind its NAT; IPv6 one /64 per device (3GPP TS 23.401 §5.3.1.2.2 delegates a /64
#: prefix to each UE) inside the documentation prefix, skipping the server's 2001:db8:0:0::/64.
DEVICE_IPV4_NETWORK = ipaddress.IPv4Network("10.0.0.0/8")
DEVICE_IPV6_NETWORK = ipaddress.IPv6Network("2001:db8::/32")
#: Interface identifier of the device inside its /64.
DEVICE_IPV6_INTERFACE_ID = 1
US_PER_S = 1_000_000
#: Retransmission timeout before the first retransmitted SYN of a failed attempt, doubled before
#: each further one: the initial RTO of 1 s (RFC 6298 §2.1, §5.5); DTLS's initial timer is also
#: 1 s, doubled (RFC 6347 §4.2.4.1).
INITIAL_RTO_S = 1.0

#: What an :class:`ExchangeOnWire` writes: a whole session, a phase of a persistent connection,
#: or a failed connection attempt.
ExchangeKind = Literal["session", "open", "report", "ping", "close", "failed"]
EXCHANGE_KINDS: tuple[ExchangeKind, ...] = ("session", "open", "report", "ping", "close", "failed")


@dataclass(frozen=True)
class SessionOnWire:
    """One session of the device: when it starts, what it is, how much it carries.

    ``start_time_s`` is the offset from the scenario start (the records' ``start_time_s``);
    ``session_index`` numbers the device's sessions and picks the client port.
    """

    start_time_s: float
    session: SessionProfile
    payload_bytes: int
    session_index: int

    def as_exchange(self) -> ExchangeOnWire:
        """The same session as an :class:`ExchangeOnWire` of kind ``session``."""
        return ExchangeOnWire(
            self.start_time_s, "session", self.session, self.payload_bytes, self.session_index
        )


@dataclass(frozen=True)
class ExchangeOnWire:
    """One exchange of the device, stamped at ``time_s`` (offset from the scenario start).

    ``kind``: ``session`` (a whole session carrying ``payload_bytes``), ``open``, ``report``
    (carrying ``payload_bytes``), ``ping``, ``close`` (phases of a persistent MQTT connection),
    or ``failed`` (a connection attempt nobody answers: the SYN or first DTLS flight sent
    ``1 + syn_retries`` times, :data:`INITIAL_RTO_S` apart and doubling).
    ``connection_index`` picks the client port (:func:`client_port`); phases sharing it continue
    one TCP connection, so give every session and failed attempt an index of its own.
    ``lost_segments`` (TCP, numbered per phase as ``SegmentRuns`` does, a repeated index lost
    again) and ``lost_con_copies`` (CoAP CON, RFC 7252 §4.2) are its losses. A ``ping`` exchange
    is ``ping_count`` pings ``ping_interval_s`` apart (default: the MQTT keep alive), each with
    the same losses.
    """

    time_s: float
    kind: ExchangeKind
    session: SessionProfile
    payload_bytes: int = 0
    connection_index: int = 0
    lost_segments: tuple[int, ...] = ()
    lost_con_copies: int = 0
    syn_retries: int = FAILED_ATTEMPT_SYN_RETRIES
    ping_count: int = 1
    ping_interval_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXCHANGE_KINDS:
            raise ValueError(f"kind must be one of {EXCHANGE_KINDS}, got {self.kind!r}")
        if self.ping_count < 1 or (self.ping_interval_s is not None and self.ping_interval_s < 0):
            raise ValueError("ping_count must be >= 1 and ping_interval_s >= 0")

    @property
    def lossy_session(self) -> SessionProfile:
        """The session with this exchange's losses."""
        return self.session.with_losses(
            lost_segments=self.lost_segments, lost_con_copies=self.lost_con_copies
        )

    def phase_times_s(self) -> list[float]:
        """Start of each phase this exchange plays: one, or one per ping."""
        if self.kind != "ping":
            return [self.time_s]
        interval_s = self.ping_interval_s
        if interval_s is None:
            interval_s = float(getattr(self.session.exchange, "keepalive_s", 0))
        return [self.time_s + k * interval_s for k in range(self.ping_count)]

    def model_packets(self) -> list[WirePacket]:
        """The size model's packets of the whole exchange (all pings), what the file holds."""
        session = self.lossy_session
        if self.kind == "failed":
            return session.failed_attempt_packets(self.syn_retries)
        if self.kind == "session":
            return session.packets(self.payload_bytes)
        packets = phase_packets(session, self.kind, self.payload_bytes)
        return packets * len(self.phase_times_s())


@dataclass(frozen=True)
class PcapSummary:
    """What a written capture holds: packet count and IP bytes, in total and per direction."""

    packets: int
    ip_bytes: int
    uplink_bytes: int
    downlink_bytes: int


def device_addresses(device: int) -> tuple[str, str]:
    """(IPv4, IPv6) address of the device numbered ``device`` (the records' ``device`` column).

    IPv4: the ``device + 1``-th address of 10.0.0.0/8 (the network address skipped); IPv6:
    interface 1 of the ``device + 1``-th /64 of 2001:db8::/32. Distinct for distinct devices;
    ``ValueError`` beyond the ~16.7 million devices 10.0.0.0/8 holds.
    """
    # the network and broadcast addresses are not hosts
    ipv4_hosts = DEVICE_IPV4_NETWORK.num_addresses - 2
    if not 0 <= device < ipv4_hosts:
        raise ValueError(f"device must be in [0, {ipv4_hosts}), got {device}")
    ipv4 = DEVICE_IPV4_NETWORK[device + 1]
    prefix = int(DEVICE_IPV6_NETWORK.network_address) + ((device + 1) << 64)
    ipv6 = ipaddress.IPv6Address(prefix + DEVICE_IPV6_INTERFACE_ID)
    return str(ipv4), str(ipv6)


def server_port(session: SessionProfile) -> int:
    """The server's registered port: the TLS/DTLS one when the session is secured."""
    name = session.exchange.name
    ports = WELL_KNOWN_PORTS if session.security is None else SECURE_PORTS
    if name not in ports:
        raise ValueError(
            f"no server port for {name!r} (secured: {session.security is not None})"
        )
    return ports[name]


def client_port(session_index: int) -> int:
    """The device's source port of session ``session_index``: dynamic ports in turn (RFC 6335 §6).

    Successive sessions use successive ports, wrapping after 16384 sessions, as a stack that
    allocates ephemeral ports sequentially does.
    """
    if session_index < 0:
        raise ValueError(f"session_index must be >= 0, got {session_index}")
    return EPHEMERAL_PORT_FIRST + session_index % EPHEMERAL_PORT_COUNT


def packet_offsets_us(
    directions: Sequence[Direction], *, rtt_s: float, inter_packet_s: float
) -> list[int]:
    """Each packet's time after the session start, in microseconds: the timing model.

    The first packet leaves at the session start (offset 0). A packet sent in the same direction
    as the one before it follows it by ``inter_packet_s`` (back-to-back sending); a packet in the
    other direction is an answer and follows by ``rtt_s / 2`` (the one-way delay). Both steps are
    rounded to whole microseconds first, so every offset is an exact integer. The model has no
    bandwidth, delayed-ACK timer or retransmission timeout: it orders packets plausibly and keeps
    conversations apart, it does not predict latencies.
    """
    if rtt_s < 0 or inter_packet_s < 0:
        raise ValueError(
            f"rtt_s and inter_packet_s must be >= 0, got {rtt_s}, {inter_packet_s}"
        )
    turn_us, gap_us = round(rtt_s / 2 * US_PER_S), round(inter_packet_s * US_PER_S)
    offsets: list[int] = []
    for k, direction in enumerate(directions):
        if k == 0:
            offsets.append(0)
        else:
            step_us = gap_us if direction == directions[k - 1] else turn_us
            offsets.append(offsets[-1] + step_us)
    return offsets


def _ported(endpoints: Endpoints, session: SessionProfile, connection_index: int) -> Endpoints:
    """``endpoints``' addresses with the client port of the connection and the server's port."""
    return Endpoints(
        client_ipv4=endpoints.client_ipv4,
        server_ipv4=endpoints.server_ipv4,
        client_ipv6=endpoints.client_ipv6,
        server_ipv6=endpoints.server_ipv6,
        client_port=client_port(connection_index),
        server_port=server_port(session),
    )


def session_packets(session: SessionOnWire, endpoints: Endpoints) -> list[Packet]:
    """The scapy packets of one session between ``endpoints``, times not set.

    ``endpoints`` gives the addresses; the ports are replaced by :func:`client_port` and
    :func:`server_port`.
    """
    ported = _ported(endpoints, session.session, session.session_index)
    return connection_scapy.phase_packets(session.session, "session", session.payload_bytes, ported)


def exchange_phases(
    exchange: ExchangeOnWire,
    endpoints: Endpoints,
    connections: dict[int, TcpConnection] | None = None,
) -> list[tuple[float, list[Packet], bool]]:
    """(start time in s, scapy packets, timer-spaced?) of each phase of ``exchange``.

    ``connections`` holds the open TCP connections by ``connection_index``, for the phases of a
    persistent connection to continue them (played in time order, the caller's business).
    ``timer-spaced`` marks a failed attempt, whose copies are retransmission timeouts apart.
    """
    session = exchange.lossy_session
    ported = _ported(endpoints, session, exchange.connection_index)
    if exchange.kind == "failed":
        packets = connection_scapy.failed_attempt_packets(session, exchange.syn_retries, ported)
        return [(exchange.time_s, packets, True)]
    if exchange.kind == "session":
        packets = connection_scapy.phase_packets(session, "session", exchange.payload_bytes, ported)
        return [(exchange.time_s, packets, False)]
    if connections is None:
        connections = {}
    if exchange.connection_index not in connections:
        connections[exchange.connection_index] = TcpConnection(session.wire, ported)
    tcp = connections[exchange.connection_index]
    return [
        (time_s, connection_scapy.phase_packets(
            session, exchange.kind, exchange.payload_bytes, ported, tcp), False)
        for time_s in exchange.phase_times_s()
    ]  # fmt: skip


def failed_attempt_offsets_us(
    directions: Sequence[Direction], copies: int, *, inter_packet_s: float
) -> list[int]:
    """Offsets of a failed attempt's packets: ``copies`` equal flights, the k-th (from 0) at
    (2^k - 1) x :data:`INITIAL_RTO_S` (the timeout doubles, RFC 6298 §5.5, RFC 6347 §4.2.4.1),
    the packets of one flight ``inter_packet_s`` apart."""
    per_copy = len(directions) // copies if copies else 0
    rto_us, gap_us = round(INITIAL_RTO_S * US_PER_S), round(inter_packet_s * US_PER_S)
    return [((1 << (k // per_copy)) - 1) * rto_us + (k % per_copy) * gap_us
            for k in range(len(directions))]  # fmt: skip


def write_pcap(
    path: str | os.PathLike[str],
    sessions: Iterable[SessionOnWire | ExchangeOnWire],
    *,
    start_epoch_s: float,
    device_address_v4: str,
    device_address_v6: str,
    server_address_v4: str = SERVER_IPV4,
    server_address_v6: str = SERVER_IPV6,
    rtt_s: float = 0.2,
    inter_packet_s: float = 0.001,
) -> PcapSummary:
    """Write the packets of ``sessions`` (whole sessions, connection phases, failed attempts) to
    the pcap file ``path``, in time order.

    A packet's timestamp is ``start_epoch_s`` + its phase's start (a session's ``start_time_s``,
    an exchange's ``time_s``, a ping's) + its :func:`packet_offsets_us` offset
    (:func:`failed_attempt_offsets_us` for a failed attempt), each of the three rounded to whole
    microseconds; packets of overlapping exchanges are interleaved by time (ties keep the order
    of ``sessions``, then the exchange's own order). Each exchange's IP version is its
    ``wire.ip_version``. Phases of one persistent connection are played in time order. Selecting
    the sessions of a time window is the caller's business: an exchange's packets are all
    written, even those after the window's end, so the file's bytes equal the records'.
    """
    endpoints = Endpoints(
        client_ipv4=device_address_v4,
        server_ipv4=server_address_v4,
        client_ipv6=device_address_v6,
        server_ipv6=server_address_v6,
    )
    exchanges = [s.as_exchange() if isinstance(s, SessionOnWire) else s for s in sessions]
    start_epoch_us = round(start_epoch_s * US_PER_S)
    connections: dict[int, TcpConnection] = {}
    timed: list[tuple[int, int, int, WirePacket, bytes]] = []
    for order in sorted(range(len(exchanges)), key=lambda i: exchanges[i].time_s):
        k = 0
        for phase_s, packets, timer_spaced in exchange_phases(exchanges[order], endpoints, connections):
            # wire_packet builds each packet and checks its IP length against the built bytes
            infos = [wire_packet(p, endpoints) for p in packets]
            directions = [info.direction for info in infos]
            if timer_spaced:
                copies = 1 + exchanges[order].syn_retries
                offsets_us = failed_attempt_offsets_us(directions, copies, inter_packet_s=inter_packet_s)
            else:
                offsets_us = packet_offsets_us(directions, rtt_s=rtt_s, inter_packet_s=inter_packet_s)
            phase_us = start_epoch_us + round(phase_s * US_PER_S)
            for offset_us, packet, info in zip(offsets_us, packets, infos):
                time_us = phase_us + offset_us
                packet.time = EDecimal(time_us).scaleb(-6)  # scapy's default is the wall clock
                timed.append((time_us, order, k, info, bytes(packet)))  # bytes: lengths, checksums
                k += 1
    timed.sort(key=lambda item: item[:3])

    directory = Path(path).resolve().parent
    handle, tmp_path = tempfile.mkstemp(prefix=".pcap-", suffix=".tmp", dir=directory)
    os.close(handle)
    uplink_bytes = downlink_bytes = 0
    try:
        writer = PcapWriter(tmp_path, linktype=LINKTYPE_RAW, snaplen=SNAPLEN_BYTES)
        try:
            writer.write_header(None)
            for time_us, _, _, info, raw in timed:
                if info.direction == UP:
                    uplink_bytes += info.ip_bytes
                else:
                    downlink_bytes += info.ip_bytes
                sec, usec = divmod(time_us, US_PER_S)
                writer.write_packet(raw, sec=sec, usec=usec)
        finally:
            writer.close()
        os.chmod(tmp_path, 0o644)  # mkstemp makes it private; a capture is for sharing like the tables
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise
    return PcapSummary(
        packets=len(timed),
        ip_bytes=uplink_bytes + downlink_bytes,
        uplink_bytes=uplink_bytes,
        downlink_bytes=downlink_bytes,
    )
