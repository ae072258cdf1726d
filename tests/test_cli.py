"""End-to-end tests of the ``cellfleet`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from cellfleet.scenarios.loader import (
    builtin_names,
    builtin_text,
    load_scenario,
    parse_scenario,
)

TABLES = ("state_changes", "rejected_operations", "usage_daily", "fleet_daily", "sessions", "devices")


def cellfleet(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def summary(out_dir: Path) -> dict:
    return json.loads((out_dir / "summary.json").read_text())


def test_default_run_writes_every_table_and_a_complete_summary(tmp_path: Path) -> None:
    proc = cellfleet("run", cwd=tmp_path)
    out_dir = tmp_path / "cellfleet-out" / "quickstart"
    s = summary(out_dir)
    assert s["status"] == "complete"
    assert s["devices"] == 10_000 and s["duration_days"] == 30
    assert s["device_days"] == 300_000
    for table in TABLES:
        assert pq.read_metadata(out_dir / f"{table}.parquet").num_rows == s["tables"][table]["rows"]
    assert not list(out_dir.glob(".*partial"))
    # the scenario the run used can be run again as it is
    assert load_scenario(out_dir / "scenario.resolved.yaml") == load_scenario("quickstart")
    # the summary table on stdout: devices per state, defaulting reasons, throughput
    for text in ("devices Active-Billed", "defaulted to Active-Billed", "provisioned_data_allowance_exceeded",
                 "data sessions", "simulated device-days", "300,000", "device-days/s"):  # fmt: skip
        assert text in proc.stdout
    assert s["counts"]["defaulted"] > 0
    fleet = pq.read_table(out_dir / "fleet_daily.parquet").to_pylist()
    assert len(fleet) == 30
    assert all(sum(row[k] for k in ("initial", "provisioned", "active_billed", "suspended", "cancelled")) == 10_000
               for row in fleet)  # fmt: skip


@pytest.mark.parametrize("name", [n for n in builtin_names() if n != "quickstart"])
def test_each_builtin_scenario_runs(tmp_path: Path, name: str) -> None:
    cellfleet("run", name, "-o", str(tmp_path / name), "-q")
    s = summary(tmp_path / name)
    scenario = load_scenario(name)
    assert s["status"] == "complete"
    assert s["device_days"] == scenario.total_devices * scenario.duration_days
    assert sum(s["counts"]["final_states"].values()) == scenario.total_devices
    if scenario.network is None:  # the lifecycle built-ins show defaulting
        assert s["counts"]["defaulted"] > 0
    else:  # the network built-ins show registrations: every device ends registered
        assert s["counts"]["network"]["final_registration"]["registered"] == scenario.total_devices
        assert s["tables"]["registrations"]["rows"] > 0


def test_seed_reproducibility_is_byte_identical(tmp_path: Path) -> None:
    args = ("run", "quickstart", "--devices", "600", "--days", "15", "-q")
    cellfleet(*args, "--seed", "5", "-o", str(tmp_path / "a"))
    cellfleet(*args, "--seed", "5", "-o", str(tmp_path / "b"))
    cellfleet(*args, "--seed", "6", "-o", str(tmp_path / "c"))
    for table in TABLES:
        a = (tmp_path / "a" / f"{table}.parquet").read_bytes()
        assert a == (tmp_path / "b" / f"{table}.parquet").read_bytes(), table
    assert (tmp_path / "a" / "sessions.parquet").read_bytes() != (tmp_path / "c" / "sessions.parquet").read_bytes()
    s = summary(tmp_path / "a")
    assert s["seed"] == 5 and s["devices"] == 600 and s["duration_days"] == 15


def test_validate_reports_file_line_and_key_path_with_exit_2(tmp_path: Path) -> None:
    text = builtin_text("quickstart").replace("count: 2000", "count: -5")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = text.splitlines().index("    count: -5") + 1
    proc = cellfleet("validate", str(bad), check=False)
    assert proc.returncode == 2
    assert f"bad.yaml:{line}: fleet[1].count: must be a positive integer, got -5" in proc.stderr
    assert "Traceback" not in proc.stderr
    # run refuses the same file the same way, before writing anything
    proc = cellfleet("run", str(bad), "-o", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "fleet[1].count" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_validate_unknown_key_hint_and_good_file(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(builtin_text("quickstart").replace("report_group: meters-de", "report_grup: meters-de"))
    proc = cellfleet("validate", str(bad), check=False)
    assert proc.returncode == 2
    assert "unknown key 'report_grup' (did you mean 'report_group'?)" in proc.stderr
    ok = cellfleet("validate", "end-of-life")
    assert "valid (10,000 devices in 1 groups, 240 days, 6 actions)" in ok.stdout


def test_missing_file_and_bad_override_are_input_errors(tmp_path: Path) -> None:
    proc = cellfleet("run", str(tmp_path / "nope.yaml"), check=False)
    assert proc.returncode == 2 and "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr
    proc = cellfleet("run", "quickstart", "--devices", "1", "-o", str(tmp_path / "x"), check=False)
    assert proc.returncode == 2 and "--devices" in proc.stderr


def test_scenarios_list_and_show_round_trip() -> None:
    listing = cellfleet("scenarios").stdout.splitlines()
    assert [line.split()[0] for line in listing] == builtin_names()
    assert {"quickstart", "manufacturing-to-field", "seasonal-suspend", "end-of-life"} <= set(builtin_names())
    assert any(line.startswith("quickstart") and line.endswith("(default)") for line in listing)
    shown = cellfleet("scenarios", "show", "seasonal-suspend").stdout
    assert shown == builtin_text("seasonal-suspend")
    assert parse_scenario(shown) == load_scenario("seasonal-suspend")
    proc = cellfleet("scenarios", "show", "nosuch", check=False)
    assert proc.returncode == 2 and "quickstart" in proc.stderr


def test_interrupted_run_leaves_incomplete_summary_and_no_tables(tmp_path: Path) -> None:
    out_dir = tmp_path / "int"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cellfleet.cli", "run", "seasonal-suspend", "-o", str(out_dir), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out_dir / "summary.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # inside the run
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    s = summary(out_dir)
    assert s["status"] == "incomplete" and s["reason"] == "interrupted"
    assert not list(out_dir.glob("*.parquet")) and not list(out_dir.glob(".*partial"))
    assert (out_dir / "scenario.resolved.yaml").exists()
    assert yaml.safe_load((out_dir / "scenario.resolved.yaml").read_text())["name"] == "seasonal-suspend"


def test_progress_bar_on_a_terminal_for_runs_longer_than_a_second(tmp_path: Path) -> None:
    """Through a real pseudo-terminal: the bar appears on stderr once the run passes one second."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cellfleet.cli", "run", "seasonal-suspend", "-o", str(tmp_path / "pb")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=300) == 0
    text = seen.decode(errors="replace")
    assert "seasonal-suspend (20,000 devices)" in text
    assert "/365" in text
