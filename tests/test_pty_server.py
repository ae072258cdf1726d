"""ModemServer: virtual modems on real ptys, talked to by real pyserial clients.

Expected bytes follow V.250 §5.7/§6.2.4 (echo of every byte, ``<CR><LF>text<CR><LF>`` framing),
TS 27.005 §3.4.1 (``+CMTI: <mem>,<index>``; the virtual modem's storage "ME" numbers from 0) and
the ``generic`` / ``bg96`` profiles (``cellfleet.modem.profiles``). The output rule for detached
ports is the one in ``cellfleet.modem.pty_server``'s docstring.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from pathlib import Path

import pytest
import serial

from cellfleet.modem.control import ControlError, control_path_for, request
from cellfleet.modem.device import StaticDevice
from cellfleet.modem.pty_port import SessionTracker
from cellfleet.modem.pty_server import ModemServer
from cellfleet.modem.virtual import VirtualModem

WAIT_S = 10.0  # generous: real I/O on a loaded 2-core machine
CMTI_0 = b'\r\n+CMTI: "ME",0\r\n'
CMTI_1 = b'\r\n+CMTI: "ME",1\r\n'


def read_until(port: serial.Serial, terminator: bytes, timeout_s: float = WAIT_S) -> bytes:
    """Everything read up to and including the first ``terminator`` (fails after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while terminator not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {terminator!r} within {timeout_s} s; got {data!r}")
        data += port.read(max(1, port.in_waiting))
    assert data.endswith(terminator), f"bytes after {terminator!r}: {data!r}"
    return data


def wait_for(condition, what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def listen_only(server: ModemServer, until: bytes) -> bytes:
    """What a client that opens modem 0's pty without flushing or writing reads, up to ``until``
    (or whatever came within ``WAIT_S``)."""
    fd = os.open(server.slave_paths[0], os.O_RDWR | os.O_NOCTTY)
    try:
        deadline, data = time.monotonic() + WAIT_S, b""
        while not data.endswith(until) and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                data += os.read(fd, 64)
        return data
    finally:
        os.close(fd)


def open_port(path: str | Path) -> serial.Serial:
    return serial.Serial(str(path), 115200, timeout=0.2)


def make_server(tmp_path: Path, profile: str = "generic", count: int = 1, **kwargs) -> ModemServer:
    modems = [VirtualModem(profile, StaticDevice(), latency_scale=0.0) for _ in range(count)]
    links = [tmp_path / f"modem{i}" for i in range(count)]
    server = ModemServer(modems, links, **kwargs)
    server.start()
    return server


@pytest.fixture
def server(tmp_path):
    srv = make_server(tmp_path)
    yield srv
    srv.stop()


def test_link_points_at_the_pty_and_echo_is_byte_exact(server, tmp_path):
    link = tmp_path / "modem0"
    assert server.paths == [str(link)]
    assert os.readlink(link) == server.slave_paths[0]
    assert server.slave_paths[0].startswith("/dev/pts/")
    with open_port(link) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"
        port.write(b"AT+CGMI\r\n")  # CR LF: the LF is echoed too (reference §1)
        assert read_until(port, b"OK\r\n") == b"AT+CGMI\r\n\r\nCellfleet\r\n\r\nOK\r\n"


def test_byte_by_byte_writes_are_one_command(server, tmp_path):
    with open_port(tmp_path / "modem0") as port:
        for byte in b"AT+CGMM\r":
            port.write(bytes([byte]))
            port.flush()
        assert read_until(port, b"OK\r\n") == b"AT+CGMM\r\r\nGeneric-27007\r\n\r\nOK\r\n"


def test_plain_pty_path_works_with_serial_for_url(server):
    with serial.serial_for_url(server.slave_paths[0], 115200, timeout=0.2) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"


def test_state_survives_reconnect(server, tmp_path):
    link = tmp_path / "modem0"
    with open_port(link) as port:
        port.write(b"ATE0\r")
        assert read_until(port, b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
        port.write(b"AT+CMEE=1\r")
        assert read_until(port, b"OK\r\n") == b"\r\nOK\r\n"
    wait_for(lambda: not server.attached(0), "the detach")
    with open_port(link) as port:
        port.write(b"AT+CMEE?\r")
        assert read_until(port, b"OK\r\n") == b"\r\n+CMEE: 1\r\n\r\nOK\r\n"  # no echo: E0 kept


@pytest.mark.parametrize(
    "left_unread",
    [
        [b"AT+CGMI\r"],
        # URC-shaped answers (27.007 §7.2 +CREG, §8.3 +CPIN, §8.2 +CFUN) are answers, not URCs:
        # the server tracks the host's command lines (review B3)
        [b"AT+CREG?;+CPIN?;+CFUN?\r"],
        [b"ATE0\r", b"AT+CREG?;+CPIN?;+CFUN?\r"],
        [b"ATE0\r", b"AT+CREG=2\r", b"AT+CREG?\r", b"AT+CGREG?\r"],
    ],
)
def test_next_client_gets_no_stale_echo_or_response(server, tmp_path, left_unread):
    link = tmp_path / "modem0"
    with open_port(link) as port:  # a client that sends and leaves without reading
        wait_for(lambda: server.attached(0), "the attach")
        for line in left_unread:
            port.write(line)
            port.flush()
    wait_for(lambda: not server.attached(0), "the detach")
    echo = b"" if b"ATE0\r" in left_unread else b"AT\r"
    with open_port(link) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == echo + b"\r\nOK\r\n"


def test_stale_answer_is_dropped_when_the_next_client_only_listens(server, tmp_path):
    """The review's repro (``p1.py``): the next client sends nothing and gets nothing, not even
    after the grace time; a URC that arrives meanwhile is still kept for it."""
    link = tmp_path / "modem0"
    with open_port(link) as port:
        port.write(b"ATE0\r")
        assert read_until(port, b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
        port.write(b"AT+CREG?;+CPIN?;+CFUN?\r")
        port.flush()
    wait_for(lambda: not server.attached(0), "the detach")
    server.inject_sms(0, "+491701234567", "kept")
    assert listen_only(server, until=CMTI_0) == CMTI_0


def test_urc_while_detached_reaches_the_next_client_once(server, tmp_path):
    link = tmp_path / "modem0"
    server.inject_sms(0, "+491701234567", "while nobody listens")
    with open_port(link) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == CMTI_0 + b"AT\r\r\nOK\r\n"
    wait_for(lambda: not server.attached(0), "the detach")
    with open_port(link) as port:  # delivered once: not again
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"


def test_urc_left_unread_is_kept_for_the_next_client(server, tmp_path):
    link = tmp_path / "modem0"
    with open_port(link) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"
        port.write(b"AT+CGMI\r")  # its echo and answer stay unread: dropped at detach
        server.inject_sms(0, "+491701234567", "unread")  # returns once written to the pty
    wait_for(lambda: not server.attached(0), "the detach")
    with open_port(link) as port:
        port.write(b"AT\r")
        data = read_until(port, b"OK\r\n")
    assert data == CMTI_0 + b"AT\r\r\nOK\r\n"


def test_only_the_urcs_left_unread_are_kept_among_answers(server, tmp_path):
    """A URC the client read is delivered; one it left unread between URC-shaped answers is kept
    (27.007 §7.2: ``+CREG: 0,1`` answers ``AT+CREG?``; 27.005 §3.4.1 ``+CMTI`` is a URC)."""
    link = tmp_path / "modem0"
    with open_port(link) as port:
        port.write(b"ATE0\r")
        assert read_until(port, b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
        server.inject_sms(0, "+491701234567", "read")
        assert read_until(port, CMTI_0) == CMTI_0
        port.write(b"AT+CREG?\r")
        wait_for(lambda: port.in_waiting >= len(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"), "the +CREG answer")
        server.inject_sms(0, "+491701234567", "unread")
        port.write(b"AT+CPIN?\r")
        port.flush()
    wait_for(lambda: not server.attached(0), "the detach")
    with open_port(link) as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == CMTI_1 + b"\r\nOK\r\n"


def test_kept_urcs_a_client_did_not_read_either_are_kept_again(server, tmp_path):
    server.inject_sms(0, "+491701234567", "held")
    fd = os.open(server.slave_paths[0], os.O_RDWR | os.O_NOCTTY)  # gets it after the grace time
    wait_for(lambda: server.attached(0), "the attach")
    wait_for(lambda: select.select([fd], [], [], 0.05)[0] != [], "the kept URC")
    os.close(fd)  # unread
    wait_for(lambda: not server.attached(0), "the detach")
    with open_port(tmp_path / "modem0") as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == CMTI_0 + b"AT\r\r\nOK\r\n"


def test_session_tracker_tells_answers_from_urcs():
    """What the host writes decides which output lines answer it (V.250 §5.7.1; 27.007 §7.2
    +CREG; Quectel BG96 TCP/IP manual §2.2.7: ``+QISEND=<id>,<len>`` then exactly <len> bytes,
    here ``AT\\r\\nX`` which is data, not a command line)."""
    tracker = SessionTracker()

    def urcs(data: bytes) -> list[tuple[int, str]]:
        return [(end, urc.text) for end, urc in tracker.output(data)]

    assert urcs(b"\r\n+CREG: 1\r\n") == [(11, "+CREG: 1")]  # nothing pending: a URC
    tracker.host_input(b"AT+CREG?;+CPIN?\r")
    assert urcs(b"AT+CREG?;+CPIN?\r\r\n+CREG: 0,1\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n") == []
    tracker.host_input(b"AT+QISEND=0,5\r")
    assert urcs(b"AT+QISEND=0,5\r\r\n> ") == []
    tracker.host_input(b"AT\r\nX")  # the 5 counted payload bytes
    tracker.host_input(b"AT+CGMI\r")  # typed ahead: pending after the +QISEND line's final
    assert urcs(b'AT\r\nX\r\nSEND OK\r\n\r\n+QIURC: "closed",0\r\n') == [(37, '+QIURC: "closed",0')]
    assert tracker.responses.pending == "AT+CGMI"
    assert urcs(b"\r\nCellfleet\r\n\r\nOK\r\n\r\n+CREG: 0\r\n") == [(30, "+CREG: 0")]
    assert tracker.responses.pending is None

def test_urc_while_attached_arrives_live(server, tmp_path):
    with open_port(tmp_path / "modem0") as port:
        port.write(b"AT\r")
        read_until(port, b"OK\r\n")
        server.inject_sms(0, "+491701234567", "one")
        server.inject_sms(0, "+491701234567", "two")
        assert read_until(port, CMTI_1) == CMTI_0 + CMTI_1


def test_listen_only_client_gets_held_urcs_after_the_grace_time(server):
    server.inject_sms(0, "+491701234567", "held")
    assert listen_only(server, until=CMTI_0) == CMTI_0


def test_vanish_closes_the_port_and_a_new_pty_appears_under_the_link(tmp_path):
    server = make_server(tmp_path, profile="bg96")
    link = tmp_path / "modem0"
    try:
        with open_port(link) as port:
            port.write(b"ATE0\r")
            read_until(port, b"ATE0\r\r\nOK\r\n")
            old_slave = server.slave_paths[0]
            server.vanish(0, down_s=0.5)
            assert not os.path.lexists(link)  # gone, as /dev/ttyUSB2 is during re-enumeration
            with pytest.raises(serial.SerialException):
                port.write(b"AT\r")
                port.read(1)
        wait_for(lambda: os.path.lexists(link), "the link to come back")
        assert os.readlink(link) == server.slave_paths[0]
        with open_port(link) as port:
            port.write(b"AT\r")
            data = read_until(port, b"\r\nOK\r\n")
        # the BG96 boot and SIM-ready URCs again (reference §5), then the answer without echo:
        # ATE0 survived, the modem was not rebooted
        boot = [b"RDY", b"+CFUN: 1", b"+CPIN: READY", b"+QUSIM: 1", b"+QIND: SMS DONE", b"+QIND: PB DONE"]
        assert data == b"".join(b"\r\n" + urc + b"\r\n" for urc in boot) + b"\r\nOK\r\n"
        assert old_slave is not None
    finally:
        server.stop()


def _server_thread() -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == "cellfleet-modem-server")


def _thread_cpu_s(thread: threading.Thread) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _idle_cpu_fraction(wall_s: float = 2.0) -> float:
    thread = _server_thread()
    cpu0, wall0 = _thread_cpu_s(thread), time.monotonic()
    time.sleep(wall_s)  # measuring idleness needs wall time to pass; nothing waits on it
    return (_thread_cpu_s(thread) - cpu0) / (time.monotonic() - wall0)


def test_idle_server_sleeps_with_and_without_a_client(server, tmp_path):
    assert _idle_cpu_fraction() < 0.05  # never attached
    with open_port(tmp_path / "modem0") as port:
        port.write(b"AT\r")
        read_until(port, b"OK\r\n")
        assert _idle_cpu_fraction() < 0.05  # attached, quiet
    wait_for(lambda: not server.attached(0), "the detach")
    assert _idle_cpu_fraction() < 0.05  # after a client left: no EIO loop on the master


def test_mute_drops_output_and_inject_writes_raw_bytes(server, tmp_path):
    with open_port(tmp_path / "modem0") as port:
        port.write(b"ATE0\r")
        read_until(port, b"OK\r\n")
        server.mute(0, True)
        port.write(b"AT+CMEE=1\r")  # answered while muted: its OK is dropped
        # the pty hands the bytes to the master asynchronously: wait until the modem has run them
        wait_for(lambda: server.modems[0].state.settings.cmee == 1, "the muted command to run")
        server.inject(0, b"\xff\x00garbage\r\n")
        assert read_until(port, b"garbage\r\n") == b"\xff\x00garbage\r\n"
        server.mute(0, False)
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"\r\nOK\r\n"


def test_errors_of_calls_into_the_loop_reach_the_caller_and_serving_goes_on(server, tmp_path):
    with pytest.raises(IndexError):
        server.inject_sms(1, "+491701234567", "no modem 1")
    with open_port(tmp_path / "modem0") as port:
        port.write(b"AT\r")
        assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"


def test_control_socket_status_and_sms(server, tmp_path):
    link = tmp_path / "modem0"
    ctl = control_path_for(link)
    status = request(ctl, {"op": "status"})
    (modem,) = status["modems"]
    assert modem["link"] == str(link) and modem["path"] == server.slave_paths[0]
    assert modem["profile"] == "generic" and modem["imei"] == StaticDevice().imei
    assert modem["registration"]["stat"] == 1 and modem["registration"]["plmn"] == "00101"
    assert modem["registration"]["tac"] == 0x002F and modem["attached"] is False
    assert status["now_s"] >= 0.0
    with open_port(link) as port:
        port.write(b"AT\r")
        read_until(port, b"OK\r\n")
        assert request(ctl, {"op": "sms", "modem": 0, "from": "+491701234567", "text": "hi"}) == {"ok": True}
        assert read_until(port, CMTI_0) == CMTI_0
        assert request(ctl, {"op": "status"})["modems"][0]["attached"] is True


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"op": "reboot"}, "unknown op 'reboot'; expected 'sms' or 'status'"),
        ({"op": "sms", "modem": 3, "from": "+1", "text": "x"}, "'modem' must be an index from 0 to 0, got 3"),
        ({"op": "sms", "modem": 0, "text": "x"}, "sms needs 'from': the sender's number as a string"),
        ({"op": "sms", "modem": 0, "from": "+1"}, "sms needs 'text': a string"),
    ],
)
def test_control_socket_rejects_bad_requests(server, tmp_path, message, error):
    with pytest.raises(ControlError) as excinfo:
        request(control_path_for(tmp_path / "modem0"), message)
    assert str(excinfo.value) == error


def test_control_socket_answers_garbage_with_an_error(server, tmp_path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(WAIT_S)
        sock.connect(str(control_path_for(tmp_path / "modem0")))
        sock.sendall(b"not json\n[1]\n")
        answer = b""
        while answer.count(b"\n") < 2:
            answer += sock.recv(4096)
    first, second = answer.decode().splitlines()
    assert first.startswith('{"ok": false, "error": "request is not JSON')
    assert second == '{"ok": false, "error": "request must be a JSON object"}'


def test_control_client_that_does_not_read_stalls_nobody(server, tmp_path):
    """Review S6: answers wait in a per-connection buffer, the loop never blocks on a send. A
    client sends 2000 status requests (far more answer bytes than the socket buffers hold) and
    reads nothing while a pty client is served; then it gets all 2000 answers, in full."""
    requests = 2000
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(WAIT_S)
        sock.connect(str(control_path_for(tmp_path / "modem0")))
        sock.sendall(b'{"op": "status"}\n' * requests)
        with open_port(tmp_path / "modem0") as port:
            for _ in range(3):
                port.write(b"AT\r")
                assert read_until(port, b"OK\r\n") == b"AT\r\r\nOK\r\n"
        sock.shutdown(socket.SHUT_WR)  # half-close: the answers still come
        answer = bytearray()
        while chunk := sock.recv(1 << 16):
            answer += chunk
    lines = answer.decode().splitlines()
    assert len(lines) == requests
    assert len(answer) > 1 << 20  # more than the kernel buffers: the server had to wait to send
    assert {json.loads(line)["ok"] for line in lines} == {True}

def test_tcp_serves_each_modem_on_its_own_port(tmp_path):
    server = make_server(tmp_path, count=2, tcp=("127.0.0.1", 0))
    try:
        assert len(server.tcp_addresses) == 2
        for i, (host, port_number) in enumerate(server.tcp_addresses):
            with serial.serial_for_url(f"socket://{host}:{port_number}", timeout=0.2) as port:
                port.write(b"AT+CMEE=%d\r" % (i + 1))
                assert read_until(port, b"OK\r\n") == b"AT+CMEE=%d\r\r\nOK\r\n" % (i + 1)
                port.write(b"AT+CMEE?\r")
                assert read_until(port, b"OK\r\n") == b"AT+CMEE?\r\r\n+CMEE: %d\r\n\r\nOK\r\n" % (i + 1)
    finally:
        server.stop()


def test_tcp_client_gets_urcs_held_while_detached(tmp_path):
    server = make_server(tmp_path, tcp=("127.0.0.1", 0))
    try:
        server.inject_sms(0, "+491701234567", "held")
        host, port_number = server.tcp_addresses[0]
        with serial.serial_for_url(f"socket://{host}:{port_number}", timeout=0.2) as port:
            assert read_until(port, CMTI_0) == CMTI_0
    finally:
        server.stop()


def test_stop_removes_links_and_control_socket(tmp_path):
    server = make_server(tmp_path, count=2)
    assert control_path_for(tmp_path / "modem0").is_socket()
    assert os.readlink(control_path_for(tmp_path / "modem1")) == str(control_path_for(tmp_path / "modem0"))
    server.stop()
    assert sorted(os.listdir(tmp_path)) == []


def test_stale_link_is_replaced_and_a_regular_file_is_refused(tmp_path):
    link = tmp_path / "modem0"
    os.symlink("/dev/pts/does-not-exist", link)
    server = make_server(tmp_path)
    try:
        assert os.readlink(link) == server.slave_paths[0]
    finally:
        server.stop()
    link.write_text("precious")
    modem = VirtualModem("generic", StaticDevice(), latency_scale=0.0)
    with pytest.raises(FileExistsError, match="exists and is not a symlink"):
        ModemServer([modem], [link]).start()
    assert link.read_text() == "precious"


def test_simulated_time_runs_at_speed(tmp_path):
    modem = VirtualModem("generic", StaticDevice(), latency_scale=0.0)
    server = ModemServer([modem], speed=60.0, start_s=1000.0)
    assert server.now_s() == 1000.0  # not started: the clock stands at start_s
    server.start()
    try:
        wall0, sim0 = time.monotonic(), server.now_s()
        wait_for(lambda: server.now_s() >= sim0 + 6.0, "simulated time to advance")
        wall_s, sim_s = time.monotonic() - wall0, server.now_s() - sim0
        assert sim_s == pytest.approx(60.0 * wall_s, rel=0.05)
    finally:
        server.stop()


def test_stopping_the_server_bills_the_sockets_still_open(tmp_path):
    """A BG96 TCP connection is open (5 B sent, echoed) when the server stops: the modem is
    switched off, which closes and bills it like a close (325 B up, 221 B down on IPv4, as
    tests/test_virtual_sockets.py works out by hand)."""
    srv = make_server(tmp_path, "bg96")
    device = srv.modems[0].device
    try:
        with open_port(tmp_path / "modem0") as port:
            for command, until in ((b"ATE0\r", b"OK\r\n"), (b"AT+QIACT=1\r", b"OK\r\n"),
                                   (b'AT+QIOPEN=1,0,"TCP","192.0.2.10",7,0,0\r', b"+QIOPEN: 0,0\r\n"),
                                   (b"AT+QISEND=0,5\r", b"> "), (b"hello", b"SEND OK\r\n"),
                                   (b"", b'+QIURC: "recv",0\r\n')):  # fmt: skip
                port.write(command)
                read_until(port, until)
        assert device.sessions == []
    finally:
        srv.stop()
    ((up, down),) = [(s.uplink_ip_bytes, s.downlink_ip_bytes) for s in device.sessions]
    assert (up, down) == (325, 221)
