"""TLS records framed, and protected with fixed test keys, by scapy's record layer: the record
half of the scapy TLS reference (:mod:`cellfleet.emulator.tls_scapy`), used for handshake flights,
application writes and alerts.

It works around a scapy 2.8 bug in TLS 1.2 AES-CCM-8 (:func:`_fix_scapy_tls12_ccm8_tag`).
scapy is imported on first use.
"""

from __future__ import annotations

from cellfleet.emulator.tls import TlsProfile
from cellfleet.emulator.tls_constants import (
    CT_APPLICATION_DATA,
    SHA256_BYTES,
    TLS12_SUITES,
    TLS13_SUITES,
)


def _scapy_suite_class(p: TlsProfile):
    """scapy cipher-suite class whose AEAD protects records.  scapy cannot run the PSK suites, so
    a PSK profile uses the ECDHE_ECDSA suite with the same AEAD: the record protection (RFC 5288
    §3, RFC 6655 §3, RFC 7905 §2) is identical, only the key exchange differs."""
    from scapy.layers.tls.crypto import suites

    if p.version == "1.3":
        return getattr(suites, TLS13_SUITES[p.cipher][0])
    return getattr(suites, TLS12_SUITES[(p.cipher, "ecdsa_p256")][0])


def _scapy_keyed_session(p: TlsProfile):
    """A scapy tlsSession whose write state encrypts with fixed test keys."""
    from scapy.layers.tls.session import tlsSession, writeConnState

    tls_version = 0x0304 if p.version == "1.3" else 0x0303
    session = tlsSession(connection_end="client")
    session.tls_version = tls_version
    state = writeConnState(
        ciphersuite=_scapy_suite_class(p),
        connection_end="client",
        tls_version=tls_version,
    )
    if p.version == "1.3":
        state.tls13_derive_keys(b"\x01" * SHA256_BYTES)
    else:
        state.derive_keys(
            client_random=b"\x01" * 32,
            server_random=b"\x02" * 32,
            master_secret=b"\x03" * 48,
        )
        _fix_scapy_tls12_ccm8_tag(state.cipher)
    session.wcs = state
    return session


def _fix_scapy_tls12_ccm8_tag(cipher) -> None:
    """Work around a scapy 2.8 bug: its TLS 1.2 ``Cipher_AES_128_CCM_8`` builds
    ``AESCCM(key)`` with the default 16-byte tag, although CCM_8 suites carry an 8-byte tag
    (RFC 6655 §3, RFC 7251 §2).  The private ``_cipher`` is replaced by one with
    ``tag_length=8``; ``tests/test_tls.py`` pins the bug so the patch goes when scapy is fixed."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    if type(cipher).__name__ == "Cipher_AES_128_CCM_8":
        cipher._cipher = AESCCM(cipher.key, tag_length=cipher.tag_len)


def scapy_record(
    p: TlsProfile, content_type: int, protected: bool, fragment: bytes
) -> bytes:
    """Frame (and if ``protected`` encrypt) one record with scapy's record layer.

    Plaintext records use ``TLS``; protected TLS 1.2 records use ``TLS`` over a keyed session
    (explicit nonce + AEAD, RFC 5246 §6.2.3.3); TLS 1.3 records use ``TLS13`` with a
    ``TLSInnerPlaintext`` (RFC 8446 §5.2).  ``raw_stateful`` is used because scapy's ``bytes()``
    swaps in the read state for the build."""
    from scapy.layers.tls.record import TLS, _TLSEncryptedContent
    from scapy.layers.tls.record_tls13 import TLS13, TLSInnerPlaintext

    if not protected:
        return bytes(
            TLS(type=content_type, version=0x0303, msg=[_TLSEncryptedContent(fragment)])
        )
    session = _scapy_keyed_session(p)
    content = _TLSEncryptedContent(fragment, tls_session=session)
    if p.version == "1.3":
        inner = TLSInnerPlaintext(msg=[content], type=content_type, tls_session=session)
        record = TLS13(
            type=CT_APPLICATION_DATA, version=0x0303, inner=inner, tls_session=session
        )
    else:
        record = TLS(
            type=content_type, version=0x0303, msg=[content], tls_session=session
        )
    return record.raw_stateful()
