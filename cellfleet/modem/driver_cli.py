"""``cellfleet modem probe | shell | script``: the driver for real modems on the command line.

* ``probe PORT [--json]``: who the modem is and how it is doing (identity, SIM, registration,
  operator, radio access technology, signal).
* ``shell PORT``: an interactive AT terminal with URCs shown as they arrive (``URC `` prefix);
  reads stdin, so it can be fed from a pipe.
* ``script PORT PLAN.yaml [--junit FILE]``: runs an AT test plan (:mod:`cellfleet.modem.plan`).

``PORT`` is anything ``serial.serial_for_url`` opens: ``/dev/ttyUSB2``, a symlink made by
``cellfleet modem serve --link``, ``spy:///dev/ttyUSB2``, ``socket://host:port``. Exit codes as
for the rest of the CLI: 0 success, 1 a failure (a plan step failed, the modem does not
answer), 2 bad input (an unopenable port, a bad plan file or option).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import serial

from cellfleet.modem import codec
from cellfleet.modem.driver import ModemDriver, Response
from cellfleet.modem.driver_prompts import needs_prompt
from cellfleet.modem.driver_urcs import URC_WAIT_TIMEOUT_S
from cellfleet.modem.errors import (
    AtError,
    AtSyntaxError,
    AtTimeout,
    CmeException,
    CommandFailed,
    cme_text,
)
from cellfleet.modem.plan import PlanError, load_plan
from cellfleet.modem.plan_runner import run_plan, write_junit
from cellfleet.modem.rawlog import RawLog
from cellfleet.modem.urc import CregInfo, parse_creg

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2

#: 27.007 §7.2 / §10.1.22 <stat> texts; 90 is nRF91's "not registered due to UICC failure".
STAT_TEXT = {
    0: "not registered, not searching", 1: "registered, home", 2: "not registered, searching",
    3: "registration denied", 4: "unknown", 5: "registered, roaming",
    6: "registered for SMS only, home", 7: "registered for SMS only, roaming",
    8: "attached for emergency bearer services only", 9: "registered for CSFB not preferred, home",
    10: "registered for CSFB not preferred, roaming", 11: "attached for access to RLOS",
    90: "not registered due to UICC failure",
}  # fmt: skip
#: 27.007 §7.3 <AcT> names.
ACT_NAMES = {
    0: "GSM", 1: "GSM Compact", 2: "UTRAN", 3: "GSM w/EGPRS", 4: "UTRAN w/HSDPA",
    5: "UTRAN w/HSUPA", 6: "UTRAN w/HSDPA and HSUPA", 7: "E-UTRAN", 8: "EC-GSM-IoT",
    9: "E-UTRAN (NB-S1)", 10: "E-UTRA connected to 5GCN", 11: "NR connected to 5GCN",
    12: "NG-RAN", 13: "E-UTRA-NR dual connectivity",
}  # fmt: skip
#: ICCID spellings tried in turn (reference §3): u-blox/SIM7000, Quectel, SIMCom 76xx, nRF91, Telit.
ICCID_COMMANDS = ("AT+CCID", "AT+QCCID", "AT+ICCID", "AT%XICCID", "AT#CCID")
#: 27.007 §8.18 +CRSM READ BINARY (176) of EF_ICCID (file id 0x2FE2 = 12258), 10 bytes.
CRSM_READ_ICCID = "AT+CRSM=176,12258,0,0,10"



class BadInput(click.ClickException):
    """Bad input to a modem command: one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT


# ------------------------------------------------------------------------------ probe


def _query(driver: ModemDriver, line: str) -> Response | None:
    """The response, or ``None`` when the modem answers an error or nothing in time."""
    try:
        return driver.command(line)
    except (CommandFailed, AtTimeout):
        return None


def _first_line(response: Response | None, prefix: str = "") -> str | None:
    """The first information line, its ``prefix:`` removed when present, a value that is one
    quoted string unquoted (``+CGSN: "866…"``)."""
    if response is None or not response.lines:
        return None
    line = response.lines[0].strip()
    if prefix and line.upper().startswith(prefix.upper()):
        line = line[len(prefix) :].lstrip(":").strip()
    if len(line) >= 2 and line[0] == line[-1] == '"' and '"' not in line[1:-1]:
        line = line[1:-1]
    return line or None


def iccid_from_crsm(response: Response | None) -> str | None:
    """``+CRSM: 144,0,"98…"``: sw1 144 = success (TS 102 221 §10.2.1); EF_ICCID holds BCD with
    swapped nibbles (TS 102 221 §13.2), ``F`` pads an odd length."""
    value = _first_line(response, "+CRSM")
    if value is None:
        return None
    fields = codec.split_args(value)
    if len(fields) < 3 or fields[0] != "144" or not fields[2]:
        return None
    swapped = "".join(fields[2][i + 1] + fields[2][i] for i in range(0, len(fields[2]) - 1, 2))
    return swapped.rstrip("Ff") or None


def probe_iccid(driver: ModemDriver) -> str | None:
    """The ICCID via the vendor spellings in turn, then ``+CRSM``; trailing ``F`` pad removed."""
    for line in ICCID_COMMANDS:
        value = _first_line(_query(driver, line), line[2:])
        if value:
            return value.rstrip("Ff")
    return iccid_from_crsm(_query(driver, CRSM_READ_ICCID))


def _sim_state(driver: ModemDriver) -> str | None:
    """``+CPIN: READY`` -> ``READY``; an error -> its 27.007 §9.2 text (``SIM not inserted``)."""
    try:
        return _first_line(driver.command("AT+CPIN?"), "+CPIN")
    except CmeException as exc:
        return exc.text or exc.final
    except (CommandFailed, AtTimeout):
        return None


def _read_registration(driver: ModemDriver, name: str) -> CregInfo | None:
    value = _query(driver, f"AT{name}?")
    if value is None or not value.lines:
        return None
    try:
        return parse_creg(value.lines[0], read_form=True)
    except AtSyntaxError:
        return None


def probe_registration(driver: ModemDriver) -> CregInfo | None:
    """The first registered domain of EPS (+CEREG), GPRS (+CGREG), CS (+CREG), else the first
    that answers. When its ``<n>`` hides the location (n < 2), it is read once more with n=2 and
    ``<n>`` put back (the setting survives the session, reference §8.7)."""
    answers = [info for name in ("+CEREG", "+CGREG", "+CREG") if (info := _read_registration(driver, name))]
    if not answers:
        return None
    chosen = next((a for a in answers if a.registered), answers[0])
    if chosen.n is not None and chosen.n < 2 and _query(driver, f"AT{chosen.command}=2") is not None:
        detailed = _read_registration(driver, chosen.command)
        _query(driver, f"AT{chosen.command}={chosen.n}")
        chosen = detailed or chosen
    return chosen


@contextmanager
def ira_charset(driver: ModemDriver) -> Iterator[None]:
    """Strings read meanwhile come in IRA: 27.007 §5.5 +CSCS sets the character set of every
    string the modem sends, and a previous session may have left ``"UCS2"`` (hex) or ``"GSM"``
    (reference §8.7, §8.14). The previous set is put back afterwards."""
    old = _first_line(_query(driver, "AT+CSCS?"), "+CSCS")
    changed = old is not None and old.upper() != "IRA" and _query(driver, 'AT+CSCS="IRA"') is not None
    try:
        yield
    finally:
        if changed:
            _query(driver, f'AT+CSCS="{old}"')


def probe_operator(driver: ModemDriver) -> tuple[str | None, str | None, int | None]:
    """(operator name, PLMN, AcT) from ``+COPS?`` (27.007 §7.3), read in the IRA character set
    (:func:`ira_charset`), the PLMN read with format 2 and the format put back."""
    with ira_charset(driver):
        return _read_operator(driver)


def _read_operator(driver: ModemDriver) -> tuple[str | None, str | None, int | None]:
    fields = codec.split_args(_first_line(_query(driver, "AT+COPS?"), "+COPS") or "")
    if len(fields) < 3 or fields[2] is None:
        return None, None, None
    fmt, name = fields[1], fields[2]
    act = int(fields[3]) if len(fields) > 3 and (fields[3] or "").isdigit() else None
    if fmt == "2":
        return None, name, act
    plmn = None
    if _query(driver, "AT+COPS=3,2") is not None:
        numeric = codec.split_args(_first_line(_query(driver, "AT+COPS?"), "+COPS") or "")
        plmn = numeric[2] if len(numeric) > 2 else None
        _query(driver, f"AT+COPS=3,{fmt}")
    return name, plmn, act


def probe_signal(driver: ModemDriver) -> dict[str, float | None]:
    """``+CSQ`` rssi (27.007 §8.5: -113 + 2n dBm, 99 unknown) and ``+CESQ`` LTE values as the
    lower bound of each 27.007 §8.69 range: rsrq ``-20 + n/2`` dB (n 0..34), rsrp ``-141 + n``
    dBm (n 0..97; n means -141 + n <= rsrp < -140 + n), 255 unknown."""
    signal: dict[str, float | None] = {"rssi_dbm": None, "rsrp_dbm": None, "rsrq_db": None}
    csq = codec.split_args(_first_line(_query(driver, "AT+CSQ"), "+CSQ") or "")
    if csq and (csq[0] or "").isdigit() and int(csq[0]) <= 31:
        signal["rssi_dbm"] = -113 + 2 * int(csq[0])
    cesq = codec.split_args(_first_line(_query(driver, "AT+CESQ"), "+CESQ") or "")
    if len(cesq) >= 6:
        rsrq, rsrp = cesq[4] or "", cesq[5] or ""
        if rsrq.isdigit() and int(rsrq) <= 34:
            signal["rsrq_db"] = -20 + int(rsrq) / 2
        if rsrp.isdigit() and int(rsrp) <= 97:
            signal["rsrp_dbm"] = -141 + int(rsrp)
    return signal


def probe_modem(driver: ModemDriver) -> dict[str, Any]:
    """Everything ``probe`` reports, as a JSON-ready dict (``None`` where the modem has no answer)."""
    driver.sync()
    registration = probe_registration(driver)
    operator, plmn, act = probe_operator(driver)
    if act is None and registration is not None:
        act = registration.act
    return {
        "manufacturer": _first_line(_query(driver, "AT+CGMI"), "+CGMI"),
        "model": _first_line(_query(driver, "AT+CGMM"), "+CGMM"),
        "firmware": _first_line(_query(driver, "AT+CGMR"), "+CGMR"),
        "imei": _first_line(_query(driver, "AT+CGSN"), "+CGSN"),
        "imsi": _first_line(_query(driver, "AT+CIMI"), "+CIMI"),
        "iccid": probe_iccid(driver),
        "sim_state": _sim_state(driver),
        "registration": None if registration is None else {
            "command": registration.command,
            "stat": registration.stat,
            "status": STAT_TEXT.get(registration.stat, f"stat {registration.stat}"),
            "tac": None if registration.tac is None else f"{registration.tac:04X}",
            "ci": None if registration.ci is None else f"{registration.ci:08X}",
            "reject_cause": registration.reject_cause,
        },
        "operator": operator,
        "plmn": plmn,
        "act": act,
        "rat": None if act is None else ACT_NAMES.get(act, f"AcT {act}"),
        "signal": probe_signal(driver),
    }


_SIGNAL_UNITS = {"rssi_dbm": ("RSSI", "dBm"), "rsrp_dbm": ("RSRP", "dBm"), "rsrq_db": ("RSRQ", "dB")}


def format_probe(info: dict[str, Any]) -> list[str]:
    """The human-readable ``probe`` output: one ``key: value`` line per item."""
    reg = info["registration"]
    signal = info["signal"]
    registration = "-"
    if reg is not None:
        registration = f"{reg['status']} ({reg['command']} stat {reg['stat']})"
        if reg["tac"] is not None:
            registration += f", tac {reg['tac']} ci {reg['ci']}"
    levels = [f"{label} {signal[key]:g} {unit}" for key, (label, unit) in _SIGNAL_UNITS.items() if signal[key] is not None]
    rows = [
        ("manufacturer", info["manufacturer"]), ("model", info["model"]), ("firmware", info["firmware"]),
        ("IMEI", info["imei"]), ("IMSI", info["imsi"]), ("ICCID", info["iccid"]), ("SIM", info["sim_state"]),
        ("registration", registration), ("operator", info["operator"]), ("PLMN", info["plmn"]),
        ("RAT", info["rat"]), ("signal", ", ".join(levels) or None),
    ]  # fmt: skip
    return [f"{key:<13}{'-' if value is None else value}" for key, value in rows]


# ------------------------------------------------------------------------------ CLI


@contextmanager
def open_driver(port: str, baud: int, log_path: str | None) -> Iterator[ModemDriver]:
    """A driver on ``port`` (with a raw log when asked); :class:`BadInput` if it cannot open."""
    try:
        raw_log = RawLog(log_path) if log_path else None
    except OSError as exc:
        raise BadInput(f"cannot write the log {log_path}: {exc.strerror or exc}") from None
    try:
        try:
            driver = ModemDriver(port, baudrate=baud, raw_log=raw_log)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise BadInput(f"cannot open port {port}: {exc}") from None
        with driver:
            yield driver
    finally:
        if raw_log is not None:
            raw_log.close()


_port = click.argument("port")
_baud = click.option("--baud", default=115200, show_default=True, type=click.IntRange(min=1), help="Baud rate.")
_log = click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Raw byte log (appended).")


@click.command()
@_port
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_baud
@_log
def probe(port: str, as_json: bool, baud: int, log_path: str | None) -> None:
    """Identify a modem: identity, SIM, registration, operator, RAT, signal.

    PORT is a device (/dev/ttyUSB2, a served link) or a pyserial URL (spy://, socket://).
    """
    with open_driver(port, baud, log_path) as driver:
        try:
            info = {"port": port, **probe_modem(driver)}
        except AtError as exc:
            raise click.ClickException(f"no answer from the modem on {port}: {exc}") from None
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo("\n".join(format_probe(info)))


@click.command()
@_port
@_baud
@_log
@click.option("--sync/--no-sync", default=True, show_default=True, help="Run ESC, ATQ0, ATE0, ATV1, AT+CMEE=1 first.")
def shell(port: str, baud: int, log_path: str | None, sync: bool) -> None:
    """Interactive AT shell: one command line per input line, URCs shown as they arrive.

    After a prompt command (AT+CMGS=..., AT+QISEND=..., AT+USOWR=<s>,<len>) the next line is the
    payload. '!wait PREFIX [SECONDS]' waits for a URC, 'exit' or end of input quits.
    """
    out_lock = threading.Lock()
    interactive = sys.stdin.isatty()

    def say(text: str) -> None:
        with out_lock:
            click.echo(text)

    with open_driver(port, baud, log_path) as driver:
        driver.subscribe("", lambda text: say(f"URC {text}"))
        if sync:
            try:
                driver.sync()
            except AtError as exc:
                raise click.ClickException(f"no answer from the modem on {port}: {exc}") from None
        mark = driver.urc_mark()
        lines = iter(click.get_text_stream("stdin"))
        while True:
            if interactive:
                with out_lock:
                    click.echo("AT> ", nl=False)
            line = next(lines, None)
            if line is None or line.strip().lower() in ("exit", "quit"):
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("!wait"):
                _shell_wait(driver, line, mark, say)
                mark = driver.urc_mark()
                continue
            mark = driver.urc_mark()
            payload = None
            if needs_prompt(line):
                payload = (next(lines, None) or "").rstrip("\r\n").encode("utf-8")
            for text in _shell_command(driver, line, payload):
                say(text)


def _shell_wait(driver: ModemDriver, line: str, mark: int, say: Callable[[str], None]) -> None:
    """``!wait PREFIX [SECONDS]`` (default 10 s): PREFIX may contain spaces when SECONDS is given."""
    words = line.split()[1:]
    timeout_s = URC_WAIT_TIMEOUT_S
    if len(words) >= 2:
        try:
            timeout_s = float(words[-1])
            words = words[:-1]
        except ValueError:
            pass
    prefix = " ".join(words)
    try:
        driver.wait_urc_record(prefix, timeout_s, after=mark)
    except AtTimeout:
        say(f"! no URC {prefix or '(any)'} within {timeout_s:g} s")


def _shell_command(driver: ModemDriver, line: str, payload: bytes | None) -> list[str]:
    try:
        if payload is not None:
            response = driver.command_with_prompt(line, payload)
        else:
            response = driver.command(line)
    except CmeException as exc:
        return [exc.final if exc.code is None else f"{exc.final} ({exc.text or cme_text(exc.code)})"]
    except CommandFailed as exc:
        return [exc.final]
    except (AtError, ValueError) as exc:
        return [f"! {exc}"]
    return [*response.lines, response.final]


@click.command()
@_port
@click.argument("plan_file", metavar="PLAN.yaml")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@_log
@_baud
def script(port: str, plan_file: str, junit_path: str | None, log_path: str | None, baud: int) -> None:
    """Run an AT test plan: exit 0 if every step passed, 1 if not, 2 for bad input."""
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        for issue in exc.issues:
            click.echo(f"error: {issue}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if junit_path is not None:
        parent = Path(junit_path).resolve().parent
        if not parent.is_dir():
            raise BadInput(f"--junit: directory {parent} does not exist")

    with open_driver(port, baud, log_path) as driver:
        report = run_plan(plan, driver, on_result=lambda result: click.echo(result.line()))
    click.echo(report.text_lines()[-1])
    if junit_path is not None:
        write_junit(report, junit_path)
    sys.exit(0 if report.passed else EXIT_FAILED)
