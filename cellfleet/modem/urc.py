"""Unsolicited result codes (URCs): which lines are URCs, which pending command owns a line
that looks like one, and the registration-status parser shared by the driver and the tests.

A modem may send a URC at any moment, also between a command's information lines and its final
result (reference §8 item 2; TS 27.007 §4.1 lets the TA buffer them, TS 27.005 ``+CNMI <bfr>``).
A host therefore treats a line with a known URC prefix as a URC *unless* the pending command is
the one whose answer has that prefix, e.g. ``AT+CPIN?`` owns ``+CPIN: READY``. Registration
lines need a closer look: ``AT+CEREG?`` answers ``+CEREG: <n>,<stat>[,...]`` while the URC is
``+CEREG: <stat>[,...]``; ``creg_shape`` tells them apart the way Zephyr PR #80512 and
ModemManager's CREG regexes do (field count, quoting, hex tac).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cellfleet.emulator import nas_timers
from cellfleet.modem.command_line import parse_command_line, quoted_args
from cellfleet.modem.errors import AtError, AtSyntaxError

if TYPE_CHECKING:
    from cellfleet.modem.command_line import Command

#: Known URC prefixes. A bare name (``"+CEREG"``) matches ``+CEREG: ...`` (and the name alone);
#: an entry with a space or colon (``"SMS Ready"``) matches that exact line only.
DEFAULT_URC_PREFIXES: tuple[str, ...] = (
    # --- 3GPP TS 27.007 ---
    "+CREG",  # §7.2 network registration
    "+CGREG",  # §10.1.20 GPRS registration
    "+CEREG",  # §10.1.22 EPS registration
    "+C5GREG",  # 5GS registration (Rel-15 +C5GREG)
    "+CGEV",  # §10.1.19 packet domain events (+CGEREP)
    "+CEDRXP",  # §7.41 eDRX parameters (+CEDRXS mode 2)
    "+CSCON",  # §10.1.30 signalling connection status
    "+CTZV",  # §8.41 time zone reporting (+CTZR=1)
    "+CTZE",  # §8.41 extended time zone reporting (+CTZR=2)
    "+CTZEU",  # §8.41 time zone with UTC time (+CTZR=3)
    "+CIEV",  # §8.10 indicator event (+CMER)
    "+CUSD",  # §7.15 USSD response from the network
    "RING",  # V.250 §6.2.6 incoming call (result code 2)
    "+CRING",  # §6.11 extended ring (+CRC=1)
    "+CLIP",  # §7.6 calling line identification
    "+CCWA",  # §7.12 call waiting
    # --- 3GPP TS 27.005 §3.4.1 (+CNMI) ---
    "+CMTI",  # SMS stored, index
    "+CMT",  # SMS routed directly (header line, then PDU or text line)
    "+CDS",  # SMS status report routed directly
    "+CDSI",  # SMS status report stored
    "+CBM",  # cell broadcast routed directly
    "+CBMI",  # cell broadcast stored
    # --- boot and SIM readiness (reference §5) ---
    "RDY",  # Quectel, SIMCom: UART ready
    "APP RDY",  # Quectel BG96 firmware variants
    "+CPIN",  # TS 27.007 §8.3 SIM state, sent after boot/unlock by Quectel and SIMCom
    "+CFUN",  # Quectel boot (+CFUN: 1)
    "+QUSIM",  # Quectel (U)SIM type after boot
    "+QIND",  # Quectel indications: SMS DONE, PB DONE, ...
    "SMS Ready",  # SIMCom
    "PB DONE",  # SIMCom
    "Ready",  # nRF91 Serial LTE Modem
    "+AT: READY",  # u-blox TOBY class
    "#QSS",  # Telit SIM status
    "NORMAL POWER DOWN",  # Quectel BG96 AT manual, AT+QPOWD
    "POWERED DOWN",  # Quectel BG96 AT manual, AT+QPOWD
    # --- Quectel BG96/BG95 TCP/IP application note ---
    "+QIURC",  # "recv", "closed", "pdpdeact", "incoming", "dnsgip"
    "+QIOPEN",  # async result of AT+QIOPEN after OK: +QIOPEN: <connID>,<err>
    "+QPING",  # async ping results
    "+QNTP",  # async NTP result
    # --- u-blox SARA-R4/R5 AT manual ---
    "+UUSORD",  # TCP data available
    "+UUSORF",  # UDP data available
    "+UUSOCL",  # socket closed
    "+UUSOLI",  # incoming connection on a listening socket
    "+UUPSDD",  # PDP context deactivated
    "+UUPSDA",  # async result of AT+UPSDA
    "+UUSOCO",  # async result of a non-blocking AT+USOCO
    # --- SIMCom SIM7600/SIM7000 TCP/IP manuals (reference §4: unverified) ---
    "+CIPOPEN",  # async result of AT+CIPOPEN: +CIPOPEN: <link>,<err>
    "+NETOPEN",  # async result of AT+NETOPEN
    "+RECEIVE",  # "+RECEIVE,<link>,<len>" then <len> data bytes
    "+IPCLOSE",  # link closed
    "+CIPEVENT",  # network closed unexpectedly
    "CONNECT OK",  # SIM7000 async result of AT+CIPSTART
    "CONNECT FAIL",  # SIM7000 async result of AT+CIPSTART
    # --- Nordic nRF91 AT command reference / Serial LTE Modem ---
    "%XSIM",  # UICC state
    "%CESQ",  # signal quality notifications
    "%XMODEMSLEEP",  # modem sleep notifications
    "%XTIME",  # network time
    "%MDMEV",  # modem domain events
    "%NCELLMEAS",  # neighbour cell measurement result after OK
    "%XT3412",  # TAU pre-warning
    "#XSOCKET",  # SLM socket notifications (also its set-command answer, see OWNING_FORMS)
)

_ALL_FORMS: frozenset[str] = frozenset({"action", "set", "read", "test"})
_READ_TEST: frozenset[str] = frozenset({"read", "test"})
_TEST: frozenset[str] = frozenset({"test"})
#: Forms of a same-named pending command whose answer lines carry the URC's prefix. Names not
#: listed: every form owns. Set forms listed as not owning answer OK and report the outcome
#: later as a URC (``AT+CPIN="1234"`` -> ``OK``, ``+CPIN: READY``; ``AT+QIOPEN=...`` -> ``OK``,
#: ``+QIOPEN: 0,0``; ``AT+CEREG=2`` -> ``OK``).
OWNING_FORMS: dict[str, frozenset[str]] = {
    "+CREG": _READ_TEST,  # read owns the <n>,<stat> shape only, see creg_shape
    "+CGREG": _READ_TEST,
    "+CEREG": _READ_TEST,
    "+C5GREG": _READ_TEST,
    "+CPIN": _READ_TEST,
    "+CFUN": _READ_TEST,
    "+CUSD": _READ_TEST,
    "+CSCON": _READ_TEST,
    "+CLIP": _ALL_FORMS,  # owns the unquoted <n>,<m> shape only, see _owned_by_shape
    "+CCWA": _ALL_FORMS,  # query answers +CCWA: <status>,<class>; the URC starts with a number
    "+QIOPEN": _TEST,
    "+QPING": _TEST,
    "+QNTP": _READ_TEST,
    "+CIPOPEN": _READ_TEST,
    "+NETOPEN": _READ_TEST,
    "%XSIM": _READ_TEST,
    "%CESQ": frozenset(),
    "%XMODEMSLEEP": _READ_TEST,
    "%XTIME": frozenset(),
    "%MDMEV": frozenset(),
    "%NCELLMEAS": _TEST,
}
_REGISTRATION = frozenset({"+CREG", "+CGREG", "+CEREG", "+C5GREG"})
_NAME = re.compile(r"^([+%^$#*]?[A-Za-z][A-Za-z0-9_.\-/!]*)\s*(?:[:,]|$)")


class UrcMatcher:
    """Recognises URC lines for a set of prefixes (see ``DEFAULT_URC_PREFIXES`` for the syntax)."""

    def __init__(self, prefixes: Iterable[str] = DEFAULT_URC_PREFIXES) -> None:
        self.prefixes = tuple(prefixes)
        self._exact = frozenset(p for p in self.prefixes)
        self._names = frozenset(p for p in self.prefixes if _NAME.match(p) and not re.search(r"[\s:]", p))

    def name(self, line: str) -> str | None:
        """The prefix ``line`` matches (``"+CEREG"``, ``"SMS Ready"``), ``None`` if none."""
        text = line.strip()
        if text in self._exact:
            return text
        match = _NAME.match(text)
        if match is not None and match.group(1) in self._names:
            return match.group(1)
        return None

    def is_urc(self, line: str, pending: str | Sequence[Command] | None = None) -> bool:
        """True if ``line`` is a URC while ``pending`` (the pending command line, its parsed
        commands, or ``None`` after the final result) is outstanding."""
        name = self.name(line)
        if name is None:
            return False
        return not any(_owns(command, name, line.strip()) for command in _commands(pending))


_DEFAULT_MATCHER = UrcMatcher()


def urc_name(line: str) -> str | None:
    """The default prefix ``line`` matches, ``None`` if it is not a known URC."""
    return _DEFAULT_MATCHER.name(line)


def is_urc(line: str, pending: str | Sequence[Command] | None = None, *, prefixes: Iterable[str] | None = None) -> bool:
    """True if ``line`` is a URC given the pending command (a line such as ``"AT+CEREG?"``, its
    parsed commands, or ``None`` when no command is outstanding: then nothing is owned)."""
    matcher = _DEFAULT_MATCHER if prefixes is None else UrcMatcher(prefixes)
    return matcher.is_urc(line, pending)


def urc_data_length(line: str) -> int | None:
    """How many raw bytes follow the URC ``line``: ``+QIURC: "recv",<id>,<len>`` (Quectel BG96
    TCP/IP application note, direct push mode; ``+QIURC: "recv",<id>`` in buffer mode has none)
    and SIM7600 ``+RECEIVE,<link>,<len>`` (reference §4: unverified); ``None`` otherwise."""
    name, _, rest = line.partition(":") if line[:6].upper() == "+QIURC" else line.partition(",")
    name = name.strip().upper()
    try:
        args = quoted_args(rest.strip())
    except AtSyntaxError:
        return None
    if name == "+QIURC" and len(args) == 3 and args[0].value == "recv" and (args[2].value or "").isdigit():
        return int(args[2].value or "0")
    if name == "+RECEIVE" and len(args) == 2 and (args[1].value or "").isdigit():
        return int(args[1].value or "0")
    return None


def _commands(pending: str | Sequence[Command] | None) -> Sequence[Command]:
    if pending is None:
        return ()
    if not isinstance(pending, str):
        return pending
    text = pending.strip()
    if text[:2].upper() == "AT":
        text = text[2:]
    try:
        return parse_command_line(text)
    except AtError:
        return ()


def _owns(command: Command, name: str, line: str) -> bool:
    if command.name != name.upper():
        return False
    if command.form not in OWNING_FORMS.get(name, _ALL_FORMS):
        return False
    return _owned_by_shape(command, name, line)


def _owned_by_shape(command: Command, name: str, line: str) -> bool:
    """Shape rules for prefixes shared by an answer and a URC (TS 27.007 §7.2, §7.6, §7.12, §10.1.22)."""
    if command.form == "test":
        return True
    if name in _REGISTRATION:
        try:
            return creg_shape(line) == "read"
        except AtSyntaxError:
            return True  # malformed: let the pending command see it
    if name in ("+CLIP", "+CCWA"):
        fields = _fields(line)
        return bool(fields) and not fields[0][1]  # the URC starts with a quoted number
    return True


def _fields(line: str) -> list[tuple[str | None, bool]]:
    """(value, quoted) per comma-separated field after ``<name>:``."""
    _, _, rest = line.partition(":")
    return [(arg.value, arg.quoted) for arg in quoted_args(rest.strip())]


# --------------------------------------------------------------------------------------------
# Registration status: +CREG (TS 27.007 §7.2), +CGREG (§10.1.20), +CEREG (§10.1.22), +C5GREG


#: Field positions after <stat>, fixed for every <n> (n=4 leaves cause_type/reject_cause empty).
_LAYOUT: dict[str, tuple[str, ...]] = {
    "+CREG": ("tac", "ci", "act", "cause_type", "reject_cause"),
    "+CGREG": ("tac", "ci", "act", "rac", "cause_type", "reject_cause", "active_time", "periodic_tau", "ready_timer"),
    "+CEREG": ("tac", "ci", "act", "cause_type", "reject_cause", "active_time", "periodic_tau"),
    "+C5GREG": ("tac", "ci", "act", "nssai_length", "nssai", "cause_type", "reject_cause"),
}
_HEX_FIELDS = frozenset({"tac", "ci", "rac"})
_HEX = re.compile(r"[0-9A-Fa-f]{1,8}")
_TIMER_BITS = re.compile(r"[01]{8}")
_INT_FIELDS = frozenset({"act", "cause_type", "reject_cause"})
#: <stat> values that mean "registered" (TS 27.007 §10.1.22: 1 home, 5 roaming, 6/7 SMS only,
#: 9/10 CSFB not preferred).
REGISTERED_STATS = frozenset({1, 5, 6, 7, 9, 10})
ROAMING_STATS = frozenset({5, 7, 10})


@dataclass(frozen=True)
class CregInfo:
    """One registration line, read form or URC. ``n`` is only known from the read form.
    ``tac`` is the LAC for +CREG/+CGREG. Timers are the 8-bit strings as sent (``"00100001"``)."""

    n: int | None
    stat: int
    tac: int | None = None
    ci: int | None = None
    act: int | None = None
    cause_type: int | None = None
    reject_cause: int | None = None
    active_time: str | None = None
    periodic_tau: str | None = None
    command: str = "+CEREG"
    rac: int | None = None

    @property
    def registered(self) -> bool:
        return self.stat in REGISTERED_STATS

    @property
    def roaming(self) -> bool:
        return self.stat in ROAMING_STATS

    @property
    def active_time_s(self) -> int | None:
        """T3324 in seconds (GPRS Timer 2, TS 24.008 §10.5.7.4); ``None`` if absent or deactivated."""
        return None if self.active_time is None else nas_timers.decode_timer(self.active_time, "gprs_timer_2")

    @property
    def periodic_tau_s(self) -> int | None:
        """T3412 extended / T3312 extended in seconds (GPRS Timer 3, TS 24.008 §10.5.7.4a)."""
        return None if self.periodic_tau is None else nas_timers.decode_timer(self.periodic_tau, "gprs_timer_3")


def _registration_fields(line: str) -> tuple[str, list[tuple[str | None, bool]]]:
    text = line.strip()
    name, sep, rest = text.partition(":")
    name = name.strip().upper()
    if not sep or name not in _LAYOUT:
        raise AtSyntaxError(f"not a +CREG/+CGREG/+CEREG/+C5GREG line: {line!r}")
    fields = [(arg.value, arg.quoted) for arg in quoted_args(rest.strip())]
    if not fields or fields[0][0] is None:
        raise AtSyntaxError(f"registration line without <stat>: {line!r}")
    return name, fields


#: <stat> values: TS 27.007 §10.1.22 defines 0..11; nRF91 adds 90 (UICC failure, reference §2).
VALID_STATS = frozenset(range(12)) | {90}


def _is_stat_like(field: tuple[str | None, bool]) -> bool:
    """An unquoted decimal of at most 3 characters that is a valid ``<stat>`` (``1``, ``90``,
    Iridium's ``001``); a LAC/TAC is 4 hex digits, quoted or not (ModemManager vectors)."""
    value, quoted = field
    return (
        not quoted
        and value is not None
        and len(value) <= 3
        and value.isdigit()
        and value.isascii()
        and int(value) in VALID_STATS
    )


def creg_shape(line: str) -> Literal["read", "urc"]:
    """Whether a registration line is the read-command answer (``<n>,<stat>,...``) or a URC
    (``<stat>,...``). TS 27.007 §7.2/§10.1.22 put ``<n>`` only in the read answer; the rules
    (Zephyr PR #80512, ModemManager ``mm-modem-helpers.c``): one field is a URC; a quoted, empty
    or 4-hex-digit second field is a LAC/TAC, so a URC; a quoted third field is a LAC/TAC, so the
    read form; otherwise two short decimals in front are ``<n>,<stat>`` (``<n>`` is 0..5)."""
    _, fields = _registration_fields(line)
    if len(fields) == 1:
        return "urc"
    second = fields[1]
    if second[1] or second[0] is None or not _is_stat_like(second):
        return "urc"
    if len(fields) > 2 and fields[2][1]:
        return "read"
    first = fields[0]
    if not _is_stat_like(first) or int(first[0] or "0") > 5:  # <n> is 0..5
        return "urc"
    return "read"


def parse_creg(line: str, *, read_form: bool | None = None) -> CregInfo:
    """Parse ``+CREG:``/``+CGREG:``/``+CEREG:``/``+C5GREG:`` lines, read form or URC (decided by
    ``creg_shape`` unless ``read_form`` says), any ``<n>`` 0..5, quoted or unquoted hex
    LAC/TAC/CI/RAC, two-digit ``<stat>`` (10, 11, nRF91's 90). Raises ``AtSyntaxError``."""
    name, fields = _registration_fields(line)
    is_read = creg_shape(line) == "read" if read_form is None else read_form
    n = None
    if is_read:
        n = _int(fields[0], "n", line)
        fields = fields[1:]
        if not fields:
            raise AtSyntaxError(f"read answer without <stat>: {line!r}")
    stat = _int(fields[0], "stat", line)
    if stat is None:
        raise AtSyntaxError(f"registration line without <stat>: {line!r}")
    values: dict[str, object] = {}
    for key, field in zip(_LAYOUT[name], fields[1:], strict=False):
        if not field[0]:  # omitted or "" (TS 27.007: fields may be left out while not registered)
            continue
        if key in _HEX_FIELDS:
            values[key] = _hex(field[0], key, line)
        elif key in _INT_FIELDS:
            values[key] = _int(field, key, line)
        elif key in ("active_time", "periodic_tau"):
            if not _TIMER_BITS.fullmatch(field[0]):
                raise AtSyntaxError(f"<{key}> is not an 8-bit string (TS 27.007 §10.1.22) in {line!r}")
            values[key] = field[0]
    if len(fields) - 1 > len(_LAYOUT[name]):
        raise AtSyntaxError(f"too many fields for {name}: {line!r}")
    return CregInfo(n=n, stat=stat, command=name, **values)  # type: ignore[arg-type]


def _int(field: tuple[str | None, bool], key: str, line: str) -> int | None:
    value = field[0]
    if value is None:
        return None
    if not (value.isdigit() and value.isascii()):
        raise AtSyntaxError(f"<{key}> is not a decimal number in {line!r}")
    return int(value)


def _hex(value: str, key: str, line: str) -> int:
    if not _HEX.fullmatch(value):
        raise AtSyntaxError(f"<{key}> is not hexadecimal in {line!r}")
    return int(value, 16)
