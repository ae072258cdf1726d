"""The scenario schema: pydantic models for one scenario file.

A scenario is a fleet of SIM-equipped devices (:class:`FleetGroup`), the rate plans they are on
(:class:`RatePlan`), the traffic they send (:class:`TrafficProfile`) and a timeline of operator
actions (:class:`OperatorAction`). Every model is frozen and rejects unknown keys.

Validation is strict about types (``count: "5"`` or ``count: 5.0`` is an error, not a
conversion); only ``start_date`` also accepts an ISO ``YYYY-MM-DD`` string.

Checks that involve more than one field report the exact key path of the offending value through
:func:`cellfleet.scenarios.base.located_error`. Rate plans live in :mod:`cellfleet.scenarios.plans`,
traffic profiles in :mod:`cellfleet.scenarios.profiles`, the shared helpers, field types and model
base in :mod:`cellfleet.scenarios.base`.

Units are in field names: ``_s`` seconds, ``_days``/``days`` days, ``bytes`` bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from cellfleet.scenarios.base import (
    NO_TRAFFIC,
    TRAFFIC_STATE_KEYS,
    Loc,
    Name,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    StateKey,
    _Model,
    located_error,
    show_value,
)
from cellfleet.scenarios.networks import DeviceNetwork, Network, Plmn
from cellfleet.scenarios.outputs_schema import Outputs
from cellfleet.scenarios.plans import RatePlan
from cellfleet.scenarios.profiles import TrafficProfile


def _known(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none defined"


# --------------------------------------------------------------------------------------------
# Traffic specs


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
    network: DeviceNetwork | None = None
    """Home network, preferred networks, RAT, area and power-on of the devices (needs the
    scenario's ``network``; defaults when the scenario has one)."""

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
    "provision", "reprovision", "activate", "suspend", "unsuspend", "cancel", "set_traffic",
    "send_once", "move", "block_network", "unblock_network", "power_off", "power_on",
]  # fmt: skip
#: Actions on the devices' radio side; they need the scenario's ``network`` section.
NETWORK_ACTIONS = ("move", "block_network", "unblock_network", "power_off", "power_on")


class OperatorAction(_Model):
    """An action the operator performs on selected devices at a given time."""

    name: str | None = None
    """Label for reports."""
    at_day: NonNegFloat
    """Day of the run (0 = start) of the first occurrence; must be before ``duration_days``."""
    action: ActionKey
    """Lifecycle action (see :class:`cellfleet.sim.lifecycle.Action`), ``set_traffic``, or
    ``send_once``: each selected device runs one session of traffic profile ``profile`` (one
    session, not a burst, whatever the profile's ``sessions_per_day``, which may be 0) at a
    uniform random time in ``[t, t + spread_s)`` of each occurrence ``t``, e.g. a fleet-wide
    firmware download, monthly with ``repeat``. Network actions (need ``network``): ``move``
    the devices to ``area`` (border crossings), ``block_network`` / ``unblock_network``
    ``plmn`` for their SIMs, ``power_off`` (detach) and ``power_on`` (within ``spread_s``)."""
    select: Selector = Selector()
    """Devices the action applies to (default: all)."""
    traffic: OptionalTrafficSpec = None
    """New traffic spec; required for ``set_traffic``, forbidden otherwise."""
    profile: Name | None = None
    """``send_once`` only (required there): name of the traffic profile of the session; it
    must have connection ``per_report``."""
    spread_s: NonNegFloat | None = None
    """``send_once`` and ``power_on`` only: sessions start (devices power on) at uniform random
    times within this many seconds of the occurrence (default 0: all at once)."""
    area: Name | None = None
    """``move`` only (required there): the area the devices enter."""
    plmn: Plmn | None = None
    """``block_network`` / ``unblock_network`` only (required there): the network."""
    repeat: Repeat | None = None
    """Repetition; ``None`` = once."""

    @model_validator(mode="before")
    @classmethod
    def _contextual_defaults(cls, data: Any) -> Any:
        """Fill the defaults that depend on ``action``, so a resolved scenario shows them."""
        if isinstance(data, dict) and data.get("action") in ("send_once", "power_on"):
            data = {**data}
            data.setdefault("spread_s", 0.0)
        return data

    @model_validator(mode="after")
    def _check_fields(self) -> OperatorAction:
        issues: list[tuple[Loc, str]] = []
        for key, owners in (
            ("traffic", ("set_traffic",)),
            ("profile", ("send_once",)),
            ("area", ("move",)),
            ("plmn", ("block_network", "unblock_network")),
        ):
            if self.action in owners and getattr(self, key) is None:
                issues.append(((key,), f"required for action '{self.action}'"))
            if self.action not in owners and getattr(self, key) is not None:
                issues.append(((key,), f"only allowed with action {' or '.join(repr(o) for o in owners)}, not '{self.action}'"))
        if self.action not in ("send_once", "power_on") and self.spread_s is not None:
            issues.append(
                (("spread_s",), f"only allowed with actions 'send_once' and 'power_on', not '{self.action}'")
            )
        if self.action == "send_once" and self.profile == NO_TRAFFIC:
            issues.append(
                (("profile",), f"must name a traffic profile; '{NO_TRAFFIC}' sends nothing")
            )
        if issues:
            located_error(issues)
        return self

    def occurrence_days(self) -> list[float]:
        """Days of every occurrence, in order."""
        if self.repeat is None:
            return [self.at_day]
        return [self.at_day + k * self.repeat.every_days for k in range(self.repeat.times)]


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
    network: Network | None = None
    """Networks and registrations; ``None``: devices are always registered."""
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
            if group.network is not None and self.network is None:
                issues.append((("fleet", i, "network"), "needs the scenario's network section"))
            elif self.network is not None:  # a group without settings gets the defaults: check them too
                issues.extend(self.network.check_group(group.network or DeviceNetwork(), ("fleet", i, "network")))

        for i, outage in enumerate(self.network.outages if self.network else ()):
            if outage.at_day >= self.duration_days:
                issues.append(
                    (("network", "outages", i, "at_day"),
                     f"must be before the end of the run (duration_days: {self.duration_days}), got {outage.at_day:g}")
                )  # fmt: skip
        for i, action in enumerate(self.actions):
            base: Loc = ("actions", i)
            if action.traffic is not None:
                check_traffic((*base, "traffic"), action.traffic)
            if action.profile is not None and action.profile != NO_TRAFFIC:
                if action.profile not in profiles:
                    issues.append(
                        (
                            (*base, "profile"),
                            f"unknown traffic profile '{action.profile}' "
                            f"(known: {_known(profiles)})",
                        )
                    )
                else:
                    once = self.traffic_profile(action.profile)
                    if once is not None and once.connection != "per_report":
                        issues.append(
                            (
                                (*base, "profile"),
                                f"profile '{once.name}' has connection '{once.connection}'; "
                                "send_once needs connection 'per_report'",
                            )
                        )
            if action.action in NETWORK_ACTIONS:
                if self.network is None:
                    issues.append(((*base, "action"), f"'{action.action}' needs the scenario's network section"))
                elif action.area is not None and action.area not in self.network.areas():
                    known = ", ".join(self.network.areas()) or "none defined"
                    issues.append(((*base, "area"), f"unknown area '{action.area}' (known: {known})"))
                elif action.plmn is not None and action.plmn not in [o.plmn for o in self.network.operators]:
                    known = ", ".join(o.plmn for o in self.network.operators)
                    issues.append(((*base, "plmn"), f"unknown PLMN '{action.plmn}' (known: {known})"))
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
