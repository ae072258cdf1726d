"""Run a scenario into an output directory: engine + Parquet sink + summary, failure-safe."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cellfleet.scenarios.loader import scenario_to_yaml
from cellfleet.sim.capture import PCAP_DIR, EventCollector, write_device_pcap
from cellfleet.sim.engine import FleetEngine, ProgressCallback, RunCounts
from cellfleet.sim.outputs import ParquetSink, RunDirectory, package_versions
from cellfleet.sim.rand import stream
from cellfleet.sim.records import NETWORK_TABLES, SCHEMAS


@dataclass
class RunResult:
    """A finished run: its counts, wall time and the summary written to ``summary.json``."""

    counts: RunCounts
    wall_time_s: float
    summary: dict

    @property
    def device_days_per_s(self) -> float:
        return self.counts.device_days / self.wall_time_s if self.wall_time_s > 0 else float("inf")


class _StopOnSignal:
    """Turns SIGINT/SIGTERM into a stop request the engine honours between windows.

    A signal delivered while a compiled kernel runs cannot raise there, so the handler only sets a
    flag; the engine raises ``KeyboardInterrupt`` at its next happening (within one window).
    Outside the main thread (where handlers cannot be installed) signals keep their defaults.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._flag = False
        self._previous: dict[int, object] = {}

    def requested(self) -> bool:
        return self._flag

    def _handle(self, signum, frame) -> None:
        self._flag = True

    def __enter__(self) -> "_StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in self._SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _pcap_collector(scenario, engine: FleetEngine) -> EventCollector | None:
    """Events of ``outputs.pcap.devices`` devices drawn (seeded) from the recorded ones."""
    wanted = scenario.outputs.pcap.devices
    recorded = np.flatnonzero(engine.record_flag)
    if wanted == 0 or recorded.size == 0:
        return None
    picked = stream(scenario.seed, "outputs/pcap-sample").choice(recorded, size=min(wanted, recorded.size), replace=False)
    return EventCollector(np.sort(picked))


def _write_pcaps(scenario, collector: EventCollector, folder: Path) -> list[dict]:
    """One capture per collected device over the ``outputs.pcap`` window (``raw`` profiles, which
    are volumes and not packets, are left out)."""
    cfg = scenario.outputs.pcap
    folder.mkdir(exist_ok=True)
    out = []
    for device in collector.devices.tolist():
        path = folder / f"device-{device}.pcap"
        cap = write_device_pcap(scenario, device, collector.of(device), path, cfg.from_day * 86400.0,
                                cfg.to_day * 86400.0, raw="skip")  # fmt: skip
        out.append({"device": device, "file": f"{PCAP_DIR}/{path.name}", "exchanges": cap.exchanges,
                    "packets": cap.packets, "ip_bytes": cap.ip_bytes})  # fmt: skip
    return out


def run_scenario(scenario, out_dir: Path, progress: ProgressCallback | None = None) -> RunResult:
    """Simulate ``scenario`` and write its tables to ``out_dir``.

    On any failure (including Ctrl-C) the partial tables are removed and ``summary.json`` says
    ``incomplete`` with the reason; the exception is re-raised for the caller to report.
    """
    resolved_yaml = scenario_to_yaml(scenario)
    base = {
        "status": "incomplete",
        "scenario": scenario.name,
        "seed": scenario.seed,
        "start_date": scenario.start_date.isoformat(),
        "duration_days": scenario.duration_days,
        "devices": scenario.total_devices,
        "versions": package_versions(),
        "resolved_scenario": scenario.model_dump(mode="json"),
    }
    run_dir = RunDirectory(out_dir)
    run_dir.prepare(resolved_yaml, base)
    recorded_tables = ("sessions", "sms")
    tables = tuple(
        t for t in SCHEMAS
        if (t not in recorded_tables or scenario.outputs.sessions.mode != "off")
        and (t not in NETWORK_TABLES or scenario.network is not None)
    )  # fmt: skip
    sink = ParquetSink(run_dir.path, tables, csv=scenario.outputs.csv)
    started = time.perf_counter()
    pcaps: list[dict] = []
    try:
        with _StopOnSignal() as stop:
            engine = FleetEngine(scenario, sink, progress=progress, stop_requested=stop.requested)
            collector = _pcap_collector(scenario, engine)
            engine.on_events = collector
            counts = engine.run()
        if collector is not None:
            pcaps = _write_pcaps(scenario, collector, run_dir.path / PCAP_DIR)
        files = sink.commit()
    except BaseException as exc:
        sink.abort()
        shutil.rmtree(run_dir.path / PCAP_DIR, ignore_errors=True)
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        run_dir.write_summary({**base, "status": "incomplete", "reason": reason,
                               "wall_time_s": round(time.perf_counter() - started, 3)})  # fmt: skip
        raise
    wall = time.perf_counter() - started
    summary = {
        **base,
        "status": "complete",
        "wall_time_s": round(wall, 3),
        "device_days": counts.device_days,
        "device_days_per_s": round(counts.device_days / wall, 1) if wall > 0 else None,
        "counts": {**asdict(counts), "defaulted": counts.defaulted},
        "tables": {name: {"file": files[name], "rows": sink.rows[name]} for name in tables},
    }
    if pcaps:
        summary["pcaps"] = pcaps
    run_dir.write_summary(summary)
    return RunResult(counts=counts, wall_time_s=wall, summary=summary)
