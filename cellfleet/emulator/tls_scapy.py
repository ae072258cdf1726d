"""Reference implementation of the TLS/DTLS size model, built with scapy (lazy import).

The size model (:mod:`cellfleet.emulator.tls`, :mod:`cellfleet.emulator.dtls`) is integer
arithmetic over the RFC structures; this module builds the same messages with
``scapy.layers.tls`` and frames and encrypts them with scapy's record layer and real AEAD keys
(:func:`scapy_handshake_records`, :func:`scapy_handshake_writes`, :func:`scapy_protect_writes`,
:func:`scapy_dtls_datagrams`, :func:`scapy_dtls_handshake_datagrams`,
:func:`scapy_dtls_protect`).  ``tests/test_tls.py`` asserts both agree byte for byte over a grid
of profiles and application sizes.  Both share only the *plan* (which messages form which
flight, RFC 5246 §7.3 Figures 1-2, RFC 8446 §2, RFC 6347 §4.2.4) and the record/datagram
*layout policy*, never a byte count.

scapy has no DTLS record layer, so the DTLS 1.2 record (RFC 6347 §4.1) and handshake fragment
header (§4.2.2) are declared here as small scapy packet classes, and DTLS records are encrypted
with ``cryptography``.  It also works around a scapy 2.8 bug in TLS 1.2 AES-CCM-8
(:func:`_fix_scapy_tls12_ccm8_tag`).  Slow: meant for tests only; scapy is imported on first use
so the fleet path never loads it.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Sequence

from cellfleet.emulator.dtls import _datagram_labels, _layout_datagrams, _require_dtls
from cellfleet.emulator.tls import (
    _CLIENT_CERT_TYPE,
    _CT_ALERT,
    _CT_APPLICATION_DATA,
    _CT_HANDSHAKE,
    _GROUP_CODES,
    _HS_CLIENT_HELLO,
    _HS_HELLO_VERIFY_REQUEST,
    _KEY_SHARE_BYTES,
    _TLS12_SIG_SCHEME,
    _TLS12_SUITES,
    _TLS13_SIG_SCHEME,
    _TLS13_SUITES,
    RANDOM_BYTES,
    SESSION_ID_BYTES,
    SHA256_BYTES,
    TLS12_VERIFY_DATA_BYTES,
    TLS_HANDSHAKE_HEADER_BYTES,
    TLS_MAX_FRAGMENT_BYTES,
    TlsProfile,
    TlsWrite,
    _flight_label,
    _flights,
    _layout_records,
    _teardown_writes,
    _tls12_flights,
)


class _ScapyEncoder:
    """The messages of :class:`_SizeEncoder`, encoded by ``scapy.layers.tls`` (4-byte header
    included).  Keys, randoms, signatures and certificates are placeholder bytes of the right
    length; only the lengths and structure matter here."""

    def __init__(self) -> None:
        import scapy.layers.tls.all  # noqa: F401  (registers every TLS layer)
        from scapy.layers.tls.session import tlsSession

        self.session13 = tlsSession()
        self.session13.tls_version = (
            0x0304  # makes empty extension blocks explicit (RFC 8446 §4)
        )

    def change_cipher_spec(self) -> bytes:
        """RFC 5246 §7.1."""
        from scapy.layers.tls.record import TLSChangeCipherSpec

        return bytes(TLSChangeCipherSpec())

    def _common_exts(self, p: TlsProfile) -> list:
        from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName

        if not p.sni_hostname:
            return []
        return [
            TLS_Ext_ServerName(
                servernames=[ServerName(servername=p.sni_hostname.encode())]
            )
        ]

    def _alpn(self, protocols: Sequence[str]) -> list:
        from scapy.layers.tls.extensions import ProtocolName, TLS_Ext_ALPN

        if not protocols:
            return []
        return [
            TLS_Ext_ALPN(
                protocols=[ProtocolName(protocol=x.encode()) for x in protocols]
            )
        ]

    def client_hello(
        self, p: TlsProfile, dtls_cookie_bytes: int | None = None
    ) -> bytes:
        """TLSClientHello / TLS13ClientHello.  scapy has no DTLS ClientHello, so the DTLS cookie
        (RFC 6347 §4.2.1) is spliced in after session_id with ``struct``."""
        from scapy.layers.tls import extensions as ext
        from scapy.layers.tls.handshake import TLS13ClientHello, TLSClientHello
        from scapy.layers.tls.keyexchange_tls13 import (
            KeyShareEntry,
            PSKBinderEntry,
            PSKIdentity,
            TLS_Ext_KeyShare_CH,
            TLS_Ext_PreSharedKey_CH,
        )
        from scapy.packet import Raw

        group = _GROUP_CODES.get(p.key_exchange)
        if p.version == "1.3":
            share = KeyShareEntry(
                group=group, key_exchange=b"\x04" * _KEY_SHARE_BYTES[p.key_exchange]
            )
            exts = self._common_exts(p) + [
                ext.TLS_Ext_SupportedGroups(groups=[group]),
                ext.TLS_Ext_SignatureAlgorithms(
                    sig_algs=[_TLS13_SIG_SCHEME[p.signature]]
                ),
                TLS_Ext_KeyShare_CH(client_shares=[share]),
                ext.TLS_Ext_SupportedVersion_CH(versions=[0x0304]),
            ]
            if p.session_tickets:
                exts.append(ext.TLS_Ext_PSKKeyExchangeModes(kxmodes=[1]))
            exts += self._alpn(p.alpn)
            if p.resumption:
                identity = PSKIdentity(
                    identity=Raw(b"\x00" * p.session_ticket_bytes),
                    obfuscated_ticket_age=0,
                )
                exts.append(
                    TLS_Ext_PreSharedKey_CH(
                        identities=[identity],
                        binders=[PSKBinderEntry(binder=b"\x00" * 32)],
                    )
                )
            sid = b"\x00" * (SESSION_ID_BYTES if p.middlebox_compat else 0)
            hello = TLS13ClientHello(
                version=0x0303,
                random_bytes=b"\x00" * 32,
                sid=sid,
                ciphers=[p.cipher_suite],
                comp=[0],
                ext=exts,
            )
            return bytes(hello)
        exts = self._common_exts(p) + [ext.TLS_Ext_RenegotiationInfo()]
        if p.key_exchange != "psk":
            exts += [
                ext.TLS_Ext_SupportedGroups(groups=[group]),
                ext.TLS_Ext_SupportedPointFormat(ecpl=[0]),
                ext.TLS_Ext_SignatureAlgorithms(
                    sig_algs=[_TLS12_SIG_SCHEME[p.signature]]
                ),
            ]
        if p.session_tickets:
            exts.append(
                ext.TLS_Ext_SessionTicket(
                    ticket=b"\x00" * (p.session_ticket_bytes if p.resumption else 0)
                )
            )
        exts += self._alpn(p.alpn) + [ext.TLS_Ext_ExtendedMasterSecret()]
        sid = b"\x00" * (SESSION_ID_BYTES if p.resumption else 0)
        version = (
            0x0303 if dtls_cookie_bytes is None else 0xFEFD
        )  # DTLS 1.2: RFC 6347 §4.1
        hello = bytes(
            TLSClientHello(
                version=version,
                gmt_unix_time=0,
                random_bytes=b"\x00" * 28,
                sid=sid,
                ciphers=[p.cipher_suite],
                comp=[0],
                ext=exts,
            )
        )
        if dtls_cookie_bytes is None:
            return hello
        cut = TLS_HANDSHAKE_HEADER_BYTES + 2 + RANDOM_BYTES + 1 + len(sid)
        body = (
            hello[TLS_HANDSHAKE_HEADER_BYTES:cut]
            + bytes([dtls_cookie_bytes])
            + b"\x00" * dtls_cookie_bytes
        )
        body += hello[cut:]
        return struct.pack("!I", (_HS_CLIENT_HELLO << 24) | len(body)) + body

    def hello_verify_request(self, p: TlsProfile) -> bytes:
        """TLSHelloVerifyRequest carries only the cookie; server_version (RFC 6347 §4.2.1) is
        missing from scapy's class, so it is prepended with ``struct``."""
        from scapy.layers.tls.handshake import TLSHelloVerifyRequest

        body = (
            struct.pack("!H", 0xFEFD)
            + bytes(TLSHelloVerifyRequest(cookie=b"\x00" * p.dtls_cookie_bytes))[4:]
        )
        return struct.pack("!I", (_HS_HELLO_VERIFY_REQUEST << 24) | len(body)) + body

    def server_hello(self, p: TlsProfile) -> bytes:
        """TLSServerHello / TLS13ServerHello."""
        from scapy.layers.tls import extensions as ext
        from scapy.layers.tls.handshake import TLS13ServerHello, TLSServerHello
        from scapy.layers.tls.keyexchange_tls13 import (
            KeyShareEntry,
            TLS_Ext_KeyShare_SH,
            TLS_Ext_PreSharedKey_SH,
        )

        if p.version == "1.3":
            share = KeyShareEntry(
                group=_GROUP_CODES[p.key_exchange],
                key_exchange=b"\x04" * _KEY_SHARE_BYTES[p.key_exchange],
            )
            exts = [
                ext.TLS_Ext_SupportedVersion_SH(version=0x0304),
                TLS_Ext_KeyShare_SH(server_share=share),
            ]
            if p.resumption:
                exts.append(TLS_Ext_PreSharedKey_SH(selected_identity=0))
            sid = b"\x00" * (SESSION_ID_BYTES if p.middlebox_compat else 0)
            hello = TLS13ServerHello(
                version=0x0303,
                random_bytes=b"\x00" * 32,
                sid=sid,
                cipher=p.cipher_suite,
                comp=[0],
                ext=exts,
            )
            return bytes(hello)
        exts = [ext.TLS_Ext_RenegotiationInfo()]
        if p.key_exchange != "psk":
            exts.append(ext.TLS_Ext_SupportedPointFormat(ecpl=[0]))
        exts.append(ext.TLS_Ext_ExtendedMasterSecret())
        if p.session_tickets:
            exts.append(ext.TLS_Ext_SessionTicket(ticket=b""))
        exts += self._alpn(p.alpn[:1])
        hello = TLSServerHello(
            version=0x0303,
            gmt_unix_time=0,
            random_bytes=b"\x00" * 28,
            sid=b"\x00" * SESSION_ID_BYTES,
            cipher=p.cipher_suite,
            comp=[0],
            ext=exts,
        )
        return bytes(hello)

    def encrypted_extensions(self, p: TlsProfile) -> bytes:
        """TLSEncryptedExtensions."""
        from scapy.layers.tls.handshake import TLSEncryptedExtensions

        return bytes(
            TLSEncryptedExtensions(
                ext=self._alpn(p.alpn[:1]), tls_session=self.session13
            )
        )

    def certificate(self, p: TlsProfile, chain_bytes: Iterable[int]) -> bytes:
        """TLSCertificate / TLS13Certificate with opaque certificate blobs of the given sizes."""
        from scapy.layers.tls.handshake import (
            TLS13Certificate,
            TLSCertificate,
            _ASN1CertAndExt,
        )

        if p.version == "1.3":
            entries = [
                _ASN1CertAndExt(cert=(n, b"\x00" * n), ext=[]) for n in chain_bytes
            ]
            return bytes(
                TLS13Certificate(
                    cert_req_ctxt=b"", certs=entries, tls_session=self.session13
                )
            )
        return bytes(TLSCertificate(certs=[(n, b"\x00" * n) for n in chain_bytes]))

    def _signature(self, p: TlsProfile):
        from scapy.layers.tls.keyexchange import _TLSSignature

        scheme = (_TLS13_SIG_SCHEME if p.version == "1.3" else _TLS12_SIG_SCHEME)[
            p.signature
        ]
        return _TLSSignature(sig_alg=scheme, sig_val=b"\x00" * p.signature_bytes)

    def server_key_exchange(self, p: TlsProfile) -> bytes:
        """TLSServerKeyExchange with ServerECDHNamedCurveParams."""
        from scapy.layers.tls.handshake import TLSServerKeyExchange
        from scapy.layers.tls.keyexchange import ServerECDHNamedCurveParams

        params = ServerECDHNamedCurveParams(
            named_curve=_GROUP_CODES[p.key_exchange],
            point=b"\x04" * _KEY_SHARE_BYTES[p.key_exchange],
        )
        return bytes(TLSServerKeyExchange(params=params, sig=self._signature(p)))

    def certificate_request(self, p: TlsProfile) -> bytes:
        """TLSCertificateRequest / TLS13CertificateRequest."""
        from scapy.layers.tls.extensions import TLS_Ext_SignatureAlgorithms
        from scapy.layers.tls.handshake import (
            TLS13CertificateRequest,
            TLSCertificateRequest,
        )

        if p.version == "1.3":
            sig_algs = TLS_Ext_SignatureAlgorithms(
                sig_algs=[_TLS13_SIG_SCHEME[p.signature]]
            )
            return bytes(
                TLS13CertificateRequest(
                    cert_req_ctxt=b"", ext=[sig_algs], tls_session=self.session13
                )
            )
        request = TLSCertificateRequest(
            ctypes=[_CLIENT_CERT_TYPE[p.signature]],
            sig_algs=[_TLS12_SIG_SCHEME[p.signature]],
            certauth=[],
        )
        return bytes(request)

    def server_hello_done(self, p: TlsProfile) -> bytes:
        """TLSServerHelloDone."""
        from scapy.layers.tls.handshake import TLSServerHelloDone

        return bytes(TLSServerHelloDone())

    def client_key_exchange(self, p: TlsProfile) -> bytes:
        """TLSClientKeyExchange with ClientECDiffieHellmanPublic or ClientPSKIdentity."""
        from scapy.layers.tls.handshake import TLSClientKeyExchange
        from scapy.layers.tls.keyexchange import (
            ClientECDiffieHellmanPublic,
            ClientPSKIdentity,
        )

        if p.key_exchange == "psk":
            keys = ClientPSKIdentity(psk_identity=p.psk_identity.encode())
        else:
            keys = ClientECDiffieHellmanPublic(
                ecdh_Yc=b"\x04" * _KEY_SHARE_BYTES[p.key_exchange]
            )
        return bytes(TLSClientKeyExchange(exchkeys=keys))

    def certificate_verify(self, p: TlsProfile) -> bytes:
        """TLSCertificateVerify (same structure in TLS 1.2 and 1.3)."""
        from scapy.layers.tls.handshake import TLSCertificateVerify

        return bytes(TLSCertificateVerify(sig=self._signature(p)))

    def finished(self, p: TlsProfile) -> bytes:
        """TLSFinished with placeholder verify_data."""
        from scapy.layers.tls.handshake import TLSFinished

        size = SHA256_BYTES if p.version == "1.3" else TLS12_VERIFY_DATA_BYTES
        return bytes(TLSFinished(vdata=b"\x00" * size))

    def new_session_ticket(self, p: TlsProfile) -> bytes:
        """TLSNewSessionTicket / TLS13NewSessionTicket."""
        from scapy.layers.tls.handshake import (
            TLS13NewSessionTicket,
            TLSNewSessionTicket,
        )

        ticket = b"\x00" * p.session_ticket_bytes
        if p.version == "1.3":
            nst = TLS13NewSessionTicket(
                ticket_lifetime=7200,
                ticket_age_add=0,
                ticket_nonce=b"\x00" * p.ticket_nonce_bytes,
                ticket=ticket,
                ext=[],
                tls_session=self.session13,
            )
            return bytes(nst)
        return bytes(TLSNewSessionTicket(lifetime=7200, ticket=ticket))


def _scapy_suite_class(p: TlsProfile):
    """scapy cipher-suite class whose AEAD protects records.  scapy cannot run the PSK suites, so
    a PSK profile uses the ECDHE_ECDSA suite with the same AEAD: the record protection (RFC 5288
    §3, RFC 6655 §3, RFC 7905 §2) is identical, only the key exchange differs."""
    from scapy.layers.tls.crypto import suites

    if p.version == "1.3":
        return getattr(suites, _TLS13_SUITES[p.cipher][0])
    return getattr(suites, _TLS12_SUITES[(p.cipher, "ecdsa_p256")][0])


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


def _scapy_record(
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
            type=_CT_APPLICATION_DATA, version=0x0303, inner=inner, tls_session=session
        )
    else:
        record = TLS(
            type=content_type, version=0x0303, msg=[content], tls_session=session
        )
    return record.raw_stateful()


def _scapy_flight_records(p: TlsProfile) -> list[tuple[str, str, list[bytes]]]:
    """Per flight: (direction, label, records as bytes), from scapy."""
    out = []
    for direction, msgs in _flights(p, _ScapyEncoder()):
        records = []
        for content_type, protected, pieces in _layout_records(
            msgs, p.coalesce_records
        ):
            fragment = b"".join(msgs[i].payload[a:b] for i, a, b in pieces)  # type: ignore[index]
            records.append(_scapy_record(p, content_type, protected, fragment))
        out.append((direction, _flight_label(msgs), records))
    return out


def scapy_handshake_records(profile: TlsProfile) -> list[tuple[str, bytes]]:
    """Every handshake record as (direction, bytes) built by scapy, in wire order."""
    return [
        (d, record)
        for d, _, records in _scapy_flight_records(profile)
        for record in records
    ]


def scapy_handshake_writes(profile: TlsProfile) -> list[TlsWrite]:
    """:func:`handshake_writes` computed from scapy-built records."""
    return [
        (d, sum(map(len, records)), label)
        for d, label, records in _scapy_flight_records(profile)
    ]


def scapy_protect_writes(
    app_writes: Iterable[TlsWrite], profile: TlsProfile
) -> list[TlsWrite]:
    """:func:`protect_writes` computed by encrypting placeholder data with scapy's record layer."""
    out = []
    for direction, size, label in app_writes:
        data = b"\x00" * size
        chunks = [
            data[i : i + TLS_MAX_FRAGMENT_BYTES]
            for i in range(0, size, TLS_MAX_FRAGMENT_BYTES)
        ]
        total = sum(
            len(_scapy_record(profile, _CT_APPLICATION_DATA, True, chunk))
            for chunk in chunks
        )
        out.append((direction, total, label))
    alert = _scapy_record(
        profile, _CT_ALERT, True, bytes([1, 0])
    )  # warning, close_notify: RFC 5246 §7.2
    return out + _teardown_writes(profile, len(alert))


# --- DTLS reference: scapy has no DTLS record layer, so the layers are declared here ------------


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
            ByteField("type", _CT_HANDSHAKE),
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
    _require_dtls(profile)
    _, handshake_cls = _dtls_layers()
    out: list[tuple[str, bytes, str]] = []
    message_seq = {"up": 0, "down": 0}
    record_seq = {"up": 0, "down": 0}
    flights = _tls12_flights(profile, _ScapyEncoder(), dtls=True) if handshake else []
    for direction, msgs in flights:
        datagrams = _layout_datagrams(profile, msgs)
        labels = _datagram_labels(msgs, len(datagrams))
        seq_of_msg = {}
        for index, msg in enumerate(msgs):
            if msg.content_type == _CT_HANDSHAKE:
                seq_of_msg[index] = message_seq[direction]
                message_seq[direction] += 1
        for label, records in zip(labels, datagrams):
            datagram = b""
            for content_type, protected, index, offset, length in records:
                payload = msgs[index].payload
                assert isinstance(payload, bytes)
                if content_type == _CT_HANDSHAKE:
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
                    profile,
                    content_type,
                    protected,
                    epoch,
                    record_seq[direction],
                    fragment,
                )
                record_seq[direction] += 1
            out.append((direction, datagram, label))
    if app_datagrams is None:
        return out
    for direction, plaintext, label in app_datagrams:
        record = _scapy_dtls_record(
            profile, _CT_APPLICATION_DATA, True, 1, record_seq[direction], plaintext
        )
        record_seq[direction] += 1
        out.append((direction, record, label))
    if profile.close_notify:
        # warning(1), close_notify(0): RFC 5246 §7.2
        for direction in ("up", "down"):
            alert = _scapy_dtls_record(
                profile, _CT_ALERT, True, 1, record_seq[direction], bytes([1, 0])
            )
            record_seq[direction] += 1
            out.append((direction, alert, "close_notify"))
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
