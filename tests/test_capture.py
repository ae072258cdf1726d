"""``cellfleet pcap`` end to end: the device's packets, read back by the real tshark, carry exactly
the bytes of the device's session records from ``cellfleet run`` of the same scenario."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

OVERRIDES = ("--devices", "300", "--days", "4", "--seed", "11")


def cellfleet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cellfleet.cli", *args], capture_output=True, text=True, timeout=300)


def tshark_ip_lengths(path: Path) -> list[int]:
    tshark = shutil.which("tshark")
    assert tshark, "tshark is not installed: apt-get install -y tshark (CI installs it in .ci/run)"
    proc = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "ip.len"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [int(line) for line in proc.stdout.split()]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "quickstart"
    proc = cellfleet("run", "quickstart", *OVERRIDES, "-o", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    return out


END_S = 4 * 86400.0


@pytest.mark.parametrize(
    ("device", "window", "from_s", "to_s"),
    [(0, (), 0.0, END_S), (5, ("--from", "1d", "--to", "60h"), 86400.0, 216000.0), (280, ("--from", "86400"), 86400.0, END_S)],
)
def test_pcap_bytes_equal_the_session_records(run_dir, tmp_path, device, window, from_s, to_s) -> None:
    path = tmp_path / f"d{device}.pcap"
    proc = cellfleet("pcap", "quickstart", *OVERRIDES, "--device", str(device), *window, "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    sessions = pq.read_table(run_dir / "sessions.parquet").filter(
        (pc.field("device") == device) & (pc.field("start_time_s") >= from_s) & (pc.field("start_time_s") < to_s)
    )
    assert sessions.num_rows > 0
    lengths = tshark_ip_lengths(path)
    assert sum(lengths) == pc.sum(sessions["total_bytes"]).as_py()
    assert f"{sum(lengths):,} IP bytes from {sessions.num_rows:,} exchanges of device {device}" in " ".join(proc.stdout.split())


def test_pcap_input_errors(tmp_path: Path) -> None:
    proc = cellfleet("pcap", "quickstart", *OVERRIDES, "--device", "300", "-o", str(tmp_path / "x.pcap"))
    assert proc.returncode == 2 and "--device must be in 0..299" in proc.stderr
    proc = cellfleet("pcap", "end-of-life", "--days", "2", "--device", "1", "-o", str(tmp_path / "y.pcap"))
    assert proc.returncode == 2 and "protocol 'raw'" in proc.stderr
    proc = cellfleet("pcap", "quickstart", "--device", "1", "--from", "soon", "-o", str(tmp_path / "z.pcap"))
    assert proc.returncode == 2 and "--from" in proc.stderr
    assert not list(tmp_path.iterdir())
