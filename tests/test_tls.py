"""TLS / DTLS overhead: hand-computed sizes, the size model against scapy, vectorised totals.

Hand computations cite the RFC structure they sum; ``<n>`` marks an n-byte length prefix.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.emulator import certificates, tls
from cellfleet.emulator.certificates import placeholder_certificate
from cellfleet.emulator.dtls import dtls_handshake_datagrams, dtls_protect
from cellfleet.emulator.dtls_scapy import (
    scapy_dtls_handshake_datagrams,
    scapy_dtls_protect,
)
from cellfleet.emulator.session import NAMED_SESSIONS, named_session
from cellfleet.emulator.tls import (
    TlsProfile,
    close_notify_bytes,
    handshake_writes,
    protect_writes,
    record_overhead_bytes,
    tls_totals,
)
from cellfleet.emulator.tls_scapy import (
    scapy_handshake_records,
    scapy_handshake_writes,
    scapy_protect_writes,
)

CIPHERS = ("AES_128_GCM_SHA256", "CHACHA20_POLY1305_SHA256", "AES_128_CCM_8")
BOUNDARY_APP_SIZES = (
    0,
    1,
    29,
    1400,
    2**14 - 1,
    2**14,
    2**14 + 1,
    2 * 2**14,
    3 * 2**14 + 7,
)


def _totals(writes: list[tls.TlsWrite]) -> tuple[int, int]:
    """(uplink bytes, downlink bytes) of a list of writes."""
    return (
        sum(n for d, n, _ in writes if d == "up"),
        sum(n for d, n, _ in writes if d == "down"),
    )


# --- Record overhead by hand ---------------------------------------------------------------------


def test_mqtt_publish_record_overhead_tls13_and_tls12():
    # MQTT PUBLISH, 20-byte payload, 29 bytes in total.
    # TLS 1.3: 5 header + 29 + 1 inner content type + 16 GCM tag = 51 (RFC 8446 §5.1, §5.2).
    # TLS 1.2: 5 header + 8 explicit nonce + 29 + 16 tag = 58 (RFC 5246 §6.2.3.3, RFC 5288 §3).
    quiet13 = TlsProfile(version="1.3", close_notify=False)
    quiet12 = TlsProfile(version="1.2", close_notify=False)
    assert record_overhead_bytes(quiet13, 29) == 22
    assert record_overhead_bytes(quiet12, 29) == 29
    assert protect_writes([("up", 29, "PUBLISH")], quiet13) == [("up", 51, "PUBLISH")]
    assert protect_writes([("up", 29, "PUBLISH")], quiet12) == [("up", 58, "PUBLISH")]


@pytest.mark.parametrize(
    ("version", "cipher", "per_record_bytes", "close_notify_record_bytes"),
    [
        ("1.2", "AES_128_GCM_SHA256", 5 + 8 + 16, 5 + 8 + 2 + 16),  # RFC 5288 §3
        (
            "1.2",
            "CHACHA20_POLY1305_SHA256",
            5 + 0 + 16,
            5 + 2 + 16,
        ),  # RFC 7905 §2: no explicit nonce
        ("1.2", "AES_128_CCM_8", 5 + 8 + 8, 5 + 8 + 2 + 8),  # RFC 6655 §3: 8-byte tag
        ("1.3", "AES_128_GCM_SHA256", 5 + 1 + 16, 5 + 2 + 1 + 16),  # RFC 8446 §5.2
        ("1.3", "CHACHA20_POLY1305_SHA256", 5 + 1 + 16, 5 + 2 + 1 + 16),
        ("1.3", "AES_128_CCM_8", 5 + 1 + 8, 5 + 2 + 1 + 8),
    ],
)
def test_per_record_overhead_and_close_notify(
    version, cipher, per_record_bytes, close_notify_record_bytes
):
    profile = TlsProfile(version=version, cipher=cipher)
    assert record_overhead_bytes(profile, 1) == per_record_bytes
    assert close_notify_bytes(profile) == close_notify_record_bytes


def test_records_split_at_2_pow_14():
    # RFC 8446 §5.1: at most 2^14 plaintext bytes per record.
    profile = TlsProfile(version="1.3")
    assert record_overhead_bytes(profile, 0) == 0
    assert record_overhead_bytes(profile, 2**14 - 1) == 22
    assert record_overhead_bytes(profile, 2**14) == 22
    assert record_overhead_bytes(profile, 2**14 + 1) == 44
    with pytest.raises(ValueError):
        record_overhead_bytes(profile, -1)


def test_protect_writes_appends_close_notify_pair():
    # Device closes, server answers (RFC 8446 §6.1): 5 + 2 + 1 + 16 = 24 bytes each way.
    writes = protect_writes(
        [("up", 29, "PUBLISH"), ("down", 4, "PUBACK")], TlsProfile(version="1.3")
    )
    assert writes == [
        ("up", 51, "PUBLISH"),
        ("down", 26, "PUBACK"),
        ("up", 24, "close_notify"),
        ("down", 24, "close_notify"),
    ]


# --- Handshake messages by hand --------------------------------------------------------------------


def test_tls12_client_hello_a_example_by_hand():
    # RFC 5246 §7.4.1.2 ClientHello body:
    #   client_version 2 + random 32 + session_id<1> 1+0 + cipher_suites<2> 2+2
    #   + compression_methods<1> 1+1 + extensions<2> 2                                  = 43
    # extensions (each 4 bytes type+length plus data):
    #   server_name (RFC 6066 §3): 4 + list<2> 2 + name_type 1 + host_name<2> 2+9       = 18
    #   renegotiation_info (RFC 5746 §3.2): 4 + <1> 1                                  =  5
    #   supported_groups [x25519] (RFC 8422 §5.1.1): 4 + 2 + 2                         =  8
    #   ec_point_formats [uncompressed] (RFC 8422 §5.1.2): 4 + 1 + 1                   =  6
    #   signature_algorithms [ecdsa_secp256r1_sha256] (RFC 5246 §7.4.1.4.1): 4 + 2 + 2  =  8
    #   session_ticket, empty (RFC 5077 §3.2)                                           =  4
    #   extended_master_secret (RFC 7627 §5.1)                                          =  4
    # body 43 + 53 = 96; + handshake header 4 = 100; + record header 5 = 105.
    profile = TlsProfile(version="1.2", sni_hostname="a.example")
    assert handshake_writes(profile)[0] == ("up", 105, "ClientHello")
    direction, record = scapy_handshake_records(profile)[0]
    assert (direction, len(record)) == ("up", 105)
    assert record[:6] == bytes(
        [22, 3, 3, 0, 100, 1]
    )  # handshake record of 100 bytes, ClientHello
    assert (
        b"\x00\x00\x00\x0e\x00\x0c\x00\x00\x09a.example" in record
    )  # server_name extension


def test_tls13_client_hello_a_example_by_hand():
    # RFC 8446 §4.1.2 ClientHello body:
    #   legacy_version 2 + random 32 + legacy_session_id<1> 1+32 (compat mode, §D.4)
    #   + cipher_suites<2> 2+2 + legacy_compression_methods<1> 1+1 + extensions<2> 2    = 75
    # extensions:
    #   server_name 18, supported_groups 8, signature_algorithms 8 (as for TLS 1.2)    = 34
    #   key_share (§4.2.8): 4 + client_shares<2> 2 + group 2 + key_exchange<2> 2+32     = 42
    #   supported_versions [0x0304] (§4.2.1): 4 + <1> 1 + 2                             =  7
    #   psk_key_exchange_modes [psk_dhe_ke] (§4.2.9): 4 + 1 + 1                         =  6
    # body 75 + 89 = 164; + 4 = 168; + 5 = 173.
    profile = TlsProfile(version="1.3", sni_hostname="a.example")
    assert handshake_writes(profile)[0] == ("up", 173, "ClientHello")
    assert len(scapy_handshake_records(profile)[0][1]) == 173


def test_tls13_psk_resumption_client_hello_by_hand():
    # As above (173) plus pre_shared_key (RFC 8446 §4.2.11), the last extension:
    #   4 + identities<2> 2 + [identity<2> 2+192 + obfuscated_ticket_age 4]
    #   + binders<2> 2 + [binder<1> 1+32]                                              = 239
    profile = TlsProfile(version="1.3", sni_hostname="a.example", resumption=True)
    assert handshake_writes(profile)[0] == ("up", 173 + 239, "ClientHello")


def test_default_tls13_full_handshake_by_hand():
    # Client: ClientHello with SNI "mqtt.example.com" (16 bytes, 7 more than a.example): 180.
    # Server (RFC 8446 §2): ServerHello body 2 + 32 + 1+32 + 2 + 1 + <2> 2
    #   + supported_versions 6 + key_share 4+2+2+32 = 118 -> +4 -> record 127;
    #   compat ChangeCipherSpec record 5 + 1 = 6;
    #   one encrypted record: EncryptedExtensions 4+2 = 6, Certificate 4 + ctx 1 + <3> 3
    #   + (3+1200+2) + (3+1100+2) = 2318, CertificateVerify 4 + 2 + 2+72 = 80, Finished 4+32 = 36;
    #   2440 + 22 = 2462.  Flight: 127 + 6 + 2462 = 2595.
    # Client: CCS 6 + Finished record 36 + 22 = 58 -> 64.
    # NewSessionTicket: 4 + lifetime 4 + age_add 4 + nonce<1> 1+8 + ticket<2> 2+192 + ext<2> 2
    #   = 217 -> +22 -> 239.
    writes = handshake_writes(TlsProfile(version="1.3"))
    assert writes == [
        ("up", 180, "ClientHello"),
        (
            "down",
            2595,
            "ServerHello+ChangeCipherSpec+EncryptedExtensions+Certificate+CertificateVerify+Finished",
        ),
        ("up", 64, "ChangeCipherSpec+Finished"),
        ("down", 239, "NewSessionTicket"),
    ]
    assert _totals(writes) == (244, 2834)


def test_default_tls12_full_handshake_by_hand():
    # ClientHello: 105 (a.example) + 7 = 112.
    # ServerHello body 2 + 32 + 1+32 + 2 + 1 + <2> 2 + reneg 5 + ec_point_formats 6 + EMS 4
    #   + session_ticket 4 = 91 -> 95; Certificate 4 + 3 + 1203 + 1103 = 2313;
    #   ServerKeyExchange 4 + curve_type 1 + named_curve 2 + point<1> 1+32 + sig_alg 2
    #   + signature<2> 2+72 = 116; ServerHelloDone 4.  One record: 2528 + 5 = 2533.
    # Client: ClientKeyExchange 4 + 1+32 = 37 -> 42; CCS 6; Finished 4+12 = 16 -> 16 + 29 = 45: 93.
    # Server: NewSessionTicket 4 + 4 + 2+192 = 202 -> 207; CCS 6; Finished 45: 258.
    writes = handshake_writes(TlsProfile(version="1.2"))
    assert writes == [
        ("up", 112, "ClientHello"),
        ("down", 2533, "ServerHello+Certificate+ServerKeyExchange+ServerHelloDone"),
        ("up", 93, "ClientKeyExchange+ChangeCipherSpec+Finished"),
        ("down", 258, "NewSessionTicket+ChangeCipherSpec+Finished"),
    ]
    assert _totals(writes) == (205, 2791)


def test_tls12_mutual_tls_adds_client_certificate_flight():
    # CertificateRequest (RFC 5246 §7.4.4): 4 + types<1> 1+1 + sig_algs<2> 2+2 + CAs<2> 2 = 12.
    # Client: Certificate 4 + 3 + 3+900 = 910, ClientKeyExchange 37, CertificateVerify 4 + 2 + 2+72
    #   = 80 in one record 1027 + 5 = 1032; CCS 6; Finished 45: 1083.
    writes = handshake_writes(TlsProfile(version="1.2", client_certificate_bytes=900))
    assert writes[1] == (
        "down",
        2533 + 12,
        "ServerHello+Certificate+ServerKeyExchange+CertificateRequest+ServerHelloDone",
    )
    assert writes[2] == (
        "up",
        1083,
        "Certificate+ClientKeyExchange+CertificateVerify+ChangeCipherSpec+Finished",
    )


def test_tls12_ticket_resumption_by_hand():
    # ClientHello: 112 + session_id 32 (RFC 5077 §3.4) + ticket 192 in session_ticket = 336.
    # Server: ServerHello 95 and NewSessionTicket 202 share a record: 297 + 5 = 302; CCS 6;
    #   Finished 45: 353.  Client: CCS 6 + Finished 45 = 51.
    writes = handshake_writes(TlsProfile(version="1.2", resumption=True))
    assert writes == [
        ("up", 336, "ClientHello"),
        ("down", 353, "ServerHello+NewSessionTicket+ChangeCipherSpec+Finished"),
        ("up", 51, "ChangeCipherSpec+Finished"),
    ]


def test_one_record_per_message_when_not_coalescing():
    # mbed TLS style: each of the four server messages pays its own 5-byte header: 2533 + 15.
    writes = handshake_writes(TlsProfile(version="1.2", coalesce_records=False))
    assert writes[1][1] == 2533 + 3 * 5


def test_ecdsa_signature_length_is_a_parameter():
    # TLS 1.3 CertificateVerify carries the signature once: 72 -> 70 saves 2 bytes on the server.
    assert handshake_writes(TlsProfile(ecdsa_signature_bytes=70))[1][1] == 2595 - 2
    # RSA-2048 (RFC 8017 §8.2.1): 256-byte signature, 184 more than ECDSA's 72.
    assert handshake_writes(TlsProfile(signature="rsa_2048"))[1][1] == 2595 + 184


# --- The size model equals scapy, byte for byte ------------------------------------------------------

HANDSHAKE_GRID = [
    TlsProfile(
        version=version,
        resumption=resumption,
        client_certificate_bytes=client,
        certificate_chain_bytes=chain,
        cipher=cipher,
        coalesce_records=coalesce,
        alpn=("mqtt",) if coalesce else (),
    )
    for version, resumption, client, chain, cipher, coalesce in itertools.product(
        ("1.2", "1.3"),
        (False, True),
        (None, 900),
        ((1200, 1100), (700,), (9000, 9000, 400)),
        CIPHERS,
        (True, False),
    )
] + [
    TlsProfile(
        version=version,
        key_exchange=kx,
        signature=sig,
        session_tickets=tickets,
        middlebox_compat=compat,
        resumption=resumption,
        client_certificate_bytes=900,
        tls13_ticket_count=2,
        sni_hostname=sni,
    )
    for version, kx, sig, tickets, compat, resumption, sni in itertools.product(
        ("1.2", "1.3"),
        ("x25519", "secp256r1", "psk"),
        ("ecdsa_p256", "rsa_2048"),
        (True, False),
        (True, False),
        (False, True),
        ("", "a.example"),
    )
    if not (version == "1.3" and (kx == "psk" or (resumption and not tickets)))
    and not (kx == "psk" and sig == "rsa_2048")
]


@pytest.mark.parametrize("profile", HANDSHAKE_GRID, ids=repr)
def test_handshake_model_equals_scapy(profile):
    assert handshake_writes(profile) == scapy_handshake_writes(profile)
    model_records = [
        size for _, _, sizes in tls._model_record_sizes(profile) for size in sizes
    ]
    assert model_records == [
        len(record) for _, record in scapy_handshake_records(profile)
    ]


@pytest.mark.parametrize(
    ("version", "cipher"), list(itertools.product(("1.2", "1.3"), CIPHERS))
)
def test_record_protection_model_equals_scapy(version, cipher):
    profile = TlsProfile(version=version, cipher=cipher)
    writes = [("up", size, f"w{size}") for size in BOUNDARY_APP_SIZES]
    assert protect_writes(writes, profile) == scapy_protect_writes(writes, profile)


def test_scapy_dissects_its_plaintext_handshake_records():
    from scapy.layers.tls.handshake import TLSClientHello, TLSServerHello
    from scapy.layers.tls.record import TLS

    records = scapy_handshake_records(
        TlsProfile(version="1.2", sni_hostname="a.example", alpn=("mqtt",))
    )
    hello = TLS(records[0][1])
    assert hello[TLSClientHello].ciphers == [0xC02B]
    assert hello[TLSClientHello].ext[0].servernames[0].servername == b"a.example"
    # Server flight record: 2528 bytes of messages (default TLS 1.2) + the selected ALPN in the
    # ServerHello (RFC 7301 §3.1): 4 + list<2> 2 + name<1> 1+4 = 11, so the length field is 2539.
    server = TLS(records[1][1])
    assert server[TLSServerHello].cipher == 0xC02B
    assert server.len == 2539


def test_scapy_tls12_ccm8_bug_is_still_there():
    # Pins the scapy 2.8 bug worked around in tls_record_scapy._fix_scapy_tls12_ccm8_tag: without the
    # patch a TLS 1.2 CCM_8 record carries a 16-byte tag instead of 8 (RFC 6655 §3).
    from scapy.layers.tls.crypto import suites
    from scapy.layers.tls.record import TLS, TLSApplicationData
    from scapy.layers.tls.session import tlsSession, writeConnState

    session = tlsSession(connection_end="client")
    state = writeConnState(
        ciphersuite=suites.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, connection_end="client"
    )
    state.derive_keys(
        client_random=b"\x01" * 32,
        server_random=b"\x02" * 32,
        master_secret=b"\x03" * 48,
    )
    session.wcs = state
    record = TLS(
        type=23,
        version=0x0303,
        msg=[TLSApplicationData(data=b"x" * 29)],
        tls_session=session,
    )
    assert (
        len(record.raw_stateful()) == 5 + 8 + 29 + 16
    )  # fixed scapy would give 5 + 8 + 29 + 8


# --- DTLS 1.2 ----------------------------------------------------------------------------------------


def test_coap_over_dtls_record_overhead_by_hand():
    # 20-byte CoAP message: 13 header (RFC 6347 §4.1) + 8 explicit nonce + 20 + tag.
    gcm = TlsProfile(version="1.2", close_notify=False)
    ccm8 = TlsProfile(version="1.2", cipher="AES_128_CCM_8", close_notify=False)
    assert dtls_protect([("up", 20, "CON")], gcm) == [("up", 20 + 37, "CON")]
    assert dtls_protect([("up", 20, "CON")], ccm8) == [("up", 20 + 29, "CON")]
    assert dtls_protect([], TlsProfile(version="1.2", cipher="AES_128_CCM_8")) == [
        ("up", 13 + 8 + 2 + 8, "close_notify"),
        ("down", 13 + 8 + 2 + 8, "close_notify"),
    ]
    with pytest.raises(ValueError):
        dtls_protect([("up", 2**14 + 1, "too big")], gcm)


def test_dtls_psk_ccm8_handshake_by_hand():
    # RFC 7925 §4 PSK profile, TLS_PSK_WITH_AES_128_CCM_8, SNI mqtt.example.com, no ALPN.
    # ClientHello body: 2 + 32 + sid<1> 1 + cookie<1> 1+c + suites<2> 4 + comp<1> 2 + ext<2> 2
    #   + server_name 25 + renegotiation_info 5 + session_ticket 4 + EMS 4 = 82 + c;
    #   datagram = 13 record + 12 handshake header + body: 107 (c = 0), 139 (c = 32).
    # HelloVerifyRequest: 13 + 12 + server_version 2 + cookie<1> 1+32 = 60.
    # ServerHello body 2 + 32 + 1+32 + 2 + 1 + <2> 2 + reneg 5 + EMS 4 + ticket 4 = 85 -> 110;
    #   ServerHelloDone 25: 135.
    # Client: ClientKeyExchange 13 + 12 + identity<2> 2+11 = 38; CCS 13 + 1 = 14;
    #   Finished 13 + 8 + 12 + 12 + 8 = 53: 105.
    # Server: NewSessionTicket 13 + 12 + 4 + 2+192 = 223; CCS 14; Finished 53: 290.
    writes = dtls_handshake_datagrams(
        TlsProfile(version="1.2", cipher="AES_128_CCM_8", key_exchange="psk")
    )
    assert writes == [
        ("up", 107, "ClientHello"),
        ("down", 60, "HelloVerifyRequest"),
        ("up", 139, "ClientHello"),
        ("down", 135, "ServerHello+ServerHelloDone"),
        ("up", 105, "ClientKeyExchange+ChangeCipherSpec+Finished"),
        ("down", 290, "NewSessionTicket+ChangeCipherSpec+Finished"),
    ]


def test_dtls_certificate_flight_fragments_into_datagrams():
    # Server flight of 2533 TLS bytes does not fit 1232-byte datagrams: three datagrams, each
    # within the limit, each handshake fragment paying 13 + 12 bytes (RFC 6347 §4.2.3).
    profile = TlsProfile(version="1.2", cipher="AES_128_CCM_8")
    server = [
        w
        for w in dtls_handshake_datagrams(profile)
        if w[2].startswith("ServerHello+Certificate")
    ]
    assert [size for _, size, _ in server] == [1232, 1232, 198]
    assert [label[-5:] for _, _, label in server] == ["[1/3]", "[2/3]", "[3/3]"]


DTLS_GRID = [
    TlsProfile(
        version="1.2",
        cipher=cipher,
        key_exchange=kx,
        resumption=resumption,
        client_certificate_bytes=client,
        dtls_max_datagram_bytes=limit,
        session_tickets=tickets,
    )
    for cipher, kx, resumption, client, limit, tickets in itertools.product(
        CIPHERS,
        ("x25519", "psk"),
        (False, True),
        (None, 900),
        (1232, 200, 64),
        (True, False),
    )
]


@pytest.mark.parametrize("profile", DTLS_GRID, ids=repr)
def test_dtls_model_equals_scapy(profile):
    model = dtls_handshake_datagrams(profile)
    assert model == scapy_dtls_handshake_datagrams(profile)
    assert all(size <= profile.dtls_max_datagram_bytes for _, size, _ in model)
    datagrams = [("up", size, "coap") for size in (0, 1, 20, 1024)]
    assert dtls_protect(datagrams, profile) == scapy_dtls_protect(datagrams, profile)


# --- Placeholder certificates (TLS 1.2 sends them in the clear) -------------------------------------

#: Every certificate size a profile here or a named session uses, plus a grid of others and the
#: sizes just past DER length-of-length steps (248..260: without/with the comment extension and
#: the outer SEQUENCE's 255/256 step; 336..338: the TBSCertificate's 255/256 step).
MODEL_CERTIFICATE_SIZES = sorted(
    {
        n
        for p in [
            TlsProfile(),
            *HANDSHAKE_GRID,
            *DTLS_GRID,
            *(named_session(name).security for name in NAMED_SESSIONS),
        ]
        if p is not None
        for n in (*p.certificate_chain_bytes, p.client_certificate_bytes)
        if n is not None
    }
)
CERTIFICATE_SIZES = sorted(
    set(MODEL_CERTIFICATE_SIZES)
    | set(range(300, 4001, 97))
    | {229, 230, 248, 249, 250, 258, 260, 336, 337, 338, 2**14, 65539, 65541, 65618}
)


def test_model_certificate_sizes_are_the_expected_ones():
    assert MODEL_CERTIFICATE_SIZES == [400, 700, 900, 1100, 1200, 9000]


@pytest.mark.parametrize("n", CERTIFICATE_SIZES)
def test_placeholder_certificate_is_valid_der_of_exactly_n_bytes(n):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    der = placeholder_certificate(n)
    assert len(der) == n
    cert = x509.load_der_x509_certificate(der)
    assert cert.public_bytes(serialization.Encoding.DER) == der
    assert cert.version == x509.Version.v3
    common_name = NameOID.COMMON_NAME
    assert (
        cert.subject.get_attributes_for_oid(common_name)[0].value == "api.example.com"
    )
    assert (
        cert.issuer.get_attributes_for_oid(common_name)[0].value == "cellfleet test CA"
    )
    assert all(not ext.critical for ext in cert.extensions)
    # signed by the fixed CA key (Ed25519, or Ed448 past a TBSCertificate length step)
    signer = {
        x509.SignatureAlgorithmOID.ED25519: "ed25519",
        x509.SignatureAlgorithmOID.ED448: "ed448",
    }[cert.signature_algorithm_oid]
    certificates._keys()[signer].public_key().verify(
        cert.signature, cert.tbs_certificate_bytes
    )
    # deterministic: built again from scratch (not the cache), the same bytes
    assert placeholder_certificate.__wrapped__(n) == der


#: SHA-256 of the 1200-byte placeholder; changes only if the certificate's recipe changes.
PINNED_1200_SHA256 = "2eb6e7af9331d70a3eb9c4f0aff30a9e6a70f33b02d7ac287ce14c5be9173d32"


def test_placeholder_certificate_bytes_are_pinned():
    # Byte-identical pcaps for the same seed need byte-identical certificates across runs and
    # machines: fixed keys, fixed fields, deterministic EdDSA signatures (RFC 8032 §5.1.6).
    digest = hashlib.sha256(placeholder_certificate(1200)).hexdigest()
    assert digest == PINNED_1200_SHA256


@pytest.mark.parametrize("n", [1, 100, 228, 259, 65540])
def test_impossible_certificate_sizes_are_rejected(n):
    # Below the smallest certificate built here, or an outer SEQUENCE whose content would need
    # 255.5 or 65535.5 bytes (X.690 §8.1.3.5: 258 -> 260 and 65539 -> 65541 bytes).
    with pytest.raises(ValueError, match=f"{n} bytes"):
        placeholder_certificate.__wrapped__(n)


def test_tls12_certificate_message_carries_the_placeholders():
    from scapy.layers.tls.handshake import TLSCertificate
    from scapy.layers.tls.record import TLS

    sizes = (1200, 337, 249)
    record = scapy_handshake_records(
        TlsProfile(version="1.2", certificate_chain_bytes=sizes)
    )[1][1]
    assert [n for n, _ in TLS(record)[TLSCertificate].certs] == list(sizes)
    # certificate_list: <3> length, then each ASN.1Cert as <3> length + DER (RFC 5246 §7.4.2)
    entries = b"".join(n.to_bytes(3, "big") + placeholder_certificate(n) for n in sizes)
    assert len(entries).to_bytes(3, "big") + entries in record


# --- Validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "version": "1.2",
            "cipher": "AES_128_CCM_8",
            "signature": "rsa_2048",
        },  # no such suite
        {"version": "1.3", "key_exchange": "psk"},
        {"version": "1.3", "resumption": True, "session_tickets": False},
        {"ecdsa_signature_bytes": 73},
        {"certificate_chain_bytes": ()},
        {"dtls_cookie_bytes": 256},
        {"version": "1.4"},
    ],
)
def test_invalid_profiles_are_rejected(kwargs):
    with pytest.raises(ValueError):
        TlsProfile(**kwargs)


def test_dtls_requires_version_1_2():
    with pytest.raises(ValueError):
        dtls_handshake_datagrams(TlsProfile(version="1.3"))


# --- Vectorised totals ---------------------------------------------------------------------------------

PROFILES_FOR_TOTALS = [
    TlsProfile(version="1.3"),
    TlsProfile(version="1.2", resumption=True, cipher="CHACHA20_POLY1305_SHA256"),
    TlsProfile(version="1.2", client_certificate_bytes=900, close_notify=False),
    TlsProfile(version="1.3", cipher="AES_128_CCM_8", resumption=True),
]
app_sizes = st.integers(min_value=0, max_value=5 * 2**14)


def _scalar_session(
    profile: TlsProfile, up: int, down: int, up_count: int, down_count: int
) -> tuple[int, int]:
    """Reference: sum the per-write functions for one session."""
    app = [("up", up, "u")] * up_count + [("down", down, "d")] * down_count
    up_hs, down_hs = _totals(handshake_writes(profile))
    up_app, down_app = _totals(protect_writes(app, profile))
    return up_hs + up_app, down_hs + down_app


@settings(max_examples=60, deadline=None)
@given(
    profile=st.sampled_from(PROFILES_FOR_TOTALS),
    sessions=st.lists(st.tuples(app_sizes, app_sizes), min_size=1, max_size=20),
)
def test_vectorised_totals_equal_scalar_sums(profile, sessions):
    up = np.array([s[0] for s in sessions])
    down = np.array([s[1] for s in sessions])
    up_total, down_total = tls_totals(up, down, profile)
    expected = [_scalar_session(profile, u, d, 1, 1) for u, d in sessions]
    assert up_total.tolist() == [e[0] for e in expected]
    assert down_total.tolist() == [e[1] for e in expected]


@settings(max_examples=60, deadline=None)
@given(
    profile=st.sampled_from(PROFILES_FOR_TOTALS),
    sessions=st.lists(
        st.tuples(app_sizes, app_sizes, st.integers(0, 6), st.integers(0, 6)),
        min_size=1,
        max_size=20,
    ),
)
def test_vectorised_totals_with_write_counts_equal_scalar_sums(profile, sessions):
    columns = [np.array(column) for column in zip(*sessions)]
    up_total, down_total = tls_totals(
        columns[0], columns[1], profile, columns[2], columns[3]
    )
    expected = [_scalar_session(profile, *session) for session in sessions]
    assert up_total.tolist() == [e[0] for e in expected]
    assert down_total.tolist() == [e[1] for e in expected]


def test_vectorised_totals_by_hand():
    # Default TLS 1.3: handshake 244 up / 2834 down, close_notify 24 each way.
    # Session 1: one 29-byte PUBLISH up (51) and one 4-byte PUBACK down (26).
    # Session 2: 2^14 + 1 bytes up in two records (2^14 + 1 + 44), nothing down.
    up, down = tls_totals(
        np.array([29, 2**14 + 1]), np.array([4, 0]), TlsProfile(version="1.3")
    )
    assert up.tolist() == [244 + 51 + 24, 244 + 2**14 + 1 + 44 + 24]
    assert down.tolist() == [2834 + 26 + 24, 2834 + 24]
