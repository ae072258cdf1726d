"""The ``cellfleet`` command line: run, validate and list scenarios.

The CLI owns exit codes and everything printed: 0 success, 1 a run that failed (its
``summary.json`` says ``incomplete``), 2 bad input (scenario or option), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cellfleet import __version__
from cellfleet.emulator.connection import phase_packets
from cellfleet.emulator.session import NAMED_SESSIONS, bill, named_session
from cellfleet.emulator.wire import WireOptions
from cellfleet.modem.cli import modem
from cellfleet.scenarios.loader import (
    ScenarioError,
    apply_overrides,
    builtin_names,
    builtin_summary,
    builtin_text,
    load_scenario,
)

DEFAULT_SCENARIO = "quickstart"
EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
PROGRESS_AFTER_S = 1.0

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail_input(error: ScenarioError) -> None:
    for issue in error.issues:
        err.print(f"[bold red]error:[/] {issue}", markup=True, soft_wrap=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cellfleet")
def main() -> None:
    """Emulate fleets of cellular IoT modules and the connectivity platform they live on."""


class _LazyProgress:
    """A progress bar that appears only once a run has lasted more than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_S or not err.is_terminal:
                return
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
                TimeElapsedColumn(), console=err, transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _network_rows(table: Table, net: dict) -> None:
    """Registration lines of the run summary (scenarios with a ``network`` section)."""
    final = net["final_registration"]
    table.add_row("devices registered at the end", f"{final['registered']:,}")
    for key in ("attempting", "waiting_for_answer", "no_service", "powered_off", "stopped"):
        if final[key]:
            table.add_row(f"  {key.replace('_', ' ')}", f"{final[key]:,}")
    table.add_row("attach requests / accepts", f"{net['attach_requests']:,} / {net['attach_accepts']:,}")
    rejects = ", ".join(f"#{cause}: {n:,}" for cause, n in net["rejects_by_cause"].items()) or "none"
    table.add_row("attach rejects by EMM cause", rejects)
    if net["t3410_expiries"]:
        table.add_row("T3410 expiries (no answer)", f"{net['t3410_expiries']:,}")
    table.add_row("periodic TAUs", f"{net['periodic_taus']:,}")
    table.add_row("peak signalling (minute average)", f"{net['peak_signalling_per_s']:,.1f}/s")
    for outage in net["outages"]:
        waits = [outage.get(f"time_to_reattach_{q}_s") for q in (50, 95, 100)]
        shown = " / ".join("-" if w is None else f"{w:,.0f} s" for w in waits)
        table.add_row(f"outage {outage['name']}", f"{outage['devices_lost']:,} devices lost")
        table.add_row("  registered again, 50/95/100 %", shown)


def _summary_table(result, out_dir: Path) -> Table:
    c = result.counts
    table = Table(title=f"cellfleet run: {result.summary['scenario']} (seed {result.summary['seed']})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for state, n in c.final_states.items():
        table.add_row(f"devices {state}", f"{n:,}")
    table.add_row("defaulted to Active-Billed", f"{c.defaulted:,}")
    for reason, n in sorted(c.defaulted_by_reason.items()):
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("rejected operations", f"{c.rejected_operations:,}")
    table.add_row("data sessions", f"{c.sessions:,}")
    table.add_row("packet data", f"{_human_bytes(c.total_bytes)} ({c.total_bytes:,} bytes)")
    table.add_row("SMS sent (MO) / received (MT)", f"{c.sms_mo:,} / {c.sms_mt:,}")
    if c.network:
        _network_rows(table, c.network)
    table.add_row("simulated device-days", f"{c.device_days:,}")
    table.add_row("wall time", f"{result.wall_time_s:.2f} s")
    table.add_row("device-days/s", f"{result.device_days_per_s:,.0f}")
    table.add_row("output", str(out_dir))
    return table


@main.command()
@click.argument("scenario", required=False, default=DEFAULT_SCENARIO, metavar="[SCENARIO_FILE|NAME]")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (default: ./cellfleet-out/<scenario name>).")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--devices", type=click.IntRange(min=1), help="Rescale the fleet groups to this many devices in total.")
@click.option("--days", type=click.IntRange(min=1), help="Override the duration in days.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def run(scenario: str, output: Path | None, seed: int | None, devices: int | None, days: int | None, quiet: bool) -> None:
    """Run a scenario (a YAML file or a built-in name; default: quickstart) and write its tables."""
    from cellfleet.sim.runner import (
        run_scenario,  # heavy imports (numba) only when running
    )

    try:
        loaded = apply_overrides(load_scenario(scenario), seed=seed, devices=devices, days=days)
    except ScenarioError as exc:
        _fail_input(exc)
    out_dir = output if output is not None else Path("cellfleet-out") / loaded.name
    progress = _LazyProgress(f"{loaded.name} ({loaded.total_devices:,} devices)")
    try:
        result = run_scenario(loaded, out_dir, progress=None if quiet else progress)
    except KeyboardInterrupt:
        progress.close()
        err.print(f"interrupted: {out_dir / 'summary.json'} marks the run incomplete")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - reported, recorded in summary.json
        progress.close()
        err.print(f"[bold red]error:[/] run failed: {type(exc).__name__}: {exc}")
        err.print(f"{out_dir / 'summary.json'} marks the run incomplete")
        sys.exit(EXIT_RUN_FAILED)
    progress.close()
    if not quiet:
        out.print(_summary_table(result, out_dir))


@main.command()
@click.argument("scenario", metavar="SCENARIO_FILE|NAME")
def validate(scenario: str) -> None:
    """Check a scenario file against the schema without running it."""
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        _fail_input(exc)
    out.print(
        f"{scenario}: valid ({loaded.total_devices:,} devices in {len(loaded.fleet)} groups, "
        f"{loaded.duration_days} days, {len(loaded.actions)} actions)"
    )


@main.group(invoke_without_command=True)
@click.pass_context
def scenarios(ctx: click.Context) -> None:
    """List the built-in scenarios (``scenarios show NAME`` prints one)."""
    if ctx.invoked_subcommand is None:
        for name in builtin_names():
            marker = " (default)" if name == DEFAULT_SCENARIO else ""
            click.echo(f"{name:<24} {builtin_summary(name)}{marker}")


@scenarios.command("show")
@click.argument("name")
def scenarios_show(name: str) -> None:
    """Print a built-in scenario's YAML, to copy and edit."""
    try:
        click.echo(builtin_text(name), nl=False)
    except ScenarioError as exc:
        _fail_input(exc)


@main.group()
def traffic() -> None:
    """What a session costs on the wire."""


@traffic.command("explain")
@click.argument("profile", type=click.Choice(list(NAMED_SESSIONS)))
@click.option("--payload", "payload_bytes", type=click.IntRange(min=0), default=20, show_default=True,
              help="Application payload bytes of the one report.")
@click.option("--tls", "tls_version", type=click.Choice(["1.2", "1.3"]), default="1.3", show_default=True,
              help="TLS version of the -tls/https profiles.")
@click.option("--qos", type=click.IntRange(0, 1), default=0, show_default=True, help="MQTT QoS.")
@click.option("--ipv6", is_flag=True, help="IPv6 instead of IPv4.")
@click.option("--mtu", "mtu_bytes", type=click.IntRange(min=576), default=1500, show_default=True, help="Link MTU.")
@click.option("--phase", type=click.Choice(["session", "open", "report", "ping", "close", "failed"]), default="session",
              show_default=True, help="A whole per-report session, a phase of a persistent MQTT connection (open, "
              "report, ping, close), or one failed set-up attempt.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the packets and totals as JSON.")
def traffic_explain(profile: str, payload_bytes: int, tls_version: str, qos: int, ipv6: bool, mtu_bytes: int,
                    phase: str, as_json: bool) -> None:  # fmt: skip
    """Print every packet of one session of PROFILE (or one phase, see --phase) with its IP size,
    the total on the wire vs the payload, the overhead ratio and the KB billed under per-session
    1 KB rounding."""
    try:
        wire = WireOptions(ip_version=6 if ipv6 else 4, mtu_bytes=mtu_bytes)
        session = named_session(profile, tls_version=tls_version, qos=qos, wire=wire)
        if phase == "session":
            packets = session.packets(payload_bytes)
        elif phase == "failed":
            packets = session.failed_attempt_packets()
        else:
            packets = phase_packets(session, phase, payload_bytes)
        if phase != "report" and phase != "session":
            payload_bytes = 0
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(EXIT_BAD_INPUT)
    total = bill(packets, payload_bytes)
    if as_json:
        click.echo(json.dumps({
            "profile": profile, "phase": phase, "payload_bytes": payload_bytes,
            "packets": [{"direction": p.direction, "ip_bytes": p.ip_bytes, "transport_payload_bytes": p.payload_bytes,
                         "label": p.label} for p in packets],
            "uplink_bytes": total.uplink_bytes, "downlink_bytes": total.downlink_bytes,
            "total_bytes": total.total_bytes, "overhead_bytes": total.overhead_bytes,
            "overhead_ratio": None if payload_bytes == 0 else round(total.overhead_ratio, 3),
            "billed_kb": total.billed_kb,
        }, indent=2))  # fmt: skip
        return
    what = NAMED_SESSIONS[profile][0] if phase == "session" else f"{phase} phase"
    table = Table(title=f"{profile}: {what}; payload {payload_bytes} B, IPv{wire.ip_version}")
    for column, justify in (("#", "right"), ("dir", "left"), ("packet", "left"), ("IP bytes", "right"),
                            ("TCP/UDP payload", "right")):  # fmt: skip
        table.add_column(column, justify=justify)
    for i, p in enumerate(packets, 1):
        table.add_row(str(i), p.direction, p.label, f"{p.ip_bytes:,}", f"{p.payload_bytes:,}")
    out.print(table)
    ratio = "n/a (empty payload)" if payload_bytes == 0 else f"{total.overhead_ratio:.1f} bytes per payload byte"
    out.print(f"uplink {total.uplink_bytes:,} B + downlink {total.downlink_bytes:,} B = {total.total_bytes:,} B on "
              f"the wire in {len(packets)} packets for {payload_bytes:,} B of payload")  # fmt: skip
    out.print(f"overhead {total.overhead_bytes:,} B; ratio {ratio}")
    if phase in ("session", "failed"):
        out.print(f"billed {total.billed_kb} KB per session (rounded up to the next 1 KB = 1024 B)")
    else:
        out.print("billed within its connection's session record (rounded up to the next 1 KB per record)")


def _sim_time_s(text: str, option: str) -> float:
    """A simulated time: seconds, or a number with s/m/h/d (``36h``, ``2.5d``)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    unit = units.get(text[-1:].lower())
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise click.BadParameter(f"expected seconds or a number with s/m/h/d (e.g. 36h), got {text!r}",
                                 param_hint=option) from None  # fmt: skip
    if value < 0:
        raise click.BadParameter(f"must not be negative, got {text!r}", param_hint=option)
    return value


@main.command()
@click.argument("scenario", metavar="SCENARIO_FILE|NAME")
@click.option("--device", type=click.IntRange(min=0), required=True, help="Device number (row of devices.parquet).")
@click.option("--from", "from_time", default="0", show_default=True,
              help="Start of the window in simulated time (seconds, or 36h, 2d).")  # fmt: skip
@click.option("--to", "to_time", default=None, help="End of the window (default: end of the run).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .pcap file to write.")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--devices", type=click.IntRange(min=1), help="Rescale the fleet to this many devices.")
@click.option("--days", type=click.IntRange(min=1), help="Override the duration in days.")
def pcap(scenario: str, device: int, from_time: str, to_time: str | None, output: Path, seed: int | None,
         devices: int | None, days: int | None) -> None:  # fmt: skip
    """Write one device's packets (exchanges starting in the window: sessions, connection phases,
    failed attempts, lost copies) as a pcap file, stamped in simulated time from the scenario's
    start date."""
    from cellfleet.sim.capture import CaptureError, capture_device

    try:
        loaded = apply_overrides(load_scenario(scenario), seed=seed, devices=devices, days=days)
    except ScenarioError as exc:
        _fail_input(exc)
    from_s = _sim_time_s(from_time, "--from")
    to_s = None if to_time is None else _sim_time_s(to_time, "--to")
    try:
        result = capture_device(loaded, device, output, from_s, to_s)
    except CaptureError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(EXIT_BAD_INPUT)
    out.print(f"{result.path}: {result.packets:,} packets, {result.ip_bytes:,} IP bytes from {result.exchanges:,} "
              f"exchanges of device {device} (their records: {result.recorded_bytes:,} bytes)")  # fmt: skip


main.add_command(modem)

if __name__ == "__main__":  # pragma: no cover
    main()
