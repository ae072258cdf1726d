"""ModemDriver against the virtual modem over a real pty: sync, echo, typed errors, prompts, URC
subscribers, serialisation, exclusive open and the URL forms of ``serial_for_url``.

Expected answers come from the profiles (``generic``: Cellfleet / Generic-27007; ``bg96``:
Quectel / BG96) and ``StaticDevice``'s defaults (IMEI 866425030000017, IMSI 001010123456789).
"""

from __future__ import annotations

import threading

import pytest
import serial
from test_driver_support import WAIT_S, driven, rx_bytes, served, tx_records, wait_for

from cellfleet.modem.device import StaticDevice
from cellfleet.modem.driver import ModemDriver, Response
from cellfleet.modem.errors import AtTimeout, CmeException, CmsException, CommandFailed


def test_echo_is_removed_before_sync(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
    # ATE1 is the power-on default (V.250 §6.2.4): the echo was on the wire, not in the answer.
    assert rx_bytes(tmp_path) == b"AT+CGMI\r\r\nCellfleet\r\n\r\nOK\r\n"


def test_sync_sends_the_lab_routine_then_commands_run_without_echo(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync(try_timeout_s=WAIT_S)  # one probe even on a loaded machine
        before = len(rx_bytes(tmp_path))
        assert driver.command("AT+CGMM") == Response(["Generic-27007"], "OK")
    # The probe is ATQ0, not AT: it also answers on a modem left in ATQ1 (V.250 §6.2.5).
    assert tx_records(tmp_path) == [b"\x1b\r", b"ATQ0\r", b"ATE0\r", b"ATV1\r", b"AT+CMEE=1\r", b"AT+CGMM\r"]
    assert rx_bytes(tmp_path)[before:] == b"\r\nGeneric-27007\r\n\r\nOK\r\n"


def test_the_at_prefix_is_added_when_missing(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        assert driver.command("+CGSN") == Response(["866425030000017"], "OK")
    assert tx_records(tmp_path)[-1] == b"AT+CGSN\r"


def test_sync_recovers_a_modem_left_in_numeric_mode_at_a_prompt(tmp_path):
    with served(tmp_path) as server:
        # A previous client switched to numeric results (V.250 §6.2.6) and died at an SMS prompt.
        with serial.Serial(server.paths[0], timeout=WAIT_S) as previous:
            for line, answer in ((b"ATV0\r", b"0\r"), (b"AT+CMGF=1\r", b"0\r"), (b'AT+CMGS="+1555"\r', b"\r\n> ")):
                previous.write(line)
                assert previous.read(len(line + answer)) == line + answer
        with driven(server, tmp_path) as driver:
            driver.sync()
            assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
            assert driver.command("AT+CMEE?") == Response(["+CMEE: 1"], "OK")


def test_sync_recovers_a_modem_left_in_quiet_mode(tmp_path):
    with served(tmp_path) as server:
        # A previous client switched result codes off (ATQ1, V.250 §6.2.5) and left: the echo
        # comes, no result code ever does, so a bare AT probe can never succeed.
        with serial.Serial(server.paths[0], timeout=WAIT_S) as previous:
            previous.write(b"ATQ1\r")
            assert previous.read(len(b"ATQ1\r")) == b"ATQ1\r"
            previous.write(b"AT\r")
            assert previous.read(len(b"AT\r")) == b"AT\r"
        with driven(server, tmp_path) as driver:
            driver.sync(try_timeout_s=WAIT_S)
            assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
        assert tx_records(tmp_path)[:2] == [b"\x1b\r", b"ATQ0\r"]
        assert rx_bytes(tmp_path).startswith(b"\x1b\rATQ0\r\r\nOK\r\n")  # echo still on


def test_bg96_identity(tmp_path):
    with served(tmp_path, "bg96") as server, driven(server, tmp_path) as driver:
        driver.sync()
        assert driver.command("AT+CGMI") == Response(["Quectel"], "OK")
        assert driver.command("AT+CGMM") == Response(["BG96"], "OK")
        assert driver.command("AT+CIMI") == Response(["001010123456789"], "OK")
        assert driver.command("AT+QCCID") == Response(["+QCCID: 89001012012345678901"], "OK")


def test_an_unknown_command_is_a_plain_error_on_generic_and_cme_4_on_sara(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        with pytest.raises(CommandFailed) as failed:
            driver.command("AT+NOSUCH")
    assert not isinstance(failed.value, CmeException)
    assert (failed.value.command, failed.value.final) == ("AT+NOSUCH", "ERROR")
    with served(tmp_path, "sara-r410m") as server, driven(server, tmp_path) as driver:
        driver.sync()
        with pytest.raises(CmeException) as cme:
            driver.command("AT+NOSUCH")
    # The u-blox policy (reference §8.16): +CME ERROR: 4, operation not supported (27.007 §9.2).
    assert (cme.value.code, cme.value.name, cme.value.final) == (4, "OPERATION_NOT_SUPPORTED", "+CME ERROR: 4")


def test_sim_errors_are_typed(tmp_path):
    with served(tmp_path, device=StaticDevice(sim_pin="1234")) as server, driven(server, tmp_path) as driver:
        driver.sync()
        assert driver.command("AT+CPIN?") == Response(["+CPIN: SIM PIN"], "OK")
        with pytest.raises(CmeException) as locked:
            driver.command("AT+CIMI")
        with pytest.raises(CmeException) as wrong:
            driver.command('AT+CPIN="0000"')
    # 27.007 §9.2: 11 SIM PIN required, 16 incorrect password.
    assert (locked.value.code, locked.value.name) == (11, "SIM_PIN_REQUIRED")
    assert (wrong.value.code, wrong.value.text) == (16, "incorrect password")


def test_cms_error_is_typed(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        with pytest.raises(CmsException) as error:
            driver.command("AT+CMGR=999")
    # 27.005 §3.2.5: 321 invalid memory index.
    assert (error.value.code, error.value.final) == (321, "+CMS ERROR: 321")


def test_sms_is_sent_through_the_prompt_with_ctrl_z(tmp_path):
    device = StaticDevice()
    with served(tmp_path, device=device) as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command("AT+CMGF=1")
        response = driver.command_with_prompt('AT+CMGS="+15551234567"', b"hello")
    assert response == Response(["+CMGS: 0"], "OK")  # TP-MR of the first MO SMS (TS 23.040 §9.2.3.6)
    assert tx_records(tmp_path)[-2:] == [b'AT+CMGS="+15551234567"\r', b"hello\x1a"]
    assert [(sms.destination, sms.text) for sms in device.sms_sent] == [("+15551234567", "hello")]


def test_length_counted_socket_send_on_bg96(tmp_path):
    with served(tmp_path, "bg96") as server, driven(server, tmp_path) as driver:
        driver.sync()
        driver.command('AT+QICSGP=1,1,"internet","","",1')
        driver.command("AT+QIACT=1")
        mark = driver.urc_mark()
        driver.command('AT+QIOPEN=1,0,"UDP","192.0.2.1",5000,0,0')
        assert driver.wait_urc_record("+QIOPEN", WAIT_S, after=mark).text == "+QIOPEN: 0,0"
        with pytest.raises(ValueError, match="declares 4 bytes, payload has 5"):
            driver.command_with_prompt("AT+QISEND=0,4", b"hello")
        assert driver.command_with_prompt("AT+QISEND=0,5", b"hello") == Response([], "SEND OK")
    # Exactly the declared bytes, no Ctrl-Z (BG96 TCP/IP note: AT+QISEND=<id>,<len>).
    assert tx_records(tmp_path)[-2:] == [b"AT+QISEND=0,5\r", b"hello"]


@pytest.mark.parametrize("payload", [b"a\x1ab", b"a\x1bb"])
def test_a_ctrl_z_payload_cannot_contain_ctrl_z_or_esc(tmp_path, payload):
    with served(tmp_path) as server, driven(server, tmp_path) as driver, pytest.raises(ValueError, match="cannot contain"):
        driver.command_with_prompt('AT+CMGS="+15551234567"', payload)
    assert tx_records(tmp_path) == []  # refused before anything was sent


def test_urc_subscribers_and_wait_urc(tmp_path):
    received: list[str] = []
    all_urcs: list[str] = []
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()
        subscription = driver.subscribe("+CEREG", received.append)
        driver.subscribe("", all_urcs.append)
        driver.command("AT+CEREG=1")
        mark = driver.urc_mark()
        driver.command("AT+CFUN=4")  # radio off: not registered, not searching (27.007 §10.1.22)
        assert driver.wait_urc_record("+CEREG", WAIT_S, after=mark).text == "+CEREG: 0"
        wait_for(lambda: received == ["+CEREG: 0"], "the subscriber's URC")
        subscription.cancel()
        mark = driver.urc_mark()
        driver.command("AT+CFUN=1")
        assert driver.wait_urc_record("+CEREG", WAIT_S, after=mark).text == "+CEREG: 1"
        wait_for(lambda: all_urcs[-1:] == ["+CEREG: 1"], "the catch-all subscriber")
    assert received == ["+CEREG: 0"]  # nothing after cancel()


def test_wait_urc_times_out_naming_what_it_waited_for(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path) as driver, pytest.raises(AtTimeout) as timeout:
        driver.wait_urc("+NOSUCH", 0.2)
    assert (timeout.value.command, timeout.value.timeout_s) == ("URC +NOSUCH", 0.2)


def test_commands_from_two_threads_are_serialised(tmp_path):
    answers: dict[str, list[Response]] = {"AT+CGMI": [], "AT+CGMM": []}
    with served(tmp_path) as server, driven(server, tmp_path) as driver:
        driver.sync()

        def run(line: str) -> None:
            for _ in range(25):
                answers[line].append(driver.command(line))

        threads = [threading.Thread(target=run, args=(line,)) for line in answers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S * 3)
    assert answers["AT+CGMI"] == [Response(["Cellfleet"], "OK")] * 25
    assert answers["AT+CGMM"] == [Response(["Generic-27007"], "OK")] * 25


def test_exclusive_open_refuses_a_second_driver(tmp_path):
    with served(tmp_path) as server, driven(server, tmp_path):
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            ModemDriver(server.paths[0])
        with ModemDriver(server.paths[0], exclusive=False) as shared:  # no lock asked for
            assert shared.exclusive is False


def test_socket_url_reaches_the_tcp_server(tmp_path):
    with served(tmp_path, tcp=("127.0.0.1", 0)) as server:
        host, port = server.tcp_addresses[0]
        with ModemDriver(f"socket://{host}:{port}") as driver:
            driver.sync()
            assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")


def test_spy_url_wraps_the_device_and_keeps_the_exclusive_lock(tmp_path):
    with served(tmp_path) as server:
        spy_log = tmp_path / "spy.txt"
        with ModemDriver(f"spy://{server.paths[0]}?file={spy_log}") as driver:
            driver.sync()
            assert driver.command("AT+CGMI") == Response(["Cellfleet"], "OK")
            with pytest.raises(serial.SerialException, match="exclusively lock"):
                ModemDriver(server.paths[0])
    # pyserial's spy hexdump (reference §8 lab routine) saw the traffic too.
    assert "AT+CGMI." in spy_log.read_text()


def test_loop_url_opens_and_a_command_without_a_final_times_out():
    # loop:// echoes every write back (reference §7): the echo is removed and no final comes.
    with ModemDriver("loop://", reconnect=False) as driver, pytest.raises(AtTimeout) as timeout:
        driver.command("AT", timeout_s=0.2)
    assert (timeout.value.command, timeout.value.timeout_s) == ("AT", 0.2)


def test_response_value_strips_the_prefix():
    response = Response(["+CSQ: 20,99", "+CSQ: 1,1"], "OK")
    assert (response.value("+CSQ"), response.value("+CESQ")) == ("20,99", None)
