"""The TLS/DTLS flight plan, the message sizes of the size model, and the record layout policy.

This is what the size model (:mod:`cellfleet.emulator.tls`, :mod:`cellfleet.emulator.dtls`) and
the scapy reference (:mod:`cellfleet.emulator.tls_scapy`, :mod:`cellfleet.emulator.dtls_scapy`)
share, and all they share, so that ``tests/test_tls.py`` comparing the two is meaningful:

*   The **plan**: which messages form which flight, in which direction, under which keys
    (:func:`flights`, :func:`tls12_flights`, :func:`tls13_flights`): RFC 5246 §7.3 Figures 1-2
    (TLS 1.2 full and abbreviated), RFC 5077 §3.1-3.3 (tickets), RFC 8446 §2 (TLS 1.3),
    RFC 6347 §4.2.4 Figures 1-2 (the DTLS cookie exchange).  A flight is built by an *encoder*
    that gives each message its payload: :class:`SizeEncoder` here returns lengths computed from
    the RFC structures, :class:`~cellfleet.emulator.tls_scapy.ScapyEncoder` returns the bytes
    scapy builds.
*   The TLS **record layout policy** (:func:`layout_records`): records of at most 2^14 plaintext
    bytes (RFC 5246 §6.2.1, RFC 8446 §5.1), consecutive handshake messages under the same keys
    coalesced unless the profile says otherwise.  The DTLS datagram layout is in
    :mod:`cellfleet.emulator.dtls`.

:class:`SizeEncoder` counts each message (4-byte handshake header included) from the structure
definitions cited on every method; it never shares a byte count with the scapy reference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cellfleet.emulator.tls_constants import (
    CHANGE_CIPHER_SPEC_BYTES,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    KEY_SHARE_BYTES,
    RANDOM_BYTES,
    SESSION_ID_BYTES,
    SHA256_BYTES,
    TLS12_VERIFY_DATA_BYTES,
    TLS_HANDSHAKE_HEADER_BYTES,
    TLS_MAX_FRAGMENT_BYTES,
)

if TYPE_CHECKING:
    from cellfleet.emulator.tls import TlsProfile

# =================================================================================================
# The plan: which messages form which flight (shared by the size model and the scapy reference)
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class Msg:
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


Flight = tuple[str, list[Msg]]


def tls12_flights(
    p: TlsProfile, enc: SizeEncoder, dtls: bool = False
) -> list[Flight]:
    """TLS/DTLS 1.2 flights: RFC 5246 §7.3 Figure 1 (full), Figure 2 (abbreviated), RFC 5077
    §3.1-3.3 (tickets), RFC 6347 §4.2.4 Figures 1-2 (DTLS cookie exchange)."""

    def hs(name: str, payload: int | bytes, protected: bool = False) -> Msg:
        return Msg(name, CT_HANDSHAKE, protected, payload)

    ccs = Msg(
        "ChangeCipherSpec", CT_CHANGE_CIPHER_SPEC, False, enc.change_cipher_spec()
    )
    flights: list[Flight] = []
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
    client: list[Msg] = []
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


def tls13_flights(p: TlsProfile, enc: SizeEncoder) -> list[Flight]:
    """TLS 1.3 flights: RFC 8446 §2 Figure 1 (full), §2.2 Figure 3 (PSK resumption), §4.6.1
    (post-handshake NewSessionTicket), §D.4 (compatibility-mode ChangeCipherSpec)."""

    def hs(name: str, payload: int | bytes, protected: bool = True) -> Msg:
        return Msg(name, CT_HANDSHAKE, protected, payload)

    ccs = [
        Msg(
            "ChangeCipherSpec", CT_CHANGE_CIPHER_SPEC, False, enc.change_cipher_spec()
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
    flights: list[Flight] = [
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


def flights(p: TlsProfile, enc: SizeEncoder) -> list[Flight]:
    """Dispatch to the version's plan."""
    return tls13_flights(p, enc) if p.version == "1.3" else tls12_flights(p, enc)


# =================================================================================================
# Size model: message lengths from the RFC structures
# =================================================================================================

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


def _vec(length_prefix_bytes: int, body_bytes: int) -> int:
    """A variable-length vector ``<..>`` = length prefix + body: RFC 5246 §4.3, RFC 8446 §3.4."""
    return length_prefix_bytes + body_bytes


class SizeEncoder:
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
                2 + 2 + KEY_SHARE_BYTES[p.key_exchange]
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
                _EXT_HEADER_BYTES + 2 + _vec(2, KEY_SHARE_BYTES[p.key_exchange])
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
            + _vec(1, KEY_SHARE_BYTES[p.key_exchange])
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
        return self._hs(_vec(1, KEY_SHARE_BYTES[p.key_exchange]))

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
# Record layout policy
# =================================================================================================

Piece = tuple[int, int, int]  # (message index in flight, start offset, end offset)
RecordPlan = tuple[int, bool, list[Piece]]  # (content type, protected, pieces)


def layout_records(msgs: Sequence[Msg], coalesce: bool) -> list[RecordPlan]:
    """Cut a flight into TLS records of at most 2^14 plaintext bytes (RFC 5246 §6.2.1, RFC 8446
    §5.1); handshake messages may span records (RFC 5246 §6.2.1).  With ``coalesce``, messages of
    the same content type and keys share a record; ChangeCipherSpec always stands alone."""
    records: list[RecordPlan] = []
    for index, msg in enumerate(msgs):
        start, end = 0, msg.length
        joinable = coalesce and msg.content_type == CT_HANDSHAKE
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
            joinable = coalesce and msg.content_type == CT_HANDSHAKE
            if start >= end:
                break
    return records


def flight_label(msgs: Sequence[Msg]) -> str:
    """Human label of a write: its message names joined by '+'."""
    return "+".join(m.name for m in msgs)
