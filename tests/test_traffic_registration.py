"""The traffic kernel under network registration (``cellfleet.sim.gating``), called directly.

Each test builds the columns of a tiny scenario, sets ``reg_from_s`` / ``t3412_s`` by hand and
walks windows with :func:`advance_window`; expected values are worked out by hand in the
docstrings. Periodic profiles without jitter put sessions exactly at ``phase + k * period``
(the phase is set by hand after the restart).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import profiles, scenario_dict, to_yaml

from cellfleet.scenarios.loader import parse_scenario
from cellfleet.sim.capture import DATA_KINDS
from cellfleet.sim.fleet import FleetColumns, TrafficMaps
from cellfleet.sim.gating import UNREGISTERED_DROP, UNREGISTERED_QUEUE
from cellfleet.sim.lifecycle import State
from cellfleet.sim.profile_table import ProfileTable
from cellfleet.sim.session_records import RecordCutter
from cellfleet.sim.traffic import (
    EV_COUNT,
    EV_KIND,
    EV_PAYLOAD,
    EV_SPAN_S,
    EV_TIME_S,
    KIND_ONCE,
    KIND_OPEN,
    KIND_OPEN_FAILED,
    KIND_PINGS,
    KIND_REPORT,
    KIND_SESSION,
    KIND_SMS_MO,
    KIND_SMS_MT,
    KIND_TAU,
    advance_window,
    restart_arrivals,
)

DAY = 86400.0
HOURLY = {"name": "hourly", "schedule": "periodic", "sessions_per_day": 24,
          "session_bytes": {"distribution": "fixed", "bytes": 100}}  # fmt: skip
MQTT = {"name": "tele", "protocol": "mqtt", "connection": "persistent", "keepalive_s": 1200, "schedule": "periodic",
        "sessions_per_day": 24, "session_bytes": {"distribution": "fixed", "bytes": 20}}  # fmt: skip


class Kit:
    """The columns and tables of a one-group scenario, and the kernel calls on them."""

    def __init__(self, profile_list: list[dict], traffic: str | None = None, *, count: int = 1, days: int = 2,
                 mode: int = UNREGISTERED_DROP, queue_limit: int = 100, seed: int = 7) -> None:  # fmt: skip
        group = {"name": "g", "count": count, "rate_plan": "p", "initial_state": "active_billed",
                 "traffic": traffic or profile_list[0]["name"]}  # fmt: skip
        data = scenario_dict(profiles=profile_list, fleet=[group], days=days, seed=seed)
        self.scenario = parse_scenario(to_yaml(data))
        self.profiles = ProfileTable.from_profiles(self.scenario.traffic_profiles)
        maps = TrafficMaps({name: i for i, name in enumerate(self.scenario.profile_names())})
        g = self.scenario.fleet[0]
        self.cols = FleetColumns.build(self.scenario, maps, [g.account], [g.report_group])
        self.tau_bins = np.zeros(days * 1440, np.int64)
        no_limit = np.full((len(self.scenario.rate_plans), len(State)), -1, np.int64)
        self.ctx = (maps.table(), no_limit, no_limit.copy(), mode, queue_limit, self.tau_bins)
        self.P = self.profiles.kernel_args()
        self.rows = np.arange(count, dtype=np.int64)
        self.record = np.ones(count, dtype=np.bool_)
        self.events: list[np.ndarray] = []
        restart_arrivals(self.rows, 0.0, self.cols.kernel_columns(), self.ctx, self.P)

    def window(self, t_end_s: float) -> np.ndarray:
        _, _, _, _, events, n = advance_window(self.rows, t_end_s, self.record, 100_000, self.cols.kernel_columns(),
                                               self.ctx, self.P)  # fmt: skip
        assert n == events.shape[0]
        self.events.append(events.copy())
        return events

    def all_events(self) -> np.ndarray:
        return np.concatenate(self.events)

    def kinds(self, *kinds: int) -> np.ndarray:
        ev = self.all_events()
        return ev[np.isin(ev[:, EV_KIND], kinds)]


def hourly_at(phase_s: float, **kw) -> Kit:
    kit = Kit([HOURLY], **kw)
    kit.cols.next_session_s[0] = phase_s
    return kit


def register(kit: Kit, reg_from_s: float, t3412_s: float = np.inf) -> None:
    kit.cols.reg_from_s[:] = reg_from_s
    kit.cols.t3412_s[:] = t3412_s


# ------------------------------------------------------------------------------- periodic TAU
@pytest.mark.parametrize(
    ("phase_s", "taus", "tau_ref_s"),
    [
        (1800.0, 23, 84600.0),  # one TAU in each of the 23 gaps of 3600 s, none before or after
        (3300.0, 24, 86100.0),  # and one at 3240 before the first session at 3300
        (100.0, 24, 86140.0),  # and one at 82900 + 3240 after the last session
    ],
)
def test_hourly_sessions_with_t3412_54_min_have_one_tau_per_gap(phase_s, taus, tau_ref_s):
    """Registered at 0, T3412 = 3240 s: a TAU at ``last activity + 3240`` whenever the next
    activity is more than 3240 s later; sessions at ``phase + 3600 k``."""
    kit = hourly_at(phase_s)
    register(kit, 0.0, 3240.0)
    kit.window(DAY)
    c = kit.cols
    assert c.day_tau[0] == c.total_tau[0] == taus
    assert c.day_sessions[0] == 24 and c.tau_ref_s[0] == tau_ref_s
    assert kit.tau_bins.sum() == taus
    tau_ev = kit.kinds(KIND_TAU)
    assert len(tau_ev) == taus and (tau_ev[:, EV_COUNT] == 1).all() and (tau_ev[:, EV_SPAN_S] == 3240.0).all()
    before = [3240.0] if phase_s > 3240 else []
    after = [82800.0 + phase_s + 3240.0] if phase_s < 360 else []
    expected_times = before + [phase_s + 3600.0 * k + 3240.0 for k in range(23)] + after
    assert tau_ev[:, EV_TIME_S].tolist() == expected_times
    assert np.flatnonzero(kit.tau_bins).tolist() == [int(t // 60) for t in expected_times]


def test_registered_device_without_traffic_updates_every_t3412():
    """No traffic, registered at 0, T3412 = 3240 s: TAUs at 3240 k < 86400, k = 1..26 (27 * 3240
    = 87480); the next day continues from the last one, 84240: 53 TAUs below 172800 in all."""
    kit = Kit([HOURLY], traffic="none")
    register(kit, 0.0, 3240.0)
    kit.window(DAY)
    assert kit.cols.day_tau[0] == 26 and kit.cols.tau_ref_s[0] == 26 * 3240.0
    assert kit.tau_bins[int(3240 // 60)] == 1 and kit.tau_bins.sum() == 26
    (ev,) = kit.kinds(KIND_TAU)
    assert ev[EV_TIME_S] == 3240.0 and ev[EV_COUNT] == 26 and ev[EV_SPAN_S] == 3240.0
    kit.window(2 * DAY)
    assert kit.cols.total_tau[0] == 53 == math.floor((2 * DAY - 1) / 3240)
    assert kit.tau_bins.sum() == 53


def test_a_tau_exactly_at_the_window_end_belongs_to_the_next_window():
    """T3412 = 3600 s from 0: TAUs at 3600 k; the one at 86400 is not before the first window's
    end, so 23 + 24 over two days (the one at 172800 is outside both)."""
    kit = Kit([HOURLY], traffic="none")
    register(kit, 0.0, 3600.0)
    kit.window(DAY)
    assert kit.cols.day_tau[0] == 23 and kit.cols.tau_ref_s[0] == 82800.0
    kit.window(2 * DAY)
    assert kit.cols.total_tau[0] == 47 and kit.tau_bins[1440] == 1 and kit.tau_bins[-1] == 0


def test_a_tau_due_at_an_activity_is_replaced_by_it():
    """Sessions at 1800 + 3600 k with T3412 = 3600 s: each next session is exactly when T3412
    would expire, so there is no TAU; the one after the last session (84600 + 3600 = 88200) is
    in the next day."""
    kit = hourly_at(1800.0)
    register(kit, 0.0, 3600.0)
    kit.window(DAY)
    assert kit.cols.total_tau[0] == 0 and kit.cols.tau_ref_s[0] == 84600.0


def test_t3412_starts_at_the_registration_not_at_an_older_reference():
    """tau_ref_s older than reg_from_s (a new registration at 1000): TAUs at 1000 + 3240 k below
    86400, k = 1..26 (1000 + 26 * 3240 = 85240); tau_ref_s newer than reg_from_s (2000) is the
    running timer: 2000 + 3240 k, k = 1..26 (86240 < 86400)."""
    for tau_ref_s, start_s in ((500.0, 1000.0), (2000.0, 2000.0)):
        kit = Kit([HOURLY], traffic="none")
        register(kit, 1000.0, 3240.0)
        kit.cols.tau_ref_s[0] = tau_ref_s
        kit.window(DAY)
        assert kit.cols.total_tau[0] == 26 and kit.kinds(KIND_TAU)[0, EV_TIME_S] == start_s + 3240.0
        assert kit.cols.tau_ref_s[0] == start_s + 26 * 3240.0


def test_tau_events_make_no_session_records_and_no_packets():
    """The record cutter skips KIND_TAU events: the records are those of the events without them."""
    kit = Kit([MQTT])
    register(kit, 0.0, 1000.0)
    events = kit.window(DAY)
    assert (events[:, EV_KIND] == KIND_TAU).any() and KIND_TAU not in DATA_KINDS
    cutters = [RecordCutter(np.array([0]), 1, 3600.0, None) for _ in range(2)]
    with_tau = cutters[0].cut(events, DAY, final=True)
    without = cutters[1].cut(events[events[:, EV_KIND] != KIND_TAU], DAY, final=True)
    assert with_tau.shape[0] > 0 and np.array_equal(with_tau, without)


def activity_times(events: np.ndarray) -> list[float]:
    """Every connected episode of the recorded events, keep-alive batches expanded."""
    times = []
    for ev in events:
        kind = int(ev[EV_KIND])
        if kind == KIND_PINGS:
            times += [ev[EV_TIME_S] + p * ev[EV_SPAN_S] for p in range(int(ev[EV_COUNT]))]
        elif kind in (KIND_SESSION, KIND_ONCE, KIND_OPEN, KIND_OPEN_FAILED, KIND_REPORT, KIND_SMS_MO, KIND_SMS_MT):
            times.append(ev[EV_TIME_S])
    return times


def oracle_taus(start_s: float, times: list[float], t_end_s: float, t3412_s: float) -> list[tuple[float, int]]:
    """(first time, count) of each TAU batch: from each episode, TAUs at ref + k T3412 before the next."""
    out, ref = [], start_s
    for t in [*times, t_end_s]:
        n = 0
        while ref + (n + 1) * t3412_s < t:
            n += 1
        if n:
            out.append((ref + t3412_s, n))
        ref = t if t != t_end_s else ref + n * t3412_s
    return out


def test_keepalive_longer_than_t3412_has_taus_between_pings():
    """Keep-alive 1200 s and T3412 = 1000 s: a TAU 1000 s after the open, each report and each
    ping whenever the next episode is more than 1000 s away; checked against the episodes."""
    kit = Kit([MQTT])
    register(kit, 0.0, 1000.0)
    events = kit.window(DAY)
    expected = oracle_taus(0.0, activity_times(events), DAY, 1000.0)
    tau_ev = events[events[:, EV_KIND] == KIND_TAU]
    assert [(t, int(n)) for t, n in tau_ev[:, [EV_TIME_S, EV_COUNT]]] == expected
    assert kit.cols.total_tau[0] == sum(n for _, n in expected) > 48


# --------------------------------------------------------------------------- unregistered
def test_reports_before_the_registration_are_dropped():
    """Sessions at 1800 + 3600 k, registered from 40000: k = 0..10 (11) are dropped, the other
    13 are sent, billed 100 bytes each."""
    kit = hourly_at(1800.0)
    register(kit, 40000.0)
    kit.window(DAY)
    c = kit.cols
    assert c.day_reports_dropped[0] == c.total_reports_dropped[0] == 11
    assert c.day_sessions[0] == 13 and c.day_bytes[0] == 1300 and c.queued_reports[0] == 0
    assert kit.kinds(KIND_SESSION)[:, EV_TIME_S].tolist() == [1800.0 + 3600 * k for k in range(11, 24)]


def test_queued_reports_are_sent_at_the_registration():
    """Queue mode: the 11 reports due before 40000 are sent at 40000 (burst_spacing_s 0), each
    billed like any report, then the schedule goes on at 41400: 24 sessions, 2400 bytes."""
    kit = hourly_at(1800.0, mode=UNREGISTERED_QUEUE)
    register(kit, 40000.0)
    kit.window(DAY)
    c = kit.cols
    assert c.day_reports_dropped[0] == 0 and c.queued_reports[0] == 0
    assert c.day_sessions[0] == 24 and c.day_bytes[0] == 2400
    sessions = kit.kinds(KIND_SESSION)
    assert sessions[:, EV_TIME_S].tolist() == [40000.0] * 11 + [1800.0 + 3600 * k for k in range(11, 24)]
    assert (sessions[:, EV_PAYLOAD] == 100).all()


def test_queue_beyond_its_limit_drops_and_a_window_end_holds_the_queue():
    """Limit 5: of the 11 reports before 40000, 5 are queued and 6 dropped. A window ending at
    30000 (not registered yet, 8 reports due: 5 queued, 3 dropped) keeps the queue; it goes at
    40000 in the next window: 13 + 5 sessions."""
    kit = hourly_at(1800.0, mode=UNREGISTERED_QUEUE, queue_limit=5)
    register(kit, 40000.0)
    kit.window(30000.0)
    c = kit.cols
    assert c.queued_reports[0] == 5 and c.total_reports_dropped[0] == 3 and c.total_sessions[0] == 0
    kit.window(DAY)
    assert c.queued_reports[0] == 0 and c.total_reports_dropped[0] == 6
    assert c.total_sessions[0] == 18 and c.total_bytes[0] == 1800


def test_queued_reports_are_spaced_and_interleave_with_the_schedule():
    """burst_spacing_s 200: the queue drains at 40000 + 200 j, j = 0..10, between the regular
    reports (41400 ties with j = 7). A window end at 40500 interrupts the drain after 3; the next
    window goes on at 40600 with the same events."""
    expected = sorted([40000.0 + 200 * j for j in range(11)] + [1800.0 + 3600 * k for k in range(11, 24)])
    one, two = (hourly_at(1800.0, mode=UNREGISTERED_QUEUE) for _ in range(2))
    for kit in (one, two):
        kit.profiles.burst_spacing_s[0] = 200.0  # the schema allows a spacing only with bursts; unused here
        register(kit, 40000.0)
    one.window(DAY)
    assert one.kinds(KIND_SESSION)[:, EV_TIME_S].tolist() == expected
    two.window(40500.0)
    assert two.cols.queued_reports[0] == 8 and two.cols.queue_next_s[0] == 40600.0
    two.window(DAY)
    assert np.array_equal(two.kinds(KIND_SESSION), one.kinds(KIND_SESSION))
    assert two.cols.total_sessions[0] == 24


def test_sms_while_not_registered_are_dropped_and_the_rest_is_unchanged():
    """Poisson reports and SMS both ways: unregistered until 40000, the device sends exactly the
    events it sends registered all along from 40000 on (the dropped reports keep their draw
    slots), and the reports and SMS before it are counted as dropped."""
    profile = {"name": "pois", "schedule": "poisson", "sessions_per_day": 48, "sms_mo_per_day": 20, "sms_mt_per_day": 20,
               "session_bytes": {"distribution": "uniform", "min_bytes": 10, "max_bytes": 900}}  # fmt: skip
    base = Kit([profile])
    base.window(DAY)
    gated = Kit([profile])
    register(gated, 40000.0)
    gated.window(DAY)
    ref = base.all_events()
    before = ref[ref[:, EV_TIME_S] < 40000.0]
    assert np.array_equal(gated.all_events(), ref[ref[:, EV_TIME_S] >= 40000.0])
    sms = np.isin(before[:, EV_KIND], [KIND_SMS_MO, KIND_SMS_MT])
    assert gated.cols.total_sms_dropped[0] == sms.sum() > 0
    assert gated.cols.total_reports_dropped[0] == (before[:, EV_KIND] == KIND_SESSION).sum() > 0
    assert gated.cols.total_sms_mo[0] + gated.cols.total_sms_mt[0] + sms.sum() == (
        base.cols.total_sms_mo[0] + base.cols.total_sms_mt[0])


def test_one_off_session_and_connection_open_wait_for_the_registration():
    """A one-off session due at 1000 and a persistent profile's open at 0 go at the registration
    (5000); never registered (+inf), the one-off stays pending at 1000 and nothing is sent."""
    kit = Kit([MQTT, HOURLY])
    kit.cols.next_once_s[0], kit.cols.once_profile[0] = 1000.0, 1
    register(kit, 5000.0)
    kit.window(DAY)
    assert kit.kinds(KIND_OPEN)[0, EV_TIME_S] == 5000.0 and kit.kinds(KIND_ONCE)[0, EV_TIME_S] == 5000.0
    assert kit.all_events()[:, EV_TIME_S].min() == 5000.0
    kit = Kit([MQTT, HOURLY])
    kit.cols.next_once_s[0], kit.cols.once_profile[0] = 1000.0, 1
    register(kit, np.inf)
    kit.window(DAY)
    c = kit.cols
    assert kit.all_events().shape[0] == 0 and c.next_once_s[0] == 1000.0 and c.open_at_s[0] == 0.0
    assert c.total_sessions[0] == 0 and c.total_reports_dropped[0] == 24 and c.total_tau[0] == 0


# ------------------------------------------------------------------- no network: unchanged
MIXED = [
    dict(MQTT, loss_probability=0.1, establishment_failure_probability=0.3, max_attempts=3, retry_interval_s=5.0,
         sms_mo_per_day=3),
    {"name": "web", "protocol": "https", "schedule": "poisson", "sessions_per_day": 30, "burst_size": 3,
     "burst_spacing_s": 2.0, "loss_probability": 0.05, "session_bytes": {"distribution": "uniform", "min_bytes": 10,
     "max_bytes": 3000}, "sms_mt_per_day": 5},
    {"name": "raw", "schedule": "diurnal", "sessions_per_day": 40, "hourly_weights": [1.0] * 12 + [3.0] * 12,
     "session_bytes": {"distribution": "empirical", "values": [50, 500, 5000]}, "sms_mo_per_day": 2},
]  # fmt: skip
TRAFFIC_COLUMNS = ("rng_counter", "next_session_s", "burst_left", "next_sms_mo_s", "next_sms_mt_s", "open_at_s",
                   "last_tx_s", "next_once_s", "total_bytes", "total_sessions", "total_sms_mo",
                   "total_sms_mt")  # fmt: skip


def run_mixed(reg_from_s: float, t3412_s: float) -> Kit:
    kits = []
    for name in ("tele", "web", "raw"):
        kit = Kit(MIXED, traffic=name, count=20, days=3)
        register(kit, reg_from_s, t3412_s)
        for t in (5000.0, DAY, 100000.0, 2 * DAY, 3 * DAY):
            kit.window(t)
        kits.append(kit)
    return kits


@pytest.mark.parametrize(("reg_from_s", "t3412_s"), [(-1e12, np.inf), (-np.inf, 3240.0), (-1000.0, 600.0)])
def test_registered_all_along_the_traffic_is_that_of_no_network(reg_from_s, t3412_s):
    """A registration before the run, and TAU counting, change none of the traffic: columns and
    events (TAU events aside) are those of the defaults (-inf, no T3412). TAUs before the run
    count in the first minute bin."""
    taus = 0
    for plain, other in zip(run_mixed(-np.inf, np.inf), run_mixed(reg_from_s, t3412_s), strict=True):
        for name in TRAFFIC_COLUMNS:
            np.testing.assert_array_equal(getattr(plain.cols, name), getattr(other.cols, name), err_msg=name)
        ev = other.all_events()
        assert np.array_equal(plain.all_events(), ev[ev[:, EV_KIND] != KIND_TAU])
        assert plain.cols.total_tau.sum() == 0 and other.cols.total_reports_dropped.sum() == 0
        taus += other.cols.total_tau.sum()
    assert (taus > 0) == (t3412_s < np.inf)


# ------------------------------------------------------------------------------ properties
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles("p", persistent=True), reg_frac=st.floats(0.0, 1.0), seed=st.integers(0, 2**16),
       queue=st.booleans(), limit=st.integers(1, 30), t3412=st.sampled_from([np.inf, 600.0, 3240.0]))  # fmt: skip
def test_reports_are_sent_dropped_or_queued(profile, reg_frac, seed, queue, limit, t3412):
    """Registered from a random time ``rf`` of a two-day run; nothing is carried before it. For a
    profile with one draw per report (``plain``): every report the device registered all along
    makes before ``rf`` is dropped or queued (the draws stay aligned), in drop mode the events
    from ``rf`` on are exactly that device's, and in queue mode the first queued report goes at
    ``rf``; with a periodic schedule without jitter (arrival times that no draw moves) sent +
    dropped + still queued = the reports registered all along. The TAUs match the episodes."""
    rf = reg_frac * 2 * DAY
    base = Kit([profile], seed=seed)
    base.window(rf)
    n_before = int(base.cols.total_sessions[0])
    base.window(2 * DAY)
    gated = Kit([profile], seed=seed, mode=UNREGISTERED_QUEUE if queue else UNREGISTERED_DROP, queue_limit=limit)
    register(gated, rf, t3412)
    gated.window(rf)
    c = gated.cols
    assert gated.all_events().shape[0] == 0 and c.total_sessions[0] == c.total_bytes[0] == 0
    gated.window(2 * DAY)
    events = gated.all_events()
    assert (events[:, EV_TIME_S] >= rf).all()
    kinds = events[:, EV_KIND]
    if gated.profiles.plain[0]:
        queued = min(n_before, limit) if queue else 0
        assert c.total_reports_dropped[0] == n_before - queued
        if not queue:
            ref = base.all_events()
            assert np.array_equal(events[kinds != KIND_TAU], ref[ref[:, EV_TIME_S] >= rf])
        elif queued and rf < 2 * DAY:
            assert events[kinds == KIND_SESSION][0, EV_TIME_S] == rf
        if profile["schedule"] == "periodic" and not profile.get("jitter_s"):
            sent = c.total_sessions[0]
            assert sent + c.total_reports_dropped[0] + c.queued_reports[0] == base.cols.total_sessions[0]
    if t3412 < np.inf:
        expected = oracle_taus(rf, activity_times(events), 2 * DAY, t3412)
        tau = events[kinds == KIND_TAU]
        assert [(t, int(n)) for t, n in tau[:, [EV_TIME_S, EV_COUNT]]] == expected
        assert c.total_tau[0] == sum(n for _, n in expected) == gated.tau_bins.sum()
