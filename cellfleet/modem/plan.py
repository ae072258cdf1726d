"""AT test plans for lab CI: a YAML file of steps, run against a modem, a pass/fail report and
JUnit XML (``cellfleet modem script PORT PLAN.yaml``).

A plan::

    name: bg96 smoke test
    timeouts: {"+COPS=?": 400}         # optional TimeoutTable overrides
    steps:
      - send: AT+CGMI
        expect: [Quectel]              # the information lines, exactly; the final must be OK
      - send: AT+CGMM
        expect: [BG96, OK]             # a final result code last: compared with the final too
      - send: AT+CGSN
        match: '^\\d{15}$'              # regex(es) searched in the lines (re.MULTILINE)
      - send: AT+CPIN="0000"
        expect_error: CME 16           # CME <code|NAME>, CMS <code>, CME, CMS, ERROR, NO CARRIER …
      - send: AT+CEREG=2
      - wait_urc: "+CEREG: 1"          # a prefix; or {regex: '^\\+CEREG: [15],'}
        timeout_s: 30
      - send: AT+CMGS="+15551234567"
        payload: hello                 # sent after the "> " prompt, Ctrl-Z appended
      - sleep_s: 2
      - send: AT+CSQ
        repeat: 3
        continue_on_fail: true

Each step does exactly one of ``send``, ``wait_urc``, ``sleep_s``. A failed step stops the plan
(later steps are reported as skipped) unless it has ``continue_on_fail: true``. ``wait_urc``
also accepts URCs that arrived after the plan started and after the URC the previous
``wait_urc`` matched, so a URC that a ``send`` triggers is not missed.

Problems in the file are reported like scenario problems (``FILE:LINE: PATH: MESSAGE``) through
:mod:`cellfleet.scenarios.errors`. Running a plan, its report and JUnit XML:
:mod:`cellfleet.modem.plan_runner`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cellfleet.modem.errors import CmeError
from cellfleet.modem.timeouts import TimeoutRule
from cellfleet.scenarios.base import format_loc, located_error, show_value
from cellfleet.scenarios.errors import (
    ScenarioError,
    ScenarioIssue,
    describe_value,
    translate_validation_error,
)
from cellfleet.scenarios.loader import parse_yaml

DEFAULT_URC_TIMEOUT_S = 10.0
"""How long ``wait_urc`` waits when the step gives no ``timeout_s``."""

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]

_FINAL_ERRORS = ("ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "SEND FAIL")
_EXPECTED_ERROR = re.compile(r"^\+?(?P<kind>CME|CMS)(?: ERROR)?:?(?:\s*(?P<code>\w+))?$", re.IGNORECASE)


class PlanError(ScenarioError):
    """A plan could not be loaded; :attr:`issues` lists every problem (file, line, key path)."""


@dataclass(frozen=True)
class ExpectedError:
    """What ``expect_error`` asks for: a ``+CME``/``+CMS`` error (any code when ``code`` is
    None) or a plain error final such as ``ERROR`` or ``NO CARRIER``."""

    kind: str  # "CME", "CMS" or one of _FINAL_ERRORS
    code: int | None = None

    @classmethod
    def parse(cls, text: str) -> ExpectedError:
        """``CME 10``, ``+CME ERROR: 10``, ``CME SIM_NOT_INSERTED``, ``CMS 500``, ``CME``,
        ``ERROR``, ``NO CARRIER``; ``ValueError`` naming the accepted forms otherwise."""
        clean = " ".join(text.split())
        if clean.upper() in _FINAL_ERRORS:
            return cls(clean.upper())
        found = _EXPECTED_ERROR.match(clean)
        if found is None:
            raise ValueError(
                f"must be 'CME <code or name>', 'CMS <code>', 'CME', 'CMS' or one of "
                f"{', '.join(_FINAL_ERRORS)}, got {show_value(text)}"
            )
        kind, code = found["kind"].upper(), found["code"]
        if code is None:
            return cls(kind)
        if code.isdigit():
            return cls(kind, int(code))
        if kind == "CME" and code.upper() in CmeError.__members__:
            return cls(kind, int(CmeError[code.upper()]))
        raise ValueError(f"unknown {kind} error {show_value(code)} (give a code or a CmeError name)")

    def matches(self, kind: str, code: int | None) -> bool:
        return kind == self.kind and (self.code is None or code == self.code)

    def __str__(self) -> str:
        return self.kind if self.code is None else f"{self.kind} {self.code}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class UrcWait(_Model):
    """``wait_urc``: a URC starting with ``prefix``, or matching ``regex`` (re.search)."""

    prefix: str | None = None
    regex: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"prefix": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_of(self) -> UrcWait:
        if (self.prefix is None) == (self.regex is None):
            located_error([((), "give exactly one of prefix or regex")])
        if self.regex is not None:
            _check_regex(self.regex, ("regex",))
        return self


class Step(_Model):
    """One step of a plan; see the module docstring."""

    name: str | None = None
    send: str | None = Field(default=None, min_length=1)
    payload: str | None = None
    expect: list[str] | None = None
    match: list[str] | None = None
    expect_error: str | None = None
    wait_urc: UrcWait | None = None
    sleep_s: NonNegFloat | None = None
    timeout_s: PosFloat | None = None
    repeat: int = Field(default=1, ge=1)
    continue_on_fail: bool = False

    @field_validator("expect", "match", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        actions = [k for k in ("send", "wait_urc", "sleep_s") if getattr(self, k) is not None]
        if len(actions) != 1:
            found = f"got {', '.join(actions)}" if actions else "got none"
            located_error([((), f"a step does exactly one of send, wait_urc, sleep_s; {found}")])
        issues: list[tuple[tuple[str | int, ...], str]] = []
        if self.send is None:
            for key in ("payload", "expect", "match", "expect_error"):
                if getattr(self, key) is not None:
                    issues.append(((key,), f"only allowed with send (this step does {actions[0]})"))
        if self.sleep_s is not None and self.timeout_s is not None:
            issues.append((("timeout_s",), "not allowed with sleep_s"))
        if self.expect_error is not None:
            for key in ("expect", "match"):
                if getattr(self, key) is not None:
                    issues.append(((key,), "not allowed with expect_error (an error has no lines to check)"))
            try:
                ExpectedError.parse(self.expect_error)
            except ValueError as exc:
                issues.append((("expect_error",), str(exc)))
        for i, pattern in enumerate(self.match or []):
            try:
                re.compile(pattern)
            except re.error as exc:
                issues.append((("match", i), f"not a valid regex ({exc}), got {show_value(pattern)}"))
        if issues:
            located_error(issues)
        return self

    @property
    def expected_error(self) -> ExpectedError | None:
        return None if self.expect_error is None else ExpectedError.parse(self.expect_error)

    @property
    def label(self) -> str:
        """The step's name, or what it does: ``AT+CGMI``, ``wait_urc +CEREG``, ``sleep 2 s``."""
        if self.name:
            return self.name
        if self.send is not None:
            return self.send
        if self.wait_urc is not None:
            what = self.wait_urc.prefix if self.wait_urc.prefix is not None else f"/{self.wait_urc.regex}/"
            return f"wait_urc {what}"
        return f"sleep {self.sleep_s:g} s"


class Plan(_Model):
    """An AT test plan: a name, optional timeout overrides, ``sync`` first or not, the steps."""

    name: str = Field(default="AT plan", min_length=1)
    sync: bool = True
    timeouts: dict[str, PosFloat] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    @field_validator("timeouts")
    @classmethod
    def _patterns(cls, value: dict[str, float]) -> dict[str, float]:
        issues = []
        for pattern, timeout_s in value.items():
            try:
                TimeoutRule(pattern, timeout_s)
            except ValueError as exc:
                issues.append(((pattern,), str(exc)))
        if issues:
            located_error(issues)
        return value


def _check_regex(pattern: str, loc: tuple[str | int, ...]) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        located_error([(loc, f"not a valid regex ({exc}), got {show_value(pattern)}")])


# ------------------------------------------------------------------------------ loading


def parse_plan(text: str, file: str = "<string>") -> Plan:
    """Validate plan YAML ``text``; ``file`` names it in messages. Raises :class:`PlanError`."""
    try:
        node, lines, data = parse_yaml(text, file)
    except ScenarioError as exc:
        raise PlanError(exc.issues) from None
    if node is None or lines is None:
        raise PlanError([ScenarioIssue(file, None, "", "the file is empty; expected a mapping with steps")])
    if not isinstance(data, dict):
        message = f"the top level must be a mapping with steps, got {describe_value(data)}"
        raise PlanError([ScenarioIssue(file, node.start_mark.line + 1, "", message)])
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        issues = [i for i in translate_validation_error(exc, file, lines) if not i.message.startswith("unknown key ")]
        for error in exc.errors():
            if error["type"] == "extra_forbidden":
                loc = tuple(error["loc"])
                issues.append(ScenarioIssue(file, lines.line(loc), format_loc(loc[:-1]), _unknown_key(loc)))
        issues.sort(key=lambda i: -1 if i.line is None else i.line)
        raise PlanError(issues) from None


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file. Raises :class:`PlanError`."""
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([ScenarioIssue(label, None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise PlanError([ScenarioIssue(label, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise PlanError([ScenarioIssue(label, None, "", f"cannot read: {exc.strerror}")]) from None
    return parse_plan(text, label)


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    model: type[BaseModel] = Plan
    if "steps" in loc[:-1]:
        model = UrcWait if "wait_urc" in loc[:-1] else Step
    fields = list(model.model_fields)
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(fields)}"
    return f"unknown key {show_value(key)} ({hint})"
