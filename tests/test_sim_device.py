"""A virtual modem's device taken from a simulated scenario (``cellfleet.modem.sim_device``):
the registration timeline, PSM sleep windows, forbidden networks and MT SMS of one device, as
the fleet engine simulated them. The scenario (``data/modem-scenario.yaml``): SIMs of home
network 901-43 in area north prefer 262-01, which has no roaming agreement with them (#11), then
262-02; they power on at 100 s (operators without a core answer at once), request PSM
(T3324 60 s, T3412 extended 12 h), and 262-02 is down from 43,200 s for 600 s (re-selection at
once when it returns; 262-01 is forbidden, so no service in between)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cellfleet.modem.device import NetworkEntry, Registration
from cellfleet.modem.sim_device import ScenarioDeviceError, device_from_scenario

SCENARIO = str(Path(__file__).parent / "data" / "modem-scenario.yaml")


@pytest.fixture(scope="module")
def device():
    return device_from_scenario(SCENARIO, 1)


def test_timeline_follows_the_simulated_registrations(device):
    zwei = dict(plmn="26202", operator_long="Netz Zwei", operator_short="Netz Zwe", act=7, tac=1, ci=17,
                active_time_s=60.0, periodic_tau_s=43200.0)  # fmt: skip
    assert list(device.timeline) == [
        # roaming: 262-02 is not the SIM's home 901-43; the #11 of 262-01 came just before, but a
        # registered device reports no reject cause (27.007 §10.1.22)
        (100.0, Registration(stat=5, **zwei)),
        (43200.0, Registration(stat=4, act=7)),  # the outage: out of coverage
        (43800.0, Registration(stat=5, **zwei)),
    ]
    assert device.registration(99.0).stat == 0  # not yet powered on
    assert device.registration(43500.0).stat == 4


def test_the_network_that_rejected_with_11_is_forbidden_from_then_on(device):
    assert device.forbidden_from_s == {"26201": 100.0}
    assert device.networks(50.0) == [NetworkEntry(1, "Netz Eins", "Netz Ein", "26201", 7),
                                     NetworkEntry(1, "Netz Zwei", "Netz Zwe", "26202", 7)]  # fmt: skip
    assert device.networks(200.0) == [NetworkEntry(3, "Netz Eins", "Netz Ein", "26201", 7),
                                      NetworkEntry(2, "Netz Zwei", "Netz Zwe", "26202", 7)]  # fmt: skip


def test_sleep_windows_are_the_psm_periods_and_the_outage_ends_one(device):
    """PSM from T3324 (60 s) after the accept at 100 s; a period running when the outage
    deregisters the device ends at 43,200 s; after the re-accept at 43,800 s the next starts at
    43,860 s; the last one lasts to the end of the day."""
    windows = device.sleep_windows
    assert windows[0][0] == 160.0 and windows[-1][1] == 86400.0
    cut = [i for i, (_, end) in enumerate(windows) if end == 43200.0]
    assert len(cut) == 1 and windows[cut[0] + 1][0] == 43860.0
    for i in range(1, len(windows)):
        if i != cut[0] + 1:  # woken by a 10-s session, asleep again 60 s after it ends
            assert windows[i][0] == pytest.approx(windows[i - 1][1] + 10.0 + 60.0)
    assert device.asleep(200.0) and not device.asleep(150.0)


def test_mt_sms_arrive_when_the_device_is_awake(device):
    """Every MT SMS of the scenario reaches the modem at its delivery time, never while asleep:
    one held in PSM arrives when the device wakes (the end of a sleep window)."""
    assert device.mt_sms
    for sms in device.mt_sms:
        assert not device.asleep(sms.at_s)
    wake_times = {end for _, end in device.sleep_windows}
    assert any(sms.at_s in wake_times for sms in device.mt_sms)


def test_a_scenario_without_network_is_registered_at_home_all_along():
    device = device_from_scenario("quickstart", 0, days=1)
    assert device.timeline == () and device.registration(0.0).stat == 1
    assert device.imsi == "001010000000000" and len(device.iccid) == 19


@pytest.mark.parametrize(
    ("scenario", "index", "message"),
    [
        (SCENARIO, 3, "device 3 is not in the scenario's fleet of 3 devices (0..2)"),
        ("no-such-scenario", 0, "no-such-scenario"),
    ],
)
def test_bad_device_or_scenario_is_a_clear_error(scenario, index, message):
    with pytest.raises(ScenarioDeviceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        device_from_scenario(scenario, index)


def test_a_virtual_modem_follows_the_simulated_device():
    """Behind a VirtualModem (generic profile, CEREG n=2, SMS indications on): the registration
    URCs come at the simulated times (TAC 1, CI 17 = device 1 * 16 + 1, AcT 7), the modem says
    nothing while the device sleeps in PSM, and the scenario's MT SMS arrive as +CMTI."""
    from cellfleet.modem.virtual import VirtualModem

    device = device_from_scenario(SCENARIO, 1)
    modem = VirtualModem("generic", device)
    modem.power_on(0.0)
    modem.receive(b"ATE0\r", 1.0)
    modem.receive(b"AT+CEREG=2;+CMGF=1;+CNMI=2,1\r", 2.0)
    assert modem.take_output() == b"ATE0\r\r\nOK\r\n\r\nOK\r\n"
    modem.advance(100.0)
    assert modem.take_output() == b'\r\n+CEREG: 5,"0001","00000011",7\r\n'
    modem.receive(b"AT+CEREG?\r", 150.0)
    assert modem.take_output() == b'\r\n+CEREG: 2,5,"0001","00000011",7\r\n\r\nOK\r\n'
    modem.receive(b"AT+CEREG?\r", 200.0)  # asleep in PSM since 160 s: no echo, no answer
    assert modem.take_output() == b""
    first_sms = device.mt_sms[0].at_s
    assert first_sms < 43200.0
    modem.advance(43200.0)
    assert modem.take_output() == b'\r\n+CMTI: "ME",0\r\n\r\n+CEREG: 4\r\n'
    modem.advance(43800.0)
    assert modem.take_output() == b'\r\n+CEREG: 5,"0001","00000011",7\r\n'


def test_several_devices_come_from_one_simulation():
    from cellfleet.modem.sim_device import devices_from_scenario

    first, third = devices_from_scenario(SCENARIO, [0, 2])
    assert (first.imsi, third.imsi) == ("001010000000000", "001010000000002")
    assert first.timeline[0][1].ci == 1 and third.timeline[0][1].ci == 33
    assert third.timeline == device_from_scenario(SCENARIO, 2).timeline


def test_a_rejected_device_searches_and_reports_the_cause(tmp_path):
    """Every attach is rejected with #17 (network failure, TS 24.301 §5.5.1.2.6 abnormal case):
    the device is "searching" (2) on that network with reject cause 17 from the first reject on;
    the attempts follow T3411 (10 s), then T3402 (12 min) after the fifth; during the outage
    (43,200-43,800 s) an attempt finds no network (4, the cause still the last one)."""
    text = (Path(SCENARIO).read_text()
            .replace('    - {plmn: "262-01", name: Netz Eins, roaming_partners: ["999-99"], areas: [north]}\n', "")
            .replace('{plmn: "262-02", name: Netz Zwei, areas: [south, north]}',
                     '{plmn: "262-02", name: Netz Zwei, areas: [south, north], reject_probability: 1, reject_cause: 17}')
            .replace('preferred: ["262-01", "262-02"]', 'preferred: ["262-02"]'))  # fmt: skip
    path = tmp_path / "rejects.yaml"
    path.write_text(text)
    device = device_from_scenario(str(path), 0)
    times = [t for t, _ in device.timeline]
    assert times[:6] == [100.0, 110.0, 120.0, 130.0, 140.0, 860.0]
    assert {(r.stat, r.plmn, r.reject_cause) for t, r in device.timeline if t < 43200.0} == {(2, "26202", 17)}
    out = [t for t, r in device.timeline if r == Registration(stat=4, act=7, reject_cause=17)]
    assert out and all(43200.0 <= t < 43800.0 for t in out)  # no service during the outage


def test_manual_selection_follows_the_scenarios_home_and_forbidden_networks(device):
    """+COPS=1 on a scenario device: 262-01 rejected it with #11 at 100 s, so it cannot be
    selected after that; 262-02 can, and is roaming (the SIM's home is 901-43)."""
    assert device.select("26201", 200.0) is False
    assert device.select("26202", 200.0) is True
    assert device.registration(200.0).stat == 5
    home = dataclasses.replace(device, home_plmn="26202", selected_plmn=None)
    assert home.select("26202", 200.0) and home.registration(200.0).stat == 1
    assert device.select(None, 200.0) is True
