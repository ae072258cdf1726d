"""Vendor socket commands of the virtual modem (cellfleet.modem.sockets*): Quectel BG96 TCP/IP
Application Note §2.2-§2.3 and §4, u-blox SARA-R4 AT Commands Manual UBX-17003787 §18, the
simulated far end (echo / sink / refuse peers, deterministic names) and billing through the wire
model. Byte-exact transcripts of the ordinary flows are the golden files
tests/golden/bg96/sockets_*.txt and tests/golden/sara-r410m/sockets_*.txt; here: the peers,
billing, timing rules and properties.

Wire arithmetic used below (cellfleet/emulator/wire.py, IPv4, Linux defaults): a SYN or SYN-ACK
is 20 (IP) + 20 (TCP) + 20 (options: MSS 4, SACK-permitted + timestamps 12, NOP + window scale
4) = 60 bytes; every later segment carries the 12-byte timestamps option, so a pure ACK or FIN is
20 + 20 + 12 = 52 bytes and a data segment 52 + payload. A UDP datagram is 20 + 8 + payload.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.modem.device import Registration, SessionRecord, StaticDevice
from cellfleet.modem.profiles import get_profile
from cellfleet.modem.sockets import PeerModel, resolve_host, set_peer
from cellfleet.modem.sockets_net import RESOLVED_NETWORK
from cellfleet.modem.virtual import VirtualModem

OK = b"\r\nOK\r\n"


class Host:
    """Drives a virtual modem at given simulated times; every call returns the modem's output."""

    def __init__(self, profile: str, device: StaticDevice | None = None, **modem_kwargs: object) -> None:
        self.device = device or StaticDevice()
        self.modem = VirtualModem(profile, self.device, **modem_kwargs)  # type: ignore[arg-type]
        self.now_s = 0.0
        self.modem.power_on(0.0)
        self.modem.take_output()
        assert self.send(b"ATE0\r") == b"ATE0\r" + OK
        assert self.send(b"AT+CMEE=1\r") == OK

    def send(self, data: bytes) -> bytes:
        self.modem.receive(data, self.now_s)
        return self.modem.take_output()

    def at(self, now_s: float) -> bytes:
        self.now_s = now_s
        self.modem.advance(now_s)
        return self.modem.take_output()


def quectel_tcp(host: Host, connect_id: int = 0, mode: int = 0, remote: str = "192.0.2.10") -> None:
    """Context 1 active at 1.0 s, TCP client ``connect_id`` to ``remote``:7 connected at 1.3 s."""
    assert host.send(b"AT+QIACT=1\r") == b""
    assert host.at(1.0) == OK
    assert host.send(f'AT+QIOPEN=1,{connect_id},"TCP","{remote}",7,0,{mode}\r'.encode()) == OK
    assert host.at(1.3) == f"\r\n+QIOPEN: {connect_id},0\r\n".encode()


def ublox_tcp(host: Host, remote: str = "192.0.2.10") -> None:
    """TCP socket 0 connected to ``remote``:7 at 0.3 s."""
    assert host.send(b"AT+USOCR=6\r") == b"\r\n+USOCR: 0\r\n" + OK
    assert host.send(f'AT+USOCO=0,"{remote}",7\r'.encode()) == b""
    assert host.at(0.3) == OK


# ----------------------------------------------------------------------- billing
def test_quectel_tcp_connection_is_billed_once_when_closed() -> None:
    """5 B up, 5 B echoed. Up: SYN 60 + ACK 52 + data 52+5 + delayed ACK of the echo 52 (the
    exchange ends, so the timer fires) + FIN 52 + last ACK 52 = 325. Down: SYN-ACK 60 + echo 57
    (carrying the ACK of the upload) + ACK of the FIN 52 + FIN 52 = 221."""
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QISEND=0,5\r") == b"\r\n> "
    assert host.send(b"hello") == b"\r\nSEND OK\r\n"
    assert host.at(1.5) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.device.sessions == []  # nothing billed while the connection lives
    assert host.at(4.0) == b""
    assert host.send(b"AT+QICLOSE=0\r") == OK
    assert host.send(b"AT+QICLOSE=0\r") == OK  # a free connectID: still OK, not billed again
    assert host.device.sessions == [SessionRecord("TCP", "192.0.2.10:7", 5, 5, 325, 221, 1.3, 4.0)]


def test_ublox_udp_datagram_is_billed_with_its_echo() -> None:
    """One 4-byte datagram each way: 20 + 8 + 4 = 32 IP bytes up and down, billed when the echo
    arrives one 0.2 s round trip after the send."""
    host = Host("sara-r410m")
    assert host.send(b"AT+USOCR=17\r") == b"\r\n+USOCR: 0\r\n" + OK
    host.at(1.0)
    assert host.send(b'AT+USOST=0,"198.51.100.7",5683,4,"ping"\r') == b"\r\n+USOST: 0,4\r\n" + OK
    assert host.device.sessions == []
    assert host.at(1.2) == b"\r\n+UUSORF: 0,4\r\n"
    assert host.device.sessions == [SessionRecord("UDP", "198.51.100.7:5683", 4, 4, 32, 32, 1.0, 1.2)]


def test_sink_peer_accepts_and_acknowledges_but_never_answers() -> None:
    """5 B up, nothing down. Up: SYN 60 + ACK 52 + data 57 + FIN 52 + last ACK 52 = 273. Down:
    SYN-ACK 60 + the delayed ACK of the data (no answer to piggyback on) 52 + ACK 52 + FIN 52 = 216."""
    host = Host("bg96")
    set_peer(host.modem, PeerModel("sink"))
    quectel_tcp(host)
    host.send(b"AT+QISEND=0,5\r")
    assert host.send(b"hello") == b"\r\nSEND OK\r\n"
    assert host.send(b"AT+QISEND=0,0\r") == b"\r\n+QISEND: 5,0,5\r\n" + OK
    assert host.at(1.5) == b""  # no echo
    assert host.send(b"AT+QISEND=0,0\r") == b"\r\n+QISEND: 5,5,0\r\n" + OK  # ACKed after the round trip
    assert host.send(b"AT+QIRD=0,0\r") == b"\r\n+QIRD: 0,0,0\r\n" + OK
    assert host.send(b"AT+QICLOSE=0\r") == OK
    assert host.device.sessions == [SessionRecord("TCP", "192.0.2.10:7", 5, 0, 273, 216, 1.3, 1.5)]


def test_sink_peer_swallows_udp_datagrams_billed_at_once() -> None:
    host = Host("sara-r410m")
    set_peer(host.modem, PeerModel("sink"))
    host.send(b"AT+USOCR=17\r")
    assert host.send(b'AT+USOST=0,"198.51.100.7",5683,3,"abc"\r') == b"\r\n+USOST: 0,3\r\n" + OK
    assert host.at(5.0) == b""
    assert host.device.sessions == [SessionRecord("UDP", "198.51.100.7:5683", 3, 0, 31, 0, 0.0, 0.0)]


# ----------------------------------------------------------------------- refusing peers
def test_quectel_refused_connect_reports_566_after_the_connect_time() -> None:
    host = Host("bg96")
    set_peer(host.modem, PeerModel("refuse", connect_s=2.0))
    host.send(b"AT+QIACT=1\r")
    host.at(1.0)
    assert host.send(b'AT+QIOPEN=1,4,"TCP","192.0.2.10",80\r') == OK
    assert host.send(b"AT+QISTATE=1,4\r") == b'\r\n+QISTATE: 4,"TCP","192.0.2.10",80,49152,1,1,0,0,"usbmodem"\r\n' + OK
    assert host.at(2.9) == b""
    assert host.at(3.0) == b"\r\n+QIOPEN: 4,566\r\n"
    assert host.send(b"AT+QIGETERROR\r") == b"\r\n+QIGETERROR: 566,socket connect failed\r\n" + OK
    assert host.send(b"AT+QISTATE?\r") == OK  # the connectID is free again
    assert host.device.sessions == []  # a refused connect is not billed


def test_ublox_refused_connect_sync_and_async() -> None:
    host = Host("sara-r410m")
    set_peer(host.modem, PeerModel("refuse", connect_s=1.0))
    host.send(b"AT+USOCR=6\r")
    assert host.send(b'AT+USOCO=0,"192.0.2.10",80\r') == b""
    assert host.at(1.0) == b"\r\n+CME ERROR: 3\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 111\r\n" + OK  # ECONNREFUSED
    assert host.send(b'AT+USOCO=0,"192.0.2.10",80,1\r') == OK
    assert host.at(2.0) == b"\r\n+UUSOCO: 0,111\r\n"
    assert host.send(b'AT+USOWR=0,1,"x"\r') == b"\r\n+CME ERROR: 3\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 107\r\n" + OK  # still not connected


def test_ublox_async_connect_reports_success_by_urc() -> None:
    host = Host("sara-r410m")
    host.send(b"AT+USOCR=6\r")
    assert host.send(b'AT+USOCO=0,"192.0.2.10",7,1\r') == OK
    assert host.send(b'AT+USOWR=0,1,"x"\r') == b"\r\n+CME ERROR: 3\r\n"  # still opening
    assert host.at(0.3) == b"\r\n+UUSOCO: 0,0\r\n"
    assert host.send(b'AT+USOWR=0,1,"x"\r') == b"\r\n+USOWR: 0,1\r\n" + OK


def test_peer_per_host() -> None:
    """``set_peer(..., host=)`` overrides the default for that host only (any case)."""
    host = Host("bg96")
    set_peer(host.modem, PeerModel("refuse"), host="Blocked.Example")
    host.send(b"AT+QIACT=1\r")
    host.at(1.0)
    host.send(b'AT+QIOPEN=1,0,"TCP","blocked.example",7\r')
    host.send(b'AT+QIOPEN=1,1,"TCP","open.example",7\r')
    assert host.at(1.3) == b"\r\n+QIOPEN: 0,566\r\n\r\n+QIOPEN: 1,0\r\n"


# ----------------------------------------------------------------------- peer closes
def test_quectel_peer_close_keeps_unread_data_until_qiclose() -> None:
    host = Host("bg96")
    set_peer(host.modem, PeerModel(close_after_s=1.0))
    quectel_tcp(host)
    host.send(b"AT+QISEND=0,3\r")
    host.send(b"abc")
    assert host.at(1.5) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.at(2.3) == b'\r\n+QIURC: "closed",0\r\n'  # 1.0 s after the connect at 1.3
    assert host.send(b"AT+QISTATE=1,0\r") == b'\r\n+QISTATE: 0,"TCP","192.0.2.10",7,49152,4,1,0,0,"usbmodem"\r\n' + OK
    assert host.send(b"AT+QISEND=0,1\r") == b"\r\nERROR\r\n"
    assert host.send(b"AT+QIGETERROR\r") == b"\r\n+QIGETERROR: 567,socket has been closed\r\n" + OK
    assert host.send(b"AT+QIRD=0\r") == b"\r\n+QIRD: 3\r\nabc\r\n" + OK
    host.at(9.0)
    assert host.send(b"AT+QICLOSE=0\r") == OK
    # billed when the peer closed, once: 3 B each way
    assert [(s.uplink_payload_bytes, s.downlink_payload_bytes, s.start_s, s.end_s) for s in host.device.sessions] == [
        (3, 3, 1.3, 2.3)
    ]


def test_quectel_send_fail_when_the_peer_closes_during_the_prompt() -> None:
    """The URC that falls due while the host types the data is held until the final result."""
    host = Host("bg96")
    set_peer(host.modem, PeerModel(close_after_s=0.5))
    quectel_tcp(host)
    host.at(1.6)
    assert host.send(b"AT+QISEND=0,5\r") == b"\r\n> "
    assert host.at(1.9) == b""
    assert host.send(b"hello") == b'\r\nSEND FAIL\r\n\r\n+QIURC: "closed",0\r\n'
    assert host.send(b"AT+QISEND=0,0\r") == b"\r\n+QISEND: 0,0,0\r\n" + OK


def test_quectel_esc_cancels_a_send() -> None:
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QISEND=0\r") == b"\r\n> "
    assert host.send(b"ab\x1b") == OK
    assert host.send(b"AT+QISEND=0,0\r") == b"\r\n+QISEND: 0,0,0\r\n" + OK


def test_ublox_uusocl_waits_until_the_data_is_read() -> None:
    """R16 §19.10.1: +UUSOCL is not sent until all received data is read; writes fail (EPIPE)."""
    host = Host("sara-r410m")
    set_peer(host.modem, PeerModel(close_after_s=1.0))
    ublox_tcp(host)
    host.send(b'AT+USOWR=0,4,"data"\r')
    assert host.at(0.5) == b"\r\n+UUSORD: 0,4\r\n"
    assert host.at(1.3) == b""  # closed by the peer, data unread: no URC yet
    assert host.send(b'AT+USOWR=0,1,"x"\r') == b"\r\n+CME ERROR: 3\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 32\r\n" + OK
    assert host.send(b"AT+USORD=0,2\r") == b'\r\n+USORD: 0,2,"da"\r\n' + OK + b"\r\n+UUSORD: 0,2\r\n"
    assert host.send(b"AT+USORD=0,2\r") == b'\r\n+USORD: 0,2,"ta"\r\n' + OK + b"\r\n+UUSOCL: 0\r\n"
    assert host.send(b"AT+USOCL=0\r") == b"\r\n+CME ERROR: 3\r\n"  # released with the URC
    assert [(s.uplink_payload_bytes, s.downlink_payload_bytes, s.end_s) for s in host.device.sessions] == [(4, 4, 1.3)]


def test_ublox_binary_write_fails_when_the_peer_closes_during_the_prompt() -> None:
    """R16 §19.10.1: an error result code, then +UUSOCL."""
    host = Host("sara-r410m")
    set_peer(host.modem, PeerModel(close_after_s=0.5))
    ublox_tcp(host)
    assert host.send(b"AT+USOWR=0,3\r") == b"\r\n@"
    host.at(0.9)
    assert host.send(b"\x00\x01\x02") == b"\r\n+CME ERROR: 3\r\n\r\n+UUSOCL: 0\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 32\r\n" + OK


# ----------------------------------------------------------------------- network
def test_registration_loss_closes_quectel_sockets_with_pdpdeact() -> None:
    """The network deregisters the device at 5 s (timeline): +QIURC: "pdpdeact" for the context
    (note §2.3), the connection is billed then; unread data stays readable until +QICLOSE."""
    lost = Registration(stat=4)
    host = Host("bg96", StaticDevice(timeline=[(5.0, lost)]))
    quectel_tcp(host)
    host.send(b"AT+QISEND=0,2\r")
    host.send(b"hi")
    assert host.at(1.5) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.at(5.0) == b'\r\n+QIURC: "pdpdeact",1\r\n'
    assert host.send(b"AT+QIACT?\r") == OK
    assert host.send(b"AT+QIRD=0\r") == b"\r\n+QIRD: 2\r\nhi\r\n" + OK
    assert host.send(b"AT+QIOPEN=1,1,\"UDP\",\"192.0.2.1\",9\r") == OK + b"\r\n+QIOPEN: 1,561\r\n"
    assert [(s.protocol, s.uplink_payload_bytes, s.downlink_payload_bytes, s.end_s) for s in host.device.sessions] == [
        ("TCP", 2, 2, 5.0)
    ]


def test_registration_loss_closes_ublox_sockets() -> None:
    host = Host("sara-r410m", StaticDevice(timeline=[(2.0, Registration(stat=2))]))
    ublox_tcp(host)
    assert host.send(b"AT+USOCR=17\r") == b"\r\n+USOCR: 1\r\n" + OK
    assert host.at(2.0) == b"\r\n+UUSOCL: 0\r\n\r\n+UUSOCL: 1\r\n"
    assert host.send(b"AT+USOCR=6\r") == b"\r\n+USOCR: 0\r\n" + OK  # the ids are free again
    assert host.send(b'AT+USOCO=0,"192.0.2.10",7\r') == b"\r\n+CME ERROR: 3\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 101\r\n" + OK  # ENETUNREACH


def test_qideact_closes_the_context_sockets() -> None:
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QIDEACT=1\r") == OK
    assert host.send(b"AT+QISTATE?\r") == OK
    assert host.send(b"AT+QIACT?\r") == OK
    assert [(s.protocol, s.start_s, s.end_s) for s in host.device.sessions] == [("TCP", 1.3, 1.3)]


def test_a_reboot_drops_every_socket() -> None:
    host = Host("bg96")
    quectel_tcp(host)
    host.send(b"AT+CFUN=1,1\r")
    host.at(2.0)
    host.send(b"ATE0\r")
    assert host.send(b"AT+QISTATE?\r") == OK
    assert host.send(b"AT+QIACT?\r") == OK


def test_a_reboot_bills_the_open_tcp_connection_like_a_close() -> None:
    """Review B10: the bytes crossed the network, so AT+CFUN=1,1 (due at 2.0 s) bills the open
    connection first, with the wire bytes of a close at that time (see the close test above)."""
    host = Host("bg96")
    quectel_tcp(host)
    host.send(b"AT+QISEND=0,5\r")
    assert host.send(b"hello") == b"\r\nSEND OK\r\n"
    assert host.at(1.5) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.send(b"AT+CFUN=1,1\r") == b""
    host.at(2.0)
    assert host.device.sessions == [SessionRecord("TCP", "192.0.2.10:7", 5, 5, 325, 221, 1.3, 2.0)]
    host.at(10.0)
    assert len(host.device.sessions) == 1  # billed once


def test_power_off_bills_open_connections_and_datagrams_in_flight() -> None:
    """What a stopping server does (``VirtualModem.power_off``): the open TCP connection is
    billed (no data: up SYN 60 + ACK 52 + FIN 52 + last ACK 52 = 216, down SYN-ACK 60 + ACK 52 +
    FIN 52 = 164), the datagram whose echo was under way without it (20 + 8 + 4 = 32 up)."""
    host = Host("sara-r410m")
    ublox_tcp(host)
    assert host.send(b"AT+USOCR=17\r") == b"\r\n+USOCR: 1\r\n" + OK
    assert host.send(b'AT+USOST=1,"198.51.100.7",5683,4,"ping"\r') == b"\r\n+USOST: 1,4\r\n" + OK
    host.modem.power_off(0.4)
    assert host.device.sessions == [
        SessionRecord("TCP", "192.0.2.10:7", 0, 0, 216, 164, 0.3, 0.4),
        SessionRecord("UDP", "198.51.100.7:5683", 4, 0, 32, 0, 0.3, 0.3),
    ]
    assert host.at(5.0) == b""
    assert host.send(b"AT\r") == b""  # switched off
    assert len(host.device.sessions) == 2


# ----------------------------------------------------------------------- commands and profiles
def test_qiact_latency_comes_from_the_profile_table() -> None:
    profile = dataclasses.replace(get_profile("bg96"), latency_s={"+QIACT=": 3.0})
    host = Host(profile)  # type: ignore[arg-type]
    assert host.send(b"AT+QIACT=1\r") == b""
    assert host.at(2.9) == b""
    assert host.at(3.0) == OK


def test_qiact_latency_follows_latency_scale() -> None:
    host = Host("bg96", latency_scale=0.0)
    assert host.send(b"AT+QIACT=1\r") == OK


def test_qiact_without_network_service() -> None:
    host = Host("bg96")
    host.send(b"AT+CGATT=0\r")
    assert host.send(b"AT+QIACT=1\r") == b"\r\n+CME ERROR: 30\r\n"
    assert host.send(b"AT+QIGETERROR\r") == b"\r\n+QIGETERROR: 561,open PDP context failed\r\n" + OK


def test_qicsgp_configures_the_27007_context() -> None:
    """+QICSGP and +CGDCONT are two views of one context (27.007 §10.1.1, note §2.2.1)."""
    host = Host("bg96")
    assert host.send(b'AT+QICSGP=2,3,"m2m.example","user","secret",2\r') == OK
    assert host.send(b"AT+CGDCONT?\r") == (
        b'\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0\r\n+CGDCONT: 2,"IPV4V6","m2m.example","0.0.0.0",0,0,0,0\r\n' + OK
    )
    assert host.send(b"AT+QICSGP=2\r") == b'\r\n+QICSGP: 3,"m2m.example","user","secret",2\r\n' + OK
    assert host.send(b"AT+QICSGP=2,4,\"x\"\r") == b"\r\n+CME ERROR: 50\r\n"
    assert host.send(b"AT+QICSGP=17\r") == b"\r\n+CME ERROR: 50\r\n"


def test_each_profile_has_its_own_socket_commands() -> None:
    bg96, sara = Host("bg96"), Host("sara-r410m")
    assert bg96.send(b"AT+USOCR=6\r") == b"\r\nERROR\r\n"
    assert sara.send(b"AT+QIACT=1\r") == b"\r\n+CME ERROR: 4\r\n"  # its unknown-command answer
    generic = Host("generic")
    assert generic.send(b"AT+QIOPEN=1,0,\"TCP\",\"192.0.2.1\",7\r") == b"\r\nERROR\r\n"


def test_quectel_test_forms() -> None:
    host = Host("bg96")
    assert host.send(b"AT+QIOPEN=?\r") == (
        b'\r\n+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE","<IP_address>/<domain_name>",'
        b"<remote_port>,<local_port>,(0-2)\r\n" + OK
    )
    assert host.send(b"AT+QISTATE=?\r") == OK
    assert host.send(b"AT+QIRD=?\r") == b"\r\n+QIRD: (0-11),(0-1500)\r\n" + OK


def test_ublox_hex_mode_rejects_bad_hex() -> None:
    host = Host("sara-r410m")
    ublox_tcp(host)
    host.send(b"AT+UDCONF=1,1\r")
    assert host.send(b'AT+USOWR=0,2,"0G00"\r') == b"\r\n+CME ERROR: 50\r\n"
    assert host.send(b'AT+USOWR=0,2,"00 0"\r') == b"\r\n+CME ERROR: 50\r\n"
    assert host.send(b'AT+USOWR=0,2,"00"\r') == b"\r\n+CME ERROR: 50\r\n"  # 2 bytes need 4 digits


def test_ublox_all_sockets_in_use() -> None:
    host = Host("sara-r410m")
    for socket_id in range(7):
        assert host.send(b"AT+USOCR=17\r") == f"\r\n+USOCR: {socket_id}\r\n".encode() + OK
    assert host.send(b"AT+USOCR=17\r") == b"\r\n+CME ERROR: 3\r\n"
    assert host.send(b"AT+USOER\r") == b"\r\n+USOER: 105\r\n" + OK  # ENOBUFS


# ----------------------------------------------------------------------- names and peers
def test_resolve_host() -> None:
    assert resolve_host("192.0.2.1") == "192.0.2.1"
    assert resolve_host("2001:db8::1") == "2001:db8::1"
    name = resolve_host("Echo.Example")
    assert name is not None and name == resolve_host("echo.example.")
    assert ipaddress_in_block(name)
    assert resolve_host("other.example") != name
    for bad in ("", "a..b", "-a.example", "a-.example", "under_score.example", "x" * 64 + ".example", "x.invalid"):
        assert resolve_host(bad) is None, bad


def ipaddress_in_block(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return ip in RESOLVED_NETWORK and ip not in (RESOLVED_NETWORK.network_address, RESOLVED_NETWORK.broadcast_address)


@pytest.mark.parametrize(
    "kwargs",
    [{"behaviour": "drop"}, {"rtt_s": -0.1}, {"connect_s": -1.0}, {"close_after_s": -2.0}],
)
def test_peer_model_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PeerModel(**kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- properties
# The payload properties end the sending command with CR LF: with a bare CR, the command-line
# reader takes a payload's leading LF for the LF of a CR LF terminator (codec.CommandLineReader,
# reported to its owner), which is not what these tests are about.
_QIRD = re.compile(rb"\r\n\+QIRD: (\d+)\r\n")
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.binary(min_size=1, max_size=1460)),
        st.tuples(st.just("read"), st.integers(min_value=1, max_value=1500)),
        st.tuples(st.just("wait"), st.floats(min_value=0.01, max_value=0.5)),
    ),
    max_size=12,
)


def _qird_data(output: bytes) -> bytes:
    match = _QIRD.search(output)
    assert match is not None, output
    length = int(match.group(1))
    data = output[match.end() : match.end() + length]
    assert len(data) == length
    if length:
        assert output[match.end() + length :].startswith(b"\r\n" + OK), output
    return data


@settings(max_examples=100, deadline=None)
@given(_OPS)
def test_quectel_echo_reads_back_byte_identical(ops: list[tuple[str, object]]) -> None:
    """Any interleaving of sends (any bytes, any size up to 1460), reads and waits: what +QIRD
    returns, drained at the end, is the concatenation of what was sent; the connection is billed
    with exactly those payload bytes both ways."""
    host = Host("bg96")
    quectel_tcp(host)
    sent, read = bytearray(), bytearray()
    for kind, value in ops:
        if kind == "send":
            assert isinstance(value, bytes)
            assert host.send(f"AT+QISEND=0,{len(value)}\r\n".encode()).endswith(b"\r\n> ")
            assert host.send(value).endswith(b"\r\nSEND OK\r\n")
            sent += value
        elif kind == "read":
            read += _qird_data(host.send(f"AT+QIRD=0,{value}\r".encode()))
        else:
            host.at(host.now_s + float(value))  # type: ignore[arg-type]
    host.at(host.now_s + 1.0)
    while chunk := _qird_data(host.send(b"AT+QIRD=0,1500\r")):
        read += chunk
    assert bytes(read) == bytes(sent)
    assert host.send(b"AT+QICLOSE=0\r") == OK
    (session,) = host.device.sessions
    assert session.uplink_payload_bytes == session.downlink_payload_bytes == len(sent)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=1024), min_size=1, max_size=8), st.integers(1, 1024))
def test_ublox_binary_writes_read_back_byte_identical(writes: list[bytes], read_size: int) -> None:
    """Binary +USOWR writes (any bytes after the @ prompt) come back through +USORD reads of a
    fixed size, each answer exactly ``+USORD: 0,<n>,"<n bytes>"`` and a +UUSORD with the rest."""
    host = Host("sara-r410m")
    ublox_tcp(host)
    for data in writes:
        assert host.send(f"AT+USOWR=0,{len(data)}\r\n".encode()) == b"\r\n@"
        assert host.send(data) == f"\r\n+USOWR: 0,{len(data)}\r\n".encode() + OK
    stream = b"".join(writes)
    # all echoes arrive at 0.5 s; the first one finds the buffer empty and is announced alone
    assert host.at(1.0) == f"\r\n+UUSORD: 0,{len(writes[0])}\r\n".encode()
    position = 0
    while position < len(stream):
        piece = stream[position : position + read_size]
        position += len(piece)
        rest = f"\r\n+UUSORD: 0,{len(stream) - position}\r\n".encode() if position < len(stream) else b""
        expected = f'\r\n+USORD: 0,{len(piece)},"'.encode() + piece + b'"\r\n' + OK + rest
        assert host.send(f"AT+USORD=0,{read_size}\r".encode()) == expected
    assert host.send(b"AT+USOCL=0\r") == OK
    (session,) = host.device.sessions
    assert session.uplink_payload_bytes == session.downlink_payload_bytes == len(stream)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=1024), min_size=1, max_size=8))
def test_ublox_udp_datagrams_keep_their_boundaries(datagrams: list[bytes]) -> None:
    """Each datagram is read back on its own by +USORF and billed as one exchange of
    20 + 8 + n IP bytes each way (no datagram here exceeds the 1500-byte MTU)."""
    host = Host("sara-r410m")
    host.send(b"AT+USOCR=17\r")
    for data in datagrams:
        assert host.send(f'AT+USOST=0,"198.51.100.7",5683,{len(data)}\r\n'.encode()) == b"\r\n@"
        assert host.send(data) == f"\r\n+USOST: 0,{len(data)}\r\n".encode() + OK
    host.at(1.0)
    for index, data in enumerate(datagrams):
        following = datagrams[index + 1] if index + 1 < len(datagrams) else None
        rest = f"\r\n+UUSORF: 0,{len(following)}\r\n".encode() if following is not None else b""
        expected = f'\r\n+USORF: 0,"198.51.100.7",5683,{len(data)},"'.encode() + data + b'"\r\n' + OK + rest
        assert host.send(b"AT+USORF=0,1024\r") == expected
    assert [(s.uplink_payload_bytes, s.downlink_payload_bytes) for s in host.device.sessions] == [
        (len(d), len(d)) for d in datagrams
    ]
    assert [(s.uplink_ip_bytes, s.downlink_ip_bytes) for s in host.device.sessions] == [
        (28 + len(d), 28 + len(d)) for d in datagrams
    ]


# ----------------------------------------------------------------- payload framing
def test_lf_of_cr_lf_in_its_own_read_is_not_the_payloads_first_byte() -> None:
    """Review S4 (replaces the old ``new_read`` expectation that an LF opening a later read is
    data): the LF right after the CR that ended the command line is that line's tail, whenever
    it arrives (V.250 §5.6.1 lets the DTE append it; reference §1), so all 5 payload bytes are
    data and nothing spills into the command parser."""
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QISEND=0,5\r") == b"\r\n> "
    assert host.send(b"\n") == b""  # the tail of CR LF, written separately
    assert host.send(b"hello") == b"\r\nSEND OK\r\n"
    assert host.at(1.6) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.send(b"AT+QIRD=0,10\r") == b"\r\n+QIRD: 5\r\nhello\r\n" + OK


def test_a_counted_payload_may_contain_line_feeds() -> None:
    """Only the byte right after the command's CR can be its LF tail: later LFs are data (here
    the payload starts with one after the tail, and has another inside)."""
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QISEND=0,5\r") == b"\r\n> "
    assert host.send(b"\n\nab\nc") == b"\r\nSEND OK\r\n"
    assert host.at(1.6) == b'\r\n+QIURC: "recv",0\r\n'
    assert host.send(b"AT+QIRD=0,10\r") == b"\r\n+QIRD: 5\r\n\nab\nc\r\n" + OK


def test_cr_lf_ending_a_counted_send_is_not_data() -> None:
    host = Host("bg96")
    quectel_tcp(host)
    assert host.send(b"AT+QISEND=0,3\r\n") == b"\r\n> "
    assert host.send(b"xyz") == b"\r\nSEND OK\r\n"


def test_binary_payload_after_the_at_prompt_is_not_echoed() -> None:
    """u-blox SARA-R4 manual (+USOWR binary mode): the data after "@" is not echoed, even with
    ATE1; the command line itself is."""
    host = Host("sara-r410m")
    ublox_tcp(host)
    assert host.send(b"ATE1\r") == OK  # echo is still off while this line arrives
    assert host.send(b"AT+USOWR=0,3\r") == b"AT+USOWR=0,3\r\r\n@"
    assert host.send(b"a\rb") == b"\r\n+USOWR: 0,3\r\n" + OK
