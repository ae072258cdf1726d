"""eDRX paging and MT SMS delivery (``cellfleet.sim.mt_delivery``): paging occasions worked out
by hand from TS 36.304 §7.1/§7.3, deliveries to connected, idle, PSM and eDRX devices, SMS held
across windows and released by an episode or a registration, and the engine's records."""

from __future__ import annotations

import numpy as np
import pytest
from test_registration import run, scenario_text

from cellfleet.scenarios.errors import ScenarioError
from cellfleet.scenarios.loader import parse_scenario
from cellfleet.sim.mt_delivery import MtDelivery, next_paging_s
from cellfleet.sim.traffic import (
    EV_COLUMNS,
    EV_COUNT,
    EV_DEVICE,
    EV_KIND,
    EV_SPAN_S,
    EV_TIME_S,
    KIND_SESSION,
    KIND_SMS_MO,
    KIND_SMS_MT,
)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        # 81.92 s = 8 hyperframes; UE_ID_H 13: PH at H-SFN = 5 (mod 8), i_eDRX = floor(13/8) mod 4 = 1,
        # so the PTW starts 2.56 s into hyperframe 5 (53.76 s) and lasts 5.12 s: occasions
        # 53.76, 55.04, 56.32, 57.60; the next PTW starts at hyperframe 13 (133.12 + 2.56 s).
        (0.0, 53.76),
        (53.76, 53.76),
        (54.0, 55.04),
        (57.6, 57.6),
        (57.7, 135.68),
        (60.0, 135.68),
    ],
)
def test_paging_occasions_of_an_81_92_s_cycle(t, expected):
    assert next_paging_s(t, 81.92, 5.12, 1.28, 13) == pytest.approx(expected, abs=1e-9)


def test_paging_hyperframes_follow_the_h_sfn_wrap():
    """61.44 s = 6 hyperframes, UE_ID_H 1000: PH where H-SFN mod 6 = 4, i_eDRX = 166 mod 4 = 2
    (PTW 5.12 s in). H-SFN counts 0..1023: hyperframe 1018 is a PH, then 1024 (H-SFN 0), 1026
    (H-SFN 2) are not; the next is 1028 (H-SFN 4), 10 hyperframes on rather than 6."""
    ptw_s = 2.56
    after_1018 = 1018 * 10.24 + 5.12 + ptw_s + 1.0
    assert next_paging_s(after_1018, 61.44, ptw_s, 1.28, 1000) == pytest.approx(1028 * 10.24 + 5.12, abs=1e-9)
    assert next_paging_s(1012 * 10.24, 61.44, ptw_s, 1.28, 1000) == pytest.approx(1012 * 10.24 + 5.12, abs=1e-9)


def test_the_5_12_s_cycle_pages_once_per_512_frames():
    """5.12 s: the paging frame is SFN mod 512 = UE_ID mod 512 (TS 36.304 §7.1): UE_ID 700 ->
    frame 188, 1.88 s into every 5.12 s."""
    assert next_paging_s(0.0, 5.12, 1.28, 1.28, 700) == pytest.approx(1.88)
    assert next_paging_s(2.0, 5.12, 1.28, 1.28, 700) == pytest.approx(7.0)


def _event(device: int, t: float, kind: int, span: float = 0.0) -> np.ndarray:
    row = np.zeros(EV_COLUMNS)
    row[[EV_DEVICE, EV_TIME_S, EV_KIND, EV_SPAN_S, EV_COUNT]] = device, t, kind, span, 1
    return row


def _edrx(cycle: dict[int, float]):
    def of(devices: np.ndarray):
        c = np.array([cycle.get(int(d), np.nan) for d in devices])
        return c, np.full(devices.size, 5.12), np.full(devices.size, 1.28), np.full(devices.size, 13, np.int64)

    return of


def test_deliveries_to_connected_idle_psm_and_edrx_devices_and_held_ones_later():
    """Device 0 (PSM, T3324 = 60 s, no eDRX): sessions at 100 s (10 s long) and 300 s.
    MT at 105 s: connected -> 105. At 150 s: 40 s after the episode, inside T3324 -> 150.
    At 200 s: 90 s after -> in PSM, held until the session at 300 s. At 400 s: in PSM with no
    later episode in the window -> held; the next window's session at 1000 s delivers it.
    Device 1 (eDRX 81.92 s, UE_ID_H 13, no PSM): MT at 54 s -> the paging occasion at 55.04 s;
    MT at 0.5 s -> its own session at 20 s comes before the first PTW (53.76 s).
    An MO SMS is delivered at its time."""
    mt = MtDelivery()
    last_end = np.array([0.0, np.nan])
    t3324 = np.array([60.0, np.nan])
    edrx = _edrx({1: 81.92})
    events = np.array([
        _event(0, 100.0, KIND_SESSION, 10.0), _event(0, 105.0, KIND_SMS_MT), _event(0, 150.0, KIND_SMS_MT),
        _event(0, 200.0, KIND_SMS_MT), _event(0, 300.0, KIND_SESSION, 10.0), _event(0, 400.0, KIND_SMS_MT),
        _event(1, 0.5, KIND_SMS_MT), _event(1, 20.0, KIND_SESSION, 5.0), _event(1, 54.0, KIND_SMS_MT),
        _event(1, 30.0, KIND_SMS_MO),
    ])  # fmt: skip
    sms, delivered = mt.window(events, last_end, t3324, edrx)
    got = sorted(zip(sms[:, EV_DEVICE], sms[:, EV_TIME_S], delivered))
    assert got == [(0, 105.0, 105.0), (0, 150.0, 150.0), (0, 200.0, 300.0), (1, 0.5, 20.0), (1, 30.0, 30.0),
                   (1, 54.0, pytest.approx(55.04))]  # fmt: skip
    later = np.array([_event(0, 1000.0, KIND_SESSION, 10.0)])
    sms, delivered = mt.window(later, np.array([310.0, 25.0]), t3324, edrx)
    assert (sms[:, EV_TIME_S].tolist(), delivered.tolist()) == ([400.0], [1000.0])
    assert mt.still_held().shape[0] == 0


def test_a_registration_releases_held_sms_unless_an_episode_came_first():
    """Two SMS held for device 0 and one for device 1 (all in PSM). Device 0 registers again at
    700 s and device 1 at 900 s; in the next window device 1 also has a session at 800 s, which
    comes first. Device 2's SMS stays held to the end."""
    mt = MtDelivery()
    t3324 = np.array([10.0, 10.0, 10.0])
    first = np.array([_event(0, 100.0, KIND_SMS_MT), _event(0, 200.0, KIND_SMS_MT), _event(1, 300.0, KIND_SMS_MT),
                      _event(2, 350.0, KIND_SMS_MT)])  # fmt: skip
    sms, _ = mt.window(first, np.array([0.0, 0.0, 0.0]), t3324, _edrx({}))
    assert sms.shape[0] == 0
    mt.registered(np.array([0, 1]), np.array([700.0, 900.0]))
    sms, delivered = mt.window(np.array([_event(1, 800.0, KIND_SESSION, 1.0)]), np.array([700.0, 900.0, 0.0]), t3324,
                               _edrx({}))  # fmt: skip
    assert sorted(zip(sms[:, EV_TIME_S], delivered)) == [(100.0, 700.0), (200.0, 700.0), (300.0, 800.0)]
    assert mt.still_held()[:, EV_TIME_S].tolist() == [350.0]


PROFILES = """traffic_profiles:
  - {name: rare, schedule: periodic, sessions_per_day: 4, session_duration_s: 10, sms_mt_per_day: 12,
     session_bytes: {distribution: fixed, bytes: 100}}"""


def test_engine_grants_edrx_and_delivers_mt_sms_at_paging_occasions():
    """eDRX 81.92 s / PTW 5.12 s requested and granted: the accept is followed by an
    ``edrx_granted`` record; with no PSM every MT SMS is delivered at its arrival while connected,
    else at the first paging occasion (or the device's own next session if earlier)."""
    group = "power_on: {process: storm}, edrx: {cycle_s: 81.92, ptw_s: 5.12}"
    net = """  operators: [{plmn: "001-01"}]"""
    engine, counts, sink = run(scenario_text(net, group, traffic="rare", profiles=PROFILES, days=2))
    reg = sink.table("registrations").to_pandas()
    granted = reg[reg.event == "edrx_granted"]
    assert granted[["time_s", "timer", "timer_s", "ptw_s"]].values.tolist() == [[0.0, "eDRX", 81.92, 5.12]]
    assert reg[reg.event != "edrx_granted"].ptw_s.isna().all()
    sms = sink.table("sms").to_pandas()
    mt = sms[sms.direction == "MT"]
    assert len(mt) > 10 and (mt.status == "delivered").all()
    sessions = sink.table("sessions").to_pandas()
    starts = sessions.start_time_s.to_numpy()
    ends = starts + (sessions.end_time - sessions.start_time).dt.total_seconds().to_numpy()
    ue_id = int(engine.net.reg.ue_id_h[0])
    for arrival, delivered in zip(mt.time_s, mt.delivered_time_s):
        connected = ((starts <= arrival) & (arrival <= ends)).any()
        po = next_paging_s(arrival, 81.92, 5.12, 1.28, ue_id)
        later = starts[starts > arrival]
        expected = arrival if connected else min(po, later.min() if later.size else np.inf)
        assert delivered == pytest.approx(expected, abs=1e-6)
    assert (mt.delivery_delay_s == mt.delivered_time_s - mt.time_s).all()
    assert mt.delivery_delay_s.max() <= 81.92

    refused = net.replace('"001-01"}', '"001-01", edrx: false}')
    _, _, sink = run(scenario_text(refused, group, traffic="rare", profiles=PROFILES, days=2))
    assert "edrx_granted" not in set(sink.table("registrations").to_pandas().event)
    sms = sink.table("sms").to_pandas()
    assert (sms.delivery_delay_s == 0).all()

    provided = net.replace('"001-01"}', '"001-01", edrx_cycle_s: 163.84, ptw_s: 10.24}')
    _, _, sink = run(scenario_text(provided, group, traffic="rare", profiles=PROFILES, days=1))
    reg = sink.table("registrations").to_pandas()
    assert reg[reg.event == "edrx_granted"][["timer_s", "ptw_s"]].values.tolist() == [[163.84, 10.24]]


def test_engine_holds_mt_sms_for_a_device_in_psm_until_it_wakes():
    """PSM (T3324 = 60 s, T3412 extended = 12 h): an MT SMS arriving more than 60 s after the last
    episode waits for the next session; those after the last session stay held to the end."""
    group = "power_on: {process: storm}, psm: {t3324_s: 60, t3412_ext_s: 43200}"
    net = """  operators: [{plmn: "001-01"}]"""
    _, _, sink = run(scenario_text(net, group, traffic="rare", profiles=PROFILES, days=1))
    sms = sink.table("sms").to_pandas()
    mt = sms[sms.direction == "MT"].sort_values("time_s")
    sessions = sink.table("sessions").to_pandas()
    starts = sessions.start_time_s.to_numpy()
    ends = starts + (sessions.end_time - sessions.start_time).dt.total_seconds().to_numpy()
    episode_ends = np.concatenate([[0.0], ends])
    assert len(mt) > 5
    for arrival, delivered, status in zip(mt.time_s, mt.delivered_time_s, mt.status):
        last = episode_ends[episode_ends <= arrival].max()
        connected = ((starts <= arrival) & (arrival <= ends)).any()
        if connected or arrival - last <= 60.0:
            assert (delivered, status) == (arrival, "delivered")
        elif (starts > arrival).any():
            assert (delivered, status) == (starts[starts > arrival].min(), "delivered")
        else:
            assert np.isnan(delivered) and status == "held"
    assert (mt.status == "held").any() or mt.time_s.max() < starts.max()


@pytest.mark.parametrize(
    ("group", "where", "message"),
    [
        ("edrx: {cycle_s: 5242.88, ptw_s: 5.12}", "fleet[0].network.edrx.cycle_s", "not an eDRX cycle of 'lte-m'"),
        ("rat: nb-iot, edrx: {cycle_s: 10.24, ptw_s: 5.12}", "fleet[0].network.edrx.cycle_s", "not an eDRX cycle of 'nb-iot'"),
        ("edrx: {cycle_s: 81.92, ptw_s: 5.0}", "fleet[0].network.edrx.ptw_s", "not a paging time window of 'lte-m'"),
        ("rat: nb-iot, edrx: {cycle_s: 81.92, ptw_s: 1.28}", "fleet[0].network.edrx.ptw_s", "of 'nb-iot' (2.56 s x n"),
        ("rat: gsm, edrx: {cycle_s: 81.92, ptw_s: 1.28}", "fleet[0].network.edrx", "E-UTRAN feature"),
    ],
)
def test_edrx_requests_are_checked_against_the_rat(group, where, message):
    net = """  operators: [{plmn: "001-01", rats: [lte-m, nb-iot, gsm]}]"""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario_text(net, group))
    text = str(err.value)
    assert where in text and message in text


@pytest.mark.parametrize(
    ("operator", "where"),
    [
        ("paging_cycle_s: 1.0", "network.operators[0].paging_cycle_s"),
        ("edrx_cycle_s: 80", "network.operators[0].edrx_cycle_s"),
        ("ptw_s: 3", "network.operators[0].ptw_s"),
    ],
)
def test_operator_edrx_values_are_checked(operator, where):
    net = f"""  operators: [{{plmn: "001-01", {operator}}}]"""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario_text(net))
    assert where in str(err.value)
