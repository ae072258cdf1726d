"""Invariants of the engine over random scenarios (hypothesis).

Every check replays the records against the rules, not against the engine's internals:
fleet counts, legal and chained lifecycle moves, the state timeline behind every session and
every daily row, allowance crossings (never exceeded by more than the crossing session), day
limits, bytes conservation and determinism.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from strategies import DAY, run_scenario_dict, scenarios
from test_lifecycle import EXPECTED

from cellfleet.emulator.session import session_for_profile

STATE_COLS = {"Initial": "initial", "Provisioned": "provisioned", "Active-Billed": "active_billed",
              "Suspended": "suspended", "Cancelled": "cancelled"}
TEST_STATES = {"Provisioned": "provisioned_allowance", "Suspended": "suspended_allowance"}
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _timelines(r):
    """Per device: (change times, states after k changes, change rows)."""
    if hasattr(r, "_timelines"):
        return r._timelines
    devices = r.table("devices")
    ch = r.changes
    out = {}
    grouped = {d: g for d, g in ch.groupby("device", sort=False)}
    for dev, initial in zip(devices.device, devices.initial_state):
        g = grouped.get(dev)
        if g is None:
            out[dev] = (np.empty(0), [initial], None)
        else:
            out[dev] = (g.time_s.to_numpy(), [initial, *g.to_state.tolist()], g.reset_index(drop=True))
    r._timelines = (devices, out)
    return devices, out


def check_fleet_daily(r, n, days):
    f = r.fleet
    assert f.day.tolist() == list(range(days))
    assert (f[list(STATE_COLS.values())].sum(axis=1) == n).all()
    devices = r.table("devices")
    last = f.iloc[-1]
    final = devices.final_state.value_counts().to_dict()
    for label, col in STATE_COLS.items():
        assert last[col] == final.get(label, 0)
    system = r.changes[r.changes.actor == "system"]
    assert f.defaulted.sum() == len(system) == r.counts.defaulted
    per_day = (system.time_s // DAY).astype(int).value_counts()
    for day, defaulted in zip(f.day, f.defaulted):
        assert defaulted == per_day.get(day, 0)


def check_transitions(r, scenario):
    ch = r.changes
    for row in ch.itertuples():
        exp = EXPECTED.get((row.from_state, row.action))
        assert exp is not None, f"illegal move recorded: {row}"
        assert row.to_state == exp[0]
        assert row.fee_event in (exp[1], exp[2])
        if row.actor == "system":
            assert row.to_state == "Active-Billed"
            assert row.from_state in TEST_STATES
            prefix = "provisioned" if row.from_state == "Provisioned" else "suspended"
            assert row.reason in {f"{prefix}_{k}_allowance_exceeded" for k in ("data", "sms", "days")}
        assert 0 <= row.time_s < scenario.duration_days * DAY
    rej = r.rejected
    for row in rej.itertuples():
        assert (row.state, row.action) not in EXPECTED
        assert row.error.startswith(f"action '{row.action}' is not allowed in state {row.state} ")
    devices, timelines = _timelines(r)
    for dev, final in zip(devices.device, devices.final_state):
        times, states, rows = timelines[dev]
        assert states[-1] == final
        if rows is None:
            continue
        assert (np.diff(times) >= 0).all(), "changes of a device out of time order"
        assert rows.from_state.tolist() == states[:-1], "changes do not chain"
        # fee: First Bill Activation only for a device never in Active-Billed before; a SIM that
        # starts Suspended or Cancelled has a billing history (cellfleet.sim.fleet)
        ever = states[0] in ("Active-Billed", "Suspended", "Cancelled")
        for row in rows.itertuples():
            if row.action == "activate" and row.from_state in ("Initial", "Provisioned"):
                assert row.fee_event == ("reactivation_fee" if ever else "first_bill_activation_fee")
            ever = ever or row.to_state == "Active-Billed"


def _limits(scenario, plan_name, state):
    plan = scenario.rate_plan(plan_name)
    a = getattr(plan, TEST_STATES[state])
    if a is None:
        return None, None, None
    return a.data_bytes, a.sms_count, a.days


def check_sessions_and_allowances(r, scenario):
    s = r.sessions
    assert (s.uplink_bytes + s.downlink_bytes == s.total_bytes).all()
    assert (s.total_bytes > 0).all() and (s.uplink_bytes >= 0).all() and (s.downlink_bytes >= 0).all()
    assert s.state_at_usage.isin(["Provisioned", "Active-Billed", "Suspended"]).all()
    assert ((s.start_time_s >= 0) & (s.start_time_s < scenario.duration_days * DAY)).all()
    devices, timelines = _timelines(r)
    end = scenario.duration_days * DAY
    sess_by_dev = {d: g.sort_values(["start_time_s", "record_id"]) for d, g in s.groupby("device", sort=False)}
    for dev, plan in zip(devices.device, devices.rate_plan):
        times, states, rows = timelines[dev]
        ds = sess_by_dev.get(dev)
        if ds is not None:
            t = ds.start_time_s.to_numpy()
            idx = np.searchsorted(times, t, side="right")
            expected = np.array(states, dtype=object)[idx]
            # the crossing session of a data default carries the test state it left
            if rows is not None:
                data_default = rows.reason.str.endswith("_data_allowance_exceeded").to_numpy()
                at_change = (idx > 0) & (times[np.maximum(idx - 1, 0)] == t) if len(times) else np.zeros(len(t), bool)
                crossing = at_change & data_default[np.maximum(idx - 1, 0)]
                before = np.array(states, dtype=object)[idx - 1]
                got = ds.state_at_usage.to_numpy()
                # sessions at the default's instant (several when a burst has no spacing): those
                # counted up to the crossing one carry the test state it left, the rest the new one
                for tc in np.unique(t[crossing]):
                    at = np.flatnonzero(t == tc)  # in record order (ds is sorted by time, record id)
                    old = int(np.sum(got[at] == before[at[0]]))
                    assert old >= 1 and (got[at[:old]] == before[at[0]]).all(), (dev, tc, got[at])
                    expected[at[:old]] = before[at[0]]
            assert (ds.state_at_usage.to_numpy() == expected).all(), (dev, ds, rows)
        # replay every test period of the device
        entry, state = 0.0, states[0]
        exits = [] if rows is None else list(rows.itertuples())
        for k in range(len(exits) + 1):
            if k < len(exits):
                ex = exits[k]
                exit_t, reason, actor = ex.time_s, ex.reason, ex.actor
            else:
                exit_t, reason, actor = end, None, None
            if state in TEST_STATES:
                data, _sms, ndays = _limits(scenario, plan, state)
                by_data = actor == "system" and reason.endswith("_data_allowance_exceeded")
                if ds is not None:
                    t = ds.start_time_s.to_numpy()
                    m = (t >= entry) & ((t <= exit_t) if by_data else (t < exit_t))
                    m &= ds.state_at_usage.to_numpy() == state
                    period = ds.total_bytes.to_numpy()[m]
                    pt = t[m]
                else:
                    period, pt = np.empty(0, np.int64), np.empty(0)
                if by_data:
                    assert data is not None
                    assert len(period) >= 1 and pt[-1] == exit_t, "no crossing session at the default time"
                    assert period[:-1].sum() <= data < period.sum(), (dev, entry, exit_t, period, data)
                elif data is not None:
                    assert period.sum() <= data, (dev, state, entry, exit_t, period.sum(), data)
                if actor == "system":
                    assert reason.startswith(state.lower())
                if actor == "system" and reason.endswith("_days_allowance_exceeded"):
                    assert ndays is not None and exit_t == entry + ndays * DAY
                elif ndays is not None:
                    # nobody stays in a test state past its day limit (within the run)
                    due = entry + ndays * DAY
                    assert exit_t <= due or due >= end, (dev, state, entry, exit_t, due)
            if k < len(exits):
                entry, state = exit_t, exits[k].to_state


def check_daily_usage(r, scenario):
    s, u = r.sessions, r.usage
    assert (u.sessions > 0).sum() + ((u.sessions == 0) & (u.bytes == 0) & (u.sms_mo + u.sms_mt > 0)).sum() == len(u)
    assert not u.duplicated(["device", "day"]).any()
    # bytes and session conservation per device and per day
    s_day = s.assign(day=(s.start_time_s // DAY).astype(int))
    by_dev_day = s_day.groupby(["device", "day"]).total_bytes.agg(["sum", "size"])
    from_sessions = {k: (int(v["sum"]), int(v["size"])) for k, v in by_dev_day.iterrows()}
    with_sessions = u[u.sessions > 0]
    from_usage = {(int(d), int(day)): (int(b), int(n))
                  for d, day, b, n in zip(with_sessions.device, with_sessions.day, with_sessions.bytes,
                                          with_sessions.sessions)}
    assert from_sessions == from_usage
    assert r.counts.total_bytes == s.total_bytes.sum() == u.bytes.sum()
    assert r.counts.sessions == len(s) == u.sessions.sum() == r.counts.recorded_sessions
    assert r.counts.sms_mo == u.sms_mo.sum() and r.counts.sms_mt == u.sms_mt.sum()
    # the state of a daily row is the state at the end of that day (before midnight actions)
    devices, timelines = _timelines(r)
    days = scenario.duration_days
    day_ends = (np.arange(days) + 1) * DAY
    end_state = np.empty((len(devices), days), dtype=object)
    for dev in devices.device:
        times, states, _ = timelines[dev]
        end_state[dev] = np.array(states, dtype=object)[np.searchsorted(times, day_ends, side="left")]
    assert (u.state.to_numpy() == end_state[u.device.to_numpy(), u.day.to_numpy()]).all()
    # fleet_daily agrees with the timelines
    f = r.fleet
    for label, col in STATE_COLS.items():
        assert f[col].tolist() == (end_state == label).sum(axis=0).tolist(), label


@PROPS
@given(scenarios())
def test_invariants(data):
    r = run_scenario_dict(data)
    n = r.scenario.total_devices
    assert r.counts.devices == n and len(r.table("devices")) == n
    check_fleet_daily(r, n, r.scenario.duration_days)
    check_transitions(r, r.scenario)
    check_sessions_and_allowances(r, r.scenario)
    check_daily_usage(r, r.scenario)


@settings(max_examples=12, deadline=None)
@given(scenarios(max_devices=120, max_days=8))
def test_determinism(data):
    a, b = run_scenario_dict(data), run_scenario_dict(data)
    for name in a.sink.batches:
        assert a.sink.table(name).equals(b.sink.table(name)), name
    assert a.counts == b.counts


@settings(max_examples=20, deadline=None)
@given(scenarios(max_devices=150, max_days=10))
def test_periodic_gaps_and_session_sizes(data):
    """Without state or traffic changes, periodic gaps stay within period +- 2 * jitter (true both
    for jittered gaps and for sessions shifted off a grid) and session sizes are in range."""
    data = {**data, "actions": []}
    for g in data["fleet"]:
        g["initial_state"] = "active_billed"
    r = run_scenario_dict(data)
    sc = r.scenario
    s = r.sessions
    for g_index, group in enumerate(sc.fleet):
        name = group.traffic_by_state()["active_billed"]
        prof = sc.traffic_profile(name)
        lo = sum(x.count for x in sc.fleet[:g_index])
        gs = s[(s.device >= lo) & (s.device < lo + group.count)]
        if prof is None:
            assert len(gs) == 0
            continue
        lo_b, hi_b = prof.session_bytes.range_bytes
        delivered = gs[gs.cause_for_record_closing == "normal_release"]
        # the drawn size is the billed volume of a raw profile, the payload of a protocol one
        drawn = delivered.total_bytes if prof.protocol == "raw" else delivered.payload_bytes
        assert ((drawn >= lo_b) & (drawn <= hi_b)).all()
        if prof.session_bytes.distribution == "empirical":
            assert drawn.isin(prof.session_bytes.values).all()
        if prof.protocol != "raw" and len(delivered):
            up, down = session_for_profile(prof).totals(delivered.payload_bytes.to_numpy())
            extra = (delivered.retransmitted_bytes + delivered.failed_attempt_bytes).to_numpy()
            assert np.array_equal(delivered.total_bytes.to_numpy() - extra, up + down)
            if not prof.loss_probability and not prof.establishment_failure_probability:
                assert np.array_equal(delivered.uplink_bytes.to_numpy(), up)
                assert np.array_equal(delivered.downlink_bytes.to_numpy(), down)
        failed = gs[gs.cause_for_record_closing == "abnormal_release"]
        assert (failed.payload_bytes == 0).all() and (failed.failed_attempts == prof.max_attempts).all()
        if prof.schedule != "periodic" or prof.burst_size > 1 or prof.burst_period_s is None:
            continue
        for _, ds in gs.groupby("device"):
            t = np.sort(ds.start_time_s.to_numpy())
            assert 0 < t[0] < prof.burst_period_s
            gaps = np.diff(t)
            assert (gaps >= prof.burst_period_s - 2 * prof.jitter_s - 1e-6).all()
            assert (gaps <= prof.burst_period_s + 2 * prof.jitter_s + 1e-6).all()
            expected = math.floor((sc.duration_days * DAY - t[0]) / prof.burst_period_s) + 1
            if prof.jitter_s == 0:
                assert abs(len(t) - expected) <= 1


@settings(max_examples=10, deadline=None)
@given(scenarios(max_devices=150, max_days=8), scenarios(max_devices=100, max_days=1))
def test_adding_a_group_keeps_other_groups_usage(data, extra):
    """Without operator actions (whose draws depend on the matches), a group's per-device
    sessions and daily usage do not change when another group is appended to the fleet."""
    base = {**data, "actions": []}
    other = dict(extra["fleet"][0], name="zz-extra", rate_plan=base["rate_plans"][0]["name"],
                 traffic=base["fleet"][0]["traffic"])
    grown = {**base, "fleet": [*base["fleet"], other]}
    a, b = run_scenario_dict(base), run_scenario_dict(grown)
    n = a.scenario.total_devices
    for name, cols in (("usage_daily", ["device", "day"]), ("sessions", ["device", "start_time_s"]),
                       ("state_changes", ["device", "time_s"])):
        ta = a.table(name).sort_values(cols).reset_index(drop=True)
        tb = b.table(name)
        tb = tb[tb.device < n].sort_values(cols).reset_index(drop=True)
        if name == "sessions":
            ta, tb = ta.drop(columns="record_id"), tb.drop(columns="record_id")
        assert ta.equals(tb), name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_devices=100, max_days=6, persistent=True))
@example(
    data={'name': 'test',
     'start_date': '2024-01-01',
     'duration_days': 1,
     'seed': 0,
     'rate_plans': [{'name': 'plan0',
       'provisioned_allowance': {},
       'suspended_allowance': {}}],
     'traffic_profiles': [{'name': 'prof0',
       'schedule': 'diurnal',
       'sessions_per_day': 0.0,
       'hourly_weights': [1.0] + [0.0] * 23,
       'session_bytes': {'distribution': 'fixed', 'bytes': 1},
       'protocol': 'mqtt',
       'connection': 'persistent',
       'keepalive_s': 60,
       'sms_mo_per_day': 0.0,
       'sms_mt_per_day': 0.0}],
     'fleet': [{'name': 'g0',
       'count': 1,
       'rate_plan': 'plan0',
       'account': 'acc0',
       'report_group': 'rg0',
       'initial_state': 'provisioned',
       'traffic': 'prof0'}],
     'actions': [{'at_day': 0.0,
       'action': 'provision',
       'select': {'account': 'acc0', 'report_group': 'rg0'}}],
     'outputs': {'sessions': {'mode': 'all', 'interim_time_s': 900.0}}},
)  # a connection opened in a window with no other events: its 96 interim cuts overflowed the buffer
def test_session_records_conserve_bytes_with_long_lived_connections(data):
    """Records of per-report sessions, persistent connections (cut by interim limits and state
    changes) and SMS add up to the daily usage and the run's totals, device by device; every
    session's records are numbered 0, 1, ... and follow each other without gaps; limits hold."""
    r = run_scenario_dict(data)
    s, u, sms = r.sessions, r.usage, r.table("sms")
    assert r.counts.total_bytes == s.total_bytes.sum() == u.bytes.sum()
    by_dev = s.groupby("device").total_bytes.sum()
    usage_by_dev = u.groupby("device").bytes.sum()
    assert by_dev[by_dev > 0].to_dict() == usage_by_dev[usage_by_dev > 0].to_dict()
    assert s.session_id.nunique() == u.sessions.sum() == r.counts.sessions
    assert (s.session_id // 2**32 == s.device).all()
    assert (s.uplink_bytes + s.downlink_bytes == s.total_bytes).all()
    assert (s.retransmitted_bytes + s.failed_attempt_bytes <= s.total_bytes).all()
    assert (s.end_time >= s.start_time).all()
    for _, records in s.sort_values(["session_id", "record_sequence_number"]).groupby("session_id"):
        assert records.record_sequence_number.tolist() == list(range(len(records)))
        assert records.end_time.iloc[:-1].tolist() == records.start_time.iloc[1:].tolist()
        assert (records.cause_for_record_closing.iloc[:-1].isin(
            ["time_limit", "volume_limit", "management_intervention"])).all()
    cfg = r.scenario.outputs.sessions
    closed_by = s.cause_for_record_closing
    if cfg.interim_time_s is not None:
        persistent = {p.name for p in r.scenario.traffic_profiles if p.connection == "persistent"}
        connection_records = s.profile.isin(persistent) & (closed_by != "abnormal_release")
        assert (s.duration_s[connection_records] <= cfg.interim_time_s + 1e-6).all()
        assert np.allclose(s.duration_s[closed_by == "time_limit"], cfg.interim_time_s)
    else:
        assert not (closed_by == "time_limit").any()
    if cfg.interim_volume_bytes is not None:
        assert (s.total_bytes[closed_by == "volume_limit"] >= cfg.interim_volume_bytes).all()
    else:
        assert not (closed_by == "volume_limit").any()
    # SMS: one record per message, both directions counted apart
    assert (sms.direction == "MO").sum() == r.counts.sms_mo == u.sms_mo.sum()
    assert (sms.direction == "MT").sum() == r.counts.sms_mt == u.sms_mt.sum()
