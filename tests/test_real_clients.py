"""Issue 5 acceptance: unmodified real client software against ``cellfleet modem serve``.

The server runs in a subprocess as a lab runs it (``--latency-scale 0`` so the run stays short;
the commands and bytes are the same); ``gammu identify`` and a python-gsmmodem connect also run
against the default latency model (each command answered after its profile latency, V.250
§5.6.1 abort rules in force), as a lab serves it by default. Clients: python-gsmmodem-new (module ``gsmmodem``: connect,
signal, network name, send an SMS in PDU mode, receive one injected with ``cellfleet modem sms``)
and gammu (``identify``, ``networkinfo``, ``monitor 1``; reference §6.1-§6.2).

Expected values: identities of served modem 0 (``cellfleet.modem.cli.static_identity(0)``: the
fleet's identity plan); the profiles' identity strings (``cellfleet.modem.profiles``);
``StaticDevice``'s network: "Test Network" 00101, TAC 0x002F, CI 0x0012BEEF, RSSI -73 dBm, which
27.007 §8.5 maps to ``+CSQ: 20`` (-113 + 2·20), which gammu 1.42 prints as "-73 dBm" and
"60 percent" (reference §6.2, observed).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cellfleet.modem.cli import static_identity
from cellfleet.modem.control import control_path_for
from cellfleet.modem.control import request as control_request
from cellfleet.modem.profiles import get_profile

WAIT_S = 10.0
CLI = [sys.executable, "-c", "from cellfleet.cli import main; main()"]
GAMMU = shutil.which("gammu")
IDENTITY = static_identity(0)


def _serve(profile: str, link: Path, *options: str):
    """Run ``cellfleet modem serve`` for one modem at ``link`` in a subprocess until the
    generator is closed."""
    proc = subprocess.Popen([*CLI, "modem", "serve", "--profile", profile, "--link", str(link), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith(f"{link} -> /dev/pts/"), (line, proc.stderr.read() if proc.poll() is not None else "")
    while not line.startswith("control -> "):
        line = proc.stdout.readline()
    yield profile, link
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT_S) == 0


@pytest.fixture(params=["generic", "bg96"])
def served(request, tmp_path):
    """(profile name, link) of one modem served with ``--latency-scale 0``."""
    yield from _serve(request.param, tmp_path / "modem0", "--latency-scale", "0")


@pytest.fixture
def served_with_latency(tmp_path):
    """(profile name, link) of one BG96 served with the default latency model (no
    ``--latency-scale``: every command answers after its profile latency)."""
    yield from _serve("bg96", tmp_path / "modem0")


def _gammu(tmp_path: Path, link: Path, *args: str) -> dict[str, str]:
    """Run gammu with a temp config on ``link``; its ``Key : value`` lines as a dict."""
    assert GAMMU is not None, "gammu is not installed (.ci/run installs it: apt-get install gammu)"
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {link}\nconnection = at115200\nlogformat = textall\nlogfile = {tmp_path / 'gammu.log'}\n")
    result = subprocess.run([GAMMU, "-c", str(rc), *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"gammu {' '.join(args)} failed: {result.stdout}{result.stderr}"
    pairs = (line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _check_identify(tmp_path, profile_name: str, link) -> None:
    profile = get_profile(profile_name)
    info = _gammu(tmp_path, link, "identify")
    assert info["Manufacturer"] == profile.manufacturer
    assert info["Model"] == f"unknown ({profile.model})"
    assert info["Firmware"] == profile.revision
    assert info["IMEI"] == IDENTITY["imei"]
    assert info["SIM IMSI"] == IDENTITY["imsi"]


def test_gammu_identify(served, tmp_path):
    _check_identify(tmp_path, *served)


def test_gammu_identify_with_the_default_latency(served_with_latency, tmp_path):
    _check_identify(tmp_path, *served_with_latency)


def test_gammu_networkinfo(served, tmp_path):
    _, link = served
    info = _gammu(tmp_path, link, "networkinfo")
    # gammu names 001 01 "TEST" from its own table; LAC/CID are the device's TAC/CI in hex
    assert info["Network state"] == "home network"
    assert info["Network"] == "001 01 (TEST, unknown), LAC 002F, CID 0012BEEF"
    assert info["Name in phone"] == '"Test Network"'
    assert info["Packet network state"] == "home network"
    assert info["Packet network"] == "001 01 (TEST, unknown), LAC 002F, CID 0012BEEF"
    assert info["GPRS"] == "attached"


def test_gammu_monitor(served, tmp_path):
    _, link = served
    info = _gammu(tmp_path, link, "monitor", "1")
    assert (info["Battery level"], info["Charge state"]) == ("100 percent", "powered from battery")  # +CBC: 0,100
    assert info["Phone SMS status"] == "0 used, 0 unread, 255 locations"
    assert info["Signal strength"] == "-73 dBm"
    assert info["Network level"] == "60 percent"
    assert info["Network"] == "001 01 (TEST, unknown), LAC 002F, CID 0012BEEF"


def test_gsmmodem_connect_signal_network_send_and_receive(served):
    from gsmmodem.modem import GsmModem

    _, link = served
    received: list[tuple[str, str]] = []
    arrived = threading.Event()

    def on_sms(sms) -> None:
        received.append((sms.number, sms.text))
        arrived.set()

    modem = GsmModem(str(link), 115200, smsReceivedCallbackFunc=on_sms)
    modem.connect()
    try:
        assert modem.signalStrength == 20
        assert modem.networkName == "Test Network"
        assert modem.imei == IDENTITY["imei"]
        sent = modem.sendSms("+491701234567", "hello from gsmmodem")
        assert sent.reference == 0  # TP-MR of the first MO SMS (TS 23.040 §9.2.3.6)
        (status,) = control_request(control_path_for(link), {"op": "status"})["modems"]
        assert [(s["to"], s["text"]) for s in status["sms_sent"]] == [("+491701234567", "hello from gsmmodem")]

        sms = subprocess.run([*CLI, "modem", "sms", str(link), "--from", "+491709876543", "--text", "hi there"],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert sms.returncode == 0, sms.stderr
        assert arrived.wait(WAIT_S), "the SMS-received callback did not fire"
        assert received == [("+491709876543", "hi there")]
    finally:
        modem.close()


def test_gsmmodem_connect_with_the_default_latency(served_with_latency):
    from gsmmodem.modem import GsmModem

    _, link = served_with_latency
    modem = GsmModem(str(link), 115200)
    modem.connect()
    try:
        assert modem.signalStrength == 20
        assert modem.networkName == "Test Network"
        assert modem.imei == IDENTITY["imei"]
        assert modem.imsi == IDENTITY["imsi"]
    finally:
        modem.close()
