"""ModemDriver under faults (reference §8): the port vanishes mid-command, garbage bytes, silence,
URCs interleaved with responses, SIM busy.

Faults come from ``ModemServer``: ``vanish`` (USB re-enumeration: the pty closes, a new one
appears under the same link), ``mute`` (the modem's output is dropped) and ``inject`` (raw bytes
to the host, also while muted). Muting and injecting the whole answer makes the timing of a
"mid-response" fault deterministic: the test waits until the driver has written the command
(raw log) and then writes the answer it wants the driver to see.
"""

from __future__ import annotations

import threading

import pytest
from test_driver_support import (
    WAIT_S,
    driven,
    events,
    rx_bytes,
    served,
    tx_records,
    wait_for,
    wait_for_tx,
)

from cellfleet.modem.driver import Response
from cellfleet.modem.errors import AtError, AtTimeout, CmeException, PortGone

#: bg96's answer to AT+COPS=? with StaticDevice's networks (27.007 §7.3 test form).
SCAN_ANSWER = (
    '+COPS: (2,"Test Network","TestNet","00101",7),(1,"Roam Partner","Roam","00102",7),'
    '(3,"Forbidden Net","Forbid","00103",7),,(0,1,2,3,4),(0,1,2)'
)


class Background:
    """Runs ``driver.command`` in a thread and keeps its result or exception."""

    def __init__(self, call, *args, **kwargs) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, call, args, kwargs) -> None:
        try:
            self.result = call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def join(self) -> None:
        self._thread.join(WAIT_S * 2)
        assert not self._thread.is_alive(), "the command never returned"


def test_port_vanishing_mid_command_raises_port_gone_then_reconnects_and_resyncs(tmp_path):
    # bg96 takes simulated seconds for AT+COPS=? (profile latency), so it is in flight when the
    # port vanishes; the boot URC RDY comes again on the new pty (reference §5, §8.5).
    with served(tmp_path, "bg96", latency_scale=1.0) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command("AT+CEREG=2")
        boot_urcs: list[str] = []
        driver.subscribe("RDY", boot_urcs.append)
        scan = Background(driver.command, "AT+COPS=?")
        wait_for_tx(tmp_path, b"AT+COPS=?\r")
        sent_before = len(tx_records(tmp_path))
        server.vanish(0, 0.5)
        scan.join()
        assert isinstance(scan.error, PortGone)
        wait_for(lambda: driver.reconnects == 1, "the driver to reopen the port")
        assert driver.command("AT+CGMM") == Response(["BG96"], "OK")
        wait_for(lambda: boot_urcs == ["RDY"], "the boot URC after re-enumeration")
        # After the reopen: the lab routine (the ATQ0 probe once or more: the ESC aborted the
        # scan, whose ERROR may come late), then the URC setting made through the driver.
        resync = tx_records(tmp_path)[sent_before:]
        ats = next(i for i, data in enumerate(resync) if data != b"ATQ0\r" and i > 0)
        assert resync[0] == b"\x1b\r" and set(resync[1:ats]) == {b"ATQ0\r"}
        assert resync[ats:] == [b"ATE0\r", b"ATV1\r", b"AT+CMEE=1\r", b"AT+CEREG=2\r", b"AT+CGMM\r"]
        assert driver.command("AT+CEREG?").lines[0].startswith("+CEREG: 2,")
    logged = events(tmp_path)
    assert any(text.startswith("port lost") for text in logged)
    assert any(text.startswith("reopened") for text in logged)


def test_driver_survives_a_module_reset(tmp_path):
    # 27.007 §8.2 AT+CFUN=1,1 (Quectel BG96 AT Commands Manual +CFUN) answers OK, then the USB
    # device re-enumerates (reference §8.5; pty_faults). The command sent right after the OK
    # reaches a resetting module (its bytes are lost) and fails with PortGone when the old pty
    # hangs up; if the hang-up comes first, the driver waits for the new port and it succeeds.
    # Either way the driver reopens the link, re-syncs, and the next command works.
    with served(tmp_path, "bg96") as server, driven(server, tmp_path) as driver:
        driver.sync()
        boot_urcs: list[str] = []
        driver.subscribe("RDY", boot_urcs.append)
        assert driver.command("AT+CFUN=1,1") == Response([], "OK")
        try:
            answer = driver.command("AT+CGMM")
        except PortGone:  # the command in flight at the hang-up
            wait_for(lambda: driver.reconnects == 1, "the driver to reopen the port")
            answer = driver.command("AT+CGMM")
        assert answer == Response(["BG96"], "OK")
        assert driver.reconnects == 1
        wait_for(lambda: boot_urcs == ["RDY"], "the boot URC on the new pty")
        assert server.modems[0].boot_count == 2
    logged = events(tmp_path)
    assert any(text.startswith("port lost") for text in logged)
    assert any(text.startswith("reopened") for text in logged)


def test_without_reconnect_a_vanished_port_stays_gone(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path, reconnect=False) as driver:
        driver.sync()
        server.vanish(0, 0.2)
        wait_for(lambda: any(t.startswith("port lost") for t in events(tmp_path)), "the loss")
        with pytest.raises(PortGone):
            driver.command("AT")
        assert driver.reconnects == 0


def test_reconnect_gives_up_after_reconnect_timeout(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path, reconnect_timeout_s=0.3) as driver:
        driver.sync()
        server.vanish(0, 60.0)
        with pytest.raises(PortGone):
            driver.command("AT")
        with pytest.raises(PortGone):  # and stays gone
            driver.command("AT")


def test_garbage_before_a_response_is_dropped(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        server.inject(0, b"\x00\xff\x13garbage")  # no line end: the answer's CR ends it
        assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
        assert driver.command("AT+CGMM") == Response(["Generic-27007"], "OK")


def test_garbage_inside_a_response_is_dropped(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        server.mute(0, True)
        command = Background(driver.command, "AT+CGMI")
        wait_for_tx(tmp_path, b"AT+CGMI\r")
        server.inject(0, b"\r\nCellfleet\r\n\x00\x00\x7e\xff\x01\r\n\r\nOK\r\n")
        command.join()
    assert command.error is None
    assert command.result == Response(["Cellfleet"], "OK")


def test_silence_times_out_with_the_command_and_its_timeout_then_recovers(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        server.mute(0, True)
        with pytest.raises(AtTimeout) as timeout:
            driver.command("AT+CGMI", timeout_s=0.3)
        assert (timeout.value.command, timeout.value.timeout_s) == ("AT+CGMI", 0.3)
        assert str(timeout.value) == "AT+CGMI: no final result within 0.3 s"
        server.mute(0, False)
        assert driver.command("AT+CGMM") == Response(["Generic-27007"], "OK")


def test_a_late_final_after_a_timeout_does_not_answer_the_next_command(tmp_path):
    # B4: the scan takes simulated seconds (bg96 latency). The driver gives up after 0.5 s and
    # aborts it with ESC (V.250 §5.6.1); the abort's ERROR must not be taken for the answer of
    # the next command, nor that command's own answer published as a URC.
    received: list[str] = []
    with served(tmp_path, "bg96", latency_scale=1.0) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.subscribe("", received.append)
        with pytest.raises(AtTimeout):
            driver.command("AT+COPS=?", timeout_s=0.5)
        assert driver.command("AT+CGMI") == Response(["Quectel"], "OK")
        assert driver.command("AT+CGMM") == Response(["BG96"], "OK")
    assert tx_records(tmp_path)[-4:] == [b"AT+COPS=?\r", b"\x1b", b"AT+CGMI\r", b"AT+CGMM\r"]
    assert rx_bytes(tmp_path).endswith(b"\r\nERROR\r\n\r\nQuectel\r\n\r\nOK\r\n\r\nBG96\r\n\r\nOK\r\n")
    assert "late final 'ERROR' of abandoned AT+COPS=?" in events(tmp_path)
    assert received == []


def test_a_final_that_comes_only_after_the_abort_is_the_abandoned_commands(tmp_path):
    # The muted modem answers the timed-out command late, after the driver's ESC: the answer
    # goes nowhere, and the next command gets its own.
    received: list[str] = []
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.subscribe("", received.append)
        server.mute(0, True)
        with pytest.raises(AtTimeout):
            driver.command("AT+CGMI", timeout_s=0.3)
        wait_for_tx(tmp_path, b"\x1b")
        server.inject(0, b"\r\nCellfleet\r\n\r\nOK\r\n")
        server.mute(0, False)
        assert driver.command("AT+CGMM") == Response(["Generic-27007"], "OK")
    assert tx_records(tmp_path)[-3:] == [b"AT+CGMI\r", b"\x1b", b"AT+CGMM\r"]
    assert "late final 'OK' of abandoned AT+CGMI" in events(tmp_path)
    assert received == []


def test_a_missing_prompt_times_out_and_is_cancelled_with_esc(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command("AT+CMGF=1")
        server.mute(0, True)
        with pytest.raises(AtTimeout) as timeout:
            driver.command_with_prompt('AT+CMGS="+15551234567"', b"hello", prompt_timeout_s=0.3)
        assert (timeout.value.command, timeout.value.timeout_s) == ('AT+CMGS="+15551234567"', 0.3)
        server.mute(0, False)
        assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
    # ESC (27.005 §3.5.1) went out instead of the payload.
    assert tx_records(tmp_path)[-3:] == [b'AT+CMGS="+15551234567"\r', b"\x1b", b"AT+CGMI\r"]


def test_urcs_injected_between_echo_lines_and_final_go_to_subscribers(tmp_path):
    received: list[str] = []
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.subscribe("", received.append)
        server.mute(0, True)
        command = Background(driver.command, "AT+CGMI")  # before sync: echo on
        wait_for_tx(tmp_path, b"AT+CGMI\r")
        server.inject(0, b'AT+CGMI\r\r\n+CMTI: "ME",1\r\n\r\nCellfleet\r\n\r\n+CEREG: 5\r\n\r\nOK\r\n')
        command.join()
        wait_for(lambda: len(received) == 2, "both URCs")
    assert command.result == Response(["Cellfleet"], "OK")
    assert received == ['+CMTI: "ME",1', "+CEREG: 5"]


def test_a_urc_with_the_pending_commands_prefix_is_told_apart_by_shape(tmp_path):
    received: list[str] = []
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.subscribe("+CEREG", received.append)
        server.mute(0, True)
        command = Background(driver.command, "AT+CEREG?")
        wait_for_tx(tmp_path, b"AT+CEREG?\r")
        # The URC has no <n> and quotes its tac; the read answer starts with <n> (27.007 §10.1.22).
        server.inject(0, b'\r\n+CEREG: 5,"002F","0012BEEF",7\r\n\r\n+CEREG: 2,1,"002F","0012BEEF",7\r\n\r\nOK\r\n')
        command.join()
        wait_for(lambda: received, "the URC")
    assert command.result == Response(['+CEREG: 2,1,"002F","0012BEEF",7'], "OK")
    assert received == ['+CEREG: 5,"002F","0012BEEF",7']


def test_interleaving_virtual_modem_urc_reaches_the_subscriber_not_the_response(tmp_path):
    # urc_mode="interleave": a URC due while a command runs is written before its final result,
    # not held until after it (27.005 +CNMI <bfr>, reference §8.2).
    received: list[str] = []
    # The scan takes 8 simulated seconds (bg96 latency): 4 s of wall time at speed 2, time enough
    # to deliver the SMS while it runs.
    served_modem = served(tmp_path, "bg96", latency_scale=1.0, urc_mode="interleave", speed=2.0)
    with served_modem as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command("AT+CMGF=1")
        driver.command('AT+CPMS="ME","ME","ME"')
        driver.command("AT+CNMI=2,1,0,0,0")
        driver.subscribe("+CMTI", received.append)
        scan = Background(driver.command, "AT+COPS=?")  # simulated seconds of latency
        wait_for_tx(tmp_path, b"AT+COPS=?\r")
        server.inject_sms(0, "+15557654321", "ping")
        scan.join()
        wait_for(lambda: received, "the +CMTI URC")
    assert scan.error is None
    assert scan.result == Response([SCAN_ANSWER], "OK")
    assert received == ['+CMTI: "ME",0']
    # It really was interleaved: after the previous command's OK, before the scan's final OK.
    stream = rx_bytes(tmp_path)
    scan_answer = stream[stream.index(b"+CPMS: 0,255,0,255,0,255\r\n\r\nOK\r\n\r\nOK\r\n") + 38 :]
    assert scan_answer.endswith(b"\r\nOK\r\n") and b"\r\n+COPS: (2," in scan_answer
    assert b'\r\n+CMTI: "ME",0\r\n' in scan_answer[: -len(b"\r\nOK\r\n")]


def _answer_busy_then(server, tmp_path, line: bytes, answers: list[bytes]) -> None:
    """While muted, answer the n-th write of ``line`` with ``answers[n]``."""
    for n, answer in enumerate(answers, start=1):
        wait_for_tx(tmp_path, line, count=n)
        server.inject(0, answer)


@pytest.mark.parametrize("busy_code", [14, 515])
def test_sim_busy_is_retried_until_the_answer(tmp_path, busy_code):
    busy = f"\r\n+CME ERROR: {busy_code}\r\n".encode()
    with served(tmp_path) as server, driven(server, tmp_path, sim_busy_backoff_s=0.01) as driver:
        driver.sync()
        server.mute(0, True)
        command = Background(driver.command, "AT+CIMI")
        _answer_busy_then(server, tmp_path, b"AT+CIMI\r", [busy, busy, b"\r\n001010123456789\r\n\r\nOK\r\n"])
        command.join()
    assert command.error is None
    assert command.result == Response(["001010123456789"], "OK")
    assert tx_records(tmp_path).count(b"AT+CIMI\r") == 3


def test_sim_busy_retries_are_bounded(tmp_path):
    busy = b"\r\n+CME ERROR: 14\r\n"
    with served(tmp_path) as server, driven(server, tmp_path, sim_busy_retries=2, sim_busy_backoff_s=0.01) as driver:
        driver.sync()
        server.mute(0, True)
        command = Background(driver.command, "AT+CIMI")
        _answer_busy_then(server, tmp_path, b"AT+CIMI\r", [busy, busy, busy])
        command.join()
    assert isinstance(command.error, CmeException)
    assert (command.error.code, command.error.name) == (14, "SIM_BUSY")
    assert tx_records(tmp_path).count(b"AT+CIMI\r") == 3  # the first try and two retries


def test_close_releases_a_waiting_command(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        server.mute(0, True)
        command = Background(driver.command, "AT+CGMI", timeout_s=60)
        wait_for_tx(tmp_path, b"AT+CGMI\r")
        driver.close()
        command.join()
        assert isinstance(command.error, PortGone)
        with pytest.raises(AtError):
            driver.command("AT")
