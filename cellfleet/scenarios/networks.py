"""Scenario schema: the networks a fleet registers on (``network``) and each group's side of it
(``fleet[].network``).

Operators are PLMNs (MCC + MNC, 3GPP TS 23.003 §2.2) offering RATs in areas (markets); a PLMN
may serve a device's home network only under a roaming agreement (otherwise it rejects the attach
with EMM cause #11, TS 24.301 §5.5.1.2.5). Attach dialogs are processed by core stations
(MME/HSS-like) with a number of concurrent dialogs, a service time and a queue: a request that
finds the queue full (or the station at its registered-device limit) is rejected with #22
congestion and T3346 (TS 24.301 §5.5.1.2.5, TS 23.401 §4.3.7.4.2). Outages take PLMNs, areas or
core stations away for a while; when they end the devices come back through the real procedure.

Timer defaults are the spec's (TS 24.301 Table 10.2.1, ``shared/reference/network-timers.md``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from cellfleet.emulator.nas_timers import EDRX_CYCLE_S, PTW_STEP_S
from cellfleet.scenarios.base import (
    Loc,
    Name,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    _Model,
    located_error,
    show_value,
)

RAT_KEYS = ("lte-m", "nb-iot", "lte", "gsm", "umts", "nr")
#: Operators of a scenario: a device's forbidden and blocked PLMNs are one 64-bit mask
#: (``cellfleet.sim.network_tables``).
MAX_OPERATORS = 64
#: Areas of a scenario: an operator's coverage is a 64-bit mask whose last bit means "no area"
#: (``cellfleet.sim.network_tables.NO_AREA_BIT``).
MAX_AREAS = 63
Rat = Literal["lte-m", "nb-iot", "lte", "gsm", "umts", "nr"]
#: EMM causes a network may answer an attach with (TS 24.301 §9.9.3.9); #22 comes from the core.
RejectCause = Literal[3, 6, 7, 8, 11, 12, 13, 14, 15, 17, 111]
#: eDRX cycles each E-UTRAN mode may use (TS 24.008 Table 10.5.5.32 and its notes): WB-S1 (LTE-M,
#: LTE) and NB-S1 (NB-IoT); other RATs have no eDRX here.
EDRX_CYCLES_BY_RAT_S = {
    "lte-m": EDRX_CYCLE_S[:14],
    "lte": EDRX_CYCLE_S[:14],
    "nb-iot": (20.48, 40.96, 81.92, 163.84, 327.68, 655.36, 1310.72, 2621.44, 5242.88, 10485.76),
}
#: Default paging cycles a cell may broadcast (TS 36.331 ``defaultPagingCycle`` rf32..rf256).
PAGING_CYCLES_S = (0.32, 0.64, 1.28, 2.56)


def ptw_values_s(rat: str) -> tuple[float, ...]:
    """Paging time windows of a RAT: step x (n + 1), n = 0..15 (TS 24.008 §10.5.5.32)."""
    step = PTW_STEP_S["nb-iot" if rat == "nb-iot" else "lte-m"]
    return tuple(round(step * (n + 1), 2) for n in range(16))


def _plmn(value: Any) -> Any:
    """``"26201"``, ``"262-01"`` or ``"310-260"`` -> MCC+MNC digits (MNC of 2 or 3 digits)."""
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{3})-?(\d{2,3})", value.strip())
        if m is None:
            located_error([((), f"must be a PLMN: MCC (3 digits) and MNC (2-3 digits), e.g. '262-01', got {show_value(value)}")])
        return m.group(1) + m.group(2)
    if value is not None:  # e.g. an unquoted 26201 is a YAML integer
        message = f"must be a PLMN as a quoted string, e.g. '262-01', got {show_value(value)}"
        located_error([((), message)])
    return value


Plmn = Annotated[str, BeforeValidator(_plmn)]


class Operator(_Model):
    """A mobile network (PLMN) the devices may register on."""

    plmn: Plmn
    """MCC-MNC, e.g. ``262-01`` (stored as ``26201``)."""
    name: str = ""
    """Operator name (``+COPS`` long alphanumeric)."""
    country: str = ""
    """ISO 3166 country code."""
    zone: str = "home"
    """Rating zone of usage on this network (session records, registrations)."""
    rats: list[Rat] = Field(default=["lte-m"], min_length=1)
    """Radio access technologies offered; a device registers only where its RAT is offered."""
    areas: Annotated[list[Name], Field(min_length=1)] | None = None
    """Areas (markets) the network covers; ``None``: everywhere."""
    roaming_partners: list[Plmn] | None = None
    """Home PLMNs whose SIMs may register (its own always may); ``None``: every SIM. A SIM of
    another home network is rejected with #11 PLMN not allowed."""
    core: Name | None = None
    """Core station processing its attach dialogs; ``None``: unlimited, answers at once."""
    t3412_s: NonNegFloat = 54 * 60.0
    """Periodic TAU timer sent in ATTACH ACCEPT (TS 24.301 Table 10.2.1: default 54 min;
    0 = deactivated)."""
    t3402_s: PosFloat | None = None
    """T3402 value sent in ATTACH ACCEPT/REJECT (``None``: the device's default)."""
    t3346_s: PosFloat | None = None
    """T3346 value sent with a #22 reject; ``None``: the reject is not integrity protected and
    the device draws 15-30 min (TS 24.008 §4.7.13.4)."""
    reject_probability: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    """Share of attach requests rejected with ``reject_cause`` (independent draws)."""
    reject_cause: RejectCause = 17
    """EMM cause of those rejects (#17 network failure by default)."""
    psm: bool = True
    """Grants power saving mode to devices that request it (TS 24.301 §5.3.11: the T3324 and
    T3412 extended values they ask for); ``false``: refuses it (T3412 as above, no PSM)."""
    edrx: bool = True
    """Grants extended DRX to devices that request it (TS 24.301 §5.3.12); ``false``: refuses it."""
    edrx_cycle_s: PosFloat | None = None
    """eDRX cycle the network provides instead of the requested one (``None``: the requested)."""
    ptw_s: PosFloat | None = None
    """Paging time window the network provides instead of the requested one (``None``: the requested)."""
    paging_cycle_s: float = 1.28
    """Default paging (DRX) cycle of the cells: paging occasions inside a paging time window come
    this far apart (TS 36.304 §7.1; one of 0.32, 0.64, 1.28, 2.56 s)."""

    @model_validator(mode="after")
    def _check_paging(self) -> Operator:
        issues: list[tuple[Loc, str]] = []
        if self.paging_cycle_s not in PAGING_CYCLES_S:
            issues.append((("paging_cycle_s",), f"must be one of {', '.join(map(str, PAGING_CYCLES_S))} s, got {show_value(self.paging_cycle_s)}"))
        if self.edrx_cycle_s is not None and self.edrx_cycle_s not in EDRX_CYCLE_S:
            issues.append((("edrx_cycle_s",), f"must be an eDRX cycle of TS 24.008 Table 10.5.5.32 ({', '.join(map(str, EDRX_CYCLE_S))} s), got {show_value(self.edrx_cycle_s)}"))
        if self.ptw_s is not None and self.ptw_s not in ptw_values_s("lte-m") + ptw_values_s("nb-iot"):
            issues.append((("ptw_s",), f"must be 1.28 s x n (LTE-M) or 2.56 s x n (NB-IoT), n = 1..16, got {show_value(self.ptw_s)}"))
        if issues:
            located_error(issues)
        return self


class CoreStation(_Model):
    """An MME/HSS-like station that processes attach dialogs first come, first served."""

    name: Name
    dialogs: PosInt
    """Dialogs processed at the same time."""
    service_time_s: PosFloat
    """Processing time of one attach dialog (request to answer)."""
    queue_limit: NonNegInt = 0
    """Requests that may wait for a free dialog; one more is rejected with #22."""
    max_registered: PosInt | None = None
    """Policing: registered devices the station admits; beyond that attaches get #22."""


class UeTimers(_Model):
    """Device-side EMM timers (TS 24.301 Table 10.2.1 defaults)."""

    t3410_s: PosFloat = 15.0
    """Attach guard: no answer within it is an abnormal case (85 s in WB-S1 CE mode)."""
    t3411_s: PosFloat = 10.0
    """Retry delay after an abnormal case while the attempt counter is below 5."""
    t3402_s: PosFloat = 12 * 60.0
    """Back-off after 5 failed attempts, unless the network sent a value."""


class Outage(_Model):
    """Networks, areas or core stations out of service for a while."""

    name: str | None = None
    at_day: NonNegFloat
    """Start, in days of the run."""
    duration_s: PosFloat
    operators: Annotated[list[Plmn], Field(min_length=1)] | None = None
    """PLMNs whose cells go down (with ``areas``: only there)."""
    areas: Annotated[list[Name], Field(min_length=1)] | None = None
    """Areas (markets) that lose coverage (with ``operators``: only those networks)."""
    cores: Annotated[list[Name], Field(min_length=1)] | None = None
    """Core stations that stop answering: cells stay up, attach requests time out (T3410)."""
    reselect_s: NonNegFloat = 0.0
    """When cells come back, each device finds them after a uniform time in ``[0, reselect_s)``
    (cell search and measurement); 0: at once, the synchronized storm."""

    @model_validator(mode="after")
    def _check_scope(self) -> Outage:
        if self.operators is None and self.areas is None and self.cores is None:
            located_error([((), "give operators, areas or cores (what goes down)")])
        if self.cores is not None and (self.operators is not None or self.areas is not None):
            located_error([(("cores",), "a core outage cannot be combined with operators or areas; use two outages")])
        return self


PowerOnProcess = Literal["constant", "poisson", "uniform", "beta", "storm"]


class PowerOn(_Model):
    """When the group's devices power on and first attach (``cellfleet.sim.power_on``)."""

    process: PowerOnProcess = "uniform"
    """``constant`` (``rate_per_s``), ``poisson`` (``rate_per_s``), ``uniform`` over
    ``window_s`` (TR 37.868 model 1), ``beta`` Beta(3,4) over ``window_s`` (TR 37.868 model 2),
    ``storm`` (all at ``start_s`` plus ``U(0, jitter_s)``)."""
    start_s: NonNegFloat = 0.0
    rate_per_s: PosFloat | None = None
    window_s: PosFloat | None = None
    jitter_s: NonNegFloat = 0.0

    @model_validator(mode="before")
    @classmethod
    def _contextual_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("process", "uniform") in ("uniform", "beta"):
            data = {**data}
            data.setdefault("window_s", 60.0)
        return data

    @model_validator(mode="after")
    def _check_fields(self) -> PowerOn:
        needs_rate = self.process in ("constant", "poisson")
        needs_window = self.process in ("uniform", "beta")
        issues: list[tuple[Loc, str]] = []
        if needs_rate and self.rate_per_s is None:
            issues.append((("rate_per_s",), f"required for process '{self.process}'"))
        if not needs_rate and self.rate_per_s is not None:
            issues.append((("rate_per_s",), f"only for processes constant and poisson, not '{self.process}'"))
        if not needs_window and self.window_s is not None:
            issues.append((("window_s",), f"only for processes uniform and beta, not '{self.process}'"))
        if self.process != "storm" and self.jitter_s:
            issues.append((("jitter_s",), f"only for process storm, not '{self.process}'"))
        if issues:
            located_error(issues)
        return self


class PsmRequest(_Model):
    """Power saving mode the devices request in ATTACH REQUEST (TS 24.301 §5.3.11; ``AT+CPSMS``)."""

    t3324_s: NonNegFloat
    """Active time: how long the device stays reachable after each exchange before PSM."""
    t3412_ext_s: PosFloat
    """Periodic TAU timer requested (T3412 extended value, GPRS Timer 3)."""


class EdrxRequest(_Model):
    """Extended DRX the devices request (TS 24.301 §5.3.12, TS 24.008 §10.5.5.32; ``AT+CEDRXS``):
    in idle mode they are pageable only in a paging time window once per eDRX cycle."""

    cycle_s: PosFloat
    """eDRX cycle, a value of TS 24.008 Table 10.5.5.32 for the group's RAT (e.g. 81.92)."""
    ptw_s: PosFloat
    """Paging time window: 1.28 s x n for LTE-M and LTE, 2.56 s x n for NB-IoT (n = 1..16)."""


class DeviceNetwork(_Model):
    """A group's subscription and radio: home network, preferences, RAT, area, power-on."""

    home_plmn: Plmn | None = None
    """Home network of the SIMs (``None``: the first operator)."""
    preferred: list[Plmn] = []
    """Operator-controlled PLMN selector, in priority order (TS 23.122 §4.4.3.1.1): tried after
    the home network, before the other networks in file order."""
    rat: Rat = "lte-m"
    area: Name | None = None
    """Area the devices are in (``None``: covered by every network without ``areas``)."""
    power_on: PowerOn = PowerOn()
    psm: PsmRequest | None = None
    """Power saving mode requested (``None``: not requested)."""
    edrx: EdrxRequest | None = None
    """Extended DRX requested (``None``: not requested)."""

    @model_validator(mode="after")
    def _check_edrx(self) -> DeviceNetwork:
        if self.edrx is None:
            return self
        issues: list[tuple[Loc, str]] = []
        cycles = EDRX_CYCLES_BY_RAT_S.get(self.rat)
        if cycles is None:
            issues.append((("edrx",), f"eDRX is an E-UTRAN feature (lte-m, nb-iot, lte), not '{self.rat}'"))
        else:
            if self.edrx.cycle_s not in cycles:
                issues.append((("edrx", "cycle_s"), f"{show_value(self.edrx.cycle_s)} is not an eDRX cycle of '{self.rat}' (TS 24.008 Table 10.5.5.32: {', '.join(map(str, cycles))} s)"))
            ptws = ptw_values_s(self.rat)
            if self.edrx.ptw_s not in ptws:
                issues.append((("edrx", "ptw_s"), f"{show_value(self.edrx.ptw_s)} is not a paging time window of '{self.rat}' ({ptws[0]} s x n, n = 1..16)"))
        if issues:
            located_error(issues)
        return self


class Network(_Model):
    """The networks of the scenario; without this section devices are always registered."""

    operators: list[Operator] = Field(min_length=1)
    cores: list[CoreStation] = []
    ue_timers: UeTimers = UeTimers()
    outages: list[Outage] = []
    unregistered_reports: Literal["drop", "queue"] = "drop"
    """What a device does with a report due while it is not registered: ``drop`` it, or
    ``queue`` it (up to ``queue_limit_reports``) and send the queue when it registers."""
    queue_limit_reports: PosInt = 100

    @model_validator(mode="after")
    def _check_references(self) -> Network:
        issues: list[tuple[Loc, str]] = []
        plmns = [o.plmn for o in self.operators]
        cores = [c.name for c in self.cores]
        for what, names, section in (("PLMN", plmns, "operators"), ("core", cores, "cores")):
            seen: dict[str, int] = {}
            for i, name in enumerate(names):
                if name in seen:
                    key = "plmn" if section == "operators" else "name"
                    issues.append(((section, i, key), f"duplicate {what} '{name}' (first at {section}[{seen[name]}])"))
                seen.setdefault(name, i)
        if len(plmns) > MAX_OPERATORS:
            issues.append((("operators",), f"at most {MAX_OPERATORS} operators, got {len(plmns)}"))
        areas = self.areas()
        if len(areas) > MAX_AREAS:
            # Point at the first mention of the first area beyond the limit.
            extra = areas[MAX_AREAS]
            i, j = next(
                (i, o.areas.index(extra)) for i, o in enumerate(self.operators) if o.areas and extra in o.areas
            )
            message = f"at most {MAX_AREAS} areas in all, '{extra}' is area {MAX_AREAS + 1} of {len(areas)}"
            issues.append((("operators", i, "areas", j), message))
        covers = {o.plmn: o.areas for o in self.operators}
        for i, op in enumerate(self.operators):
            if op.core is not None and op.core not in cores:
                issues.append((("operators", i, "core"), f"unknown core '{op.core}' (known: {', '.join(cores) or 'none defined'})"))
        for i, outage in enumerate(self.outages):
            for j, p in enumerate(outage.operators or []):
                if p not in plmns:
                    issues.append((("outages", i, "operators", j), f"unknown PLMN '{p}' (known: {', '.join(plmns)})"))
            for j, a in enumerate(outage.areas or []):
                if a not in areas:
                    issues.append((("outages", i, "areas", j), f"unknown area '{a}' (known: {', '.join(areas) or 'none defined'})"))
            if (
                outage.operators is not None
                and outage.areas is not None
                and all(p in covers for p in outage.operators)
                and all(a in areas for a in outage.areas)
            ):
                # Only the listed networks go down, only in the listed areas: a network or an
                # area that meets none of the other list takes nothing down.
                for j, p in enumerate(outage.operators):
                    cover = covers[p]
                    if cover is not None and not set(cover) & set(outage.areas):
                        message = f"PLMN '{p}' covers none of the outage's areas (it covers: {', '.join(cover)})"
                        issues.append((("outages", i, "operators", j), message))
                for j, a in enumerate(outage.areas):
                    if not any(covers[p] is None or a in covers[p] for p in outage.operators):
                        message = f"area '{a}' is covered by none of the outage's operators"
                        issues.append((("outages", i, "areas", j), message))
            for j, c in enumerate(outage.cores or []):
                if c not in cores:
                    issues.append((("outages", i, "cores", j), f"unknown core '{c}' (known: {', '.join(cores) or 'none defined'})"))
        if issues:
            located_error(issues)
        return self

    def areas(self) -> list[str]:
        """Every area named by an operator, in order of first mention."""
        return list(dict.fromkeys(a for o in self.operators for a in (o.areas or [])))

    def check_group(self, group: DeviceNetwork, base: Loc) -> list[tuple[Loc, str]]:
        """Problems of a fleet group's network settings against these networks."""
        issues: list[tuple[Loc, str]] = []
        plmns = [o.plmn for o in self.operators]
        for j, p in enumerate(group.preferred):
            if p not in plmns:
                issues.append(((*base, "preferred", j), f"unknown PLMN '{p}' (known: {', '.join(plmns)})"))
        if group.area is not None and group.area not in self.areas():
            issues.append(((*base, "area"), f"unknown area '{group.area}' (known: {', '.join(self.areas()) or 'none defined'})"))
        if not any(group.rat in o.rats for o in self.operators):
            issues.append(((*base, "rat"), f"no operator offers '{group.rat}'"))
        elif group.area is None or group.area in self.areas():
            covering = [o for o in self.operators if group.rat in o.rats and (o.areas is None or group.area in o.areas)]
            if not covering:
                where = "devices without an area (give the group an area)" if group.area is None else f"area '{group.area}'"
                issues.append(((*base, "area"), f"no operator offers '{group.rat}' in {where}"))
        return issues
