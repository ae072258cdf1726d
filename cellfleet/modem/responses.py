"""The host side of the AT codec: the modem's byte stream as typed events (no I/O).

``ResponseReader`` turns bytes from the modem into ``Echo``, ``InfoLine``, ``Final``, ``Prompt``,
``Urc`` and ``Overflow`` events, recognised wherever they appear (reference §1, §8), including the
data that follows some lines (+CMGR/+CMT data lines, Quectel/SIMCom counted socket data).
The event types, ``classify_final`` (a final result code or not) and the tables of codes and
prompting commands live in :mod:`cellfleet.modem.response_events` and are re-exported here. Bytes are decoded as
Latin-1, so any byte sequence maps to text and back without loss (see :mod:`cellfleet.modem.codec`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cellfleet.modem import urc
from cellfleet.modem.command_line import (
    CR,
    LF,
    MAX_LINE_BYTES,
    Arg,
    Command,
    parse_command_line,
    quoted_args,
)
from cellfleet.modem.errors import AtSyntaxError
from cellfleet.modem.response_events import (  # re-exported: the events are this module's vocabulary
    DATA_LINE_ANSWERS,
    FREE_TEXT_COMMANDS,
    NUMERIC_CODE,
    NUMERIC_RESULT,
    PROMPT_COMMANDS,
    Echo,
    Final,
    FinalKind,
    InfoLine,
    Overflow,
    Prompt,
    ResponseEvent,
    Urc,
    classify_final,
    prompt_char,
)

__all__ = [
    "FREE_TEXT_COMMANDS", "NUMERIC_CODE", "NUMERIC_RESULT", "PROMPT_COMMANDS", "Echo", "Final", "FinalKind", "InfoLine",
    "Overflow", "Prompt", "ResponseEvent", "ResponseReader", "Urc", "classify_final", "prompt_char",
]  # fmt: skip


class ResponseReader:
    """Turns the modem's byte stream into events (host side).

    Lines end at CR or LF, CR LF counting once; blank lines are framing. Tell the reader which
    command is pending with ``command_sent`` (and ``payload_sent`` after a prompt) so it can
    recognise the echo and tell a pending command's own answer from a URC with the same prefix
    (``urc.UrcMatcher``). A prompt ``>``/``@`` is reported at once, without waiting for a line end,
    but only while a command that answers with that prompt is pending (``PROMPT_COMMANDS``):
    elsewhere a line starting with ``@`` is noise or data. The echo may come in fragments around
    URCs (a modem that writes a URC between echoed bytes); prefixes of it are dropped as echo
    until the first answer line. ``abandon`` forgets a command the host gave up on.
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
        self._echo_seen = ""  # the fragments of the command's echo seen so far
        self._held_head: str | None = None  # a line that may be the echo's first fragment
        self._prompts = ""  # the prompt characters the pending command may answer with
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

    def command_sent(self, line: str, *, prompts: str = "") -> None:
        """The host wrote ``line`` (with or without its terminator) and awaits its final result.
        ``prompts``: prompt characters to accept when ``line`` is not a known prompting command
        (``">@"`` for a vendor command the host knows to prompt)."""
        self._end_command()
        text = line.strip("\r\n")
        self._pending, self._echoes, self._data_line_for = text, [text.strip()], None
        body = text.strip()
        try:
            self._commands = parse_command_line(body[2:]) if body[:2].upper() == "AT" else []
        except AtSyntaxError:
            self._commands = []
        self._prompts = prompt_char(self._commands) or prompts
        if any(cmd.name in ("V", "Z", "&F") for cmd in self._commands):
            self._numeric = None

    def abandon(self) -> None:
        """The host gave up on the pending command (no final in time): forget it as if its final
        had arrived, so later lines count as unsolicited. Raw data being held is kept."""
        self._end_command()
        if self._data_line_for == "info":
            self._data_line_for = None

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
            if len(self._line) == 1 and chr(self._line[0]) in self._prompts and self._data_line_for is None:
                events.append(Prompt(chr(self._line[0])))  # type: ignore[arg-type]
                self._line.clear()
        return events

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
            self._release_head(events)
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
                events.append(InfoLine(text, data_line=True))
            return
        if not text:
            return
        if self._held_head is None and self._is_echo_head(text):
            self._held_head = text  # the echo's first piece if a URC follows, else an answer
            return
        event = self._classify(text)
        if self._held_head is not None:
            if isinstance(event, Urc):  # the URC cut the echo: the held line was its head
                self._echo_seen, self._held_head = self._held_head, None
                events.append(Echo(self._echo_seen))
            else:
                self._release_head(events)
                event = self._classify(text)  # again: the answer has started
        if self._after_line(event):
            events.append(event)

    def _classify(self, text: str) -> ResponseEvent:
        if self._pending is not None and not self._answered and (
            _is_echo(text, self._echoes) or self._is_echo_fragment(text)
        ):
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
            self._end_command()
        elif isinstance(event, InfoLine):
            self._answered = True
            name = _line_name(event.text)
            if name in DATA_LINE_ANSWERS and any(cmd.name == name for cmd in self._commands):
                self._data_line_for = "info"
            elif name == "+QIRD":
                return not self._hold_raw(event, _quectel_qird_length(event.text))
        elif isinstance(event, Urc) and event.known:
            name = _line_name(event.text)
            if name in ("+CMT", "+CBM") or (name == "+CDS" and len(_safe_args(_after_colon(event.text))) == 1):
                # TS 27.005 §3.4.1: the header line, then the PDU (or text) line
                self._data_line_for, self._held_urc = "urc", event.text
                return False
            if name in ("+QIURC", "+RECEIVE"):
                return not self._hold_raw(event, urc.urc_data_length(event.text))
        return True

    def _end_command(self) -> None:
        self._pending, self._prompts = None, ""
        self._commands, self._echoes = [], []
        self._answered, self._echo_seen, self._held_head = False, "", None

    # The echo may come in pieces, cut by URCs the modem wrote between the echoed bytes (V.250
    # §6.2.4 echoes each character as it arrives; 27.007 §4.1 allows URCs at any time outside a
    # command's response): a line that begins the echo is held until the next line shows whether
    # a URC cut it; the pieces after it, in order, add up to the echo.
    def _is_echo_head(self, text: str) -> bool:
        echo = self._echoes[0] if self._pending is not None and not self._answered else ""
        return not self._echo_seen and text != echo and echo.startswith(text)

    def _is_echo_fragment(self, text: str) -> bool:
        seen = self._echo_seen + text
        if not self._echo_seen or not self._echoes[0].startswith(seen):
            return False
        self._echo_seen = "" if seen == self._echoes[0] else seen
        return True

    def _release_head(self, events: list[ResponseEvent]) -> None:
        """No URC followed the held line: it was an answer line after all."""
        if self._held_head is not None:
            info, self._held_head = InfoLine(self._held_head), None
            if self._after_line(info):
                events.append(info)

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
