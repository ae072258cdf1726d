"""Fleet engine throughput benchmark: device-days/s and peak RSS vs a per-process SimPy reference.

    python bench/fleet_bench.py [--repeats 3] [--sizes 1e4,1e5,1e6] [--reference-devices 10000]
                                [--reference-days 30] [--json OUT]

Every configuration runs in a fresh subprocess pinned to one core (``taskset -c 0`` and
``os.sched_setaffinity``) with ``NUMBA_NUM_THREADS=1``; one subprocess = one whole run. Speed is
the wall time of ``run_scenario(scenario, tmpdir)`` (engine construction, simulation, Parquet
outputs, summary), peak RSS is that process's ``ru_maxrss``. Configurations are interleaved in
rounds (engine sizes..., reference) so slow periods of this noisy VM hit all of them; ratios are
taken within a round. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DAYS = 30

# Targets of the issue.
TARGET_DD_PER_S = 500_000  # device-days/s at 1e6 devices, one core
TARGET_RSS_MB = 4096  # peak RSS (MiB; "4 GB")
TARGET_RATIO = 300  # x the per-process reference
TARGET_COST_SPREAD = 0.20  # cost per device-day within +-20 % from 1e4 to 1e6
CHECK_TOLERANCE = 0.05  # engine vs reference totals


#: One device in this many gets per-session records, at every fleet size, so the work per
#: device-day is the same from 1e4 to 1e6 (a fixed-size sample would be 10 % of a 1e4 fleet but
#: 0.1 % of a 1e6 fleet, and the comparison of cost per device-day would measure the sample).
SESSION_SAMPLE_PER_DEVICES = 1000


#: ``--protocol``: the bench profile's wire model (``raw`` = session volumes as drawn).
PROTOCOL_ENV = "FLEET_BENCH_PROTOCOL"
#: ``--network``: registrations on (one network, periodic TAU every 54 min, TS 24.301 default).
NETWORK_ENV = "FLEET_BENCH_NETWORK"
NETWORK_YAML = """network:
  operators: [{plmn: "001-01", t3412_s: 3240}]
"""


def _profile_size_lines(protocol: str) -> str:
    if protocol == "raw":
        return "session_bytes: {distribution: uniform, min_bytes: 200, max_bytes: 4000}\n    uplink_fraction: 0.7"
    # a report of 20..400 B of payload; the session is billed every packet of the exchange
    return f"protocol: {protocol}\n    session_bytes: {{distribution: uniform, min_bytes: 20, max_bytes: 400}}"


def bench_scenario_yaml(devices: int = 10_000, days: int = DAYS, protocol: str = "raw", network: bool = False) -> str:
    """The bench scenario: one group, 24 Poisson sessions/device-day, allowances, two actions.

    Allowances are sized so that every lifecycle path runs: a device's provisioned data allowance
    (500 kB, about 9.9 days of traffic at 24 x 2100 B) is crossed around day 10, so the day-10
    suspension of 30 % of the Active-Billed devices hits the devices that crossed before it; the
    suspended allowance (600 kB) is crossed about 12 days later, so the day-20 unsuspension of half
    the Suspended devices races it, and the rest default from Suspended. The SMS limits are
    crossed by a few percent of the devices; the days limits are set but rarely reached.
    With ``network`` the devices register first (power-on uniform over the first minute) and
    make a periodic TAU after every 54 min without traffic.
    """
    return f"""\
name: fleet-bench
description: Throughput benchmark (bench/fleet_bench.py); 24 sessions per device-day.
start_date: 2026-01-05
duration_days: {days}
seed: 20260105
rate_plans:
  - name: bench-plan
    provisioned_allowance: {{data_bytes: 500000, sms_count: 10, days: 20}}
    suspended_allowance: {{data_bytes: 600000, sms_count: 5, days: 15}}
    fees: {{provision: 0.5, first_bill_activation: 2.0, reactivation: 2.0, suspension: 1.0,
           unsuspend: 1.0, deactivation: 0.5}}
traffic_profiles:
  - name: telemetry
    schedule: poisson
    sessions_per_day: 24
    {_profile_size_lines(protocol)}
    session_duration_s: 5
    sms_mo_per_day: 0.2
fleet:
  - name: devices
    count: {devices}
    rate_plan: bench-plan
    initial_state: provisioned
    traffic: telemetry
actions:
  - name: suspend-30pct
    at_day: 10
    action: suspend
    select: {{state: active_billed, fraction: 0.3}}
  - name: unsuspend-half
    at_day: 20
    action: unsuspend
    select: {{state: suspended, fraction: 0.5}}
outputs:
  sessions: {{mode: sample, sample_devices: {max(1, devices // SESSION_SAMPLE_PER_DEVICES)}}}
{NETWORK_YAML if network else ""}"""


def build_scenario(devices: int, days: int):
    from cellfleet.scenarios.loader import apply_overrides, parse_scenario

    protocol = os.environ.get(PROTOCOL_ENV, "raw")
    network = os.environ.get(NETWORK_ENV) == "1"
    scenario = parse_scenario(bench_scenario_yaml(devices, DAYS, protocol, network), "<fleet-bench>")
    return apply_overrides(scenario, devices=devices, days=None if days == DAYS else days)


# ------------------------------------------------------------------------------------ worker
def worker(kind: str, devices: int, days: int, workdir: str) -> dict:
    """One whole run in this (fresh) process; returns the measurements as a dict."""
    try:
        os.sched_setaffinity(0, {int(os.environ.get("FLEET_BENCH_CORE", "0"))})
    except (AttributeError, OSError):
        pass
    import resource

    import cellfleet
    import cellfleet.sim.runner  # noqa: F401  (numpy, pyarrow, simpy, numba, the engine)

    if kind != "engine":
        sys.path.insert(0, str(BENCH_DIR))
        import reference_model  # noqa: F401

    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_parse = time.perf_counter()
    scenario = build_scenario(devices, days)
    parse_s = time.perf_counter() - t_parse
    out = Path(tempfile.mkdtemp(prefix=f"{kind}-{devices}-", dir=workdir))
    if kind == "engine":
        from cellfleet.sim.runner import run_scenario

        # Load the compiled kernels (numba's cache) once per process, like the imports: a
        # per-process constant, not part of a run's cost per device-day. Reported separately.
        t_warm = time.perf_counter()
        run_scenario(build_scenario(1000, DAYS), Path(tempfile.mkdtemp(prefix="warm-", dir=workdir)))
        warmup_s = time.perf_counter() - t_warm
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = run_scenario(scenario, out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        c = result.counts
        tables = result.summary["tables"]
        counts = {
            "sessions": c.sessions, "total_bytes": c.total_bytes, "sms": c.sms_mo + c.sms_mt,
            "state_changes": c.state_changes, "daily_records": tables["usage_daily"]["rows"],
            "recorded_sessions": c.recorded_sessions, "defaulted": c.defaulted,
            "defaulted_by_reason": c.defaulted_by_reason, "final_states": c.final_states,
            "control_events": c.control_events, "periodic_taus": c.network.get("periodic_taus", 0),
            "attach_accepts": c.network.get("attach_accepts", 0),
        }  # fmt: skip
    else:
        from reference_model import run_reference

        cpu0, t0 = time.process_time(), time.perf_counter()
        counts = run_reference(scenario, out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        warmup_s = 0.0
    output_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return {
        "kind": kind,
        "devices": devices,
        "days": days,
        "device_days": devices * days,
        "wall_s": wall,
        "cpu_s": cpu,
        "device_days_per_s": devices * days / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_import_mb": rss_after_import,
        "parse_s": parse_s,
        "warmup_s": warmup_s,
        "output_mb": output_bytes / 2**20,
        "counts": counts,
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "cellfleet": str(Path(cellfleet.__file__).parent),
    }


# ------------------------------------------------------------------------------------ parent
def parse_size(text: str) -> int:
    value = float(text)
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a device count: {text}")
    return int(value)


def label(n: int) -> str:
    exp = len(str(n)) - 1
    return f"1e{exp}" if n == 10**exp else f"{n:,}"


class Runner:
    def __init__(self, args, pythonpath: str | None, workdir: str, core: int = 0) -> None:
        self.args = args
        self.env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                        MKL_NUM_THREADS="1", PYTHONHASHSEED="0")  # fmt: skip
        if pythonpath:
            self.env["PYTHONPATH"] = pythonpath + os.pathsep + self.env.get("PYTHONPATH", "")
        self.workdir = workdir
        self.env["FLEET_BENCH_CORE"] = str(core)
        self.env[PROTOCOL_ENV] = args.protocol
        self.env[NETWORK_ENV] = "1" if args.network else "0"
        self.prefix = ["taskset", "-c", str(core)] if shutil.which("taskset") else []

    def run(self, kind: str, devices: int, days: int) -> dict:
        cmd = [*self.prefix, sys.executable, str(Path(__file__).resolve()), "--worker", kind,
               str(devices), str(days), self.workdir]  # fmt: skip
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"worker failed: {shlex.join(cmd)}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def snapshot_package(dest: Path) -> str:
    """Copy cellfleet/ (sources only) so concurrent edits cannot change the code mid-bench."""
    src = REPO / "cellfleet"
    shutil.copytree(src, dest / "cellfleet", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    digest = hashlib.sha256()
    for p in sorted((dest / "cellfleet").rglob("*.py")):
        digest.update(p.relative_to(dest).as_posix().encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "cellfleet"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        return head + (" + uncommitted changes in cellfleet/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def med(values):
    return statistics.median(values)


def fmt_rate(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def summarize(runs: list[dict]) -> dict:
    rates = [r["device_days_per_s"] for r in runs]
    return {
        "n": len(runs),
        "rate_med": med(rates),
        "rate_min": min(rates),
        "rate_max": max(rates),
        "wall_med": med([r["wall_s"] for r in runs]),
        "cpu_med": med([r["cpu_s"] for r in runs]),
        "cpu_over_wall_min": min(r["cpu_s"] / r["wall_s"] for r in runs),
        "rss_med": med([r["peak_rss_mb"] for r in runs]),
        "rss_max": max(r["peak_rss_mb"] for r in runs),
        "rss_import_med": med([r["rss_after_import_mb"] for r in runs]),
        "us_per_dd": 1e6 / med(rates),
        "device_days": runs[0]["device_days"],
    }


def runs_all(runs: dict) -> list[dict]:
    return [r for v in runs.values() for r in v]


def per_device_metrics(c: dict, devices: int, days: int) -> dict:
    dd = devices * days
    return {
        "sessions per device-day": c["sessions"] / dd,
        "SMS per device-day": c["sms"] / dd,
        "bytes per session": c["total_bytes"] / max(c["sessions"], 1),
        "daily records per device-day": c["daily_records"] / dd,
        "defaulted per device (all reasons)": c["defaulted"] / devices,
        "state changes per device": c["state_changes"] / devices,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds (runs per configuration); default 3")
    ap.add_argument("--sizes", default="1e4,1e5,1e6", help="engine fleet sizes; default 1e4,1e5,1e6")
    ap.add_argument("--large-repeats", type=int, default=None,
                    help="cap the runs of the sizes >= 1e6 (they run in the first N rounds); default all")
    ap.add_argument("--reference-devices", type=parse_size, default=10_000, help="0 = skip the reference")
    ap.add_argument("--protocol", default="raw",
                    help="protocol of the bench profile (raw, mqtt-tls, coap-dtls, ...); not raw skips the reference, "
                         "which models session volumes only")
    ap.add_argument("--network", action="store_true",
                    help="registrations on: one network with periodic TAU every 54 min; skips the reference")
    ap.add_argument("--small-runs", type=int, default=3,
                    help="fresh-process runs per round of the engine sizes below 1e6 (sub-second runs are noisy); default 3")
    ap.add_argument("--reference-days", type=int, default=DAYS,
                    help=f"simulated days of the reference runs (default {DAYS}); rates are per device-day")
    ap.add_argument("--json", type=Path, help="write every run and the summary to this file")
    ap.add_argument("--core", type=int, default=0, help="CPU core the runs are pinned to (default 0)")
    ap.add_argument("--no-snapshot", action="store_true",
                    help="run the live cellfleet/ tree instead of a copy taken at start")
    ap.add_argument("--worker", nargs=4, metavar=("KIND", "DEVICES", "DAYS", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.protocol != "raw" and args.reference_devices:
        print(f"# --protocol {args.protocol}: no reference run (the reference model bills raw volumes only)")
        args.reference_devices = 0
    if args.network and args.reference_devices:
        print("# --network: no reference run (the reference model has no registrations)")
        args.reference_devices = 0

    if args.worker:
        kind, devices, days, workdir = args.worker
        print(json.dumps(worker(kind, int(devices), int(days), workdir)))
        return 0

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    command = "python bench/fleet_bench.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        pythonpath, snap = None, "live tree"
        if not args.no_snapshot:
            snap = "snapshot " + snapshot_package(tmp / "src")
            pythonpath = str(tmp / "src")
        (tmp / "out").mkdir()
        runner = Runner(args, pythonpath, str(tmp / "out"), args.core)
        code_state = git_state()
        started = dt.datetime.now().astimezone()
        load0 = os.getloadavg()
        print(f"# fleet bench  {started:%Y-%m-%d %H:%M %Z}  cellfleet {code_state} ({snap})", flush=True)
        print("# warm-up (untimed, compiles/loads the numba cache) ...", flush=True)
        warm = runner.run("engine", 1000, 3)
        if not warm["cellfleet"].startswith(str(tmp)) and not args.no_snapshot:
            raise SystemExit(f"snapshot not used by the workers: {warm['cellfleet']}")
        if args.reference_devices:
            runner.run("reference", 200, 2)

        configs = [("engine", n, DAYS) for n in sizes]
        if args.reference_devices:
            configs.append(("reference", args.reference_devices, args.reference_days))
        runs: dict[tuple, list[dict]] = {c: [] for c in configs}
        rounds: list[dict[tuple, dict]] = []
        for r in range(args.repeats):
            this_round = {}
            for cfg in configs:
                kind, n, days = cfg
                if kind == "engine" and n >= 1_000_000 and args.large_repeats is not None and r >= args.large_repeats:
                    continue
                # sub-second runs are the noisiest: take several fresh-process samples per round
                samples = args.small_runs if kind == "engine" and n < 1_000_000 else 1
                round_runs = []
                for _ in range(samples):
                    res = runner.run(*cfg)
                    runs[cfg].append(res)
                    round_runs.append(res)
                    print(f"  round {r + 1}/{args.repeats}  {kind:9s} {label(n):>6s} x {days} d: "
                          f"{res['wall_s']:7.2f} s  {fmt_rate(res['device_days_per_s']):>8s} device-days/s  "
                          f"peak RSS {res['peak_rss_mb']:6.0f} MiB", flush=True)  # fmt: skip
                this_round[cfg] = sorted(round_runs, key=lambda x: x["wall_s"])[len(round_runs) // 2]
            rounds.append(this_round)

        # Fairness check: engine vs reference on the same scenario (devices, days).
        check = None
        ref_cfg = ("reference", args.reference_devices, args.reference_days)
        if args.reference_devices:
            eng_cfg = ("engine", args.reference_devices, args.reference_days)
            eng_counts = runs[eng_cfg][0]["counts"] if runs.get(eng_cfg) else runner.run(*eng_cfg)["counts"]
            ref_counts = runs[ref_cfg][0]["counts"]
            e = per_device_metrics(eng_counts, args.reference_devices, args.reference_days)
            f = per_device_metrics(ref_counts, args.reference_devices, args.reference_days)
            check = {k: (e[k], f[k], (f[k] - e[k]) / e[k] if e[k] else 0.0) for k in e}
            check_detail = {"engine": eng_counts, "reference": ref_counts}
        load1 = os.getloadavg()

        # ------------------------------------------------------------------ report
        summ = {cfg: summarize(v) for cfg, v in runs.items() if v}
        ref = summ.get(ref_cfg)

        def ratios(n: int) -> list[float]:
            out = []
            for rd in rounds:
                e, f = rd.get(("engine", n, DAYS)), rd.get(ref_cfg)
                if e and f:
                    out.append(e["device_days_per_s"] / f["device_days_per_s"])
            return out

        lines = []
        lines.append(f"Measured {started:%Y-%m-%d} on {platform.node() or 'this machine'}: "
                     f"{os.cpu_count()} vCPU ({_cpu_model()}), one core (taskset -c {args.core}), NUMBA_NUM_THREADS=1; "
                     f"Python {platform.python_version()}; cellfleet {code_state} ({snap}); "
                     f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end.")  # fmt: skip
        lines.append("")
        lines.append("| configuration | device-days | runs | wall (CPU) median | device-days/s median [min–max] "
                     "| µs per device-day | peak RSS (median) | vs reference (same round) |")  # fmt: skip
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for cfg in configs:
            s = summ.get(cfg)
            if not s:
                continue
            kind, n, days = cfg
            name = (f"engine, {label(n)} devices × {days} d" if kind == "engine"
                    else f"reference (SimPy process per device), {label(n)} × {days} d")  # fmt: skip
            if kind == "engine" and ref:
                rs = ratios(n)
                vs = f"**{med(rs):.0f}×** [{min(rs):.0f}–{max(rs):.0f}]" if rs else "–"
            else:
                vs = "1×" if kind == "reference" else "– (no reference run)"
            lines.append(f"| {name} | {s['device_days']:.1e} | {s['n']} | {s['wall_med']:.2f} s ({s['cpu_med']:.2f} s) "
                         f"| **{fmt_rate(s['rate_med'])}** [{fmt_rate(s['rate_min'])}–{fmt_rate(s['rate_max'])}] "
                         f"| {s['us_per_dd']:.2f} | {s['rss_med']:.0f} MiB | {vs} |")  # fmt: skip
        lines.append("")

        # Targets
        big = max(sizes)
        small = min(sizes)
        sb, ss = summ.get(("engine", big, DAYS)), summ.get(("engine", small, DAYS))
        targets = []
        if sb:
            targets.append((f"≥ 500 k device-days/s at {label(big)} devices, one core",
                            f"{fmt_rate(sb['rate_med'])} (min {fmt_rate(sb['rate_min'])})",
                            sb["rate_med"] >= TARGET_DD_PER_S))  # fmt: skip
        worst_rss = max(s["rss_max"] for cfg, s in summ.items() if cfg[0] == "engine")
        targets.append(("peak RSS ≤ 4 GB (all engine runs)",
                        f"{summ[('engine', big, DAYS)]['rss_med']:.0f} MiB median at {label(big)}, "
                        f"max {worst_rss:.0f} MiB", worst_rss <= TARGET_RSS_MB))  # fmt: skip
        if ref:
            for n in (big, small):
                rs = ratios(n)
                if rs:
                    targets.append((f"≥ 300× the per-process reference: engine({label(n)}) / reference({label(args.reference_devices)})",
                                    f"{med(rs):.0f}× median of same-round ratios [{min(rs):.0f}–{max(rs):.0f}]",
                                    med(rs) >= TARGET_RATIO))  # fmt: skip
                if n == small:
                    break
        if sb and ss and big != small:
            cost_ratio = sb["us_per_dd"] / ss["us_per_dd"]
            mid = [f"{label(cfg[1])}: {s['us_per_dd']:.2f}" for cfg, s in summ.items() if cfg[0] == "engine"]
            targets.append((f"cost per device-day within ±20 % from {label(small)} to {label(big)}",
                            f"{'; '.join(mid)} µs; {label(big)}/{label(small)} = {cost_ratio:.2f}",
                            abs(cost_ratio - 1) <= TARGET_COST_SPREAD))  # fmt: skip
        eng_runs = [r for cfg, v in runs.items() if cfg[0] == "engine" for r in v]
        if len({r["device_days"] for r in eng_runs}) >= 2:
            xs = [r["device_days"] for r in eng_runs]
            ys = [r["wall_s"] for r in eng_runs]
            mx, my = statistics.fmean(xs), statistics.fmean(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            fixed = my - slope * mx
            lines.append(f"Least-squares fit over all engine runs: wall ≈ {fixed:.2f} s fixed per run + "
                         f"{slope * 1e6:.2f} µs per device-day (marginal rate {fmt_rate(1 / slope)} device-days/s).")
            low = min(r["cpu_s"] / r["wall_s"] for r in runs_all(runs))
            lines.append(f"CPU/wall per run ≥ {low:.2f} (below ≈0.95 the run lost its core to other processes).")
            lines.append("")
        lines.append("| target | measured | result |")
        lines.append("|---|---|---|")
        for name, measured, ok in targets:
            lines.append(f"| {name} | {measured} | {'PASS' if ok else '**FAIL**'} |")
        lines.append("")

        if check:
            lines.append(f"Same work? Engine vs reference on the same scenario ({label(args.reference_devices)} "
                         f"devices × {args.reference_days} d; different random streams; tolerance ±{CHECK_TOLERANCE:.0%}):")  # fmt: skip
            lines.append("")
            lines.append("| per-device total | engine | reference | difference | |")
            lines.append("|---|---:|---:|---:|---|")
            for k, (e, f, d) in check.items():
                lines.append(f"| {k} | {e:.4g} | {f:.4g} | {d:+.1%} | {'ok' if abs(d) <= CHECK_TOLERANCE else '**differs**'} |")
            lines.append("")
            ref_run = runs[ref_cfg][0]
            lines.append(f"The reference scheduled {ref_run['counts']['simpy_events'] / ref_run['device_days']:.1f} "
                         f"SimPy events per device-day (one per session, SMS and device day end).")  # fmt: skip
            if args.reference_days != DAYS:
                lines.append(f"Note: the reference ran {args.reference_days} simulated days instead of {DAYS} "
                             f"(`--reference-days`); rates are compared per device-day. Actions at or after day "
                             f"{args.reference_days} were dropped from its scenario, so its mix of lifecycle work "
                             f"differs slightly.")  # fmt: skip
        lines.append("")
        lines.append(f"Command: `{command}`")
        table = "\n".join(lines)
        print()
        print(table)
        if args.json:
            args.json.write_text(json.dumps({
                "command": command, "started": started.isoformat(), "cellfleet": code_state, "code": snap,
                "loadavg_start": load0, "loadavg_end": load1,
                "runs": [r for v in runs.values() for r in v],
                "summary": {f"{k}-{n}-{d}": s for (k, n, d), s in summ.items()},
                "targets": [{"target": t, "measured": m, "pass": ok} for t, m, ok in targets],
                "check": {k: {"engine": e, "reference": f, "rel_diff": d} for k, (e, f, d) in (check or {}).items()},
                "check_counts": check_detail if check else None,
                "markdown": table,
            }, indent=2, default=str) + "\n")  # fmt: skip
            print(f"\n(wrote {args.json})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    raise SystemExit(main())
