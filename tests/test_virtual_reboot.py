"""A module reset as the host sees it (review S5; reference at-commands.md §8.4, §8.5).

27.007 §8.2 ``AT+CFUN=1,1`` (Quectel BG96 AT Commands Manual +CFUN; SIMCom) and u-blox
``AT+CFUN=15`` / ``16`` (SARA-R4 AT Commands Manual +CFUN) answer ``OK`` and reset the module.
On USB the device then re-enumerates: the open fd fails (EIO / pyserial's "device reports
readiness to read but returned no data"), the node comes back, and the boot URCs (reference §5:
BG96 ``RDY``, ``+CFUN: 1``, then ``+CPIN: READY`` ...) follow. During the boot input is ignored
(§8.4). What survives: the profile stored with ``AT&W`` (V.250 §6.1.3) is restored at the boot;
other TA settings such as +CMEE (27.007 §9.1) fall back to it (``cellfleet.modem.state``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest
import serial
from golden.transcript import Session
from test_driver_support import WAIT_S, wait_for
from test_pty_server import open_port, read_until

from cellfleet.modem.device import StaticDevice
from cellfleet.modem.pty_server import ModemServer
from cellfleet.modem.virtual import VirtualModem

OK = b"\r\nOK\r\n"
#: bg96 boot URCs with a ready SIM (profiles: boot_urcs + sim_ready_urcs; reference §5)
BG96_BOOT = b"".join(
    b"\r\n" + urc + b"\r\n"
    for urc in (b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE", b"+QIND: PB DONE")
)
#: bg96's factory PDP context 1 (27.007 §10.1.1 read form)
CGDCONT_DEFAULT = b'\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0,0,0\r\n'
#: wall seconds the re-enumerated pty stays away in these tests
DOWN_S = 0.3


def link_target(link: Path) -> str | None:
    """Where ``link`` points, None while it is absent (it goes at the hang-up, then comes back)."""
    try:
        return os.readlink(link)
    except FileNotFoundError:
        return None


def serve(tmp_path: Path, **server_kwargs) -> tuple[ModemServer, Path]:
    modem_kwargs = {k: server_kwargs.pop(k) for k in ("boot_s",) if k in server_kwargs}
    modem = VirtualModem("bg96", StaticDevice(), latency_scale=0.0, **modem_kwargs)
    link = tmp_path / "modem0"
    server = ModemServer([modem], [link], reboot_down_s=DOWN_S, **server_kwargs)
    server.start()
    return server, link


# ----------------------------------------------------------------------------- the modem alone
@pytest.mark.parametrize(
    ("profile", "reset", "boot"),
    [
        ("bg96", "AT+CFUN=1,1", BG96_BOOT),
        ("sim7000", "AT+CFUN=1,1", b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n\r\nPB DONE\r\n"),
        ("sara-r410m", "AT+CFUN=16", b""),  # the profile prints no boot URC (+AT: READY is TOBY's)
    ],
)
def test_boot_count_and_output_cut_where_the_modem_reset(profile, reset, boot):
    s = Session(profile, latency_scale=0.0)
    assert s.boot == boot and s.modem.boot_count == 1
    s.modem.receive(f"{reset}\r".encode(), 1.0)
    assert s.modem.boot_count == 2
    answer = f"{reset}\r".encode() + OK
    assert s.modem.take_output_by_boot() == [(1, answer)] + ([(2, boot)] if boot else [])
    assert s.modem.take_output_by_boot() == []
    s.modem.receive(f"{reset}\r".encode(), 2.0)
    assert s.modem.boot_count == 3
    assert s.modem.take_output() == answer + boot  # all of it, as before


def test_a_reset_with_q1_still_counts_a_boot():
    s = Session("bg96", latency_scale=0.0)
    s.at("ATQ1")
    s.at("AT+CFUN=1,1", 1.0)
    assert s.modem.boot_count == 2  # no OK to see (V.250 §6.2.5), yet the server learns of it


def test_takes_input_is_false_while_booting_and_asleep():
    device = StaticDevice(sleep_windows=[(10.0, 20.0)])
    s = Session("bg96", device, boot_s=3.0, latency_scale=0.0)
    assert not s.modem.takes_input(1.0)
    s.wait(3.0)
    assert s.modem.takes_input(3.0)
    assert not s.modem.takes_input(15.0)  # PSM sleep (reference §8.11)
    s.at("AT+CFUN=1,1", 30.0)
    assert s.modem.boot_count == 2 and not s.modem.takes_input(31.0)
    assert s.wait(33.0) == BG96_BOOT and s.modem.takes_input(33.0)


# ----------------------------------------------------------------------------- served on a pty
def test_reset_hangs_up_the_pty_and_a_new_one_brings_the_boot_urcs(tmp_path):
    server, link = serve(tmp_path)
    try:
        with open_port(link) as port:
            port.write(b"ATE0\r")
            assert read_until(port, b"ATE0\r" + OK) == BG96_BOOT + b"ATE0\r" + OK
            port.write(b"AT&W;+CMEE=2;+CREG=2\r")  # E0 stored; +CMEE=2 and +CREG=2 set after &W
            assert read_until(port, OK) == OK
            old_slave = os.readlink(link)
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, OK) == OK  # the reset's OK reaches the host first
            with pytest.raises((serial.SerialException, OSError)):  # then the device is gone
                for _ in range(int(WAIT_S / 0.2)):
                    port.write(b"AT\r")
                    port.read(1)
            wait_for(lambda: link_target(link) not in (None, old_slave), "a new pty under the link")
            assert os.readlink(link) == server.slave_paths[0]
        with open_port(link) as port:
            port.write(b"AT+CMEE?;+CREG?\r")
            # boot URCs first, then the answer: no echo (E0 was stored), +CMEE and +CREG reset
            assert read_until(port, OK) == BG96_BOOT + b"\r\n+CMEE: 0\r\n\r\n+CREG: 0,1\r\n" + OK
    finally:
        server.stop()


def test_input_after_the_resets_ok_is_lost(tmp_path):
    server, link = serve(tmp_path)
    try:
        with open_port(link) as port:
            port.write(b"ATE0\r")
            read_until(port, b"ATE0\r" + OK)
            old_slave = os.readlink(link)
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, OK) == OK
            # +CGDCONT is non-volatile (27.007 §10.1.1; state.py): had the rebooted modem taken
            # this line, the new session would see it. It reaches a resetting module, or a pty
            # that already hung up; either way it is lost.
            with contextlib.suppress(serial.SerialException, OSError):
                port.write(b'AT+CGDCONT=1,"IP","lost"\r')
            wait_for(lambda: link_target(link) not in (None, old_slave), "a new pty under the link")
        with open_port(link) as port:
            port.write(b"AT+CGDCONT?\r")
            assert read_until(port, OK) == BG96_BOOT + b"AT+CGDCONT?\r" + CGDCONT_DEFAULT + OK
    finally:
        server.stop()


def test_without_reboot_hangup_the_modem_reboots_in_place(tmp_path):
    server, link = serve(tmp_path, reboot_hangup=False)
    try:
        with open_port(link) as port:
            port.write(b"AT\r")
            assert read_until(port, b"AT\r" + OK) == BG96_BOOT + b"AT\r" + OK
            slave = os.readlink(link)
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, b"+QIND: PB DONE\r\n") == b"AT+CFUN=1,1\r" + OK + BG96_BOOT
            port.write(b"AT\r")
            assert read_until(port, OK) == b"AT\r" + OK
            assert os.readlink(link) == slave
    finally:
        server.stop()


def test_input_during_boot_is_unanswered_and_kept_out_of_the_session_tracker(tmp_path):
    # boot_s: simulated seconds at speed 1 from the server's start; the client writes at once
    server, link = serve(tmp_path, boot_s=3.0)
    try:
        with open_port(link) as port:
            port.write(b"AT\r")  # during the boot: no echo, no answer (reference §8.4)
            assert read_until(port, b"+QIND: PB DONE\r\n") == BG96_BOOT
            # a URC-shaped answer left unread: the tracker must pair it with its own line, not
            # with the ignored AT, or it would be kept for the next client as a URC (review B3)
            port.write(b"AT+CREG?\r")
        wait_for(lambda: not server.attached(0), "the detach")
        with open_port(link) as port:
            port.write(b"AT\r")
            assert read_until(port, OK) == b"AT\r" + OK
    finally:
        server.stop()


def test_reset_with_boot_time_brings_the_new_pty_before_the_boot_urcs(tmp_path):
    server, link = serve(tmp_path, boot_s=3.0)
    try:
        with open_port(link) as port:
            assert read_until(port, b"+QIND: PB DONE\r\n") == BG96_BOOT
            old_slave = os.readlink(link)
            port.write(b"AT+CFUN=1,1\r")
            assert read_until(port, OK) == b"AT+CFUN=1,1\r" + OK
            wait_for(lambda: link_target(link) not in (None, old_slave), "a new pty under the link")
        with open_port(link) as port:  # 0.3 s after the hang-up, well within the 3 s boot
            port.write(b"AT\r")  # ignored: the module is booting
            assert read_until(port, b"+QIND: PB DONE\r\n") == BG96_BOOT
            port.write(b"AT\r")
            assert read_until(port, OK) == b"AT\r" + OK
    finally:
        server.stop()


def test_reset_drops_a_tcp_client_after_its_ok(tmp_path):
    server, _link = serve(tmp_path, tcp=("127.0.0.1", 0))
    try:
        address = server.tcp_addresses[0]
        with socket.create_connection(address, timeout=WAIT_S) as conn:
            conn.sendall(b"ATE0\r")
            data = b""
            while not data.endswith(b"ATE0\r" + OK):
                data += conn.recv(4096)
            conn.sendall(b"AT+CFUN=1,1\r")
            data = b""
            while chunk := conn.recv(4096):  # until the server closes the connection
                data += chunk
            assert data == OK  # the reset's OK, then the device left the bus
        wait_for(lambda: server.slave_paths[0] is not None, "the new pty")
        with socket.create_connection(address, timeout=WAIT_S) as conn:
            conn.sendall(b"AT\r")  # live at the first byte: the kept boot URCs, then the answer
            data = b""
            while not data.endswith(b"AT\r" + OK):
                data += conn.recv(4096)
            assert data == BG96_BOOT + b"AT\r" + OK  # ATE0 was not stored
    finally:
        server.stop()
