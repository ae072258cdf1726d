"""V.250 behaviour, identity, errors and the SIM of the virtual modem (exact bytes)."""

from __future__ import annotations

import dataclasses

import pytest
from golden.transcript import Session

from cellfleet.modem.cmd_registry import registered_names
from cellfleet.modem.device import StaticDevice
from cellfleet.modem.profiles import PROFILE_NAMES, get_profile
from cellfleet.modem.virtual import VirtualModem

OK = b"\r\nOK\r\n"


def test_every_byte_is_echoed_at_once() -> None:
    s = Session()
    assert s.send("A") == b"A"
    assert s.send("T+CG") == b"T+CG"
    assert s.send("MI") == b"MI"
    assert s.send("\r") == b"\r\r\nCellfleet\r\n" + OK


def test_lf_of_crlf_is_echoed_before_the_answer_and_a_lone_lf_ends_a_line() -> None:
    s = Session()
    assert s.send("AT\r\n") == b"AT\r\n" + OK
    assert s.send("AT\n") == b"AT\n" + OK


def test_ate0_line_is_still_echoed_then_echo_stops() -> None:
    s = Session()
    assert s.at("ATE0") == b"ATE0\r" + OK
    assert s.at("AT") == OK


def test_v0_formats_info_text_without_header_and_numeric_results() -> None:
    """V.250 §5.7.1 / §6.2.6: V0 info text is text CR LF, result codes digits + CR."""
    s = Session()
    s.quiet()
    assert s.at("ATV0") == b"0\r"
    assert s.at("AT+CGMM") == b"Generic-27007\r\n0\r"
    assert s.at("AT+UNKNOWN") == b"4\r"
    assert s.at("AT+CPIN=\"1\"") == b"+CME ERROR: 3\r"


def test_q1_suppresses_result_codes_but_not_information_text() -> None:
    s = Session()
    s.quiet()
    assert s.at("ATQ1") == b""
    assert s.at("AT+CGMI") == b"\r\nCellfleet\r\n"
    assert s.at("ATQ0") == OK


@pytest.mark.parametrize(("cmee", "final"), [(0, b"\r\nERROR\r\n"), (1, b"\r\n+CME ERROR: 11\r\n"),
                                             (2, b"\r\n+CME ERROR: SIM PIN required\r\n")])  # fmt: skip
def test_cmee_formats(cmee: int, final: bytes) -> None:
    """27.007 §9.1: ERROR, numeric, verbose."""
    s = Session(device=StaticDevice(sim_pin="1234"))
    s.at(f"ATE0;+CMEE={cmee}")
    assert s.at("AT+CIMI") == final


def test_a_chain_stops_at_its_first_error() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+CGMI;+NOPE;+CMEE=0") == b"\r\nCellfleet\r\n\r\nERROR\r\n"
    assert s.at("AT+CMEE?") == b"\r\n+CMEE: 1\r\n" + OK  # the command after the error did not run


def test_a_slash_repeats_the_last_line_also_after_the_client_left() -> None:
    s = Session()
    s.quiet()
    s.at("AT+CGMM")
    assert s.send("A/") == b"\r\nGeneric-27007\r\n" + OK
    s.modem.host_detached(1.0)
    assert s.send("a/") == b"\r\nGeneric-27007\r\n" + OK


def test_syntax_errors_and_empty_lines() -> None:
    s = Session()
    s.quiet()
    assert s.at('AT+CSCA="unterminated') == b"\r\nERROR\r\n"
    assert s.at("AT") == OK
    assert s.send("\r\r\n") == b""  # no AT prefix: nothing


@pytest.mark.parametrize(("profile", "final"), [("generic", b"\r\nERROR\r\n"), ("bg96", b"\r\nERROR\r\n"),
                                                ("sara-r410m", b"\r\n+CME ERROR: 4\r\n"), ("nrf9160", b"\r\nERROR\r\n")])  # fmt: skip
def test_unknown_command_policy_per_profile(profile: str, final: bytes) -> None:
    s = Session(profile)
    s.quiet()
    assert s.at("AT+ZPAS?") == final


def test_test_form_policy() -> None:
    """27.007 §4.1 answers (=?), an action-only command answers OK; the "error" policy (lpac
    issue #300) answers ERROR to every test form."""
    s = Session()
    s.quiet()
    assert s.at("AT+CSCS=?") == b'\r\n+CSCS: ("GSM","IRA","UCS2")\r\n' + OK
    assert s.at("AT+CGMI=?") == OK
    strict = dataclasses.replace(get_profile("generic"), test_form_policy="error")
    s = Session(strict)
    s.quiet()
    assert s.at("AT+CSCS=?") == b"\r\nERROR\r\n"
    assert s.at("AT+CSCS?") == b'\r\n+CSCS: "GSM"\r\n' + OK


def test_get_profile() -> None:
    assert get_profile("BG96").name == "bg96"
    with pytest.raises(ValueError, match="generic, bg96, sara-r410m, sim7000, nrf9160"):
        get_profile("quectel")
    assert {get_profile(n).name for n in PROFILE_NAMES} == set(PROFILE_NAMES)


def test_z_f_w_profiles() -> None:
    """V.250 §6.1: ATZ restores the AT&W profile, AT&F the factory one."""
    s = Session()
    s.at("ATE0V0&W")
    s.at("ATV1E1+CMEE=2")  # basic commands chain without ';'... and +CMEE ends the line
    assert s.modem.state.settings.cmee == 2
    assert s.at("ATZ") == b"ATZ\r0\r"  # echoed (E1), then the stored E0 V0
    assert s.at("AT&F") == OK  # E0 at the time it arrived, V1 after
    assert s.modem.state.settings.echo and s.modem.state.stored.echo is False


def test_settings_persist_across_clients() -> None:
    s = Session()
    s.at("ATE0;+CREG=2")
    s.modem.host_detached(1.0)
    assert s.at("AT+CREG?") == b'\r\n+CREG: 2,1,"002F","0012BEEF",7\r\n' + OK
    assert s.modem.state.verbose is True


def test_identity_commands() -> None:
    s = Session("bg96")
    s.quiet()
    assert s.at("AT+CGSN=2") == b'\r\n+CGSN: "8664250300000101"\r\n' + OK  # TAC+SNR + SVN 01
    assert s.at("AT+CGSN=3") == b'\r\n+CGSN: "01"\r\n' + OK
    assert s.at("AT+CGSN=4") == b"\r\n+CME ERROR: 50\r\n"
    assert s.at("AT+CNUM") == b'\r\n+CNUM: ,"+15550100001",145\r\n' + OK
    assert s.at("AT+GMR") == b"\r\nBG96MAR02A07M1G\r\n" + OK


def test_crsm_reads_ef_iccid_nibble_swapped_with_f_padding() -> None:
    """TS 31.102 §4.1.1 EF_ICCID: 19 digits 8901260882310000016 -> 98 10 62 80 28 13 00 00 10 F6."""
    s = Session(device=StaticDevice(iccid="8901260882310000016"))
    s.quiet()
    assert s.at("AT+CRSM=176,12258,0,0,10") == b'\r\n+CRSM: 144,0,"981062802813000010F6"\r\n' + OK
    assert s.at("AT+CRSM=176,12258,0,2,3") == b'\r\n+CRSM: 144,0,"628028"\r\n' + OK
    assert s.at("AT+CRSM=176,12258,0,0,11") == b"\r\n+CRSM: 103,0\r\n" + OK
    assert s.at("AT+CRSM=176,28423,0,0,9") == b"\r\n+CRSM: 106,130\r\n" + OK
    assert s.at("AT+CRSM=192,12258") == b"\r\n+CRSM: 109,0\r\n" + OK


def test_generic_profile_accepts_every_iccid_spelling() -> None:
    s = Session()
    s.quiet()
    for name in ("+QCCID", "+CCID", "+ICCID", "%XICCID", "#CCID"):
        assert s.at(f"AT{name}") == f"\r\n{name}: 89001012012345678901\r\n".encode() + OK


def test_pin_unlock_wrong_pins_and_puk() -> None:
    device = StaticDevice(sim_pin="1234")
    s = Session("bg96", device)
    assert s.boot == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
    s.quiet()
    assert s.at("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n" + OK
    assert s.modem.view.stat == 0  # no registration without the SIM
    for _ in range(3):
        assert s.at('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert s.at("AT+CPIN?") == b"\r\n+CPIN: SIM PUK\r\n" + OK
    assert s.at('AT+CPIN="1234"') == b"\r\n+CME ERROR: 12\r\n"
    assert s.at('AT+CPIN="11111111","4321"') == b"\r\n+CME ERROR: 16\r\n"
    out = s.at('AT+CPIN="12345678","4321"')
    assert out == OK + b"\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n"
    assert device.sim_pin == "4321" and s.modem.view.stat == 1
    assert s.at('AT+CPIN="4321"') == b"\r\n+CME ERROR: 3\r\n"


def test_ten_wrong_puks_block_the_sim() -> None:
    """Review S7. TS 31.101 / ETSI TS 102 221 §9.5: 10 PUK attempts; then the SIM is blocked for
    good: +CPIN and the commands that need the SIM answer CME 13 "SIM failure" (27.007 §9.2.1),
    SMS commands CMS 313 (27.005 §3.2.5); the ICCID stays readable; a reboot does not help."""
    device = StaticDevice(sim_pin="1234")
    s = Session("generic", device)
    s.quiet()
    for _ in range(3):
        assert s.at('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    for _ in range(10):
        assert s.at('AT+CPIN="00000000","4321"') == b"\r\n+CME ERROR: 16\r\n"
    assert s.at("AT+CPIN?") == b"\r\n+CME ERROR: 13\r\n"
    assert s.at('AT+CPIN="12345678","4321"') == b"\r\n+CME ERROR: 13\r\n"  # the right PUK, too late
    assert s.at("AT+CIMI") == b"\r\n+CME ERROR: 13\r\n"
    assert s.at("AT+CPMS?") == b"\r\n+CMS ERROR: 313\r\n"
    assert s.at("AT+CCID") == b"\r\n+CCID: 89001012012345678901\r\n" + OK
    s.modem.power_on(1.0)
    s.modem.take_output()
    s.at("ATE0;+CMEE=1", 1.0)  # the reboot restored the stored profile (E1, CMEE 0)
    assert s.at("AT+CPIN?") == b"\r\n+CME ERROR: 13\r\n"
    assert device.sim_pin == "1234" and s.modem.view.stat == 0


def test_a_right_puk_resets_the_puk_counter() -> None:
    device = StaticDevice(sim_pin="1234")
    s = Session("generic", device)
    s.quiet()
    for _ in range(3):
        s.at('AT+CPIN="0000"')
    for _ in range(9):
        assert s.at('AT+CPIN="00000000","4321"') == b"\r\n+CME ERROR: 16\r\n"
    assert s.at('AT+CPIN="12345678","4321"') == OK
    assert s.modem.state.puk_attempts_left == 10


def test_every_command_a_profile_lists_has_a_handler() -> None:
    """``&V`` is not a V.250 command (§6.1 has Z, &F, I, +GMI...): not listed without a handler."""
    for name in PROFILE_NAMES:
        assert get_profile(name).commands <= registered_names(), name
    s = Session()
    s.quiet()
    assert s.at("AT&V") == b"\r\nERROR\r\n"


def test_no_sim() -> None:
    s = Session(device=StaticDevice(iccid=""))
    s.quiet()
    assert s.at("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    assert s.at("AT+CIMI") == b"\r\n+CME ERROR: 10\r\n"
    assert s.at("AT+CCID") == b"\r\n+CME ERROR: 10\r\n"
    assert s.at("AT+CPMS?") == b"\r\n+CMS ERROR: 310\r\n"


def test_clac_lists_the_profile_commands_with_handlers() -> None:
    s = Session("nrf9160")
    s.quiet()
    lines = s.at("AT+CLAC").split(b"\r\n")
    assert b"%XICCID" in lines and b"%XSYSTEMMODE" in lines and b"+CEREG" in lines
    assert b"I" not in lines and b"+QCCID" not in lines and b"+QIOPEN" not in lines


def test_input_before_power_on_is_ignored() -> None:
    modem = VirtualModem()
    modem.receive(b"AT\r", 0.0)
    assert modem.take_output() == b""
    modem.power_on(1.0)
    modem.receive(b"AT\r", 1.0)
    assert modem.take_output() == b"AT\r" + OK


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="urc_mode"):
        VirtualModem(urc_mode="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown modem profile"):
        VirtualModem("nokia")


@pytest.mark.parametrize(
    ("profile", "answer"),
    [
        ("generic", b"\r\n+CBC: 0,100\r\n\r\nOK\r\n"),  # 27.007 §8.4: on battery, 100 %
        ("bg96", b"\r\n+CBC: 0,100,3800\r\n\r\nOK\r\n"),  # Quectel adds the voltage in mV
        ("nrf9160", b"\r\nERROR\r\n"),  # no +CBC (the nRF91 reads its battery with %XVBAT)
    ],
)
def test_battery_charge(profile, answer):
    modem = VirtualModem(profile)
    modem.power_on(0.0)
    modem.receive(b"ATE0\r", 0.0)
    modem.take_output()
    modem.receive(b"AT+CBC\r", 1.0)
    assert modem.take_output() == answer
