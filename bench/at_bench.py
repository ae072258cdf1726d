"""AT round-trip benchmark of virtual modems served on pseudo-terminals (issue 5 §4).

    python bench/at_bench.py [--quick] [--repeats 3] [--json OUT]
    taskset -c 1 python bench/at_bench.py        # pin server and clients to one core

Both parts start the real server, ``cellfleet modem serve --latency-scale 0`` (commands answer at
once in simulated time, so what is measured is the pty and server path, not the latency model),
in a subprocess, and talk to it with pyserial exactly as lab software does:

(a) **Round trip**: one client on ``modem0`` with echo off (``ATE0``) sends ``AT``, ``AT+CSQ`` and
    ``AT+CEREG?`` N times each, back to back; per command the wall time from ``write`` to the
    final ``OK`` line: median, p99, commands/s.
(b) **Fleet**: ``--modems`` (100) modems in one server process; one client thread per modem polls
    its modem once a second (``AT+CSQ`` then ``AT+CEREG?``, each waited for) for ``--duration-s``
    (30 s), the threads spread evenly over the second. Latency median and p99 of every command;
    server CPU % (user + system time of the server process over the polling window / wall time);
    server peak RSS (``VmHWM``).

**Baseline** (same run, same client code): the floor of a pty round trip, a minimal responder
(``BASELINE_RESPONDER``: one pty, answers ``OK`` to every CR, no parsing) measured like part (a);
the table gives each command's median over the baseline's.

Each part runs ``--repeats`` times on a fresh server; the table gives the median of the per-repeat
values. Target: median < 1 ms and p99 < 10 ms, both parts; PASS/FAIL is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import serial

TARGET_MEDIAN_MS = 1.0
TARGET_P99_MS = 10.0
COMMANDS = (b"AT", b"AT+CSQ", b"AT+CEREG?")
FINAL_LINES = (b"\r\nOK\r\n", b"\r\nERROR\r\n")
READY_TIMEOUT_S = 60.0
#: Wall seconds the server gets to exit after SIGTERM.
STOP_TIMEOUT_S = 30.0
#: pyserial read timeout of the clients: a command not answered within it counts as lost.
READ_TIMEOUT_S = 10.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


#: The baseline: the least a pty modem can do (raw pty, a read loop, "OK" for every CR).
BASELINE_RESPONDER = """
import os, sys, tty
master, slave = os.openpty()
tty.setraw(slave)
link = sys.argv[1]
os.symlink(os.ttyname(slave), link)
print(link + " -> " + os.ttyname(slave), flush=True)
while True:
    data = os.read(master, 4096)
    for _ in range(data.count(b"\\r")):
        os.write(master, b"\\r\\nOK\\r\\n")
"""


class Server:
    """``cellfleet modem serve`` (or the baseline responder) in a subprocess, ``count`` modems
    linked under a temp directory."""

    def __init__(self, count: int, workdir: Path, *, baseline: bool = False) -> None:
        link = workdir / "modem0"
        if baseline:
            link.unlink(missing_ok=True)
            cmd = [sys.executable, "-c", BASELINE_RESPONDER, str(link)]
        else:
            cmd = [sys.executable, "-c", "from cellfleet.cli import main; main()", "modem", "serve",
                   "--link", str(link), "--count", str(count), "--latency-scale", "0"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.links: list[str] = []
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(self.links) < count:
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (exit code {self.proc.poll()})")
            if " -> /dev/" in line:
                self.links.append(line.split(" -> ")[0])

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=STOP_TIMEOUT_S)
        for link in self.links:
            Path(link).unlink(missing_ok=True)  # the baseline leaves its link


class Client:
    """A pyserial client with echo off that times commands to their final result line."""

    def __init__(self, link: str) -> None:
        self.port = serial.Serial(link, 115200, timeout=READ_TIMEOUT_S)
        self.command(b"ATE0")  # the answer to ATE0 still carries its echo; later ones do not
        self.port.reset_input_buffer()

    def command(self, line: bytes) -> float:
        """Send ``line`` + CR, wait for OK / ERROR; return the round trip in seconds."""
        started = time.perf_counter()
        self.port.write(line + b"\r")
        answer = b""
        while not answer.endswith(FINAL_LINES):
            chunk = self.port.read(max(1, self.port.in_waiting))
            if not chunk:
                raise TimeoutError(f"no final result for {line!r} within {READ_TIMEOUT_S:g} s (got {answer!r})")
            answer += chunk
        return time.perf_counter() - started

    def close(self) -> None:
        self.port.close()


def round_trip(iterations: int, workdir: Path, *, baseline: bool = False) -> dict:
    """Part (a): back-to-back commands on one modem (or on the baseline responder)."""
    server = Server(1, workdir, baseline=baseline)
    try:
        client = Client(server.links[0])
        result = {}
        for cmd in COMMANDS:
            for _ in range(min(50, iterations)):
                client.command(cmd)  # warm-up
            started = time.perf_counter()
            lat = [client.command(cmd) for _ in range(iterations)]
            elapsed_s = time.perf_counter() - started
            result[cmd.decode()] = {"median_ms": statistics.median(lat) * 1e3, "p99_ms": percentile(lat, 0.99) * 1e3,
                                    "commands_per_s": iterations / elapsed_s}  # fmt: skip
        client.close()
        return result
    finally:
        server.stop()


def fleet(modems: int, duration_s: float, workdir: Path) -> dict:
    """Part (b): ``modems`` modems, one polling thread each, once a second."""
    server = Server(modems, workdir)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        clients = [Client(link) for link in server.links]
        start_at = time.perf_counter() + 0.5
        end_at = start_at + duration_s

        def poll(i: int, client: Client) -> None:
            mine = []
            tick = start_at + i / modems  # spread evenly over the second
            try:
                while tick < end_at:
                    time.sleep(max(0.0, tick - time.perf_counter()))
                    mine += [client.command(b"AT+CSQ"), client.command(b"AT+CEREG?")]
                    tick += 1.0
            except (TimeoutError, serial.SerialException) as exc:
                errors.append(f"modem {i}: {exc}")
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=poll, args=(i, c)) for i, c in enumerate(clients)]
        time.sleep(max(0.0, start_at - time.perf_counter()))
        cpu0, wall0 = server.cpu_s(), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu_pct = 100 * (server.cpu_s() - cpu0) / (time.perf_counter() - wall0)
        for c in clients:
            c.close()
        if errors:
            raise RuntimeError(f"{len(errors)} clients failed, first: {errors[0]}")
        return {"median_ms": statistics.median(latencies) * 1e3, "p99_ms": percentile(latencies, 0.99) * 1e3,
                "commands": len(latencies), "server_cpu_pct": cpu_pct,
                "server_peak_rss_mb": server.peak_rss_bytes() / 2**20}  # fmt: skip
    finally:
        server.stop()


def _median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: 300 iterations, 10 modems for 5 s, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=3000, help="commands per kind in part (a)")
    parser.add_argument("--modems", type=int, default=100)
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="write every run and the summary here")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.iterations, args.modems, args.duration_s = 1, 300, 10, 5.0
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"# AT bench: python {platform.python_version()}, {os.cpu_count()} cores, affinity {affinity}, "
          f"{args.repeats} repeats", flush=True)  # fmt: skip
    rt_runs, fleet_runs, base_runs = [], [], []
    with tempfile.TemporaryDirectory(prefix="at-bench-") as tmp:
        for r in range(args.repeats):
            base_runs.append(round_trip(args.iterations, Path(tmp), baseline=True))
            rt_runs.append(round_trip(args.iterations, Path(tmp)))
            fleet_runs.append(fleet(args.modems, args.duration_s, Path(tmp)))
            print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    rows, ok = [], True
    base = [run["AT"] for run in base_runs]
    base_ms = _median_of(base, "median_ms")
    rows.append(f"| baseline: raw pty responder `AT` | {base_ms:.3f} | {_median_of(base, 'p99_ms'):.3f} | "
                f"{_median_of(base, 'commands_per_s'):,.0f} cmd/s | 1× |")  # fmt: skip
    for cmd in COMMANDS:
        runs = [run[cmd.decode()] for run in rt_runs]
        median_ms, p99_ms = _median_of(runs, "median_ms"), _median_of(runs, "p99_ms")
        ok &= median_ms < TARGET_MEDIAN_MS and p99_ms < TARGET_P99_MS
        ratio = statistics.median(r[cmd.decode()]["median_ms"] / b["AT"]["median_ms"] for r, b in zip(rt_runs, base_runs))
        rows.append(f"| (a) round trip `{cmd.decode()}` | {median_ms:.3f} | {p99_ms:.3f} | "
                    f"{_median_of(runs, 'commands_per_s'):,.0f} cmd/s | {ratio:.1f}× |")  # fmt: skip
    f_median, f_p99 = _median_of(fleet_runs, "median_ms"), _median_of(fleet_runs, "p99_ms")
    ok &= f_median < TARGET_MEDIAN_MS and f_p99 < TARGET_P99_MS
    rows.append(f"| (b) {args.modems} modems, 1 poll/s each, {args.duration_s:g} s | {f_median:.3f} | {f_p99:.3f} | "
                f"server CPU {_median_of(fleet_runs, 'server_cpu_pct'):.1f} %, "
                f"peak RSS {_median_of(fleet_runs, 'server_peak_rss_mb'):.0f} MB, "
                f"{_median_of(fleet_runs, 'commands'):,.0f} commands | |")  # fmt: skip
    print("\n| part | median ms | p99 ms | other | median vs baseline (same repeat) |\n| --- | ---: | ---: | --- | ---: |")
    print("\n".join(rows))
    verdict = "PASS" if ok else "FAIL"
    print(f"\n{verdict}: target median < {TARGET_MEDIAN_MS:g} ms and p99 < {TARGET_P99_MS:g} ms")
    if args.json:
        args.json.write_text(json.dumps({"baseline": base_runs, "round_trip": rt_runs, "fleet": fleet_runs, "pass": ok},
                                        indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
