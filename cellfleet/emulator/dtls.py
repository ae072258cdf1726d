"""Exact DTLS 1.2 byte overhead: the handshake as UDP datagrams and protected application datagrams.

CoAP over DTLS (RFC 7252 §9) pays for the DTLS 1.2 handshake (RFC 6347 §4.2.4 Figures 1-2: the
cookie exchange, then the TLS 1.2 flights of :mod:`cellfleet.emulator.tls`), a 13-byte record
header plus the AEAD expansion on every datagram, and the ``close_notify`` alerts at teardown.
Operators bill those bytes (platforms.md §7: user-plane volume at the IP layer, both directions),
so this module counts them exactly, as integer arithmetic over the RFC structures
(:func:`dtls_handshake_datagrams`, :func:`dtls_protect`).

It shares the *plan* (which messages form which flight) and the message sizes with the TLS size
model (:mod:`cellfleet.emulator.tls_plan`); what is DTLS-specific is the datagram layout policy
(:func:`layout_datagrams`: 12-byte handshake fragment headers, RFC 6347 §4.2.2, greedy packing
into datagrams, §4.1.1, fragmentation to fill the room left, §4.2.3).  The reference
implementation is in :mod:`cellfleet.emulator.dtls_scapy` (:func:`scapy_dtls_handshake_datagrams`,
:func:`scapy_dtls_protect`); ``tests/test_tls.py`` asserts both agree byte for byte.  Each write
is one UDP datagram; UDP/IP headers are added by :mod:`cellfleet.emulator.wire`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cellfleet.emulator.tls import TlsProfile, TlsWrite, teardown_writes
from cellfleet.emulator.tls_constants import (
    ALERT_BYTES,
    CT_HANDSHAKE,
    TLS12_AEAD_NONCE_TAG_BYTES,
    TLS_HANDSHAKE_HEADER_BYTES,
    TLS_MAX_FRAGMENT_BYTES,
)
from cellfleet.emulator.tls_plan import Msg, SizeEncoder, flight_label, tls12_flights

DTLS_RECORD_HEADER_BYTES = 13
"""TLS header plus epoch(2) + sequence_number(6): RFC 6347 §4.1."""
DTLS_HANDSHAKE_HEADER_BYTES = 12
"""TLS header plus message_seq(2) + fragment_offset(3) + fragment_length(3): RFC 6347 §4.2.2."""


_DatagramRecord = tuple[
    int, bool, int, int, int
]  # (content type, protected, msg index, offset, length)


def _dtls_protect_overhead_bytes(p: TlsProfile) -> int:
    """Bytes a protected DTLS 1.2 record adds: 13 header + explicit nonce + tag, i.e. 37 for
    AES-GCM (RFC 6347 §4.1, RFC 5288 §3) and 29 for AES-CCM-8 (RFC 6655 §3, RFC 7925 §3)."""
    nonce_bytes, tag_bytes = TLS12_AEAD_NONCE_TAG_BYTES[p.cipher]
    return DTLS_RECORD_HEADER_BYTES + nonce_bytes + tag_bytes


def _dtls_record_overhead(p: TlsProfile, protected: bool) -> int:
    """Header (+ AEAD expansion when protected) of one DTLS record."""
    return _dtls_protect_overhead_bytes(p) if protected else DTLS_RECORD_HEADER_BYTES


def layout_datagrams(
    p: TlsProfile, msgs: Sequence[Msg]
) -> list[list[_DatagramRecord]]:
    """Pack a DTLS flight into datagrams of at most ``dtls_max_datagram_bytes``.

    Each handshake message fragment gets its own record with a 12-byte fragment header (RFC 6347
    §4.2.2); records are packed greedily into datagrams (§4.1.1) and a message that does not fit
    the room left is fragmented to fill it (§4.2.3).  ChangeCipherSpec is never fragmented.
    """
    limit = p.dtls_max_datagram_bytes
    datagrams: list[list[_DatagramRecord]] = [[]]
    used = 0
    for index, msg in enumerate(msgs):
        overhead = _dtls_record_overhead(p, msg.protected)
        if msg.content_type != CT_HANDSHAKE:
            if used + overhead + msg.length > limit and datagrams[-1]:
                datagrams.append([])
                used = 0
            datagrams[-1].append(
                (msg.content_type, msg.protected, index, 0, msg.length)
            )
            used += overhead + msg.length
            continue
        overhead += DTLS_HANDSHAKE_HEADER_BYTES
        body_bytes = msg.length - TLS_HANDSHAKE_HEADER_BYTES
        offset = 0
        while True:
            room = limit - used - overhead
            if room < min(1, body_bytes - offset) or room < 0:
                datagrams.append([])
                used = 0
                room = limit - overhead
            take = min(room, body_bytes - offset)
            datagrams[-1].append((msg.content_type, msg.protected, index, offset, take))
            used += overhead + take
            offset += take
            if offset >= body_bytes:
                break
    return datagrams


def require_dtls(profile: TlsProfile) -> None:
    """DTLS 1.2 only exists for the 1.2 handshake (RFC 6347 §1)."""
    if profile.version != "1.2":
        raise ValueError("DTLS is modelled for version '1.2' only (RFC 6347)")


def datagram_labels(msgs: Sequence[Msg], count: int) -> list[str]:
    """Label each datagram of a flight; a split flight gets ``[i/n]`` suffixes."""
    label = flight_label(msgs)
    return (
        [label] if count == 1 else [f"{label} [{i + 1}/{count}]" for i in range(count)]
    )


def dtls_handshake_datagrams(profile: TlsProfile) -> list[TlsWrite]:
    """The DTLS 1.2 handshake as UDP datagrams (RFC 6347 §4.2.4 Figures 1-2): ClientHello,
    HelloVerifyRequest, ClientHello with cookie, then the TLS 1.2 flights of
    :func:`handshake_writes`, each split into datagrams by :func:`layout_datagrams`."""
    require_dtls(profile)
    out: list[TlsWrite] = []
    for direction, msgs in tls12_flights(profile, SizeEncoder(), dtls=True):
        datagrams = layout_datagrams(profile, msgs)
        labels = datagram_labels(msgs, len(datagrams))
        for label, records in zip(labels, datagrams):
            size = 0
            for content_type, protected, _, _, length in records:
                size += _dtls_record_overhead(profile, protected) + length
                size += (
                    DTLS_HANDSHAKE_HEADER_BYTES if content_type == CT_HANDSHAKE else 0
                )
            out.append((direction, size, label))
    return out


def dtls_protect(
    app_datagrams: Iterable[TlsWrite], profile: TlsProfile
) -> list[TlsWrite]:
    """Application datagrams (e.g. CoAP messages) as DTLS datagrams: one protected record each,
    +37 bytes with AES-GCM, +29 with AES-CCM-8, then the close_notify pair if configured.

    Raises ``ValueError`` for a datagram above 2^14 bytes, which one record cannot carry
    (RFC 6347 §4.1.1: records do not span datagrams)."""
    require_dtls(profile)
    overhead = _dtls_protect_overhead_bytes(profile)
    out = []
    for direction, size, label in app_datagrams:
        if not 0 <= size <= TLS_MAX_FRAGMENT_BYTES:
            raise ValueError(
                f"DTLS datagram payload must be within 0..2^14 bytes, got {size}"
            )
        out.append((direction, size + overhead, label))
    return out + teardown_writes(profile, overhead + ALERT_BYTES)


