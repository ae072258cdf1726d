"""How long to wait for the final result code of an AT command line.

Response times of real modules span five orders of magnitude (reference ``at-commands.md`` §8.3):
a register read answers in milliseconds, a network scan (``AT+COPS=?``) takes minutes. One
fixed timeout is either too short for the slow commands or makes a silent modem take minutes to
notice. :class:`TimeoutTable` keeps one timeout per command, matched by name, form and leading
arguments, with the values real hosts use:

* ModemManager (``src/mm-broadband-modem.c``): ``+COPS=?`` 315 s (the scan), ``+COPS=0`` /
  ``+COPS=1,…`` 120 s (network selection), ``AT`` probe 3 s.
* Quectel BG96 TCP/IP application note §2.2: ``+QIACT`` 150 s, ``+QIOPEN`` 150 s (its result
  comes later as ``+QIOPEN:`` URC), ``+QIDEACT`` 40 s, ``+QICLOSE`` 10 s (its default
  ``<timeout>``).
* Quectel AT command manuals ("Maximum Response Time"): ``+CMGS`` 120 s "determined by
  network", ``+CGACT`` 150 s, ``+CFUN`` 15 s, ``+CPIN`` 5 s (we allow 15 s, the time
  python-gsmmodem waits for ``+CPIN: READY``, reference §6.1).
* Everything else: 5 s, comfortably above the answer time of local commands on any module
  (python-gsmmodem's default command timeout is 5 s too).

A rule is written like the command it matches, without ``AT``:

======================  ==================================================================
``+COPS=?``             the test form
``+COPS?``              the read form
``+COPS=``              the set form with any arguments
``+COPS=0``             the set form whose first argument is ``0`` (``+COPS=1,2``: first two)
``+COPS``               every form
======================  ==================================================================

The most specific matching rule wins (leading arguments > form > name); user overrides replace
a built-in rule with the same pattern. A chained line (``AT+COPS=3,2;+COPS?``, V.250 §5.2.1)
runs its commands one after the other, so its timeout is the sum of theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cellfleet.modem.command_line import Command, parse_command_line, split_args
from cellfleet.modem.errors import AtError

DEFAULT_TIMEOUT_S = 5.0
"""Timeout of a command no rule matches."""

_PATTERN = re.compile(
    r"^(?P<name>[+%$#^][A-Za-z0-9]+|&[A-Za-z]|[A-Za-z])(?P<form>=\?|\?|=(?P<args>.*))?$"
)


@dataclass(frozen=True)
class TimeoutRule:
    """One entry of a :class:`TimeoutTable`."""

    pattern: str
    """The command as written without ``AT``: ``+COPS=?``, ``+COPS=0``, ``+COPS=``, ``+COPS``."""
    timeout_s: float
    source: str = ""
    """Where the value comes from (documentation only)."""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout of {self.pattern!r} must be positive, got {self.timeout_s!r}")
        _parse_pattern(self.pattern)  # raises ValueError on a malformed pattern


@dataclass(frozen=True)
class _Matcher:
    name: str
    form: str | None  # None = every form
    args: tuple[str, ...]  # leading arguments of the set form that must be equal

    @property
    def specificity(self) -> int:
        return (0 if self.form is None else 1) + (len(self.args) and 1 + len(self.args))

    def matches(self, command: Command) -> bool:
        if command.name != self.name:
            return False
        if self.form is not None and command.form != self.form:
            return False
        if self.args:
            given = tuple(a or "" for a in split_args(command.args))
            return given[: len(self.args)] == self.args
        return True


def _parse_pattern(pattern: str) -> _Matcher:
    text = pattern.strip()
    if text[:2].upper() == "AT":
        text = text[2:]
    found = _PATTERN.match(text)
    if found is None:
        raise ValueError(
            f"bad timeout pattern {pattern!r}: expected a command such as '+COPS=?', '+COPS=0', "
            "'+COPS=', '+COPS?' or '+COPS'"
        )
    name = found["name"].upper()
    form_text = found["form"]
    if form_text is None:
        return _Matcher(name, None, ())
    if form_text == "=?":
        return _Matcher(name, "test", ())
    if form_text == "?":
        return _Matcher(name, "read", ())
    args = tuple(a or "" for a in split_args(found["args"])) if found["args"] else ()
    return _Matcher(name, "set", args)


BUILTIN_RULES: tuple[TimeoutRule, ...] = (
    TimeoutRule("+COPS=?", 315.0, "ModemManager mm-broadband-modem.c: network scan"),
    TimeoutRule("+COPS=0", 120.0, "ModemManager: automatic registration"),
    TimeoutRule("+COPS=1", 120.0, "ModemManager: manual registration"),
    TimeoutRule("+COPS=2", 120.0, "27.007 §7.3 deregistration waits for the network"),
    TimeoutRule("+COPS=4", 120.0, "27.007 §7.3 manual/automatic, as =1"),
    TimeoutRule("+QIACT", 150.0, "Quectel BG96 TCP/IP application note §2.1.3"),
    TimeoutRule("+QIOPEN", 150.0, "Quectel BG96 TCP/IP application note §2.2.4"),
    TimeoutRule("+QIDEACT", 40.0, "Quectel BG96 TCP/IP application note §2.1.4"),
    TimeoutRule("+QICLOSE", 10.0, "Quectel BG96 TCP/IP application note §2.2.5 default <timeout>"),
    TimeoutRule("+CGACT", 150.0, "Quectel AT manuals: +CGACT maximum response time"),
    TimeoutRule("+CMGS", 120.0, "Quectel AT manuals: +CMGS 120 s, determined by network"),
    TimeoutRule("+CPIN", 15.0, "python-gsmmodem waits 15 s for +CPIN: READY"),
    TimeoutRule("+CFUN", 15.0, "Quectel AT manuals: +CFUN maximum response time 15 s"),
)


class TimeoutTable:
    """Per-command timeouts: :data:`BUILTIN_RULES` plus overrides, default :data:`DEFAULT_TIMEOUT_S`.

    ``overrides`` maps patterns to seconds, e.g. ``{"+COPS=?": 600, "+QIACT": 60}``.
    """

    def __init__(
        self,
        overrides: Mapping[str, float] | None = None,
        *,
        default_s: float = DEFAULT_TIMEOUT_S,
        rules: Iterable[TimeoutRule] = BUILTIN_RULES,
    ) -> None:
        if not default_s > 0:
            raise ValueError(f"default timeout must be positive, got {default_s!r}")
        self.default_s = float(default_s)
        merged: dict[_Matcher, TimeoutRule] = {}
        for rule in rules:
            merged[_parse_pattern(rule.pattern)] = rule
        for pattern, timeout_s in (overrides or {}).items():
            rule = TimeoutRule(pattern, float(timeout_s), "override")
            merged[_parse_pattern(pattern)] = rule
        self._entries: tuple[tuple[_Matcher, TimeoutRule], ...] = tuple(merged.items())

    @property
    def rules(self) -> tuple[TimeoutRule, ...]:
        """The rules in force (built-ins replaced by overrides of the same pattern)."""
        return tuple(rule for _, rule in self._entries)

    def with_overrides(self, overrides: Mapping[str, float]) -> TimeoutTable:
        """A copy of this table with more overrides applied."""
        return TimeoutTable(overrides, default_s=self.default_s, rules=self.rules)

    def for_command(self, command: Command) -> float:
        """Timeout of one parsed command: the most specific matching rule, else the default."""
        best: tuple[int, float] | None = None
        for matcher, rule in self._entries:
            if matcher.matches(command) and (best is None or matcher.specificity >= best[0]):
                best = (matcher.specificity, rule.timeout_s)
        return self.default_s if best is None else best[1]

    def timeout_for(self, line: str) -> float:
        """Timeout of a command line (``AT`` prefix optional): the sum over its chained
        commands; the default for a line that does not parse or has no command (``AT``)."""
        body = line.strip()
        if body[:2].upper() == "AT":
            body = body[2:]
        try:
            commands = parse_command_line(body)
        except AtError:
            return self.default_s
        if not commands:
            return self.default_s
        return sum(self.for_command(command) for command in commands)
