"""Traffic features with exact expected values: schedules (diurnal, bursts), payload
distributions, persistent connections with keep-alives and interim records, set-up failures,
losses, one-off sessions and SMS in both directions.

Bytes of single exchanges come from the wire model (proven equal to scapy's packets in
test_session_phases.py); what is checked here is how the engine composes them: how many of each,
when, in which record.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from strategies import DAY, run_scenario_dict, scenario_dict

from cellfleet.emulator.session import session_for_profile

HOUR = 3600.0


def one_group(profile: dict, *, count: int = 1, days: int = 1, state: str = "active_billed", **kw) -> dict:
    return scenario_dict(profiles=[profile], fleet=[{"name": "g", "count": count, "rate_plan": "p",
                                                     "initial_state": state, "traffic": profile["name"]}],
                         days=days, **kw)  # fmt: skip


MQTT_PERSISTENT = {
    "name": "tele", "protocol": "mqtt", "connection": "persistent", "keepalive_s": 1200, "schedule": "periodic",
    "sessions_per_day": 24, "session_bytes": {"distribution": "fixed", "bytes": 20},
}


def test_persistent_connection_opens_once_reports_and_pings_exactly():
    """Reports every hour at phase phi, keep-alive 1200 s: the connection opens at 0, pings at
    1200 and 2400 s after each report while idle, and before the first report at 1200 m < phi.
    ceil(phi / 1200) - 1 + 23 * 2 + ceil((3600 - phi) / 1200) - 1 = 48 pings for any phi that is
    not a multiple of 1200."""
    r = run_scenario_dict(one_group(MQTT_PERSISTENT))
    s = r.sessions
    prof = r.scenario.traffic_profiles[0]
    session = session_for_profile(prof)
    open_up, open_down = session.open_totals()
    rep_up, rep_down = session.report_totals(np.array([20]))
    ping_up, ping_down = session.ping_totals()
    assert len(s) == 1
    rec = s.iloc[0]
    assert rec.reports == 24 and rec.keepalive_pings == 48
    assert rec.uplink_bytes == open_up + 24 * int(rep_up[0]) + 48 * ping_up
    assert rec.downlink_bytes == open_down + 24 * int(rep_down[0]) + 48 * ping_down
    assert rec.payload_bytes == 24 * 20
    assert rec.start_time_s == 0.0 and rec.duration_s == DAY
    assert rec.cause_for_record_closing == "run_end" and rec.record_sequence_number == 0
    assert r.counts.sessions == 1 and r.usage.sessions.sum() == 1
    assert r.usage.bytes.sum() == rec.total_bytes == r.counts.total_bytes


def test_interim_time_limit_cuts_partial_records_of_one_session():
    """interim_time_s 3600 on a connection opened at 0: 23 records close at 3600 k (time_limit)
    and the 24th at the run's end; each holds exactly one report."""
    data = one_group(MQTT_PERSISTENT)
    data["outputs"]["sessions"]["interim_time_s"] = 3600
    r = run_scenario_dict(data)
    s = r.sessions.sort_values("record_sequence_number").reset_index(drop=True)
    assert len(s) == 24 and s.session_id.nunique() == 1
    assert s.record_sequence_number.tolist() == list(range(24))
    assert s.start_time_s.tolist() == [k * HOUR for k in range(24)]
    assert s.cause_for_record_closing.tolist() == ["time_limit"] * 23 + ["run_end"]
    assert (s.reports == 1).all() and s.keepalive_pings.sum() == 48
    whole = run_scenario_dict(one_group(MQTT_PERSISTENT)).sessions
    assert s.total_bytes.sum() == whole.total_bytes.sum()


def test_interim_volume_limit_closes_a_record_per_exchange():
    """A volume limit of 1 byte closes the record at every exchange: the open phase, each report
    and each ping get a record of their own (volume_limit), then an empty one runs to the end."""
    data = one_group(MQTT_PERSISTENT)
    data["outputs"]["sessions"]["interim_volume_bytes"] = 1
    r = run_scenario_dict(data)
    s = r.sessions.sort_values("record_sequence_number")
    session = session_for_profile(r.scenario.traffic_profiles[0])
    assert len(s) == 1 + 24 + 48 + 1
    assert s.cause_for_record_closing.tolist() == ["volume_limit"] * 73 + ["run_end"]
    assert s.total_bytes.iloc[0] == sum(session.open_totals())
    report_bytes = sum(int(x[0]) for x in session.report_totals(np.array([20])))
    assert sorted(set(s.total_bytes.iloc[1:73])) == sorted({sum(session.ping_totals()), report_bytes})
    assert (s.reports + s.keepalive_pings).iloc[1:73].eq(1).all()
    assert s.total_bytes.iloc[-1] == 0


def test_defaulting_cuts_the_record_but_keeps_the_connection():
    """Provisioned with a 2000-byte allowance: the connection's record closes when the exchange
    that exceeds it happens (management_intervention, state Provisioned) and a partial record of
    the same session continues in Active-Billed."""
    data = one_group(MQTT_PERSISTENT, state="provisioned")
    data["rate_plans"] = [{"name": "p", "provisioned_allowance": {"data_bytes": 2000}}]
    r = run_scenario_dict(data)
    s = r.sessions.sort_values("record_sequence_number").reset_index(drop=True)
    change = r.changes.iloc[0]
    assert change.reason == "provisioned_data_allowance_exceeded"
    assert len(s) == 2 and s.session_id.nunique() == 1
    assert s.state_at_usage.tolist() == ["Provisioned", "Active-Billed"]
    assert s.cause_for_record_closing.tolist() == ["management_intervention", "run_end"]
    assert s.start_time_s[1] == change.time_s == s.start_time_s[0] + s.duration_s[0]
    session = session_for_profile(r.scenario.traffic_profiles[0])
    largest_exchange = max(sum(session.open_totals()), sum(session.ping_totals()),
                           sum(int(x[0]) for x in session.report_totals(np.array([20]))))
    assert 2000 < s.total_bytes[0] <= 2000 + largest_exchange


def test_set_traffic_releases_the_connection():
    """Switching the profile releases the connection (management_intervention) and the new
    persistent profile opens a new one at the action's time."""
    other = {**MQTT_PERSISTENT, "name": "fast", "sessions_per_day": 96}
    data = scenario_dict(profiles=[MQTT_PERSISTENT, other], days=2,
                         fleet=[{"name": "g", "count": 1, "rate_plan": "p", "initial_state": "active_billed",
                                 "traffic": "tele"}],
                         actions=[{"at_day": 1, "action": "set_traffic", "traffic": "fast"}])  # fmt: skip
    r = run_scenario_dict(data)
    s = r.sessions.sort_values("start_time_s").reset_index(drop=True)
    assert s.profile.tolist() == ["tele", "fast"]
    assert s.session_id.tolist() == [0, 1]
    assert s.cause_for_record_closing.tolist() == ["management_intervention", "run_end"]
    assert s.start_time_s.tolist() == [0.0, DAY] and s.duration_s.tolist() == [DAY, DAY]
    assert s.reports.tolist() == [24, 96]


def test_diurnal_sessions_fall_only_in_weighted_hours():
    weights = [0.0] * 24
    weights[5] = 1.0
    weights[17] = 3.0
    prof = {"name": "d", "schedule": "diurnal", "hourly_weights": weights, "sessions_per_day": 8,
            "session_bytes": {"distribution": "fixed", "bytes": 100}}
    r = run_scenario_dict(one_group(prof, count=200, days=5))
    hours = (r.sessions.start_time_s % DAY // HOUR).astype(int)
    counts = hours.value_counts().to_dict()
    assert set(counts) == {5, 17}
    n = len(r.sessions)
    expected = 200 * 5 * 8
    assert abs(n - expected) < 5 * math.sqrt(expected)  # Poisson count, 5 sigma
    assert abs(counts[17] / n - 0.75) < 0.03


def test_periodic_bursts_are_spaced_and_repeat_each_burst_period():
    """8 sessions a day in bursts of 2, 60 s apart: bursts start every 6 h (86400 * 2 / 8)."""
    prof = {"name": "b", "schedule": "periodic", "sessions_per_day": 8, "burst_size": 2, "burst_spacing_s": 60,
            "session_bytes": {"distribution": "fixed", "bytes": 100}}
    r = run_scenario_dict(one_group(prof, count=5, days=2))
    for _, ds in r.sessions.groupby("device"):
        t = np.sort(ds.start_time_s.to_numpy())
        assert len(t) == 16 and 0 < t[0] < 6 * HOUR
        assert np.allclose(np.diff(t), [60.0, 6 * HOUR - 60.0] * 7 + [60.0])


def test_empirical_payloads_follow_their_weights():
    prof = {"name": "e", "sessions_per_day": 50, "protocol": "udp",
            "session_bytes": {"distribution": "empirical", "values": [10, 500, 4000], "weights": [1, 0, 3]}}
    r = run_scenario_dict(one_group(prof, count=50, days=2))
    payload = r.sessions.payload_bytes
    assert set(payload) == {10, 4000}
    assert abs((payload == 4000).mean() - 0.75) < 0.03
    # raw UDP: one datagram with an 8 B UDP header (RFC 768), IP-fragmented above the 1500 B MTU
    # into fragments of at most 1480 B of data, each with a 20 B IPv4 header (RFC 791 §2.3)
    fragments = np.ceil((payload + 8) / 1480)
    assert (r.sessions.total_bytes == payload + 8 + 20 * fragments).all()
    assert set(r.sessions.total_bytes) == {38, 4068}


def test_failed_set_up_attempts_are_billed_and_retried():
    """Each failed attempt is a SYN sent 3 times (FAILED_ATTEMPT_SYN_RETRIES = 2) unanswered:
    3 x (20 B IPv4 + 20 B TCP + 20 B SYN options) = 180 B uplink, billed (seed 003); after
    max_attempts failures the report is dropped (abnormal_release, no payload)."""
    prof = {"name": "f", "protocol": "https", "sessions_per_day": 24, "session_duration_s": 2,
            "establishment_failure_probability": 0.6, "max_attempts": 2, "retry_interval_s": 20,
            "session_bytes": {"distribution": "fixed", "bytes": 300}}
    r = run_scenario_dict(one_group(prof, count=30, days=2))
    s = r.sessions
    session = session_for_profile(r.scenario.traffic_profiles[0])
    assert session.failed_attempt_totals() == (180, 0)
    ok_up, ok_down = (int(x[0]) for x in session.totals(np.array([300])))
    assert set(s.failed_attempts) == {0, 1, 2}
    assert (s.failed_attempt_bytes == 180 * s.failed_attempts).all()
    assert np.allclose(s.duration_s, 2 + 20 * s.failed_attempts)
    failed = s[s.cause_for_record_closing == "abnormal_release"]
    delivered = s[s.cause_for_record_closing == "normal_release"]
    assert (failed.failed_attempts == 2).all() and (failed.payload_bytes == 0).all()
    assert (failed.uplink_bytes == 360).all() and (failed.downlink_bytes == 0).all()
    assert (delivered.uplink_bytes == ok_up + 180 * delivered.failed_attempts).all()
    assert (delivered.downlink_bytes == ok_down).all()
    # P(both attempts fail) = 0.36
    assert abs(len(failed) / len(s) - 0.36) < 0.06


@pytest.mark.parametrize("protocol", ["mqtt-tls", "coap"])
def test_losses_add_retransmitted_copies(protocol):
    """Lost copies are billed on top of the exchange; their share matches the loss rate."""
    prof = {"name": "l", "protocol": protocol, "sessions_per_day": 24, "loss_probability": 0.2,
            "session_bytes": {"distribution": "fixed", "bytes": 3000 if protocol == "mqtt-tls" else 200}}
    r = run_scenario_dict(one_group(prof, count=40, days=2))
    s = r.sessions
    session = session_for_profile(r.scenario.traffic_profiles[0])
    base = int(sum(x[0] for x in session.totals(np.array([prof["session_bytes"]["bytes"]]))))
    assert (s.total_bytes - s.retransmitted_bytes == base).all()
    assert (s.retransmitted_bytes > 0).mean() > 0.1
    if protocol == "coap":  # every lost copy is the CON datagram (RFC 7252 §4.2), at most 4
        con = int(session.con_datagram_ip_bytes(np.array([200]))[0])
        copies = s.retransmitted_bytes / con
        assert (copies == copies.round()).all() and copies.max() <= 4
        assert abs(copies.mean() - (0.2 + 0.04 + 0.008 + 0.0016)) < 0.05  # E[min(Geometric, 4)]


def test_send_once_reaches_each_selected_online_device_once():
    """A firmware download pushed on day 1 with a 1-hour spread: one https-download session per
    device that passes traffic then, at a time in [day 1, day 1 + 1 h); suspended devices with no
    traffic do not download."""
    tele = {"name": "tele", "sessions_per_day": 4, "session_bytes": {"distribution": "fixed", "bytes": 100}}
    fw = {"name": "fw", "protocol": "https-download", "sessions_per_day": 0,
          "session_bytes": {"distribution": "fixed", "bytes": 1_500_000}}
    data = scenario_dict(
        profiles=[tele, fw], days=3,
        fleet=[{"name": "on", "count": 6, "rate_plan": "p", "initial_state": "active_billed", "traffic": "tele"},
               {"name": "off", "count": 4, "rate_plan": "p", "initial_state": "suspended",
                "traffic": {"active_billed": "tele", "suspended": "none"}}],
        actions=[{"at_day": 1, "action": "send_once", "profile": "fw", "spread_s": 3600}],
    )  # fmt: skip
    r = run_scenario_dict(data)
    fw_sessions = r.sessions[r.sessions.profile == "fw"]
    assert sorted(fw_sessions.device) == list(range(6))
    assert ((fw_sessions.start_time_s >= DAY) & (fw_sessions.start_time_s < DAY + HOUR)).all()
    up, down = session_for_profile(r.scenario.traffic_profiles[1]).totals(np.array([1_500_000]))
    assert (fw_sessions.uplink_bytes == int(up[0])).all() and (fw_sessions.downlink_bytes == int(down[0])).all()
    assert (fw_sessions.protocol == "https-download").all()


def test_sms_in_both_directions_are_counted_apart():
    prof = {"name": "s", "sessions_per_day": 0, "session_bytes": {"distribution": "fixed", "bytes": 1},
            "sms_mo_per_day": 3, "sms_mt_per_day": 1}
    r = run_scenario_dict(one_group(prof, count=100, days=4))
    sms, u = r.table("sms"), r.usage
    mo, mt = (sms.direction == "MO").sum(), (sms.direction == "MT").sum()
    assert mo == u.sms_mo.sum() == r.counts.sms_mo and mt == u.sms_mt.sum() == r.counts.sms_mt
    assert abs(mo - 1200) < 5 * math.sqrt(1200) and abs(mt - 400) < 5 * math.sqrt(400)
    assert (sms.status == "delivered").all() and (sms.state_at_usage == "Active-Billed").all()
    assert len(r.sessions) == 0


def test_records_carry_identities_and_context():
    prof = {"name": "t", "protocol": "mqtt", "apn": "m2m.example", "sessions_per_day": 2,
            "session_bytes": {"distribution": "fixed", "bytes": 10}, "ip_version": 6}
    r = run_scenario_dict(one_group(prof, count=3))
    s = r.sessions
    devices = r.table("devices").set_index("device")
    for rec in s.itertuples():
        dev = devices.loc[rec.device]
        assert (rec.iccid, rec.imsi, rec.imei) == (dev.iccid, dev.imsi, dev.imei)
        assert (rec.account, rec.report_group, rec.rate_plan) == (dev.account, dev.report_group, dev.rate_plan)
    assert (s.apn == "m2m.example").all() and (s.pdp_type == "IPv6").all()
    assert (s.rat_type == "LTE-M").all() and (s.serving_plmn == "00101").all()
    assert devices.imei.str.len().eq(15).all()


def test_non_confirmable_coap_is_one_unanswered_datagram():
    """A non-confirmable CoAP POST (RFC 7252 §4.3) with a 50-byte payload: 20 B IPv4 + 8 B UDP +
    4 B CoAP header + 4 B token + 2 B Uri-Path "t" option + 1 B payload marker + 50 B = 89 B
    uplink, nothing back; a confirmable one gets a piggybacked ACK of 36 B (20 + 8 + 4 B header +
    4 B token)."""
    non = {"name": "n", "protocol": "coap", "coap_type": "non-confirmable", "sessions_per_day": 4,
           "session_bytes": {"distribution": "fixed", "bytes": 50}}
    con = {**non, "name": "c", "coap_type": "confirmable"}
    for prof, down in ((non, 0), (con, 36)):
        s = run_scenario_dict(one_group(prof, count=3)).sessions
        assert len(s) > 0 and (s.uplink_bytes == 89).all() and (s.downlink_bytes == down).all()


@pytest.mark.parametrize("crossing_index", [5, 6])
def test_allowance_crossing_inside_a_burst_at_one_instant(crossing_index):
    """Bursts of 2 sessions at the same instant: the session that exceeds the data allowance and
    those before it count in Provisioned, its twin (if it comes after) in Active-Billed."""
    prof = {"name": "b", "protocol": "mqtt", "schedule": "periodic", "sessions_per_day": 8, "burst_size": 2,
            "session_bytes": {"distribution": "fixed", "bytes": 270}}
    per_session = sum(int(x[0]) for x in session_for_profile(
        run_scenario_dict(one_group(prof)).scenario.traffic_profiles[0]).totals(np.array([270])))
    data = one_group(prof, state="provisioned")
    data["rate_plans"] = [{"name": "p", "provisioned_allowance": {"data_bytes": per_session * (crossing_index - 1)}}]
    r = run_scenario_dict(data)
    s = r.sessions.sort_values(["start_time_s", "record_id"]).reset_index(drop=True)
    change = r.changes.iloc[0]
    assert change.time_s == s.start_time_s[crossing_index - 1]
    expected = ["Provisioned"] * crossing_index + ["Active-Billed"] * (len(s) - crossing_index)
    assert s.state_at_usage.tolist() == expected
    twin = s.start_time_s[crossing_index - 1] == s.start_time_s[crossing_index]
    assert twin == (crossing_index % 2 == 1)  # the 5th session is the first of its pair
