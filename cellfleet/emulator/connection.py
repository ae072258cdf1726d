"""Phases of a connection, failed connection attempts and losses: the fast, closed-form model.

:class:`~cellfleet.emulator.session.SessionProfile` bills one whole session per report (connect,
exchange, disconnect). A device may instead keep one connection open (an MQTT client, MQTT 3.1.1
§3.1.2.10 keep alive) and send each report over it, or fail to connect at all, or lose packets on
the way. Billed volume counts all of it at the IP layer, both directions, "retry attempts ... and
failed session establishment attempts" included (seed ``003_2b3d5ab1742d86ff.txt``), so this
module sizes those pieces with the same rules as :mod:`cellfleet.emulator.wire`:

* **Phases** (:data:`~cellfleet.emulator.exchanges.PHASES`, MQTT only): ``open`` = TCP handshake,
  TLS handshake if secured, CONNECT/CONNACK; ``report`` = PUBLISH (+PUBACK at QoS 1); ``ping`` =
  PINGREQ/PINGRESP; ``close`` = DISCONNECT, close_notify pair if secured, FIN teardown. Every phase
  but ``open`` runs on an established connection (no handshake), every phase but ``close`` leaves
  it open (no teardown). Application writes are TLS records when secured (the session's
  :class:`~cellfleet.emulator.tls.TlsProfile`). The next phase comes seconds later, so a segment
  left unacknowledged at the end of a phase is acknowledged by a pure ACK when the delayed-ACK
  timer fires (RFC 9293 §3.8.6.3), never by the peer's next data: ``open`` ends with the device's
  ACK of CONNACK and, at QoS 1, ``report`` with its ACK of PUBACK, where a whole session
  piggybacks both on its next write. Hence, exactly,
  ``open + report(p) + close == session(p) + (1 + qos) x one ACK uplink`` (tested).
* **Failed attempts** (:func:`failed_attempt_packets`): over TCP the SYN and ``syn_retries``
  retransmissions of it, none answered (RFC 9293 §3.5, RFC 6298 §5.5); over DTLS the first
  ClientHello flight sent ``1 + syn_retries`` times, unanswered (RFC 6347 §4.2.4 timer
  retransmission). Sessions without a connection set-up (plain CoAP, raw UDP) cannot fail so.
* **Losses**: :func:`segment_runs` lists each TCP write's data segments in the order
  ``WireOptions.retransmit_segments`` numbers them, so a loss model can bill lost copies without
  building packets; :func:`con_datagram_ip_bytes` is the size of one copy of a CoAP CON request
  (RFC 7252 §4.2: retransmitted up to MAX_RETRANSMIT = 4 times); :func:`session_with_losses`
  gives the session that carries given losses, to build its packets.

The scapy reference is :mod:`cellfleet.emulator.connection_scapy`; ``tests/test_session_phases.py``
checks both agree packet by packet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from cellfleet.emulator.dtls import dtls_handshake_datagrams, dtls_protect
from cellfleet.emulator.exchanges import PHASES, CoapExchange, Phase, PlannedWrite
from cellfleet.emulator.tls import handshake_writes, protect_writes
from cellfleet.emulator.wire import (
    LABEL_SYN_LOST,
    LOST_SUFFIX,
    UP,
    WireOptions,
    WirePacket,
    Write,
    effective_mss_bytes,
    tcp_control_bytes,
    tcp_exchange_sizes,
    tcp_syn_bytes,
    tcp_totals,
    udp_datagram_ip_bytes,
    udp_exchange_sizes,
    udp_totals,
)

if TYPE_CHECKING:
    from cellfleet.emulator.session import SessionProfile


def map_unique(values: np.ndarray, fn: Callable[[int], int]) -> np.ndarray:
    """``fn`` applied element-wise, calling it once per distinct value."""
    unique, inverse = np.unique(values, return_inverse=True)
    mapped = np.array([fn(int(v)) for v in unique], dtype=np.int64)
    return mapped[inverse].reshape(values.shape)


def _check_phase(phase: str) -> None:
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")


def phase_options(session: SessionProfile, phase: Phase) -> WireOptions:
    """The wire options of a phase: the session's, with the handshake only in ``open`` and
    ``session`` and the teardown only in ``close`` and ``session``."""
    _check_phase(phase)
    wire = session.wire
    return dataclasses.replace(
        wire,
        handshake=wire.handshake and phase in ("session", "open"),
        teardown=wire.teardown and phase in ("session", "close"),
    )


def _security_layers(session: SessionProfile):
    """(handshake writes, protect function, teardown writes) of the session's TLS or DTLS."""
    if session.transport == "tcp":
        return handshake_writes(session.security), protect_writes, protect_writes([], session.security)
    return dtls_handshake_datagrams(session.security), dtls_protect, dtls_protect([], session.security)


def phase_plan(
    session: SessionProfile, phase: Phase, payload_bytes: ArrayLike
) -> list[PlannedWrite]:
    """The transport writes of one phase, sizes broadcast to ``payload_bytes``'s shape.

    The exchange's application writes of the phase, each grown to its (D)TLS records when the
    session is secured, after the (D)TLS handshake (``session``, ``open``) and before the
    close_notify pair (``session``, ``close``). The (D)TLS size of a write is taken from the TLS
    model itself, once per distinct size.
    """
    _check_phase(phase)
    payload = np.asarray(payload_bytes, dtype=np.int64)
    planned = [
        (d, np.broadcast_to(np.asarray(n, dtype=np.int64), payload.shape), label)
        for d, n, label in session.exchange.phase_plan(phase, payload)
    ]
    if session.security is None:
        return planned
    head, protect, tail = _security_layers(session)
    security = session.security
    protected = [
        (d, map_unique(n, lambda size, d=d: protect([(d, size, "")], security)[0][1]), label)
        for d, n, label in planned
    ]
    head = head if phase in ("session", "open") else []
    tail = tail if phase in ("session", "close") else []
    return (
        [(d, np.int64(n), label) for d, n, label in head]
        + protected
        + [(d, np.int64(n), label) for d, n, label in tail]
    )


def phase_writes(session: SessionProfile, phase: Phase, payload_bytes: int = 0) -> list[Write]:
    """What each side hands to TCP/UDP in one phase carrying ``payload_bytes``."""
    planned = phase_plan(session, phase, np.int64(payload_bytes))
    return [Write(d, int(n), label) for d, n, label in planned]


def phase_packets(session: SessionProfile, phase: Phase, payload_bytes: int = 0) -> list[WirePacket]:
    """Every IP packet of one phase, in order (the rules of :mod:`cellfleet.emulator.wire`)."""
    carry = tcp_exchange_sizes if session.transport == "tcp" else udp_exchange_sizes
    return carry(phase_writes(session, phase, payload_bytes), phase_options(session, phase))


def phase_totals(
    session: SessionProfile, phase: Phase, payload_bytes: ArrayLike = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-phase (uplink, downlink) IP bytes, vectorized over ``payload_bytes``."""
    payload = np.asarray(payload_bytes, dtype=np.int64)
    planned = phase_plan(session, phase, payload)
    carry = tcp_totals if session.transport == "tcp" else udp_totals
    up, down = carry(
        [d for d, _, _ in planned], [n for _, n, _ in planned], phase_options(session, phase)
    )
    shape = payload.shape
    return np.broadcast_to(up, shape).copy(), np.broadcast_to(down, shape).copy()


# --- failed connection attempts -------------------------------------------------------------------


def _first_dtls_flight(session: SessionProfile) -> list[tuple[str, int, str]]:
    """The device's first DTLS flight (the ClientHello without cookie, RFC 6347 §4.2.1)."""
    return list(takewhile(lambda w: w[0] == UP, dtls_handshake_datagrams(session.security)))


def _check_connects(session: SessionProfile, syn_retries: int) -> None:
    if syn_retries < 0:
        raise ValueError(f"syn_retries must be >= 0, got {syn_retries}")
    if session.transport == "udp" and session.security is None:
        raise ValueError(
            f"{session.exchange.name!r} over plain UDP has no connection set-up that could fail"
        )


def failed_attempt_packets(session: SessionProfile, syn_retries: int) -> list[WirePacket]:
    """Every IP packet of a connection attempt nobody answers, all from the device.

    TCP (with or without TLS): the SYN and ``syn_retries`` retransmissions, 60 bytes each on IPv4
    with Linux's options (RFC 9293 §3.5, RFC 6298 §5.5). DTLS: the first ClientHello flight,
    ``1 + syn_retries`` times (RFC 6347 §4.2.4). ValueError for plain CoAP and raw UDP.
    """
    _check_connects(session, syn_retries)
    copies = 1 + syn_retries
    if session.transport == "tcp":
        return [WirePacket(UP, tcp_syn_bytes(session.wire), 0, LABEL_SYN_LOST)] * copies
    flight = [Write(d, n, label + LOST_SUFFIX) for d, n, label in _first_dtls_flight(session)]
    return udp_exchange_sizes(flight * copies, session.wire)


def failed_attempt_totals(session: SessionProfile, syn_retries: int) -> tuple[int, int]:
    """(uplink, downlink) IP bytes of :func:`failed_attempt_packets`; the downlink is 0."""
    _check_connects(session, syn_retries)
    copies = 1 + syn_retries
    if session.transport == "tcp":
        return copies * tcp_syn_bytes(session.wire), 0
    sizes = [n for _, n, _ in _first_dtls_flight(session)]
    return copies * int(udp_datagram_ip_bytes(np.array(sizes), session.wire).sum()), 0


# --- losses ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRuns:
    """The data segments of each TCP write of a phase, for billing lost copies in closed form.

    Arrays of shape (n_payloads, n_writes), writes in exchange order, which is the order in which
    ``WireOptions.retransmit_segments`` numbers data segments (from 0, across the writes of both
    directions; a write of ``n`` bytes is ``n // MSS`` full segments, then one short segment if
    ``n % MSS``; an empty write has no segment). The IP bytes of a lost copy equal those of the
    segment it copies.
    """

    direction_up: np.ndarray
    """bool: the write goes uplink (device to server)."""
    full_segments: np.ndarray
    """int64: full-MSS segments of the write."""
    full_segment_ip_bytes: np.ndarray
    """int64: IP bytes of one full segment (the same for every write of a session)."""
    last_segment_ip_bytes: np.ndarray
    """int64: IP bytes of the short last segment, 0 if there is none."""

    def segments(self, row: int) -> list[tuple[bool, int]]:
        """(uplink?, IP bytes) of every data segment of payload ``row``, in numbering order."""
        out: list[tuple[bool, int]] = []
        for w in range(self.full_segments.shape[1]):
            up = bool(self.direction_up[row, w])
            out += [(up, int(self.full_segment_ip_bytes[row, w]))] * int(self.full_segments[row, w])
            if self.last_segment_ip_bytes[row, w]:
                out.append((up, int(self.last_segment_ip_bytes[row, w])))
        return out


def segment_runs(
    session: SessionProfile, payload_bytes: ArrayLike, phase: Phase = "session"
) -> SegmentRuns:
    """:class:`SegmentRuns` of a TCP session's phase for each of ``payload_bytes`` (flattened).

    ``phase``: ``session`` (a per-report session), or a phase of a persistent connection
    (``open``, ``report``, ``ping``, ``close``). ValueError for UDP sessions (their losses are
    CoAP copies, :func:`con_datagram_ip_bytes`).
    """
    if session.transport != "tcp":
        raise ValueError(f"{session.exchange.name!r} is not carried by TCP: no segments")
    payload = np.asarray(payload_bytes, dtype=np.int64).ravel()
    planned = phase_plan(session, phase, payload)
    opts = phase_options(session, phase)
    mss_bytes, control_bytes = effective_mss_bytes(opts), tcp_control_bytes(opts)
    shape = (payload.size, len(planned))
    sizes = np.empty(shape, dtype=np.int64)
    for w, (_, n, _) in enumerate(planned):
        sizes[:, w] = n
    rest = sizes % mss_bytes
    return SegmentRuns(
        direction_up=np.broadcast_to(np.array([d == UP for d, _, _ in planned]), shape).copy(),
        full_segments=sizes // mss_bytes,
        full_segment_ip_bytes=np.full(shape, control_bytes + mss_bytes, dtype=np.int64),
        last_segment_ip_bytes=np.where(rest > 0, control_bytes + rest, 0),
    )


def con_datagram_ip_bytes(session: SessionProfile, payload_bytes: ArrayLike) -> np.ndarray:
    """IP bytes (fragments included) of one copy of the CoAP CON request carrying
    ``payload_bytes``, in its DTLS record when secured: what each lost copy costs
    (RFC 7252 §4.2). ValueError unless the session is a confirmable CoAP exchange."""
    exchange = session.exchange
    if not isinstance(exchange, CoapExchange) or not exchange.confirmable:
        raise ValueError(f"{exchange.name!r} sends no CoAP confirmable request")
    request = dataclasses.replace(exchange, retransmissions=0).plan(payload_bytes)[0][1]
    request = np.asarray(request, dtype=np.int64)
    if session.security is not None:
        security = session.security
        request = map_unique(request, lambda n: dtls_protect([(UP, n, "")], security)[0][1])
    return udp_datagram_ip_bytes(request, session.wire)


def session_with_losses(
    session: SessionProfile, *, lost_segments: Sequence[int] = (), lost_con_copies: int = 0
) -> SessionProfile:
    """The session with exactly these losses, to build its packets (model or scapy).

    ``lost_segments``: TCP data segment indices (as :attr:`SegmentRuns` numbers them, per
    phase); an index listed ``k`` times is lost ``k`` times. ``lost_con_copies``: lost copies of
    a CoAP CON request before the one answered, 0..4 (RFC 7252 §4.8 MAX_RETRANSMIT). ValueError
    for a loss the session's transport cannot have.
    """
    if lost_segments and session.transport != "tcp":
        raise ValueError(f"{session.exchange.name!r} is not carried by TCP: no segments to lose")
    if lost_con_copies and not isinstance(session.exchange, CoapExchange):
        raise ValueError(f"{session.exchange.name!r} sends no CoAP request to lose")
    wire = session.wire
    if session.transport == "tcp":
        wire = dataclasses.replace(wire, retransmit_segments=tuple(sorted(lost_segments)))
    exchange = session.exchange
    if isinstance(exchange, CoapExchange):
        exchange = dataclasses.replace(exchange, retransmissions=lost_con_copies)
    return dataclasses.replace(session, exchange=exchange, wire=wire)
