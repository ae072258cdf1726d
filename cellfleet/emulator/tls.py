"""Exact TLS 1.2 and TLS 1.3 byte overhead for the emulator's wire model: the size model.

A device that speaks MQTT or HTTPS over TLS, or CoAP over DTLS, pays for more bytes than its
application sends: the handshake flights, a header and an AEAD tag (plus, in TLS 1.2, an explicit
nonce) on every record, and the ``close_notify`` alerts at teardown.  Operators bill those bytes
(platforms.md §7: user-plane volume at the IP layer, both directions), so this module counts them
exactly for one concrete, documented exchange per :class:`TlsProfile`.  The profile, the plan
and the message sizes defined here are shared with DTLS 1.2 (:mod:`cellfleet.emulator.dtls`).

One source of truth, two implementations
    *   The **size model** (:func:`handshake_writes`, :func:`protect_writes`, :func:`tls_totals`
        here; :func:`~cellfleet.emulator.dtls.dtls_handshake_datagrams`,
        :func:`~cellfleet.emulator.dtls.dtls_protect` in :mod:`cellfleet.emulator.dtls`) is
        integer arithmetic over the RFC structures; it is what the fleet path uses.
    *   The **reference** (:mod:`cellfleet.emulator.tls_scapy`) builds the same messages with
        ``scapy.layers.tls`` and frames and encrypts them with scapy's record layer and real AEAD
        keys.  ``tests/test_tls.py`` asserts both agree byte for byte over a grid of profiles and
        application sizes.
    Both share only the *plan* (which messages form which flight, RFC 5246 §7.3 Figures 1-2,
    RFC 8446 §2, RFC 6347 §4.2.4) and the record/datagram *layout policy*, never a byte count.

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
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

TlsWrite = tuple[str, int, str]
"""One send to the transport: ``(direction "up"|"down", size_bytes, label)``."""

# --- Record and handshake framing ---------------------------------------------------------------
TLS_RECORD_HEADER_BYTES = 5
"""ContentType(1) + ProtocolVersion(2) + uint16 length: RFC 5246 §6.2.1, RFC 8446 §5.1."""
TLS_HANDSHAKE_HEADER_BYTES = 4
"""HandshakeType(1) + uint24 length: RFC 5246 §7.4, RFC 8446 §4."""
TLS_MAX_FRAGMENT_BYTES = 2**14
"""Maximum plaintext per record, 2^14: RFC 5246 §6.2.1, RFC 8446 §5.1."""
TLS13_INNER_CONTENT_TYPE_BYTES = 1
"""TLSInnerPlaintext carries the real ContentType inside the encryption: RFC 8446 §5.2."""
CHANGE_CIPHER_SPEC_BYTES = 1
"""ChangeCipherSpec is one byte of value 1: RFC 5246 §7.1 (TLS 1.3 compat mode: RFC 8446 §D.4)."""
ALERT_BYTES = 2
"""Alert = level(1) + description(1): RFC 5246 §7.2, RFC 8446 §6."""

# --- Handshake field sizes -------------------------------------------------------------------------
RANDOM_BYTES = 32
"""ClientHello/ServerHello random: RFC 5246 §7.4.1.2, RFC 8446 §4.1.2."""
SESSION_ID_BYTES = 32
"""Session ID the server assigns (RFC 5246 §7.4.1.3), the client offers when resuming
(RFC 5246 §7.4.1.2, RFC 5077 §3.4) and a TLS 1.3 compat-mode client sends (RFC 8446 §D.4)."""
TLS12_VERIFY_DATA_BYTES = 12
"""TLS 1.2 Finished.verify_data length: RFC 5246 §7.4.9."""
SHA256_BYTES = 32
"""Hash.length of SHA-256: TLS 1.3 Finished (RFC 8446 §4.4.4) and PSK binder (§4.2.11)."""
X25519_KEY_BYTES = 32
"""X25519 public value: RFC 7748 §6.1, RFC 8446 §4.2.8.2, RFC 8422 §5.4.1."""
P256_POINT_BYTES = 65
"""Uncompressed secp256r1 point 0x04 || X || Y: RFC 8446 §4.2.8.2, RFC 8422 §5.4.1."""
ECDSA_P256_SIGNATURE_MAX_BYTES = 72
"""DER Ecdsa-Sig-Value with both integers 33 bytes: 2 + (2 + 33) * 2 (RFC 8422 §5.4, RFC 3279 §2.2.3)."""
RSA_2048_SIGNATURE_BYTES = 256
"""PKCS #1 signature length equals the modulus length k = 256 bytes: RFC 8017 §8.1.1, §8.2.1."""

# --- Code points (IANA TLS registries, as cited) -------------------------------------------------
_HS_CLIENT_HELLO, _HS_HELLO_VERIFY_REQUEST = 1, 3  # RFC 5246 §7.4, RFC 6347 §4.3.2
_CT_CHANGE_CIPHER_SPEC, _CT_ALERT, _CT_HANDSHAKE, _CT_APPLICATION_DATA = (
    20,
    21,
    22,
    23,
)  # RFC 5246 §6.2.1
_GROUP_CODES = {
    "x25519": 0x001D,
    "secp256r1": 0x0017,
}  # RFC 8446 §4.2.7, RFC 8422 §5.1.1
_KEY_SHARE_BYTES = {"x25519": X25519_KEY_BYTES, "secp256r1": P256_POINT_BYTES}
_TLS12_SIG_SCHEME = {
    "ecdsa_p256": 0x0403,
    "rsa_2048": 0x0401,
}  # RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3
_TLS13_SIG_SCHEME = {
    "ecdsa_p256": 0x0403,
    "rsa_2048": 0x0804,
}  # rsa_pss_rsae_sha256: RFC 8446 §4.2.3
_CLIENT_CERT_TYPE = {
    "ecdsa_p256": 64,
    "rsa_2048": 1,
}  # ecdsa_sign RFC 8422 §5.5, rsa_sign RFC 5246 §7.4.4
_TLS12_SUITES = {
    # (cipher, authentication) -> (scapy class name, code point)
    ("AES_128_GCM_SHA256", "ecdsa_p256"): (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02B,
    ),  # RFC 5289 §3.2
    ("AES_128_GCM_SHA256", "rsa_2048"): (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC02F,
    ),  # RFC 5289 §3.2
    ("CHACHA20_POLY1305_SHA256", "ecdsa_p256"): (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9,
    ),  # RFC 7905 §2
    ("CHACHA20_POLY1305_SHA256", "rsa_2048"): (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA8,
    ),  # RFC 7905 §2
    ("AES_128_CCM_8", "ecdsa_p256"): (
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0xC0AE,
    ),  # RFC 7251 §2
    ("AES_128_GCM_SHA256", "psk"): (
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
        0x00A8,
    ),  # RFC 5487 §3.1
    ("CHACHA20_POLY1305_SHA256", "psk"): (
        "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAB,
    ),  # RFC 7905 §2
    ("AES_128_CCM_8", "psk"): (
        "TLS_PSK_WITH_AES_128_CCM_8",
        0xC0A8,
    ),  # RFC 6655 §3, RFC 7925 §4.2
}
_TLS13_SUITES = {
    "AES_128_GCM_SHA256": ("TLS_AES_128_GCM_SHA256", 0x1301),  # RFC 8446 §B.4
    "CHACHA20_POLY1305_SHA256": (
        "TLS_CHACHA20_POLY1305_SHA256",
        0x1303,
    ),  # RFC 8446 §B.4
    "AES_128_CCM_8": ("TLS_AES_128_CCM_8_SHA256", 0x1305),  # RFC 8446 §B.4
}
_TLS12_AEAD_NONCE_TAG_BYTES = {
    # cipher -> (explicit nonce carried in each record, authentication tag)
    "AES_128_GCM_SHA256": (
        8,
        16,
    ),  # GenericAEADCipher nonce_explicit 8: RFC 5288 §3; tag 16: RFC 5116 §5.1
    "CHACHA20_POLY1305_SHA256": (
        0,
        16,
    ),  # nonce = iv XOR seq, nothing on the wire: RFC 7905 §2
    "AES_128_CCM_8": (8, 8),  # nonce_explicit 8, 8-byte tag: RFC 6655 §3, RFC 7925 §3
}
_TLS13_TAG_BYTES = {
    "AES_128_GCM_SHA256": 16,
    "CHACHA20_POLY1305_SHA256": 16,
    "AES_128_CCM_8": 8,
}  # RFC 8446 §5.2, §B.4

# --- Extension sizes (4-byte type + length header included): RFC 5246 §7.4.1.4, RFC 8446 §4.2 ----
_EXT_HEADER_BYTES = 4
_EXT_RENEGOTIATION_INFO_BYTES = (
    4 + 1
)  # empty renegotiated_connection<0..255>: RFC 5746 §3.2
_EXT_EC_POINT_FORMATS_BYTES = 4 + 1 + 1  # one format, uncompressed: RFC 8422 §5.1.2
_EXT_ONE_GROUP_BYTES = (
    4 + 2 + 2
)  # NamedGroupList with one entry: RFC 8446 §4.2.7, RFC 8422 §5.1.1
_EXT_ONE_SIG_SCHEME_BYTES = (
    4 + 2 + 2
)  # one SignatureScheme: RFC 8446 §4.2.3, RFC 5246 §7.4.1.4.1
_EXT_EXTENDED_MASTER_SECRET_BYTES = 4  # empty: RFC 7627 §5.1
_EXT_SUPPORTED_VERSIONS_CH_BYTES = (
    4 + 1 + 2
)  # versions<2..254> with only 0x0304: RFC 8446 §4.2.1
_EXT_SUPPORTED_VERSIONS_SH_BYTES = 4 + 2  # selected_version: RFC 8446 §4.2.1
_EXT_PSK_MODES_BYTES = 4 + 1 + 1  # ke_modes<1..255> = [psk_dhe_ke]: RFC 8446 §4.2.9
_EXT_PRE_SHARED_KEY_SH_BYTES = 4 + 2  # selected_identity: RFC 8446 §4.2.11


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
        if self.cipher not in _TLS13_SUITES:
            raise ValueError(f"unknown cipher {self.cipher!r}")
        if self.key_exchange not in ("x25519", "secp256r1", "psk"):
            raise ValueError(f"unknown key_exchange {self.key_exchange!r}")
        if self.signature not in _TLS12_SIG_SCHEME:
            raise ValueError(f"unknown signature {self.signature!r}")
        if self.version == "1.2" and (self.cipher, self._auth) not in _TLS12_SUITES:
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
            return _TLS13_SUITES[self.cipher][1]
        return _TLS12_SUITES[(self.cipher, self._auth)][1]

    @property
    def signature_bytes(self) -> int:
        """Length of one signature by either endpoint."""
        if self.signature == "ecdsa_p256":
            return self.ecdsa_signature_bytes
        return RSA_2048_SIGNATURE_BYTES


# =================================================================================================
# The plan: which messages form which flight (shared by the size model and the scapy reference)
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class _Msg:
    """One message of a flight: ``payload`` is its length (model) or its encoding (scapy).

    For handshake messages the payload includes the 4-byte TLS handshake header; DTLS swaps
    that header for its 12-byte one (RFC 6347 §4.2.2).
    """

    name: str
    content_type: int
    protected: bool
    payload: int | bytes

    @property
    def length(self) -> int:
        """Payload length in bytes, whatever the representation."""
        return self.payload if isinstance(self.payload, int) else len(self.payload)


_Flight = tuple[str, list[_Msg]]


def _tls12_flights(
    p: TlsProfile, enc: _SizeEncoder, dtls: bool = False
) -> list[_Flight]:
    """TLS/DTLS 1.2 flights: RFC 5246 §7.3 Figure 1 (full), Figure 2 (abbreviated), RFC 5077
    §3.1-3.3 (tickets), RFC 6347 §4.2.4 Figures 1-2 (DTLS cookie exchange)."""

    def hs(name: str, payload: int | bytes, protected: bool = False) -> _Msg:
        return _Msg(name, _CT_HANDSHAKE, protected, payload)

    ccs = _Msg(
        "ChangeCipherSpec", _CT_CHANGE_CIPHER_SPEC, False, enc.change_cipher_spec()
    )
    flights: list[_Flight] = []
    if dtls:
        flights.append(
            ("up", [hs("ClientHello", enc.client_hello(p, dtls_cookie_bytes=0))])
        )
        flights.append(
            ("down", [hs("HelloVerifyRequest", enc.hello_verify_request(p))])
        )
        cookie = p.dtls_cookie_bytes
        flights.append(
            ("up", [hs("ClientHello", enc.client_hello(p, dtls_cookie_bytes=cookie))])
        )
    else:
        flights.append(("up", [hs("ClientHello", enc.client_hello(p))]))
    ticket = (
        [hs("NewSessionTicket", enc.new_session_ticket(p))] if p.session_tickets else []
    )
    finished = hs("Finished", enc.finished(p), protected=True)
    if p.resumption:
        flights.append(
            ("down", [hs("ServerHello", enc.server_hello(p)), *ticket, ccs, finished])
        )
        flights.append(("up", [ccs, finished]))
        return flights
    server = [hs("ServerHello", enc.server_hello(p))]
    if p.key_exchange != "psk":
        server.append(hs("Certificate", enc.certificate(p, p.certificate_chain_bytes)))
        server.append(hs("ServerKeyExchange", enc.server_key_exchange(p)))
        if p.client_certificate_bytes is not None:
            server.append(hs("CertificateRequest", enc.certificate_request(p)))
    server.append(hs("ServerHelloDone", enc.server_hello_done(p)))
    flights.append(("down", server))
    client: list[_Msg] = []
    mutual = p.client_certificate_bytes is not None and p.key_exchange != "psk"
    if mutual:
        client.append(
            hs("Certificate", enc.certificate(p, (p.client_certificate_bytes,)))
        )
    client.append(hs("ClientKeyExchange", enc.client_key_exchange(p)))
    if mutual:
        client.append(hs("CertificateVerify", enc.certificate_verify(p)))
    flights.append(("up", [*client, ccs, finished]))
    flights.append(("down", [*ticket, ccs, finished]))
    return flights


def _tls13_flights(p: TlsProfile, enc: _SizeEncoder) -> list[_Flight]:
    """TLS 1.3 flights: RFC 8446 §2 Figure 1 (full), §2.2 Figure 3 (PSK resumption), §4.6.1
    (post-handshake NewSessionTicket), §D.4 (compatibility-mode ChangeCipherSpec)."""

    def hs(name: str, payload: int | bytes, protected: bool = True) -> _Msg:
        return _Msg(name, _CT_HANDSHAKE, protected, payload)

    ccs = [
        _Msg(
            "ChangeCipherSpec", _CT_CHANGE_CIPHER_SPEC, False, enc.change_cipher_spec()
        )
    ]
    compat = ccs if p.middlebox_compat else []
    server = [hs("ServerHello", enc.server_hello(p), protected=False), *compat]
    server.append(hs("EncryptedExtensions", enc.encrypted_extensions(p)))
    mutual = p.client_certificate_bytes is not None and not p.resumption
    if not p.resumption:
        if mutual:
            server.append(hs("CertificateRequest", enc.certificate_request(p)))
        server.append(hs("Certificate", enc.certificate(p, p.certificate_chain_bytes)))
        server.append(hs("CertificateVerify", enc.certificate_verify(p)))
    server.append(hs("Finished", enc.finished(p)))
    client = list(compat)
    if mutual:
        client.append(
            hs("Certificate", enc.certificate(p, (p.client_certificate_bytes,)))
        )
        client.append(hs("CertificateVerify", enc.certificate_verify(p)))
    client.append(hs("Finished", enc.finished(p)))
    flights: list[_Flight] = [
        ("up", [hs("ClientHello", enc.client_hello(p), protected=False)]),
        ("down", server),
        ("up", client),
    ]
    if p.session_tickets and p.tls13_ticket_count > 0:
        tickets = [
            hs("NewSessionTicket", enc.new_session_ticket(p))
            for _ in range(p.tls13_ticket_count)
        ]
        flights.append(("down", tickets))
    return flights


def _flights(p: TlsProfile, enc: _SizeEncoder) -> list[_Flight]:
    """Dispatch to the version's plan."""
    return _tls13_flights(p, enc) if p.version == "1.3" else _tls12_flights(p, enc)


# =================================================================================================
# Size model: message lengths from the RFC structures
# =================================================================================================


def _vec(length_prefix_bytes: int, body_bytes: int) -> int:
    """A variable-length vector ``<..>`` = length prefix + body: RFC 5246 §4.3, RFC 8446 §3.4."""
    return length_prefix_bytes + body_bytes


class _SizeEncoder:
    """Message lengths (4-byte handshake header included) computed from the RFC structures."""

    @staticmethod
    def _hs(body_bytes: int) -> int:
        """Handshake struct: msg_type(1) + uint24 length + body: RFC 5246 §7.4, RFC 8446 §4."""
        return TLS_HANDSHAKE_HEADER_BYTES + body_bytes

    def change_cipher_spec(self) -> int:
        """RFC 5246 §7.1."""
        return CHANGE_CIPHER_SPEC_BYTES

    def _sni_ext(self, p: TlsProfile) -> int:
        """server_name: list<2> of {name_type(1), host_name<2>}: RFC 6066 §3."""
        if not p.sni_hostname:
            return 0
        return _EXT_HEADER_BYTES + _vec(2, 1 + _vec(2, len(p.sni_hostname.encode())))

    def _alpn_ext(self, protocols: Sequence[str]) -> int:
        """ALPN: ProtocolNameList<2> of ProtocolName<1>: RFC 7301 §3.1."""
        if not protocols:
            return 0
        return _EXT_HEADER_BYTES + _vec(
            2, sum(_vec(1, len(x.encode())) for x in protocols)
        )

    def client_hello(self, p: TlsProfile, dtls_cookie_bytes: int | None = None) -> int:
        """ClientHello: RFC 5246 §7.4.1.2 (TLS 1.2), RFC 6347 §4.2.1 (DTLS cookie after
        session_id), RFC 8446 §4.1.2 (TLS 1.3)."""
        if p.version == "1.3":
            session_id = SESSION_ID_BYTES if p.middlebox_compat else 0
            exts = self._sni_ext(p) + _EXT_ONE_GROUP_BYTES + _EXT_ONE_SIG_SCHEME_BYTES
            key_share = (
                2 + 2 + _KEY_SHARE_BYTES[p.key_exchange]
            )  # KeyShareEntry: RFC 8446 §4.2.8
            exts += _EXT_HEADER_BYTES + _vec(2, key_share)
            exts += _EXT_SUPPORTED_VERSIONS_CH_BYTES
            exts += _EXT_PSK_MODES_BYTES if p.session_tickets else 0
            exts += self._alpn_ext(p.alpn)
            if p.resumption:  # OfferedPsks, last extension: RFC 8446 §4.2.11
                identities = _vec(
                    2, _vec(2, p.session_ticket_bytes) + 4
                )  # + obfuscated_ticket_age
                binders = _vec(2, _vec(1, SHA256_BYTES))
                exts += _EXT_HEADER_BYTES + identities + binders
        else:
            session_id = SESSION_ID_BYTES if p.resumption else 0
            exts = self._sni_ext(p) + _EXT_RENEGOTIATION_INFO_BYTES
            if (
                p.key_exchange != "psk"
            ):  # ECC extensions only with ECC suites: RFC 8422 §4
                exts += (
                    _EXT_ONE_GROUP_BYTES
                    + _EXT_EC_POINT_FORMATS_BYTES
                    + _EXT_ONE_SIG_SCHEME_BYTES
                )
            if p.session_tickets:  # empty, or the ticket when resuming: RFC 5077 §3.2
                exts += _EXT_HEADER_BYTES + (
                    p.session_ticket_bytes if p.resumption else 0
                )
            exts += self._alpn_ext(p.alpn) + _EXT_EXTENDED_MASTER_SECRET_BYTES
        body = (
            2 + RANDOM_BYTES + _vec(1, session_id)
        )  # client_version, random, session_id
        if dtls_cookie_bytes is not None:
            body += _vec(1, dtls_cookie_bytes)  # cookie<0..2^8-1>: RFC 6347 §4.2.1
        body += (
            _vec(2, 2) + _vec(1, 1) + _vec(2, exts)
        )  # one suite, null compression, extensions
        return self._hs(body)

    def hello_verify_request(self, p: TlsProfile) -> int:
        """server_version(2) + cookie<0..2^8-1>: RFC 6347 §4.2.1."""
        return self._hs(2 + _vec(1, p.dtls_cookie_bytes))

    def server_hello(self, p: TlsProfile) -> int:
        """ServerHello: RFC 5246 §7.4.1.3, RFC 8446 §4.1.3."""
        if p.version == "1.3":
            session_id = (
                SESSION_ID_BYTES if p.middlebox_compat else 0
            )  # echo: RFC 8446 §4.1.3
            exts = _EXT_SUPPORTED_VERSIONS_SH_BYTES
            exts += (
                _EXT_HEADER_BYTES + 2 + _vec(2, _KEY_SHARE_BYTES[p.key_exchange])
            )  # §4.2.8
            exts += _EXT_PRE_SHARED_KEY_SH_BYTES if p.resumption else 0
        else:
            session_id = SESSION_ID_BYTES
            exts = _EXT_RENEGOTIATION_INFO_BYTES  # RFC 5746 §3.6
            exts += (
                _EXT_EC_POINT_FORMATS_BYTES if p.key_exchange != "psk" else 0
            )  # RFC 8422 §5.2
            exts += _EXT_EXTENDED_MASTER_SECRET_BYTES  # RFC 7627 §5.2
            exts += (
                _EXT_HEADER_BYTES if p.session_tickets else 0
            )  # ticket will follow: RFC 5077 §3.2
            exts += self._alpn_ext(p.alpn[:1])  # RFC 7301 §3.1
        body = 2 + RANDOM_BYTES + _vec(1, session_id) + 2 + 1 + _vec(2, exts)
        return self._hs(body)

    def encrypted_extensions(self, p: TlsProfile) -> int:
        """extensions<0..2^16-1> carrying the selected ALPN: RFC 8446 §4.3.1."""
        return self._hs(_vec(2, self._alpn_ext(p.alpn[:1])))

    def certificate(self, p: TlsProfile, chain_bytes: Iterable[int]) -> int:
        """Certificate: list<3> of ASN.1Cert<3> (RFC 5246 §7.4.2); TLS 1.3 adds a
        request_context<1> and per-entry extensions<2> (RFC 8446 §4.4.2)."""
        if p.version == "1.3":
            return self._hs(
                _vec(1, 0) + _vec(3, sum(_vec(3, n) + _vec(2, 0) for n in chain_bytes))
            )
        return self._hs(_vec(3, sum(_vec(3, n) for n in chain_bytes)))

    def _digitally_signed(self, p: TlsProfile) -> int:
        """SignatureAndHashAlgorithm(2) + signature<2>: RFC 5246 §4.7, RFC 8446 §4.4.3."""
        return 2 + _vec(2, p.signature_bytes)

    def server_key_exchange(self, p: TlsProfile) -> int:
        """ServerECDHParams {curve_type(1), named_curve(2), point<1>} + signature: RFC 8422 §5.4."""
        return self._hs(
            1
            + 2
            + _vec(1, _KEY_SHARE_BYTES[p.key_exchange])
            + self._digitally_signed(p)
        )

    def certificate_request(self, p: TlsProfile) -> int:
        """TLS 1.2: certificate_types<1>, signature algorithms<2>, authorities<2> (RFC 5246 §7.4.4);
        TLS 1.3: request_context<1> + extensions<2> with signature_algorithms (RFC 8446 §4.3.2)."""
        if p.version == "1.3":
            return self._hs(_vec(1, 0) + _vec(2, _EXT_ONE_SIG_SCHEME_BYTES))
        return self._hs(_vec(1, 1) + _vec(2, 2) + _vec(2, 0))

    def server_hello_done(self, p: TlsProfile) -> int:
        """Empty body: RFC 5246 §7.4.5."""
        return self._hs(0)

    def client_key_exchange(self, p: TlsProfile) -> int:
        """ClientECDiffieHellmanPublic point<1> (RFC 8422 §5.7) or psk_identity<2> (RFC 4279 §2)."""
        if p.key_exchange == "psk":
            return self._hs(_vec(2, len(p.psk_identity.encode())))
        return self._hs(_vec(1, _KEY_SHARE_BYTES[p.key_exchange]))

    def certificate_verify(self, p: TlsProfile) -> int:
        """digitally-signed handshake hash: RFC 5246 §7.4.8, RFC 8446 §4.4.3."""
        return self._hs(self._digitally_signed(p))

    def finished(self, p: TlsProfile) -> int:
        """verify_data: 12 bytes in TLS 1.2 (RFC 5246 §7.4.9), Hash.length in 1.3 (RFC 8446 §4.4.4)."""
        return self._hs(SHA256_BYTES if p.version == "1.3" else TLS12_VERIFY_DATA_BYTES)

    def new_session_ticket(self, p: TlsProfile) -> int:
        """TLS 1.2: lifetime_hint(4) + ticket<2> (RFC 5077 §3.3); TLS 1.3: lifetime(4) +
        age_add(4) + nonce<1> + ticket<2> + extensions<2> (RFC 8446 §4.6.1)."""
        if p.version == "1.3":
            return self._hs(
                4
                + 4
                + _vec(1, p.ticket_nonce_bytes)
                + _vec(2, p.session_ticket_bytes)
                + _vec(2, 0)
            )
        return self._hs(4 + _vec(2, p.session_ticket_bytes))


# =================================================================================================
# Record layout policy and record sizes
# =================================================================================================

_Piece = tuple[int, int, int]  # (message index in flight, start offset, end offset)
_RecordPlan = tuple[int, bool, list[_Piece]]  # (content type, protected, pieces)


def _layout_records(msgs: Sequence[_Msg], coalesce: bool) -> list[_RecordPlan]:
    """Cut a flight into TLS records of at most 2^14 plaintext bytes (RFC 5246 §6.2.1, RFC 8446
    §5.1); handshake messages may span records (RFC 5246 §6.2.1).  With ``coalesce``, messages of
    the same content type and keys share a record; ChangeCipherSpec always stands alone."""
    records: list[_RecordPlan] = []
    for index, msg in enumerate(msgs):
        start, end = 0, msg.length
        joinable = coalesce and msg.content_type == _CT_HANDSHAKE
        while True:
            if (
                joinable
                and records
                and records[-1][:2] == (msg.content_type, msg.protected)
            ):
                used = sum(b - a for _, a, b in records[-1][2])
                room = TLS_MAX_FRAGMENT_BYTES - used
                if room > 0 or start == end == 0:
                    take = min(room, end - start)
                    records[-1][2].append((index, start, start + take))
                    start += take
                    if start >= end:
                        break
            take = min(TLS_MAX_FRAGMENT_BYTES, end - start)
            records.append(
                (msg.content_type, msg.protected, [(index, start, start + take)])
            )
            start += take
            joinable = coalesce and msg.content_type == _CT_HANDSHAKE
            if start >= end:
                break
    return records


def _tls_record_overhead_bytes(p: TlsProfile) -> int:
    """Bytes a protected TLS record adds to its plaintext: 5 + 8 + 16 = 29 for TLS 1.2 AES-GCM
    (RFC 5246 §6.2.3.3, RFC 5288 §3), 5 + 1 + 16 = 22 for TLS 1.3 AES-GCM (RFC 8446 §5.2)."""
    if p.version == "1.3":
        return (
            TLS_RECORD_HEADER_BYTES
            + TLS13_INNER_CONTENT_TYPE_BYTES
            + _TLS13_TAG_BYTES[p.cipher]
        )
    nonce_bytes, tag_bytes = _TLS12_AEAD_NONCE_TAG_BYTES[p.cipher]
    return TLS_RECORD_HEADER_BYTES + nonce_bytes + tag_bytes


def _tls_record_bytes(p: TlsProfile, protected: bool, fragment_bytes: int) -> int:
    """Size of one TLS record carrying ``fragment_bytes`` of plaintext."""
    if protected:
        return _tls_record_overhead_bytes(p) + fragment_bytes
    return TLS_RECORD_HEADER_BYTES + fragment_bytes


def _flight_label(msgs: Sequence[_Msg]) -> str:
    """Human label of a write: its message names joined by '+'."""
    return "+".join(m.name for m in msgs)


def _model_record_sizes(p: TlsProfile) -> list[tuple[str, str, list[int]]]:
    """Per flight: (direction, label, sizes of its records), from the size model."""
    out = []
    for direction, msgs in _flights(p, _SizeEncoder()):
        sizes = [
            _tls_record_bytes(p, protected, sum(b - a for _, a, b in pieces))
            for _, protected, pieces in _layout_records(msgs, p.coalesce_records)
        ]
        out.append((direction, _flight_label(msgs), sizes))
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


def _teardown_writes(profile: TlsProfile, record_bytes: int) -> list[TlsWrite]:
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
    return out + _teardown_writes(profile, close_notify_bytes(profile))


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


