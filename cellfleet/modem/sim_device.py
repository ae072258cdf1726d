"""A virtual modem's device taken from a scenario: device ``index`` of the fleet, simulated.

The fleet engine runs the scenario with that one device recorded (the other devices are still
simulated: they fill the cores and make the storms the device lives through). Its records then
become the modem's view of the network, in the scenario's simulated seconds:

* ``registrations`` -> the registration timeline (27.007 ``<stat>``, TS 27.007 §7.2/§10.1.22):
  an attempt or a T3410 expiry is "searching" (2) on that network; an accept "registered" on the
  serving PLMN, home (1) or roaming (5) by the group's home PLMN, with the granted T3412
  extended / T3324 (PSM) and eDRX; a reject with #3/#6/#7/#8 (USIM invalid, TS 24.301 §5.5.1.2.5)
  is "denied" (3), any other reject "searching" (2) with the cause kept for ``+CEREG`` n=3/5 until
  the next accept; a
  deregistration by an outage or no service is "unknown" (4, out of coverage); a detach or a
  power-off "not searching" (0).
* ``psm_entry`` / ``psm_exit`` -> the windows in which the modem sleeps and does not answer.
* ``sms`` MT records -> SMS the modem receives at their delivery time (``mt_sms``).
* the operators of the scenario's ``network`` -> the ``+COPS=?`` list (forbidden once the device
  was rejected there with #11/#14, TS 24.301 §5.5.1.2.5).

The modem's own actions (``AT+CFUN``, manual ``+COPS``) overlay this timeline for the modem; they
do not feed back into the fleet simulation, which has already run. A scenario without a
``network`` section gives a device registered at home all along. The tracking area is numbered
after the area the serving network covers the device in (TAC 1, 2, ... in the order the scenario
names areas; 1 without areas) and the cell identity is derived from the device number; the signal is a fixed -95 dBm RSRP
(the model has no radio).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from cellfleet.modem.device import (
    ACT_EUTRAN,
    ACT_GSM,
    ACT_NB_IOT,
    STAT_DENIED,
    STAT_HOME,
    STAT_NOT_SEARCHING,
    STAT_ROAMING,
    STAT_SEARCHING,
    STAT_UNKNOWN,
    NetworkEntry,
    Registration,
    Signal,
    StaticDevice,
)
from cellfleet.scenarios.errors import ScenarioError
from cellfleet.scenarios.loader import load_scenario
from cellfleet.scenarios.overrides import apply_overrides
from cellfleet.sim.engine import FleetEngine
from cellfleet.sim.records import MemorySink

#: 27.007 <AcT> of the scenario's RATs.
ACT_OF_RAT = {"lte-m": ACT_EUTRAN, "lte": ACT_EUTRAN, "nb-iot": ACT_NB_IOT, "gsm": ACT_GSM, "umts": 2, "nr": 11}
USIM_INVALID_CAUSES = (3, 6, 7, 8)
FORBIDDING_CAUSES = (11, 14)
#: Sender shown for the scenario's MT SMS (the platform's SMS gateway).
PLATFORM_SENDER = "+4915100000000"


@dataclass(frozen=True)
class MtSms:
    """An SMS the device receives at ``at_s`` (its delivery time in the simulation)."""

    at_s: float
    sender: str
    text: str


@dataclass
class ScenarioDevice(StaticDevice):
    """A :class:`StaticDevice` whose timeline, sleep windows, network list and MT SMS come from
    a simulated scenario (module docstring)."""

    mt_sms: list[MtSms] = field(default_factory=list)
    forbidden_from_s: dict[str, float] = field(default_factory=dict)
    #: the SIM's home network in the scenario (its IMSI follows the fleet's test-PLMN plan)
    home_plmn: str | None = None

    def registration(self, now_s: float) -> Registration:
        """As :class:`StaticDevice`; a manually selected network is "home" (1) only if it is
        the scenario's home PLMN, else "roaming" (5) (27.007 §10.1.22)."""
        reg = super().registration(now_s)
        if reg.registered and self.selected_plmn is not None and self.home_plmn is not None:
            reg = replace(reg, stat=STAT_HOME if reg.plmn == self.home_plmn else STAT_ROAMING)
        return reg

    def select(self, plmn: str | None, now_s: float) -> bool:
        """Manual selection (``+COPS=1``) refuses a network the device has put on its forbidden
        list by then (#11/#14, TS 24.301 §5.5.1.2.5)."""
        if plmn is not None and self.forbidden_from_s.get(plmn, np.inf) <= now_s:
            return False
        accepted = super().select(plmn, now_s)
        if accepted and plmn is not None:
            self.selected_plmn = plmn  # the scenario's "home" is no static entry: keep the choice
        return accepted

    def networks(self, now_s: float) -> list[NetworkEntry]:
        """The operators, forbidden (3) from the time the device was rejected with #11/#14."""
        out = super().networks(now_s)
        return [NetworkEntry(3, e.long_name, e.short_name, e.plmn, e.act)
                if self.forbidden_from_s.get(e.plmn, np.inf) <= now_s else e for e in out]  # fmt: skip


class ScenarioDeviceError(ValueError):
    """The scenario cannot give that device (the message says why)."""


def device_from_scenario(scenario: str, index: int, *, seed: int | None = None, days: int | None = None) -> ScenarioDevice:
    """Simulate ``scenario`` (a file or a built-in name) and return its device ``index``."""
    return devices_from_scenario(scenario, [index], seed=seed, days=days)[0]


def devices_from_scenario(scenario: str, indices: Sequence[int], *, seed: int | None = None,
                          days: int | None = None) -> list[ScenarioDevice]:  # fmt: skip
    """Simulate ``scenario`` once with the devices ``indices`` recorded; return them in order."""
    try:
        loaded = apply_overrides(load_scenario(scenario), seed=seed, days=days)
    except ScenarioError as exc:
        raise ScenarioDeviceError(str(exc)) from exc
    size = sum(g.count for g in loaded.fleet)
    for index in indices:
        if not 0 <= index < size:
            raise ScenarioDeviceError(f"device {index} is not in the scenario's fleet of {size} devices (0..{size - 1})")
    sink = MemorySink()
    FleetEngine(loaded, sink, record_devices=sorted(set(indices))).run()
    records = _Records(sink)
    return [_build(loaded, index, records) for index in indices]


class _Records:
    """The recorded devices' tables, converted once and cut per device."""

    def __init__(self, sink: MemorySink) -> None:
        self.devices = sink.table("devices").to_pandas()
        self.registrations = sink.table("registrations").to_pandas().sort_values("time_s", kind="stable")
        self.sms = sink.table("sms").to_pandas()

    def registrations_of(self, index: int):
        return self.registrations[self.registrations.device == index]


def _group_of(scenario, index: int):
    edges = np.cumsum([g.count for g in scenario.fleet])
    return scenario.fleet[int(np.searchsorted(edges, index, side="right"))]


def _build(scenario, index: int, records: _Records) -> ScenarioDevice:
    me = records.devices[records.devices.device == index].iloc[0]
    group = _group_of(scenario, index)
    settings = group.network
    net = scenario.network
    rat = settings.rat if settings else "lte-m"
    act = ACT_OF_RAT[rat]
    tacs = _tracking_areas(net, settings.area if settings else None)
    ci = (index * 16 + 1) & 0x0FFFFFFF
    operators = {o.plmn: o for o in net.operators} if net else {}
    home_plmn = (settings.home_plmn if settings and settings.home_plmn else None) or next(iter(operators), "00101")
    names = {p: (o.name or p, (o.name or p)[:8]) for p, o in operators.items()}
    device = ScenarioDevice(
        imei=str(me.imei), imsi=str(me.imsi), iccid=str(me.iccid), msisdn=f"+8823{index:09d}", home_plmn=home_plmn,
        signal_now=Signal(rssi_dbm=-69.0, rsrp_dbm=-95.0, rsrq_db=-10.0),
    )  # fmt: skip
    if net is None:
        return device
    device.network_list = tuple(NetworkEntry(1, names[p][0], names[p][1], p, act) for p in operators if rat in operators[p].rats)
    device.home = Registration(stat=STAT_NOT_SEARCHING, act=act)
    reg = records.registrations_of(index)
    device.timeline, device.forbidden_from_s = _timeline(reg, home_plmn, names, act, tacs, ci)
    device.sleep_windows = _sleep_windows(reg, scenario.duration_days * 86400.0)
    device.mt_sms = _mt_sms(records.sms, index)
    return device


def _tracking_areas(net, area: str | None) -> dict[str, int]:
    """TAC per PLMN: the number (1, 2, ...) of the area it serves the device in: the group's own
    area if the network covers it, else the first area it covers (the device moved there)."""
    if net is None:
        return {}
    areas = net.areas()
    out = {}
    for o in net.operators:
        where = area if o.areas is None or area in o.areas else o.areas[0]
        out[o.plmn] = areas.index(where) + 1 if where in areas else 1
    return out


def _timeline(reg, home_plmn, names, act, tacs, ci):
    """The registration timeline and forbidden networks from one device's registrations."""
    timeline: list[tuple[float, Registration]] = []
    forbidden: dict[str, float] = {}
    accept_t3412_s: float | None = None
    last_cause: int | None = None

    def on(plmn: str, stat: int, **extra) -> Registration:
        long_name, short_name = names.get(plmn, (plmn, plmn))
        return Registration(stat=stat, plmn=plmn, operator_long=long_name, operator_short=short_name, act=act,
                            tac=tacs.get(plmn, 1), ci=ci, reject_cause=last_cause, **extra)  # fmt: skip

    for row in reg.itertuples():
        t, event, plmn = float(row.time_s), row.event, row.plmn or None
        state: Registration | None = None
        if event in ("attempt", "t3410_expiry") and plmn:
            state = on(plmn, STAT_SEARCHING)
        elif event == "accept":
            accept_t3412_s = float(row.timer_s)
            last_cause = None  # 27.007 §10.1.22: <reject_cause> is the cause of a failed registration
            state = on(plmn, STAT_HOME if plmn == home_plmn else STAT_ROAMING)
        elif event == "psm_granted" and timeline:
            t, prev = timeline[-1]
            state = replace(prev, active_time_s=float(row.timer_s), periodic_tau_s=accept_t3412_s)
        elif event == "edrx_granted" and timeline:
            t, prev = timeline[-1]
            state = replace(prev, edrx_cycle_s=float(row.timer_s), ptw_s=float(row.ptw_s))
        elif event == "reject":
            last_cause = int(row.cause)
            if last_cause in FORBIDDING_CAUSES and plmn:
                forbidden.setdefault(plmn, t)
            denied = last_cause in USIM_INVALID_CAUSES
            state = on(plmn, STAT_DENIED if denied else STAT_SEARCHING) if plmn else None
        elif event in ("deregistered", "no_service"):
            state = Registration(stat=STAT_UNKNOWN, act=act, reject_cause=last_cause)
        elif event == "detach":
            state = Registration(stat=STAT_NOT_SEARCHING, act=act, reject_cause=last_cause)
        if state is None:
            continue
        if timeline and timeline[-1][0] == t:
            timeline[-1] = (t, state)
        else:
            timeline.append((t, state))
    return timeline, forbidden


def _sleep_windows(reg, end_s: float) -> list[tuple[float, float]]:
    reg = reg[reg.event.isin(["psm_entry", "psm_exit"])]
    windows, entry = [], None
    for row in reg.itertuples():
        if row.event == "psm_entry":
            entry = float(row.time_s)
        elif entry is not None:
            windows.append((entry, float(row.time_s)))
            entry = None
    if entry is not None:
        windows.append((entry, end_s))
    return windows


def _mt_sms(sms, index: int) -> list[MtSms]:
    mt = sms[(sms.device == index) & (sms.direction == "MT") & (sms.status == "delivered")]
    return [MtSms(float(t), PLATFORM_SENDER, f"cellfleet MT SMS {i} of device {index}")
            for i, t in enumerate(sorted(mt.delivered_time_s))]  # fmt: skip
