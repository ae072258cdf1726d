"""``cellfleet modem probe | shell | script`` end to end: a real subprocess talking to a virtual
modem served on a pty by this test process."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from test_driver_support import served

from cellfleet.modem.device import StaticDevice
from cellfleet.modem.driver import ModemDriver, Response
from cellfleet.modem.driver_cli import CRSM_READ_ICCID, iccid_from_crsm


def cellfleet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", "modem", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# StaticDevice defaults (cellfleet.modem.device): home "Test Network" 00101 on E-UTRAN (AcT 7),
# tac 0x002F, ci 0x0012BEEF, RSSI -73 dBm (+CSQ 20), RSRP -100 dBm, RSRQ -10 dB.
COMMON = {
    "imei": "866425030000017",
    "imsi": "001010123456789",
    "iccid": "89001012012345678901",
    "sim_state": "READY",
    "registration": {
        "command": "+CEREG",
        "stat": 1,
        "status": "registered, home",
        "tac": "002F",
        "ci": "0012BEEF",
        "reject_cause": None,
    },
    "operator": "Test Network",
    "plmn": "00101",
    "act": 7,
    "rat": "E-UTRAN",
    "signal": {"rssi_dbm": -73, "rsrp_dbm": -100, "rsrq_db": -10.0},
}


@pytest.mark.parametrize(
    ("profile", "identity"),
    [
        ("generic", {"manufacturer": "Cellfleet", "model": "Generic-27007", "firmware": "CF-GEN-1.0"}),
        ("bg96", {"manufacturer": "Quectel", "model": "BG96", "firmware": "BG96MAR02A07M1G"}),
    ],
)
def test_probe_json(tmp_path, profile, identity):
    with served(tmp_path, profile) as server:
        proc = cellfleet("probe", server.paths[0], "--json")
        # The probe puts back what it changed (reference §8.7: state survives the session).
        with ModemDriver(server.paths[0]) as driver:
            driver.sync()
            assert driver.command("AT+CEREG?").lines == ["+CEREG: 0,1"]
            assert driver.command("AT+COPS?").lines == ['+COPS: 0,0,"Test Network",7']
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"port": server.paths[0], **identity, **COMMON}


def test_probe_reads_the_operator_in_ira_and_puts_the_character_set_back(tmp_path):
    # B9: a previous session left +CSCS="UCS2" (27.007 §5.5), in which +COPS? names come as hex.
    with served(tmp_path) as server:
        with ModemDriver(server.paths[0]) as driver:
            driver.sync()
            driver.command('AT+CSCS="UCS2"')
            ucs2_name = "00540065007300740020004E006500740077006F0072006B"  # "Test Network"
            assert driver.command("AT+COPS?").lines == [f'+COPS: 0,0,"{ucs2_name}",7']
        proc = cellfleet("probe", server.paths[0], "--json")
        with ModemDriver(server.paths[0]) as driver:
            driver.sync()
            assert driver.command("AT+CSCS?").lines == ['+CSCS: "UCS2"']
    assert proc.returncode == 0, proc.stderr
    assert (json.loads(proc.stdout)["operator"], json.loads(proc.stdout)["plmn"]) == ("Test Network", "00101")


def test_probe_text_and_a_sim_that_is_locked(tmp_path):
    with served(tmp_path, "bg96", device=StaticDevice(sim_pin="1234")) as server:
        proc = cellfleet("probe", server.paths[0])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:7] == [
        "manufacturer Quectel",
        "model        BG96",
        "firmware     BG96MAR02A07M1G",
        "IMEI         866425030000017",
        "IMSI         -",  # +CME ERROR: 11 until the PIN is given
        "ICCID        89001012012345678901",
        "SIM          SIM PIN",
    ]


def test_probe_of_a_port_that_does_not_exist_is_bad_input(tmp_path):
    proc = cellfleet("probe", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: cannot open port {tmp_path / 'nope'}: ")
    assert len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_probe_of_a_silent_modem_fails_with_one_line(tmp_path):
    with served(tmp_path) as server:
        server.mute(0, True)
        proc = cellfleet("probe", server.paths[0])
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"Error: no answer from the modem on {server.paths[0]}: ATQ0: no final result within 1 s"
    ]


def test_shell_reads_commands_from_a_pipe_and_shows_urcs(tmp_path):
    commands = [
        "AT+CGMI",
        "AT+CEREG=1",
        "AT+CFUN=4",
        "!wait +CEREG 10",
        "AT+CFUN=1",
        "!wait +CEREG: 1 10",
        "AT+NOSUCH",
        "AT+CMGF=1",
        'AT+CMGS="+15551234567"',
        "hello",  # the payload after the prompt
        "AT+CIMI",
    ]
    with served(tmp_path, device=StaticDevice()) as server:
        proc = cellfleet("shell", server.paths[0], "--log", str(tmp_path / "shell.log"), stdin="".join(f"{c}\n" for c in commands))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # URCs print on their own thread, so only their content is fixed, not where they interleave.
    assert [line for line in lines if line.startswith("URC ")] == ["URC +CEREG: 0", "URC +CEREG: 1"]
    assert [line for line in lines if not line.startswith("URC ")] == [
        "Cellfleet", "OK",
        "OK",
        "OK",
        "OK",
        "ERROR",
        "OK",
        "+CMGS: 0", "OK",
        "001010123456789", "OK",
    ]  # fmt: skip
    assert (tmp_path / "shell.log").read_text().count(" TX ") >= 10


PLAN = """\
name: cli plan
steps:
  - send: AT+CGMI
    expect: [Cellfleet]
  - send: AT+CIMI
    expect_error: {expect_error}
"""


def test_script_passes_and_writes_junit(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(expect_error="CME 10").replace("    expect_error: CME 10\n", "    match: '^001'\n"))
    junit = tmp_path / "junit.xml"
    with served(tmp_path) as server:
        proc = cellfleet("script", server.paths[0], str(plan), "--junit", str(junit))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "PASS 1 AT+CGMI",
        "PASS 2 AT+CIMI",
        "cli plan: 2 steps, 2 passed, 0 failed, 0 skipped",
    ]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("cli plan", "2", "0")


def test_script_with_a_failed_step_exits_1(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(expect_error="CME 10"))
    junit = tmp_path / "junit.xml"
    with served(tmp_path) as server:
        proc = cellfleet("script", server.paths[0], str(plan), "--junit", str(junit))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "PASS 1 AT+CGMI",
        "FAIL 2 AT+CIMI: expected CME 10, got OK",
        "cli plan: 2 steps, 1 passed, 1 failed, 0 skipped",
    ]
    (case,) = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert (case.get("name"), case.find("failure").get("message")) == ("step 2: AT+CIMI", "expected CME 10, got OK")


def test_script_with_a_bad_plan_exits_2_naming_file_line_and_key(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(expect_error="CME nonsense"))
    proc = cellfleet("script", "/dev/null", str(plan))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {plan}:6: steps[1].expect_error: unknown CME error 'nonsense' (give a code or a CmeError name)"
    ]


def test_script_with_a_junit_path_in_a_missing_directory_exits_2(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(expect_error="CME 10"))
    proc = cellfleet("script", "/dev/null", str(plan), "--junit", str(tmp_path / "no" / "junit.xml"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"Error: --junit: directory {tmp_path / 'no'} does not exist"]


def test_probe_finds_the_iccid_spelling_of_the_module(tmp_path):
    # nRF91 answers ERROR to +CCID, +QCCID and +ICCID and knows only %XICCID (reference §3).
    with served(tmp_path, "nrf9160") as server:
        proc = cellfleet("probe", server.paths[0], "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["manufacturer"], info["iccid"]) == ("Nordic Semiconductor ASA", "89001012012345678901")


def test_iccid_from_crsm_swaps_nibbles_and_drops_the_pad(tmp_path):
    # TS 102 221 §13.2: EF_ICCID is BCD with swapped nibbles; F pads an odd digit count.
    assert iccid_from_crsm(Response(['+CRSM: 144,0,"981032547698103254F6"'], "OK")) == "8901234567890123456"
    assert iccid_from_crsm(Response(['+CRSM: 148,4,""'], "OK")) is None  # sw1 148: not successful
    assert iccid_from_crsm(None) is None
    with served(tmp_path) as server, ModemDriver(server.paths[0]) as driver:
        driver.sync()
        assert iccid_from_crsm(driver.command(CRSM_READ_ICCID)) == "89001012012345678901"
