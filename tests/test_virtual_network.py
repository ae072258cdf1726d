"""Network commands backed by the device: +CxREG layouts and URCs, +CFUN, +COPS, +CSQ/+CESQ,
+CPSMS, +CEDRXS/+CEDRXP, +CCLK, PSM sleep. Expected values are hand-derived from 27.007 and
TS 24.008 (comments give the arithmetic)."""

from __future__ import annotations

import dataclasses

import pytest
from golden.transcript import Session
from hypothesis import given
from hypothesis import strategies as st

from cellfleet.modem.cmd_network import (
    cesq_rsrp,
    cesq_rsrq,
    csq_rssi,
    registration_fields,
    timer_octet,
)
from cellfleet.modem.device import Registration, StaticDevice, _default_registration

OK = b"\r\nOK\r\n"
HOME = _default_registration()
#: T3324 10 s = GPRS Timer 2 unit 000 (2 s) x 5 -> 000 00101; T3412ext 3600 s = GPRS Timer 3:
#: 2 s x 1800, 30 s x 120, 1 min x 60 exceed 31, 10 min x 6 fits -> unit 000, value 00110.
PSM = dataclasses.replace(HOME, active_time_s=10.0, periodic_tau_s=3600.0)
DENIED = Registration(stat=3, plmn="00101", tac=0x002F, ci=0x0012BEEF, act=7, reject_cause=15)


def _read(session: Session, command: str) -> bytes:
    return session.at(f"AT{command}?")


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "+CEREG: 0,1"),
        (1, "+CEREG: 1,1"),
        (2, '+CEREG: 2,1,"002F","0012BEEF",7'),
        (3, '+CEREG: 3,1,"002F","0012BEEF",7'),
        (4, '+CEREG: 4,1,"002F","0012BEEF",7,,,"00000101","00000110"'),
        (5, '+CEREG: 5,1,"002F","0012BEEF",7,,,"00000101","00000110"'),
    ],
)
def test_cereg_read_layouts_with_psm(n: int, expected: str) -> None:
    """27.007 §10.1.22: read form <n>,<stat>[,<tac>,<ci>,<AcT>[,<cause_type>,<reject_cause>
    [,<Active-Time>,<Periodic-TAU>]]]."""
    s = Session(device=StaticDevice(home=PSM))
    s.quiet()
    s.at(f"AT+CEREG={n}")
    assert _read(s, "+CEREG") == f"\r\n{expected}\r\n".encode() + OK


@pytest.mark.parametrize(
    ("name", "n", "fields"),
    [
        ("+CEREG", 3, '3,"002F","0012BEEF",7,0,15'),
        ("+CEREG", 4, '3,"002F","0012BEEF",7'),  # no cause at n=4, no timers while denied
        ("+CEREG", 5, '3,"002F","0012BEEF",7,0,15'),
        ("+CREG", 3, '3,"002F","0012BEEF",7,0,15'),
        ("+CGREG", 3, '3,"002F","0012BEEF",7,,0,15'),  # <rac> empty before the cause
        ("+CEREG", 1, "3"),
    ],
)
def test_reject_cause_layouts(name: str, n: int, fields: str) -> None:
    assert registration_fields(name, n, DENIED) == fields


def test_cgreg_psm_layout_has_rac_and_cause_placeholders() -> None:
    """27.007 §10.1.20 n=4: <stat>,<lac>,<ci>,<AcT>,<rac>,,,<Active-Time>,<Periodic-RAU>."""
    assert registration_fields("+CGREG", 4, PSM) == '1,"002F","0012BEEF",7,,,,"00000101","00000110"'


def test_not_registered_shows_stat_only() -> None:
    assert registration_fields("+CEREG", 5, Registration(stat=2)) == "2"


def test_timer_octets() -> None:
    assert timer_octet(10, "gprs_timer_2") == "00000101"
    assert timer_octet(240, "gprs_timer_2") == "00100100"  # 1 min x 4 (the 27.007 example)
    # 100 s has no exact GPRS Timer 2 code: 2 s x 31 = 62 (38 off), 1 min x 2 = 120 (20 off)
    assert timer_octet(100, "gprs_timer_2") == "00100010"
    # 1 day: 2 s, 30 s, 1 min and 10 min units all need more than 31; 1 h x 24 -> 001 11000
    assert timer_octet(86400, "gprs_timer_3") == "00111000"


def test_creg_n_range_and_cgreg_n5() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+CREG=4") == b"\r\n+CME ERROR: 50\r\n"  # 27.007 §7.2: n 0..3
    assert s.at("AT+CGREG=5") == OK


def test_urc_follows_the_device_timeline() -> None:
    moved = dataclasses.replace(HOME, tac=0x0030, ci=0x0ABCDEF1)
    roaming = dataclasses.replace(moved, stat=5, plmn="00102")
    s = Session(device=StaticDevice(timeline=[(10.0, moved), (20.0, roaming)]))
    s.quiet()
    s.at("AT+CREG=1;+CEREG=2")
    assert s.modem.next_due_s() == 10.0
    # a cell change: +CEREG (n=2) reports it, +CREG (n=1) has nothing new to say
    assert s.wait(10.0) == b'\r\n+CEREG: 1,"0030","0ABCDEF1",7\r\n'
    assert s.modem.next_due_s() == 20.0
    assert s.wait(25.0) == b'\r\n+CREG: 5\r\n\r\n+CEREG: 5,"0030","0ABCDEF1",7\r\n'
    assert s.modem.next_due_s() is None


def test_cfun_detaches_and_attaches_through_the_device() -> None:
    device = StaticDevice(attach_s=5.0)
    s = Session(device=device)
    s.quiet()
    s.at("AT+CEREG=2")
    assert s.at("AT+CFUN=0", 1.0) == b""  # 0.5 s latency
    assert s.wait(1.5) == OK + b"\r\n+CEREG: 0\r\n"
    assert device.radio_on is False
    assert s.at("AT+CFUN?") == b"\r\n+CFUN: 0\r\n" + OK
    s.at("AT+CFUN=1", 2.0)
    assert s.wait(2.5) == OK + b"\r\n+CEREG: 2\r\n"  # searching during the attach (5 s)
    assert s.modem.next_due_s() == 7.0
    assert s.wait(7.0) == b'\r\n+CEREG: 1,"002F","0012BEEF",7\r\n'
    assert s.at("AT+CFUN=2") == b"\r\n+CME ERROR: 50\r\n"
    assert s.at("AT+CFUN=1,1") == b""  # generic resets with 1,1: OK after the latency, then reboot
    assert s.wait(7.5) == OK  # the stored profile has +CEREG=0: no URC after the reboot


def test_cops_names_follow_cscs_and_manual_selection_needs_the_sim() -> None:
    s = Session(device=StaticDevice(sim_pin="1234"))
    s.quiet()
    assert s.at('AT+COPS=1,2,"00102"') == b"\r\n+CME ERROR: 11\r\n"
    assert s.at("AT+COPS=?") == b"\r\n+CME ERROR: 11\r\n"
    s.at('AT+CPIN="1234"')
    s.at('AT+CSCS="UCS2";+COPS=3,1')
    # "TestNet" in UCS2: 0054 0065 0073 0074 004E 0065 0074
    assert s.at("AT+COPS?") == b'\r\n+COPS: 0,1,"0054006500730074004E00650074",7\r\n' + OK
    s.at("AT+COPS=3,2")
    assert s.at("AT+COPS?") == b'\r\n+COPS: 0,2,"00101",7\r\n' + OK  # numeric stays digits


def test_cops_4_falls_back_to_automatic() -> None:
    s = Session()
    s.quiet()
    s.at('AT+COPS=4,2,"00103"')
    assert s.wait(2.0) == OK
    assert s.at("AT+COPS?") == b'\r\n+COPS: 0,2,"00101",7\r\n' + OK
    s.at('AT+COPS=4,0,"Roam Partner"', 3.0)
    assert s.wait(5.0) == OK
    assert s.at("AT+COPS=3,0;+COPS?") == b'\r\n+COPS: 1,0,"Roam Partner",7\r\n' + OK


def test_cops_test_needs_the_radio() -> None:
    s = Session()
    s.quiet()
    s.at("AT+CFUN=4")
    s.wait(1.0)
    assert s.at("AT+COPS=?") == b"\r\n+CME ERROR: 3\r\n"


@pytest.mark.parametrize(("dbm", "n"), [(-120, 0), (-113, 0), (-112, 0), (-111, 1), (-73, 20), (-53, 30), (-51, 31),
                                        (-30, 31), (None, 99)])  # fmt: skip
def test_csq_rssi(dbm: float | None, n: int) -> None:
    """27.007 §8.5: 0 <= -113 dBm, 1 = -111 dBm, 2..30 = -109..-53 dBm, 31 >= -51 dBm."""
    assert csq_rssi(dbm) == n


@pytest.mark.parametrize(("db", "n"), [(-25, 0), (-20, 0), (-19.5, 1), (-10, 20), (-3.5, 33), (-3, 34), (0, 34), (None, 255)])
def test_cesq_rsrq(db: float | None, n: int) -> None:
    """27.007 §8.69: 0 < -19.5 dB, 1 = [-19.5, -19), ..., 34 >= -3 dB."""
    assert cesq_rsrq(db) == n


@pytest.mark.parametrize(("dbm", "n"), [(-150, 0), (-140.5, 0), (-140, 1), (-100, 41), (-44, 97), (-20, 97), (None, 255)])
def test_cesq_rsrp(dbm: float | None, n: int) -> None:
    """27.007 §8.69: 0 < -140 dBm, 1 = [-140, -139), ..., 97 >= -44 dBm."""
    assert cesq_rsrp(dbm) == n


@given(st.floats(-200, 0), st.floats(-200, 0))
def test_csq_is_monotonic_and_in_range(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0 <= csq_rssi(low) <= csq_rssi(high) <= 31


def test_cpsms_request_is_stored() -> None:
    """27.007 §7.38; the reference example: 1 h periodic TAU, 10 s active time."""
    s = Session()
    s.quiet()
    assert s.at("AT+CPSMS?") == b"\r\n+CPSMS: 0,,,,\r\n" + OK
    s.at('AT+CPSMS=1,,,"00100001","00000101"')
    assert s.at("AT+CPSMS?") == b'\r\n+CPSMS: 1,,,"00100001","00000101"\r\n' + OK
    s.at("AT+CPSMS=0")
    assert s.at("AT+CPSMS?") == b'\r\n+CPSMS: 0,,,"00100001","00000101"\r\n' + OK
    assert s.at('AT+CPSMS=1,,,"0010001"') == b"\r\n+CME ERROR: 50\r\n"
    s.at("AT+CPSMS=")
    assert s.at("AT+CPSMS?") == b"\r\n+CPSMS: 0,,,,\r\n" + OK


def test_cedrxs_mode_2_reports_cedrxp() -> None:
    """The reference's example: LTE-M, 81.92 s requested and granted ("0101"), PTW 5.12 s =
    1.28 s x (3 + 1) -> "0011"."""
    granted = dataclasses.replace(HOME, edrx_cycle_s=81.92, ptw_s=5.12)
    s = Session(device=StaticDevice(timeline=[(10.0, granted)]))
    s.quiet()
    assert s.at('AT+CEDRXS=2,4,"0101"') == OK  # nothing granted yet: no URC
    assert s.at("AT+CEDRXS?") == b'\r\n+CEDRXS: 4,"0101"\r\n' + OK
    assert s.wait(10.0) == b'\r\n+CEDRXP: 4,"0101","0101","0011"\r\n'
    assert s.at('AT+CEDRXS=2,4,"0110"') == OK + b'\r\n+CEDRXP: 4,"0110","0101","0011"\r\n'
    assert s.at('AT+CEDRXS=1,5,"1111"') == OK
    assert s.at("AT+CEDRXS?") == b'\r\n+CEDRXS: 4,"0110"\r\n+CEDRXS: 5,"1111"\r\n' + OK
    assert s.at("AT+CEDRXS=3") == OK
    assert s.at("AT+CEDRXS?") == OK
    assert s.at('AT+CEDRXS=1,7,"0101"') == b"\r\n+CME ERROR: 50\r\n"


def test_cclk() -> None:
    """27.007 §8.15; the clock starts at 2026-01-01 00:00:00 UTC at simulated 0 s."""
    s = Session()
    s.quiet()
    assert s.at("AT+CCLK?", 3661.0) == b'\r\n+CCLK: "26/01/01,01:01:01+00"\r\n' + OK
    s.at('AT+CCLK="30/06/15,12:00:00+08"')  # +08 quarter hours = UTC+2
    assert s.at("AT+CCLK?", 3671.0) == b'\r\n+CCLK: "30/06/15,12:00:10+08"\r\n' + OK
    assert s.at('AT+CCLK="30/02/30,12:00:00+00"') == b"\r\n+CME ERROR: 50\r\n"


def test_the_modem_is_silent_while_the_device_sleeps() -> None:
    moved = dataclasses.replace(HOME, tac=0x0031)
    s = Session(device=StaticDevice(sleep_windows=[(10.0, 20.0)], timeline=[(15.0, moved)]))
    s.quiet()
    s.at("AT+CEREG=2")
    assert s.at("AT", 12.0) == b""  # ignored: no echo, no answer
    assert s.wait(19.0) == b""  # the URC of 15 s is held
    assert s.wait(20.0) == b'\r\n+CEREG: 1,"0031","0012BEEF",7\r\n'
    assert s.at("AT") == OK
