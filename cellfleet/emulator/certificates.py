"""Placeholder X.509 certificates of an exact DER size, for the scapy reference and pcaps.

The size model (:mod:`cellfleet.emulator.tls`) carries certificates as byte counts only
(``TlsProfile.certificate_chain_bytes``, ``client_certificate_bytes``).  TLS 1.2 sends the
Certificate message in the clear (RFC 5246 §7.4.2), so tshark parses every entry as a DER
X.509 certificate (RFC 5280 §4.1) and reports a blob of zeros as malformed.
:func:`placeholder_certificate` returns a real, parseable certificate of exactly the requested
size instead:

*   subject ``CN=api.example.com``, issuer ``CN=cellfleet test CA``, validity 2024-01-01 to
    2034-01-01, an Ed25519 subject key, signed by a fixed Ed25519 CA key (RFC 8410).  The keys
    come from fixed seeds and EdDSA signatures are deterministic (RFC 8032 §5.1.6) and of fixed
    length, so the bytes are identical run to run.
*   the size is reached with a non-critical Netscape Comment extension
    (``2.16.840.1.113730.1.13``, an IA5String) whose text length is searched so that the DER
    total is exactly ``n``.  Wireshark dissects that extension; an unregistered OID (such as
    one under ``2.25``) would raise its "BER: Dissector for OID not implemented" *warning*.
*   DER length-of-length steps (X.690 §8.1.3.5) make some totals skip a value: a step inside
    the TBSCertificate is filled by the serial number's length (1..20 octets, RFC 5280
    §4.1.2.2), one of the TBSCertificate's own length is filled by signing with a fixed Ed448
    CA key instead (114-byte signature), and the gap between the certificate without and with
    the comment by a notAfter of 2050-01-01 (GeneralizedTime, RFC 5280 §4.1.2.5: two bytes more).

Sizes below :func:`min_certificate_bytes` (229) raise ``ValueError``, and so do the sizes no
DER certificate can have: an outer SEQUENCE of 259 or 65540 bytes would need a content of
255 + 1/2 or 65535 + 1/2 bytes (X.690 §8.1.3.5).  The sizes of the shipped profiles (1200,
1100, 900 bytes) and of the test grids (400 .. 9000) are far from both.
``cryptography`` is imported on first use.
"""

from __future__ import annotations

import datetime
import functools
import hashlib

#: Netscape certificate comment (IA5String), dissected by Wireshark's ns_cert_exts.
COMMENT_OID = "2.16.840.1.113730.1.13"
LEAF_COMMON_NAME = "api.example.com"
ISSUER_COMMON_NAME = "cellfleet test CA"
NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
#: UTCTime (the usual choice); the GeneralizedTime alternative is two bytes longer.
NOT_AFTER = datetime.datetime(2034, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER_GENERALIZED = datetime.datetime(2050, 1, 1, tzinfo=datetime.UTC)
#: RFC 5280 §4.1.2.2: serial numbers are at most 20 octets.
MAX_SERIAL_OCTETS = 20
_CA_SEED = hashlib.sha512(b"cellfleet test CA key").digest()
_LEAF_SEED = hashlib.sha256(b"cellfleet test leaf key").digest()
_SERIAL_SEED = hashlib.sha256(b"cellfleet test serial").digest()
_COMMENT_TEXT = b"cellfleet placeholder certificate, sized to the TLS size model. "


def _serial(octets: int) -> int:
    """A fixed positive serial whose DER INTEGER content is exactly ``octets`` bytes (top bit
    clear, so no sign octet is added; second bit set, so no leading octet is dropped)."""
    raw = int.from_bytes(_SERIAL_SEED[:octets], "big")
    return (raw >> 2) | (1 << (8 * octets - 2))


@functools.lru_cache(maxsize=1)
def _keys() -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return {
        "ed25519": Ed25519PrivateKey.from_private_bytes(_CA_SEED[:32]),
        "ed448": Ed448PrivateKey.from_private_bytes(_CA_SEED[:57]),
        "leaf": Ed25519PrivateKey.from_private_bytes(_LEAF_SEED).public_key(),
    }


def _der_length(n: int) -> bytes:
    """X.690 §8.1.3: definite length, short form below 128, else long form."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _ia5string(chars: int) -> bytes:
    """DER IA5String (tag 22) of ``chars`` characters of filler text."""
    text = (_COMMENT_TEXT * (chars // len(_COMMENT_TEXT) + 1))[:chars]
    return b"\x16" + _der_length(chars) + text


def _build(
    signer: str, generalized: bool, serial_octets: int, comment: int | None
) -> bytes:
    """DER of one placeholder certificate; ``comment=None``: no comment extension."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    keys = _keys()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LEAF_COMMON_NAME)])
        )
        .issuer_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER_COMMON_NAME)])
        )
        .public_key(keys["leaf"])
        .serial_number(_serial(serial_octets))
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER_GENERALIZED if generalized else NOT_AFTER)
    )
    if comment is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(COMMENT_OID), _ia5string(comment)
            ),
            critical=False,
        )
    return builder.sign(keys[signer], None).public_bytes(Encoding.DER)


@functools.lru_cache(maxsize=1)
def min_certificate_bytes() -> int:
    """The smallest size :func:`placeholder_certificate` builds (no extension, 1-octet serial)."""
    return len(_build("ed25519", False, 1, None))


def _search(n: int, signer: str, generalized: bool) -> bytes | None:
    """A certificate of ``n`` bytes with this signer and notAfter encoding, or None."""
    for octets in range(1, MAX_SERIAL_OCTETS + 1):
        der = _build(signer, generalized, octets, None)
        if len(der) == n:
            return der
        if len(der) > n:
            break
    # Step the comment length by the remaining difference; a length-of-length step that
    # skips n makes the steps oscillate, then a one octet longer serial shifts the totals.
    for octets in range(1, MAX_SERIAL_OCTETS + 1):
        comment, seen = 0, set()
        while comment >= 0 and comment not in seen:
            seen.add(comment)
            der = _build(signer, generalized, octets, comment)
            if len(der) == n:
                return der
            comment += n - len(der)
    return None


@functools.lru_cache(maxsize=1024)
def placeholder_certificate(n: int) -> bytes:
    """A valid DER X.509 certificate (RFC 5280) of exactly ``n`` bytes; deterministic."""
    if n < min_certificate_bytes():
        raise ValueError(
            f"no placeholder X.509 certificate is {n} bytes: the smallest valid one built "
            f"here (Ed25519, CN={LEAF_COMMON_NAME}) is {min_certificate_bytes()} bytes"
        )
    for signer in ("ed25519", "ed448"):
        for generalized in (False, True):
            der = _search(n, signer, generalized)
            if der is not None:
                return der
    raise ValueError(
        f"no DER X.509 certificate is exactly {n} bytes: its outer SEQUENCE length would "
        "fall on a DER length-of-length step (X.690 §8.1.3.5)"
    )
