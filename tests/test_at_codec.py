"""The AT stream codec (``cellfleet.modem.codec``) and URC recognition (``cellfleet.modem.urc``).

Expected values are hand-derived from ITU-T V.250 §5-§6, TS 27.007 / 27.005 and the reference
``/work/shared/reference/at-commands.md``; registration strings are ModemManager's
``src/tests/test-modem-helpers.c`` vectors and the cases Zephyr PR #80512 separates.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.modem import codec, urc
from cellfleet.modem.codec import (
    Arg,
    Command,
    CommandLineReader,
    Echo,
    Final,
    InfoLine,
    LineEvent,
    LineOverflow,
    Overflow,
    PayloadEvent,
    Prompt,
    RepeatEvent,
    ResponseReader,
    Urc,
    format_final,
    format_line,
    format_prompt,
    parse_command_line,
    quoted_args,
    split_args,
)
from cellfleet.modem.errors import CME_TEXT, AtError, AtSyntaxError
from cellfleet.modem.urc import CregInfo, creg_shape, is_urc, parse_creg

A, S, R, T = "action", "set", "read", "test"

# ---------------------------------------------------------------------------------------------
# Command line syntax

#: Every example command of the reference §3/§4/§6 tables and client sequences, with the commands
#: V.250 §5 makes of it.
REFERENCE_LINES = [
    ("AT", []),
    ("ATE0", [Command("E", A, "0")]),
    ("ATE1", [Command("E", A, "1")]),
    ("ATV1", [Command("V", A, "1")]),
    ("ATQ0", [Command("Q", A, "0")]),
    ("ATX4", [Command("X", A, "4")]),
    ("AT&C1", [Command("&C", A, "1")]),
    ("AT&D2", [Command("&D", A, "2")]),
    ("ATZ", [Command("Z", A, "")]),
    ("AT&F", [Command("&F", A, "")]),
    ("AT&W", [Command("&W", A, "")]),
    ("AT&W0", [Command("&W", A, "0")]),
    ("ATI", [Command("I", A, "")]),
    ("ATS0=0", [Command("S0", S, "0")]),
    ("ATS3?", [Command("S3", R)]),
    ("AT+GCAP", [Command("+GCAP", A)]),
    ("AT+CGMI", [Command("+CGMI", A)]),
    ("AT+GMI", [Command("+GMI", A)]),
    ("AT+CGMM", [Command("+CGMM", A)]),
    ("AT+CGMR", [Command("+CGMR", A)]),
    ("AT+QGMR", [Command("+QGMR", A)]),
    ("AT+CGSN", [Command("+CGSN", A)]),
    ("AT+CGSN=1", [Command("+CGSN", S, "1")]),
    ("AT+CIMI", [Command("+CIMI", A)]),
    ("AT+QCCID", [Command("+QCCID", A)]),
    ("AT+CCID", [Command("+CCID", A)]),
    ("AT+ICCID", [Command("+ICCID", A)]),
    ("AT#CCID", [Command("#CCID", A)]),
    ("AT%XICCID", [Command("%XICCID", A)]),
    ("AT+CRSM=176,12258,0,0,10", [Command("+CRSM", S, "176,12258,0,0,10")]),
    ("AT+CPIN?", [Command("+CPIN", R)]),
    ('AT+CPIN="1234"', [Command("+CPIN", S, '"1234"')]),
    ("AT+CFUN?", [Command("+CFUN", R)]),
    ("AT+CFUN=?", [Command("+CFUN", T)]),
    ("AT+CFUN=4", [Command("+CFUN", S, "4")]),
    ("AT+CFUN=1,1", [Command("+CFUN", S, "1,1")]),
    ("AT+CFUN=16", [Command("+CFUN", S, "16")]),
    ("AT+CRESET", [Command("+CRESET", A)]),
    ("AT+QPOWD=1", [Command("+QPOWD", S, "1")]),
    ("AT+CMEE=1", [Command("+CMEE", S, "1")]),
    ("AT+CEREG=2", [Command("+CEREG", S, "2")]),
    ("AT+CEREG?", [Command("+CEREG", R)]),
    ("AT+COPS?", [Command("+COPS", R)]),
    ("AT+COPS=3,2;+COPS?", [Command("+COPS", S, "3,2"), Command("+COPS", R)]),
    ("AT+COPS=?", [Command("+COPS", T)]),
    ("AT+CSQ", [Command("+CSQ", A)]),
    ("AT+CESQ", [Command("+CESQ", A)]),
    ('AT+CGDCONT=1,"IP","internet"', [Command("+CGDCONT", S, '1,"IP","internet"')]),
    ("AT+CGDCONT?", [Command("+CGDCONT", R)]),
    ("AT+CGACT=1,1", [Command("+CGACT", S, "1,1")]),
    ("AT+CGATT?", [Command("+CGATT", R)]),
    ("AT+CGPADDR=1", [Command("+CGPADDR", S, "1")]),
    ("AT+CGPADDR", [Command("+CGPADDR", A)]),
    ("AT+CGEREP=2", [Command("+CGEREP", S, "2")]),
    ('AT+CPSMS=1,,,"00100001","00000101"', [Command("+CPSMS", S, '1,,,"00100001","00000101"')]),
    ('AT+CEDRXS=2,4,"0101"', [Command("+CEDRXS", S, '2,4,"0101"')]),
    ("AT+CMGF=0", [Command("+CMGF", S, "0")]),
    ('AT+CSCS="GSM"', [Command("+CSCS", S, '"GSM"')]),
    ("AT+CSCS=?", [Command("+CSCS", T)]),
    ("AT+CSCA?", [Command("+CSCA", R)]),
    ("AT+CSMP=49,167,0,0", [Command("+CSMP", S, "49,167,0,0")]),
    ("AT+CPMS=?", [Command("+CPMS", T)]),
    ('AT+CPMS="ME","ME","ME"', [Command("+CPMS", S, '"ME","ME","ME"')]),
    ("AT+CNMI=2,1,0,2", [Command("+CNMI", S, "2,1,0,2")]),
    ("AT+CNMI=2,1,2,2,0", [Command("+CNMI", S, "2,1,2,2,0")]),
    ("AT+CMGS=28", [Command("+CMGS", S, "28")]),
    ("AT+CMGR=3", [Command("+CMGR", S, "3")]),
    ('AT+CMGL="ALL"', [Command("+CMGL", S, '"ALL"')]),
    ("AT+CMGL=4", [Command("+CMGL", S, "4")]),
    ("AT+CMGD=1,3", [Command("+CMGD", S, "1,3")]),
    ("AT+CLAC", [Command("+CLAC", A)]),
    ("AT+CCLK?", [Command("+CCLK", R)]),
    ("AT+CMUX=0,0,5,127", [Command("+CMUX", S, "0,0,5,127")]),
    ("ATD*99***1#", [Command("D", A, "*99***1#")]),
    ("AT+ZPAS?", [Command("+ZPAS", R)]),
    ("AT^CVOICE=?", [Command("^CVOICE", T)]),
    ("AT^SBNR=?", [Command("^SBNR", T)]),
    ("AT$TSSPCSW=?", [Command("$TSSPCSW", T)]),
    ("AT+MODE=2", [Command("+MODE", S, "2")]),
    ('AT+QCFG="iotopmode"', [Command("+QCFG", S, '"iotopmode"')]),
    ("AT+QNWINFO", [Command("+QNWINFO", A)]),
    ('AT+QENG="servingcell"', [Command("+QENG", S, '"servingcell"')]),
    ('AT+QICSGP=1,1,"apn","","",1', [Command("+QICSGP", S, '1,1,"apn","","",1')]),
    ("AT+QIACT=1", [Command("+QIACT", S, "1")]),
    ('AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,0', [Command("+QIOPEN", S, '1,0,"TCP","1.2.3.4",80,0,0')]),
    ("AT+QISEND=0,5", [Command("+QISEND", S, "0,5")]),
    ('AT+QISENDEX=0,"68656C6C6F"', [Command("+QISENDEX", S, '0,"68656C6C6F"')]),
    ("AT+QIRD=0,1500", [Command("+QIRD", S, "0,1500")]),
    ("AT+QICLOSE=0", [Command("+QICLOSE", S, "0")]),
    ("AT+USOCR=6", [Command("+USOCR", S, "6")]),
    ('AT+USOCO=0,"1.2.3.4",80', [Command("+USOCO", S, '0,"1.2.3.4",80')]),
    ('AT+USOWR=0,5,"hello"', [Command("+USOWR", S, '0,5,"hello"')]),
    ('AT+USOST=0,"1.2.3.4",5000,5,"hello"', [Command("+USOST", S, '0,"1.2.3.4",5000,5,"hello"')]),
    ("AT%XSYSTEMMODE=1,0,0,0", [Command("%XSYSTEMMODE", S, "1,0,0,0")]),
    ("AT#XSOCKET=1,1,0", [Command("#XSOCKET", S, "1,1,0")]),
    ("AT*CNTI=0", [Command("*CNTI", S, "0")]),
    # ModemManager's primary init and the dialer-style init (reference §3, §6.3)
    ("ATE0 V1 +CMEE=1 X4 &C1", [Command("E", A, "0"), Command("V", A, "1"), Command("+CMEE", S, "1X4&C1")]),
    (
        "ATQ0 V1 E1 S0=0 &C1 &D2",
        [
            Command("Q", A, "0"),
            Command("V", A, "1"),
            Command("E", A, "1"),
            Command("S0", S, "0"),
            Command("&C", A, "1"),
            Command("&D", A, "2"),
        ],
    ),
    ("ATE0V1", [Command("E", A, "0"), Command("V", A, "1")]),
    ("ATE0;+CMEE=1;+CREG?", [Command("E", A, "0"), Command("+CMEE", S, "1"), Command("+CREG", R)]),
]


@pytest.mark.parametrize(("line", "expected"), REFERENCE_LINES)
def test_reference_command_lines_parse(line, expected):
    assert line[:2] == "AT"
    assert parse_command_line(line[2:]) == expected


def test_names_are_case_insensitive_and_upper_cased():
    assert parse_command_line("+cgmi") == [Command("+CGMI", A)]
    assert parse_command_line("+CsQ") == [Command("+CSQ", A)]
    assert parse_command_line("e0v1") == [Command("E", A, "0"), Command("V", A, "1")]
    assert parse_command_line("%xiccid") == [Command("%XICCID", A)]


def test_blanks_outside_strings_are_ignored_inside_kept():
    """V.250 §5.2.1: spaces are ignored except in string constants."""
    assert parse_command_line(" + COPS = 3 , 2 ") == [Command("+COPS", S, "3,2")]
    assert parse_command_line('+CGDCONT=1,"IP","my apn"') == [Command("+CGDCONT", S, '1,"IP","my apn"')]


def test_strings_may_hold_separators():
    assert parse_command_line('+CMGS="+1;2,3";+CSQ') == [Command("+CMGS", S, '"+1;2,3"'), Command("+CSQ", A)]


def test_dial_takes_the_rest_of_the_line():
    """V.250 §6.3.1: a ';' at the end of a dial string is the voice-call modifier, not a separator."""
    assert parse_command_line("D+15551234567;") == [Command("D", A, "+15551234567;")]
    assert parse_command_line("E0D*99#") == [Command("E", A, "0"), Command("D", A, "*99#")]


def test_s_parameter_forms():
    assert parse_command_line("S7=60S0?S3=?S10") == [
        Command("S7", S, "60"),
        Command("S0", R),
        Command("S3", T),
        Command("S10", A),
    ]


@pytest.mark.parametrize(
    "body",
    ['+CGDCONT=1,"IP', "+", "+=1", "+CSQ?X", "+CSQ=?1", "!", "+CGMI+CGMM", '"abc"', "1"],
)
def test_malformed_lines_raise_syntax_errors(body):
    with pytest.raises(AtSyntaxError):
        parse_command_line(body)


def test_empty_and_separator_only_bodies():
    assert parse_command_line("") == []
    assert parse_command_line(" ; ;") == []


def test_split_args():
    assert split_args('1,"IP","internet",,5') == ["1", "IP", "internet", None, "5"]
    assert split_args("") == []
    assert split_args('""') == [""]
    assert split_args(",") == [None, None]
    assert split_args('"a,b;c", 7') == ["a,b;c", "7"]
    assert split_args(r'"\22q\22"') == ['"q"']  # V.250 §5.4.2.2 \HH escapes


def test_quoted_args_reports_quoting():
    assert quoted_args('1,"IP",,"00"') == [Arg("1", False), Arg("IP", True), Arg(None, False), Arg("00", True)]


def test_split_args_unterminated_string():
    with pytest.raises(AtSyntaxError):
        split_args('1,"IP')


# Round trip: commands rendered as a V.250 line parse back to themselves.
_BASIC_NAMES = st.sampled_from(["E", "V", "Q", "X", "Z", "I", "H", "O", "&C", "&D", "&F", "&W", "&V"])
_EXT_NAMES = st.builds(
    lambda prefix, head, tail: prefix + head + tail,
    st.sampled_from(list("+%^$#*")),
    st.sampled_from(list("ABCGQUXZ")),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=8),
)
_UNQUOTED = st.text(alphabet="0123456789ABCDEFabcdef.", min_size=1, max_size=6)
_QUOTED = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=8
).map(lambda s: f'"{s}"')
_ARGS = st.lists(st.one_of(_UNQUOTED, _QUOTED, st.just("")), min_size=1, max_size=5).map(",".join)


@st.composite
def _commands(draw) -> list[Command]:
    commands = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["basic", "s", "ext"]))
        if kind == "basic":
            commands.append(Command(draw(_BASIC_NAMES), A, draw(st.text(alphabet="0123456789", max_size=3))))
        elif kind == "s":
            number = draw(st.integers(0, 99))
            form = draw(st.sampled_from([A, S, R, T]))
            commands.append(Command(f"S{number}", form, str(draw(st.integers(0, 255))) if form == S else ""))
        else:
            form = draw(st.sampled_from([A, S, R, T]))
            commands.append(Command(draw(_EXT_NAMES), form, draw(_ARGS) if form == S else ""))
    if draw(st.booleans()):
        commands.append(Command("D", A, draw(st.text(alphabet="0123456789*#+;", max_size=12))))
    return commands


def _render(commands: list[Command], case_flip: bool) -> str:
    parts = []
    for index, cmd in enumerate(commands):
        name = cmd.name.lower() if case_flip else cmd.name
        if cmd.name[0] in "+%^$#*":
            suffix = {A: "", S: "=" + cmd.args, R: "?", T: "=?"}[cmd.form]
            parts.append(name + suffix + (";" if index + 1 < len(commands) else ""))
        elif cmd.name.startswith("S") and cmd.name[1:].isdigit():
            parts.append(name + {A: "", S: "=" + cmd.args, R: "?", T: "=?"}[cmd.form])
            if cmd.form == A and index + 1 < len(commands):
                parts.append(";")  # "S1" followed by digits would merge
        else:
            parts.append(name + cmd.args)
    return "".join(parts)


@settings(max_examples=300)
@given(_commands(), st.booleans())
def test_rendered_commands_parse_back(commands, case_flip):
    assert parse_command_line(_render(commands, case_flip)) == commands


@settings(max_examples=500)
@given(st.text(max_size=60))
def test_parse_command_line_raises_only_syntax_errors(body):
    try:
        result = parse_command_line(body)
    except AtError as exc:
        assert isinstance(exc, AtSyntaxError)
    else:
        assert all(isinstance(cmd, Command) and cmd.name == cmd.name.upper() for cmd in result)


# ---------------------------------------------------------------------------------------------
# CommandLineReader (modem side)


def _feed_all(reader, chunks):
    events = []
    for chunk in chunks:
        events.extend(reader.feed(chunk))
    return events


def test_command_line_ends_at_cr_and_ignores_the_following_lf():
    reader = CommandLineReader()
    assert reader.feed(b"AT+CGMI\r\nAT\r") == [LineEvent("AT+CGMI"), LineEvent("AT")]


def test_lone_lf_ends_a_line_and_prefix_case_is_kept():
    reader = CommandLineReader()
    assert reader.feed(b"at+cgmm\nAt\naT\n") == [LineEvent("at+cgmm"), LineEvent("At"), LineEvent("aT")]


def test_byte_by_byte_like_gammu():
    reader = CommandLineReader()
    data = b"AT+CSCS?\rAT+CSCS=?\r\n"
    assert _feed_all(reader, [bytes([b]) for b in data]) == [LineEvent("AT+CSCS?"), LineEvent("AT+CSCS=?")]


def test_garbage_before_the_prefix_is_dropped():
    reader = CommandLineReader()
    assert reader.feed(b"\x1b\r\x00\xffzzAT+CPIN?\r\nnoise\r\n\r\n") == [LineEvent("AT+CPIN?")]


def test_backspace_edits_the_line():
    """V.250 §5.2.2 / §6.2.3: S5 deletes the previous character."""
    reader = CommandLineReader()
    assert reader.feed(b"AT+CGMX\x08I\r") == [LineEvent("AT+CGMI")]
    assert reader.feed(b"\x08\x08AT\x08\x08AT\r") == [LineEvent("AT")]


def test_a_slash_repeats_the_last_line_at_once():
    """V.250 §5.2.4: A/ needs no terminator."""
    reader = CommandLineReader()
    assert reader.feed(b"A/") == [RepeatEvent(None)]
    assert reader.feed(b"AT+CSQ\r") == [LineEvent("AT+CSQ")]
    assert reader.feed(b"a/") == [RepeatEvent("AT+CSQ")]
    assert reader.feed(b"AT\r") == [LineEvent("AT")]


def test_configurable_terminator():
    """V.250 §6.2.1 through the modem (the old version set the reader attribute by hand, which
    the modem never did): after ATS3=33 "!" ends a command line and frames the responses."""
    from cellfleet.modem.virtual import VirtualModem

    modem = VirtualModem()
    modem.power_on(0.0)
    modem.receive(b"ATE0\rATS3=33\r", 0.0)
    assert modem.take_output().endswith(b"ATE0\r\r\nOK\r\n!\nOK!\n")
    modem.receive(b"AT+CGMI!AT", 1.0)
    assert modem.take_output() == b"!\nCellfleet!\n!\nOK!\n"
    assert modem._reader.terminator == ord("!")


def test_ctrl_z_payload_after_prompt():
    reader = CommandLineReader()
    assert reader.feed(b"AT+CMGS=28\r") == [LineEvent("AT+CMGS=28")]
    reader.expect_payload()
    assert reader.in_payload
    assert reader.feed(b"\n0011000B91\x1aAT\r") == [PayloadEvent(b"0011000B91"), LineEvent("AT")]
    assert not reader.in_payload


def test_esc_cancels_the_payload():
    reader = CommandLineReader()
    reader.feed(b"AT+CMGS=28\r\n")
    reader.expect_payload()
    assert _feed_all(reader, [b"00", b"11\x1b"]) == [PayloadEvent(b"0011", cancelled=True)]


def test_counted_payload_is_raw_bytes():
    reader = CommandLineReader()
    reader.feed(b"AT+QISEND=0,5\r\n")
    reader.expect_payload(until_ctrl_z=False, count=5)
    assert reader.feed(b"\n\x1a\r\x1bzAT\r") == [PayloadEvent(b"\n\x1a\r\x1bz"), LineEvent("AT")]


def test_lf_of_the_command_terminator_arriving_late_is_not_payload():
    reader = CommandLineReader()
    reader.feed(b"AT+USOWR=0,2\r")
    reader.expect_payload(count=2)
    assert _feed_all(reader, [b"\n", b"h", b"i"]) == [PayloadEvent(b"hi")]


def test_expect_payload_needs_an_end():
    with pytest.raises(ValueError):
        CommandLineReader().expect_payload(until_ctrl_z=False)
    with pytest.raises(ValueError):
        CommandLineReader().expect_payload(count=0)


def test_command_line_overflow_is_cut_and_reported():
    reader = CommandLineReader(max_line_bytes=16)
    events = reader.feed(b"AT+" + b"1" * 30 + b"\rAT\r")
    assert events == [LineOverflow("AT+" + "1" * 13, 17), LineEvent("AT")]


def test_payload_overflow_is_cancelled():
    reader = CommandLineReader(max_line_bytes=8)
    reader.expect_payload()
    assert reader.feed(b"x" * 20 + b"\x1a") == [PayloadEvent(b"x" * 8, cancelled=True, overflowed=True)]


@settings(max_examples=300)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=10))
def test_command_reader_is_chunking_invariant(data, cuts):
    whole = CommandLineReader(max_line_bytes=64).feed(data)
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    assert _feed_all(CommandLineReader(max_line_bytes=64), pieces) == whole


@settings(max_examples=200)
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_command_reader_still_parses_at_after_garbage(garbage, payload):
    reader = CommandLineReader()
    reader.feed(garbage)
    reader.expect_payload()
    reader.feed(payload + b"\x1b")
    assert reader.feed(b"\rAT\r")[-1] == LineEvent("AT")


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_lines_from_arbitrary_bytes_parse_or_raise_syntax_errors(data):
    for event in CommandLineReader().feed(data + b"\r"):
        assert isinstance(event, (LineEvent, RepeatEvent))
        if isinstance(event, LineEvent):
            assert event.text[:2].upper() == "AT"
            try:
                parse_command_line(event.text[2:])
            except AtError as exc:
                assert isinstance(exc, AtSyntaxError)


# ---------------------------------------------------------------------------------------------
# ResponseReader (host side)


def _read(command: str | None, data: bytes, reader: ResponseReader | None = None):
    reader = reader or ResponseReader()
    if command is not None:
        reader.command_sent(command)
    return reader.feed(data)


def test_echo_info_final():
    assert _read("AT+CGMI", b"AT+CGMI\r\r\nQuectel\r\n\r\nOK\r\n") == [
        Echo("AT+CGMI"),
        InfoLine("Quectel"),
        Final("OK", "OK"),
    ]


def test_echo_including_the_hosts_lf_and_bare_info_lines():
    assert _read("AT+CGSN\r\n", b"AT+CGSN\r\n\r\n866425030000000\r\n\r\nOK\r\n") == [
        Echo("AT+CGSN"),
        InfoLine("866425030000000"),
        Final("OK", "OK"),
    ]


def test_multi_line_ati_without_echo():
    assert _read("ATI", b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n") == [
        InfoLine("Quectel"),
        InfoLine("BG96"),
        InfoLine("Revision: BG96MAR02A07M1G"),
        Final("OK", "OK"),
    ]


@pytest.mark.parametrize(
    ("line", "final"),
    [
        ("ERROR", Final("ERROR", "ERROR")),
        ("+CME ERROR: 10", Final("+CME ERROR: 10", "CME", 10)),
        ("+CME ERROR: SIM not inserted", Final("+CME ERROR: SIM not inserted", "CME", 10)),
        ("+CME ERROR: flux capacitor", Final("+CME ERROR: flux capacitor", "CME", None)),
        ("+CMS ERROR: 330", Final("+CMS ERROR: 330", "CMS", 330)),
        ("NO CARRIER", Final("NO CARRIER", "NO CARRIER")),
        ("CONNECT", Final("CONNECT", "CONNECT")),
        ("CONNECT 115200", Final("CONNECT 115200", "CONNECT")),
        ("BUSY", Final("BUSY", "BUSY")),
        ("NO ANSWER", Final("NO ANSWER", "NO ANSWER")),
        ("NO DIALTONE", Final("NO DIALTONE", "NO DIALTONE")),
        ("COMMAND NOT SUPPORT", Final("COMMAND NOT SUPPORT", "ERROR")),
    ],
)
def test_final_result_codes(line, final):
    assert _read("AT+X", f"\r\n{line}\r\n".encode()) == [final]


#: Command -> answer lines of the reference §3/§4 tables (echo off), each ending in OK.
REFERENCE_ANSWERS = [
    ("ATI", ["Quectel", "BG96", "Revision: BG96MAR02A07M1G"]),
    ("AT+GCAP", ["+GCAP: +CGSM"]),
    ("AT+CGMR", ["BG96MAR02A07M1G"]),
    ("AT+CGSN=1", ['+CGSN: "866425030000000"']),
    ("AT+CIMI", ["001010123456789"]),
    ("AT+CRSM=176,12258,0,0,10", ['+CRSM: 144,0,"98101430121181157002"']),
    ("AT+CPIN?", ["+CPIN: SIM PIN"]),
    ("AT+CFUN?", ["+CFUN: 1"]),
    ("AT+CEREG?", ['+CEREG: 2,1,"002F","0012BEEF",7']),
    ("AT+COPS?", ['+COPS: 0,0,"Test Network",7']),
    ("AT+COPS=3,2;+COPS?", ['+COPS: 0,2,"00101",7']),
    ("AT+COPS=?", ['+COPS: (2,"T-Mobile","TMO","31026",7),(1,"AT&T","AT&T","310410",7),,(0,1,2,3,4),(0,1,2)']),
    ("AT+CSQ", ["+CSQ: 20,99"]),
    ("AT+CESQ", ["+CESQ: 99,99,255,255,20,50"]),
    ("AT+CGDCONT?", ['+CGDCONT: 1,"IP","internet","0.0.0.0",0,0,0,0']),
    ("AT+CGACT?", ["+CGACT: 1,1"]),
    ("AT+CGATT?", ["+CGATT: 1"]),
    ("AT+CGPADDR=1", ['+CGPADDR: 1,"10.0.0.2"']),
    ("AT+CSCS?", ['+CSCS: "GSM"']),
    ("AT+CSCA?", ['+CSCA: "+10000000000",145']),
    ("AT+CPMS=?", ['+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")']),
    ('AT+CPMS="ME","ME","ME"', ["+CPMS: 0,255,0,255,0,255"]),
    ("AT+CCLK?", ['+CCLK: "24/01/01,12:00:00+00"']),
    ('AT+QCFG="band"', ['+QCFG: "band",0xf,0x400a0e189f,0xa0e189f']),
    ("AT+QNWINFO", ['+QNWINFO: "CAT-M1","00101","LTE BAND 3",1650']),
    (
        'AT+QENG="servingcell"',
        ['+QENG: "servingcell","NOCONN","LTE","FDD",214,01,7676A09,188,6300,20,3,3,603,-104,-9,-78,11,23'],
    ),
    ("AT+QIACT?", ['+QIACT: 1,1,1,"10.7.76.34"']),
    ("AT+QISEND=0,0", ["+QISEND: 10,10,0"]),
    ("AT+USOCR=6", ["+USOCR: 0"]),
    ('AT+USOWR=0,5,"hello"', ["+USOWR: 0,5"]),
    ("AT+USORD=0,5", ['+USORD: 0,5,"hello"']),
    ("AT+USORF=0,5", ['+USORF: 0,"1.2.3.4",5000,5,"hello"']),
]


@pytest.mark.parametrize(("command", "lines"), REFERENCE_ANSWERS)
def test_reference_answers_are_info_lines(command, lines):
    data = b"".join(format_line(line) for line in lines) + format_final("OK")
    assert _read(command, data) == [*(InfoLine(line) for line in lines), Final("OK", "OK")]


def test_reference_urcs_after_ok():
    """``AT+CFUN=4`` -> OK, then ``+CEREG: 0``; ``AT+CEDRXS=2,4,"0101"`` -> OK, then +CEDRXP."""
    assert _read("AT+CFUN=4", b"\r\nOK\r\n\r\n+CEREG: 0\r\n") == [Final("OK", "OK"), Urc("+CEREG: 0")]
    data = b'\r\nOK\r\n\r\n+CEDRXP: 4,"0101","0101","0011"\r\n\r\n+CGEV: ME PDN ACT 1\r\n'
    assert _read('AT+CEDRXS=2,4,"0101"', data) == [
        Final("OK", "OK"),
        Urc('+CEDRXP: 4,"0101","0101","0011"'),
        Urc("+CGEV: ME PDN ACT 1"),
    ]
    assert _read("AT+USOCL=0", b"\r\nOK\r\n\r\n+UUSOCL: 0\r\n\r\n+UUSORD: 1,5\r\n") == [
        Final("OK", "OK"),
        Urc("+UUSOCL: 0"),
        Urc("+UUSORD: 1,5"),
    ]


def test_urc_between_echo_info_and_final():
    data = b'AT+CSQ\r\r\n+CEREG: 1\r\n\r\n+CSQ: 20,99\r\n\r\n+CMTI: "ME",3\r\n\r\nOK\r\n'
    assert _read("AT+CSQ", data) == [
        Echo("AT+CSQ"),
        Urc("+CEREG: 1"),
        InfoLine("+CSQ: 20,99"),
        Urc('+CMTI: "ME",3'),
        Final("OK", "OK"),
    ]


def test_cereg_read_answer_versus_urc_while_read_pending():
    data = b'\r\n+CEREG: 1,"002F","0012BEEF",7\r\n\r\n+CEREG: 2,1,"002F","0012BEEF",7\r\n\r\nOK\r\n'
    assert _read("AT+CEREG?", data) == [
        Urc('+CEREG: 1,"002F","0012BEEF",7'),
        InfoLine('+CEREG: 2,1,"002F","0012BEEF",7'),
        Final("OK", "OK"),
    ]


def test_chained_creg_set_and_read():
    data = b'\r\n+CREG: 2,1,"1A2B","01A2D301",7\r\n\r\n+CREG: 1,"1A2B","01A2D301",7\r\n\r\nOK\r\n'
    assert _read("AT+CREG=2;+CREG?", data) == [
        InfoLine('+CREG: 2,1,"1A2B","01A2D301",7'),
        Urc('+CREG: 1,"1A2B","01A2D301",7'),
        Final("OK", "OK"),
    ]


def test_cpin_read_owns_ready_but_set_and_idle_do_not():
    reader = ResponseReader()
    assert _read("AT+CPIN?", b"\r\n+CPIN: READY\r\n\r\nOK\r\n", reader) == [InfoLine("+CPIN: READY"), Final("OK", "OK")]
    assert _read('AT+CPIN="1234"', b"\r\n+CPIN: READY\r\n\r\nOK\r\n\r\n+CPIN: READY\r\n", reader) == [
        Urc("+CPIN: READY"),
        Final("OK", "OK"),
        Urc("+CPIN: READY"),
    ]


def test_qiopen_result_after_ok_is_a_urc():
    assert _read('AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,0', b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n") == [
        Final("OK", "OK"),
        Urc("+QIOPEN: 0,0"),
    ]


def test_boot_urcs_with_nothing_pending():
    data = b"\r\nRDY\r\n\r\nAPP RDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"
    data += b"\r\nSMS Ready\r\n\r\nPB DONE\r\n\r\n+AT: READY\r\n\r\nReady\r\n"
    texts = ["RDY", "APP RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "SMS Ready", "PB DONE"]
    assert _read(None, data) == [Urc(t) for t in [*texts, "+AT: READY", "Ready"]]


def test_unknown_line_with_nothing_pending_is_an_unknown_urc():
    assert _read(None, b'\r\n+QGPSURC: "x"\r\n') == [Urc('+QGPSURC: "x"', known=False)]
    assert _read(None, b"\r\n>hello\r\n") == [Urc(">hello", known=False)]


def test_sms_prompt_payload_echo_and_result():
    reader = ResponseReader()
    assert _read("AT+CMGS=28", b"AT+CMGS=28\r\r\n> ", reader) == [Echo("AT+CMGS=28"), Prompt(">")]
    reader.payload_sent(b"0011000B91\x1a")
    assert reader.feed(b"0011000B91\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n") == [
        Echo("0011000B91\x1a"),
        InfoLine("+CMGS: 7"),
        Final("OK", "OK"),
    ]


def test_quectel_send_ok_and_fail_are_finals():
    reader = ResponseReader()
    assert _read("AT+QISEND=0,5", b"\r\n> ", reader) == [Prompt(">")]
    assert reader.feed(b"\r\nSEND OK\r\n") == [Final("SEND OK", "SEND OK")]
    assert _read("AT+QISEND=0,5", b"\r\n> \r\nSEND FAIL\r\n", reader) == [Prompt(">"), Final("SEND FAIL", "SEND FAIL")]


def test_ublox_at_prompt():
    reader = ResponseReader()
    assert _read("AT+USOWR=0,5", b"\r\n@", reader) == [Prompt("@")]
    assert reader.feed(b"\r\n+USOWR: 0,5\r\n\r\nOK\r\n") == [InfoLine("+USOWR: 0,5"), Final("OK", "OK")]


def test_text_sms_bodies_are_data_even_when_they_look_like_finals_or_prompts():
    header = b'+CMGR: "REC UNREAD","+15551234567",,"24/01/01,12:00:00+00"'
    for body in (b"OK", b"@home", b"> quoted", b"RING", b""):
        events = _read("AT+CMGR=1", b"\r\n" + header + b"\r\n" + body + b"\r\n\r\nOK\r\n")
        assert events == [InfoLine(header.decode()), InfoLine(body.decode(), data_line=True), Final("OK", "OK")], body


def test_pdu_cmgr_and_cmgl():
    pdu = b"07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    assert _read("AT+CMGR=3", b"\r\n+CMGR: 0,,28\r\n" + pdu + b"\r\n\r\nOK\r\n") == [
        InfoLine("+CMGR: 0,,28"),
        InfoLine(pdu.decode(), data_line=True),
        Final("OK", "OK"),
    ]
    data = b"\r\n+CMGL: 1,0,,28\r\nAA\r\n+CMGL: 2,1,,28\r\nBB\r\n\r\nOK\r\n"
    assert _read("AT+CMGL=4", data) == [
        InfoLine("+CMGL: 1,0,,28"),
        InfoLine("AA", data_line=True),
        InfoLine("+CMGL: 2,1,,28"),
        InfoLine("BB", data_line=True),
        Final("OK", "OK"),
    ]


def test_cmt_urc_carries_its_pdu_line():
    assert _read(None, b'\r\n+CMT: ,28\r\n0791AB\r\n\r\n+CDS: 2,7,"+1555",145\r\n') == [
        Urc("+CMT: ,28", b"0791AB"),
        Urc('+CDS: 2,7,"+1555",145'),
    ]
    assert _read("AT+CSQ", b"\r\n+CDS: 25\r\n0011\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n") == [
        Urc("+CDS: 25", b"0011"),
        InfoLine("+CSQ: 20,99"),
        Final("OK", "OK"),
    ]


def test_overflowing_cmt_data_line_still_reports_the_header():
    reader = ResponseReader(max_line_bytes=16)
    assert reader.feed(b"\r\n+CMT: ,28\r\n" + b"F" * 20 + b"\r\n\r\n+CEREG: 1\r\n") == [
        Urc("+CMT: ,28"),
        Overflow("F" * 16, 4),
        Urc("+CEREG: 1"),
    ]


def test_quectel_qird_data_may_hold_line_ends():
    assert _read("AT+QIRD=0,1500", b"\r\n+QIRD: 5\r\nhe\r\nl\r\n\r\nOK\r\n") == [
        InfoLine("+QIRD: 5", b"he\r\nl"),
        Final("OK", "OK"),
    ]
    assert _read("AT+QIRD=0,0", b"\r\n+QIRD: 10,5,5\r\n\r\nOK\r\n") == [InfoLine("+QIRD: 10,5,5"), Final("OK", "OK")]
    assert _read("AT+QIRD=0,1500", b'\r\n+QIRD: 2,"1.2.3.4",5000\r\nhi\r\n\r\nOK\r\n') == [
        InfoLine('+QIRD: 2,"1.2.3.4",5000', b"hi"),
        Final("OK", "OK"),
    ]


def test_quectel_direct_push_urc_carries_its_bytes():
    assert _read(None, b'\r\n+QIURC: "recv",0,4\r\nab\r\n\r\n+QIURC: "recv",1\r\n') == [
        Urc('+QIURC: "recv",0,4', b"ab\r\n"),
        Urc('+QIURC: "recv",1'),
    ]


def test_simcom_connect_ok_is_a_urc_not_a_final():
    assert _read('AT+CIPSTART="TCP","1.2.3.4",80', b"\r\nOK\r\n\r\nCONNECT OK\r\n") == [
        Final("OK", "OK"),
        Urc("CONNECT OK"),
    ]


def test_numeric_results_after_atv0():
    reader = ResponseReader()
    assert _read("ATV0", b"ATV0\r0\r", reader) == [Echo("ATV0"), Final("0", "OK")]
    assert _read("AT+CGMI", b"Quectel\r\n0\r", reader) == [InfoLine("Quectel"), Final("0", "OK")]
    assert _read("AT+ZPAS?", b"4\r", reader) == [Final("4", "ERROR")]
    assert _read("AT+CIMI", b"+CME ERROR: 10\r", reader) == [Final("+CME ERROR: 10", "CME", 10)]
    assert reader.feed(b"2\r") == [Urc("2")]  # RING


def test_a_digit_is_an_info_line_once_verbose_results_are_seen():
    reader = ResponseReader()
    _read("AT", b"\r\nOK\r\n", reader)
    assert _read("AT+FOO", b"\r\n0\r\n\r\nOK\r\n", reader) == [InfoLine("0"), Final("OK", "OK")]
    assert _read("ATV0", b"0\r", reader) == [Final("0", "OK")]


def test_line_overflow_is_cut_and_reported():
    reader = ResponseReader(max_line_bytes=16)
    reader.command_sent("AT+X")
    assert reader.feed(b"\r\n" + b"Z" * 40 + b"\r\n\r\nOK\r\n") == [Overflow("Z" * 16, 24), Final("OK", "OK")]


def test_custom_urc_prefixes():
    reader = ResponseReader(urc_prefixes=("+QGPSURC",))
    reader.command_sent("AT+CSQ")
    assert reader.feed(b'\r\n+QGPSURC: "x"\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n') == [
        Urc('+QGPSURC: "x"'),
        InfoLine("+CEREG: 1"),
        Final("OK", "OK"),
    ]


TRANSCRIPT = [
    ("ATE1", b"ATE1\r\r\nOK\r\n"),
    ("AT+CGMI", b"AT+CGMI\r\r\nQuectel\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n"),
    ("AT+CEREG?", b'AT+CEREG?\r\r\n+CEREG: 2,1,"002F","0012BEEF",7\r\n\r\nOK\r\n'),
    ("AT+CMGS=5", b"AT+CMGS=5\r\r\n> "),
    (None, b"\r\n+CMGS: 7\r\n\r\nOK\r\n\r\n+CMT: ,28\r\n0791\r\n"),
    ("AT+QIRD=0,1500", b"\r\n+QIRD: 5\r\nh\r\nlo\r\n\r\nOK\r\n"),
]


def _transcript_events(split):
    reader = ResponseReader()
    events = []
    for command, data in TRANSCRIPT:
        if command is not None:
            reader.command_sent(command)
        events.extend(_feed_all(reader, split(data)))
    return events


def test_transcript_events_are_exact_and_chunking_invariant():
    whole = _transcript_events(lambda d: [d])
    assert whole == [
        Echo("ATE1"),
        Final("OK", "OK"),
        Echo("AT+CGMI"),
        InfoLine("Quectel"),
        Urc("+CEREG: 1"),
        Final("OK", "OK"),
        Echo("AT+CEREG?"),
        InfoLine('+CEREG: 2,1,"002F","0012BEEF",7'),
        Final("OK", "OK"),
        Echo("AT+CMGS=5"),
        Prompt(">"),
        InfoLine("+CMGS: 7"),
        Final("OK", "OK"),
        Urc("+CMT: ,28", b"0791"),
        InfoLine("+QIRD: 5", b"h\r\nlo"),
        Final("OK", "OK"),
    ]
    assert _transcript_events(lambda d: [bytes([b]) for b in d]) == whole


@settings(max_examples=300)
@given(
    st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=12), st.sampled_from([None, "AT+CSQ", "AT+CMGS=5"])
)
def test_response_reader_never_raises_and_is_chunking_invariant(data, cuts, command):
    def run(pieces):
        reader = ResponseReader(max_line_bytes=64)
        if command is not None:
            reader.command_sent(command)
        return _feed_all(reader, pieces)

    whole = run([data])
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    assert run([data[a:b] for a, b in itertools.pairwise(points)]) == whole


# ---------------------------------------------------------------------------------------------
# Formatting (modem side) and round trips through the ResponseReader


def test_format_line():
    assert format_line("Quectel") == b"\r\nQuectel\r\n"
    assert format_line("Quectel", verbose=False) == b"Quectel\r\n"


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("OK",), {}, b"\r\nOK\r\n"),
        (("OK",), {"verbose": False}, b"0\r"),
        (("ERROR",), {"verbose": False}, b"4\r"),
        (("NO CARRIER",), {"verbose": False}, b"3\r"),
        (("CONNECT",), {"verbose": False}, b"1\r"),
        (("BUSY",), {"verbose": False}, b"7\r"),
        (("NO ANSWER",), {"verbose": False}, b"8\r"),
        (("NO DIALTONE",), {"verbose": False}, b"6\r"),
        (("CME", 10), {}, b"\r\n+CME ERROR: 10\r\n"),
        (("CME", 10), {"cmee": 2}, b"\r\n+CME ERROR: SIM not inserted\r\n"),
        (("CME", 10), {"cmee": 0}, b"\r\nERROR\r\n"),
        (("CME", 10), {"cmee": 0, "verbose": False}, b"4\r"),
        (("CME", 10), {"verbose": False}, b"+CME ERROR: 10\r"),
        (("CMS", 330), {}, b"\r\n+CMS ERROR: 330\r\n"),
        (("CMS", 330), {"cmee": 2}, b"\r\n+CMS ERROR: SMSC address unknown\r\n"),
        (("CMS", 330), {"cmee": 0}, b"\r\n+CMS ERROR: 330\r\n"),
        (("SEND OK",), {}, b"\r\nSEND OK\r\n"),
        (("SEND FAIL",), {"verbose": False}, b"SEND FAIL\r"),
    ],
)
def test_format_final(args, kwargs, expected):
    assert format_final(*args, **kwargs) == expected


def test_format_final_rejects_missing_codes_and_unknown_kinds():
    with pytest.raises(ValueError):
        format_final("CME")
    with pytest.raises(ValueError):
        format_final("MAYBE")  # type: ignore[arg-type]


def test_format_prompt():
    assert format_prompt() == b"\r\n> "
    assert format_prompt("@") == b"\r\n@"


@pytest.mark.parametrize("code", sorted(c for c in CME_TEXT if c not in (513, 514, 518, 519)))
@pytest.mark.parametrize("cmee", [1, 2])
def test_every_cme_code_survives_format_and_read(code, cmee):
    reader = ResponseReader()
    reader.command_sent("AT+X")
    assert reader.feed(format_final("CME", code, cmee=cmee)) == [
        Final(f"+CME ERROR: {code if cmee == 1 else CME_TEXT[code]}", "CME", code)
    ]


@pytest.mark.parametrize("kind", ["OK", "ERROR", "NO CARRIER", "CONNECT", "BUSY", "NO ANSWER", "NO DIALTONE"])
@pytest.mark.parametrize("verbose", [True, False])
def test_finals_survive_format_and_read(kind, verbose):
    reader = ResponseReader()
    reader.command_sent("AT+X")
    (event,) = reader.feed(format_line("+X: 1", verbose=verbose) + format_final(kind, verbose=verbose))[1:]
    assert event.kind == kind


@settings(max_examples=200)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=">@+"),
            min_size=1,
            max_size=20,
        ),
        max_size=5,
    ),
    st.booleans(),
)
def test_info_lines_survive_format_and_read(lines, verbose):
    """Lines that are neither finals (nor V0 RING "2"), URCs nor the echo come back as info lines."""
    lines = [
        line
        for line in lines
        if codec.classify_final(line) is None and urc.urc_name(line) is None and line not in ("2", "AT+X")
    ]
    reader = ResponseReader()
    reader.command_sent("AT+X")
    reader.feed(b"\r\nOK\r\n" if verbose else b"0\r")
    reader.command_sent("AT+X")
    data = b"".join(format_line(line, verbose=verbose) for line in lines) + format_final("OK", verbose=verbose)
    assert reader.feed(data) == [*(InfoLine(line) for line in lines), Final("OK" if verbose else "0", "OK")]


# ---------------------------------------------------------------------------------------------
# URC recognition and registration parsing


@pytest.mark.parametrize(
    ("line", "pending", "expected"),
    [
        ("+CEREG: 1", None, True),
        ("+CEREG: 1", "AT+CSQ", True),
        ("+CEREG: 2,1", "AT+CEREG?", False),
        ('+CEREG: 1,"002F","0012BEEF",7', "AT+CEREG?", True),
        ("+CEREG: 1", "AT+CEREG=2", True),
        ("+CEREG: (0-5)", "AT+CEREG=?", False),
        ("+CPIN: READY", "AT+CPIN?", False),
        ("+CPIN: READY", 'AT+CPIN="1234"', True),
        ("+CFUN: 1", "AT+CFUN?", False),
        ("+CFUN: 1", "AT+CFUN=1", True),
        ('+CMTI: "ME",3', "AT+CMGR=3", True),
        ('+CLIP: "+15551234567",145', "AT+CLIP?", True),
        ("+CLIP: 1,1", "AT+CLIP?", False),
        ("+QIOPEN: 0,0", 'AT+QIOPEN=1,0,"TCP","1.2.3.4",80', True),
        ("#XSOCKET: 0,1,6", "AT#XSOCKET=1,1,0", False),
        ("+CSQ: 20,99", None, False),
        ("RING", "AT+CSQ", True),
        ("RINGBACK", None, False),
        ('+CMTI: "SM",1', None, True),
        ("+RECEIVE,0,5", None, True),
        ("+CEREG: 2,1", "AT+CSQ;+CEREG?", False),
        ("+CEREG: 2,1", 'AT+CGDCONT=1,"IP', True),  # unparsable pending line: nothing owned
    ],
)
def test_is_urc(line, pending, expected):
    assert is_urc(line, pending) is expected


def test_is_urc_accepts_parsed_commands():
    assert not is_urc("+CEREG: 2,1", [Command("+CEREG", R)])
    assert is_urc("+CEREG: 2,1", [Command("+CEREG", S, "2")])


def test_is_urc_with_own_prefixes():
    assert is_urc("+QGPSURC: 1", None, prefixes=("+QGPSURC",))
    assert not is_urc("+CEREG: 1", None, prefixes=("+QGPSURC",))


#: (line, solicited per ModemManager, expected CregInfo)
MM_VECTORS = [
    ("+CREG: 1,3", True, CregInfo(n=1, stat=3, command="+CREG")),
    ("+CREG: 3", False, CregInfo(n=None, stat=3, command="+CREG")),
    ("+CREG: 1,1,84CD,00D30173", True, CregInfo(n=1, stat=1, tac=0x84CD, ci=0xD30173, command="+CREG")),
    ("+CREG: 1,84CD,00D30156", False, CregInfo(n=None, stat=1, tac=0x84CD, ci=0xD30156, command="+CREG")),
    ('+CREG: 2,1,"CE00","01CEAD8F"', True, CregInfo(n=2, stat=1, tac=0xCE00, ci=0x01CEAD8F, command="+CREG")),
    ('+CREG: 1,"CE00","00005449"', False, CregInfo(n=None, stat=1, tac=0xCE00, ci=0x5449, command="+CREG")),
    ("+CREG: 2,0,00,0", True, CregInfo(n=2, stat=0, tac=0, ci=0, command="+CREG")),
    ("+CREG: 2,1,8BE3,2BAF", True, CregInfo(n=2, stat=1, tac=0x8BE3, ci=0x2BAF, command="+CREG")),
    ("+CREG: 1,8BE3,2BAF", False, CregInfo(n=None, stat=1, tac=0x8BE3, ci=0x2BAF, command="+CREG")),
    ("+CREG: 2,,", False, CregInfo(n=None, stat=2, command="+CREG")),
    ('+CREG:002,001,"18d8","ffff"', True, CregInfo(n=2, stat=1, tac=0x18D8, ci=0xFFFF, command="+CREG")),
    ("+CREG:2,1,0001,0010", True, CregInfo(n=2, stat=1, tac=1, ci=0x10, command="+CREG")),
    ("+CREG: 1,0001,0010,0", False, CregInfo(n=None, stat=1, tac=1, ci=0x10, act=0, command="+CREG")),
    ('+CREG: 001,"0001","0010",000', False, CregInfo(n=None, stat=1, tac=1, ci=0x10, act=0, command="+CREG")),
    ('+CREG: 2,6,"8B37","0A265185",7', True, CregInfo(n=2, stat=6, tac=0x8B37, ci=0x0A265185, act=7, command="+CREG")),
    (
        '+CREG: 6,"8B37","0A265185",7',
        False,
        CregInfo(n=None, stat=6, tac=0x8B37, ci=0x0A265185, act=7, command="+CREG"),
    ),
    ("+CGREG: 1,3", True, CregInfo(n=1, stat=3, command="+CGREG")),
    ('+CGREG: 2,1,"8BE3","00002B5D",3', True, CregInfo(n=2, stat=1, tac=0x8BE3, ci=0x2B5D, act=3, command="+CGREG")),
    (
        '+CGREG: 5,"0502","0404736D",2',
        False,
        CregInfo(n=None, stat=5, tac=0x502, ci=0x0404736D, act=2, command="+CGREG"),
    ),
    ("+CGREG: 2,1, 81ED, 1A9CEB", True, CregInfo(n=2, stat=1, tac=0x81ED, ci=0x1A9CEB, command="+CGREG")),
    (
        '+CGREG: 1,"1422","00000142",3,"00"',
        False,
        CregInfo(n=None, stat=1, tac=0x1422, ci=0x142, act=3, rac=0, command="+CGREG"),
    ),
    ('+CGREG: 2, 1, "0426", "F00F"', True, CregInfo(n=2, stat=1, tac=0x426, ci=0xF00F, command="+CGREG")),
    ('+CGREG: 1, "0426", "F00F"', False, CregInfo(n=None, stat=1, tac=0x426, ci=0xF00F, command="+CGREG")),
    ("+CEREG: 1,3", True, CregInfo(n=1, stat=3)),
    ("+CEREG: 3", False, CregInfo(n=None, stat=3)),
    ("+CEREG: 2,1, 1F00, 79D903 ,7", True, CregInfo(n=2, stat=1, tac=0x1F00, ci=0x79D903, act=7)),
    ("+CEREG: 1, 1F00, 79D903 ,7", False, CregInfo(n=None, stat=1, tac=0x1F00, ci=0x79D903, act=7)),
    ("+CEREG: 1, 2, 0001, 00000100, 7", True, CregInfo(n=1, stat=2, tac=1, ci=0x100, act=7)),
    ("+CEREG: 2, 0001, 00000100, 7", False, CregInfo(n=None, stat=2, tac=1, ci=0x100, act=7)),
    ("+C5GREG: 1,3", True, CregInfo(n=1, stat=3, command="+C5GREG")),
    (
        "+C5GREG: 2,1,1F00,79D903,11,6,ABCDEF",
        True,
        CregInfo(n=2, stat=1, tac=0x1F00, ci=0x79D903, act=11, command="+C5GREG"),
    ),
    (
        "+C5GREG: 1,1F00,79D903,11,6,ABCDEF",
        False,
        CregInfo(n=None, stat=1, tac=0x1F00, ci=0x79D903, act=11, command="+C5GREG"),
    ),
]


@pytest.mark.parametrize(("line", "solicited", "expected"), MM_VECTORS)
def test_modemmanager_registration_vectors(line, solicited, expected):
    """ "solicited" is the shape (ModemManager labels two read-shaped lines as unsolicited:
    Altair ``+CEREG: 1, 2, ...`` and X220 ``+CGREG: 2,1, 81ED, ...``; both carry ``<n>``)."""
    assert parse_creg(line) == expected
    assert creg_shape(line) == ("read" if solicited else "urc")


#: The layouts of TS 27.007 §10.1.22 for n = 0..5 that Zephyr PR #80512 tells apart (read form
#: with <n> first, URC without), with the reference §3 strings and nRF91's stat 90.
CEREG_LAYOUTS = [
    ("+CEREG: 0,1", CregInfo(n=0, stat=1)),
    ("+CEREG: 1,5", CregInfo(n=1, stat=5)),
    ("+CEREG: 5", CregInfo(n=None, stat=5)),
    ('+CEREG: 2,1,"002F","0012BEEF",7', CregInfo(n=2, stat=1, tac=0x2F, ci=0x12BEEF, act=7)),
    ('+CEREG: 1,"002F","0012BEEF",7', CregInfo(n=None, stat=1, tac=0x2F, ci=0x12BEEF, act=7)),
    ('+CEREG: 2,2,"002F","0012BEEF",9', CregInfo(n=2, stat=2, tac=0x2F, ci=0x12BEEF, act=9)),
    (
        '+CEREG: 3,3,"002F","0012BEEF",7,0,15',
        CregInfo(n=3, stat=3, tac=0x2F, ci=0x12BEEF, act=7, cause_type=0, reject_cause=15),
    ),
    (
        '+CEREG: 3,"002F","0012BEEF",7,0,15',
        CregInfo(n=None, stat=3, tac=0x2F, ci=0x12BEEF, act=7, cause_type=0, reject_cause=15),
    ),
    (
        '+CEREG: 4,1,"002F","0012BEEF",7,,,"00000101","00100001"',
        CregInfo(n=4, stat=1, tac=0x2F, ci=0x12BEEF, act=7, active_time="00000101", periodic_tau="00100001"),
    ),
    (
        '+CEREG: 1,"002F","0012BEEF",7,,,"00000101","00100001"',
        CregInfo(n=None, stat=1, tac=0x2F, ci=0x12BEEF, act=7, active_time="00000101", periodic_tau="00100001"),
    ),
    (
        '+CEREG: 5,3,"002F","0012BEEF",7,0,15,"00000101","00100001"',
        CregInfo(
            n=5,
            stat=3,
            tac=0x2F,
            ci=0x12BEEF,
            act=7,
            cause_type=0,
            reject_cause=15,
            active_time="00000101",
            periodic_tau="00100001",
        ),
    ),
    ("+CEREG: 90", CregInfo(n=None, stat=90)),
    ("+CEREG: 5,90", CregInfo(n=5, stat=90)),
    ('+CEREG: 2,"","",7', CregInfo(n=None, stat=2, act=7)),
]


@pytest.mark.parametrize(("line", "expected"), CEREG_LAYOUTS)
def test_cereg_layouts(line, expected):
    assert parse_creg(line) == expected


def test_psm_timers_decode_through_nas_timers():
    info = parse_creg('+CEREG: 4,1,"002F","0012BEEF",7,,,"00000101","00100001"')
    assert (info.active_time_s, info.periodic_tau_s) == (10, 3600)  # reference §3: 10 s active, 1 h TAU
    off = parse_creg('+CEREG: 1,"002F","0012BEEF",7,,,"11100000","11100000"')
    assert (off.active_time_s, off.periodic_tau_s) == (None, None)  # unit 111: deactivated
    assert (info.registered, info.roaming) == (True, False)
    assert parse_creg("+CEREG: 5").roaming


def test_an_invalid_stat_in_second_place_is_a_lac():
    """A 3-digit LAC without leading zeros is not a <stat> (0..11, 90): the line is a URC."""
    assert creg_shape("+CREG: 1,123,4567") == "urc"
    assert parse_creg("+CREG: 1,123,4567") == CregInfo(n=None, stat=1, tac=0x123, ci=0x4567, command="+CREG")


@settings(max_examples=500)
@given(st.sampled_from(["+CREG: ", "+CGREG: ", "+CEREG: ", "+C5GREG: ", "+CSQ: ", ""]), st.text(max_size=60))
def test_parse_creg_raises_only_syntax_errors(prefix, rest):
    try:
        info = parse_creg(prefix + rest)
    except AtError as exc:
        assert isinstance(exc, AtSyntaxError)
    else:
        assert info.command == prefix.strip(" :")
        assert info.active_time_s is None or info.active_time_s >= 0
        assert info.periodic_tau_s is None or info.periodic_tau_s >= 0


def test_read_form_can_be_forced():
    assert parse_creg("+CEREG: 1,5", read_form=False) == CregInfo(n=None, stat=1, tac=5)
    assert parse_creg("+CEREG: 1,5", read_form=True) == CregInfo(n=1, stat=5)
    with pytest.raises(AtSyntaxError):  # '"002F"' cannot be a <stat>
        parse_creg('+CEREG: 1,"002F","0012BEEF",7', read_form=True)


@pytest.mark.parametrize(
    "line",
    [
        "+CSQ: 20,99",
        "+CEREG:",
        "+CEREG: x",
        "+CEREG: 1,ZZZZ,0012BEEF,7",
        "+CREG: 2,1,000B,2816, B, C2816",  # Samsung S8500: non-standard, refused
        '+CREG: 1,"1A2B","01A2D301",7,0,15,9,9',
        '+CEREG: 1,"002F","0012BEEF",7,,,"0101","00100001"',  # timers are 8-bit strings
        "+CEREG: 1,1_0,0012BEEF,7",
    ],
)
def test_bad_registration_lines_raise(line):
    with pytest.raises(AtSyntaxError):
        parse_creg(line)
