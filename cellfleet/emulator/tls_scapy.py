"""Reference implementation of the TLS size model, built with scapy (lazy import).

The size model (:mod:`cellfleet.emulator.tls`) is integer arithmetic over the RFC structures;
this module builds the same messages with ``scapy.layers.tls`` and frames and encrypts them with
scapy's record layer and real AEAD keys (:func:`scapy_handshake_records`,
:func:`scapy_handshake_writes`, :func:`scapy_protect_writes`).  ``tests/test_tls.py`` asserts
both agree byte for byte over a grid of profiles and application sizes.  Both share only the
*plan* (which messages form which flight, RFC 5246 §7.3 Figures 1-2, RFC 8446 §2, RFC 6347
§4.2.4; :mod:`cellfleet.emulator.tls_plan`) and the record *layout policy*, never a byte count.
:class:`ScapyEncoder` also encodes the DTLS 1.2 handshake messages for the DTLS reference,
:mod:`cellfleet.emulator.dtls_scapy`.

Records are framed and protected by :mod:`cellfleet.emulator.tls_record_scapy`.
Slow: meant for tests and pcaps only; scapy is imported on first use so the fleet path never
loads it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from cellfleet.emulator.certificates import placeholder_certificate
from cellfleet.emulator.tls import TlsProfile, TlsWrite, teardown_writes
from cellfleet.emulator.tls_constants import (
    CLIENT_CERT_TYPE,
    CT_ALERT,
    CT_APPLICATION_DATA,
    GROUP_CODES,
    HS_CLIENT_HELLO,
    HS_HELLO_VERIFY_REQUEST,
    KEY_SHARE_BYTES,
    RANDOM_BYTES,
    SESSION_ID_BYTES,
    SHA256_BYTES,
    TLS12_SIG_SCHEME,
    TLS12_VERIFY_DATA_BYTES,
    TLS13_SIG_SCHEME,
    TLS_HANDSHAKE_HEADER_BYTES,
    TLS_MAX_FRAGMENT_BYTES,
)
from cellfleet.emulator.tls_plan import flight_label, flights, layout_records
from cellfleet.emulator.tls_record_scapy import scapy_record


class ScapyEncoder:
    """The messages of :class:`SizeEncoder`, encoded by ``scapy.layers.tls`` (4-byte header
    included).  Keys, randoms and signatures are placeholder bytes of the right length; only
    the lengths and structure matter here.  Certificates are real DER X.509 certificates of the
    right length (:mod:`cellfleet.emulator.certificates`), since TLS 1.2 sends them in the
    clear and tshark dissects them."""

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

        group = GROUP_CODES.get(p.key_exchange)
        if p.version == "1.3":
            share = KeyShareEntry(
                group=group, key_exchange=b"\x04" * KEY_SHARE_BYTES[p.key_exchange]
            )
            exts = self._common_exts(p) + [
                ext.TLS_Ext_SupportedGroups(groups=[group]),
                ext.TLS_Ext_SignatureAlgorithms(
                    sig_algs=[TLS13_SIG_SCHEME[p.signature]]
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
                    sig_algs=[TLS12_SIG_SCHEME[p.signature]]
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
        return struct.pack("!I", (HS_CLIENT_HELLO << 24) | len(body)) + body

    def hello_verify_request(self, p: TlsProfile) -> bytes:
        """TLSHelloVerifyRequest carries only the cookie; server_version (RFC 6347 §4.2.1) is
        missing from scapy's class, so it is prepended with ``struct``."""
        from scapy.layers.tls.handshake import TLSHelloVerifyRequest

        body = (
            struct.pack("!H", 0xFEFD)
            + bytes(TLSHelloVerifyRequest(cookie=b"\x00" * p.dtls_cookie_bytes))[4:]
        )
        return struct.pack("!I", (HS_HELLO_VERIFY_REQUEST << 24) | len(body)) + body

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
                group=GROUP_CODES[p.key_exchange],
                key_exchange=b"\x04" * KEY_SHARE_BYTES[p.key_exchange],
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
        """TLSCertificate / TLS13Certificate carrying, for each size, a valid DER X.509
        certificate of exactly that many bytes (:func:`placeholder_certificate`): TLS 1.2 sends
        it in the clear and tshark parses it (RFC 5246 §7.4.2)."""
        from scapy.layers.tls.handshake import (
            TLS13Certificate,
            TLSCertificate,
            _ASN1CertAndExt,
        )

        if p.version == "1.3":
            entries = [
                _ASN1CertAndExt(cert=(n, placeholder_certificate(n)), ext=[])
                for n in chain_bytes
            ]
            return bytes(
                TLS13Certificate(
                    cert_req_ctxt=b"", certs=entries, tls_session=self.session13
                )
            )
        return bytes(
            TLSCertificate(certs=[(n, placeholder_certificate(n)) for n in chain_bytes])
        )

    def _signature(self, p: TlsProfile):
        from scapy.layers.tls.keyexchange import _TLSSignature

        scheme = (TLS13_SIG_SCHEME if p.version == "1.3" else TLS12_SIG_SCHEME)[
            p.signature
        ]
        return _TLSSignature(sig_alg=scheme, sig_val=b"\x00" * p.signature_bytes)

    def server_key_exchange(self, p: TlsProfile) -> bytes:
        """TLSServerKeyExchange with ServerECDHNamedCurveParams."""
        from scapy.layers.tls.handshake import TLSServerKeyExchange
        from scapy.layers.tls.keyexchange import ServerECDHNamedCurveParams

        params = ServerECDHNamedCurveParams(
            named_curve=GROUP_CODES[p.key_exchange],
            point=b"\x04" * KEY_SHARE_BYTES[p.key_exchange],
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
                sig_algs=[TLS13_SIG_SCHEME[p.signature]]
            )
            return bytes(
                TLS13CertificateRequest(
                    cert_req_ctxt=b"", ext=[sig_algs], tls_session=self.session13
                )
            )
        request = TLSCertificateRequest(
            ctypes=[CLIENT_CERT_TYPE[p.signature]],
            sig_algs=[TLS12_SIG_SCHEME[p.signature]],
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
                ecdh_Yc=b"\x04" * KEY_SHARE_BYTES[p.key_exchange]
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
                ticket_age_add=1,  # scapy draws a random value for 0 (os.urandom): captures must repeat
                ticket_nonce=b"\x00" * p.ticket_nonce_bytes,
                ticket=ticket,
                ext=[],
                tls_session=self.session13,
            )
            return bytes(nst)
        return bytes(TLSNewSessionTicket(lifetime=7200, ticket=ticket))


def scapy_flight_records(p: TlsProfile) -> list[tuple[str, str, list[bytes]]]:
    """Per flight: (direction, label, records as bytes), from scapy."""
    out = []
    for direction, msgs in flights(p, ScapyEncoder()):
        records = []
        for content_type, protected, pieces in layout_records(
            msgs, p.coalesce_records
        ):
            fragment = b"".join(msgs[i].payload[a:b] for i, a, b in pieces)  # type: ignore[index]
            records.append(scapy_record(p, content_type, protected, fragment))
        out.append((direction, flight_label(msgs), records))
    return out


def scapy_handshake_records(profile: TlsProfile) -> list[tuple[str, bytes]]:
    """Every handshake record as (direction, bytes) built by scapy, in wire order."""
    return [
        (d, record)
        for d, _, records in scapy_flight_records(profile)
        for record in records
    ]


def scapy_handshake_writes(profile: TlsProfile) -> list[TlsWrite]:
    """:func:`handshake_writes` computed from scapy-built records."""
    return [
        (d, sum(map(len, records)), label)
        for d, label, records in scapy_flight_records(profile)
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
            len(scapy_record(profile, CT_APPLICATION_DATA, True, chunk))
            for chunk in chunks
        )
        out.append((direction, total, label))
    alert = scapy_record(
        profile, CT_ALERT, True, bytes([1, 0])
    )  # warning, close_notify: RFC 5246 §7.2
    return out + teardown_writes(profile, len(alert))
