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
  session gets its own client port in the dynamic range 49152-65535 (RFC 6335 §6), chosen from its
  ``session_index``, so Wireshark sees one TCP stream / UDP conversation per session.
* **Checksums**: every packet is serialised with ``bytes()``, which makes scapy compute the IPv4
  header, TCP and UDP checksums (its ``post_build``; the builders leave ``chksum`` unset).
* **Timestamps** (:func:`packet_offsets_us`): the session's start plus a deterministic model, in
  whole microseconds, the resolution of a classic pcap record header.
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

from scapy.packet import Packet
from scapy.utils import EDecimal, PcapWriter

from cellfleet.emulator import dtls_scapy, tls_scapy
from cellfleet.emulator.messages import exchange_messages
from cellfleet.emulator.packets import (
    WELL_KNOWN_PORTS,
    Endpoints,
    tcp_exchange_packets,
    udp_exchange_packets,
    wire_packet,
)
from cellfleet.emulator.session import SessionProfile
from cellfleet.emulator.tls_constants import (
    CT_ALERT,
    CT_APPLICATION_DATA,
    TLS_MAX_FRAGMENT_BYTES,
)
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


def _tls_data(session: SessionProfile, payload_bytes: int) -> list[bytes]:
    """Bytes of each TLS write: scapy-built handshake flights, encrypted application records
    (at most 2^14 plaintext bytes each, RFC 8446 §5.1) and the close_notify pair."""
    profile = session.security
    assert profile is not None
    data = [
        b"".join(records) for _, _, records in tls_scapy.scapy_flight_records(profile)
    ]
    for _, message, _ in exchange_messages(session.exchange, payload_bytes):
        data.append(
            b"".join(
                tls_scapy.scapy_record(
                    profile,
                    CT_APPLICATION_DATA,
                    True,
                    message[i : i + TLS_MAX_FRAGMENT_BYTES],
                )
                for i in range(0, len(message), TLS_MAX_FRAGMENT_BYTES)
            )
        )
    if profile.close_notify:
        # warning(1), close_notify(0): RFC 5246 §7.2, RFC 8446 §6
        alert = tls_scapy.scapy_record(profile, CT_ALERT, True, bytes([1, 0]))
        data += [alert, alert]
    return data


def _dtls_data(session: SessionProfile, payload_bytes: int) -> list[bytes]:
    """Bytes of each DTLS datagram (:func:`dtls_scapy.scapy_dtls_datagrams`): the handshake
    flights, then one epoch-1 record per application datagram and the close_notify pair."""
    profile = session.security
    assert profile is not None
    messages = exchange_messages(session.exchange, payload_bytes)
    return [
        datagram
        for _, datagram, _ in dtls_scapy.scapy_dtls_datagrams(profile, messages)
    ]


def _session_data(session: SessionProfile, payload_bytes: int) -> list[bytes]:
    """The bytes of each of ``session.writes(payload_bytes)``."""
    if session.security is None:
        return [
            message
            for _, message, _ in exchange_messages(session.exchange, payload_bytes)
        ]
    if session.transport == "tcp":
        return _tls_data(session, payload_bytes)
    return _dtls_data(session, payload_bytes)


def session_packets(session: SessionOnWire, endpoints: Endpoints) -> list[Packet]:
    """The scapy packets of one session between ``endpoints``, times not set.

    ``endpoints`` gives the addresses; the ports are replaced by :func:`client_port` and
    :func:`server_port`.
    """
    profile = session.session
    ported = Endpoints(
        client_ipv4=endpoints.client_ipv4,
        server_ipv4=endpoints.server_ipv4,
        client_ipv6=endpoints.client_ipv6,
        server_ipv6=endpoints.server_ipv6,
        client_port=client_port(session.session_index),
        server_port=server_port(profile),
    )
    build = tcp_exchange_packets if profile.transport == "tcp" else udp_exchange_packets
    writes = profile.writes(session.payload_bytes)
    return build(
        writes, profile.wire, ported, _session_data(profile, session.payload_bytes)
    )


def write_pcap(
    path: str | os.PathLike[str],
    sessions: Iterable[SessionOnWire],
    *,
    start_epoch_s: float,
    device_address_v4: str,
    device_address_v6: str,
    server_address_v4: str = SERVER_IPV4,
    server_address_v6: str = SERVER_IPV6,
    rtt_s: float = 0.2,
    inter_packet_s: float = 0.001,
) -> PcapSummary:
    """Write the packets of ``sessions`` to the pcap file ``path``, in time order.

    A packet's timestamp is ``start_epoch_s`` + the session's ``start_time_s`` + its
    :func:`packet_offsets_us` offset, each of the three rounded to whole microseconds; packets of
    overlapping sessions are interleaved by time (ties keep the order of ``sessions``, then the
    session's own order). Each session's IP version is its ``wire.ip_version``. Selecting the
    sessions of a time window is the caller's business: a session's packets are all written, even
    those after the window's end, so the file's bytes equal the session records'.
    """
    endpoints = Endpoints(
        client_ipv4=device_address_v4,
        server_ipv4=server_address_v4,
        client_ipv6=device_address_v6,
        server_ipv6=server_address_v6,
    )
    start_epoch_us = round(start_epoch_s * US_PER_S)
    timed: list[tuple[int, int, int, WirePacket, bytes]] = []
    for order, session in enumerate(sessions):
        packets = session_packets(session, endpoints)
        # wire_packet builds each packet and checks its IP length against the built bytes
        infos = [wire_packet(p, endpoints) for p in packets]
        offsets_us = packet_offsets_us(
            [info.direction for info in infos],
            rtt_s=rtt_s,
            inter_packet_s=inter_packet_s,
        )
        session_us = start_epoch_us + round(session.start_time_s * US_PER_S)
        for k, (offset_us, packet, info) in enumerate(zip(offsets_us, packets, infos)):
            time_us = session_us + offset_us
            packet.time = EDecimal(time_us).scaleb(
                -6
            )  # scapy's default is the wall clock
            timed.append(
                (time_us, order, k, info, bytes(packet))
            )  # bytes: lengths, checksums
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
