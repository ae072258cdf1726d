"""Restoration-storm benchmark: a fleet loses its network and comes back through the real attach
procedure (TS 24.301 T3410/T3411/T3402/T3346) against a core of limited capacity.

    python bench/storm_bench.py [--devices 1e6] [--repeats 3] [--json OUT]

Workload (``storm_scenario_yaml``): N devices, one day, every device powers on within the first
10 minutes (Beta(3,4), TR 37.868 model 2) and attaches to one network whose MME admits
``dialogs / service_time_s`` = 2,000 attaches/s with a queue of 4,000 (2 s of work, well inside
T3410); the excess is rejected with #22 and a random 15-30 min T3346, so retries happen. At 06:00
every cell goes down for 2 hours; when they return every device finds them within 10 s: the
synchronized storm. Devices send no traffic, so the run is the signalling layer alone (the fleet
bench measures traffic with registrations on: ``fleet_bench.py --network``).

Every run is one fresh subprocess pinned to one core (``NUMBA_NUM_THREADS=1``): the wall time of
``run_scenario`` (engine, registrations, Parquet outputs, summary) and the process's peak RSS.
The baseline, measured in the same invocation and interleaved with the storm runs, is the same
fleet without a ``network`` section (no registrations): the ratio is what the storm costs on top.
Target (issue 4): the storm of 10^6 devices completes in <= 60 s on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_WALL_S = 60.0


def storm_scenario_yaml(devices: int, network: bool = True) -> str:
    """The benchmark scenario; ``network=False`` gives the baseline."""
    net = """
network:
  operators: [{plmn: "001-01", core: mme, areas: [region]}]
  cores: [{name: mme, dialogs: 1000, service_time_s: 0.5, queue_limit: 4000}]
  outages: [{name: regional, at_day: 0.25, duration_s: 7200, areas: [region], reselect_s: 10}]
"""
    group_net = "\n    network: {area: region, power_on: {process: beta, window_s: 600}}" if network else ""
    return f"""
name: storm-bench
start_date: 2026-01-01
duration_days: 1
seed: 1
outputs: {{sessions: {{mode: sample, sample_devices: 1000}}}}
rate_plans: [{{name: p}}]
fleet:
  - name: g
    count: {devices}
    rate_plan: p
    initial_state: active_billed
    traffic: none{group_net}
{net if network else ""}"""


def worker(kind: str, devices: int, workdir: str) -> dict:
    """One whole run in this fresh process."""
    try:
        os.sched_setaffinity(0, {int(os.environ.get("STORM_BENCH_CORE", "0"))})
    except (AttributeError, OSError):
        pass
    import resource

    from cellfleet.scenarios.loader import parse_scenario
    from cellfleet.sim.runner import run_scenario

    # load the compiled kernels once (a per-process constant, reported apart)
    t_warm = time.perf_counter()
    run_scenario(parse_scenario(storm_scenario_yaml(1000, kind == "storm")), Path(tempfile.mkdtemp(dir=workdir)))
    warm_s = time.perf_counter() - t_warm
    scenario = parse_scenario(storm_scenario_yaml(devices, kind == "storm"))
    t0 = time.perf_counter()
    result = run_scenario(scenario, Path(tempfile.mkdtemp(dir=workdir)))
    wall = time.perf_counter() - t0
    net = result.counts.network
    return {
        "kind": kind,
        "devices": devices,
        "wall_s": wall,
        "warmup_s": warm_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "network": {k: net[k] for k in ("attach_requests", "attach_accepts", "t3410_expiries", "rejects_by_cause",
                                        "peak_signalling_per_s", "final_registration", "outages") if k in net},
    }  # fmt: skip


def _run(kind: str, devices: int, workdir: str, core: int) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "STORM_BENCH_CORE": str(core), "PYTHONPATH": str(REPO)}
    cmd = ["taskset", "-c", str(core), sys.executable, __file__, "--worker", kind, str(devices), workdir]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=float, default=1e6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, devices, workdir = args.worker
        print(json.dumps(worker(kind, int(devices), workdir)))
        return 0
    devices = int(args.devices)
    runs: dict[str, list[dict]] = {"storm": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="storm-bench-") as workdir:
        for r in range(args.repeats):
            for kind in ("storm", "baseline"):
                res = _run(kind, devices, workdir, args.core)
                runs[kind].append(res)
                print(f"round {r + 1}: {kind:8s} {res['wall_s']:7.2f} s  {res['peak_rss_mb']:7.0f} MiB", flush=True)
    med = {k: statistics.median(x["wall_s"] for x in v) for k, v in runs.items()}
    rss = {k: statistics.median(x["peak_rss_mb"] for x in v) for k, v in runs.items()}
    ratios = [s["wall_s"] / b["wall_s"] for s, b in zip(runs["storm"], runs["baseline"])]
    net = runs["storm"][0]["network"]
    outage = net["outages"][0] if net.get("outages") else {}
    verdict = "PASS" if med["storm"] <= TARGET_WALL_S else "FAIL"
    lines = [
        f"restoration storm, {devices:,} devices, {platform.python_implementation()} {platform.python_version()}, "
        f"median of {args.repeats}:",
        f"  storm    {med['storm']:7.2f} s wall, {rss['storm']:6.0f} MiB  (target <= {TARGET_WALL_S:.0f} s: {verdict})",
        f"  baseline {med['baseline']:7.2f} s wall, {rss['baseline']:6.0f} MiB  (same fleet, no network)",
        f"  storm / baseline: {statistics.median(ratios):.2f}x (median of per-round ratios)",
        f"  attach requests {net['attach_requests']:,}, accepts {net['attach_accepts']:,}, "
        f"rejects {net['rejects_by_cause']}, peak {net['peak_signalling_per_s']:,.0f}/s (minute average)",
        f"  after the outage: {outage.get('devices_lost', 0):,} lost, re-attached 50/95/100 % after "
        f"{outage.get('time_to_reattach_50_s')} / {outage.get('time_to_reattach_95_s')} / "
        f"{outage.get('time_to_reattach_100_s')} s",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "median_wall_s": med, "median_rss_mb": rss,
                                         "verdict": verdict, "summary": lines}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
