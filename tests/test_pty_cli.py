"""``cellfleet modem serve`` / ``cellfleet modem sms``: in a subprocess as a lab runs them, and
their option errors. Identities follow the fleet's plan (``cellfleet.sim.fleet``: IMEI TAC
00101000 + serial + Luhn check digit, TS 23.003 §6.2.1 / Annex B; IMSI 00101 + serial; ICCID
8988201 + serial + Luhn, ITU-T E.118)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import serial
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cellfleet.cli import main
from cellfleet.modem.cli import numbered_links, static_identity

WAIT_S = 10.0
CLI = [sys.executable, "-c", "from cellfleet.cli import main; main()"]


def luhn_ok(number: str) -> bool:
    """ISO/IEC 7812-1 Luhn check over the whole number (check digit included)."""
    total = 0
    for pos, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if pos % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_numbered_links():
    assert numbered_links("./modem0", 3) == ["./modem0", "./modem1", "./modem2"]
    assert numbered_links("lab/m09", 2) == ["lab/m09", "lab/m10"]
    assert numbered_links("lab/ttyV", 2) == ["lab/ttyV0", "lab/ttyV1"]
    assert numbered_links("./modem", 1) == ["./modem"]


@given(st.from_regex(r"[a-z/._]{0,8}[0-9]{0,3}", fullmatch=True), st.integers(1, 200))
def test_numbered_links_are_distinct_and_start_with_the_given_path(link, count):
    links = numbered_links(link, count)
    assert len(set(links)) == count
    keeps_the_path = count == 1 or re.search(r"\d$", link) is not None
    assert links[0] == (link if keeps_the_path else link + "0")


def test_static_identities_hand_derived():
    # index 0: IMEI body 00101000000000 -> Luhn sum 2 -> check 8; ICCID body 898820100000000000
    # -> sum 35 -> check 5; index 1: IMEI body ...01 -> the doubled 1 adds 2 -> check 6.
    assert static_identity(0) == {"imei": "001010000000008", "imsi": "001010000000000",
                                  "iccid": "8988201000000000005", "msisdn": "+8823000000000"}  # fmt: skip
    assert static_identity(1)["imei"] == "001010000000016"
    assert static_identity(1)["imsi"] == "001010000000001"


def test_static_identities_follow_the_fleet_plan():
    from cellfleet.sim.fleet import identities

    indexes = [0, 1, 9, 10, 99_999, 999_999, 1_000_000, 12_345_678]
    iccids, imsis, imeis = (column.to_pylist() for column in identities(indexes))
    for i, index in enumerate(indexes):
        assert static_identity(index) | {"msisdn": ""} == {"imei": imeis[i], "imsi": imsis[i], "iccid": iccids[i], "msisdn": ""}


@given(st.integers(0, 10**6 - 1))
def test_static_identities_are_luhn_valid(index):
    ids = static_identity(index)
    assert len(ids["imei"]) == 15 and luhn_ok(ids["imei"])
    assert len(ids["iccid"]) == 19 and luhn_ok(ids["iccid"]) and ids["iccid"].startswith("8988")
    assert ids["imsi"] == f"00101{index:010d}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "nope"], "Invalid value for '--profile': 'nope' is not one of"),
        (["--count", "0"], "Invalid value for '--count': 0 is not in the range x>=1"),
        (["--speed", "0"], "Invalid value for '--speed': 0.0 is not in the range x>0"),
        (["--tcp", "localhost"], "Invalid value for '--tcp': expected HOST:PORT (e.g. 127.0.0.1:7000), got 'localhost'"),
        (["--tcp", "127.0.0.1:99999"], "expected HOST:PORT"),
        (["--device", "3"], "Error: --device needs --scenario"),
        (["--seed", "3"], "Error: --seed needs --scenario"),
    ],
)
def test_serve_rejects_bad_options(args, message):
    result = CliRunner().invoke(main, ["modem", "serve", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_to_replace_a_regular_file(tmp_path):
    precious = tmp_path / "modem0"
    precious.write_text("keep me")
    result = CliRunner().invoke(main, ["modem", "serve", "--link", str(precious), "--latency-scale", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {precious} exists and is not a symlink; refusing to replace it"
    assert precious.read_text() == "keep me"


def test_serve_link_in_a_missing_directory_is_a_one_line_error(tmp_path):
    link = tmp_path / "no" / "dir" / "modem0"
    result = CliRunner().invoke(main, ["modem", "serve", "--link", str(link), "--latency-scale", "0"])
    assert result.exit_code == 1
    assert result.output == f"Error: cannot create link {link}: directory {link.parent} does not exist\n"


def test_sms_without_a_server_names_the_socket(tmp_path):
    result = CliRunner().invoke(main, ["modem", "sms", str(tmp_path / "modem0"), "--from", "+1", "--text", "x"])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: no modem server listens on {tmp_path / 'modem0.ctl'} "
                                     "(No such file or directory)")  # fmt: skip


def read_until(port: serial.Serial, terminator: bytes) -> bytes:
    """Everything read up to the first ``terminator`` (and whatever came in the same read)."""
    deadline, data = time.monotonic() + WAIT_S, b""
    while terminator not in data:
        assert time.monotonic() < deadline, f"no {terminator!r} within {WAIT_S} s; got {data!r}"
        data += port.read(max(1, port.in_waiting))
    return data


def start_serve(*args: str) -> tuple[subprocess.Popen, list[str]]:
    """``cellfleet modem serve ARGS`` in a subprocess; its stdout lines up to the control line."""
    proc = subprocess.Popen([*CLI, "modem", "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    while not lines or not lines[-1].startswith("control -> "):
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise AssertionError(f"serve exited ({proc.wait()}): {proc.stderr.read()}")
        lines.append(line.rstrip("\n"))
    return proc, lines


def test_serve_subprocess_end_to_end(tmp_path):
    link0 = tmp_path / "modem0"
    proc, lines = start_serve("--profile", "bg96", "--link", str(link0), "--count", "2", "--latency-scale", "0")
    try:
        assert len(lines) == 3
        for i, line in enumerate(lines[:2]):
            imei = static_identity(i)["imei"]
            assert re.fullmatch(rf"{re.escape(str(tmp_path))}/modem{i} -> /dev/pts/\d+ \(bg96, IMEI {imei}\)", line), line
            assert os.readlink(tmp_path / f"modem{i}") == line.split(" -> ")[1].split(" ")[0]
        assert lines[2] == f"control -> {tmp_path / 'modem0.ctl'}"
        with serial.Serial(str(tmp_path / "modem1"), 115200, timeout=0.2) as port:
            port.write(b"ATE0\r")
            # the BG96 boot and SIM-ready URCs, held since power-on (reference §5), then the answer
            boot = [b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE", b"+QIND: PB DONE"]
            expected = b"".join(b"\r\n" + urc + b"\r\n" for urc in boot) + b"ATE0\r\r\nOK\r\n"
            assert read_until(port, b"ATE0\r\r\nOK\r\n") == expected
            port.write(b"AT+CGSN\r")
            assert read_until(port, b"OK\r\n") == f"\r\n{static_identity(1)['imei']}\r\n\r\nOK\r\n".encode()
            sms = subprocess.run([*CLI, "modem", "sms", str(tmp_path / "modem1"), "--from", "+491701234567",
                                  "--text", "hello"], capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
            assert sms.returncode == 0, sms.stderr
            assert sms.stdout == f"SMS from +491701234567 delivered to modem 1 ({tmp_path / 'modem1'})\n"
            assert read_until(port, b'+CMTI: "ME",0\r\n') == b'\r\n+CMTI: "ME",0\r\n'  # the whole buffer
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT_S)
    assert code == 0, proc.stderr.read()
    assert sorted(os.listdir(tmp_path)) == []  # links and control socket removed


#: bg96 boot URCs with a ready SIM (reference §5; profiles: boot_urcs + sim_ready_urcs)
BG96_BOOT = b"".join(
    b"\r\n" + urc + b"\r\n"
    for urc in (b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE", b"+QIND: PB DONE")
)


def link_target(link: os.PathLike) -> str | None:
    """Where ``link`` points, None while it is absent."""
    try:
        return os.readlink(link)
    except FileNotFoundError:
        return None


def test_serve_boot_s_ignores_input_until_the_boot_urcs_and_no_reboot_hangup_resets_in_place(tmp_path):
    # reference §8.4: input during the boot is ignored (no echo), the boot URCs end it;
    # --no-reboot-hangup: 27.007 §8.2 AT+CFUN=1,1 reboots the module on the same pty
    link = tmp_path / "modem0"
    proc, _ = start_serve("--profile", "bg96", "--link", str(link), "--latency-scale", "0", "--boot-s", "3",
                          "--no-reboot-hangup")  # fmt: skip
    try:
        slave = os.readlink(link)
        with serial.Serial(str(link), 115200, timeout=0.2) as port:
            port.write(b"AT\r")  # within the 3 s boot
            assert read_until(port, b"+QIND: PB DONE\r\n") == BG96_BOOT
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, b"OK\r\n") == b"AT+CFUN=1,1\r\r\nOK\r\n"
            port.write(b"AT\r")  # the reboot's boot: ignored again
            assert read_until(port, b"+QIND: PB DONE\r\n") == BG96_BOOT
            port.write(b"AT\r")
            assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"
        assert os.readlink(link) == slave
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_serve_reset_re_enumerates_the_pty_by_default(tmp_path):
    # reference §8.5: after the reset's OK the device leaves the bus; a new pty appears under the link
    link = tmp_path / "modem0"
    proc, _ = start_serve("--profile", "bg96", "--link", str(link), "--latency-scale", "0")
    try:
        with serial.Serial(str(link), 115200, timeout=0.2) as port:
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, b"AT+CFUN=1,1\r\r\nOK\r\n") == BG96_BOOT + b"AT+CFUN=1,1\r\r\nOK\r\n"
            old_slave = os.readlink(link)
            with pytest.raises((serial.SerialException, OSError)):  # the hang-up, within WAIT_S
                port.write(b"AT\r")  # lost: the module is resetting
                for _ in range(int(WAIT_S / 0.2)):
                    port.read(1)
            deadline = time.monotonic() + WAIT_S
            while link_target(link) in (None, old_slave):  # removed after the hang-up, then replaced
                assert time.monotonic() < deadline, "no new pty under the link"
                time.sleep(0.01)
        with serial.Serial(str(link), 115200, timeout=0.2) as port:
            port.write(b"AT\r")
            assert read_until(port, b"AT\r\r\nOK\r\n") == BG96_BOOT + b"AT\r\r\nOK\r\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_serve_stops_on_sigint(tmp_path):
    proc, _ = start_serve("--link", str(tmp_path / "m"), "--latency-scale", "0")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=WAIT_S) == 0
    assert "Traceback" not in proc.stderr.read()
    assert not os.path.lexists(tmp_path / "m")


def test_serve_tcp_prints_the_socket_url(tmp_path):
    proc, lines = start_serve("--link", str(tmp_path / "modem0"), "--tcp", "127.0.0.1:0", "--latency-scale", "0")
    try:
        (url,) = [line.split(" -> ")[1] for line in lines if " tcp -> " in line]
        assert re.fullmatch(r"socket://127\.0\.0\.1:\d+", url)
        with serial.serial_for_url(url, timeout=0.2) as port:
            port.write(b"AT+CGMI\r")
            assert read_until(port, b"OK\r\n") == b"AT+CGMI\r\r\nCellfleet\r\n\r\nOK\r\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_serve_sms_to_an_unserved_link_is_a_usage_error(tmp_path):
    proc, _ = start_serve("--link", str(tmp_path / "modem0"), "--latency-scale", "0")
    try:
        other = tmp_path / "other"
        os.symlink(str(tmp_path / "modem0.ctl"), tmp_path / "other.ctl")
        result = CliRunner().invoke(main, ["modem", "sms", str(other), "--from", "+1", "--text", "x"])
        assert result.exit_code == 2
        assert f"Error: {other} is not served by the server at {tmp_path / 'other.ctl'}" in result.output
        os.unlink(tmp_path / "other.ctl")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_tcp_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["modem", "serve", "--link", str(tmp_path / "m"), "--tcp", f"127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: [Errno 98] Address already in use")
    assert not os.path.lexists(tmp_path / "m")



def test_serve_scenario_device_carries_the_fleet_identity(tmp_path):
    proc, lines = start_serve("--scenario", "border-crossing", "--device", "3", "--count", "2",
                              "--link", str(tmp_path / "modem0"), "--latency-scale", "0")  # fmt: skip
    try:
        for i, line in enumerate(lines[:2]):  # modem i is scenario device 3 + i
            assert line.endswith(f"(generic, IMEI {static_identity(3 + i)['imei']})"), line
        with serial.Serial(str(tmp_path / "modem1"), 115200, timeout=0.2) as port:
            port.write(b"AT+CIMI\r")
            assert read_until(port, b"OK\r\n") == f"AT+CIMI\r\r\n{static_identity(4)['imsi']}\r\n\r\nOK\r\n".encode()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_serve_scenario_error_names_only_the_options_given():
    """--device was not given: the error must not claim ``--device 0`` (review §3)."""
    result = CliRunner().invoke(main, ["modem", "serve", "--scenario", "border-crossing", "--count", "2001"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == ("Error: --scenario border-crossing: device 2000 is not in the scenario's "
                                              "fleet of 2000 devices (0..1999)")  # fmt: skip


def test_serve_scenario_device_out_of_range_is_a_usage_error():
    result = CliRunner().invoke(main, ["modem", "serve", "--scenario", "border-crossing", "--device", "1999", "--count", "2"])
    assert result.exit_code == 2
    assert "Error: --scenario border-crossing --device 1999: device 2000 is not in the scenario's fleet of 2000 devices (0..1999)" in result.output
    assert "Traceback" not in result.output


def test_serve_peer_refuse_makes_socket_connects_fail(tmp_path):
    """--peer refuse: the far end refuses TCP connections, so a BG96 +QIOPEN reports 566
    (connect failed, BG96 TCP/IP note §4) after the simulated connect time."""
    proc, _ = start_serve("--profile", "bg96", "--peer", "refuse", "--latency-scale", "0",
                          "--link", str(tmp_path / "modem0"))  # fmt: skip
    try:
        with serial.Serial(str(tmp_path / "modem0"), 115200, timeout=0.2) as port:
            port.write(b"ATE0\r")
            read_until(port, b"OK\r\n")
            port.write(b"AT+QIACT=1\r")
            assert read_until(port, b"OK\r\n") == b"\r\nOK\r\n"
            port.write(b'AT+QIOPEN=1,0,"TCP","192.0.2.10",7,0,0\r')
            assert read_until(port, b"+QIOPEN: 0,566\r\n") == b"\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_status_shows_the_socket_session_billed_through_the_wire_model(tmp_path):
    """A BG96 sends 5 B over TCP to the echo peer, gets them back and closes: ``cellfleet modem status`` lists
    the session with its IP bytes (325 up, 221 down: handshake, data, delayed ACK, teardown on
    IPv4 with Linux's options, as tests/test_virtual_sockets.py works out by hand)."""
    import json

    link = tmp_path / "modem0"
    proc, _ = start_serve("--profile", "bg96", "--latency-scale", "0", "--link", str(link))
    try:
        with serial.Serial(str(link), 115200, timeout=0.2) as port:
            for command, until in ((b"ATE0\r", b"OK\r\n"), (b"AT+QIACT=1\r", b"OK\r\n"),
                                   (b'AT+QIOPEN=1,0,"TCP","192.0.2.10",7,0,0\r', b"+QIOPEN: 0,0\r\n"),
                                   (b"AT+QISEND=0,5\r", b"> "), (b"hello", b"SEND OK\r\n"),
                                   (b"", b'+QIURC: "recv",0\r\n'),  # the echo is back
                                   (b"AT+QICLOSE=0\r", b"OK\r\n")):  # fmt: skip
                port.write(command)
                read_until(port, until)
        result = CliRunner().invoke(main, ["modem", "status", str(link)])
        assert result.exit_code == 0, result.output
        (session,) = json.loads(result.output)["modems"][0]["sessions"]
        assert {k: session[k] for k in ("protocol", "remote", "uplink_payload_bytes", "uplink_ip_bytes",
                                        "downlink_ip_bytes")} == {  # fmt: skip
            "protocol": "TCP", "remote": "192.0.2.10:7", "uplink_payload_bytes": 5, "uplink_ip_bytes": 325,
            "downlink_ip_bytes": 221}  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0


def test_status_without_a_server_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["modem", "status", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no modem server listens on ") and result.output.count("\n") == 1
