"""Scapy-built packets of sessions, connection phases and failed attempts, with their real bytes.

The reference of :mod:`cellfleet.emulator.connection` and the packet source of
:mod:`cellfleet.emulator.pcap`. Every transport write carries the bytes a device would send: the
application messages built by scapy's protocol layers (:mod:`cellfleet.emulator.messages`), over
TLS the handshake records and encrypted application records of
:mod:`cellfleet.emulator.tls_scapy`, over DTLS the datagrams of
:mod:`cellfleet.emulator.dtls_scapy` (:func:`phase_messages`). They are carried by the TCP/UDP
builders of :mod:`cellfleet.emulator.packets` (:func:`phase_packets`,
:func:`failed_attempt_packets`).

The writes are the size model's (:func:`cellfleet.emulator.connection.phase_writes`) and the
builders raise ``ValueError`` when a write's scapy bytes differ from its modelled size, or its
label or direction differ, so a size model that drifts from the bytes cannot produce packets.
Losses are the session's (:func:`cellfleet.emulator.connection.session_with_losses`): TCP
``retransmit_segments``, CoAP ``retransmissions``. Slow (scapy): for tests and captures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scapy.packet import Packet

from cellfleet.emulator import connection, dtls_scapy, tls_scapy
from cellfleet.emulator.exchanges import Phase
from cellfleet.emulator.messages import exchange_phase_messages
from cellfleet.emulator.packets import (
    Endpoints,
    TcpConnection,
    udp_exchange_packets,
)
from cellfleet.emulator.tls_constants import (
    CT_ALERT,
    CT_APPLICATION_DATA,
    TLS_MAX_FRAGMENT_BYTES,
)
from cellfleet.emulator.wire import LOST_SUFFIX, Direction, Write

if TYPE_CHECKING:
    from cellfleet.emulator.session import SessionProfile

Message = tuple[Direction, bytes, str]

#: Default device and server addresses and ports (:class:`Endpoints`'s defaults).
DEFAULT_ENDPOINTS = Endpoints()
#: warning(1), close_notify(0): RFC 5246 §7.2, RFC 8446 §6.
CLOSE_NOTIFY_ALERT = bytes([1, 0])


def _tls_application_records(session: SessionProfile, message: bytes) -> bytes:
    """One application write as encrypted TLS records of at most 2^14 plaintext bytes each
    (RFC 8446 §5.1, RFC 5246 §6.2.1)."""
    return b"".join(
        tls_scapy.scapy_record(
            session.security, CT_APPLICATION_DATA, True, message[i : i + TLS_MAX_FRAGMENT_BYTES]
        )
        for i in range(0, len(message), TLS_MAX_FRAGMENT_BYTES)
    )


def phase_messages(session: SessionProfile, phase: Phase, payload_bytes: int = 0) -> list[Message]:
    """(direction, bytes, label) of each transport write of one phase, built by scapy.

    Plain: the application messages. TLS: the handshake flights' records (``session``, ``open``),
    each application message in encrypted records, the close_notify pair (``session``,
    ``close``). DTLS (``session`` only): the datagrams of :func:`dtls_scapy.scapy_dtls_datagrams`.
    """
    app = exchange_phase_messages(session.exchange, phase, payload_bytes)
    profile = session.security
    if profile is None:
        return app
    if session.transport == "udp":
        if phase != "session":
            raise ValueError("DTLS sessions have no persistent-connection phases")
        return dtls_scapy.scapy_dtls_datagrams(profile, app)
    out: list[Message] = []
    if phase in ("session", "open"):
        for direction, label, records in tls_scapy.scapy_flight_records(profile):
            out.append((direction, b"".join(records), label))  # type: ignore[arg-type]
    out += [(d, _tls_application_records(session, m), label) for d, m, label in app]
    if phase in ("session", "close") and profile.close_notify:
        alert = tls_scapy.scapy_record(profile, CT_ALERT, True, CLOSE_NOTIFY_ALERT)
        out += [("up", alert, "close_notify"), ("down", alert, "close_notify")]
    return out


def _check_against_model(writes: Sequence[Write], messages: Sequence[Message]) -> None:
    """ValueError unless the scapy messages are the modelled writes: direction, label, size."""
    built = [(d, len(m), label) for d, m, label in messages]
    modelled = [(w.direction, w.size_bytes, w.label) for w in writes]
    if built != modelled:
        raise ValueError(f"scapy-built writes {built} differ from the size model's {modelled}")


def phase_packets(
    session: SessionProfile,
    phase: Phase,
    payload_bytes: int = 0,
    endpoints: Endpoints = DEFAULT_ENDPOINTS,
    tcp_connection: TcpConnection | None = None,
) -> list[Packet]:
    """The scapy packets of one phase (``session`` for a whole session), times not set.

    ``tcp_connection`` continues an open connection (sequence numbers, timestamps: a capture
    shows one TCP stream); without it a new one between ``endpoints`` is used. UDP sessions
    ignore it.
    """
    writes = connection.phase_writes(session, phase, payload_bytes)
    messages = phase_messages(session, phase, payload_bytes)
    _check_against_model(writes, messages)
    data = [m for _, m, _ in messages]
    opts = connection.phase_options(session, phase)
    if session.transport == "udp":
        return udp_exchange_packets(writes, opts, endpoints, data)
    if tcp_connection is None:
        tcp_connection = TcpConnection(opts, endpoints)
    return tcp_connection.play(writes, opts, data)


def failed_attempt_packets(
    session: SessionProfile, syn_retries: int, endpoints: Endpoints = DEFAULT_ENDPOINTS
) -> list[Packet]:
    """The scapy packets of a connection attempt nobody answers
    (:func:`cellfleet.emulator.connection.failed_attempt_packets`): the SYN sent ``1 +
    syn_retries`` times, or the first DTLS flight as often, each copy in new records."""
    connection.failed_attempt_totals(session, syn_retries)  # ValueError where none can fail
    if session.transport == "tcp":
        return TcpConnection(session.wire, endpoints).failed_attempt(syn_retries)
    copies = dtls_scapy.scapy_dtls_first_flight_copies(session.security, 1 + syn_retries)
    writes = [Write(d, len(m), label + LOST_SUFFIX) for d, m, label in copies]  # type: ignore[arg-type]
    return udp_exchange_packets(writes, session.wire, endpoints, [m for _, m, _ in copies])
