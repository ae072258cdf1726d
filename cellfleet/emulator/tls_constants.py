"""TLS and DTLS wire constants: framing sizes, field sizes and IANA code points, each cited.

These numbers are shared by the size model (:mod:`cellfleet.emulator.tls`,
:mod:`cellfleet.emulator.tls_plan`, :mod:`cellfleet.emulator.dtls`) and the scapy reference
(:mod:`cellfleet.emulator.tls_scapy`, :mod:`cellfleet.emulator.dtls_scapy`), so they live in one
module of their own: a record header, a Random or a signature scheme has one definition, with the
RFC section it comes from next to it.  Byte counts of whole messages are *not* here; they are
computed from these fields by :class:`~cellfleet.emulator.tls_plan.SizeEncoder` (and built by
scapy in the reference), so the two implementations never share a message size.

Code points come from the IANA TLS registries as cited: handshake and content types
(RFC 5246 §6.2.1, §7.4; RFC 6347 §4.3.2), named groups (RFC 8446 §4.2.7, RFC 8422 §5.1.1),
signature schemes (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3) and cipher suites (RFC 5288, RFC 5289,
RFC 5487, RFC 6655, RFC 7251, RFC 7905, RFC 8446 §B.4).
"""

from __future__ import annotations

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
HS_CLIENT_HELLO, HS_HELLO_VERIFY_REQUEST = 1, 3  # RFC 5246 §7.4, RFC 6347 §4.3.2
CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA = (
    20,
    21,
    22,
    23,
)  # RFC 5246 §6.2.1
GROUP_CODES = {
    "x25519": 0x001D,
    "secp256r1": 0x0017,
}  # RFC 8446 §4.2.7, RFC 8422 §5.1.1
KEY_SHARE_BYTES = {"x25519": X25519_KEY_BYTES, "secp256r1": P256_POINT_BYTES}
TLS12_SIG_SCHEME = {
    "ecdsa_p256": 0x0403,
    "rsa_2048": 0x0401,
}  # RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3
TLS13_SIG_SCHEME = {
    "ecdsa_p256": 0x0403,
    "rsa_2048": 0x0804,
}  # rsa_pss_rsae_sha256: RFC 8446 §4.2.3
CLIENT_CERT_TYPE = {
    "ecdsa_p256": 64,
    "rsa_2048": 1,
}  # ecdsa_sign RFC 8422 §5.5, rsa_sign RFC 5246 §7.4.4
TLS12_SUITES = {
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
TLS13_SUITES = {
    "AES_128_GCM_SHA256": ("TLS_AES_128_GCM_SHA256", 0x1301),  # RFC 8446 §B.4
    "CHACHA20_POLY1305_SHA256": (
        "TLS_CHACHA20_POLY1305_SHA256",
        0x1303,
    ),  # RFC 8446 §B.4
    "AES_128_CCM_8": ("TLS_AES_128_CCM_8_SHA256", 0x1305),  # RFC 8446 §B.4
}
TLS12_AEAD_NONCE_TAG_BYTES = {
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
TLS13_TAG_BYTES = {
    "AES_128_GCM_SHA256": 16,
    "CHACHA20_POLY1305_SHA256": 16,
    "AES_128_CCM_8": 8,
}  # RFC 8446 §5.2, §B.4
