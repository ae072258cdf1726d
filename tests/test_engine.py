"""Hand-computed engine scenarios: fixed-size sessions on periodic schedules without jitter, so
every session time and every allowance crossing is exact.

Periodic arrivals start at a uniform random phase inside the first period, so each test reads the
first session time ``t0`` of a device from the sessions table and derives everything else from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from strategies import DAY, periodic, run_scenario_dict, scenario_dict

HOUR = 3600.0
TOL = 1e-6  # float sums of 3600 s steps


def hourly(name: str = "hourly", size: int = 1000, **kw) -> dict:
    return periodic(name, 24, size, **kw)


def one_change(run, device: int) -> pd.Series:
    ch = run.device_changes(device)
    assert len(ch) == 1, ch
    return ch.iloc[0]


def fleet_rows(run) -> list[dict]:
    return run.fleet.drop(columns=["date"]).to_dict("records")


# --------------------------------------------------------------------------- data allowance
def test_provisioned_data_crossing_exact():
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 5500},
                    "fees": {"first_bill_activation": 2.0}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 4, "rate_plan": "p", "traffic": "hourly"}],
            days=2,
        )
    )
    for dev in range(4):
        s = r.device_sessions(dev)
        t0 = s.start_time_s[0]
        assert 0 < t0 < HOUR
        # one session per hour, exactly, for the whole run (single profile, no restart)
        assert len(s) == 48
        np.testing.assert_allclose(s.start_time_s, t0 + HOUR * np.arange(48), rtol=0, atol=TOL)
        assert (s.total_bytes == 1000).all()
        assert (s.uplink_bytes == 500).all() and (s.downlink_bytes == 500).all()
        # the 6th session (cumulative 6000 > 5500) is the crossing one
        c = one_change(r, dev)
        assert c.time_s == s.start_time_s[5]
        assert c.time_s == pytest.approx(t0 + 5 * HOUR, abs=TOL)
        assert c.from_state == "Provisioned" and c.to_state == "Active-Billed"
        assert c.action == "activate" and c.actor == "system"
        assert c.reason == "provisioned_data_allowance_exceeded"
        assert c.fee_event == "first_bill_activation_fee"
        assert list(s.state_at_usage[:6]) == ["Provisioned"] * 6
        assert list(s.state_at_usage[6:]) == ["Active-Billed"] * 42
        u = r.usage[r.usage.device == dev].sort_values("day")
        assert u.day.tolist() == [0, 1]
        assert u.bytes.tolist() == [24000, 24000]
        assert u.sessions.tolist() == [24, 24]
        assert u.sms_mo.tolist() == [0, 0]
        assert u.state.tolist() == ["Active-Billed", "Active-Billed"]
    assert fleet_rows(r) == [
        {"day": 0, "initial": 0, "provisioned": 0, "active_billed": 4, "suspended": 0, "cancelled": 0, "defaulted": 4},
        {"day": 1, "initial": 0, "provisioned": 0, "active_billed": 4, "suspended": 0, "cancelled": 0, "defaulted": 0},
    ]
    assert r.counts.defaulted_by_reason == {"provisioned_data_allowance_exceeded": 4}
    assert r.counts.total_bytes == 4 * 48 * 1000 and r.counts.sessions == 4 * 48
    assert r.counts.final_states["Active-Billed"] == 4


def test_data_crossing_equal_to_allowance_does_not_default():
    """Exactly reaching the allowance is not exceeding it: 6000 bytes of 6000 allowed."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 6000}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly"}],
            days=1,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        c = one_change(r, dev)
        assert c.time_s == s.start_time_s[6]  # 7000 > 6000
        assert c.time_s == pytest.approx(s.start_time_s[0] + 6 * HOUR, abs=TOL)


def test_data_crossing_then_silent_profile_in_active_billed():
    """After the crossing the Active-Billed profile ('none') applies: exactly 6 sessions."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 5500}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p",
                    "traffic": {"provisioned": "hourly", "active_billed": "none"}}],
            days=3,
        )
    )
    assert r.counts.sessions == 18
    for dev in range(3):
        s = r.device_sessions(dev)
        assert len(s) == 6 and (s.state_at_usage == "Provisioned").all()
        assert one_change(r, dev).time_s == s.start_time_s[5]


def test_data_crossing_restarts_into_new_profile():
    """A different Active-Billed profile starts at the crossing time, with a fresh phase."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 5500}}],
            profiles=[hourly(), periodic("six", 4, 777)],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p",
                    "traffic": {"provisioned": "hourly", "active_billed": "six"}}],
            days=3,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        tc = one_change(r, dev).time_s
        before, after = s[s.start_time_s <= tc], s[s.start_time_s > tc]
        assert (before.total_bytes == 1000).all() and len(before) == 6
        assert (after.total_bytes == 777).all()
        assert (after.state_at_usage == "Active-Billed").all()
        t1 = after.start_time_s.iloc[0]
        assert tc < t1 < tc + 6 * HOUR
        np.testing.assert_allclose(after.start_time_s, t1 + 6 * HOUR * np.arange(len(after)), atol=TOL, rtol=0)


# ----------------------------------------------------------------------------- SMS allowance
def test_sms_crossing_third_sms():
    """SMS-only profile in Provisioned, silent in Active-Billed: the 3rd SMS defaults, so each
    device sends exactly 3 SMS, and the default is on the day of the 3rd."""
    prof = {"name": "sms", "sessions_per_day": 0, "session_bytes": {"distribution": "fixed", "bytes": 1},
            "sms_mo_per_day": 4}
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"sms_count": 2}}],
            profiles=[prof],
            fleet=[{"name": "g", "count": 20, "rate_plan": "p",
                    "traffic": {"provisioned": "sms", "active_billed": "none"}}],
            days=20,
        )
    )
    ch = r.changes
    assert len(ch) == 20
    assert (ch.reason == "provisioned_sms_allowance_exceeded").all()
    assert (ch.actor == "system").all() and (ch.action == "activate").all()
    assert (ch.fee_event == "first_bill_activation_fee").all()
    u = r.usage
    assert len(r.sessions) == 0 and u.bytes.sum() == 0
    for dev in range(20):
        ud = u[u.device == dev]
        assert ud.sms_mo.sum() == 3
        t = ch[ch.device == dev].time_s.iloc[0]
        assert ud.day.max() == int(t // DAY)
    assert r.counts.sms_mo == 60
    assert r.counts.defaulted_by_reason == {"provisioned_sms_allowance_exceeded": 20}


# ------------------------------------------------------------------------- days allowance
def _silent_days_plan(days: float, suspended: bool = False, fees: dict | None = None) -> dict:
    key = "suspended_allowance" if suspended else "provisioned_allowance"
    return {"name": "p", key: {"days": days}, "fees": fees or {}}


def test_days_expiry_exact():
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(2.5)],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "none"}],
            days=5,
        )
    )
    ch = r.changes
    assert len(ch) == 3
    assert (ch.time_s == 2.5 * DAY).all()
    assert (ch.reason == "provisioned_days_allowance_exceeded").all()
    assert (ch.actor == "system").all() and (ch.action == "activate").all()
    assert (ch.fee_event == "first_bill_activation_fee").all()
    assert r.fleet.provisioned.tolist() == [3, 3, 0, 0, 0]
    assert r.fleet.active_billed.tolist() == [0, 0, 3, 3, 3]
    assert r.fleet.defaulted.tolist() == [0, 0, 3, 0, 0]
    assert r.counts.defaulted_by_reason == {"provisioned_days_allowance_exceeded": 3}


def test_days_expiry_at_midnight_comes_after_day_end():
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(2)],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none"}],
            days=4,
        )
    )
    assert (r.changes.time_s == 2 * DAY).all()
    # day 1 ends at 2*DAY before the expiry at the same instant
    assert r.fleet.provisioned.tolist() == [2, 2, 0, 0]
    assert r.fleet.defaulted.tolist() == [0, 0, 2, 0]


@pytest.mark.parametrize("allowance_days", [5, 7.5])
def test_days_expiry_at_or_after_run_end_never_fires(allowance_days):
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(allowance_days)],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none"}],
            days=5,
        )
    )
    assert len(r.changes) == 0
    assert r.fleet.provisioned.tolist() == [2] * 5


def test_days_expiry_cancelled_by_operator_activation():
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(2)],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "none"}],
            actions=[{"name": "act", "at_day": 1, "action": "activate"}],
            days=5,
        )
    )
    ch = r.changes
    assert len(ch) == 3
    assert (ch.actor == "scenario").all() and (ch.time_s == DAY).all()
    assert (ch.reason == "act").all()
    assert (ch.fee_event == "first_bill_activation_fee").all()
    assert r.counts.defaulted == 0


def test_days_clock_restarts_on_reentry():
    """Cancel at day 0.5 and reprovision at day 1: the 2-day clock runs from day 1."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(2)],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none"}],
            actions=[
                {"name": "c", "at_day": 0.5, "action": "cancel"},
                {"name": "r", "at_day": 1, "action": "reprovision"},
            ],
            days=5,
        )
    )
    for dev in range(2):
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["cancel", "reprovision", "activate"]
        assert ch.time_s.tolist() == [0.5 * DAY, DAY, 3 * DAY]
        assert ch.actor.tolist() == ["scenario", "scenario", "system"]
        assert ch.reason.iloc[2] == "provisioned_days_allowance_exceeded"
        # never Active-Billed before: the defaulting is a first activation
        assert ch.fee_event.tolist() == ["deactivation_fee", "reactivation_fee", "first_bill_activation_fee"]


def test_suspended_days_expiry_unsuspend_fee():
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(1.25, suspended=True)],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none", "initial_state": "active_billed"}],
            actions=[{"name": "s", "at_day": 1, "action": "suspend"}],
            days=4,
        )
    )
    for dev in range(2):
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["suspend", "unsuspend"]
        assert ch.time_s.tolist() == [DAY, 2.25 * DAY]
        assert ch.fee_event.tolist() == ["suspension_fee", "unsuspend_fee"]
        assert ch.reason.tolist() == ["s", "suspended_days_allowance_exceeded"]
        assert ch.actor.tolist() == ["scenario", "system"]


# ---------------------------------------------------------------------- suspended allowance
def test_suspended_data_allowance_counts_from_entry():
    """Active-Billed hourly 1000 B; suspended at day 1 with 2500 B allowed: the 3rd session after
    the suspension defaults (usage before entry does not count)."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "suspended_allowance": {"data_bytes": 2500}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly", "initial_state": "active_billed"}],
            actions=[{"name": "sus", "at_day": 1, "action": "suspend"}],
            days=3,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        t0 = s.start_time_s[0]
        np.testing.assert_allclose(s.start_time_s, t0 + HOUR * np.arange(len(s)), atol=TOL, rtol=0)
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["suspend", "unsuspend"]
        assert ch.time_s[0] == DAY
        # sessions 24, 25, 26 are after DAY; the 26th (index) crosses
        assert ch.time_s[1] == s.start_time_s[26]
        assert ch.time_s[1] == pytest.approx(t0 + 26 * HOUR, abs=TOL)
        assert ch.actor[1] == "system"
        assert ch.reason[1] == "suspended_data_allowance_exceeded"
        assert ch.fee_event.tolist() == ["suspension_fee", "unsuspend_fee"]
        states = s.state_at_usage.tolist()
        assert states[:24] == ["Active-Billed"] * 24
        assert states[24:27] == ["Suspended"] * 3
        assert set(states[27:]) == {"Active-Billed"}
    # day 0 ends before the suspension at DAY; the default comes within day 1
    assert r.fleet.suspended.tolist() == [0, 0, 0]
    assert r.fleet.active_billed.tolist() == [3, 3, 3]
    assert r.fleet.defaulted.tolist() == [0, 3, 0]


def test_allowance_usage_resets_on_reentry():
    """3 sessions in Provisioned, cancel (silent), reprovision: 6 more sessions needed."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 5500}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly"}],
            actions=[
                {"name": "c", "at_day": 3 / 24 + 0.01 / 24, "action": "cancel"},  # after 3 sessions
                {"name": "r", "at_day": 1, "action": "reprovision"},
            ],
            days=2,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["cancel", "reprovision", "activate"]
        before = s[s.start_time_s < DAY]
        assert len(before) == 3  # phases in (0, 3600): sessions 0..2 before 3.01 h
        after = s[s.start_time_s >= DAY].reset_index(drop=True)
        assert DAY < after.start_time_s[0] < DAY + HOUR
        assert ch.time_s[2] == after.start_time_s[5]
        assert ch.reason[2] == "provisioned_data_allowance_exceeded"
        assert ch.fee_event[2] == "first_bill_activation_fee"
        assert after.state_at_usage.tolist()[:6] == ["Provisioned"] * 6


# ----------------------------------------------------------------------------- fee events
def test_first_bill_vs_reactivation_fees():
    """activate -> cancel -> reprovision -> activate -> suspend -> unsuspend."""
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none"}],
            actions=[
                {"name": "a1", "at_day": 1, "action": "activate"},
                {"name": "c", "at_day": 2, "action": "cancel"},
                {"name": "rp", "at_day": 3, "action": "reprovision"},
                {"name": "a2", "at_day": 4, "action": "activate"},
                {"name": "s", "at_day": 5, "action": "suspend"},
                {"name": "u", "at_day": 6, "action": "unsuspend"},
            ],
            days=7,
        )
    )
    for dev in range(2):
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["activate", "cancel", "reprovision", "activate", "suspend", "unsuspend"]
        assert ch.fee_event.tolist() == [
            "first_bill_activation_fee",
            "deactivation_fee",
            "reactivation_fee",
            "reactivation_fee",
            "suspension_fee",
            "unsuspend_fee",
        ]
        assert ch.from_state.tolist() == ["Provisioned", "Active-Billed", "Cancelled", "Provisioned", "Active-Billed", "Suspended"]
        assert ch.to_state.tolist() == ["Active-Billed", "Cancelled", "Provisioned", "Active-Billed", "Suspended", "Active-Billed"]
        assert ch.time_s.tolist() == [d * DAY for d in range(1, 7)]
        assert ch.reason.tolist() == ["a1", "c", "rp", "a2", "s", "u"]
    assert r.fleet.active_billed.tolist() == [0, 2, 0, 0, 2, 0, 2]


def test_defaulting_after_earlier_activation_is_reactivation():
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(1)],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none"}],
            actions=[
                {"at_day": 0.5, "action": "activate"},
                {"at_day": 1, "action": "cancel"},
                {"at_day": 1.5, "action": "reprovision"},
            ],
            days=4,
        )
    )
    for dev in range(2):
        ch = r.device_changes(dev)
        assert ch.action.tolist() == ["activate", "cancel", "reprovision", "activate"]
        assert ch.time_s.tolist() == [0.5 * DAY, DAY, 1.5 * DAY, 2.5 * DAY]
        assert ch.fee_event.tolist() == ["first_bill_activation_fee", "deactivation_fee", "reactivation_fee", "reactivation_fee"]
        assert ch.actor.iloc[3] == "system"
        # unnamed actions are labelled by their index
        assert ch.reason.tolist()[:3] == ["actions[0]", "actions[1]", "actions[2]"]


@pytest.mark.parametrize(
    ("initial", "action", "fee"),
    [
        ("initial", "provision", "provision_fee"),
        ("initial", "activate", "first_bill_activation_fee"),
        ("cancelled", "activate", "reactivation_fee"),
        ("cancelled", "provision", "provision_fee"),
        ("cancelled", "reprovision", "reactivation_fee"),
        ("suspended", "unsuspend", "unsuspend_fee"),
        ("suspended", "cancel", "deactivation_fee"),
        ("active_billed", "suspend", "suspension_fee"),
        ("provisioned", "cancel", "deactivation_fee"),
    ],
)
def test_fee_per_initial_state(initial, action, fee):
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "none", "initial_state": initial}],
            actions=[{"at_day": 1, "action": action}],
            days=2,
        )
    )
    assert r.changes.fee_event.tolist() == [fee, fee]


def test_initial_active_billed_counts_as_ever_active():
    """A device that starts Active-Billed, suspended, then cancelled, reprovisioned and activated
    pays a Reactivation fee (it has been Active-Billed before)."""
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 1, "rate_plan": "p", "traffic": "none", "initial_state": "active_billed"}],
            actions=[{"at_day": 1, "action": "cancel"}, {"at_day": 2, "action": "reprovision"},
                     {"at_day": 3, "action": "activate"}],
            days=4,
        )
    )
    assert r.changes.fee_event.tolist() == ["deactivation_fee", "reactivation_fee", "reactivation_fee"]


def test_initial_cancelled_has_a_billing_history():
    """A SIM that starts Cancelled was in service before: reprovisioned and activated, it pays a
    Reactivation fee, not First Bill Activation (seed 003: First Bill only "for the first time")."""
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 1, "rate_plan": "p", "traffic": "none", "initial_state": "cancelled"}],
            actions=[{"at_day": 1, "action": "reprovision"}, {"at_day": 2, "action": "activate"}],
            days=3,
        )
    )
    assert r.changes.fee_event.tolist() == ["reactivation_fee", "reactivation_fee"]
    assert r.changes.to_state.tolist() == ["Provisioned", "Active-Billed"]


# ---------------------------------------------------------------------- rejected operations
def test_rejected_operations_recorded_and_run_continues():
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 4, "rate_plan": "p", "traffic": "none"}],
            actions=[
                {"name": "bad-suspend", "at_day": 1, "action": "suspend"},
                {"name": "act", "at_day": 2, "action": "activate", "select": {"count": 2}},
                {"name": "sus", "at_day": 3, "action": "suspend"},
            ],
            days=5,
        )
    )
    rej = r.rejected
    assert len(rej) == 6
    first = rej[rej.operation == "bad-suspend"]
    assert sorted(first.device) == [0, 1, 2, 3]
    assert (first.time_s == DAY).all()
    assert (first.state == "Provisioned").all() and (first.action == "suspend").all()
    assert set(first.error) == {"action 'suspend' is not allowed in state Provisioned (allowed: activate, cancel)"}
    second = rej[rej.operation == "sus"]
    assert len(second) == 2 and (second.time_s == 3 * DAY).all()
    ch = r.changes
    activated = sorted(ch[ch.action == "activate"].device)
    assert len(activated) == 2
    assert sorted(ch[ch.action == "suspend"].device) == activated
    assert sorted(second.device) == sorted(set(range(4)) - set(activated))
    assert r.counts.rejected_operations == 6
    assert r.fleet.suspended.tolist() == [0, 0, 0, 2, 2]
    assert r.fleet.provisioned.tolist() == [4, 4, 2, 2, 2]


def test_rejected_timestamp_matches_time_s():
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 1, "rate_plan": "p", "traffic": "none", "initial_state": "initial"}],
            actions=[{"name": "x", "at_day": 0.25, "action": "cancel"}],
            days=1,
        )
    )
    row = r.rejected.iloc[0]
    assert row.time_s == 0.25 * DAY
    assert str(row.time) == "2024-01-01 06:00:00+00:00"
    assert row.error == "action 'cancel' is not allowed in state Initial (allowed: provision, activate)"


# ------------------------------------------------------------------------------- selectors
@pytest.mark.parametrize(
    ("select", "n", "expected"),
    [
        ({"fraction": 0.25}, 10, 3),  # floor(2.5 + 0.5)
        ({"fraction": 0.35}, 10, 4),  # floor(3.5 + 0.5)
        ({"fraction": 0.24}, 10, 2),
        ({"fraction": 0.01}, 10, 0),  # floor(0.1 + 0.5)
        ({"fraction": 0.05}, 10, 1),
        ({"fraction": 1.0}, 10, 10),
        ({"count": 7}, 10, 7),
        ({"count": 15}, 10, 10),
        ({}, 10, 10),
    ],
)
def test_selector_counts(select, n, expected):
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": n, "rate_plan": "p", "traffic": "none"}],
            actions=[{"at_day": 1, "action": "activate", "select": select}],
            days=2,
        )
    )
    ch = r.changes
    assert len(ch) == expected
    assert ch.device.is_unique
    assert r.fleet.active_billed.tolist() == [0, expected]


def test_selector_filters_combine():
    r = run_scenario_dict(
        scenario_dict(
            fleet=[
                {"name": "a", "count": 5, "rate_plan": "p", "traffic": "none", "account": "x", "report_group": "r1"},
                {"name": "b", "count": 6, "rate_plan": "p", "traffic": "none", "account": "y", "report_group": "r1"},
                {"name": "c", "count": 7, "rate_plan": "p", "traffic": "none", "account": "x", "report_group": "r2",
                 "initial_state": "active_billed"},
            ],
            actions=[
                {"name": "by-acct", "at_day": 1, "action": "cancel", "select": {"account": "x", "state": "provisioned"}},
                {"name": "by-rg", "at_day": 2, "action": "suspend", "select": {"report_group": "r2", "count": 3}},
                {"name": "by-grp", "at_day": 3, "action": "activate", "select": {"group": ["b", "c"], "fraction": 0.5}},
                {"name": "nobody", "at_day": 3.5, "action": "cancel", "select": {"account": "zzz"}},
            ],
            days=5,
        )
    )
    ch, rej = r.changes, r.rejected
    assert sorted(ch[ch.reason == "by-acct"].device) == [0, 1, 2, 3, 4]
    sus = ch[ch.reason == "by-rg"]
    assert len(sus) == 3 and set(sus.device) <= set(range(11, 18))
    # 13 devices in groups b and c; floor(6.5 + 0.5) = 7 drawn, only Provisioned ones move
    grp_ch = ch[ch.reason == "by-grp"]
    grp_rej = rej[rej.operation == "by-grp"]
    assert len(grp_ch) + len(grp_rej) == 7
    assert set(grp_ch.device) | set(grp_rej.device) <= set(range(5, 18))
    assert set(grp_ch.device) <= set(range(5, 11))
    assert (grp_rej.state.isin(["Active-Billed", "Suspended"])).all()
    assert len(ch[ch.reason == "nobody"]) == 0 and len(rej[rej.operation == "nobody"]) == 0


def test_repeat_actions_fraction_of_current_matches():
    r = run_scenario_dict(
        scenario_dict(
            fleet=[{"name": "g", "count": 16, "rate_plan": "p", "traffic": "none"}],
            actions=[{"name": "batch", "at_day": 0.5, "action": "activate",
                      "select": {"state": "provisioned", "fraction": 0.5},
                      "repeat": {"every_days": 1, "times": 3}}],
            days=4,
        )
    )
    ch = r.changes
    assert ch.groupby("time_s").size().to_dict() == {0.5 * DAY: 8, 1.5 * DAY: 4, 2.5 * DAY: 2}
    assert ch.reason.tolist() == ["batch"] * 8 + ["batch#2"] * 4 + ["batch#3"] * 2
    assert ch.device.is_unique
    assert r.fleet.active_billed.tolist() == [8, 12, 14, 14]


def test_repeat_beyond_run_end_is_a_validation_error():
    from cellfleet.scenarios.loader import ScenarioError

    with pytest.raises(ScenarioError):
        run_scenario_dict(
            scenario_dict(
                fleet=[{"name": "g", "count": 1, "rate_plan": "p", "traffic": "none"}],
                actions=[{"at_day": 1, "action": "activate", "repeat": {"every_days": 1, "times": 3}}],
                days=3,
            )
        )


# ------------------------------------------------------------------------------ set_traffic
def test_set_traffic_silences_devices():
    r = run_scenario_dict(
        scenario_dict(
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 6, "rate_plan": "p", "traffic": "hourly", "initial_state": "active_billed"}],
            actions=[{"name": "mute", "at_day": 1, "action": "set_traffic", "select": {"count": 4},
                      "traffic": "none"}],
            days=3,
        )
    )
    s, u = r.sessions, r.usage
    per_dev = s.groupby("device").size()
    muted = [d for d in range(6) if per_dev.get(d, 0) == 24]
    loud = [d for d in range(6) if per_dev.get(d, 0) == 72]
    assert len(muted) == 4 and len(loud) == 2
    assert (s[s.device.isin(muted)].start_time_s < DAY).all()
    assert set(u[u.day > 0].device) == set(loud)
    assert len(r.changes) == 0  # set_traffic is no lifecycle move


def test_set_traffic_restarts_with_new_profile():
    r = run_scenario_dict(
        scenario_dict(
            profiles=[hourly(), periodic("fast", 48, 10)],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly", "initial_state": "active_billed"}],
            actions=[{"at_day": 1, "action": "set_traffic", "traffic": {"active_billed": "fast"}}],
            days=2,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        d0, d1 = s[s.start_time_s < DAY], s[s.start_time_s >= DAY].reset_index(drop=True)
        assert len(d0) == 24 and (d0.total_bytes == 1000).all()
        assert len(d1) == 48 and (d1.total_bytes == 10).all()
        assert DAY <= d1.start_time_s[0] < DAY + 1800
        u = r.usage[r.usage.device == dev].sort_values("day")
        assert u.bytes.tolist() == [24000, 480]


def test_set_traffic_does_not_reset_allowance_usage():
    """3 sessions, then switch to another 1000-B profile: the crossing is still at 6000 B."""
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 5500}}],
            profiles=[hourly(), hourly("hourly2")],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly"}],
            actions=[{"at_day": 3.01 / 24, "action": "set_traffic", "traffic": "hourly2"}],
            days=1,
        )
    )
    for dev in range(3):
        s = r.device_sessions(dev)
        assert (s.start_time_s[:3] < 3.01 * HOUR).all() and s.start_time_s[3] >= 3.01 * HOUR
        assert one_change(r, dev).time_s == s.start_time_s[5]


# ------------------------------------------------------------------------------ day ends
def test_day_end_before_action_at_midnight():
    r = run_scenario_dict(
        scenario_dict(
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 5, "rate_plan": "p", "traffic": "hourly"}],
            actions=[{"at_day": 1, "action": "activate"}, {"at_day": 2, "action": "suspend", "select": {"count": 2}}],
            days=3,
        )
    )
    assert fleet_rows(r) == [
        {"day": 0, "initial": 0, "provisioned": 5, "active_billed": 0, "suspended": 0, "cancelled": 0, "defaulted": 0},
        {"day": 1, "initial": 0, "provisioned": 0, "active_billed": 5, "suspended": 0, "cancelled": 0, "defaulted": 0},
        {"day": 2, "initial": 0, "provisioned": 0, "active_billed": 3, "suspended": 2, "cancelled": 0, "defaulted": 0},
    ]
    u = r.usage
    assert (u[u.day == 0].state == "Provisioned").all()
    assert (u[u.day == 1].state == "Active-Billed").all()
    assert sorted(u.groupby("day").size().tolist()) == [5, 5, 5]
    assert (u.bytes == 24000).all()
    assert [str(d) for d in sorted(set(r.fleet.date))] == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_fleet_daily_sums_and_defaulted_matches_changes():
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 20000, "days": 3},
                    "suspended_allowance": {"data_bytes": 5000}}],
            profiles=[{"name": "rnd", "sessions_per_day": 6,
                       "session_bytes": {"distribution": "uniform", "min_bytes": 100, "max_bytes": 4000}}],
            fleet=[{"name": "g", "count": 40, "rate_plan": "p", "traffic": "rnd"},
                   {"name": "h", "count": 10, "rate_plan": "p", "traffic": "none", "initial_state": "initial"}],
            actions=[{"at_day": 2, "action": "suspend", "select": {"state": "active_billed", "fraction": 0.5}},
                     {"at_day": 2.5, "action": "provision", "select": {"group": "h"}}],
            days=8,
        )
    )
    f = r.fleet
    states = ["initial", "provisioned", "active_billed", "suspended", "cancelled"]
    assert (f[states].sum(axis=1) == 50).all()
    system = r.changes[r.changes.actor == "system"]
    per_day = (system.time_s // DAY).astype(int).value_counts().to_dict()
    assert {d: int(n) for d, n in zip(f.day, f.defaulted) if n} == per_day
    assert f.defaulted.sum() == r.counts.defaulted == len(system)


# --------------------------------------------------------------------------- determinism
DET = scenario_dict(
    plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 30000, "sms_count": 3, "days": 4},
            "suspended_allowance": {"data_bytes": 10000}}],
    profiles=[{"name": "rnd", "sessions_per_day": 8, "sms_mo_per_day": 0.5,
               "session_bytes": {"distribution": "uniform", "min_bytes": 100, "max_bytes": 9000}},
              periodic("jit", 12, 500, jitter_s=600)],
    fleet=[{"name": "a", "count": 60, "rate_plan": "p", "traffic": {"provisioned": "rnd", "active_billed": "jit",
                                                                   "suspended": "rnd"}},
           {"name": "b", "count": 30, "rate_plan": "p", "traffic": "jit", "initial_state": "active_billed"}],
    actions=[{"at_day": 1.3, "action": "suspend", "select": {"fraction": 0.4}},
             {"at_day": 2.7, "action": "activate", "select": {"state": "provisioned", "count": 10},
              "repeat": {"every_days": 1, "times": 3}}],
    days=7,
)


def _tables(r) -> dict:
    return {name: r.sink.table(name) for name in r.sink.batches}


def test_determinism_same_seed_identical_tables():
    a, b = run_scenario_dict(DET), run_scenario_dict(DET)
    ta, tb = _tables(a), _tables(b)
    for name in ta:
        assert ta[name].equals(tb[name]), name
    assert a.counts == b.counts
    assert len(ta["sessions"]) > 0 and len(ta["state_changes"]) > 0


def test_different_seed_differs():
    a = run_scenario_dict(DET)
    b = run_scenario_dict({**DET, "seed": DET["seed"] + 1})
    assert not a.sink.table("sessions").equals(b.sink.table("sessions"))
    assert not a.sink.table("state_changes").equals(b.sink.table("state_changes"))


# ---------------------------------------------------------------------- group independence
GROUP_A = {"name": "A", "count": 25, "rate_plan": "p", "traffic": "rnd"}
GROUP_B = {"name": "B", "count": 17, "rate_plan": "p", "traffic": "jit", "initial_state": "active_billed"}
IND_PROFILES = DET["traffic_profiles"]
IND_PLANS = [{"name": "p", "provisioned_allowance": {"data_bytes": 30000, "sms_count": 3, "days": 4}}]


def _usage_of_a(fleet: list[dict], offset: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    r = run_scenario_dict(scenario_dict(plans=IND_PLANS, profiles=IND_PROFILES, fleet=fleet, days=6))
    u = r.usage
    u = u[(u.device >= offset) & (u.device < offset + 25)].copy()
    u["device"] -= offset
    s = r.sessions
    s = s[(s.device >= offset) & (s.device < offset + 25)].copy()
    s["device"] -= offset
    s["session_id"] -= offset << 32  # device * 2**32 + the device's session number
    c = r.changes
    c = c[(c.device >= offset) & (c.device < offset + 25)].copy()
    c["device"] -= offset
    key = lambda df, cols: df.sort_values(cols).reset_index(drop=True)  # noqa: E731
    return (
        key(u, ["day", "device"]),
        key(s.drop(columns=["record_id", "iccid", "imsi", "imei"]), ["device", "start_time_s"]),
        key(c, ["device", "time_s"]),
    )


def test_adding_a_group_does_not_change_another_groups_usage():
    alone = _usage_of_a([GROUP_A], 0)
    after = _usage_of_a([GROUP_A, GROUP_B], 0)
    before = _usage_of_a([GROUP_B, GROUP_A], 17)
    assert len(alone[0]) > 0 and len(alone[1]) > 0 and len(alone[2]) > 0
    for other in (after, before):
        for x, y in zip(alone, other):
            pd.testing.assert_frame_equal(x, y)


# ------------------------------------------------------------ expiry vs action, same instant
def test_expiry_and_action_at_the_same_instant_resolve_the_same_way():
    """Two devices whose 2-day Provisioned periods end exactly when an operator 'activate' runs.

    Device 0 is Provisioned from the start (period 0 .. day 2, action at day 2); device 1 is
    reprovisioned at day 1 (period day 1 .. day 3, action at day 3). The outcome (system default or
    scenario activation) must not depend on when the test period started; whichever rule the
    engine picks, both devices must be resolved by the same kind of move.
    """
    r = run_scenario_dict(
        scenario_dict(
            plans=[_silent_days_plan(2)],
            fleet=[{"name": "a", "count": 1, "rate_plan": "p", "traffic": "none"},
                   {"name": "b", "count": 1, "rate_plan": "p", "traffic": "none", "initial_state": "cancelled"}],
            actions=[
                {"name": "reprov-b", "at_day": 1, "action": "reprovision", "select": {"group": "b"}},
                {"name": "act-a", "at_day": 2, "action": "activate", "select": {"group": "a"}},
                {"name": "act-b", "at_day": 3, "action": "activate", "select": {"group": "b"}},
            ],
            days=4,
        )
    )
    ch = r.changes
    a = ch[(ch.device == 0) & (ch.to_state == "Active-Billed")]
    b = ch[(ch.device == 1) & (ch.to_state == "Active-Billed")]
    assert a.time_s.tolist() == [2 * DAY] and b.time_s.tolist() == [3 * DAY]
    assert a.actor.iloc[0] == b.actor.iloc[0], (
        f"device 0 (period from t=0) resolved by {a.actor.iloc[0]!r}, "
        f"device 1 (period from day 1) by {b.actor.iloc[0]!r}"
    )
    assert len(r.rejected) in (0, 2)


def test_initially_suspended_device_defaults_with_unsuspend_fee():
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "suspended_allowance": {"data_bytes": 2500},
                    "provisioned_allowance": {"data_bytes": 10}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "hourly", "initial_state": "suspended"}],
            days=1,
        )
    )
    for dev in range(2):
        s = r.device_sessions(dev)
        c = one_change(r, dev)
        assert c.time_s == s.start_time_s[2]
        assert (c.from_state, c.to_state, c.action, c.actor) == ("Suspended", "Active-Billed", "unsuspend", "system")
        assert c.reason == "suspended_data_allowance_exceeded"
        assert c.fee_event == "unsuspend_fee"
    assert r.counts.defaulted_by_reason == {"suspended_data_allowance_exceeded": 2}


def test_timestamps_follow_start_date():
    r = run_scenario_dict(
        scenario_dict(
            plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 1500}}],
            profiles=[hourly()],
            fleet=[{"name": "g", "count": 3, "rate_plan": "p", "traffic": "hourly"}],
            days=2,
        )
    )
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for df, col in ((r.changes, "time_s"), (r.sessions, "start_time_s")):
        ts_col = "time" if col == "time_s" else "start_time"
        expected = start + pd.to_timedelta((df[col] * 1e6).round().astype("int64"), unit="us")
        assert (df[ts_col] == expected).all()
    assert [str(d) for d in sorted(set(r.usage.date))] == ["2024-01-01", "2024-01-02"]
