"""Exact TLS 1.2 and TLS 1.3 byte overhead for the emulator's wire model: the size model.

A device that speaks MQTT or HTTPS over TLS, or CoAP over DTLS, pays for more bytes than its
application sends: the handshake flights, a header and an AEAD tag (plus, in TLS 1.2, an explicit
nonce) on every record, and the ``close_notify`` alerts at teardown.  Operators bill those bytes
(platforms.md §7: user-plane volume at the IP layer, both directions), so this module counts them
exactly for one concrete, documented exchange per :class:`TlsProfile`.  The profile defined here,
and the plan and message sizes of :mod:`cellfleet.emulator.tls_plan`, are shared with DTLS 1.2
(:mod:`cellfleet.emulator.dtls`).  This module holds the profile, the record sizes and the public
size functions; the flight plan, :class:`~cellfleet.emulator.tls_plan.SizeEncoder` and the record
layout are in :mod:`cellfleet.emulator.tls_plan`, the cited constants and IANA code points in
:mod:`cellfleet.emulator.tls_constants`.

One source of truth, two implementations
    *   The **size model** (:func:`handshake_writes`, :func:`protect_writes`, :func:`tls_totals`
        here; :func:`~cellfleet.emulator.dtls.dtls_handshake_datagrams`,
        :func:`~cellfleet.emulator.dtls.dtls_protect` in :mod:`cellfleet.emulator.dtls`) is
        integer arithmetic over the RFC structures; it is what the fleet path uses.
    *   The **reference** (:mod:`cellfleet.emulator.tls_scapy`, DTLS in
        :mod:`cellfleet.emulator.dtls_scapy`) builds the same messages with
        ``scapy.layers.tls`` and frames and encrypts them with scapy's record layer and real AEAD
        keys.  ``tests/test_tls.py`` asserts both agree byte for byte over a grid of profiles and
        application sizes.
    Both share only the *plan* (which messages form which flight, RFC 5246 §7.3 Figures 1-2,
    RFC 8446 §2, RFC 6347 §4.2.4; :mod:`cellfleet.emulator.tls_plan`) and the record/datagram
    *layout policy*, never a byte count.

Exchange shape
    An exchange is a list of writes ``TlsWrite = (direction, size_bytes, label)``: the bytes handed
    to TCP (or, for DTLS, to UDP as one datagram) in one send; ``direction`` is ``"up"`` (device
    to server) or ``"down"``.  TCP/IP headers are added by the transport layer (``wire.py``).

Choices this module makes (each one is a parameter of :class:`TlsProfile` where it matters)
    *   A minimal IoT client: it offers exactly one cipher suite, one group and one signature
        scheme, and the server echoes only what it must.
    *   ECDSA P-256 signatures are DER ``SEQUENCE {INTEGER r, INTEGER s}`` of 70 to 72 bytes
        (71 or 72 when r or s has its top bit set and gains a 0x00 pad); the default is the
        maximum, 72, and :attr:`TlsProfile.ecdsa_signature_bytes` overrides it.
    *   Certificates are opaque DER blobs of the configured sizes (only their length matters).
    *   Consecutive handshake messages under the same keys share records (as OpenSSL does) unless
        :attr:`TlsProfile.coalesce_records` is false (one record per message, as mbed TLS does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Literal

import numpy as np

from cellfleet.emulator.tls_constants import (
    ALERT_BYTES,
    ECDSA_P256_SIGNATURE_MAX_BYTES,
    RSA_2048_SIGNATURE_BYTES,
    TLS12_AEAD_NONCE_TAG_BYTES,
    TLS12_SIG_SCHEME,
    TLS12_SUITES,
    TLS13_INNER_CONTENT_TYPE_BYTES,
    TLS13_SUITES,
    TLS13_TAG_BYTES,
    TLS_MAX_FRAGMENT_BYTES,
    TLS_RECORD_HEADER_BYTES,
)
from cellfleet.emulator.tls_plan import (
    SizeEncoder,
    flight_label,
    flights,
    layout_records,
)

TlsWrite = tuple[str, int, str]
"""One send to the transport: ``(direction "up"|"down", size_bytes, label)``."""


@dataclasses.dataclass(frozen=True)
class TlsProfile:
    """What a device and its server negotiate, down to every length-bearing choice.

    Only fields that change byte counts are here.  Invalid combinations raise ``ValueError`` at
    construction, so every function below can trust its profile.
    """

    version: Literal["1.2", "1.3"] = "1.3"
    """Protocol version; DTLS functions require ``"1.2"`` (DTLS 1.2, RFC 6347)."""
    cipher: Literal[
        "AES_128_GCM_SHA256", "CHACHA20_POLY1305_SHA256", "AES_128_CCM_8"
    ] = "AES_128_GCM_SHA256"
    """AEAD of the suite; AES_128_CCM_8 is the RFC 7925 §4.2/§4.4 IoT profile choice."""
    key_exchange: Literal["x25519", "secp256r1", "psk"] = "x25519"
    """(EC)DHE group, or ``"psk"`` for the pure-PSK TLS/DTLS 1.2 suites (RFC 4279 §2)."""
    signature: Literal["ecdsa_p256", "rsa_2048"] = "ecdsa_p256"
    """Key type of both endpoints' certificates; sets signature sizes and the 1.2 suite."""
    ecdsa_signature_bytes: int = ECDSA_P256_SIGNATURE_MAX_BYTES
    """DER length of every ECDSA signature (70-72 in practice; deterministic maximum by default)."""
    certificate_chain_bytes: tuple[int, ...] = (1200, 1100)
    """DER sizes of the server chain, leaf first (a device certificate and an intermediate)."""
    client_certificate_bytes: int | None = None
    """DER size of the client certificate for mutual TLS (AWS IoT style); None: no client auth."""
    resumption: bool = False
    """Abbreviated handshake: TLS 1.2 ticket (RFC 5077 §3.1) or session ID (RFC 5246 §7.3
    Figure 2); TLS 1.3 PSK with (EC)DHE, psk_dhe_ke (RFC 8446 §2.2)."""
    session_tickets: bool = True
    """The server issues tickets: NewSessionTicket in TLS 1.2 (RFC 5077 §3.3), post-handshake
    NewSessionTicket in TLS 1.3 (RFC 8446 §4.6.1).  A TLS 1.2 resumption without tickets uses
    the session ID."""
    session_ticket_bytes: int = 192
    """Length of the opaque ticket the server issues (and the client presents when resuming)."""
    tls13_ticket_count: int = 1
    """NewSessionTicket messages a TLS 1.3 server sends after the handshake (OpenSSL sends 2)."""
    ticket_nonce_bytes: int = 8
    """TLS 1.3 ticket_nonce length (RFC 8446 §4.6.1), 8 as in OpenSSL."""
    sni_hostname: str = "mqtt.example.com"
    """server_name host_name (RFC 6066 §3); empty string: extension omitted."""
    alpn: tuple[str, ...] = ()
    """ALPN protocols offered (RFC 7301 §3.1); the server selects the first."""
    middlebox_compat: bool = True
    """TLS 1.3 compatibility mode: 32-byte legacy_session_id and dummy ChangeCipherSpec
    records (RFC 8446 §D.4)."""
    coalesce_records: bool = True
    """Pack consecutive handshake messages with the same keys into shared records."""
    close_notify: bool = True
    """Each side sends an encrypted close_notify at teardown (RFC 5246 §7.2.1, RFC 8446 §6.1)."""
    psk_identity: str = "device-0001"
    """PSK identity sent in ClientKeyExchange for ``key_exchange="psk"`` (RFC 4279 §2)."""
    dtls_cookie_bytes: int = 32
    """HelloVerifyRequest cookie length, at most 255 (RFC 6347 §4.2.1)."""
    dtls_max_datagram_bytes: int = 1232
    """Largest DTLS datagram payload: IPv6 minimum MTU 1280 (RFC 8200 §5) - 40 IPv6 - 8 UDP."""

    def __post_init__(self) -> None:
        """Reject combinations with no defined cipher suite or impossible lengths."""
        if self.version not in ("1.2", "1.3"):
            raise ValueError(f"version must be '1.2' or '1.3', not {self.version!r}")
        if self.cipher not in TLS13_SUITES:
            raise ValueError(f"unknown cipher {self.cipher!r}")
        if self.key_exchange not in ("x25519", "secp256r1", "psk"):
            raise ValueError(f"unknown key_exchange {self.key_exchange!r}")
        if self.signature not in TLS12_SIG_SCHEME:
            raise ValueError(f"unknown signature {self.signature!r}")
        if self.version == "1.2" and (self.cipher, self._auth) not in TLS12_SUITES:
            raise ValueError(
                f"no TLS 1.2 suite for {self.cipher} with {self._auth} authentication"
            )
        if self.version == "1.3" and self.key_exchange == "psk":
            raise ValueError(
                "TLS 1.3 external PSK is not modelled; use x25519 or secp256r1"
            )
        if self.version == "1.3" and self.resumption and not self.session_tickets:
            raise ValueError("TLS 1.3 resumption needs a ticket (RFC 8446 §2.2)")
        if not 8 <= self.ecdsa_signature_bytes <= ECDSA_P256_SIGNATURE_MAX_BYTES:
            raise ValueError(
                "ecdsa_signature_bytes must be within 8..72 (RFC 3279 §2.2.3 DER)"
            )
        if self.key_exchange != "psk" and not self.certificate_chain_bytes:
            raise ValueError(
                "certificate authentication needs at least one server certificate"
            )
        sizes = list(self.certificate_chain_bytes) + [
            self.client_certificate_bytes or 1
        ]
        if any(not 1 <= size < 2**24 for size in sizes):
            raise ValueError(
                "certificate sizes must be within 1..2^24-1 bytes (RFC 5246 §7.4.2)"
            )
        if (
            not 1 <= self.session_ticket_bytes < 2**16
            or not 0 <= self.ticket_nonce_bytes < 256
        ):
            raise ValueError(
                "ticket must be 1..65535 bytes and nonce 0..255 (RFC 8446 §4.6.1)"
            )
        if self.tls13_ticket_count < 0:
            raise ValueError("tls13_ticket_count must be >= 0")
        if not 0 <= self.dtls_cookie_bytes <= 255:
            raise ValueError(
                "dtls_cookie_bytes must be within 0..255 (RFC 6347 §4.2.1)"
            )
        if not 64 <= self.dtls_max_datagram_bytes <= TLS_MAX_FRAGMENT_BYTES:
            raise ValueError("dtls_max_datagram_bytes must be within 64..2^14")
        if len(self.sni_hostname.encode()) > 255 or any(
            not 1 <= len(p.encode()) <= 255 for p in self.alpn
        ):
            raise ValueError(
                "SNI host and ALPN names must be 1..255 bytes (RFC 6066 §3, RFC 7301 §3.1)"
            )

    @property
    def _auth(self) -> str:
        """Authentication method: the certificate key type, or ``"psk"``."""
        return "psk" if self.key_exchange == "psk" else self.signature

    @property
    def cipher_suite(self) -> int:
        """The negotiated cipher suite code point."""
        if self.version == "1.3":
            return TLS13_SUITES[self.cipher][1]
        return TLS12_SUITES[(self.cipher, self._auth)][1]

    @property
    def signature_bytes(self) -> int:
        """Length of one signature by either endpoint."""
        if self.signature == "ecdsa_p256":
            return self.ecdsa_signature_bytes
        return RSA_2048_SIGNATURE_BYTES


# =================================================================================================
# Record sizes
# =================================================================================================


def _tls_record_overhead_bytes(p: TlsProfile) -> int:
    """Bytes a protected TLS record adds to its plaintext: 5 + 8 + 16 = 29 for TLS 1.2 AES-GCM
    (RFC 5246 §6.2.3.3, RFC 5288 §3), 5 + 1 + 16 = 22 for TLS 1.3 AES-GCM (RFC 8446 §5.2)."""
    if p.version == "1.3":
        return (
            TLS_RECORD_HEADER_BYTES
            + TLS13_INNER_CONTENT_TYPE_BYTES
            + TLS13_TAG_BYTES[p.cipher]
        )
    nonce_bytes, tag_bytes = TLS12_AEAD_NONCE_TAG_BYTES[p.cipher]
    return TLS_RECORD_HEADER_BYTES + nonce_bytes + tag_bytes


def _tls_record_bytes(p: TlsProfile, protected: bool, fragment_bytes: int) -> int:
    """Size of one TLS record carrying ``fragment_bytes`` of plaintext."""
    if protected:
        return _tls_record_overhead_bytes(p) + fragment_bytes
    return TLS_RECORD_HEADER_BYTES + fragment_bytes


def _model_record_sizes(p: TlsProfile) -> list[tuple[str, str, list[int]]]:
    """Per flight: (direction, label, sizes of its records), from the size model."""
    out = []
    for direction, msgs in flights(p, SizeEncoder()):
        sizes = [
            _tls_record_bytes(p, protected, sum(b - a for _, a, b in pieces))
            for _, protected, pieces in layout_records(msgs, p.coalesce_records)
        ]
        out.append((direction, flight_label(msgs), sizes))
    return out


def handshake_writes(profile: TlsProfile) -> list[TlsWrite]:
    """The handshake as transport writes, one per flight, sizes from the RFC structures.

    TLS 1.2 full (RFC 5246 §7.3 Figure 1, tickets RFC 5077 §3.3): ClientHello;
    ServerHello+Certificate+ServerKeyExchange+[CertificateRequest]+ServerHelloDone;
    [Certificate]+ClientKeyExchange+[CertificateVerify]+ChangeCipherSpec+Finished;
    [NewSessionTicket]+ChangeCipherSpec+Finished.  Abbreviated (Figure 2, RFC 5077 §3.1):
    ClientHello; ServerHello+[NewSessionTicket]+ChangeCipherSpec+Finished; ChangeCipherSpec+Finished.
    TLS 1.3 (RFC 8446 §2): ClientHello; ServerHello+[ChangeCipherSpec]+EncryptedExtensions+
    [CertificateRequest]+Certificate+CertificateVerify+Finished (certificate messages omitted when
    resuming with a PSK); [ChangeCipherSpec]+[Certificate+CertificateVerify]+Finished;
    NewSessionTicket x ``tls13_ticket_count``.
    """
    return [(d, sum(sizes), label) for d, label, sizes in _model_record_sizes(profile)]


def _records_for_app_bytes(app_bytes: int) -> int:
    """Records needed for one write: ceil(app / 2^14) (RFC 8446 §5.1); a 0-byte write sends none."""
    if app_bytes < 0:
        raise ValueError(f"app_bytes must be >= 0, got {app_bytes}")
    return -(-app_bytes // TLS_MAX_FRAGMENT_BYTES)


def record_overhead_bytes(profile: TlsProfile, app_bytes: int) -> int:
    """TLS bytes added to one application write of ``app_bytes``: records x per-record overhead.

    Example: a 29-byte MQTT PUBLISH over TLS 1.3 AES-GCM costs 22 more bytes (51 to TCP); over
    TLS 1.2 AES-GCM 29 more (58).
    """
    return _records_for_app_bytes(app_bytes) * _tls_record_overhead_bytes(profile)


def close_notify_bytes(profile: TlsProfile) -> int:
    """One encrypted close_notify alert record (RFC 5246 §7.2.1, RFC 8446 §6.1): 31 bytes in TLS
    1.2 AES-GCM, 24 in TLS 1.3 AES-GCM."""
    return _tls_record_bytes(profile, True, ALERT_BYTES)


def teardown_writes(profile: TlsProfile, record_bytes: int) -> list[TlsWrite]:
    """close_notify from the device, answered by the server (RFC 5246 §7.2.1, RFC 8446 §6.1)."""
    if not profile.close_notify:
        return []
    return [
        ("up", record_bytes, "close_notify"),
        ("down", record_bytes, "close_notify"),
    ]


def protect_writes(
    app_writes: Iterable[TlsWrite], profile: TlsProfile
) -> list[TlsWrite]:
    """Application writes as TLS writes: each grows by :func:`record_overhead_bytes`, then the
    teardown close_notify pair is appended (when ``profile.close_notify``)."""
    out = [
        (d, n + record_overhead_bytes(profile, n), label) for d, n, label in app_writes
    ]
    return out + teardown_writes(profile, close_notify_bytes(profile))


# =================================================================================================
# Vectorised fleet path
# =================================================================================================


def tls_totals(
    app_up_bytes: np.ndarray,
    app_down_bytes: np.ndarray,
    profile: TlsProfile,
    up_write_count: np.ndarray | int = 1,
    down_write_count: np.ndarray | int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes handed to TCP per session: handshake + protected application writes + close_notify.

    Session ``i`` makes ``up_write_count[i]`` uplink writes of ``app_up_bytes[i]`` bytes each (and
    likewise downlink); with the default counts of 1 this is one write each way.  Equals, element
    by element, the sums over :func:`handshake_writes` + :func:`protect_writes` for that session.
    Returns two int64 arrays (uplink, downlink).
    """
    up = np.asarray(app_up_bytes, dtype=np.int64)
    down = np.asarray(app_down_bytes, dtype=np.int64)
    if (up < 0).any() or (down < 0).any():
        raise ValueError("application byte counts must be >= 0")
    up_count = np.asarray(up_write_count, dtype=np.int64)
    down_count = np.asarray(down_write_count, dtype=np.int64)
    if (up_count < 0).any() or (down_count < 0).any():
        raise ValueError("write counts must be >= 0")
    handshake = handshake_writes(profile)
    fixed_up = sum(n for d, n, _ in handshake if d == "up")
    fixed_down = sum(n for d, n, _ in handshake if d == "down")
    if profile.close_notify:
        fixed_up += close_notify_bytes(profile)
        fixed_down += close_notify_bytes(profile)
    per_record = _tls_record_overhead_bytes(profile)

    def per_write(app: np.ndarray) -> np.ndarray:
        return (
            app + (-(-app // TLS_MAX_FRAGMENT_BYTES)) * per_record
        )  # ceil: RFC 8446 §5.1

    return fixed_up + up_count * per_write(up), fixed_down + down_count * per_write(
        down
    )
