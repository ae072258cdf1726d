"""One data session on the wire: an application exchange, optionally secured, over IP.

A :class:`SessionProfile` stacks the three size models: the application exchange's writes
(``exchanges``), TLS over TCP or DTLS over UDP when ``security`` is set (``tls``: handshake
flights, per-record overhead, close_notify), and the IP/TCP/UDP packets that carry them (``wire``).
Every byte is counted at the IP layer in both directions, which is what the platform bills as
"Total Packet Data Traffic" (seed ``003_2b3d5ab1742d86ff.txt``: user data plus "TCP/UDP overhead,
retry attempts ... and failed session establishment attempts").

:data:`NAMED_SESSIONS` holds the sessions ``cellfleet traffic explain`` knows by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from cellfleet.emulator.dtls import dtls_handshake_datagrams, dtls_protect
from cellfleet.emulator.exchanges import (
    CoapExchange,
    Exchange,
    HttpExchange,
    MqttExchange,
    UdpExchange,
)
from cellfleet.emulator.tls import TlsProfile, handshake_writes, protect_writes
from cellfleet.emulator.wire import (
    DEFAULT_WIRE_OPTIONS,
    WireOptions,
    WirePacket,
    Write,
    tcp_exchange_sizes,
    tcp_totals,
    udp_exchange_sizes,
    udp_totals,
)

#: Data rounding unit: "Packet ... data usage is rounded up to the next KB" (seed 003, Billing
#: Terminology, "Data Rounding"); a KB is 1024 bytes here.
KB_BYTES = 1024


@dataclass(frozen=True)
class SessionProfile:
    """An application exchange, its optional (D)TLS protection and the IP options."""

    exchange: Exchange
    security: TlsProfile | None = None
    wire: WireOptions = field(default=DEFAULT_WIRE_OPTIONS)

    @property
    def transport(self) -> str:
        return self.exchange.transport

    def writes(self, payload_bytes: int) -> list[Write]:
        """What each side hands to TCP/UDP for one session carrying ``payload_bytes``."""
        app = self.exchange.writes(payload_bytes)
        if self.security is None:
            return app
        head, protect, _ = self._security_layers()
        secured = head + protect([(w.direction, w.size_bytes, w.label) for w in app], self.security)
        return [Write(direction, size, label) for direction, size, label in secured]

    def packets(self, payload_bytes: int) -> list[WirePacket]:
        """Every IP packet of one session, in order."""
        carry = tcp_exchange_sizes if self.transport == "tcp" else udp_exchange_sizes
        return carry(self.writes(payload_bytes), self.wire)

    def totals(self, payload_bytes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Per-session (uplink, downlink) IP bytes, vectorized over ``payload_bytes``.

        Equals :func:`bill` of :meth:`packets` for every payload (tested). The (D)TLS size of an
        application write is taken from the TLS model itself, once per distinct write size.
        """
        payload = np.asarray(payload_bytes, dtype=np.int64)
        planned = self.exchange.plan(payload)
        directions = [d for d, _, _ in planned]
        sizes = [np.broadcast_to(np.asarray(n, dtype=np.int64), payload.shape) for _, n, _ in planned]
        if self.security is not None:
            head, protect, tail = self._security_layers()
            sizes = [_map_unique(column, lambda n, d=d: protect([(d, n, "")], self.security)[0][1])
                     for d, column in zip(directions, sizes)]  # fmt: skip
            directions = [d for d, _, _ in head] + directions + [d for d, _, _ in tail]
            sizes = [np.int64(n) for _, n, _ in head] + sizes + [np.int64(n) for _, n, _ in tail]
        carry = tcp_totals if self.transport == "tcp" else udp_totals
        return carry(directions, sizes, self.wire)

    def _security_layers(self):
        """(handshake writes, protect function, teardown writes) of TLS or DTLS."""
        if self.transport == "tcp":
            return handshake_writes(self.security), protect_writes, protect_writes([], self.security)
        return dtls_handshake_datagrams(self.security), dtls_protect, dtls_protect([], self.security)


def _map_unique(values: np.ndarray, fn: Callable[[int], int]) -> np.ndarray:
    """``fn`` applied element-wise, calling it once per distinct value."""
    unique, inverse = np.unique(values, return_inverse=True)
    mapped = np.array([fn(int(v)) for v in unique], dtype=np.int64)
    return mapped[inverse].reshape(values.shape)


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
    "coap": ("CoAP confirmable POST and its ACK over UDP",
             lambda tls, qos: SessionProfile(CoapExchange())),
    "coap-dtls": ("CoAP confirmable POST over DTLS 1.2 (PSK, AES-128-CCM-8, RFC 7925)",
                  lambda tls, qos: SessionProfile(CoapExchange(), _PSK_DTLS)),
    "udp": ("one raw UDP datagram, no answer",
            lambda tls, qos: SessionProfile(UdpExchange())),
}  # fmt: skip


def named_session(name: str, *, tls_version: str = "1.3", qos: int = 0, wire: WireOptions | None = None) -> SessionProfile:
    """The session called ``name`` in :data:`NAMED_SESSIONS` (``KeyError`` if unknown)."""
    _, build = NAMED_SESSIONS[name]
    session = build(tls_version, qos)
    return session if wire is None else SessionProfile(session.exchange, session.security, wire)


def session_for_profile(profile) -> SessionProfile:
    """The session on the wire of a scenario ``TrafficProfile`` whose protocol is not ``raw``."""
    return named_session(
        profile.protocol, tls_version=profile.tls_version or "1.3", qos=profile.mqtt_qos or 0,
        wire=WireOptions(ip_version=profile.ip_version or 4),
    )  # fmt: skip
