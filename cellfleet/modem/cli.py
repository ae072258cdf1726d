"""``cellfleet modem``: serve virtual modems on ptys and talk to them (serve, sms; the driver's
probe, shell and script commands join this group from ``driver_cli.py``)."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import click

from cellfleet.modem.control import ControlError, control_path_for, request
from cellfleet.modem.profiles import PROFILE_NAMES

#: MSISDN of served modem i: "+8823" + i in 9 digits, the plan ``sim_device`` gives scenario devices
#: (E.164 country code 882: international networks, ITU-T E.164 Annex).
MSISDN_PREFIX = "+8823"
#: The fleet's identity plan (``cellfleet.sim.fleet``; tests check the two agree).
IMEI_TAC, ICCID_PREFIX, TEST_PLMN = "00101000", "8988201", "00101"


@click.group(name="modem")
def modem() -> None:
    """Virtual modems on pseudo-terminals, and a driver for real modems.

    \b
    serve   serve virtual modems on ptys (symlinked, e.g. ./modem0) for unmodified AT software
    sms     deliver an SMS to a served virtual modem (it answers with +CMTI)
    status  the served modems' registration, SMS sent and billed socket sessions (JSON)
    probe   identify a modem: manufacturer, model, IMEI, IMSI, SIM, registration, signal
    shell   an interactive AT shell showing URCs as they arrive
    script  run an AT test plan (YAML) with a pass/fail report and JUnit XML
    """


def numbered_links(link: str, count: int) -> list[str]:
    """``count`` link paths from ``link``: its trailing number counts up (``./modem0`` ->
    ``./modem0``, ``./modem1``, ...; zero padding kept); without a number, ``PATH0``, ``PATH1``, ...
    (a single link is used as given)."""
    if count == 1:
        return [link]
    match = re.search(r"(\d+)$", link)
    if match is None:
        return [f"{link}{i}" for i in range(count)]
    stem, digits = link[: match.start()], match.group(1)
    return [f"{stem}{int(digits) + i:0{len(digits)}d}" for i in range(count)]


def luhn_digit(body: str) -> str:
    """Luhn check digit of a digit string (ISO/IEC 7812-1; IMEI TS 23.003 Annex B, ICCID E.118)."""
    total = 0
    for pos, ch in enumerate(reversed(body)):  # the rightmost body digit is doubled
        d = int(ch) * (2 if pos % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def static_identity(index: int) -> dict[str, str]:
    """IMEI, IMSI, ICCID (Luhn-checked) and MSISDN of served modem ``index``, by the fleet's
    identity plan (``cellfleet.sim.fleet``: IMEI TAC + 6-digit serial, IMSI test PLMN 00101 +
    10-digit serial, ICCID 8988201 + 11-digit serial), so modem ``i`` carries fleet device ``i``'s
    identities. Computed here rather than imported: the fleet module loads numba (~95 MB)."""
    imei_body = f"{IMEI_TAC}{index % 10**6:06d}"
    iccid_body = f"{ICCID_PREFIX}{index:011d}"
    return {
        "imei": imei_body + luhn_digit(imei_body),
        "imsi": f"{TEST_PLMN}{index:010d}",
        "iccid": iccid_body + luhn_digit(iccid_body),
        "msisdn": f"{MSISDN_PREFIX}{index:09d}",
    }


def _parse_tcp(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"expected HOST:PORT (e.g. 127.0.0.1:7000), got {value!r}")
    return host, int(port)


def _devices(scenario: str | None, device: int | None, count: int, seed: int | None) -> list:
    if scenario is None:
        from cellfleet.modem.device import StaticDevice

        return [StaticDevice(**static_identity(i)) for i in range(count)]
    from cellfleet.modem.sim_device import ScenarioDeviceError, devices_from_scenario

    first = 0 if device is None else device
    try:
        return devices_from_scenario(scenario, range(first, first + count), seed=seed)
    except ScenarioDeviceError as exc:
        given = f"--scenario {scenario}" + ("" if device is None else f" --device {device}")  # only what was given
        raise click.UsageError(f"{given}: {exc}") from None


@modem.command()
@click.option("--profile", type=click.Choice(PROFILE_NAMES), default="generic", show_default=True,
              help="Module profile: identity strings, ICCID command, boot URCs, vendor commands.")
@click.option("--link", "link", metavar="PATH", help="Symlink to each pty (numbered with --count).")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True, help="Modems to serve.")
@click.option("--scenario", metavar="FILE", help="Back the modems by devices of this scenario.")
@click.option("--device", type=click.IntRange(min=0), metavar="INDEX",
              help="First scenario device (modem i gets device INDEX + i); needs --scenario.")
@click.option("--seed", type=int, help="Scenario seed (with --scenario).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Simulated seconds per wall second.")
@click.option("--latency-scale", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Multiplies every command's simulated latency (0: answer at once).")
@click.option("--boot-s", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SECONDS",
              help="Simulated boot time: after power-on or a reset the modem ignores input and is silent "
                   "until its boot URCs (reference §8.4).")
@click.option("--reboot-hangup/--no-reboot-hangup", default=True, show_default=True,
              help="A reset (AT+CFUN=1,1; u-blox AT+CFUN=15/16) re-enumerates the pty like USB: it hangs "
                   "up after the OK and a new pty appears under the same link (reference §8.5).")
@click.option("--tcp", callback=_parse_tcp, metavar="HOST:PORT",
              help="Also serve modem i on TCP PORT+i (pyserial socket://HOST:PORT).")
@click.option("--control", metavar="PATH", help="Control socket (default: <first link>.ctl).")
@click.option("--peer", type=click.Choice(["echo", "sink", "refuse"]), default="echo", show_default=True,
              help="The far end of the modems' sockets: echoes data back, accepts and never answers, or refuses.")
def serve(profile: str, link: str | None, count: int, scenario: str | None, device: int | None,
          seed: int | None, speed: float, latency_scale: float, boot_s: float, reboot_hangup: bool,
          tcp: tuple[str, int] | None, control: str | None, peer: str) -> None:  # fmt: skip
    """Serve virtual modems on pseudo-terminals until SIGINT / SIGTERM.

    Prints one line per modem, "LINK -> /dev/pts/N (PROFILE, IMEI ...)". State persists across
    client reconnects; links and the control socket are removed on exit. A reset command hangs
    the pty up after its OK and a new pty appears under the link a second later
    (--no-reboot-hangup: the modem reboots in place).
    """
    from cellfleet.modem.pty_server import ModemServer
    from cellfleet.modem.sockets import PeerModel, set_peer
    from cellfleet.modem.virtual import VirtualModem

    if device is not None and scenario is None:
        raise click.UsageError("--device needs --scenario")
    if seed is not None and scenario is None:
        raise click.UsageError("--seed needs --scenario")
    links = numbered_links(link, count) if link else None
    modems = [
        VirtualModem(profile, dev, latency_scale=latency_scale, boot_s=boot_s)
        for dev in _devices(scenario, device, count, seed)
    ]
    for m in modems:
        set_peer(m, PeerModel(behaviour=peer))
    server = ModemServer(modems, links, speed=speed, tcp=tcp, control=control, reboot_hangup=reboot_hangup)
    try:
        server.open()
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    # before the paths are printed: a client may signal as soon as it has read them
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.request_stop())
    for i, (path, slave) in enumerate(zip(server.paths, server.slave_paths, strict=True)):
        name = path if links else f"modem{i}"
        click.echo(f"{name} -> {slave} ({profile}, IMEI {modems[i].device.imei})")
    for i, (host, port) in enumerate(server.tcp_addresses):
        click.echo(f"modem{i} tcp -> socket://{host}:{port}")
    if server.control_path is not None:
        click.echo(f"control -> {server.control_path}")
    click.echo("serving; Ctrl-C or SIGTERM stops", err=True)
    sys.stdout.flush()
    server.serve_forever()


@modem.command()
@click.argument("link", metavar="LINK")
@click.option("--from", "sender", required=True, metavar="NUMBER", help="Sender's number, e.g. +491701234567.")
@click.option("--text", required=True, help="Message text.")
@click.option("--control", metavar="PATH", help="Control socket (default: LINK.ctl).")
def sms(link: str, sender: str, text: str, control: str | None) -> None:
    """Deliver an SMS from NUMBER to the virtual modem served at LINK (stored; +CMTI or +CMT)."""
    path = Path(control) if control else control_path_for(link)
    target = Path(link).resolve()
    try:
        status = request(path, {"op": "status"})
        index = next((m["index"] for m in status["modems"]
                      if m["path"] and Path(m["path"]).resolve() == target), None)  # fmt: skip
        if index is None:
            raise click.UsageError(f"{link} is not served by the server at {path}")
        request(path, {"op": "sms", "modem": index, "from": sender, "text": text})
    except ControlError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"SMS from {sender} delivered to modem {index} ({link})")


@modem.command()
@click.argument("link", metavar="LINK")
@click.option("--control", metavar="PATH", help="Control socket (default: LINK.ctl).")
def status(link: str, control: str | None) -> None:
    """Print the served modems' state as JSON: registration, SMS sent, and the socket sessions
    billed through the wire model (payload and IP bytes both ways)."""
    path = Path(control) if control else control_path_for(link)
    try:
        answer = request(path, {"op": "status"})
    except ControlError as exc:
        raise click.ClickException(str(exc)) from None
    answer.pop("ok", None)
    click.echo(json.dumps(answer, indent=2))


from cellfleet.modem.driver_cli import probe, script, shell  # registered last

modem.add_command(probe)
modem.add_command(shell)
modem.add_command(script)
