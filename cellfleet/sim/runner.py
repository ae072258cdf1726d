"""Run a scenario into an output directory: engine + Parquet sink + summary, failure-safe."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cellfleet.scenarios.loader import scenario_to_yaml
from cellfleet.sim.engine import FleetEngine, ProgressCallback, RunCounts
from cellfleet.sim.outputs import ParquetSink, RunDirectory, package_versions
from cellfleet.sim.records import SCHEMAS


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
    tables = tuple(t for t in SCHEMAS if t != "sessions" or scenario.outputs.sessions.mode != "off")
    sink = ParquetSink(run_dir.path, tables, csv=scenario.outputs.csv)
    started = time.perf_counter()
    try:
        with _StopOnSignal() as stop:
            counts = FleetEngine(scenario, sink, progress=progress, stop_requested=stop.requested).run()
        files = sink.commit()
    except BaseException as exc:
        sink.abort()
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
    run_dir.write_summary(summary)
    return RunResult(counts=counts, wall_time_s=wall, summary=summary)
