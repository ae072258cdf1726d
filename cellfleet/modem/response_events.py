"""What the host side of the AT codec knows about the modem's lines: the event types a
``responses.ResponseReader`` produces, the final result codes (V.250 §5.7.1 with their ``ATV0``
numeric forms, 27.007 §9.1 +CME ERROR, 27.005 §3.2.5 +CMS ERROR, vendor SEND OK/FAIL) and which
commands answer with a payload prompt or with data lines (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cellfleet.modem import errors
from cellfleet.modem.command_line import Command, split_args

#: The kinds of final result code (V.250 §5.7.1, 27.007 §9.1, 27.005 §3.2.5, vendor SEND OK/FAIL).
FinalKind = Literal[
    "OK", "ERROR", "CME", "CMS", "NO CARRIER", "CONNECT", "BUSY", "NO ANSWER", "NO DIALTONE", "SEND OK", "SEND FAIL"
]


@dataclass(frozen=True)
class Echo:
    """The host's own command line (or payload) echoed back (``ATE1``, V.250 §6.2.4)."""

    text: str


@dataclass(frozen=True)
class InfoLine:
    """A response line of the pending command; ``data``: raw bytes that followed it (Quectel
    ``+QIRD: <len>`` then ``<len>`` bytes). ``data_line``: the line after ``+CMGR:``/``+CMGL:``
    (27.005 §3.4.3, §3.4.2): an SMS body or PDU, free text that may hold any byte (GSM 7-bit
    ``@`` is 0x00, 23.038 §6.2.1), never line noise."""

    text: str
    data: bytes | None = None
    data_line: bool = False


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
#: is data, not a prompt (none of them prompts: see ``PROMPT_COMMANDS``).
FREE_TEXT_COMMANDS = frozenset({"+CMGR", "+CMGL", "+QIRD", "+USORD", "+USORF", "+CUSD", "+CIPRXGET"})
#: Answer lines followed by one data line (27.005 §3.4.2 +CMGL, §3.4.3 +CMGR, text and PDU mode).
DATA_LINE_ANSWERS = frozenset({"+CMGR", "+CMGL"})
#: The commands that answer their set form with a payload prompt (reference §1, §8.12): the
#: argument counts with which they prompt (``None``: any) and the prompt. ``> ``: 27.005 §3.5.1
#: +CMGS, §3.5.3 +CMGW, §3.5.5 +CMGC; Quectel BG96 TCP/IP application note AT+QISEND
#: (``=<id>`` or ``=<id>,<len>``; ``=<id>,0`` reads the send counters instead). ``@``: u-blox SARA
#: AT manual +USOWR / +USOST binary mode (+USOWR with the data as a third argument does not prompt).
PROMPT_COMMANDS: dict[str, tuple[tuple[int, ...] | None, str]] = {
    "+CMGS": (None, ">"), "+CMGW": (None, ">"), "+CMGC": (None, ">"),
    "+QISEND": ((1, 2), ">"), "+USOWR": ((2,), "@"), "+USOST": ((4,), "@"),
}  # fmt: skip


def prompt_char(commands: list[Command]) -> str | None:
    """The prompt (``>`` or ``@``) a parsed command line answers with, ``None`` if it does not
    prompt (only its last command can: the payload ends the line's execution)."""
    if not commands or commands[-1].form != "set" or commands[-1].name not in PROMPT_COMMANDS:
        return None
    last = commands[-1]
    args = split_args(last.args)
    if last.name == "+QISEND" and len(args) == 2 and args[1] == "0":
        return None
    counts, char = PROMPT_COMMANDS[last.name]
    return char if counts is None or len(args) in counts else None


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
