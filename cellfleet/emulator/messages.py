"""Application messages of device exchanges (MQTT, CoAP, HTTP, raw UDP), built with scapy.

The bytes each session writes to its socket: MQTT 3.1.1 control packets
(``scapy.contrib.mqtt``), CoAP messages (RFC 7252, ``scapy.contrib.coap``) and HTTP/1.1 requests
and responses (RFC 9112, ``scapy.layers.http``).  These are the real application writes that
:mod:`cellfleet.emulator.packets` carries in its TCP/UDP packets (and
:mod:`cellfleet.emulator.pcap` encrypts over TLS/DTLS); :mod:`cellfleet.emulator.framing`
computes the same sizes in closed form and ``tests/test_wire.py`` checks the two agree.  Labels
and directions follow :mod:`cellfleet.emulator.wire`.  Slow (scapy): meant for tests, pcaps and
``explain``.
"""

from __future__ import annotations

from collections.abc import Sequence

from scapy.contrib.coap import CoAP
from scapy.contrib.mqtt import (
    MQTT,
    MQTTConnack,
    MQTTConnect,
    MQTTDisconnect,
    MQTTPuback,
    MQTTPublish,
)
from scapy.layers.http import HTTP, HTTPRequest, HTTPResponse
from scapy.packet import Raw

from cellfleet.emulator.exchanges import (
    CoapExchange,
    Exchange,
    HttpExchange,
    MqttExchange,
    UdpExchange,
)
from cellfleet.emulator.wire import DOWN, LOST_SUFFIX, UP, Direction, Write

#: An IMF-fixdate (RFC 9110 §5.6.7, its own example), so HTTP responses are reproducible.
HTTP_DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"
#: CoAP POST request and 2.04 Changed response codes (RFC 7252 §12.1).
COAP_POST, COAP_CHANGED = 2, 68
#: CoAP message types (RFC 7252 §3).
COAP_CON, COAP_NON, COAP_ACK = 0, 1, 2


def mqtt_connect_bytes(client_id: str, keepalive_s: int) -> bytes:
    """CONNECT, MQTT 3.1.1 (level 4), clean session, no will/user/password (§3.1)."""
    return bytes(
        MQTT(type=1)
        / MQTTConnect(
            protoname=b"MQTT",
            protolevel=4,
            cleansess=1,
            klive=keepalive_s,
            clientId=client_id.encode(),
        )
    )


def mqtt_connack_bytes() -> bytes:
    """CONNACK, session not present, connection accepted (§3.2)."""
    return bytes(MQTT(type=2) / MQTTConnack(sessPresentFlag=0, retcode=0))


def mqtt_publish_bytes(topic: str, payload_bytes: int, qos: int, packet_id: int = 1) -> bytes:
    """PUBLISH of ``payload_bytes`` zero bytes; the packet id only at QoS > 0 (§3.3)."""
    publish = MQTTPublish(topic=topic.encode(), value=bytes(payload_bytes))
    if qos:
        publish.msgid = packet_id
    return bytes(MQTT(type=3, QOS=qos) / publish)


def mqtt_puback_bytes(packet_id: int = 1) -> bytes:
    """PUBACK (§3.4)."""
    return bytes(MQTT(type=4) / MQTTPuback(msgid=packet_id))


def mqtt_pingreq_bytes() -> bytes:
    """PINGREQ (§3.12): fixed header only."""
    return bytes(MQTT(type=12))


def mqtt_pingresp_bytes() -> bytes:
    """PINGRESP (§3.13): fixed header only."""
    return bytes(MQTT(type=13))


def mqtt_disconnect_bytes() -> bytes:
    """DISCONNECT (§3.14): fixed header only."""
    return bytes(MQTT(type=14) / MQTTDisconnect())


def coap_token(token_bytes: int) -> bytes:
    """A fixed token of ``token_bytes`` bytes (RFC 7252 §5.3.1)."""
    return bytes(range(1, token_bytes + 1))


def coap_request_bytes(
    confirmable: bool,
    token_bytes: int,
    uri_path: Sequence[str],
    content_format: int | None,
    payload_bytes: int,
    message_id: int = 1,
) -> bytes:
    """POST with Uri-Path options, optional Content-Format, and ``payload_bytes`` zero bytes."""
    options = [("Uri-Path", segment.encode()) for segment in uri_path]
    if content_format is not None:
        options.append(
            (
                "Content-Format",
                content_format.to_bytes((content_format.bit_length() + 7) // 8, "big"),
            )
        )
    coap = CoAP(
        type=COAP_CON if confirmable else COAP_NON,
        code=COAP_POST,
        msg_id=message_id,
        token=coap_token(token_bytes),
        options=options,
        paymark=b"\xff" if payload_bytes else b"",
    )
    return bytes(coap / Raw(load=bytes(payload_bytes))) if payload_bytes else bytes(coap)


def coap_ack_bytes(token_bytes: int, message_id: int = 1) -> bytes:
    """ACK carrying the piggybacked 2.04 Changed response with the request's token (§5.2.1)."""
    return bytes(
        CoAP(type=COAP_ACK, code=COAP_CHANGED, msg_id=message_id, token=coap_token(token_bytes))
    )


def _unknown_headers(headers: Sequence[tuple[str, str]]) -> dict[bytes, bytes]:
    return {name.encode(): value.encode() for name, value in headers}


def http_request_bytes(
    method: str, target: str, host: str, headers: Sequence[tuple[str, str]], body_bytes: int
) -> bytes:
    """HTTP/1.1 request with Host, ``headers`` and a zero-byte body (scapy adds Content-Length)."""
    request = HTTP() / HTTPRequest(
        Method=method.encode(),
        Path=target.encode(),
        Http_Version=b"HTTP/1.1",
        Host=host.encode(),
        Unknown_Headers=_unknown_headers(headers),
    )
    return bytes(request / Raw(load=bytes(body_bytes))) if body_bytes else bytes(request)


def http_response_bytes(
    status_code: int, reason: str, headers: Sequence[tuple[str, str]], body_bytes: int
) -> bytes:
    """HTTP/1.1 response with Date, ``headers`` and a body (scapy adds Content-Length)."""
    response = HTTP() / HTTPResponse(
        Http_Version=b"HTTP/1.1",
        Status_Code=b"%03d" % status_code,
        Reason_Phrase=reason.encode(),
        Date=HTTP_DATE,
        Unknown_Headers=_unknown_headers(headers),
    )
    return bytes(response / Raw(load=bytes(body_bytes))) if body_bytes else bytes(response)


def mqtt_phase_messages(
    x: MqttExchange, phase: str, payload_bytes: int = 0
) -> list[tuple[Direction, bytes, str]]:
    """The scapy-built messages of one phase of :meth:`MqttExchange.phase_plan`."""
    if phase == "open":
        return [
            (UP, mqtt_connect_bytes(x.client_id, x.keepalive_s), "MQTT CONNECT"),
            (DOWN, mqtt_connack_bytes(), "MQTT CONNACK"),
        ]
    if phase == "report":
        messages = [(UP, mqtt_publish_bytes(x.topic, payload_bytes, x.qos), "MQTT PUBLISH")]
        if x.qos == 1:
            messages.append((DOWN, mqtt_puback_bytes(), "MQTT PUBACK"))
        return messages
    if phase == "ping":
        return [
            (UP, mqtt_pingreq_bytes(), "MQTT PINGREQ"),
            (DOWN, mqtt_pingresp_bytes(), "MQTT PINGRESP"),
        ]
    if phase == "close":
        return [(UP, mqtt_disconnect_bytes(), "MQTT DISCONNECT")]
    if phase != "session":
        raise ValueError(f"unknown phase {phase!r}")
    return (
        mqtt_phase_messages(x, "open")
        + mqtt_phase_messages(x, "report", payload_bytes)
        + mqtt_phase_messages(x, "ping") * x.pings
        + mqtt_phase_messages(x, "close")
    )


def _mqtt_messages(x: MqttExchange, payload_bytes: int) -> list[tuple[Direction, bytes, str]]:
    return mqtt_phase_messages(x, "session", payload_bytes)


def _coap_messages(x: CoapExchange, payload_bytes: int) -> list[tuple[Direction, bytes, str]]:
    request = coap_request_bytes(
        x.confirmable, x.token_bytes, x.uri_path, x.content_format, payload_bytes
    )
    kind = "CON" if x.confirmable else "NON"
    messages = [(UP, request, f"CoAP {kind} POST" + LOST_SUFFIX)] * x.retransmissions
    messages.append((UP, request, f"CoAP {kind} POST"))
    if x.confirmable:
        messages.append((DOWN, coap_ack_bytes(x.token_bytes), "CoAP ACK 2.04"))
    return messages


def _udp_messages(x: UdpExchange, payload_bytes: int) -> list[tuple[Direction, bytes, str]]:
    messages = [(UP, bytes(payload_bytes), "UDP datagram")]
    if x.response_bytes is not None:
        messages.append((DOWN, bytes(x.response_bytes), "UDP response"))
    return messages


def _http_messages(x: HttpExchange, payload_bytes: int) -> list[tuple[Direction, bytes, str]]:
    if x.payload_in_response:  # a download: GET without body, the payload in the response
        request_body_bytes, response_body_bytes = 0, payload_bytes
    else:
        request_body_bytes, response_body_bytes = payload_bytes, x.response_body_bytes
    return [
        (
            UP,
            http_request_bytes(x.method, x.target, x.host, x.request_headers, request_body_bytes),
            f"HTTP {x.method}",
        ),
        (
            DOWN,
            http_response_bytes(x.status_code, x.reason, x.response_headers, response_body_bytes),
            f"HTTP {x.status_code}",
        ),
    ]


_MESSAGES = {
    MqttExchange: _mqtt_messages,
    CoapExchange: _coap_messages,
    UdpExchange: _udp_messages,
    HttpExchange: _http_messages,
}


def exchange_messages(exchange: Exchange, payload_bytes: int) -> list[tuple[Direction, bytes, str]]:
    """(direction, bytes, label) of each application write of one session, built by scapy."""
    return _MESSAGES[type(exchange)](exchange, payload_bytes)


def exchange_phase_messages(
    exchange: Exchange, phase: str, payload_bytes: int = 0
) -> list[tuple[Direction, bytes, str]]:
    """(direction, bytes, label) of each application write of one phase (see
    :meth:`Exchange.phase_plan`): a whole ``session`` of any exchange, or a phase of MQTT's."""
    if phase == "session":
        return exchange_messages(exchange, payload_bytes)
    if isinstance(exchange, MqttExchange):
        return mqtt_phase_messages(exchange, phase, payload_bytes)
    raise ValueError(f"{exchange.name!r} has no persistent-connection phases (only MQTT does)")


def exchange_writes(exchange: Exchange, payload_bytes: int) -> list[Write]:
    """The session's writes with the sizes of the scapy-built messages."""
    return [Write(d, len(m), label) for d, m, label in exchange_messages(exchange, payload_bytes)]
