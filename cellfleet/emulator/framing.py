"""Sizes of the application writes: MQTT 3.1.1, CoAP (RFC 7252) and HTTP/1.1 (RFC 9112) framing.

An exchange is a list of writes (:class:`cellfleet.emulator.wire.Write`); this module gives the
exact byte size of each application message so the writes of an exchange shape
(:mod:`cellfleet.emulator.exchanges`) can be sized in closed form, scalar or vectorized over numpy
arrays of many sessions. :mod:`cellfleet.emulator.messages` builds the same messages with scapy's
protocol layers and ``tests/test_wire.py`` checks these sizes against them byte for byte.
Transport and IP overhead is added by :mod:`cellfleet.emulator.wire`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

#: MQTT 3.1.1 §2.2: one byte of packet type and flags, then the Remaining Length.
MQTT_FIXED_HEADER_FIRST_BYTES = 1
#: MQTT 3.1.1 §2.2.3: the Remaining Length takes 1 to 4 bytes of 7 bits each.
MQTT_MAX_REMAINING_LENGTH_BYTES = 268_435_455
#: MQTT 3.1.1 §1.5.3: a UTF-8 string is prefixed by its 2-byte length.
MQTT_STRING_PREFIX_BYTES = 2
#: MQTT 3.1.1 §3.1.2: protocol name "MQTT" (2 + 4), level (1), flags (1), keep alive (2).
MQTT_CONNECT_VARIABLE_HEADER_BYTES = 10
#: MQTT 3.1.1 §2.3.1: Packet Identifier of PUBLISH QoS > 0 and of PUBACK.
MQTT_PACKET_ID_BYTES = 2
#: Fixed sizes: CONNACK §3.2, PUBACK §3.4, PINGREQ §3.12, PINGRESP §3.13, DISCONNECT §3.14.
MQTT_CONNACK_BYTES = 4
MQTT_PUBACK_BYTES = 4
MQTT_PINGREQ_BYTES = 2
MQTT_PINGRESP_BYTES = 2
MQTT_DISCONNECT_BYTES = 2


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def mqtt_remaining_length_bytes(remaining_length_bytes: ArrayLike) -> np.ndarray:
    """Size of the Remaining Length varint: 1 below 128, 2 below 16,384, 3, 4 (§2.2.3)."""
    rl = np.asarray(remaining_length_bytes, dtype=np.int64)
    if ((rl < 0) | (rl > MQTT_MAX_REMAINING_LENGTH_BYTES)).any():
        raise ValueError(f"MQTT Remaining Length must be 0..{MQTT_MAX_REMAINING_LENGTH_BYTES}")
    return 1 + (rl >= 128) + (rl >= 16_384) + (rl >= 2_097_152)


def mqtt_packet_size_bytes(remaining_length_bytes: ArrayLike) -> np.ndarray:
    """Whole MQTT control packet: fixed header first byte, the varint, the remaining bytes."""
    rl = np.asarray(remaining_length_bytes, dtype=np.int64)
    return MQTT_FIXED_HEADER_FIRST_BYTES + mqtt_remaining_length_bytes(rl) + rl


def mqtt_connect_size_bytes(client_id: str) -> int:
    """CONNECT with a client id, no will, user name or password (MQTT 3.1.1 §3.1)."""
    rl = MQTT_CONNECT_VARIABLE_HEADER_BYTES + MQTT_STRING_PREFIX_BYTES + _utf8_bytes(client_id)
    return int(mqtt_packet_size_bytes(rl))


def mqtt_publish_size_bytes(topic: str, payload_bytes: ArrayLike, qos: int) -> np.ndarray:
    """PUBLISH: topic string, packet id if QoS > 0, payload (MQTT 3.1.1 §3.3)."""
    if qos not in (0, 1, 2):
        raise ValueError(f"MQTT QoS must be 0, 1 or 2, got {qos!r}")
    rl = (
        MQTT_STRING_PREFIX_BYTES
        + _utf8_bytes(topic)
        + (MQTT_PACKET_ID_BYTES if qos else 0)
        + np.asarray(payload_bytes, dtype=np.int64)
    )
    return mqtt_packet_size_bytes(rl)


#: RFC 7252 §3: Ver, T, TKL, Code, Message ID.
COAP_HEADER_BYTES = 4
#: RFC 7252 §3: token lengths 9..15 are reserved.
COAP_MAX_TOKEN_BYTES = 8
#: RFC 7252 §3: the 0xFF marker before a non-empty payload.
COAP_PAYLOAD_MARKER_BYTES = 1
#: RFC 7252 §5.10 option numbers.
COAP_OPTION_URI_PATH = 11
COAP_OPTION_CONTENT_FORMAT = 12
#: RFC 7252 §4.8: MAX_RETRANSMIT of a confirmable message.
COAP_MAX_RETRANSMIT = 4


def coap_uint_bytes(value: int) -> int:
    """Length of a CoAP uint option value: minimal big-endian, 0 is empty (RFC 7252 §3.2)."""
    return (value.bit_length() + 7) // 8


def _coap_extended_bytes(value: int) -> int:
    """Extended delta/length bytes: none below 13, 1 below 269, else 2 (RFC 7252 §3.1)."""
    return 0 if value < 13 else 1 if value < 269 else 2


def coap_options_size_bytes(options: Sequence[tuple[int, int]]) -> int:
    """Encoded options given as (number, value length) pairs, sorted by number (RFC 7252 §3.1)."""
    size_bytes, previous = 0, 0
    for number, value_bytes in sorted(options, key=lambda o: o[0]):
        delta = number - previous
        size_bytes += (
            1 + _coap_extended_bytes(delta) + _coap_extended_bytes(value_bytes) + value_bytes
        )
        previous = number
    return size_bytes


def coap_message_size_bytes(
    token_bytes: int, options: Sequence[tuple[int, int]], payload_bytes: ArrayLike
) -> np.ndarray:
    """CoAP message: header, token, options, payload marker and payload if any (RFC 7252 §3)."""
    if not 0 <= token_bytes <= COAP_MAX_TOKEN_BYTES:
        raise ValueError(f"CoAP token must be 0..{COAP_MAX_TOKEN_BYTES} bytes, got {token_bytes}")
    payload = np.asarray(payload_bytes, dtype=np.int64)
    marker = np.where(payload > 0, COAP_PAYLOAD_MARKER_BYTES, 0)
    return COAP_HEADER_BYTES + token_bytes + coap_options_size_bytes(options) + marker + payload


#: RFC 9112 §2.3: the protocol version written in request and status lines.
HTTP_VERSION = "HTTP/1.1"
#: RFC 9112 §2.1: lines end in CRLF.
CRLF_BYTES = 2
#: RFC 9112 §5.1: ``name: value`` written with one space of optional whitespace.
HTTP_FIELD_SEPARATOR_BYTES = 2
#: RFC 9110 §5.6.7: an IMF-fixdate such as ``Sun, 06 Nov 1994 08:49:37 GMT``.
HTTP_DATE_VALUE_BYTES = 29
#: Fields the framing writes itself: Host (RFC 9112 §3.2), Content-Length (RFC 9110 §8.6) and,
#: on responses, Date (RFC 9110 §6.6.1, an origin server with a clock MUST send it).
HTTP_MANAGED_FIELDS = ("host", "content-length", "date")


def _decimal_digits(values: ArrayLike) -> np.ndarray:
    """Number of decimal digits of non-negative integers (1 for 0)."""
    v = np.asarray(values, dtype=np.int64)
    return 1 + sum((v >= 10**k).astype(np.int64) for k in range(1, 19))


def http_field_line_bytes(name: str, value_bytes: ArrayLike) -> np.ndarray:
    """One header field line ``name: value`` CRLF (RFC 9112 §5)."""
    return _utf8_bytes(name) + HTTP_FIELD_SEPARATOR_BYTES + np.asarray(value_bytes) + CRLF_BYTES


def _check_fields(headers: Sequence[tuple[str, str]]) -> None:
    names = [name.lower() for name, _ in headers]
    if len(set(names)) != len(names):
        raise ValueError(f"HTTP header names must be distinct, got {names}")
    managed = sorted(set(names) & set(HTTP_MANAGED_FIELDS))
    if managed:
        raise ValueError(f"HTTP headers {managed} are written by the framing, do not pass them")


def _fields_bytes(headers: Sequence[tuple[str, str]]) -> int:
    _check_fields(headers)
    return sum(int(http_field_line_bytes(name, _utf8_bytes(value))) for name, value in headers)


def http_request_size_bytes(
    method: str, target: str, host: str, headers: Sequence[tuple[str, str]], body_bytes: ArrayLike
) -> np.ndarray:
    """Request line (RFC 9112 §3), Host, Content-Length, ``headers``, empty line, body.

    Content-Length is always written (scapy does so even for an empty body).
    """
    body = np.asarray(body_bytes, dtype=np.int64)
    request_line_bytes = _utf8_bytes(f"{method} {target} {HTTP_VERSION}") + CRLF_BYTES
    return (
        request_line_bytes
        + http_field_line_bytes("Host", _utf8_bytes(host))
        + http_field_line_bytes("Content-Length", _decimal_digits(body))
        + _fields_bytes(headers)
        + CRLF_BYTES
        + body
    )


def http_response_size_bytes(
    status_code: int, reason: str, headers: Sequence[tuple[str, str]], body_bytes: ArrayLike
) -> np.ndarray:
    """Status line (RFC 9112 §4), Date, Content-Length, ``headers``, empty line, body."""
    body = np.asarray(body_bytes, dtype=np.int64)
    status_line_bytes = _utf8_bytes(f"{HTTP_VERSION} {status_code:03d} {reason}") + CRLF_BYTES
    return (
        status_line_bytes
        + http_field_line_bytes("Date", HTTP_DATE_VALUE_BYTES)
        + http_field_line_bytes("Content-Length", _decimal_digits(body))
        + _fields_bytes(headers)
        + CRLF_BYTES
        + body
    )
