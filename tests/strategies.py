"""Scenario builders, a runner into memory, and hypothesis strategies for random scenarios.

Imported by the tests as ``strategies`` (``tests/`` is on ``sys.path`` under pytest's default
import mode).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from cellfleet.scenarios.loader import parse_scenario
from cellfleet.sim.engine import FleetEngine, RunCounts
from cellfleet.sim.records import SCHEMAS, MemorySink

DAY = 86400.0
TABLES = tuple(SCHEMAS)


@dataclass
class Run:
    """A finished run: counts and every record table as a pandas frame (labels as str)."""

    counts: RunCounts
    sink: MemorySink
    scenario: Any

    def table(self, name: str) -> pd.DataFrame:
        """The record table ``name`` (converted once; do not modify the returned frame)."""
        cache = self.__dict__.setdefault("_frames", {})
        if name not in cache:
            cache[name] = self._frame(name)
        return cache[name]

    def _frame(self, name: str) -> pd.DataFrame:
        df = self.sink.table(name).to_pandas()
        for col in df.columns:
            if isinstance(df[col].dtype, pd.CategoricalDtype):
                df[col] = df[col].astype(str)
        return df

    @property
    def changes(self) -> pd.DataFrame:
        return self.table("state_changes")

    @property
    def sessions(self) -> pd.DataFrame:
        return self.table("sessions")

    @property
    def usage(self) -> pd.DataFrame:
        return self.table("usage_daily")

    @property
    def fleet(self) -> pd.DataFrame:
        return self.table("fleet_daily")

    @property
    def rejected(self) -> pd.DataFrame:
        return self.table("rejected_operations")

    def device_sessions(self, device: int) -> pd.DataFrame:
        s = self.sessions
        return s[s.device == device].sort_values(["start_time_s", "record_id"]).reset_index(drop=True)

    def device_changes(self, device: int) -> pd.DataFrame:
        c = self.changes
        return c[c.device == device].reset_index(drop=True)


def scenario_dict(
    *,
    fleet: list[dict],
    profiles: list[dict] | None = None,
    plans: list[dict] | None = None,
    actions: list[dict] | None = None,
    days: int = 3,
    seed: int = 7,
    sessions_mode: str = "all",
) -> dict:
    """A scenario as plain data (defaults: one plan ``p`` without allowances)."""
    return {
        "name": "test",
        "start_date": "2024-01-01",
        "duration_days": days,
        "seed": seed,
        "rate_plans": plans if plans is not None else [{"name": "p"}],
        "traffic_profiles": profiles or [],
        "fleet": fleet,
        "actions": actions or [],
        "outputs": {"sessions": {"mode": sessions_mode}},
    }


def to_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def run_scenario_dict(data: dict) -> Run:
    """Validate ``data`` through ``parse_scenario`` (YAML text) and run it into a MemorySink."""
    scenario = parse_scenario(to_yaml(copy.deepcopy(data)))
    sink = MemorySink()
    counts = FleetEngine(scenario, sink).run()
    return Run(counts=counts, sink=sink, scenario=scenario)


def periodic(name: str, per_day: float, size: int, *, sms_mo_per_day: float = 0.0, jitter_s: float = 0.0) -> dict:
    """A periodic profile with fixed-size sessions."""
    return {
        "name": name,
        "schedule": "periodic",
        "sessions_per_day": per_day,
        "jitter_s": jitter_s,
        "session_bytes": {"distribution": "fixed", "bytes": size},
        "sms_mo_per_day": sms_mo_per_day,
    }



# ------------------------------------------------------------------------------------------
# Hypothesis strategies: random valid scenarios (as dicts for ``run_scenario_dict``)

from hypothesis import strategies as st  # noqa: E402

MAX_DEVICES = 300
MAX_DAYS = 20
STATE_KEYS = ["initial", "provisioned", "active_billed", "suspended", "cancelled"]
TRAFFIC_KEYS = ["provisioned", "active_billed", "suspended"]
ACTION_KEYS = ["provision", "reprovision", "activate", "suspend", "unsuspend", "cancel", "set_traffic", "send_once"]


def _opt(strategy, p_none: float = 0.3):
    return st.one_of(st.none(), strategy) if p_none else strategy


@st.composite
def allowances(draw):
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    data = draw(st.one_of(st.none(), st.integers(0, 60_000)))
    sms = draw(st.one_of(st.none(), st.integers(0, 6)))
    days = draw(st.one_of(st.none(), st.sampled_from([0.5, 1, 1.5, 2, 3, 5, 8, 30]),
                          st.floats(0.01, 12, allow_nan=False)))
    out = {}
    if data is not None:
        out["data_bytes"] = data
    if sms is not None:
        out["sms_count"] = sms
    if days is not None:
        out["days"] = days
    return out


@st.composite
def rate_plans(draw, name):
    plan = {"name": name}
    for key in ("provisioned_allowance", "suspended_allowance"):
        a = draw(allowances())
        if a is not None:
            plan[key] = a
    return plan


SETUP_PROTOCOLS = ("mqtt", "mqtt-tls", "http", "https", "http-download", "https-download", "coap-dtls")


@st.composite
def profiles(draw, name, persistent: bool = False):
    """A random traffic profile; ``persistent`` lets MQTT profiles keep a long-lived connection."""
    schedule = draw(st.sampled_from(["poisson", "periodic", "diurnal"]))
    per_day = draw(st.one_of(st.just(0.0), st.sampled_from([1.0, 4.0, 12.0, 24.0]), st.floats(0.1, 30)))
    prof = {"name": name, "schedule": schedule, "sessions_per_day": per_day}
    if schedule == "diurnal":
        weights = draw(st.lists(st.sampled_from([0.0, 0.0, 1.0, 2.5, 7.0]), min_size=24, max_size=24))
        if sum(weights) == 0:
            weights[draw(st.integers(0, 23))] = 1.0
        prof["hourly_weights"] = weights
    burst = draw(st.sampled_from([1, 1, 1, 2, 5]))
    if burst > 1 and per_day > 0:
        prof["burst_size"] = burst
        period = 86400.0 * burst / per_day
        spacing = draw(st.sampled_from([0.0, 1.0, 30.0]))
        if (burst - 1) * spacing < period / 4:
            prof["burst_spacing_s"] = spacing
    if schedule == "periodic" and per_day > 0 and draw(st.booleans()):
        period = 86400.0 * prof.get("burst_size", 1) / per_day
        room = period / 2 - (prof.get("burst_size", 1) - 1) * prof.get("burst_spacing_s", 0.0)
        prof["jitter_s"] = draw(st.floats(0, 0.98)) * room
    kind = draw(st.integers(0, 2))
    if kind == 0:
        prof["session_bytes"] = {"distribution": "fixed", "bytes": draw(st.integers(1, 8000))}
    elif kind == 1:
        lo = draw(st.integers(1, 8000))
        prof["session_bytes"] = {"distribution": "uniform", "min_bytes": lo, "max_bytes": lo + draw(st.integers(0, 8000))}
    else:
        values = draw(st.lists(st.integers(1, 8000), min_size=1, max_size=5, unique=True))
        prof["session_bytes"] = {"distribution": "empirical", "values": values}
        if draw(st.booleans()):
            prof["session_bytes"]["weights"] = draw(st.lists(st.sampled_from([0.0, 1.0, 3.0]), min_size=len(values),
                                                             max_size=len(values)).filter(lambda w: sum(w) > 0))
    if draw(st.integers(0, 2)) == 0:  # a session on the wire: session_bytes is the payload
        protocol = draw(st.sampled_from(["mqtt", "mqtt-tls", "http", "https", "coap", "coap-dtls", "udp",
                                         "http-download", "https-download"]))
        prof["protocol"] = protocol
        if protocol in ("coap", "coap-dtls") and draw(st.integers(0, 3)) == 0:
            prof["coap_type"] = "non-confirmable"
        elif protocol != "udp" and draw(st.booleans()):
            prof["loss_probability"] = draw(st.sampled_from([0.01, 0.1, 0.5]))
        if protocol in SETUP_PROTOCOLS and draw(st.booleans()):
            prof["establishment_failure_probability"] = draw(st.sampled_from([0.05, 0.5, 0.9]))
            prof["max_attempts"] = draw(st.integers(1, 4))
            prof["retry_interval_s"] = draw(st.sampled_from([0.0, 5.0, 60.0]))
        if persistent and protocol in ("mqtt", "mqtt-tls") and draw(st.booleans()):
            prof["connection"] = "persistent"
            prof["keepalive_s"] = draw(st.sampled_from([60, 600, 1200, 7200]))
    else:
        prof["uplink_fraction"] = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    prof["sms_mo_per_day"] = draw(st.sampled_from([0.0, 0.0, 0.5, 2.0]))
    prof["sms_mt_per_day"] = draw(st.sampled_from([0.0, 0.0, 0.5]))
    return prof


def traffic_specs(profile_names: list[str]):
    names = st.sampled_from([*profile_names, "none"])
    mapping = st.dictionaries(st.sampled_from(TRAFFIC_KEYS), names, min_size=1, max_size=3)
    return st.one_of(names, mapping)


@st.composite
def selectors(draw, group_names, accounts, report_groups):
    sel = {}
    if draw(st.booleans()):
        sel["group"] = draw(st.one_of(st.sampled_from(group_names),
                                      st.lists(st.sampled_from(group_names), min_size=1, max_size=3, unique=True)))
    if draw(st.booleans()):
        sel["state"] = draw(st.sampled_from(STATE_KEYS))
    if draw(st.integers(0, 4)) == 0:
        sel["account"] = draw(st.sampled_from([*accounts, "nobody"]))
    if draw(st.integers(0, 4)) == 0:
        sel["report_group"] = draw(st.sampled_from(report_groups))
    pick = draw(st.integers(0, 2))
    if pick == 1:
        sel["fraction"] = draw(st.floats(0.01, 1.0))
    elif pick == 2:
        sel["count"] = draw(st.integers(1, 120))
    return sel


@st.composite
def scenarios(draw, max_devices: int = MAX_DEVICES, max_days: int = MAX_DAYS, persistent: bool = False):
    """A random valid scenario dict with every session recorded (``outputs.sessions.mode: all``);
    ``persistent`` allows long-lived MQTT connections and interim record limits."""
    days = draw(st.integers(1, max_days))
    plan_names = [f"plan{i}" for i in range(draw(st.integers(1, 2)))]
    plans = [draw(rate_plans(n)) for n in plan_names]
    prof_names = [f"prof{i}" for i in range(draw(st.integers(1, 3)))]
    profs = [draw(profiles(n, persistent)) for n in prof_names]
    n_groups = draw(st.integers(1, 3))
    budget = max_devices
    fleet = []
    accounts = ["acc0", "acc1"]
    report_groups = ["rg0", "rg1"]
    for g in range(n_groups):
        count = draw(st.integers(1, max(1, min(120, budget - (n_groups - g - 1)))))
        budget -= count
        fleet.append({
            "name": f"g{g}",
            "count": count,
            "rate_plan": draw(st.sampled_from(plan_names)),
            "account": draw(st.sampled_from(accounts)),
            "report_group": draw(st.sampled_from(report_groups)),
            "initial_state": draw(st.sampled_from(["provisioned", "provisioned", *STATE_KEYS])),
            "traffic": draw(traffic_specs(prof_names)),
        })
    group_names = [g["name"] for g in fleet]
    actions = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(ACTION_KEYS))
        at = draw(st.one_of(st.integers(0, days - 1).map(float), st.floats(0, days, exclude_max=True)))
        if at >= days:
            at = float(days - 1)
        action = {"at_day": at, "action": kind,
                  "select": draw(selectors(group_names, accounts, report_groups))}
        if draw(st.booleans()):
            action["name"] = f"op{len(actions)}"
        if kind == "set_traffic":
            action["traffic"] = draw(traffic_specs(prof_names))
        if kind == "send_once":
            per_report = [p["name"] for p in profs if p.get("connection") != "persistent"]
            if not per_report:
                continue
            action["profile"] = draw(st.sampled_from(per_report))
            if draw(st.booleans()):
                action["spread_s"] = draw(st.sampled_from([0.0, 60.0, 7200.0]))
        if draw(st.integers(0, 3)) == 0:
            every = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
            max_times = int((days - at) / every - 1e-9) + 1
            # stay clear of float edge cases on the last occurrence
            while max_times > 1 and at + (max_times - 1) * every >= days:
                max_times -= 1
            action["repeat"] = {"every_days": every, "times": draw(st.integers(1, max(1, min(max_times, 5))))}
        actions.append(action)
    data = scenario_dict(plans=plans, profiles=profs, fleet=fleet, actions=actions, days=days,
                         seed=draw(st.integers(0, 2**32 - 1)))
    if persistent:
        if draw(st.booleans()):
            data["outputs"]["sessions"]["interim_time_s"] = draw(st.sampled_from([900.0, 3600.0, 86400.0]))
        if draw(st.booleans()):
            data["outputs"]["sessions"]["interim_volume_bytes"] = draw(st.sampled_from([1, 20000, 1_000_000]))
    return data
