"""ResponseReader (host side): prompts only for prompting commands, echo pieces around URCs,
SMS data lines marked as data, abandoning a command, and read-boundary independence.

The command-line reader's tests and the older ResponseReader tests are in ``test_at_codec.py``.
"""

from __future__ import annotations

import pytest

from cellfleet.modem.command_line import parse_command_line
from cellfleet.modem.responses import (
    Echo,
    Final,
    InfoLine,
    Prompt,
    ResponseReader,
    Urc,
    prompt_char,
)

CMTI = '+CMTI: "ME",0'


def _read(command: str | None, data: bytes, **options) -> list:
    reader = ResponseReader()
    if command is not None:
        reader.command_sent(command, **options)
    return reader.feed(data)


# ------------------------------------------------------------------------------ prompts


@pytest.mark.parametrize(
    ("line", "char"),
    [
        ('+CMGS="+15551234567"', ">"), ("+CMGS=28", ">"), ("+CMGW", None), ("+CMGW=28", ">"), ("+CMGC=20", ">"),
        ("+QISEND=0", ">"), ("+QISEND=0,5", ">"), ("+QISEND=0,0", None), ("+QISEND?", None),
        ("+USOWR=0,5", "@"), ('+USOWR=0,5,"hello"', None), ('+USOST=0,"1.2.3.4",7,5', "@"),
        ("+CGMI", None), ("+CMGR=1", None), ("E0;+CMGS=28", ">"),
    ],
)  # fmt: skip
def test_prompting_commands(line, char):
    # 27.005 §3.5.1/§3.5.3/§3.5.5 (">"), Quectel AT+QISEND (">"), u-blox +USOWR/+USOST ("@").
    assert prompt_char(parse_command_line(line)) == char


def test_an_at_sign_opening_a_line_is_a_prompt_only_for_a_command_that_prompts_with_it():
    noise = b"@\x14\x7f\r\nCellfleet\r\n\r\nOK\r\n"
    assert _read("AT+CGMI", noise) == [InfoLine("@\x14\x7f"), InfoLine("Cellfleet"), Final("OK", "OK")]
    assert _read("AT+USOWR=0,5", b"\r\n@") == [Prompt("@")]
    assert _read("AT+USOWR=0,5", b"\r\n> x\r\n") == [InfoLine("> x")]  # u-blox prompts with "@"
    assert _read("AT+QISEND=0,5", b"\r\n@x\r\n") == [InfoLine("@x")]  # Quectel prompts with ">"
    assert _read(None, b"\r\n@\r\n") == [Urc("@", known=False)]


def test_a_vendor_command_the_host_knows_to_prompt_may_use_either_prompt():
    assert _read('AT+UDWNFILE="f",5', b"\r\n>", prompts=">@") == [Prompt(">")]
    assert _read('AT+UDWNFILE="f",5', b"\r\n>") == []  # not a known prompting command: a line


# ------------------------------------------------------------------------------ echo pieces


def test_a_urc_between_the_echoed_bytes_leaves_the_echo_pieces_out_of_the_answer():
    # B7: the modem echoed "AT+CG", wrote a URC, then echoed "MI" and the CR (V.250 §6.2.4).
    data = b'AT+CG\r\n+CMTI: "ME",0\r\nMI\r\r\nCellfleet\r\n\r\nOK\r\n'
    assert _read("AT+CGMI", data) == [
        Echo("AT+CG"), Urc(CMTI), Echo("MI"), InfoLine("Cellfleet"), Final("OK", "OK"),
    ]  # fmt: skip


def test_two_urcs_cut_the_echo_in_three():
    data = b"A\r\n+CEREG: 1\r\nT+C\r\n+CEREG: 5\r\nGMI\r\r\nCellfleet\r\n\r\nOK\r\n"
    assert _read("AT+CGMI", data) == [
        Echo("A"), Urc("+CEREG: 1"), Echo("T+C"), Urc("+CEREG: 5"), Echo("GMI"), InfoLine("Cellfleet"), Final("OK", "OK"),
    ]  # fmt: skip


def test_a_line_like_the_start_of_the_echo_is_an_answer_when_no_urc_follows_it():
    assert _read("AT+CGMI", b"\r\nA\r\n\r\nOK\r\n") == [InfoLine("A"), Final("OK", "OK")]
    assert _read("AT+CGMI", b"\r\nAT+C\r\nmore\r\n\r\nOK\r\n") == [
        InfoLine("AT+C"), InfoLine("more"), Final("OK", "OK"),
    ]  # fmt: skip


def test_after_the_first_answer_line_nothing_is_taken_for_echo():
    data = b'\r\nCellfleet\r\nAT+CG\r\n+CMTI: "ME",0\r\nMI\r\n\r\nOK\r\n'
    assert _read("AT+CGMI", data) == [
        InfoLine("Cellfleet"), InfoLine("AT+CG"), Urc(CMTI), InfoLine("MI"), Final("OK", "OK"),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ SMS data lines


def test_sms_data_lines_are_marked_as_data_even_with_gsm_7_bit_control_bytes():
    # +CSCS="GSM": '@' is 0x00, '$' 0x02, '_' 0x11 (23.038 §6.2.1); 27.005 §3.4.2 +CMGL.
    header = '+CMGL: 0,"REC UNREAD","+1555",,"26/01/01,10:00:00+00"'
    data = f"\r\n{header}\r\nmail me \x00 home\x11now \x02\r\n\r\nOK\r\n".encode("latin-1")
    assert _read('AT+CMGL="ALL"', data) == [
        InfoLine(header), InfoLine("mail me \x00 home\x11now \x02", data_line=True), Final("OK", "OK"),
    ]  # fmt: skip


def test_a_cmgl_looking_line_makes_no_data_line_for_another_command():
    data = b"\r\n+CMGL: 1,0,,28\r\nnext\r\n\r\nOK\r\n"
    assert _read("AT+CGMI", data) == [InfoLine("+CMGL: 1,0,,28"), InfoLine("next"), Final("OK", "OK")]


# ------------------------------------------------------------------------------ abandon


def test_an_abandoned_command_is_forgotten():
    reader = ResponseReader()
    reader.command_sent("AT+COPS=?")
    reader.abandon()
    assert reader.pending is None
    assert reader.feed(b"\r\nlate\r\n\r\nERROR\r\n") == [Urc("late", known=False), Final("ERROR", "ERROR")]


def test_a_late_final_before_abandon_ends_the_command_in_the_reader():
    reader = ResponseReader()
    reader.command_sent("AT+COPS=?")
    assert reader.feed(b"\r\nERROR\r\n") == [Final("ERROR", "ERROR")]
    assert reader.pending is None


# ------------------------------------------------------------------------------ read boundaries

STREAMS = [
    ("AT+CGMI", b"@\x14\x7f\r\nCellfleet\r\n@\x14\x7f\r\n\r\nOK\r\n"),
    ("AT+CGMI", b'AT+CG\r\n+CMTI: "ME",0\r\nMI\r\r\nCellfleet\r\n\r\nOK\r\n'),
    ("AT+CGMI", b"\r\nA\r\n\r\nOK\r\n"),
    ("AT+USOWR=0,5", b"AT+USOWR=0,5\r\r\n@"),
    ('AT+CMGS="+1555"', b'AT+CMGS="+1555"\r\r\n> '),
    ("AT+QISEND=0,5", b"\r\n> \r\nSEND OK\r\n"),
    ('AT+CMGL="ALL"', b'\r\n+CMGL: 0,"REC READ","+1555",,"26/01/01"\r\n@ \x00_\x11\r\n\r\nOK\r\n'),
    ("AT+CSQ", b"\r\n+CDS: 25\r\n0011\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n"),
    ("AT+QIRD=0,1500", b"\r\n+QIRD: 5\r\nh\r\nlo\r\n\r\nOK\r\n"),
    (None, b'\r\n+QIURC: "recv",0,4\r\nab\r\n\r\n+CMT: ,28\r\n0791AB\r\n'),
    ("ATV0", b"ATV0\r0\r"),
]


@pytest.mark.parametrize(("command", "stream"), STREAMS)
def test_every_two_way_split_of_a_stream_gives_the_same_events(command, stream):
    def events(pieces: list[bytes]) -> list:
        reader = ResponseReader()
        if command is not None:
            reader.command_sent(command)
        return [event for piece in pieces for event in reader.feed(piece)]

    whole = events([stream])
    assert whole  # each stream yields events
    for cut in range(len(stream) + 1):
        assert events([stream[:cut], stream[cut:]]) == whole, cut
