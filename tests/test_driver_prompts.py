"""Which commands prompt for a payload and how the payload ends (27.005 §3.5.1; Quectel
BG96 TCP/IP note AT+QISEND; u-blox SARA AT manual +USOWR/+USOST), and the driver's handling of a
prompt nobody asked for."""

from __future__ import annotations

import pytest
from test_driver_support import driven, served, tx_records

from cellfleet.modem.driver import Response
from cellfleet.modem.driver_prompts import check_payload, needs_prompt, wants_ctrl_z
from cellfleet.modem.errors import AtError


@pytest.mark.parametrize(
    ("line", "prompts", "ctrl_z"),
    [
        ("AT+CMGS=28", True, True),  # PDU mode
        ('AT+CMGS="+15551234567"', True, True),  # text mode
        ('AT+CMGW="+15551234567"', True, True),
        ("at+cmgs=28", True, True),
        ("AT+QISEND=0", True, True),  # variable length, ended by Ctrl-Z
        ("AT+QISEND=0,5", True, False),  # exactly 5 bytes
        ("AT+QISEND=0,0", False, False),  # the send counters: no prompt
        ("AT+USOWR=0,5", True, False),  # '@' then 5 bytes
        ('AT+USOWR=0,5,"hello"', False, False),  # data inline
        ('AT+USOST=0,"192.0.2.1",5000,5', True, False),
        ("AT+CMGS=?", False, True),
        ("AT+CGMI", False, False),
        ('AT+CMGF=1;+CMGS="+1555"', True, True),  # the last command of a chain decides
    ],
)
def test_prompt_rules(line, prompts, ctrl_z):
    assert (needs_prompt(line), wants_ctrl_z(line)) == (prompts, ctrl_z)


@pytest.mark.parametrize(
    ("line", "payload", "ctrl_z", "problem"),
    [
        ("AT+QISEND=0,5", b"hell", False, "+QISEND declares 5 bytes, payload has 4"),
        ("AT+USOWR=0,3", b"hello", False, "+USOWR declares 3 bytes, payload has 5"),
        ('AT+USOST=0,"192.0.2.1",5000,2', b"abc", False, "+USOST declares 2 bytes, payload has 3"),
        ("AT+CMGS=5", b"ab\x1acd", True, "cannot contain Ctrl-Z"),
    ],
)
def test_payloads_the_modem_would_misread_are_refused(line, payload, ctrl_z, problem):
    with pytest.raises(ValueError, match=problem.replace("+", r"\+")):
        check_payload(line, payload, ctrl_z)


def test_payloads_that_fit_pass():
    check_payload("AT+QISEND=0,5", b"hello", False)
    check_payload('AT+USOST=0,"192.0.2.1",5000,3', b"\x00\x1a\x1b", False)  # binary is fine when counted
    check_payload("AT+CMGS=5", b"hello", True)


def test_a_prompt_answered_to_a_plain_command_is_cancelled(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command("AT+CMGF=1")
        with pytest.raises(AtError, match="answered with a prompt; use command_with_prompt"):
            driver.command('AT+CMGS="+15551234567"')
        assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
    assert tx_records(tmp_path)[-3:] == [b'AT+CMGS="+15551234567"\r', b"\x1b", b"AT+CGMI\r"]
