"""Registrations through the fleet engine (TS 24.301 §5.5.1.2): timer-exact traces of single
devices against the reference ``attach_trace``, congestion with T3346, roaming rejects and
switches, outages and their restoration, detach, network blocking, and fleet invariants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellfleet.scenarios.loader import parse_scenario
from cellfleet.sim.attach import Answer, attach_trace
from cellfleet.sim.engine import FleetEngine
from cellfleet.sim.records import MemorySink
from cellfleet.sim.registration import R_ATTEMPTING, R_REGISTERED


def scenario_text(network: str, fleet_network: str = "power_on: {process: storm}", count: int = 1, days: int = 1,
                  traffic: str = "none", actions: str = "", profiles: str = "") -> str:  # fmt: skip
    return f"""
name: reg-test
start_date: 2026-01-01
duration_days: {days}
seed: 7
rate_plans: [{{name: p}}]
{profiles}
fleet:
  - name: g
    count: {count}
    rate_plan: p
    initial_state: active_billed
    traffic: {traffic}
    network: {{{fleet_network}}}
network:
{network}
{actions}
"""


def run(text: str):
    sink = MemorySink()
    engine = FleetEngine(parse_scenario(text), sink)
    counts = engine.run()
    return engine, counts, sink


def events(sink, device: int = 0, tau: bool = False):
    """The device's registration records (periodic TAUs only with ``tau``)."""
    t = sink.table("registrations").to_pandas()
    return t[(t.device == device) & (tau | (t.event != "tau"))]


def times(df, event: str) -> list[float]:
    return [round(x, 6) for x in df[df.event == event].time_s]


def test_persistent_network_failure_is_the_reference_trace():
    """#17 from a core answering after 0.5 s: the engine's attempts are attach_trace's, to the
    microsecond: bursts of 5 attempts T3411 apart, then T3402 (720 s), counter reset."""
    net = """  operators: [{plmn: "001-01", reject_probability: 1.0, reject_cause: 17, core: mme}]
  cores: [{name: mme, dialogs: 1, service_time_s: 0.5}]"""
    _, counts, sink = run(scenario_text(net))
    got = events(sink)
    ref = attach_trace(0.0, [Answer("reject", 0.5, cause=17)], until_s=86400.0)
    assert times(got, "attempt") == [round(h.time_s, 6) for h in ref if h.what == "attempt"]
    assert times(got, "attempt")[:7] == [0.0, 10.5, 21.0, 31.5, 42.0, 762.5, 773.0]
    assert list(got[got.event == "reject"].attempt_counter[:6]) == [1, 2, 3, 4, 5, 1]
    timers = got[got.event == "timer_start"]
    assert list(timers.timer[:5]) == ["T3411"] * 4 + ["T3402"]
    assert counts.network["rejects_by_cause"] == {"17": len(times(got, "attempt"))}


def test_core_down_gives_t3410_expiries_then_accept_when_it_returns():
    """A core outage for the first 900 s: every attempt times out (T3410 15 s) and is retried
    T3411 (10 s) later, 5 in a burst, then T3402 (720 s): the reference trace. The request sent
    at 885 s finds the core still down and expires at 900 s; the retry at 910 s is answered
    after the 0.2 s dialog."""
    net = """  operators: [{plmn: "001-01", core: mme}]
  cores: [{name: mme, dialogs: 10, service_time_s: 0.2}]
  outages: [{at_day: 0, duration_s: 900, cores: [mme]}]"""
    _, counts, sink = run(scenario_text(net))
    got = events(sink)
    ref = attach_trace(0.0, [Answer("no_answer")], until_s=900.0)
    expected = [round(h.time_s, 6) for h in ref if h.what == "attempt"]
    assert expected == [0.0, 25.0, 50.0, 75.0, 100.0, 835.0, 860.0, 885.0]
    assert times(got, "attempt") == expected + [910.0]
    assert times(got, "t3410_expiry") == [t + 15.0 for t in expected]
    assert times(got, "accept") == [910.2]
    assert counts.network["t3410_expiries"] == 8


def test_congestion_rejects_with_the_networks_t3346_and_queue_order():
    """One dialog of 1 s, no queue: device 0 is admitted at 0 s; devices 1 and 2 are refused at
    the door with #22 and T3346 = 600 s; at 600 s device 1 gets the dialog and device 2 is
    refused again (the dialog is busy until 601 s); it is accepted at 1201 s."""
    net = """  operators: [{plmn: "001-01", core: mme, t3346_s: 600}]
  cores: [{name: mme, dialogs: 1, service_time_s: 1.0, queue_limit: 0}]"""
    _, counts, sink = run(scenario_text(net, count=3))
    assert times(events(sink, 0), "accept") == [1.0]
    assert times(events(sink, 1), "attempt") == [0.0, 600.0]
    assert times(events(sink, 1), "accept") == [601.0]
    assert times(events(sink, 2), "attempt") == [0.0, 600.0, 1200.0]
    assert times(events(sink, 2), "accept") == [1201.0]
    t3346 = events(sink, 2)
    t3346 = t3346[t3346.timer == "T3346"]
    assert list(t3346.timer_s) == [600.0, 600.0] and list(t3346.attempt_counter) == [0, 0]
    assert counts.network["rejects_by_cause"] == {"22": 3}


def test_queue_admits_up_to_its_limit_and_a_long_wait_times_out():
    """Two dialogs of 10 s and a queue of 2: of 6 simultaneous requests 2 start at once, 2 wait
    10 s (answered at 20 s, beyond T3410 = 15 s: they time out at 15 s and retry at 25 s),
    2 are refused with #22 (T3346 drawn from 15-30 min: not integrity protected)."""
    net = """  operators: [{plmn: "001-01", core: mme}]
  cores: [{name: mme, dialogs: 2, service_time_s: 10.0, queue_limit: 2}]"""
    _, counts, sink = run(scenario_text(net, count=6))
    assert [times(events(sink, d), "accept")[:1] for d in range(2)] == [[10.0], [10.0]]
    for d in (2, 3):
        assert times(events(sink, d), "t3410_expiry")[0] == 15.0
        assert times(events(sink, d), "attempt")[:2] == [0.0, 25.0]
        assert times(events(sink, d), "accept") == [35.0]  # dialogs free at 20 s: served at once
    for d in (4, 5):
        e = events(sink, d)
        wait = float(e[e.timer == "T3346"].timer_s.iloc[0])
        assert 900.0 <= wait <= 1800.0
        assert times(e, "attempt")[1] == pytest.approx(wait)
    assert counts.network["final_registration"]["registered"] == 6


def test_roaming_reject_forbids_the_network_and_the_device_switches():
    """The first network has no roaming agreement with the SIM's home: #11, the PLMN goes on the
    forbidden list (counter reset) and the device selects the next one at once."""
    net = """  operators:
    - {plmn: "262-01", roaming_partners: ["262-02"], zone: z1}
    - {plmn: "262-02", zone: z2}"""
    _, counts, sink = run(scenario_text(net, fleet_network='home_plmn: "901-43", power_on: {process: storm}'))
    got = events(sink)
    assert list(got.event) == ["attempt", "reject", "network_switch", "attempt", "accept"]
    switch = got[got.event == "network_switch"].iloc[0]
    assert (switch.from_plmn, switch.plmn, switch.reason) == ("26201", "26202", "reject")
    assert got[got.event == "reject"].cause.iloc[0] == 11
    assert got[got.event == "accept"].zone.iloc[0] == "z2"
    assert counts.network["final_registration"]["registered"] == 1
    # no traffic: a periodic TAU every T3412 (54 min) after the accept at 0 s, on the new network
    taus = events(sink, tau=True)
    taus = taus[taus.event == "tau"]
    assert list(taus.time_s) == [3240.0 * k for k in range(1, 27)]
    assert set(taus.plmn) == {"26202"} and set(taus.timer) == {"T3412"}
    assert counts.network["periodic_taus"] == 26


def test_usim_invalid_stops_all_attempts():
    net = """  operators: [{plmn: "001-01", reject_probability: 1.0, reject_cause: 3}]"""
    _, counts, sink = run(scenario_text(net))
    assert list(events(sink).event) == ["attempt", "reject", "usim_invalid"]
    assert counts.network["final_registration"]["stopped"] == 1


def test_area_outage_deregisters_and_restores_with_reattach_times():
    """An area outage from 0.5 d for 1 h: every device loses service; when the cells return
    they find them within reselect_s and attach (no core limit: at once)."""
    net = """  operators: [{plmn: "001-01", areas: [north]}]
  outages: [{name: cut, at_day: 0.5, duration_s: 3600, areas: [north], reselect_s: 10}]"""
    _, counts, sink = run(scenario_text(net, fleet_network="area: north, power_on: {process: storm}", count=50))
    reg = sink.table("registrations").to_pandas()
    dereg = reg[reg.event == "deregistered"]
    assert len(dereg) == 50 and (dereg.time_s == 43200.0).all() and (dereg.reason == "outage").all()
    assert (reg[reg.event == "no_service"].time_s == 43200.0).sum() == 50
    back = reg[(reg.event == "accept") & (reg.time_s > 43200)]
    assert len(back) == 50 and back.time_s.between(46800.0, 46810.0).all()
    outage = counts.network["outages"][0]
    assert outage["devices_lost"] == 50 and outage["reattached"] == 50
    waits = sorted(back.time_s - 46800.0)
    assert outage["time_to_reattach_50_s"] == round(waits[24], 3)  # the 25th of 50 devices
    assert outage["time_to_reattach_95_s"] == round(waits[47], 3)  # the 48th (ceil(47.5))
    assert outage["time_to_reattach_100_s"] == round(waits[49], 3)
    ts = sink.table("fleet_timeseries").to_pandas()
    assert ts.registered.iloc[719] == 50 and ts.registered.iloc[720] == 0 and ts.registered.iloc[-1] == 50
    assert ts.attach_accepts.sum() == 100


def test_move_switches_network_and_records_carry_serving_network():
    """Moving to an area the serving network does not cover: deregistered (moved), switch to the
    other country's network; sessions afterwards are rated in its zone."""
    net = """  operators:
    - {plmn: "262-01", areas: [de], zone: zone-1}
    - {plmn: "232-01", areas: [at], zone: zone-2}"""
    profiles = """traffic_profiles:
  - {name: tick, schedule: periodic, sessions_per_day: 24, session_bytes: {distribution: fixed, bytes: 100}}"""
    actions = "actions: [{at_day: 0.5, action: move, area: at}]"
    _, _, sink = run(scenario_text(net, "area: de, power_on: {process: storm}", traffic="tick", profiles=profiles,
                                   actions=actions))  # fmt: skip
    got = events(sink)
    switch = got[got.event == "network_switch"].iloc[0]
    assert (switch.from_plmn, switch.plmn, switch.reason, switch.time_s) == ("26201", "23201", "moved", 43200.0)
    s = sink.table("sessions").to_pandas()
    assert set(s[s.start_time_s < 43200].serving_plmn) == {"26201"}
    assert set(s[s.start_time_s >= 43200].serving_plmn) == {"23201"}
    assert set(s[s.start_time_s >= 43200].rating_zone) == {"zone-2"}


def test_block_network_detaches_and_cancel_detaches():
    net = """  operators: [{plmn: "262-01"}, {plmn: "262-02"}]"""
    actions = """actions:
  - {at_day: 0.25, action: block_network, plmn: "262-01"}
  - {at_day: 0.5, action: cancel}"""
    _, counts, sink = run(scenario_text(net, actions=actions))
    got = events(sink)
    assert list(got.event) == ["attempt", "accept", "detach", "attempt", "reject", "network_switch", "attempt",
                               "accept", "detach"]  # fmt: skip
    assert list(got[got.event == "detach"].reason) == ["blocked", "cancelled"]
    assert got[got.event == "reject"].cause.iloc[0] == 11
    assert counts.network["final_registration"]["stopped"] == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 60),
    dialogs=st.integers(1, 4),
    service_s=st.floats(0.05, 3.0),
    queue=st.integers(0, 5),
    outage_day=st.floats(0.05, 0.6),
    outage_s=st.floats(60.0, 7200.0),
    reject_p=st.floats(0.0, 0.3),
)
def test_storm_conservation(count, dialogs, service_s, queue, outage_day, outage_s, reject_p):
    """Every device ends registered or in a state its records explain; the time series and the
    records agree: attempts = attempt records, accepts - losses = registered devices."""
    net = f"""  operators: [{{plmn: "001-01", core: mme, reject_probability: {reject_p:.9f}, reject_cause: 17, areas: [x]}}]
  cores: [{{name: mme, dialogs: {dialogs}, service_time_s: {service_s:.9f}, queue_limit: {queue}}}]
  outages: [{{at_day: {outage_day:.9f}, duration_s: {outage_s:.9f}, areas: [x], reselect_s: 5}}]"""
    engine, counts, sink = run(scenario_text(net, "area: x, power_on: {process: beta, window_s: 30}", count=count))
    reg = sink.table("registrations").to_pandas()
    ts = sink.table("fleet_timeseries").to_pandas()
    n = counts.network
    assert ts.attach_requests.sum() == (reg.event == "attempt").sum() == n["attach_requests"]
    assert ts.attach_accepts.sum() == (reg.event == "accept").sum()
    lost = (reg.event == "deregistered").sum()
    assert (reg.event == "accept").sum() - lost == n["final_registration"]["registered"] == ts.registered.iloc[-1]
    assert sum(n["final_registration"].values()) == count
    # the cells are back before the end: a device is registered (its last record an accept) or
    # waits on a back-off timer that expires after the end (its last record that timer's start)
    last = reg[reg.event != "tau"].groupby("device").event.last()
    reg_cols = engine.net.reg
    assert len(last) == count
    for device, event in last.items():
        if reg_cols.reg_state[device] == R_REGISTERED:
            assert event == "accept"
        else:
            assert reg_cols.reg_state[device] == R_ATTEMPTING and reg_cols.next_reg_s[device] >= 86400.0
            assert event == "timer_start"


def test_same_seed_same_registrations():
    net = """  operators: [{plmn: "001-01", core: mme}]
  cores: [{name: mme, dialogs: 2, service_time_s: 1.0, queue_limit: 3}]"""
    text = scenario_text(net, "power_on: {process: poisson, rate_per_s: 5}", count=40)
    a = run(text)[2].table("registrations")
    b = run(text)[2].table("registrations")
    assert a.equals(b) and a.num_rows > 80


def test_outage_storm_through_the_cli(tmp_path):
    """The built-in outage storm, shrunk to 3,000 devices and 2 days: the northern devices (60 %)
    lose service at 36 h, queue their hourly readings, and are all registered again after the
    restoration storm; the summary, the per-minute series and the records agree."""
    import json
    import subprocess
    import sys

    import pyarrow.parquet as pq

    out = tmp_path / "storm"
    done = subprocess.run([sys.executable, "-m", "cellfleet.cli", "run", "outage-storm", "--devices", "3000", "--days",
                           "2", "-o", str(out)], check=True, timeout=300, capture_output=True, text=True)  # fmt: skip
    s = json.loads((out / "summary.json").read_text())
    net = s["counts"]["network"]
    printed = " ".join(done.stdout.split())
    assert f"attach requests / accepts │ {net['attach_requests']:,} / {net['attach_accepts']:,}" in printed
    assert "outage north-power-failure │ 1,800 devices lost" in printed
    outage = net["outages"][0]
    assert outage["devices_lost"] == 1800 and outage["reattached"] == 1800
    assert 0 < outage["time_to_reattach_50_s"] <= outage["time_to_reattach_95_s"] <= outage["time_to_reattach_100_s"]
    assert net["final_registration"] == {"registered": 3000, "attempting": 0, "waiting_for_answer": 0,
                                         "no_service": 0, "powered_off": 0, "stopped": 0}  # fmt: skip
    ts = pq.read_table(out / "fleet_timeseries.parquet").to_pandas()
    assert len(ts) == 2 * 1440
    assert ts.registered.iloc[36 * 60 - 1] == 3000 and ts.registered.iloc[36 * 60] == 1200
    assert ts.attach_accepts.sum() == 3000 + 1800 == net["attach_accepts"]
    assert ts.periodic_taus.sum() == net["periodic_taus"] > 0
    per_net = pq.read_table(out / "network_timeseries.parquet").to_pandas()
    assert per_net.groupby("minute").registered.sum().iloc[-1] == 3000
    usage = pq.read_table(out / "usage_daily.parquet").to_pandas()
    assert usage.periodic_taus.sum() == net["periodic_taus"]
    assert usage.reports_dropped.sum() == 0  # 2 h of hourly readings fit the queue of 48


def test_psm_granted_entries_and_exits_follow_the_episodes():
    """PSM requested (T3324 = 60 s, T3412 extended = 12 h) and granted: the accept carries the
    extended T3412, and the device is in PSM from 60 s after each episode (the accept, then each
    10-s session) to the next one; still in PSM at the end (entry only). A network that refuses
    PSM grants its own T3412 and there is no PSM."""
    profiles = """traffic_profiles:
  - {name: rare, schedule: periodic, sessions_per_day: 4, session_duration_s: 10,
     session_bytes: {distribution: fixed, bytes: 100}}"""
    psm = "power_on: {process: storm}, psm: {t3324_s: 60, t3412_ext_s: 43200}"
    net = """  operators: [{plmn: "001-01"}]"""
    _, counts, sink = run(scenario_text(net, psm, traffic="rare", profiles=profiles))
    got = events(sink)
    accept = got[got.event == "accept"].iloc[0]
    assert (accept.timer, accept.timer_s) == ("T3412", 43200.0)
    granted = got[got.event == "psm_granted"].iloc[0]
    assert (granted.timer, granted.timer_s, granted.time_s) == ("T3324", 60.0, 0.0)
    starts = sorted(sink.table("sessions").to_pandas().start_time_s)
    assert len(starts) == 4 and starts[0] > 60.0
    ends = [0.0] + [t + 10.0 for t in starts]
    assert times(got, "psm_entry") == [round(e + 60.0, 6) for e in ends]
    assert times(got, "psm_exit") == [round(t, 6) for t in starts]
    assert counts.network["periodic_taus"] == 0  # every gap is shorter than the 12-h T3412

    refused = net.replace('"001-01"}', '"001-01", psm: false}')
    _, counts, sink = run(scenario_text(refused, psm, traffic="rare", profiles=profiles))
    got = events(sink, tau=True)
    assert got[got.event == "accept"].timer_s.iloc[0] == 3240.0
    assert not got.event.isin(["psm_granted", "psm_entry", "psm_exit"]).any()
    assert counts.network["periodic_taus"] == (got.event == "tau").sum() > 0


def test_an_answer_still_in_flight_when_the_cell_goes_is_lost():
    """The core answers after 14 s; the cells go down 5 s after the request: the accept never
    arrives, the device finds no network at once, and nothing counts it as registered or lost."""
    net = """  operators: [{plmn: "001-01", core: mme, areas: [x]}]
  cores: [{name: mme, dialogs: 1, service_time_s: 14}]
  outages: [{name: cut, at_day: 0.5, duration_s: 600, areas: [x]}]"""
    _, counts, sink = run(scenario_text(net, "area: x, power_on: {process: storm, start_s: 43195}"))
    got = events(sink)
    assert list(got.event[:2]) == ["attempt", "no_service"] and list(got.time_s[:2]) == [43195.0, 43200.0]
    assert times(got, "accept") == [43800.0 + 14.0]  # back at the outage end (43800 s), a fresh dialog
    ts = sink.table("fleet_timeseries").to_pandas()
    assert ts.registered.min() == 0 and ts.registered.iloc[-1] == 1
    assert counts.network["outages"][0]["devices_lost"] == 0


def test_outages_neither_power_devices_on_early_nor_cut_back_off_timers():
    """Power-on times stand whatever happens elsewhere, and T3346 keeps running through an
    outage of its network: the congested device retries when T3346 expires (30000 s), while the
    registered one moves to the other network at once (21600 s)."""
    net = """  operators: [{plmn: "001-01", core: mme, t3346_s: 30000, areas: [x]}, {plmn: "001-02", areas: [x]}]
  cores: [{name: mme, dialogs: 1, service_time_s: 1.0, queue_limit: 0}]
  outages: [{at_day: 0.25, duration_s: 60, operators: ["001-01"], areas: [x]}]"""
    _, _, sink = run(scenario_text(net, "area: x, power_on: {process: storm}", count=2))
    assert times(events(sink, 0), "accept") == [1.0, 21600.0]
    assert times(events(sink, 1), "attempt") == [0.0, 30000.0]
    assert times(events(sink, 1), "accept") == [30001.0]
    late = scenario_text("""  operators: [{plmn: "001-01"}, {plmn: "001-02"}]
  outages: [{at_day: 0.0078125, duration_s: 60, operators: ["001-02"]}]""", "power_on: {process: storm, start_s: 1000}")
    assert times(events(run(late)[2]), "attempt") == [1000.0]


def test_forbidden_tracking_areas_are_forgotten_daily_and_12_stays_in_limited_service():
    """#15 forbids the network in the area: the device selects the other network at once; #12
    leaves it in limited service (no other PLMN). The lists are deleted at each day's end, when
    the device tries the first network again."""
    for cause, expected in ((15, ["attempt", "reject", "network_switch", "attempt", "accept"]),
                            (12, ["attempt", "reject", "no_service"])):  # fmt: skip
        net = f"""  operators: [{{plmn: "001-01", reject_probability: 1.0, reject_cause: {cause}}}, {{plmn: "001-02"}}]"""
        _, counts, sink = run(scenario_text(net, days=2))
        got = events(sink)
        assert list(got[got.time_s == 0.0].event) == expected
        if cause == 12:
            assert times(got, "attempt") == [0.0, 86400.0] and counts.network["final_registration"]["no_service"] == 1


def test_a_sim_leaving_cancelled_attaches_again():
    net = """  operators: [{plmn: "001-01"}]"""
    actions = """actions:
  - {at_day: 0.2, action: cancel}
  - {at_day: 0.4, action: reprovision}"""
    _, counts, sink = run(scenario_text(net, actions=actions))
    got = events(sink)
    assert list(got.event) == ["attempt", "accept", "detach", "attempt", "accept"]
    assert times(got, "accept") == [0.0, 34560.0]
    assert counts.network["final_registration"]["registered"] == 1


def test_reattach_time_is_kept_when_a_later_loss_comes():
    """Back at once when the outage ends (0 s); a power cycle hours later does not change it."""
    net = """  operators: [{plmn: "001-01", areas: [x]}]
  outages: [{name: cut, at_day: 0.1, duration_s: 600, areas: [x]}]"""
    actions = """actions:
  - {at_day: 0.5, action: power_off}
  - {at_day: 0.6, action: power_on}"""
    _, counts, _ = run(scenario_text(net, "area: x, power_on: {process: storm}", count=3, actions=actions))
    outage = counts.network["outages"][0]
    assert (outage["devices_lost"], outage["reattached"], outage["time_to_reattach_100_s"]) == (3, 3, 0.0)
