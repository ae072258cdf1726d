"""One data session on the wire: an application exchange, optionally secured, over IP.

A :class:`SessionProfile` stacks the three size models: the application exchange's writes
(``exchanges``), TLS over TCP or DTLS over UDP when ``security`` is set (``tls``: handshake
flights, per-record overhead, close_notify), and the IP/TCP/UDP packets that carry them (``wire``).
Every byte is counted at the IP layer in both directions, which is what the platform bills as
"Total Packet Data Traffic" (seed ``003_2b3d5ab1742d86ff.txt``: user data plus "TCP/UDP overhead,
retry attempts ... and failed session establishment attempts").

A session profile also sizes what a device does besides whole sessions (the rules are in
:mod:`cellfleet.emulator.connection`): the phases of a persistent MQTT connection (open, report,
ping, close), failed connection attempts (:data:`FAILED_ATTEMPT_SYN_RETRIES`), and the data
segments and CoAP request copies a loss model bills again.

:data:`NAMED_SESSIONS` holds the sessions ``cellfleet traffic explain`` knows by name, uploads
(the payload is the request body or the MQTT/CoAP message) and downloads (``http-download``,
``https-download``: the payload is the body of the response to a GET, e.g. a firmware image).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from cellfleet.emulator import connection
from cellfleet.emulator.connection import SegmentRuns
from cellfleet.emulator.exchanges import (
    CoapExchange,
    Exchange,
    HttpExchange,
    MqttExchange,
    UdpExchange,
)
from cellfleet.emulator.tls import TlsProfile
from cellfleet.emulator.wire import (
    DEFAULT_WIRE_OPTIONS,
    WireOptions,
    WirePacket,
    Write,
)

#: Data rounding unit: "Packet ... data usage is rounded up to the next KB" (seed 003, Billing
#: Terminology, "Data Rounding"); a KB is 1024 bytes here.
KB_BYTES = 1024

#: Retransmissions of the SYN (or of the first DTLS flight) in one failed connection attempt, the
#: default the fleet engine bills: the SYN, then 2 retransmissions at the doubling retransmission
#: timeout (1 s, then 2 s after it: RFC 6298 §2.1 and §5.5) before a device's connect timeout of a
#: few seconds gives up; Linux's own ``tcp_syn_retries`` (6, about 2 minutes) is far beyond what
#: a constrained device waits.
FAILED_ATTEMPT_SYN_RETRIES = 2


@dataclass(frozen=True)
class SessionProfile:
    """An application exchange, its optional (D)TLS protection and the IP options.

    A whole per-report session (:meth:`writes`, :meth:`packets`, :meth:`totals`); for a
    persistent MQTT connection also its phases (:meth:`open_totals`, :meth:`report_totals`,
    :meth:`ping_totals`, :meth:`close_totals` and their ``_packets``); failed connection attempts
    and the pieces a loss model needs (:mod:`cellfleet.emulator.connection` documents the rules).
    """

    exchange: Exchange
    security: TlsProfile | None = None
    wire: WireOptions = field(default=DEFAULT_WIRE_OPTIONS)

    @property
    def transport(self) -> str:
        return self.exchange.transport

    def writes(self, payload_bytes: int) -> list[Write]:
        """What each side hands to TCP/UDP for one session carrying ``payload_bytes``."""
        return connection.phase_writes(self, "session", payload_bytes)

    def packets(self, payload_bytes: int) -> list[WirePacket]:
        """Every IP packet of one session, in order."""
        return connection.phase_packets(self, "session", payload_bytes)

    def totals(self, payload_bytes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Per-session (uplink, downlink) IP bytes, vectorized over ``payload_bytes``.

        Equals :func:`bill` of :meth:`packets` for every payload (tested). The (D)TLS size of an
        application write is taken from the TLS model itself, once per distinct write size.
        """
        return connection.phase_totals(self, "session", payload_bytes)

    # --- a persistent connection (MQTT): open, report, ping, close ------------------------------

    def open_totals(self) -> tuple[int, int]:
        """(uplink, downlink) IP bytes of opening a persistent connection: TCP handshake, TLS
        handshake if secured, CONNECT/CONNACK; no teardown."""
        up, down = connection.phase_totals(self, "open")
        return int(up), int(down)

    def open_packets(self) -> list[WirePacket]:
        """Every IP packet of :meth:`open_totals`."""
        return connection.phase_packets(self, "open")

    def report_totals(self, payload_bytes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(uplink, downlink) IP bytes of one report on the open connection: PUBLISH (+PUBACK at
        QoS 1) in TLS records if secured, with their ACKs; vectorized over ``payload_bytes``."""
        return connection.phase_totals(self, "report", payload_bytes)

    def report_packets(self, payload_bytes: int) -> list[WirePacket]:
        """Every IP packet of one report (:meth:`report_totals`)."""
        return connection.phase_packets(self, "report", payload_bytes)

    def ping_totals(self) -> tuple[int, int]:
        """(uplink, downlink) IP bytes of one keepalive PINGREQ/PINGRESP on the open connection."""
        up, down = connection.phase_totals(self, "ping")
        return int(up), int(down)

    def ping_packets(self) -> list[WirePacket]:
        """Every IP packet of one keepalive ping (:meth:`ping_totals`)."""
        return connection.phase_packets(self, "ping")

    def close_totals(self) -> tuple[int, int]:
        """(uplink, downlink) IP bytes of closing the connection: DISCONNECT, close_notify pair
        if secured, FIN teardown."""
        up, down = connection.phase_totals(self, "close")
        return int(up), int(down)

    def close_packets(self) -> list[WirePacket]:
        """Every IP packet of :meth:`close_totals`."""
        return connection.phase_packets(self, "close")

    # --- failed attempts and losses ------------------------------------------------------------

    def failed_attempt_totals(self, syn_retries: int = FAILED_ATTEMPT_SYN_RETRIES) -> tuple[int, int]:
        """(uplink, downlink) IP bytes of a connection attempt nobody answers: the SYN sent
        ``1 + syn_retries`` times (TCP), or the first DTLS flight (coap-dtls); ValueError for
        sessions without a connection set-up (plain CoAP, raw UDP)."""
        return connection.failed_attempt_totals(self, syn_retries)

    def failed_attempt_packets(self, syn_retries: int = FAILED_ATTEMPT_SYN_RETRIES) -> list[WirePacket]:
        """Every IP packet of :meth:`failed_attempt_totals`."""
        return connection.failed_attempt_packets(self, syn_retries)

    def segment_runs(self, payload_bytes: ArrayLike, phase: str = "session") -> SegmentRuns:
        """The TCP data segments of each write of ``phase`` (:func:`connection.segment_runs`)."""
        return connection.segment_runs(self, payload_bytes, phase)  # type: ignore[arg-type]

    def con_datagram_ip_bytes(self, payload_bytes: ArrayLike) -> np.ndarray:
        """IP bytes of one copy of the CoAP CON request (:func:`connection.con_datagram_ip_bytes`)."""
        return connection.con_datagram_ip_bytes(self, payload_bytes)

    def with_losses(self, *, lost_segments: tuple[int, ...] = (), lost_con_copies: int = 0) -> SessionProfile:
        """This session with exactly these losses (:func:`connection.session_with_losses`)."""
        return connection.session_with_losses(
            self, lost_segments=lost_segments, lost_con_copies=lost_con_copies
        )


@dataclass(frozen=True)
class SessionBill:
    """One session's volume as the platform counts and rounds it."""

    payload_bytes: int
    uplink_bytes: int
    downlink_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.uplink_bytes + self.downlink_bytes

    @property
    def overhead_bytes(self) -> int:
        return self.total_bytes - self.payload_bytes

    @property
    def overhead_ratio(self) -> float:
        """Bytes on the wire per byte of payload (``inf`` for an empty payload)."""
        return self.total_bytes / self.payload_bytes if self.payload_bytes else math.inf

    @property
    def billed_kb(self) -> int:
        """KB billed under per-session rounding up to the next KB."""
        return -(-self.total_bytes // KB_BYTES)


def bill(packets: list[WirePacket], payload_bytes: int) -> SessionBill:
    """Sum one session's packets per direction."""
    up = sum(p.ip_bytes for p in packets if p.direction == "up")
    down = sum(p.ip_bytes for p in packets if p.direction == "down")
    return SessionBill(payload_bytes, up, down)


#: RFC 7925 §4.2: constrained CoAP devices use TLS_PSK_WITH_AES_128_CCM_8 over DTLS 1.2.
_PSK_DTLS = TlsProfile(version="1.2", cipher="AES_128_CCM_8", key_exchange="psk")


#: A firmware download: GET of an image served as an octet stream (RFC 9110 §8.3; RFC 2046 §4.5.1).
_DOWNLOAD = HttpExchange(
    method="GET", target="/v1/firmware", request_headers=(),
    response_headers=(("Content-Type", "application/octet-stream"),), payload_in_response=True,
)  # fmt: skip

#: Sessions known by name: (description, builder(tls_version, qos) -> SessionProfile).
NAMED_SESSIONS: dict[str, tuple[str, Callable[[str, int], SessionProfile]]] = {
    "mqtt": ("MQTT 3.1.1 over TCP: connect, publish, disconnect",
             lambda tls, qos: SessionProfile(MqttExchange(qos=qos))),
    "mqtt-tls": ("MQTT 3.1.1 over TLS (full handshake), one publish per connection",
                 lambda tls, qos: SessionProfile(MqttExchange(qos=qos), TlsProfile(version=tls))),
    "http": ("HTTP/1.1 POST and its response, one connection per report",
             lambda tls, qos: SessionProfile(HttpExchange())),
    "https": ("HTTP/1.1 POST over TLS (full handshake), one connection per report",
              lambda tls, qos: SessionProfile(HttpExchange(), TlsProfile(version=tls, sni_hostname="api.example.com"))),
    "http-download": ("HTTP/1.1 GET whose 200 response carries the payload as body, e.g. a firmware image, one connection",
                      lambda tls, qos: SessionProfile(_DOWNLOAD)),
    "https-download": ("HTTP/1.1 GET over TLS (full handshake), the payload as response body, one connection",
                       lambda tls, qos: SessionProfile(_DOWNLOAD, TlsProfile(version=tls, sni_hostname="api.example.com"))),
    "coap": ("CoAP confirmable POST and its ACK over UDP",
             lambda tls, qos: SessionProfile(CoapExchange())),
    "coap-dtls": ("CoAP confirmable POST over DTLS 1.2 (PSK, AES-128-CCM-8, RFC 7925)",
                  lambda tls, qos: SessionProfile(CoapExchange(), _PSK_DTLS)),
    "udp": ("one raw UDP datagram, no answer",
            lambda tls, qos: SessionProfile(UdpExchange())),
}  # fmt: skip


def named_session(
    name: str, *, tls_version: str = "1.3", qos: int = 0, wire: WireOptions | None = None,
    keepalive_s: int | None = None, confirmable: bool = True,
) -> SessionProfile:
    """The session called ``name`` in :data:`NAMED_SESSIONS` (``KeyError`` if unknown).

    ``keepalive_s`` sets the MQTT CONNECT Keep Alive (MQTT 3.1.1 §3.1.2.10; 2 bytes whatever the
    value); sessions other than MQTT have no keep alive and ignore it, so one profile field can
    serve every protocol. ``confirmable=False`` makes a CoAP request non-confirmable (RFC 7252
    §4.3: no ACK); other sessions ignore it.
    """  # fmt: skip
    _, build = NAMED_SESSIONS[name]
    session = build(tls_version, qos)
    if not confirmable and isinstance(session.exchange, CoapExchange):
        session = dataclasses.replace(session, exchange=dataclasses.replace(session.exchange, confirmable=False))
    if keepalive_s is not None and isinstance(session.exchange, MqttExchange):
        session = dataclasses.replace(
            session, exchange=dataclasses.replace(session.exchange, keepalive_s=keepalive_s)
        )
    return session if wire is None else dataclasses.replace(session, wire=wire)


def session_for_profile(profile) -> SessionProfile:
    """The session on the wire of a scenario ``TrafficProfile`` whose protocol is not ``raw``
    (its protocol, TLS version, MQTT QoS, IP version and, if it has one, MQTT keep alive)."""
    return named_session(
        profile.protocol, tls_version=profile.tls_version or "1.3", qos=profile.mqtt_qos or 0,
        wire=WireOptions(ip_version=profile.ip_version or 4),
        keepalive_s=getattr(profile, "keepalive_s", None),
        confirmable=getattr(profile, "coap_type", None) != "non-confirmable",
    )  # fmt: skip
