"""The modem side of the AT codec: what the host sends, as bytes and as parsed commands.

* ``parse_command_line`` / ``split_args`` / ``quoted_args``: the command line syntax of ITU-T
  V.250 §5 (basic and S-parameter commands, extended commands in four forms, ``;`` chaining,
  string constants) and TS 27.007 §4. The host side uses them too (to know which command is
  pending, to split response parameters).
* ``CommandLineReader``: bytes from the host -> complete command lines (``LineEvent``), ``A/``
  repeats (``RepeatEvent``), payloads after a ``> `` / ``@`` prompt (``PayloadEvent``) and cut
  over-long lines (``LineOverflow``).

No I/O. Bytes are decoded as Latin-1, so any byte sequence maps to text and back without loss
(see :mod:`cellfleet.modem.codec`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from cellfleet.modem.errors import AtSyntaxError

#: Longest line either reader keeps; longer lines are cut and reported (memory stays bounded).
MAX_LINE_BYTES = 64 * 1024

CR, LF, BS, CTRL_Z, ESC = 0x0D, 0x0A, 0x08, 0x1A, 0x1B

Form = Literal["action", "set", "read", "test"]


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
    a lone LF also ends a line (reference §1). Bytes before the prefix are dropped. S5
    (backspace) deletes the previous character (§5.2.2). ``A/`` repeats the last line at once
    (§5.2.4). Bytes that arrive in one ``feed`` are all parsed as command-line bytes: a host must
    wait for the prompt before sending a payload, as real modules require (27.005 §3.5.1).

    **The LF of CR LF** (V.250 §5.6.1 lets the DTE append a line feed after the terminator;
    reference §1): an LF is skipped as the tail of CR LF iff it is the very next byte after the
    S3 that ended a command line, whenever it arrives (even as the first byte after a payload
    prompt); any other LF is data or a line end. ``lf_is_tail`` tells the modem.
    """

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        #: S3, the command line termination character (V.250 §6.2.1); change after ``ATS3=<n>``
        self.terminator = CR
        #: S5, the command line editing character (V.250 §6.2.3); change after ``ATS5=<n>``
        self.backspace = BS
        self._line = bytearray()
        self._dropped_bytes = 0
        #: the last byte fed was the S3 that ended a command line (module rule "the LF of CR LF")
        self._after_terminator = False
        self._last_line: str | None = None
        self._payload: bytearray | None = None
        self._payload_count: int | None = None
        self._payload_dropped = 0
        self._text_lines = False
        self._payload_after_cr = False

    @property
    def lf_is_tail(self) -> bool:
        """An LF fed next would be the tail of the CR LF that ended the last line (skipped)."""
        return self._after_terminator

    @property
    def holds_command_prefix(self) -> bool:
        """A partial line that has started with ``AT`` is held: the host is typing a command."""
        return self._payload is None and _at_index(self._line) >= 0

    @property
    def in_payload(self) -> bool:
        """True while payload bytes are expected."""
        return self._payload is not None

    def expect_payload(self, *, until_ctrl_z: bool = True, count: int | None = None, text_lines: bool = False) -> None:
        """The modem sent a ``> `` / ``@`` prompt: the next bytes are payload, ended by Ctrl-Z
        (0x1A, excluded) or cancelled by ESC (0x1B), or exactly ``count`` raw bytes.
        ``text_lines`` (27.005 §3.5.1 text mode, a prompt per CR-ended line): the LF of a CR LF
        line end is not part of the text."""
        if count is None and not until_ctrl_z:
            raise ValueError("a payload ends with Ctrl-Z or after count bytes: give one")
        if count is not None and not 1 <= count <= self.max_line_bytes:
            raise ValueError(f"payload count {count} is outside 1..{self.max_line_bytes}")
        self._payload = bytearray()
        self._payload_count = count
        self._payload_dropped = 0
        self._text_lines = text_lines and count is None
        self._payload_after_cr = False

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
            if byte == LF and self._after_terminator:
                self._after_terminator = False  # the tail of CR LF (class docstring)
                continue
            self._after_terminator = byte == self.terminator
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

    def _feed_payload(self, data: bytes, pos: int, events: list) -> int:
        payload = self._payload
        assert payload is not None
        if self._after_terminator:  # the LF of the CR LF that ended the command line, if it is one
            self._after_terminator = False
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
        if self._text_lines:
            chunk = self._drop_line_feeds(chunk)
        room = self.max_line_bytes - len(payload)
        payload += chunk[:room]
        self._payload_dropped += max(0, len(chunk) - room)
        if stop < 0:
            return len(data)
        overflowed = self._payload_dropped > 0
        events.append(PayloadEvent(bytes(payload), cancelled=data[stop] == ESC or overflowed, overflowed=overflowed))
        self._payload = None
        return stop + 1


    def _drop_line_feeds(self, chunk: bytes) -> bytes:
        """27.005 §3.5.1 text entry: the LF right after a CR (a CR LF line end) is dropped."""
        out = bytearray()
        for byte in chunk:
            if not (byte == LF and self._payload_after_cr):
                out.append(byte)
            self._payload_after_cr = byte == CR
        return bytes(out)


def _at_index(line: bytes | bytearray) -> int:
    """Index of the first ``AT`` prefix in any case, -1 if none (V.250 §5.2.1)."""
    return bytes(line).upper().find(b"AT")


def _first_of(data: bytes, pos: int, stops: tuple[int, ...]) -> int:
    found = [index for index in (data.find(bytes([stop]), pos) for stop in stops) if index >= 0]
    return min(found) if found else -1
