"""Packet domain commands: +CGDCONT, +CGACT, +CGATT, +CGPADDR, +CGEREP / +CGEV (27.007 §10.1)."""

from __future__ import annotations

from golden.transcript import Session

from cellfleet.modem.cmd_packet import pdp_address
from cellfleet.modem.device import NOT_REGISTERED, StaticDevice

OK = b"\r\nOK\r\n"


def test_cgdcont_define_read_undefine() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+CGDCONT?") == b'\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0\r\n' + OK
    s.at('AT+CGDCONT=1,"IP","internet"')
    s.at('AT+CGDCONT=3,"ipv4v6","iot.example"')
    s.at('AT+CGDCONT=4,"Non-IP","nidd"')
    assert s.at("AT+CGDCONT?") == (
        b'\r\n+CGDCONT: 1,"IP","internet","0.0.0.0",0,0,0,0\r\n'
        b'+CGDCONT: 3,"IPV4V6","iot.example","0.0.0.0",0,0,0,0\r\n'
        b'+CGDCONT: 4,"Non-IP","nidd","",0,0,0,0\r\n' + OK
    )
    s.at("AT+CGDCONT=4")  # 27.007 §10.1.1: the cid alone undefines it
    assert b"+CGDCONT: 4" not in s.at("AT+CGDCONT?")
    assert s.at('AT+CGDCONT=16,"IP","x"') == b"\r\n+CME ERROR: 50\r\n"
    assert s.at('AT+CGDCONT=2,"X25","x"') == b"\r\n+CME ERROR: 50\r\n"


def test_pdp_address_is_derived_from_the_imsi() -> None:
    # IMSI 001010123456789: last five digits 56789 = 221 * 256 + 213
    assert pdp_address("001010123456789", 1, "IP") == "10.1.221.213"
    assert pdp_address("001010123456789", 2, "IPV6") == "253.0.0.0.0.0.0.0.0.0.0.0.0.2.221.213"
    assert pdp_address("001010123456789", 3, "Non-IP") is None


def test_cgact_reports_cgev_and_cgpaddr_shows_the_address() -> None:
    s = Session()
    s.quiet()
    s.at("AT+CGEREP=1")
    assert s.at("AT+CGPADDR") == b"\r\n+CGPADDR: 1\r\n" + OK
    assert s.at("AT+CGACT=1,1", 1.0) == b""  # 1 s latency
    assert s.wait(2.0) == OK + b"\r\n+CGEV: ME PDN ACT 1\r\n"
    assert s.at("AT+CGACT?") == b"\r\n+CGACT: 1,1\r\n" + OK
    assert s.at("AT+CGPADDR=1") == b'\r\n+CGPADDR: 1,"10.1.221.213"\r\n' + OK
    assert s.at("AT+CGPADDR=?") == b"\r\n+CGPADDR: (1)\r\n" + OK
    assert s.at('AT+CGDCONT=1,"IP","other"') == b"\r\n+CME ERROR: 3\r\n"  # active: not changeable
    s.at("AT+CGACT=0,1", 3.0)
    assert s.wait(4.0) == OK + b"\r\n+CGEV: ME PDN DEACT 1\r\n"
    assert s.at("AT+CGACT=1,7", 5.0) == b"\r\n+CME ERROR: 50\r\n"  # undefined context


def test_network_detach_deactivates_contexts() -> None:
    s = Session(device=StaticDevice(timeline=[(10.0, NOT_REGISTERED)]))
    s.quiet()
    s.at("AT+CGEREP=2;+CGACT=1,1")
    s.wait(1.0)
    assert s.wait(10.0) == b"\r\n+CGEV: NW DETACH\r\n"
    assert s.at("AT+CGACT?") == b"\r\n+CGACT: 1,0\r\n" + OK
    assert s.at("AT+CGATT?") == b"\r\n+CGATT: 0\r\n" + OK
    assert s.at("AT+CGACT=1,1") == b"\r\n+CME ERROR: 30\r\n"  # no service: answered at once


def test_cgatt_detach_is_the_modems_own() -> None:
    device = StaticDevice()
    s = Session(device=device)
    s.quiet()
    s.at("AT+CGEREP=1;+CEREG=1")
    # 27.007 §10.1.19: the detach is reported whether or not a context was active
    assert s.at("AT+CGATT=0") == OK + b"\r\n+CEREG: 0\r\n\r\n+CGEV: ME DETACH\r\n"
    s.at("AT+CGATT=1")
    s.at("AT+CGACT=1,1", 1.0)
    s.wait(2.0)
    assert s.at("AT+CGATT=0") == OK + b"\r\n+CEREG: 0\r\n\r\n+CGEV: ME DETACH\r\n"
    assert device.radio_on is False
    assert s.at("AT+CGATT?") == b"\r\n+CGATT: 0\r\n" + OK
    # 27.007 §10.1.10: activating attaches first
    s.at("AT+CGACT=1,1", 3.0)
    assert s.wait(4.0) == OK + b"\r\n+CEREG: 1\r\n\r\n+CGEV: ME PDN ACT 1\r\n"


def test_cgerep_0_reports_nothing() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+CGEREP?") == b"\r\n+CGEREP: 0,0\r\n" + OK
    s.at("AT+CGACT=1,1")
    assert s.wait(1.0) == OK
