"""Simulated time in the virtual modem: command latency, abort by a character (V.250 §5.6.1),
URC buffering vs interleaving, boot time, reboots, and what survives them."""

from __future__ import annotations

import dataclasses

from golden.transcript import Session

from cellfleet.modem.device import StaticDevice, _default_registration

OK = b"\r\nOK\r\n"
COPS_LIST = (
    b'\r\n+COPS: (2,"Test Network","TestNet","00101",7),(1,"Roam Partner","Roam","00102",7),'
    b'(3,"Forbidden Net","Forbid","00103",7),,(0,1,2,3,4),(0,1,2)\r\n'
)


def test_cops_test_takes_its_latency() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+COPS=?") == b""
    assert s.modem.next_due_s() == 8.0
    assert s.wait(7.9) == b""
    assert s.wait(8.0) == COPS_LIST + OK
    assert s.modem.next_due_s() is None


def test_latency_scale() -> None:
    s = Session(latency_scale=0.25)
    s.quiet()
    s.at("AT+COPS=?")
    assert s.modem.next_due_s() == 2.0


def test_a_character_aborts_a_long_command_with_error_and_is_then_processed() -> None:
    s = Session()
    s.quiet()
    s.at("AT+COPS=?;+CGMI")
    assert s.at("AT+CGMM", 3.0) == b"\r\nERROR\r\n\r\nGeneric-27007\r\n" + OK  # +CGMI never ran
    assert s.wait(10.0) == b""


def test_chained_commands_wait_for_each_other() -> None:
    s = Session()
    s.quiet()
    assert s.at("AT+CGMI;+COPS=?;+CGMM") == b"\r\nCellfleet\r\n"
    assert s.wait(8.0) == COPS_LIST + b"\r\nGeneric-27007\r\n" + OK


def _urc_during_command(urc_mode: str) -> bytes:
    moved = dataclasses.replace(_default_registration(), tac=0x0040)
    s = Session(device=StaticDevice(timeline=[(5.0, moved)]), urc_mode=urc_mode)
    s.quiet()
    s.at("AT+CEREG=2;+COPS=?")
    assert s.wait(5.0) == b""  # due at 5 s, but the command runs until 8 s
    return s.wait(8.0)


def test_urcs_wait_for_the_final_result_in_buffer_mode() -> None:
    assert _urc_during_command("buffer") == COPS_LIST + OK + b'\r\n+CEREG: 1,"0040","0012BEEF",7\r\n'


def test_urcs_come_before_the_final_result_in_interleave_mode() -> None:
    assert _urc_during_command("interleave") == COPS_LIST + b'\r\n+CEREG: 1,"0040","0012BEEF",7\r\n' + OK


def test_input_during_boot_is_lost() -> None:
    s = Session("bg96", boot_s=3.0)
    assert s.boot == b""
    assert s.at("AT", 1.0) == b""  # no echo either
    assert s.modem.next_due_s() == 3.0
    boot = s.wait(3.0)
    assert boot.startswith(b"\r\nRDY\r\n") and boot.endswith(b"\r\n+QIND: PB DONE\r\n")
    assert s.at("AT") == b"AT\r" + OK


def test_reboot_keeps_nonvolatile_data_and_resets_the_rest() -> None:
    device = StaticDevice(sim_pin="1234")
    s = Session("bg96", device)
    s.at('ATE0;+CPIN="1234"')
    s.at('AT+CMEE=1;+CGDCONT=1,"IP","iot";&W')
    s.at("AT+CGACT=1,1;+CREG=2")
    s.wait(1.0)
    s.modem.inject_sms("+1555", "kept", 1.0)
    s.modem.take_output()
    s.at("AT+CFUN=1,1", 2.0)
    assert s.wait(2.5) == OK + b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
    assert device.radio_on is False  # no SIM access after the reboot: no registration
    assert s.at("AT+CREG?") == b"\r\n+CREG: 0,0\r\n" + OK  # +CREG=2 was not stored; E0 was
    assert s.at('AT+CPIN="1234"').startswith(OK + b"\r\n+CPIN: READY\r\n")
    assert s.at("AT+CGDCONT?;+CGACT?") == b'\r\n+CGDCONT: 1,"IP","iot","0.0.0.0",0,0,0,0\r\n\r\n+CGACT: 1,0\r\n' + OK
    assert s.at("AT+CPMS?") == b'\r\n+CPMS: "ME",1,255,"ME",1,255,"ME",1,255\r\n' + OK


def test_power_on_again_reboots() -> None:
    s = Session("sim7000")
    s.at("ATE0")
    s.modem.power_on(5.0)
    assert s.modem.take_output() == b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n\r\nPB DONE\r\n"
    assert s.at("AT", 5.0) == b"AT\r" + OK


def test_host_detach_drops_a_half_typed_line() -> None:
    s = Session()
    s.quiet()
    s.send("AT+CG")
    s.modem.host_detached(1.0)
    assert s.send("MI\r") == b""  # "MI" has no AT prefix any more
    assert s.at("AT+CGMI") == b"\r\nCellfleet\r\n" + OK


def test_time_never_runs_backwards() -> None:
    s = Session()
    s.quiet()
    s.wait(100.0)
    assert s.at("AT+CCLK?", 50.0) == b'\r\n+CCLK: "26/01/01,00:01:40+00"\r\n' + OK
