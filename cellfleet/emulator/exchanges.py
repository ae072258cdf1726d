"""Named exchange shapes of traffic profiles: the application writes of one device session.

A traffic profile names an exchange shape (:data:`EXCHANGES`: ``mqtt``, ``coap``, ``udp``,
``http``) and its parameters; :func:`make_exchange` builds it. An :class:`Exchange` plans the
writes of a session carrying N application bytes, sized by :mod:`cellfleet.emulator.framing`
(MQTT 3.1.1, RFC 7252, RFC 9112), and hands them to the transport model of
:mod:`cellfleet.emulator.wire`: :meth:`Exchange.explain` lists every IP packet of one session,
:meth:`Exchange.totals` gives per-session (uplink, downlink) IP bytes over numpy arrays of many
sessions. :mod:`cellfleet.emulator.packets` plays the same shapes out with scapy.

An exchange whose protocol keeps its connection open (MQTT) also splits into the *phases* of a
persistent connection (:data:`PHASES`, :meth:`Exchange.phase_plan`): ``open`` (connect),
``report`` (one publish), ``ping`` (one keepalive round trip) and ``close`` (disconnect), whose
writes together are those of one whole ``session``. :mod:`cellfleet.emulator.connection` carries
them over TCP/TLS.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from cellfleet.emulator.framing import (
    COAP_MAX_RETRANSMIT,
    COAP_MAX_TOKEN_BYTES,
    COAP_OPTION_CONTENT_FORMAT,
    COAP_OPTION_URI_PATH,
    MQTT_CONNACK_BYTES,
    MQTT_DISCONNECT_BYTES,
    MQTT_PINGREQ_BYTES,
    MQTT_PINGRESP_BYTES,
    MQTT_PUBACK_BYTES,
    _check_fields,
    _utf8_bytes,
    coap_message_size_bytes,
    coap_uint_bytes,
    http_request_size_bytes,
    http_response_size_bytes,
    mqtt_connect_size_bytes,
    mqtt_publish_size_bytes,
)
from cellfleet.emulator.wire import (
    DEFAULT_WIRE_OPTIONS,
    DOWN,
    LOST_SUFFIX,
    UP,
    Direction,
    WireOptions,
    WirePacket,
    Write,
    tcp_exchange_sizes,
    tcp_totals,
    udp_exchange_sizes,
    udp_totals,
)

#: One planned write: direction, size (a scalar or one entry per session) and label.
PlannedWrite = tuple[Direction, np.ndarray, str]

#: Phases of an exchange: ``session`` is the whole per-report session; the others are the pieces
#: of a persistent connection (see :meth:`Exchange.phase_plan`).
Phase = Literal["session", "open", "report", "ping", "close"]
PHASES: tuple[Phase, ...] = ("session", "open", "report", "ping", "close")


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

    def phase_plan(self, phase: Phase, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        """The writes of one phase; only ``session`` (= :meth:`plan`) unless the protocol keeps
        its connection open (ValueError otherwise)."""
        if phase == "session":
            return self.plan(payload_bytes)
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
        raise ValueError(f"{self.name!r} has no persistent-connection phases (only MQTT does)")


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

    def phase_plan(self, phase: Phase, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        """Writes of a phase of a persistent MQTT connection (MQTT 3.1.1 §3.1-§3.14).

        ``open``: CONNECT (with :attr:`keepalive_s`), CONNACK; ``report``: PUBLISH, PUBACK at
        QoS 1; ``ping``: PINGREQ, PINGRESP (§3.1.2.10: sent when nothing else was sent within the
        keep alive); ``close``: DISCONNECT; ``session``: open, report, :attr:`pings` pings, close.
        """
        one = np.int64(1)
        if phase == "open":
            return [
                (UP, one * mqtt_connect_size_bytes(self.client_id), "MQTT CONNECT"),
                (DOWN, one * MQTT_CONNACK_BYTES, "MQTT CONNACK"),
            ]
        if phase == "report":
            publish = mqtt_publish_size_bytes(self.topic, payload_bytes, self.qos)
            planned = [(UP, publish, "MQTT PUBLISH")]
            if self.qos == 1:
                planned.append((DOWN, one * MQTT_PUBACK_BYTES, "MQTT PUBACK"))
            return planned
        if phase == "ping":
            return [
                (UP, one * MQTT_PINGREQ_BYTES, "MQTT PINGREQ"),
                (DOWN, one * MQTT_PINGRESP_BYTES, "MQTT PINGRESP"),
            ]
        if phase == "close":
            return [(UP, one * MQTT_DISCONNECT_BYTES, "MQTT DISCONNECT")]
        if phase != "session":
            raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
        return (
            self.phase_plan("open", payload_bytes)
            + self.phase_plan("report", payload_bytes)
            + self.phase_plan("ping", payload_bytes) * self.pings
            + self.phase_plan("close", payload_bytes)
        )

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        return self.phase_plan("session", payload_bytes)


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
    """HTTP/1.1 request and its response over their own connection; the payload is the body of
    the request (an upload, e.g. a POST of telemetry) or, with :attr:`payload_in_response`, of
    the response (a download, e.g. a GET of a firmware image; :attr:`response_body_bytes` is then
    unused). The framing always writes Content-Length, also ``Content-Length: 0`` on a GET (as
    scapy's HTTP layer does; RFC 9110 §8.6 only says a user agent SHOULD NOT)."""

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
    payload_in_response: bool = False

    def __post_init__(self) -> None:
        _check_fields(self.request_headers)
        _check_fields(self.response_headers)

    def body_sizes_bytes(self, payload_bytes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(request body, response body) sizes of a session carrying ``payload_bytes``."""
        payload = np.asarray(payload_bytes, dtype=np.int64)
        if self.payload_in_response:
            return np.zeros_like(payload), payload
        return payload, np.broadcast_to(np.int64(self.response_body_bytes), payload.shape)

    def plan(self, payload_bytes: ArrayLike) -> list[PlannedWrite]:
        request_body, response_body = self.body_sizes_bytes(payload_bytes)
        request = http_request_size_bytes(
            self.method, self.target, self.host, self.request_headers, request_body
        )
        response = http_response_size_bytes(
            self.status_code, self.reason, self.response_headers, response_body
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
