"""The host's input while the virtual modem works (exact bytes): the LF of CR LF never aborts
(V.250 §5.6.1, reference §1), only commands noted as abortable are aborted (V.250 §5.6.1,
27.007 §7.3 / §10.1.9 / §10.1.10, u-blox +USOCO) and input for the others waits for the final
result, URCs wait while the host types a line (reference §7), and S3/S4/S5 are applied
(V.250 §6.2.1-§6.2.3)."""

from __future__ import annotations

import dataclasses

import pytest
from golden.transcript import Session

from cellfleet.modem import cmd_registry
from cellfleet.modem.cmd_registry import CommandContext, Reply
from cellfleet.modem.codec import CommandLineReader, LineEvent
from cellfleet.modem.profiles import get_profile
from cellfleet.modem.virtual import VirtualModem

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
COPS_LIST = (
    b'\r\n+COPS: (2,"Test Network","TestNet","00101",7),(1,"Roam Partner","Roam","00102",7),'
    b'(3,"Forbidden Net","Forbid","00103",7),,(0,1,2,3,4),(0,1,2)\r\n'
)


# ----------------------------------------------------------------------- B1: the LF of CR LF
def test_lf_of_cr_lf_in_a_later_read_does_not_abort_the_scan() -> None:
    s = Session()
    s.quiet()
    assert s.send("AT+COPS=?\r", 10.0) == b""
    assert s.send("\n", 10.001) == b""  # the tail of CR LF, not an abort (V.250 §5.6.1)
    assert s.wait(17.9) == b""
    assert s.wait(18.0) == COPS_LIST + OK


def test_byte_by_byte_cr_lf_with_echo_gets_the_scan() -> None:
    """gammu-style one byte per write, E1: every byte echoed, the scan answered."""
    s = Session()
    echoed = b"".join(s.send(bytes([byte]), 0.001 * i) for i, byte in enumerate(b"AT+COPS=?\r\n"))
    assert echoed == b"AT+COPS=?\r\n"
    assert s.wait(9.0) == COPS_LIST + OK


def test_only_the_very_next_lf_is_the_tail() -> None:
    """A second LF is a character like any other: it aborts the (abortable) scan."""
    s = Session()
    s.quiet()
    assert s.send("AT+COPS=?\r", 1.0) == b""
    assert s.send("\n", 1.5) == b""
    assert s.send("\n", 2.0) == ERROR  # a lone LF ends an empty line: no answer of its own
    assert s.wait(20.0) == b""


def test_reader_skips_a_late_lf_tail_and_keeps_later_lfs() -> None:
    reader = CommandLineReader()
    assert reader.feed(b"AT\r") == [LineEvent("AT")]
    assert reader.lf_is_tail
    assert reader.feed(b"\n") == []
    assert not reader.lf_is_tail
    assert reader.feed(b"AT\n") == [LineEvent("AT")]  # a lone LF ends a line (reference §1)


# ----------------------------------------------------------------------- B2: what may be aborted
def test_input_after_ctrl_z_waits_for_the_cmgs_result() -> None:
    """27.005 §3.5.1: ESC cancels only during text entry; after Ctrl-Z +CMGS is not abortable
    (V.250 §5.6.1), so the AT sent meanwhile is answered after +CMGS's own result."""
    s = Session()
    s.quiet()
    s.at("AT+CMGF=1")
    assert s.at('AT+CMGS="+15551234567"', 1.0) == b"\r\n> "
    assert s.send("hello\x1a", 1.1) == b""
    assert s.at("AT", 1.5) == b""  # queued, not echoed, not an abort
    assert s.wait(3.0) == b""
    assert s.wait(3.1) == b"\r\n+CMGS: 0\r\n" + OK + OK
    assert [(r.destination, r.text) for r in s.modem.device.sms_sent] == [("+15551234567", "hello")]


def test_input_during_cfun_waits_and_is_then_echoed_and_run() -> None:
    s = Session()
    s.at("ATE0")
    s.at("ATE1;+CMEE=1")
    assert s.at("AT+CFUN=4", 5.0) == b"AT+CFUN=4\r"
    assert s.at("AT+CGMI", 5.1) == b""
    assert s.wait(5.5) == OK + b"AT+CGMI\r\r\nCellfleet\r\n" + OK
    assert s.modem.state.cfun == 4


def test_queued_input_runs_in_order_behind_successive_commands() -> None:
    s = Session()
    s.quiet()
    assert s.send("AT+CFUN=4\rAT+CFUN=1\rAT+CGMM\r", 1.0) == b""
    assert s.wait(1.5) == OK  # the second +CFUN now runs its 0.5 s
    assert s.wait(2.0) == OK + b"\r\nGeneric-27007\r\n" + OK


@pytest.mark.parametrize(
    ("command", "latency_key"),
    [("AT+COPS=?", "+COPS=?"), ('AT+COPS=1,2,"00102"', "+COPS=1"), ("AT+COPS=0", "+COPS=0"),
     ("AT+CGATT=1", "+CGATT="), ("AT+CGACT=1,1", "+CGACT=")],
)  # fmt: skip
def test_27007_abortable_commands_are_aborted_by_a_character(command: str, latency_key: str) -> None:
    profile = dataclasses.replace(get_profile("generic"), latency_s={latency_key: 3.0})
    s = Session(profile)  # type: ignore[arg-type]
    s.quiet()
    assert s.at(command, 1.0) == b""
    assert s.at("AT", 2.0) == ERROR + OK
    assert s.wait(10.0) == b""


def test_ublox_usoco_is_aborted_by_a_character() -> None:
    """u-blox SARA-R4 AT manual: +USOCO can be aborted."""
    s = Session("sara-r410m")
    s.quiet()
    assert s.at("AT+USOCR=6") == b"\r\n+USOCR: 0\r\n" + OK
    assert s.at('AT+USOCO=0,"192.0.2.10",7', 1.0) == b""
    assert s.at("AT", 1.1) == ERROR + OK


def test_the_profile_decides_which_commands_are_abortable() -> None:
    profile = dataclasses.replace(get_profile("generic"), abortable_commands=frozenset())
    s = Session(profile)  # type: ignore[arg-type]
    s.quiet()
    assert s.at("AT+COPS=?", 1.0) == b""
    assert s.at("AT", 2.0) == b""
    assert s.wait(9.0) == COPS_LIST + OK + OK


@pytest.mark.parametrize(("abortable", "answer_at_0_5_s", "answer_at_1_s"), [(True, ERROR + OK, b""),
                                                                          (False, b"", b"\r\nx\r\n" + OK + OK)])  # fmt: skip
def test_a_reply_can_say_whether_it_is_abortable(monkeypatch, abortable, answer_at_0_5_s, answer_at_1_s) -> None:
    def slow(ctx: CommandContext) -> Reply:
        return Reply(("x",), latency_s=1.0, abortable=abortable)

    monkeypatch.setitem(cmd_registry._REGISTRY, ("+CGMI", "action"), cmd_registry.HandlerEntry(slow, False))
    s = Session()
    s.quiet()
    assert s.at("AT+CGMI", 0.0) == b""
    assert s.at("AT", 0.5) == answer_at_0_5_s
    assert s.wait(1.0) == answer_at_1_s


# ----------------------------------------------------------------------- B7: URCs vs a typed line
def test_urc_waits_while_the_host_types_a_command_line() -> None:
    modem = VirtualModem()
    modem.power_on(0.0)
    modem.take_output()
    modem.receive(b"AT+CG", 1.0)
    modem.inject_sms("+1555", "x", 1.1)
    modem.receive(b"MI\r", 1.2)
    assert modem.take_output() == b'AT+CGMI\r\r\nCellfleet\r\n\r\nOK\r\n\r\n+CMTI: "ME",0\r\n'


def test_urc_is_not_held_for_bytes_without_the_at_prefix() -> None:
    modem = VirtualModem()
    modem.power_on(0.0)
    modem.receive(b"ATE0\rxy", 0.0)
    modem.take_output()
    modem.inject_sms("+1555", "x", 1.0)
    assert modem.take_output() == b'\r\n+CMTI: "ME",0\r\n'


def test_urc_held_for_a_half_typed_line_goes_when_the_host_detaches() -> None:
    modem = VirtualModem()
    modem.power_on(0.0)
    modem.receive(b"ATE0\rAT+C", 0.0)
    modem.inject_sms("+1555", "x", 1.0)
    assert modem.take_output() == b"ATE0\r" + OK
    modem.host_detached(2.0)
    assert modem.take_output() == b'\r\n+CMTI: "ME",0\r\n'


# ----------------------------------------------------------------------- B8: S3, S4, S5
def test_s3_ends_command_lines_and_s3_s4_frame_every_response() -> None:
    """V.250 §6.2.1: the line setting S3 ends with the old S3, its result already uses the new
    one; §6.2.2 likewise for S4; §6.2.6: V0 is text S3 S4 and result code S3."""
    s = Session()
    s.quiet()
    assert s.at("ATS3=64") == b"@\nOK@\n"
    assert s.send("AT+CGMI@") == b"@\nCellfleet@\n@\nOK@\n"
    assert s.send("AT+CGMI\r") == b""  # CR is an ordinary character now
    assert s.send("@") == b"@\nERROR@\n"  # the line "AT+CGMI<CR>" is a syntax error
    assert s.send("ATS4=33;V0@") == b"0@"
    assert s.send("AT+CGMM@") == b"Generic-27007@!0@"
    assert s.send("ATV1@") == b"@!OK@!"
    assert s.send("ATS3?@") == b"@!064@!@!OK@!"


def test_s5_is_the_editing_character() -> None:
    s = Session()
    s.quiet()
    assert s.at("ATS5=127") == OK
    assert s.at("AT+CGMX\x7fI") == b"\r\nCellfleet\r\n" + OK
    assert s.at("AT+CGMX\x08I") == ERROR  # BS is an ordinary character now


def test_s3_s5_follow_atz_atf_and_a_reboot() -> None:
    s = Session()
    s.quiet()
    assert s.at("ATS3=64") == b"@\nOK@\n"
    assert s.send("AT&F@") == b"\r\nOK\r\n"  # factory S3 (CR) frames AT&F's own result
    assert s.at("ATE0;S5=127;&W") == b"ATE0;S5=127;&W\r" + OK  # &F turned echo on again
    assert s.at("ATS5=8;S3=64") == b"@\nOK@\n"
    assert s.send("ATZ@") == OK  # the stored profile: S3 CR, S5 DEL
    assert s.at("AT+CGMX\x7fI") == b"\r\nCellfleet\r\n" + OK
    assert s.at("ATS5=8;S3=64") == b"@\nOK@\n"
    s.modem.power_on(5.0)  # a reboot restores the stored profile too
    s.modem.take_output()
    assert s.at("AT+CGMX\x7fI", 5.0) == b"\r\nCellfleet\r\n" + OK
