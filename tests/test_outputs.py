"""The run directory: atomic tables, summary.json on success and on failure, CSV copies."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cellfleet.scenarios.loader import (
    apply_overrides,
    load_scenario,
    parse_scenario,
    scenario_to_yaml,
)
from cellfleet.sim import engine as engine_module
from cellfleet.sim.runner import run_scenario


def small(name: str = "quickstart", **overrides):
    return apply_overrides(load_scenario(name), devices=300, days=10, **overrides)


def test_failed_run_leaves_incomplete_summary_and_no_half_tables(tmp_path: Path, monkeypatch) -> None:
    real_emit_day = engine_module.FleetEngine._emit_day

    def failing_emit_day(self, day):
        real_emit_day(self, day)  # records have been written to the sink already
        if day == 4:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(engine_module.FleetEngine, "_emit_day", failing_emit_day)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_scenario(small(), tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "incomplete"
    assert s["reason"] == "RuntimeError: disk on fire"
    assert s["scenario"] == "quickstart" and s["seed"] == 20260105
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.resolved.yaml", "summary.json"]


def test_rerun_into_a_failed_directory_replaces_summary(tmp_path: Path) -> None:
    (tmp_path / ".usage_daily.parquet.partial").write_bytes(b"junk from a killed run")
    result = run_scenario(small(), tmp_path)
    assert result.summary["status"] == "complete"
    assert not list(tmp_path.glob(".*partial"))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["counts"]["sessions"] == result.counts.sessions
    assert s["tables"]["usage_daily"]["rows"] == pq.read_metadata(tmp_path / "usage_daily.parquet").num_rows


def test_csv_copies_match_parquet(tmp_path: Path) -> None:
    text = scenario_to_yaml(small()).replace("csv: false", "csv: true")
    result = run_scenario(parse_scenario(text), tmp_path)
    assert result.summary["tables"]["state_changes"]["rows"] > 0
    for table in ("state_changes", "usage_daily", "fleet_daily"):
        parquet = pq.read_table(tmp_path / f"{table}.parquet")
        csv = pacsv.read_csv(tmp_path / f"{table}.csv")
        assert csv.num_rows == parquet.num_rows
        assert csv.column_names == parquet.column_names


def test_sessions_table_off_is_not_written(tmp_path: Path) -> None:
    text = scenario_to_yaml(small()).replace("mode: auto", "mode: 'off'")
    result = run_scenario(parse_scenario(text), tmp_path)
    assert not (tmp_path / "sessions.parquet").exists()
    assert "sessions" not in result.summary["tables"]
    assert result.counts.sessions > 0


def test_session_record_overflow_is_an_error_not_a_silent_loss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(engine_module, "event_capacity", lambda *args: 5)
    with pytest.raises(RuntimeError, match=r"event-record buffer overflow \(\d+ > 5\)"):
        run_scenario(small(), tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "incomplete"
    assert not list(tmp_path.glob("*.parquet"))
