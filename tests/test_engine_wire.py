"""The engine with protocol profiles: every session is billed its bytes on the wire."""

from __future__ import annotations

import numpy as np
from strategies import periodic, run_scenario_dict, scenario_dict

from cellfleet.emulator.session import bill, named_session
from cellfleet.emulator.wire import WireOptions

DAY_S = 86400.0


def mqtt_profile(name: str = "m", per_day: float = 24, payload_bytes: int = 20, **extra) -> dict:
    return {**periodic(name, per_day, payload_bytes), "protocol": "mqtt", **extra}


def test_mqtt_sessions_carry_their_packets_and_cross_the_allowance_exactly() -> None:
    """A 20-byte MQTT publish costs 431 B up + 324 B down = 755 B on the wire (see
    tests/test_session.py); with a 3000-byte data allowance the 4th session (3020 > 3000) defaults."""
    r = run_scenario_dict(scenario_dict(
        fleet=[{"name": "g", "count": 2, "rate_plan": "p", "traffic": "m"}],
        profiles=[mqtt_profile()],
        plans=[{"name": "p", "provisioned_allowance": {"data_bytes": 3000}}],
        days=2,
    ))  # fmt: skip
    s = r.table("sessions")
    assert set(s.protocol) == {"mqtt"} and set(s.profile) == {"m"}
    assert (s.uplink_bytes == 431).all() and (s.downlink_bytes == 324).all() and (s.total_bytes == 755).all()
    assert (s.payload_bytes == 20).all() and (s.overhead_bytes == 735).all()
    for device, sessions in s.groupby("device"):
        sessions = sessions.sort_values("start_time_s")
        change = r.changes[r.changes.device == device].iloc[0]
        assert change.reason == "provisioned_data_allowance_exceeded"
        assert change.time_s == sessions.start_time_s.iloc[3]
        assert sessions.state_at_usage.tolist()[:5] == ["Provisioned"] * 4 + ["Active-Billed"]
    usage = r.table("usage_daily")
    assert usage.bytes.sum() == 755 * len(s) == r.counts.total_bytes


def test_tls_and_ip_version_options_reach_the_sessions() -> None:
    r = run_scenario_dict(scenario_dict(
        fleet=[{"name": "g", "count": 1, "rate_plan": "p", "initial_state": "active_billed", "traffic": "t"}],
        profiles=[mqtt_profile("t", per_day=4, payload_bytes=100, protocol="mqtt-tls", tls_version="1.2",
                               mqtt_qos=1, ip_version=6)],
        days=1,
    ))  # fmt: skip
    session = named_session("mqtt-tls", tls_version="1.2", qos=1, wire=WireOptions(ip_version=6))
    expected = bill(session.packets(100), 100)
    s = r.table("sessions")
    assert len(s) == 4
    assert (s.uplink_bytes == expected.uplink_bytes).all() and (s.downlink_bytes == expected.downlink_bytes).all()


def test_uniform_payloads_are_billed_per_drawn_payload() -> None:
    r = run_scenario_dict(scenario_dict(
        fleet=[{"name": "g", "count": 5, "rate_plan": "p", "initial_state": "active_billed", "traffic": "c"}],
        profiles=[{"name": "c", "sessions_per_day": 48, "protocol": "coap-dtls",
                   "session_bytes": {"distribution": "uniform", "min_bytes": 10, "max_bytes": 2000}}],
        days=2,
    ))  # fmt: skip
    s = r.table("sessions")
    session = named_session("coap-dtls")
    up, down = session.totals(s.payload_bytes.to_numpy())
    assert np.array_equal(s.uplink_bytes.to_numpy(), up) and np.array_equal(s.downlink_bytes.to_numpy(), down)
    assert s.payload_bytes.between(10, 2000).all() and s.payload_bytes.nunique() > 50
