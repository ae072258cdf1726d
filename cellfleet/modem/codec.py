"""The AT stream codec for both ends of the serial line; no I/O anywhere in it.

* ``parse_command_line`` / ``split_args`` / ``quoted_args``: the command line syntax of ITU-T
  V.250 §5 (basic and S-parameter commands, extended commands in four forms, ``;`` chaining,
  string constants) and TS 27.007 §4.
* ``CommandLineReader`` (modem side): bytes from the host -> complete command lines, ``A/``
  repeats and payloads after a ``> `` / ``@`` prompt.
* ``ResponseReader`` (host side): bytes from the modem -> echo, information lines, final result
  codes, prompts and URCs, recognised wherever they appear (reference §1, §8).
* ``format_line`` / ``format_final`` / ``format_prompt`` (modem side): V.250 §5.7 framing.

Bytes are decoded as Latin-1, so any byte sequence maps to text and back without loss: the AT
character set is IRA (ASCII, V.250 §5.1), anything else is the peer's garbage and is kept as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from cellfleet.modem import errors, urc
from cellfleet.modem.errors import AtSyntaxError

#: Longest line either reader keeps; longer lines are cut and reported (memory stays bounded).
MAX_LINE_BYTES = 64 * 1024

CR, LF, BS, CTRL_Z, ESC = 0x0D, 0x0A, 0x08, 0x1A, 0x1B

Form = Literal["action", "set", "read", "test"]
FinalKind = Literal[
    "OK", "ERROR", "CME", "CMS", "NO CARRIER", "CONNECT", "BUSY", "NO ANSWER", "NO DIALTONE", "SEND OK", "SEND FAIL"
]


# --------------------------------------------------------------------------------------------
# Command line syntax (V.250 §5.2-§5.4)


@dataclass(frozen=True)
class Command:
    """One command of a command line.

    ``name`` is upper-case: a basic command (``"E"``, ``"&F"``, ``"D"``), an S-parameter
    (``"S0"``) or an extended command with its prefix character (``"+CEREG"``, ``"%XICCID"``).
    Basic commands are always the ``"action"`` form with ``args`` = their number (``"E0"`` ->
    ``"0"``, ``"E"`` -> ``""``) or, for ``D``, the dial string (the rest of the line, V.250
    §6.3.1); S-parameters and extended commands have the four forms of V.250 §5.3.2/§5.4.1:
    action ``+X``, set ``+X=<args>``, read ``+X?``, test ``+X=?``. ``args`` is the raw text after
    ``=`` of a set form (quotes kept, blanks outside quotes removed).
    """

    name: str
    form: Form
    args: str = ""


_EXTENDED_PREFIXES = "+%^$#*"
#: V.250 §5.4.1: an extended name is a prefix character, an alphabetic character, then
#: alphanumerics and ! % - . / : _ (':' is left out here: vendors use it for nothing else, and it
#: would swallow a following read '?').
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!%-./_")


def _strip_blanks(body: str) -> str:
    """Remove spaces outside string constants (V.250 §5.2.1: the DCE ignores them); raises on an
    unterminated string constant."""
    out: list[str] = []
    quoted = False
    for char in body:
        if char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            continue
        out.append(char)
    if quoted:
        raise AtSyntaxError(f"unterminated string constant in {body!r}")
    return "".join(out)


def parse_command_line(body: str) -> list[Command]:
    """The commands of a command line body (the text after ``AT``, without the terminator).

    V.250 §5.2.1: basic commands follow each other without separator (``E0V1``); an extended
    command ends at ``;`` or the end of the line (``+COPS=3,2;+COPS?``); ``;`` between any commands
    and empty commands are tolerated. ``D`` takes the rest of the line. Raises ``AtSyntaxError``
    for an unterminated string, an unknown character or text after a read/test form.
    """
    text = _strip_blanks(body)
    commands: list[Command] = []
    pos, end = 0, len(text)
    while pos < end:
        char = text[pos].upper()
        if char == ";":
            pos += 1
        elif char in _EXTENDED_PREFIXES:
            pos = _parse_extended(text, pos, commands)
        elif char == "D":
            # V.250 §6.3.1: the dial string runs to the end of the line (';' included: voice call)
            commands.append(Command("D", "action", text[pos + 1 :]))
            pos = end
        elif char == "S" and pos + 1 < end and text[pos + 1].isdigit():
            pos = _parse_s_parameter(text, pos, commands)
        elif char in "&\\" and pos + 1 < end and text[pos + 1].isalpha():
            pos = _parse_basic(text, pos, 2, commands)
        elif char.isalpha() and char.isascii():
            pos = _parse_basic(text, pos, 1, commands)
        else:
            raise AtSyntaxError(f"unexpected {text[pos]!r} at position {pos} of {body!r}")
    return commands


def _parse_basic(text: str, pos: int, name_len: int, out: list[Command]) -> int:
    """V.250 §5.3.1: ``<command>[<number>]``; a name is a letter or ``&``/``\\`` + letter."""
    name = text[pos : pos + name_len].upper()
    pos += name_len
    start = pos
    while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    out.append(Command(name, "action", text[start:pos]))
    return pos


def _parse_s_parameter(text: str, pos: int, out: list[Command]) -> int:
    """V.250 §5.3.2: ``S<n>=<value>`` (set), ``S<n>?`` (read), ``S<n>=?`` (test), ``S<n>``."""
    start = pos
    pos += 1
    while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    name = text[start:pos].upper()
    if text.startswith("=?", pos):
        out.append(Command(name, "test"))
        return pos + 2
    if text.startswith("?", pos):
        out.append(Command(name, "read"))
        return pos + 1
    if text.startswith("=", pos):
        value_start = pos = pos + 1
        while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        out.append(Command(name, "set", text[value_start:pos]))
        return pos
    out.append(Command(name, "action"))
    return pos


def _parse_extended(text: str, pos: int, out: list[Command]) -> int:
    """V.250 §5.4.1: ``<prefix><name>`` then ``=?`` test, ``?`` read, ``=<args>`` set or nothing
    (action); the command ends at ``;`` or the end of the line (§5.2.1)."""
    start = pos
    pos += 1
    if pos >= len(text) or not (text[pos].isascii() and text[pos].isalpha()):
        raise AtSyntaxError(f"extended command without a name at position {start} of {text!r}")
    while pos < len(text) and text[pos].upper() in _NAME_CHARS:
        pos += 1
    name = text[start:pos].upper()
    if text.startswith("=?", pos):
        form: Form = "test"
        args, pos = "", pos + 2
    elif text.startswith("?", pos):
        form, args, pos = "read", "", pos + 1
    elif text.startswith("=", pos):
        form = "set"
        args_end = _unquoted_semicolon(text, pos + 1)
        args, pos = text[pos + 1 : args_end], args_end
    else:
        form, args = "action", ""
    if pos < len(text) and text[pos] != ";":
        raise AtSyntaxError(f"{name}: unexpected {text[pos]!r} after the command (V.250 §5.2.1 wants ';')")
    out.append(Command(name, form, args))
    return pos


def _unquoted_semicolon(text: str, pos: int) -> int:
    quoted = False
    while pos < len(text):
        if text[pos] == '"':
            quoted = not quoted
        elif text[pos] == ";" and not quoted:
            return pos
        pos += 1
    return pos


class Arg(NamedTuple):
    """One parameter of a set command or response line: ``value`` (``None`` if omitted) and
    whether it was a string constant."""

    value: str | None
    quoted: bool


_ESCAPE = re.compile(r"\\([0-9A-Fa-f]{2})")


def quoted_args(args: str) -> list[Arg]:
    """Split comma-separated parameters (V.250 §5.4.2). String constants lose their quotes and
    their ``\\HH`` escapes are decoded (V.250 §5.4.2.2); blanks outside quotes are dropped; an
    omitted parameter is ``None``; ``""`` gives ``[]``. Raises ``AtSyntaxError`` on an unterminated
    string constant."""
    if not args.strip():
        return []
    result: list[Arg] = []
    value: list[str] = []
    quoted = in_string = False
    for char in args:
        if in_string:
            if char == '"':
                in_string = False
            else:
                value.append(char)
        elif char == '"':
            in_string = quoted = True
        elif char == ",":
            result.append(_arg(value, quoted))
            value, quoted = [], False
        elif char not in " \t":
            value.append(char)
    if in_string:
        raise AtSyntaxError(f"unterminated string constant in {args!r}")
    result.append(_arg(value, quoted))
    return result


def _arg(chars: list[str], quoted: bool) -> Arg:
    text = "".join(chars)
    if quoted:
        return Arg(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text), True)
    return Arg(text or None, False)


def split_args(args: str) -> list[str | None]:
    """``'1,"IP","internet",,5'`` -> ``["1", "IP", "internet", None, "5"]`` (see ``quoted_args``)."""
    return [arg.value for arg in quoted_args(args)]


# --------------------------------------------------------------------------------------------
# Modem side: the byte stream from the host


@dataclass(frozen=True)
class LineEvent:
    """A complete command line starting with ``AT`` (any case), without its terminator."""

    text: str


@dataclass(frozen=True)
class RepeatEvent:
    """``A/``: repeat the last command line (V.250 §5.2.4); ``text`` is that line, if any."""

    text: str | None = None


@dataclass(frozen=True)
class PayloadEvent:
    """The bytes after a prompt: ended by Ctrl-Z (excluded), cancelled by ESC, or a fixed count
    (TS 27.005 §3.5.1 for +CMGS; Quectel +QISEND; u-blox +USOWR ``@``). ``overflowed``: longer
    than ``MAX_LINE_BYTES``, cut and cancelled."""

    data: bytes
    cancelled: bool = False
    overflowed: bool = False


@dataclass(frozen=True)
class LineOverflow:
    """A command line longer than the reader's limit: cut; the modem should answer ERROR."""

    text: str
    dropped_bytes: int


class CommandLineReader:
    """Turns the host's byte stream into command-line events (modem side).

    V.250 §5.2.1: a line starts with ``AT``/``at`` (also ``At``/``aT``) and ends with S3 (CR);
    a lone LF also ends a line and the LF right after CR is ignored (reference §1). Bytes before
    the prefix are dropped. S5 (backspace) deletes the previous character (§5.2.2). ``A/``
    repeats the last line at once (§5.2.4). Bytes that arrive in one ``feed`` are all parsed as
    command-line bytes: a host must wait for the prompt before sending a payload, as real modules
    require (27.005 §3.5.1).
    """

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        #: S3, the command line termination character (V.250 §6.2.1); change after ``ATS3=<n>``
        self.terminator = CR
        #: S5, the command line editing character (V.250 §6.2.3); change after ``ATS5=<n>``
        self.backspace = BS
        self._line = bytearray()
        self._dropped_bytes = 0
        self._after_cr = False
        self._last_line: str | None = None
        self._payload: bytearray | None = None
        self._payload_count: int | None = None
        self._payload_dropped = 0

    @property
    def in_payload(self) -> bool:
        """True while payload bytes are expected."""
        return self._payload is not None

    def expect_payload(self, *, until_ctrl_z: bool = True, count: int | None = None) -> None:
        """The modem sent a ``> `` / ``@`` prompt: the next bytes are payload, ended by Ctrl-Z
        (0x1A, excluded) or cancelled by ESC (0x1B), or exactly ``count`` raw bytes."""
        if count is None and not until_ctrl_z:
            raise ValueError("a payload ends with Ctrl-Z or after count bytes: give one")
        if count is not None and not 1 <= count <= self.max_line_bytes:
            raise ValueError(f"payload count {count} is outside 1..{self.max_line_bytes}")
        self._payload = bytearray()
        self._payload_count = count
        self._payload_dropped = 0

    def cancel_payload(self) -> None:
        """Leave payload mode without an event (e.g. the modem timed the payload out)."""
        self._payload = None

    def feed(self, data: bytes) -> list[LineEvent | RepeatEvent | PayloadEvent | LineOverflow]:
        events: list[LineEvent | RepeatEvent | PayloadEvent | LineOverflow] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._payload is not None:
                pos = self._feed_payload(data, pos, events)
                continue
            byte = data[pos]
            pos += 1
            if byte == LF and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = byte == self.terminator
            if byte == self.terminator or byte == LF:
                self._end_line(events)
            elif byte == self.backspace:
                if self._dropped_bytes:
                    self._dropped_bytes -= 1
                elif self._line:
                    self._line.pop()
            elif byte == 0x2F and self._line[-1:] in (b"A", b"a") and _at_index(self._line) < 0:
                events.append(RepeatEvent(self._last_line))  # "A/" (V.250 §5.2.4)
                self._line.clear()
                self._dropped_bytes = 0
            elif len(self._line) < self.max_line_bytes:
                self._line.append(byte)
            else:
                self._dropped_bytes += 1
        return events

    def _end_line(self, events: list) -> None:
        start = _at_index(self._line)
        if start >= 0:
            text = self._line[start:].decode("latin-1")
            if self._dropped_bytes:
                events.append(LineOverflow(text, self._dropped_bytes))
            else:
                events.append(LineEvent(text))
                self._last_line = text
        self._line.clear()
        self._dropped_bytes = 0

    def new_read(self) -> None:
        """The next bytes come from a new read of the host's writes. A host that ends a command
        with CR LF writes both at once, before it can see a payload prompt; so in a counted
        payload (``@``, ``AT+QISEND=<id>,<len>``) an LF at the start of a later read is data, not
        the tail of that CR LF (which is skipped only when it comes with the CR)."""
        if self._payload is not None and self._payload_count is not None:
            self._after_cr = False

    def _feed_payload(self, data: bytes, pos: int, events: list) -> int:
        payload = self._payload
        assert payload is not None
        if self._after_cr:  # the LF of the CR LF that ended the command line
            self._after_cr = False
            if data[pos] == LF:
                return pos + 1
        if self._payload_count is not None:
            take = min(self._payload_count - len(payload), len(data) - pos)
            payload += data[pos : pos + take]
            pos += take
            if len(payload) == self._payload_count:
                events.append(PayloadEvent(bytes(payload)))
                self._payload = None
            return pos
        stop = _first_of(data, pos, (CTRL_Z, ESC))
        chunk = data[pos : stop if stop >= 0 else len(data)]
        room = self.max_line_bytes - len(payload)
        payload += chunk[:room]
        self._payload_dropped += max(0, len(chunk) - room)
        if stop < 0:
            return len(data)
        overflowed = self._payload_dropped > 0
        events.append(PayloadEvent(bytes(payload), cancelled=data[stop] == ESC or overflowed, overflowed=overflowed))
        self._payload = None
        return stop + 1


def _at_index(line: bytes | bytearray) -> int:
    """Index of the first ``AT`` prefix in any case, -1 if none (V.250 §5.2.1)."""
    return bytes(line).upper().find(b"AT")


def _first_of(data: bytes, pos: int, stops: tuple[int, ...]) -> int:
    found = [index for index in (data.find(bytes([stop]), pos) for stop in stops) if index >= 0]
    return min(found) if found else -1


# --------------------------------------------------------------------------------------------
# Host side: the byte stream from the modem


@dataclass(frozen=True)
class Echo:
    """The host's own command line (or payload) echoed back (``ATE1``, V.250 §6.2.4)."""

    text: str


@dataclass(frozen=True)
class InfoLine:
    """A response line of the pending command; ``data``: raw bytes that followed it (Quectel
    ``+QIRD: <len>`` then ``<len>`` bytes)."""

    text: str
    data: bytes | None = None


@dataclass(frozen=True)
class Final:
    """A final result code (V.250 §5.7.1, TS 27.007 §9.1, TS 27.005 §3.2.5, Quectel ``SEND OK``).
    ``code`` is the ``+CME``/``+CMS ERROR`` code (``None`` for other kinds and unknown texts)."""

    text: str
    kind: FinalKind
    code: int | None = None

    @property
    def ok(self) -> bool:
        """True for the kinds that mean success: OK, CONNECT, SEND OK."""
        return self.kind in ("OK", "CONNECT", "SEND OK")


@dataclass(frozen=True)
class Prompt:
    """``> `` (SMS, Quectel/SIMCom sends; 27.005 §3.5.1) or ``@`` (u-blox binary socket writes)."""

    char: Literal[">", "@"]


@dataclass(frozen=True)
class Urc:
    """An unsolicited line. ``known`` is False for a line that matches no URC prefix but arrived
    while no command was pending. ``data``: the line or bytes that belong to it (the PDU/text line
    after ``+CMT:``/``+CDS:``/``+CBM:``, the bytes after Quectel ``+QIURC: "recv",<id>,<len>``)."""

    text: str
    data: bytes | None = None
    known: bool = True


@dataclass(frozen=True)
class Overflow:
    """A line longer than the reader's limit: ``text`` is its cut beginning."""

    text: str
    dropped_bytes: int


ResponseEvent = Echo | InfoLine | Final | Prompt | Urc | Overflow

#: V.250 §5.7.1 Table 1: verbose result codes and their numeric (``ATV0``) forms; 2 is RING.
NUMERIC_RESULT: dict[str, FinalKind] = {
    "0": "OK",
    "1": "CONNECT",
    "3": "NO CARRIER",
    "4": "ERROR",
    "6": "NO DIALTONE",
    "7": "BUSY",
    "8": "NO ANSWER",
}
NUMERIC_CODE: dict[str, str] = {kind: digit for digit, kind in NUMERIC_RESULT.items()}
_VERBOSE_FINALS: dict[str, FinalKind] = {
    "OK": "OK",
    "ERROR": "ERROR",
    "NO CARRIER": "NO CARRIER",
    "BUSY": "BUSY",
    "NO ANSWER": "NO ANSWER",
    "NO DIALTONE": "NO DIALTONE",
    "NO DIAL TONE": "NO DIALTONE",
    "SEND OK": "SEND OK",  # Quectel +QISEND, SIMCom +CIPSEND
    "SEND FAIL": "SEND FAIL",
    "COMMAND NOT SUPPORT": "ERROR",  # Huawei (reference §8 item 16)
}
#: Commands whose answers carry free text (SMS bodies, socket data) where a leading ``>``/``@``
#: is data, not a prompt.
FREE_TEXT_COMMANDS = frozenset({"+CMGR", "+CMGL", "+QIRD", "+USORD", "+USORF", "+CUSD", "+CIPRXGET"})
#: Answer lines followed by one data line (27.005 §3.4.1/§3.4.3: +CMGR/+CMGL in both modes).
_DATA_LINE_ANSWERS = frozenset({"+CMGR", "+CMGL"})


def classify_final(text: str, *, numeric: bool = True) -> Final | None:
    """The final result code ``text`` is, or ``None``; ``numeric`` also accepts V0 digits."""
    line = text.strip()
    kind = _VERBOSE_FINALS.get(line)  # upper case, as V.250 §5.7.1 and the vendors spell them
    if kind is not None:
        return Final(line, kind)
    parsed = errors.parse_error_line(line)
    if parsed is not None:
        return Final(line, "CME" if parsed[0] == "CME" else "CMS", parsed[1])
    # V.250 §5.7.1: CONNECT or CONNECT <text>; SIMCom's "CONNECT OK"/"CONNECT FAIL" are URCs
    if (line == "CONNECT" or line.startswith("CONNECT ")) and line not in ("CONNECT OK", "CONNECT FAIL"):
        return Final(line, "CONNECT")
    if numeric and line in NUMERIC_RESULT:
        return Final(line, NUMERIC_RESULT[line])
    return None


class ResponseReader:
    """Turns the modem's byte stream into events (host side).

    Lines end at CR or LF, CR LF counting once; blank lines are framing. Tell the reader which
    command is pending with ``command_sent`` (and ``payload_sent`` after a prompt) so it can
    recognise the echo and tell a pending command's own answer from a URC with the same prefix
    (``urc.UrcMatcher``). A prompt ``>``/``@`` is reported at once, without waiting for a line end.
    Numeric (``ATV0``) finals are recognised until a verbose final has been seen, and again after
    a line containing V, Z or &F is sent. Never raises on any input; memory stays bounded.
    """

    def __init__(self, urc_prefixes: Iterable[str] | None = None, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.urc_matcher = urc.UrcMatcher(urc.DEFAULT_URC_PREFIXES if urc_prefixes is None else urc_prefixes)
        self.max_line_bytes = max_line_bytes
        self._line = bytearray()
        self._dropped_bytes = 0
        self._after_cr = False
        self._pending: str | None = None
        self._commands: list[Command] = []
        self._echoes: list[str] = []
        self._answered = False
        self._numeric: bool | None = None
        self._data_line_for: str | None = None  # "info" / "urc": the next line is data
        self._held_urc: str | None = None
        self._raw_needed = 0
        self._raw = bytearray()
        self._raw_header: InfoLine | Urc | None = None

    @property
    def pending(self) -> str | None:
        """The pending command line, ``None`` once its final result arrived."""
        return self._pending

    def command_sent(self, line: str) -> None:
        """The host wrote ``line`` (with or without its terminator) and awaits its final result."""
        text = line.strip("\r\n")
        self._pending = text
        self._echoes = [text.strip()]
        self._answered = False
        self._data_line_for = None
        body = text.strip()
        try:
            self._commands = parse_command_line(body[2:]) if body[:2].upper() == "AT" else []
        except AtSyntaxError:
            self._commands = []
        if any(cmd.name in ("V", "Z", "&F") for cmd in self._commands):
            self._numeric = None

    def payload_sent(self, data: bytes) -> None:
        """The host wrote a payload after a prompt; with echo on, the modem echoes it."""
        self._echoes.append(data.decode("latin-1").strip().rstrip("\x1a\x1b"))

    def feed(self, data: bytes) -> list[ResponseEvent]:
        events: list[ResponseEvent] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._raw_needed:
                pos = self._feed_raw(data, pos, events)
                continue
            byte = data[pos]
            pos += 1
            if byte == LF and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = byte == CR
            if byte in (CR, LF):
                self._end_line(events)
                continue
            if len(self._line) < self.max_line_bytes:
                self._line.append(byte)
            else:
                self._dropped_bytes += 1
            if self._line in (b">", b"@") and self._prompt_expected():
                events.append(Prompt(self._line.decode("latin-1")))  # type: ignore[arg-type]
                self._line.clear()
        return events

    def _prompt_expected(self) -> bool:
        return (
            self._pending is not None
            and self._data_line_for is None
            and not any(cmd.name in FREE_TEXT_COMMANDS for cmd in self._commands)
        )

    def _feed_raw(self, data: bytes, pos: int, events: list[ResponseEvent]) -> int:
        if self._after_cr:  # skip the LF of the header's CR LF
            self._after_cr = False
            if data[pos] == LF:
                return pos + 1
        take = min(self._raw_needed, len(data) - pos)
        self._raw += data[pos : pos + take]
        self._raw_needed -= take
        if not self._raw_needed:
            header = self._raw_header
            assert header is not None
            events.append(type(header)(header.text, bytes(self._raw)))  # type: ignore[call-arg]
            self._raw.clear()
            self._raw_header = None
        return pos + take

    def _end_line(self, events: list[ResponseEvent]) -> None:
        raw, dropped = bytes(self._line), self._dropped_bytes
        self._line.clear()
        self._dropped_bytes = 0
        text = raw.decode("latin-1").strip(" \t")
        if dropped:
            if self._held_urc is not None:  # the +CMT header whose data line overflowed
                events.append(Urc(self._held_urc))
            self._data_line_for = self._held_urc = None
            events.append(Overflow(text, dropped))
            return
        if self._data_line_for is not None:  # the data line after +CMGR:/+CMGL:/+CMT:, maybe empty
            owner, self._data_line_for = self._data_line_for, None
            if owner == "urc" and self._held_urc is not None:
                events.append(Urc(self._held_urc, text.encode("latin-1")))
                self._held_urc = None
            else:
                events.append(InfoLine(text))
            return
        if text:
            event = self._classify(text)
            if self._after_line(event):
                events.append(event)

    def _classify(self, text: str) -> ResponseEvent:
        if self._pending is not None and not self._answered and _is_echo(text, self._echoes):
            return Echo(text)
        final = classify_final(text, numeric=self._numeric is not False and self._pending is not None)
        if final is not None:
            return final
        if self._numeric is True and text == "2":
            return Urc(text)  # RING in numeric form (V.250 §5.7.1 Table 1)
        if self.urc_matcher.is_urc(text, self._commands if self._pending is not None else None):
            return Urc(text)
        if self._pending is None:
            return Urc(text, known=False)
        return InfoLine(text)

    def _after_line(self, event: ResponseEvent) -> bool:
        """Update the state for ``event``; False if it is held until its data has arrived."""
        if isinstance(event, Final):
            if event.text in NUMERIC_RESULT:
                self._numeric = True
            elif event.kind in NUMERIC_CODE:  # a verbose word with a numeric form: V1 in effect
                self._numeric = False
            self._pending = None
            self._commands = []
            self._echoes = []
            self._answered = False
        elif isinstance(event, InfoLine):
            self._answered = True
            name = _line_name(event.text)
            if name in _DATA_LINE_ANSWERS:
                self._data_line_for = "info"
            elif name == "+QIRD":
                return not self._hold_raw(event, _quectel_qird_length(event.text))
        elif isinstance(event, Urc) and event.known:
            name = _line_name(event.text)
            if name in ("+CMT", "+CBM") or (name == "+CDS" and len(_safe_args(_after_colon(event.text))) == 1):
                # TS 27.005 §3.4.1: the header line, then the PDU (or text) line
                self._data_line_for, self._held_urc = "urc", event.text
                return False
            if name == "+QIURC":
                return not self._hold_raw(event, _quectel_recv_length(event.text))
            if name == "+RECEIVE":
                return not self._hold_raw(event, _simcom_receive_length(event.text))
        return True

    def _hold_raw(self, event: InfoLine | Urc, length: int | None) -> bool:
        """The next ``length`` bytes belong to ``event``, re-emitted with them as ``data``; False
        (nothing held) for a missing or out-of-range length."""
        if length is None or not 0 < length <= self.max_line_bytes:
            return False
        self._raw_needed = length
        self._raw_header = event
        return True


def _is_echo(text: str, echoes: list[str]) -> bool:
    if "\x08" in text:
        text = _apply_backspaces(text)
    return any(text == echo or text.rstrip("\x1a\x1b") == echo for echo in echoes if echo)


def _apply_backspaces(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char == "\x08":
            if out:
                out.pop()
        else:
            out.append(char)
    return "".join(out)


def _line_name(text: str) -> str | None:
    match = re.match(r"([+%^$#*][A-Za-z][A-Za-z0-9_.\-/!]*)\s*[:,]", text)
    return match.group(1).upper() if match else None


def _after_colon(text: str) -> str:
    return text.partition(":")[2].strip()


def _safe_args(text: str) -> list[Arg]:
    try:
        return quoted_args(text)
    except AtSyntaxError:
        return []


def _quectel_qird_length(text: str) -> int | None:
    """``+QIRD: <len>`` (TCP) / ``+QIRD: <len>,"<ip>",<port>`` (UDP service) precede ``<len>``
    data bytes; ``+QIRD: <total>,<read>,<unread>`` (``AT+QIRD=<id>,0``) does not (Quectel TCP/IP
    application note)."""
    args = _safe_args(_after_colon(text))
    if not args or args[0].quoted or not (args[0].value or "").isdigit():
        return None
    if len(args) == 1 or (len(args) == 3 and args[1].quoted):
        return int(args[0].value or "0")
    return None


def _quectel_recv_length(text: str) -> int | None:
    """``+QIURC: "recv",<id>,<len>`` (direct push mode) is followed by ``<len>`` bytes;
    ``+QIURC: "recv",<id>`` (buffer mode) is not."""
    args = _safe_args(_after_colon(text))
    if len(args) == 3 and args[0].value == "recv" and (args[2].value or "").isdigit():
        return int(args[2].value or "0")
    return None


def _simcom_receive_length(text: str) -> int | None:
    """SIM7600 ``+RECEIVE,<link>,<len>`` is followed by ``<len>`` bytes (reference §4: unverified)."""
    args = _safe_args(text.partition(",")[2])
    if len(args) == 2 and (args[1].value or "").isdigit():
        return int(args[1].value or "0")
    return None


# --------------------------------------------------------------------------------------------
# Modem side: formatting (V.250 §5.7)


def format_line(text: str, *, verbose: bool = True) -> bytes:
    """An information line or URC: ``<CR><LF>text<CR><LF>`` with ``ATV1``; ``text<CR><LF>`` with
    ``ATV0`` (V.250 §6.2.6 Table 5: the header is left out, the trailer kept)."""
    body = text.encode("latin-1")
    return b"\r\n" + body + b"\r\n" if verbose else body + b"\r\n"


def format_final(kind: FinalKind, code: int | None = None, *, verbose: bool = True, cmee: int = 1) -> bytes:
    """A final result code. V1: ``<CR><LF>OK<CR><LF>``; V0: the numeric code and CR (``0\\r``,
    V.250 §5.7.1 Table 1); kinds without a numeric form keep their text (``+CME ERROR: 10\\r``).
    ``CME``: ``+CMEE`` 0 gives plain ERROR, 1 the number, 2 the verbose text (TS 27.007 §9.1).
    ``CMS``: numeric, verbose with ``+CMEE=2`` (TS 27.005 §3.2.5 has no switch of its own)."""
    if kind == "CME":
        if code is None:
            raise ValueError("a +CME ERROR needs a code")
        if cmee == 0:
            return format_final("ERROR", verbose=verbose)
        text = f"+CME ERROR: {errors.cme_text(code) if cmee == 2 else code}"
    elif kind == "CMS":
        if code is None:
            raise ValueError("a +CMS ERROR needs a code")
        text = f"+CMS ERROR: {errors.cms_text(code) if cmee == 2 else code}"
    elif kind in NUMERIC_CODE:
        text = kind if verbose else NUMERIC_CODE[kind]
    elif kind in ("SEND OK", "SEND FAIL"):
        text = kind
    else:
        raise ValueError(f"unknown final result kind {kind!r}")
    body = text.encode("latin-1")
    return b"\r\n" + body + b"\r\n" if verbose else body + b"\r"


def format_prompt(char: Literal[">", "@"] = ">") -> bytes:
    """``<CR><LF>> `` (TS 27.005 §3.5.1: greater-than and space, no line end after it) or u-blox's
    ``@`` prompt (SARA AT manual, +USOWR)."""
    if char == ">":
        return b"\r\n> "
    if char == "@":
        return b"\r\n@"
    raise ValueError(f"a prompt is '>' or '@', got {char!r}")
