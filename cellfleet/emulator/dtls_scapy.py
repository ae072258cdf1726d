"""Reference implementation of the DTLS 1.2 size model, built with scapy (lazy import).

The DTLS size model (:mod:`cellfleet.emulator.dtls`) is integer arithmetic over the RFC
structures; this module builds the same datagrams: handshake messages from ``scapy.layers.tls``
(:class:`~cellfleet.emulator.tls_scapy.ScapyEncoder`), re-framed with the DTLS handshake header
and packed into datagrams by the same layout policy
(:func:`~cellfleet.emulator.dtls.layout_datagrams`), then records encrypted with real AEAD keys
(:func:`scapy_dtls_datagrams`, :func:`scapy_dtls_handshake_datagrams`,
:func:`scapy_dtls_protect`).  ``tests/test_tls.py`` asserts both agree byte for byte over a grid
of profiles and application sizes.  Both share only the *plan* (the cookie exchange and the
TLS 1.2 flights, RFC 6347 §4.2.4 Figures 1-2; :mod:`cellfleet.emulator.tls_plan`) and the
datagram *layout policy*, never a byte count.

scapy has no DTLS record layer, so the DTLS 1.2 record (RFC 6347 §4.1) and handshake fragment
header (§4.2.2) are declared here as small scapy packet classes, and DTLS records are encrypted
with ``cryptography``.  Slow: meant for tests and pcaps only; scapy is imported on first use so
the fleet path never loads it.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable

from cellfleet.emulator.dtls import datagram_labels, layout_datagrams, require_dtls
from cellfleet.emulator.tls import TlsProfile, TlsWrite
from cellfleet.emulator.tls_constants import (
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_HANDSHAKE,
    TLS_HANDSHAKE_HEADER_BYTES,
)
from cellfleet.emulator.tls_plan import tls12_flights
from cellfleet.emulator.tls_scapy import ScapyEncoder


@functools.cache
def _dtls_layers():
    """scapy ``Packet`` classes for the DTLS 1.2 record (RFC 6347 §4.1) and handshake fragment
    header (§4.2.2), built on first use to keep scapy's import lazy."""
    from scapy.fields import (
        BitField,
        ByteField,
        FieldLenField,
        ShortField,
        StrLenField,
        ThreeBytesField,
        XShortField,
    )
    from scapy.packet import Packet

    class DTLSRecord(Packet):
        """DTLSPlaintext / DTLSCiphertext: type, version, epoch, 48-bit sequence, length, fragment."""

        name = "DTLS Record"
        fields_desc = [  # noqa: RUF012 (scapy reads a plain list)
            ByteField("type", CT_HANDSHAKE),
            XShortField("version", 0xFEFD),
            ShortField("epoch", 0),
            BitField("sequence_number", 0, 48),
            FieldLenField("length", None, length_of="fragment"),
            StrLenField("fragment", b"", length_from=lambda pkt: pkt.length),
        ]

    class DTLSHandshake(Packet):
        """Handshake fragment: msg_type, length, message_seq, fragment_offset, fragment_length."""

        name = "DTLS Handshake"
        fields_desc = [  # noqa: RUF012 (scapy reads a plain list)
            ByteField("msg_type", 0),
            ThreeBytesField("length", 0),
            ShortField("message_seq", 0),
            ThreeBytesField("fragment_offset", 0),
            ThreeBytesField("fragment_length", None),
            StrLenField("body", b"", length_from=lambda pkt: pkt.fragment_length),
        ]

        def post_build(self, pkt: bytes, pay: bytes) -> bytes:
            """Fill fragment_length from the body when left to None."""
            if self.fragment_length is None:
                pkt = pkt[:9] + struct.pack("!I", len(self.body))[1:] + pkt[12:]
            return pkt + pay

    return DTLSRecord, DTLSHandshake


def _dtls_aead_encrypt(
    p: TlsProfile, epoch: int, seq: int, content_type: int, plaintext: bytes
) -> bytes:
    """DTLSCiphertext.fragment: explicit nonce + AEAD(plaintext) with the RFC 6347 §4.1.2.1
    additional data (epoch || sequence, type, version, length; RFC 5246 §6.2.3.3), using
    ``cryptography`` with fixed test keys: AES-GCM (RFC 5288 §3), AES-CCM-8 (RFC 6655 §3),
    ChaCha20-Poly1305 (RFC 7905 §2)."""
    from cryptography.hazmat.primitives.ciphers.aead import (
        AESCCM,
        AESGCM,
        ChaCha20Poly1305,
    )

    sequence = struct.pack("!H", epoch) + seq.to_bytes(6, "big")
    aad = sequence + struct.pack("!BHH", content_type, 0xFEFD, len(plaintext))
    if p.cipher == "CHACHA20_POLY1305_SHA256":
        iv = b"\x02" * 12
        nonce = bytes(a ^ b for a, b in zip(iv, b"\x00" * 4 + sequence))
        return ChaCha20Poly1305(b"\x01" * 32).encrypt(nonce, plaintext, aad)
    explicit = (
        sequence  # the 8-byte explicit nonce is commonly the record sequence number
    )
    aead = (
        AESGCM(b"\x01" * 16)
        if p.cipher == "AES_128_GCM_SHA256"
        else AESCCM(b"\x01" * 16, tag_length=8)
    )
    return explicit + aead.encrypt(b"\x02" * 4 + explicit, plaintext, aad)


def _scapy_dtls_record(
    p: TlsProfile,
    content_type: int,
    protected: bool,
    epoch: int,
    seq: int,
    fragment: bytes,
) -> bytes:
    """One DTLS record built with the scapy ``DTLSRecord`` layer, encrypted when ``protected``."""
    record_cls, _ = _dtls_layers()
    if protected:
        fragment = _dtls_aead_encrypt(p, epoch, seq, content_type, fragment)
    return bytes(
        record_cls(
            type=content_type, epoch=epoch, sequence_number=seq, fragment=fragment
        )
    )


def scapy_dtls_datagrams(
    profile: TlsProfile,
    app_datagrams: Iterable[tuple[str, bytes, str]] | None = None,
    *,
    handshake: bool = True,
) -> list[tuple[str, bytes, str]]:
    """``(direction, datagram bytes, label)`` of each DTLS datagram, every record built by scapy.

    First (when ``handshake``) the handshake flights laid out as :func:`dtls_handshake_datagrams`
    lays them out: handshake bodies from ``scapy.layers.tls`` re-framed with the DTLS handshake
    header (RFC 6347 §4.2.2), records encrypted after CCS.  Then, when ``app_datagrams`` is given,
    one epoch-1 application_data record per ``(direction, plaintext, label)`` and, when
    ``profile.close_notify``, the close_notify pair (up, then down).  Record sequence numbers
    count per direction and continue from the handshake into the protected datagrams.
    """
    require_dtls(profile)
    out: list[tuple[str, bytes, str]] = []
    message_seq = {"up": 0, "down": 0}
    record_seq = {"up": 0, "down": 0}
    flights = tls12_flights(profile, ScapyEncoder(), dtls=True) if handshake else []
    for direction, msgs in flights:
        out += _flight_datagrams(profile, direction, msgs, message_seq, record_seq)
    if app_datagrams is None:
        return out
    for direction, plaintext, label in app_datagrams:
        record = _scapy_dtls_record(
            profile, CT_APPLICATION_DATA, True, 1, record_seq[direction], plaintext
        )
        record_seq[direction] += 1
        out.append((direction, record, label))
    if profile.close_notify:
        # warning(1), close_notify(0): RFC 5246 §7.2
        for direction in ("up", "down"):
            alert = _scapy_dtls_record(
                profile, CT_ALERT, True, 1, record_seq[direction], bytes([1, 0])
            )
            record_seq[direction] += 1
            out.append((direction, alert, "close_notify"))
    return out


def _flight_datagrams(
    profile: TlsProfile,
    direction: str,
    msgs: list,
    message_seq: dict[str, int],
    record_seq: dict[str, int],
) -> list[tuple[str, bytes, str]]:
    """The datagrams of one handshake flight, advancing the direction's message and record
    sequence numbers (RFC 6347 §4.2.2, §4.1)."""
    _, handshake_cls = _dtls_layers()
    out: list[tuple[str, bytes, str]] = []
    datagrams = layout_datagrams(profile, msgs)
    labels = datagram_labels(msgs, len(datagrams))
    seq_of_msg = {}
    for index, msg in enumerate(msgs):
        if msg.content_type == CT_HANDSHAKE:
            seq_of_msg[index] = message_seq[direction]
            message_seq[direction] += 1
    for label, records in zip(labels, datagrams):
        datagram = b""
        for content_type, protected, index, offset, length in records:
            payload = msgs[index].payload
            assert isinstance(payload, bytes)
            if content_type == CT_HANDSHAKE:
                body = payload[TLS_HANDSHAKE_HEADER_BYTES:]
                fragment = bytes(
                    handshake_cls(
                        msg_type=payload[0],
                        length=len(body),
                        message_seq=seq_of_msg[index],
                        fragment_offset=offset,
                        body=body[offset : offset + length],
                    )
                )
            else:
                fragment = payload
            epoch = 1 if protected else 0
            datagram += _scapy_dtls_record(
                profile, content_type, protected, epoch, record_seq[direction], fragment
            )
            record_seq[direction] += 1
        out.append((direction, datagram, label))
    return out


def scapy_dtls_first_flight_copies(
    profile: TlsProfile, copies: int
) -> list[tuple[str, bytes, str]]:
    """The device's first flight (ClientHello without cookie) sent ``copies`` times, as when no
    answer comes and the retransmission timer fires (RFC 6347 §4.2.4): the same handshake
    message (same message_seq) in new records (the record sequence number goes on, §4.1)."""
    require_dtls(profile)
    direction, msgs = tls12_flights(profile, ScapyEncoder(), dtls=True)[0]
    record_seq = {"up": 0, "down": 0}
    out: list[tuple[str, bytes, str]] = []
    for _ in range(copies):
        out += _flight_datagrams(profile, direction, msgs, {"up": 0, "down": 0}, record_seq)
    return out


def scapy_dtls_handshake_datagrams(profile: TlsProfile) -> list[TlsWrite]:
    """:func:`dtls_handshake_datagrams` with every record built by scapy (the sizes of the
    handshake datagrams of :func:`scapy_dtls_datagrams`)."""
    return [
        (direction, len(datagram), label)
        for direction, datagram, label in scapy_dtls_datagrams(profile)
    ]


def scapy_dtls_protect(
    app_datagrams: Iterable[TlsWrite], profile: TlsProfile
) -> list[TlsWrite]:
    """:func:`dtls_protect` computed by encrypting placeholder data into scapy-built DTLS records
    (the sizes of the protected datagrams of :func:`scapy_dtls_datagrams`, no handshake)."""
    placeholders = [
        (direction, b"\x00" * size, label) for direction, size, label in app_datagrams
    ]
    return [
        (direction, len(datagram), label)
        for direction, datagram, label in scapy_dtls_datagrams(
            profile, placeholders, handshake=False
        )
    ]
