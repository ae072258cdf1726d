"""Placeholder X.509 certificates of an exact DER size, for the scapy reference and pcaps.

The size model (:mod:`cellfleet.emulator.tls`) carries certificates as byte counts only
(``TlsProfile.certificate_chain_bytes``, ``client_certificate_bytes``).  TLS 1.2 sends the
Certificate message in the clear (RFC 5246 §7.4.2), so tshark parses every entry as a DER
X.509 certificate (RFC 5280 §4.1); a blob of zeros is reported as malformed.
:func:`placeholder_certificate` returns a real, parseable certificate of exactly the requested
size instead:

*   subject ``CN=api.example.com``, issuer ``CN=cellfleet test CA``, validity
    2024-01-01 .. 2034-01-01 (UTCTime), an Ed25519 subject key, signed by a fixed Ed25519 CA
    key.  Both keys are derived from fixed seeds and Ed25519 signatures are deterministic
    (RFC 8032 §5.1.6) and always 64 bytes, so the bytes are identical run to run.
*   the size is reached with a non-critical Netscape Comment extension
    (``2.16.840.1.113730.1.13``, an IA5String; Wireshark dissects it, so unlike an unregistered
    OID it raises no "dissector not implemented" warning) whose text is searched so that the
    DER total is exactly ``n``.  The DER length-of-length steps (X.690 §8.1.3.5)
    can make the total jump one byte past ``n``; the serial number's length (1..20 octets,
    RFC 5280 §4.1.2.2) is the second knob that fills such a gap.

The smallest reachable size is :data:`MIN_CERTIFICATE_BYTES` (no comment extension, 1-octet
serial); smaller sizes raise ``ValueError``.  ``cryptography`` is imported on first use.
"""

from __future__ import annotations

import datetime
import functools
import hashlib

#: Netscape certificate comment (IA5String), dissected by Wireshark's ns_cert_exts.
COMMENT_OID = "2.16.840.1.113730.1.13"
LEAF_COMMON_NAME = "api.example.com"
ISSUER_COMMON_NAME = "cellfleet test CA"
NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2034, 1, 1, tzinfo=datetime.timezone.utc)
#: RFC 5280 §4.1.2.2: serial numbers are at most 20 octets.
MAX_SERIAL_BYTES = 20
_CA_SEED = hashlib.sha256(b"cellfleet test CA Ed25519 key").digest()
_LEAF_SEED = hashlib.sha256(b"cellfleet test leaf Ed25519 key").digest()
_SERIAL_SEED = hashlib.sha256(b"cellfleet test serial").digest()


def _serial(octets: int) -> int:
    """A fixed positive serial whose DER INTEGER content is exactly ``octets`` bytes (top bit
    clear so no sign octet is added, second bit set so no leading octet is dropped)."""
    raw = int.from_bytes(_SERIAL_SEED[:octets], "big")
    return (raw >> 2) | (1 << (8 * octets - 2))


@functools.lru_cache(maxsize=1)
def _keys():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return (
        Ed25519PrivateKey.from_private_bytes(_CA_SEED),
        Ed25519PrivateKey.from_private_bytes(_LEAF_SEED).public_key(),
    )


def _build(serial_octets: int, comment_chars: int | None) -> bytes:
    """DER of the placeholder certificate; ``comment_chars=None``: no comment extension."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    ca_key, leaf_public = _keys()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LEAF_COMMON_NAME)])
        )
        .issuer_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER_COMMON_NAME)])
        )
        .public_key(leaf_public)
        .serial_number(_serial(serial_octets))
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    if comment_chars is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(COMMENT_OID), _ia5string(comment_chars)
            ),
            critical=False,
        )
    return builder.sign(ca_key, None).public_bytes(Encoding.DER)


def _der_length(n: int) -> bytes:
    """X.690 §8.1.3: definite length, short form below 128, else long form."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _ia5string(chars: int) -> bytes:
    """DER IA5String (tag 22) of ``chars`` filler text."""
    filler = (b"cellfleet placeholder certificate " * (chars // 34 + 1))[:chars]
    return b"\x16" + _der_length(chars) + filler


@functools.lru_cache(maxsize=1)
def min_certificate_bytes() -> int:
    """The smallest size :func:`placeholder_certificate` can build."""
    return len(_build(1, None))


@functools.lru_cache(maxsize=1024)
def placeholder_certificate(n: int) -> bytes:
    """A valid DER X.509 certificate (RFC 5280) of exactly ``n`` bytes; deterministic."""
    if n < min_certificate_bytes():
        raise ValueError(
            f"no placeholder X.509 certificate is {n} bytes: the smallest valid one built "
            f"here (Ed25519, CN={LEAF_COMMON_NAME}) is {min_certificate_bytes()} bytes"
        )
    # Without the comment extension: the serial's length alone covers a small range.
    for octets in range(1, MAX_SERIAL_BYTES + 1):
        der = _build(octets, None)
        if len(der) == n:
            return der
    # With it: Newton-like steps on the comment length; a DER length-of-length step can skip
    # n by one byte, then a longer serial shifts the totals by one and fills the gap.
    for octets in range(1, MAX_SERIAL_BYTES + 1):
        chars, seen = 0, set()
        while chars >= 0 and chars not in seen:
            seen.add(chars)
            der = _build(octets, chars)
            if len(der) == n:
                return der
            chars += n - len(der)
    raise ValueError(f"no placeholder X.509 certificate of exactly {n} bytes was found")
