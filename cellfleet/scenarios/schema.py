"""The scenario schema: pydantic models for one scenario file.

A scenario is a fleet of SIM-equipped devices (:class:`FleetGroup`), the rate plans they are on
(:class:`RatePlan`), the traffic they send (:class:`TrafficProfile`) and a timeline of operator
actions (:class:`OperatorAction`). Every model is frozen and rejects unknown keys.

Validation is strict about types (``count: "5"`` or ``count: 5.0`` is an error, not a
conversion); only ``start_date`` also accepts an ISO ``YYYY-MM-DD`` string.

Checks that involve more than one field report the exact key path of the offending value through
:func:`located_error`: a :class:`pydantic_core.PydanticCustomError` of type
:data:`LOCATED_ERROR_TYPE` whose context carries ``issues``, a list of ``(relative_loc,
message)`` pairs that :mod:`cellfleet.scenarios.loader` turns into file, line and path.

Units are in field names: ``_s`` seconds, ``_days``/``days`` days, ``bytes`` bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from cellfleet.sim.lifecycle import TRAFFIC_STATES, State

#: Error type of cross-field errors whose context holds ``issues`` with relative key paths.
LOCATED_ERROR_TYPE = "cellfleet_located"

#: The profile name that means "no traffic".
NO_TRAFFIC = "none"

#: Scenario-file spellings of the states, in state order.
STATE_KEYS: tuple[str, ...] = tuple(s.key for s in State)

#: State keys allowed in a traffic mapping (the states that pass traffic).
TRAFFIC_STATE_KEYS: tuple[str, ...] = tuple(s.key for s in TRAFFIC_STATES)

SECONDS_PER_DAY = 86_400.0

StateKey = Literal["initial", "provisioned", "active_billed", "suspended", "cancelled"]

Loc = tuple[str | int, ...]


def located_error(issues: Sequence[tuple[Loc, str]]) -> NoReturn:
    """Raise one validation error carrying several messages, each at a path relative to the
    value being validated (the model for model validators, the field for field validators)."""
    issues = [(tuple(loc), msg) for loc, msg in issues]
    text = "; ".join(f"{format_loc(loc)}: {msg}" if loc else msg for loc, msg in issues)
    raise PydanticCustomError(LOCATED_ERROR_TYPE, "{message}", {"message": text, "issues": issues})


def format_loc(loc: Sequence[str | int]) -> str:
    """``('fleet', 2, 'count')`` -> ``fleet[2].count``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_value(value: Any, limit: int = 60) -> str:
    """A value as it reads in a YAML file: ``-5``, ``'abc'``, ``true``, ``null``."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (datetime.date, datetime.datetime)):
        text = value.isoformat()
    elif isinstance(value, (int, float, str)):
        text = repr(value)
    elif isinstance(value, dict):
        inner = ", ".join(f"{show_value(k)}: {show_value(v)}" for k, v in value.items())
        text = "{" + inner + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show_value(v) for v in value) + "]"
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _known(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none defined"


# --------------------------------------------------------------------------------------------
# Reusable field types


Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A name that others refer to: letters, digits, ``_``, ``.`` and ``-``."""

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]


def _check_traffic(value: Any) -> Any:
    """Shape check of a traffic spec (profile name, or state -> profile name mapping)."""
    if isinstance(value, str):
        if not value:
            located_error([((), "must be a profile name, got ''")])
        return value
    if isinstance(value, dict):
        if not value:
            located_error(
                [((), "must map at least one state to a profile name (use 'none' for no traffic)")]
            )
        issues: list[tuple[Loc, str]] = []
        for key, name in value.items():
            if not isinstance(key, str):
                issues.append(((), f"state keys must be strings, got {show_value(key)}"))
            elif key not in TRAFFIC_STATE_KEYS:
                issues.append(
                    (
                        (key,),
                        f"unknown traffic state '{key}' (allowed: {', '.join(TRAFFIC_STATE_KEYS)})",
                    )
                )
            elif not isinstance(name, str) or not name:
                issues.append(((key,), f"must be a profile name, got {show_value(name)}"))
        if issues:
            located_error(issues)
        return value
    located_error(
        [
            (
                (),
                "must be a profile name or a mapping from state to profile name, "
                f"got {show_value(value)}",
            )
        ]
    )


def _check_group_selector(value: Any) -> Any:
    if value is None:
        return value
    if isinstance(value, str):
        if not value:
            located_error([((), "must be a group name, got ''")])
        return value
    if isinstance(value, list):
        if not value:
            located_error([((), "must list at least one group name, got an empty list")])
        issues = [
            ((i,), f"must be a group name, got {show_value(v)}")
            for i, v in enumerate(value)
            if not isinstance(v, str) or not v
        ]
        if issues:
            located_error(issues)
        return value
    located_error([((), f"must be a group name or a list of group names, got {show_value(value)}")])


def _check_optional_traffic(value: Any) -> Any:
    return None if value is None else _check_traffic(value)


TrafficSpec = Annotated[str | dict[str, str], BeforeValidator(_check_traffic)]
"""One profile name for every traffic-passing state, or a mapping from state key
(``provisioned``, ``active_billed``, ``suspended``) to profile name; ``none`` = no traffic."""

OptionalTrafficSpec = Annotated[
    str | dict[str, str] | None, BeforeValidator(_check_optional_traffic)
]


def traffic_by_state(spec: str | dict[str, str]) -> dict[str, str]:
    """Normalise a traffic spec to ``{state_key: profile_name}`` over the three traffic states;
    states missing from a mapping get ``'none'``."""
    if isinstance(spec, str):
        return {key: spec for key in TRAFFIC_STATE_KEYS}
    return {key: spec.get(key, NO_TRAFFIC) for key in TRAFFIC_STATE_KEYS}


def _traffic_refs(spec: str | dict[str, str]) -> list[tuple[Loc, str]]:
    """Profile names used by a traffic spec with their path relative to the spec."""
    if isinstance(spec, str):
        return [((), spec)]
    return [((key,), name) for key, name in spec.items()]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --------------------------------------------------------------------------------------------
# Rate plans


class Allowance(_Model):
    """A test allowance (seed 003: "a defined amount of traffic over a defined number of days").

    Exceeding any limit moves the SIM to Active-Billed; ``None`` means no limit of that kind.
    """

    data_bytes: NonNegInt | None = None
    """Data volume (uplink + downlink) in bytes."""
    sms_count: NonNegInt | None = None
    """Number of SMS."""
    days: PosFloat | None = None
    """Days spent in the state, counted from entering it."""


class Fees(_Model):
    """One-time fees charged at lifecycle actions (recorded as fee events)."""

    provision: NonNegFloat = 0.0
    """Provision fee (Provision from Initial or Cancelled)."""
    first_bill_activation: NonNegFloat = 0.0
    """First move into Active-Billed from Initial or Provisioned."""
    reactivation: NonNegFloat = 0.0
    """Later moves into Active-Billed, and Reprovision."""
    suspension: NonNegFloat = 0.0
    """Suspend (Active-Billed -> Suspended)."""
    unsuspend: NonNegFloat = 0.0
    """Unsuspend (Suspended -> Active-Billed)."""
    deactivation: NonNegFloat = 0.0
    """Cancel."""
    currency: str = Field(default="USD", min_length=1)
    """Currency of every fee above."""


class RatePlan(_Model):
    """A rate plan: the test allowances of its test states and its one-time fees."""

    name: Name
    """Name fleet groups refer to."""
    provisioned_allowance: Allowance | None = None
    """Test allowance in Provisioned; ``None`` = the SIM never defaults out of Provisioned."""
    suspended_allowance: Allowance | None = None
    """Test allowance in Suspended; ``None`` = the SIM never defaults out of Suspended."""
    fees: Fees = Fees()
    """One-time fees."""


# --------------------------------------------------------------------------------------------
# Traffic


#: Payload sizes of a protocol profile are looked up in per-size tables of wire bytes built at
#: start (``cellfleet.sim.traffic.ProfileTable``); this bounds their memory to 16 MiB a profile.
MAX_PAYLOAD_RANGE_BYTES = 1 << 20


class SessionBytes(_Model):
    """Size of one data session (uplink + downlink), in bytes."""

    distribution: Literal["fixed", "uniform"]
    """``fixed``: every session is ``bytes``; ``uniform``: integer uniform on
    ``[min_bytes, max_bytes]``."""
    bytes: PosInt | None = None
    """Session size for ``fixed`` (required there, forbidden for ``uniform``)."""
    min_bytes: PosInt | None = None
    """Smallest session for ``uniform`` (required there, forbidden for ``fixed``)."""
    max_bytes: PosInt | None = None
    """Largest session for ``uniform`` (required there, forbidden for ``fixed``)."""

    @model_validator(mode="after")
    def _check_fields(self) -> SessionBytes:
        issues: list[tuple[Loc, str]] = []
        if self.distribution == "fixed":
            if self.bytes is None:
                issues.append((("bytes",), "required for distribution 'fixed'"))
            for key in ("min_bytes", "max_bytes"):
                if getattr(self, key) is not None:
                    issues.append(((key,), "only allowed with distribution 'uniform'; use 'bytes'"))
        else:
            if self.bytes is not None:
                issues.append(
                    (
                        ("bytes",),
                        "only allowed with distribution 'fixed'; use 'min_bytes' and 'max_bytes'",
                    )
                )
            for key in ("min_bytes", "max_bytes"):
                if getattr(self, key) is None:
                    issues.append(((key,), "required for distribution 'uniform'"))
            if (
                self.min_bytes is not None
                and self.max_bytes is not None
                and self.min_bytes > self.max_bytes
            ):
                issues.append(
                    (
                        ("min_bytes",),
                        f"must not exceed max_bytes ({self.max_bytes}), got {self.min_bytes}",
                    )
                )
        if issues:
            located_error(issues)
        return self

    @property
    def range_bytes(self) -> tuple[int, int]:
        """Smallest and largest size (equal for ``fixed``)."""
        if self.distribution == "fixed":
            return self.bytes, self.bytes  # type: ignore[return-value]
        return self.min_bytes, self.max_bytes  # type: ignore[return-value]

    @property
    def mean_bytes(self) -> float:
        """Expected session size in bytes."""
        if self.distribution == "fixed":
            return float(self.bytes)  # type: ignore[arg-type]
        return (self.min_bytes + self.max_bytes) / 2  # type: ignore[operator]


class TrafficProfile(_Model):
    """How one device sends traffic while its state passes traffic."""

    name: Name
    """Name fleet groups and actions refer to (``none`` is reserved for no traffic)."""
    schedule: Literal["poisson", "periodic"] = "poisson"
    """``poisson``: exponential gaps with mean ``1 / sessions_per_day``; ``periodic``: gaps of
    ``86400 / sessions_per_day`` seconds, each lengthened or shortened by
    ``U(-jitter_s, +jitter_s)`` (a device that sleeps one period, give or take, between reports;
    the first session falls at a uniform phase inside the first period)."""
    sessions_per_day: NonNegFloat
    """Mean number of data sessions per day per device."""
    jitter_s: NonNegFloat = 0.0
    """Periodic schedule only: each gap is changed by ``U(-jitter_s, +jitter_s)`` seconds;
    must be below half the period."""
    protocol: Literal["raw", "mqtt", "mqtt-tls", "http", "https", "coap", "coap-dtls", "udp"] = "raw"
    """``raw``: ``session_bytes`` are the billed bytes of a session, split by
    ``uplink_fraction``. Any other value names a session on the wire
    (``cellfleet.emulator.session``; ``cellfleet traffic explain NAME`` shows one): then
    ``session_bytes`` is the application payload of one report, and the billed uplink and
    downlink bytes are those of every IP packet of the exchange (headers, handshakes, TLS)."""
    session_bytes: SessionBytes
    """Size of one session (``raw``) or its application payload (any other protocol)."""
    uplink_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    """``raw`` only: share of each session's bytes that is uplink, the rest downlink (default
    0.5)."""
    tls_version: Literal["1.2", "1.3"] | None = None
    """Not ``raw``: TLS version of ``mqtt-tls`` and ``https`` (default 1.3)."""
    mqtt_qos: Literal[0, 1] | None = None
    """Not ``raw``: MQTT QoS of ``mqtt`` and ``mqtt-tls`` (default 0; 1 adds a PUBACK)."""
    ip_version: Literal[4, 6] | None = None
    """Not ``raw``: IP version of the packets (default 4)."""
    session_duration_s: NonNegFloat = 0.0
    """Length of one session in seconds (0 = instantaneous)."""
    sms_per_day: NonNegFloat = 0.0
    """Mean number of SMS per day per device (Poisson)."""

    @model_validator(mode="before")
    @classmethod
    def _contextual_defaults(cls, data: Any) -> Any:
        """Fill the defaults that depend on ``protocol``, so a resolved scenario shows them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("protocol", "raw") == "raw":
            data.setdefault("uplink_fraction", 0.5)
        else:
            for key, value in (("tls_version", "1.3"), ("mqtt_qos", 0), ("ip_version", 4)):
                data.setdefault(key, value)
        return data

    @property
    def uplink_share(self) -> float:
        """``uplink_fraction`` with its default (``raw`` profiles)."""
        return 0.5 if self.uplink_fraction is None else self.uplink_fraction

    def _protocol_issues(self) -> list[tuple[Loc, str]]:
        wire_only = ("tls_version", "mqtt_qos", "ip_version")
        if self.protocol == "raw":
            return [((key,), "only allowed with a protocol other than 'raw'")
                    for key in wire_only if getattr(self, key) is not None]  # fmt: skip
        issues: list[tuple[Loc, str]] = []
        if self.uplink_fraction is not None:
            issues.append((("uplink_fraction",), f"only allowed with protocol 'raw'; '{self.protocol}' "
                           "splits uplink and downlink by its packets"))  # fmt: skip
        low, high = self.session_bytes.range_bytes
        if high - low + 1 > MAX_PAYLOAD_RANGE_BYTES:
            issues.append((("session_bytes",), f"payload range of a '{self.protocol}' profile must span at most "
                           f"{MAX_PAYLOAD_RANGE_BYTES:,} values, got {low:,}..{high:,}"))  # fmt: skip
        else:
            from cellfleet.emulator.session import (
                session_for_profile,  # the wire model checks sizes
            )

            try:
                session_for_profile(self).writes(high)
            except ValueError as exc:
                issues.append((("session_bytes",), f"{high:,} bytes cannot be carried by '{self.protocol}': {exc}"))
        return issues

    @property
    def period_s(self) -> float | None:
        """Seconds between sessions of a periodic schedule (``None`` if no sessions)."""
        if self.sessions_per_day == 0:
            return None
        return SECONDS_PER_DAY / self.sessions_per_day

    @model_validator(mode="after")
    def _check_profile(self) -> TrafficProfile:
        issues: list[tuple[Loc, str]] = []
        if self.name == NO_TRAFFIC:
            issues.append((("name",), f"'{NO_TRAFFIC}' is reserved for no traffic"))
        issues += self._protocol_issues()
        if self.jitter_s > 0:
            if self.schedule != "periodic":
                issues.append(
                    (
                        ("jitter_s",),
                        f"only allowed with schedule 'periodic', not '{self.schedule}'",
                    )
                )
            elif self.period_s is not None and self.jitter_s >= self.period_s / 2:
                issues.append(
                    (
                        ("jitter_s",),
                        f"must be less than half the period ({self.period_s / 2:g} s at "
                        f"{self.sessions_per_day:g} sessions per day), got {self.jitter_s:g}",
                    )
                )
        if issues:
            located_error(issues)
        return self


# --------------------------------------------------------------------------------------------
# Fleet and actions


class FleetGroup(_Model):
    """A group of identical devices."""

    name: Name
    """Name actions select by."""
    count: PosInt
    """Number of devices."""
    rate_plan: str
    """Name of the group's rate plan."""
    account: str = "default"
    """Customer account the devices belong to."""
    report_group: str = "default"
    """Report group (seed: pooling is per rate plan and report group)."""
    initial_state: StateKey = "provisioned"
    """State at the start of the run."""
    traffic: TrafficSpec
    """Profile name for every traffic state, or ``{state_key: profile_name}``; ``none`` = no
    traffic; traffic states missing from a mapping send nothing."""

    def traffic_by_state(self) -> dict[str, str]:
        """``{state_key: profile_name}`` for the three traffic states (``'none'`` = silent)."""
        return traffic_by_state(self.traffic)


class Selector(_Model):
    """Which devices an action applies to; all given conditions must hold."""

    group: Annotated[str | list[str] | None, BeforeValidator(_check_group_selector)] = None
    """Fleet group name or names (``None`` = every group)."""
    state: StateKey | None = None
    """Only devices currently in this state."""
    account: str | None = None
    """Only devices of this account."""
    report_group: str | None = None
    """Only devices of this report group."""
    fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    """Seeded random share of the matching devices (exclusive with ``count``)."""
    count: PosInt | None = None
    """Seeded random number of the matching devices, capped at the number matching
    (exclusive with ``fraction``)."""

    @model_validator(mode="after")
    def _check_selector(self) -> Selector:
        if self.fraction is not None and self.count is not None:
            located_error(
                [
                    (
                        ("count",),
                        f"cannot be combined with fraction; give one of them "
                        f"(fraction: {self.fraction:g}, count: {self.count})",
                    )
                ]
            )
        return self

    def group_names(self) -> list[str] | None:
        """Selected group names, or ``None`` for every group."""
        if self.group is None:
            return None
        return [self.group] if isinstance(self.group, str) else list(self.group)


class Repeat(_Model):
    """Repetition of an action: ``times`` occurrences, ``every_days`` apart (the first at
    ``at_day``)."""

    every_days: PosFloat
    """Days between occurrences."""
    times: PosInt
    """Total number of occurrences, including the first."""


ActionKey = Literal[
    "provision", "reprovision", "activate", "suspend", "unsuspend", "cancel", "set_traffic"
]


class OperatorAction(_Model):
    """An action the operator performs on selected devices at a given time."""

    name: str | None = None
    """Label for reports."""
    at_day: NonNegFloat
    """Day of the run (0 = start) of the first occurrence; must be before ``duration_days``."""
    action: ActionKey
    """Lifecycle action (see :class:`cellfleet.sim.lifecycle.Action`) or ``set_traffic``."""
    select: Selector = Selector()
    """Devices the action applies to (default: all)."""
    traffic: OptionalTrafficSpec = None
    """New traffic spec; required for ``set_traffic``, forbidden otherwise."""
    repeat: Repeat | None = None
    """Repetition; ``None`` = once."""

    @model_validator(mode="after")
    def _check_traffic(self) -> OperatorAction:
        if self.action == "set_traffic" and self.traffic is None:
            located_error([(("traffic",), "required for action 'set_traffic'")])
        if self.action != "set_traffic" and self.traffic is not None:
            located_error(
                [
                    (
                        ("traffic",),
                        f"only allowed with action 'set_traffic', not '{self.action}'",
                    )
                ]
            )
        return self

    def occurrence_days(self) -> list[float]:
        """Days of every occurrence, in order."""
        if self.repeat is None:
            return [self.at_day]
        return [self.at_day + k * self.repeat.every_days for k in range(self.repeat.times)]


# --------------------------------------------------------------------------------------------
# Outputs


class SessionsOutput(_Model):
    """Which devices get per-session records."""

    mode: Literal["auto", "all", "sample", "off"] = "auto"
    """``auto``: all devices when the fleet has at most ``all_max_devices``, else a seeded
    sample of ``sample_devices``; ``all``; ``sample``; ``off``: no session table."""
    sample_devices: PosInt = 1000
    """Sample size for ``sample`` (and ``auto`` above the limit)."""
    all_max_devices: PosInt = 10000
    """Largest fleet for which ``auto`` records every device."""


class Outputs(_Model):
    """What the run writes."""

    sessions: SessionsOutput = SessionsOutput()
    """Per-session records."""
    csv: bool = False
    """Also write CSV copies of the tables."""


# --------------------------------------------------------------------------------------------
# Scenario


class Scenario(_Model):
    """One scenario file."""

    name: str = Field(min_length=1)
    """Scenario name."""
    description: str = ""
    """Free text; the first line is the one-line summary."""
    start_date: datetime.date = Field(strict=False)
    """Calendar date of day 0 (``YYYY-MM-DD``)."""
    duration_days: PosInt
    """Length of the run in days."""
    seed: NonNegInt
    """Seed of every random stream of the run."""
    rate_plans: list[RatePlan] = Field(min_length=1)
    """Rate plans."""
    traffic_profiles: list[TrafficProfile] = []
    """Traffic profiles."""
    fleet: list[FleetGroup] = Field(min_length=1)
    """Device groups."""
    actions: list[OperatorAction] = []
    """Operator actions."""
    outputs: Outputs = Outputs()
    """Output options."""

    @property
    def total_devices(self) -> int:
        """Number of devices of the whole fleet."""
        return sum(g.count for g in self.fleet)

    def rate_plan(self, name: str) -> RatePlan:
        """The rate plan called ``name`` (KeyError if none)."""
        for plan in self.rate_plans:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def traffic_profile(self, name: str) -> TrafficProfile | None:
        """The profile called ``name``; ``None`` for ``'none'`` (KeyError if unknown)."""
        if name == NO_TRAFFIC:
            return None
        for profile in self.traffic_profiles:
            if profile.name == name:
                return profile
        raise KeyError(name)

    def profile_names(self) -> list[str]:
        """Names of the defined traffic profiles, in file order."""
        return [p.name for p in self.traffic_profiles]

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        issues: list[tuple[Loc, str]] = []

        def unique(section: str, what: str, names: list[str]) -> list[str]:
            first: dict[str, int] = {}
            for i, name in enumerate(names):
                if name in first:
                    issues.append(
                        (
                            (section, i, "name"),
                            f"duplicate {what} name '{name}' (first at {section}[{first[name]}])",
                        )
                    )
                else:
                    first[name] = i
            return list(first)

        plans = unique("rate_plans", "rate plan", [p.name for p in self.rate_plans])
        profiles = unique("traffic_profiles", "traffic profile", self.profile_names())
        groups = unique("fleet", "fleet group", [g.name for g in self.fleet])
        known_profiles = [NO_TRAFFIC, *profiles]

        def check_traffic(base: Loc, spec: str | dict[str, str]) -> None:
            for rel, name in _traffic_refs(spec):
                if name not in known_profiles:
                    issues.append(
                        (
                            base + rel,
                            f"unknown traffic profile '{name}' (known: {_known(known_profiles)})",
                        )
                    )

        for i, group in enumerate(self.fleet):
            if group.rate_plan not in plans:
                issues.append(
                    (
                        ("fleet", i, "rate_plan"),
                        f"unknown rate plan '{group.rate_plan}' (known: {_known(plans)})",
                    )
                )
            check_traffic(("fleet", i, "traffic"), group.traffic)

        for i, action in enumerate(self.actions):
            base: Loc = ("actions", i)
            if action.traffic is not None:
                check_traffic((*base, "traffic"), action.traffic)
            selected = action.select.group
            if selected is not None:
                refs: list[tuple[Loc, str]] = (
                    [((), selected)]
                    if isinstance(selected, str)
                    else [((j,), g) for j, g in enumerate(selected)]
                )
                for rel, name in refs:
                    if name not in groups:
                        issues.append(
                            (
                                (*base, "select", "group", *rel),
                                f"unknown fleet group '{name}' (known: {_known(groups)})",
                            )
                        )
            if action.at_day >= self.duration_days:
                issues.append(
                    (
                        (*base, "at_day"),
                        f"must be before the end of the run (duration_days: "
                        f"{self.duration_days}), got {action.at_day:g}",
                    )
                )
            elif action.repeat is not None:
                days = action.occurrence_days()
                if days[-1] >= self.duration_days:
                    k = next(k for k, d in enumerate(days) if d >= self.duration_days)
                    issues.append(
                        (
                            (*base, "repeat"),
                            f"occurrence {k + 1} of {action.repeat.times} falls on day "
                            f"{days[k]:g}, not before the end of the run (duration_days: "
                            f"{self.duration_days})",
                        )
                    )
        if issues:
            located_error(issues)
        return self
