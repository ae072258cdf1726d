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
    udp_exchange_sizes,
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
        plain = [(w.direction, w.size_bytes, w.label) for w in app]
        if self.transport == "tcp":
            secured = handshake_writes(self.security) + protect_writes(plain, self.security)
        else:
            secured = dtls_handshake_datagrams(self.security) + dtls_protect(plain, self.security)
        return [Write(direction, size, label) for direction, size, label in secured]

    def packets(self, payload_bytes: int) -> list[WirePacket]:
        """Every IP packet of one session, in order."""
        carry = tcp_exchange_sizes if self.transport == "tcp" else udp_exchange_sizes
        return carry(self.writes(payload_bytes), self.wire)


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
