"""``cellfleet pcap`` end to end: the device's packets, read back by the real tshark, carry exactly
the bytes of the device's session records from ``cellfleet run`` of the same scenario."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
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


# --- a scenario of its own: persistent, failing, lossy and one-off exchanges ------------------------

#: 21 devices, 3 days, all Active-Billed: trackers (devices 0-5) keep a persistent MQTT over TLS
#: connection (lossy; suspended from 30 h to 36 h, so the connection is released and opened again);
#: loggers (6-12) send HTTPS reports whose connection set-up fails half the time; sensors (13-19)
#: send CoAP over DTLS over IPv6 with 30 % loss. On day 1 loggers and sensors download a 200 kB
#: firmware image over HTTPS (IPv4, lossy) within an hour. Records of the persistent connections
#: are cut every hour. A gateway (20) sends HTTPS over TLS 1.2. The file's seed is overridden on
#: the command line.
E2E_SCENARIO = """\
name: capture-e2e
start_date: 2024-03-01
duration_days: 3
seed: 1
rate_plans:
  - name: plain
traffic_profiles:
  - name: mqtt-persist
    schedule: periodic
    sessions_per_day: 24
    protocol: mqtt-tls
    mqtt_qos: 1
    connection: persistent
    keepalive_s: 600
    loss_probability: 0.05
    session_bytes: {distribution: uniform, min_bytes: 40, max_bytes: 400}
  - name: https-flaky
    schedule: poisson
    sessions_per_day: 8
    protocol: https
    establishment_failure_probability: 0.5
    max_attempts: 3
    retry_interval_s: 20
    loss_probability: 0.02
    session_bytes: {distribution: uniform, min_bytes: 500, max_bytes: 6000}
    session_duration_s: 5
  - name: coap-lossy
    schedule: diurnal
    sessions_per_day: 12
    hourly_weights: [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1]
    protocol: coap-dtls
    ip_version: 6
    loss_probability: 0.3
    session_bytes: {distribution: empirical, values: [32, 64, 256], weights: [2, 1, 1]}
  - name: https-tls12
    schedule: periodic
    sessions_per_day: 4
    protocol: https
    tls_version: "1.2"
    session_bytes: {distribution: fixed, bytes: 300}
  - name: firmware
    sessions_per_day: 0
    protocol: https-download
    loss_probability: 0.01
    session_bytes: {distribution: fixed, bytes: 200000}
    session_duration_s: 60
fleet:
  - name: trackers
    count: 6
    rate_plan: plain
    initial_state: active_billed
    traffic: {active_billed: mqtt-persist}
  - name: loggers
    count: 7
    rate_plan: plain
    initial_state: active_billed
    traffic: https-flaky
  - name: sensors
    count: 7
    rate_plan: plain
    initial_state: active_billed
    traffic: coap-lossy
  - name: gateways
    count: 1
    rate_plan: plain
    initial_state: active_billed
    traffic: https-tls12
actions:
  - name: firmware-update
    at_day: 1
    action: send_once
    select: {group: [loggers, sensors]}
    profile: firmware
    spread_s: 3600
  - name: park-trackers
    at_day: 1.25
    action: suspend
    select: {group: trackers}
  - name: unpark-trackers
    at_day: 1.5
    action: unsuspend
    select: {group: trackers}
outputs:
  sessions:
    mode: all
    interim_time_s: 3600
"""
E2E_OVERRIDES = ("--seed", "5")
E2E_END_S = 3 * 86400.0
#: 2024-03-01T00:00:00Z, the scenario's start date: the epoch of simulated time 0 in the file.
E2E_START_EPOCH_S = 1_709_251_200
HTTPS_PORT, DTLS_PORT = 443, 5684
#: Retry interval of https-flaky; a failed attempt's SYN is sent again after 1 s and 2 s more
#: (initial RTO 1 s, doubled: cellfleet.emulator.pcap.INITIAL_RTO_S, FAILED_ATTEMPT_SYN_RETRIES).
RETRY_S = 20.0
SYN_OFFSETS_S = (0.0, 1.0, 3.0)
TRACKER, LOGGER, SENSOR, GATEWAY = 0, 8, 13, 20

#: tshark's warning when run as root (CI containers): not about the file.
ROOT_WARNING = 'Running as user "root" and group "root". This could be dangerous.'
CHECKSUM_PREFS = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE")
FIELDS = ("frame.time_epoch", "ip.len", "ipv6.plen", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags.syn",
          "tcp.flags.ack", "tcp.analysis.retransmission", "udp.stream", "udp.dstport", "dtls.record.content_type",
          "_ws.malformed", "_ws.expert.severity")
#: Expert info severity Warning (epan/proto.h PI_WARN); Error is above it.
PI_WARN = 0x00600000


def _tshark(path: Path, *args: str) -> str:
    tshark = shutil.which("tshark")
    assert tshark, "tshark is not installed: apt-get install -y tshark (CI installs it in .ci/run)"
    proc = subprocess.run([tshark, "-n", "-r", str(path), *CHECKSUM_PREFS, *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line != ROOT_WARNING] == []
    return proc.stdout


def _flag(value: str) -> bool:
    """A boolean field as tshark prints it (``1`` up to 4.0, ``True`` from 4.2; empty if absent)."""
    return value in ("1", "True")


def _frames(path: Path) -> list[dict[str, str]]:
    args = ["-T", "fields", "-E", "occurrence=a"] + [a for f in FIELDS for a in ("-e", f)]
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in _tshark(path, *args).splitlines()]


def _ip_length(frame: dict[str, str]) -> int:
    assert bool(frame["ip.len"]) != bool(frame["ipv6.plen"]), frame  # one IP header per frame
    return int(frame["ip.len"]) if frame["ip.len"] else 40 + int(frame["ipv6.plen"])


def _sim_time_s(frame: dict[str, str]) -> Decimal:
    return Decimal(frame["frame.time_epoch"]) - E2E_START_EPOCH_S


@pytest.fixture(scope="module")
def e2e(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The scenario file and the session records of ``cellfleet run`` of it (with the overrides)."""
    base = tmp_path_factory.mktemp("e2e")
    scenario = base / "capture-e2e.yaml"
    scenario.write_text(E2E_SCENARIO)
    proc = cellfleet("run", str(scenario), *E2E_OVERRIDES, "-o", str(base / "run"), "-q")
    assert proc.returncode == 0, proc.stderr
    sessions = pq.read_table(base / "run" / "sessions.parquet").to_pandas()
    sessions["profile"] = sessions["profile"].astype(str)
    return scenario, sessions


def _capture(scenario: Path, tmp_path: Path, device: int, window: tuple[str, ...]) -> tuple[Path, int, int, int]:
    """Run ``cellfleet pcap``; return the file and the packets, IP bytes and record bytes it printed."""
    path = tmp_path / f"d{device}.pcap"
    proc = cellfleet("pcap", str(scenario), *E2E_OVERRIDES, "--device", str(device), *window, "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    printed = " ".join(proc.stdout.split())
    found = re.search(r": ([\d,]+) packets, ([\d,]+) IP bytes from [\d,]+ exchanges of device "
                      rf"{device} \(their records: ([\d,]+) bytes\)", printed)  # fmt: skip
    assert found, printed
    packets, ip_bytes, recorded = (int(g.replace(",", "")) for g in found.groups())
    return path, packets, ip_bytes, recorded


def _assert_clean(path: Path, frames: list[dict[str, str]]) -> None:
    """No expert info at Warning level or above (Errors: bad checksums, malformed packets)."""
    assert _tshark(path, "-q", "-z", "expert,warn").strip() == ""
    assert not [f for f in frames if f["_ws.malformed"]]
    severities = [int(v, 0) for f in frames for v in f["_ws.expert.severity"].split(",") if v]
    assert severities and max(severities) < PI_WARN  # SYNs and retransmissions are Chats and Notes


def _tcp_streams(frames: list[dict[str, str]]) -> dict[int, list[dict[str, str]]]:
    streams: dict[int, list[dict[str, str]]] = {}
    for f in frames:
        if f["tcp.stream"]:
            streams.setdefault(int(f["tcp.stream"]), []).append(f)
    return streams


def _retransmitted_bytes(frames: list[dict[str, str]]) -> int:
    """IP bytes of the lost copies tshark sees again: TCP data segments it flags as
    retransmissions (not SYNs: those are failed set-ups), and CoAP requests over DTLS sent again
    (every uplink application-data record of a conversation after its first)."""
    tcp = sum(_ip_length(f) for f in frames
              if _flag(f["tcp.analysis.retransmission"]) and not _flag(f["tcp.flags.syn"]))  # fmt: skip
    seen: set[str] = set()
    coap = 0
    for f in frames:
        if f["udp.dstport"] == str(DTLS_PORT) and f["dtls.record.content_type"] == "23":
            if f["udp.stream"] in seen:
                coap += _ip_length(f)
            seen.add(f["udp.stream"])
    return tcp + coap


def _attempt_starts_s(records: pd.DataFrame) -> list[float]:
    """When each connection attempt of per-report records began: failed attempts ``RETRY_S``
    apart from the record's start, then the one that succeeded (if the record delivered)."""
    starts = []
    for row in records.itertuples():
        starts += [row.start_time_s + k * RETRY_S for k in range(row.failed_attempts)]
        if row.reports > 0:
            starts.append(row.start_time_s + row.failed_attempts * RETRY_S)
    return sorted(starts)


def _assert_times_s(seen: list[Decimal], expected: list[float]) -> None:
    """Equal up to the file's microsecond resolution."""
    assert len(seen) == len(expected)
    assert all(abs(float(a) - b) <= 2e-6 for a, b in zip(sorted(seen), sorted(expected))), (seen, expected)


E2E_CASES = [
    pytest.param(LOGGER, (), 0.0, E2E_END_S, id="https-failing-whole-run"),
    pytest.param(LOGGER, ("--from", "1d", "--to", "2d"), 86400.0, 172800.0, id="https-failing-day-1-download"),
    pytest.param(SENSOR, ("--from", "12h", "--to", "60h"), 43200.0, 216000.0, id="coap-dtls-ipv6-and-download"),
]


@pytest.mark.parametrize(("device", "window", "from_s", "to_s"), E2E_CASES)
def test_pcap_of_per_report_exchanges_matches_the_records(e2e, tmp_path, device, window, from_s, to_s) -> None:
    scenario, sessions = e2e
    records = sessions[(sessions.device == device) & (sessions.start_time_s >= from_s) & (sessions.start_time_s < to_s)]
    # the window holds what the test is about: losses, the download on day 1, failed set-ups
    assert records.retransmitted_bytes.sum() > 0
    if from_s <= 86400.0 < to_s:
        assert (records.profile == "firmware").sum() == 1
    if device == LOGGER:
        assert records.failed_attempts.sum() > 0 and (records.reports == 0).any()  # some gave up
    path, packets, ip_bytes, recorded = _capture(scenario, tmp_path, device, window)
    frames = _frames(path)
    _assert_clean(path, frames)
    assert len(frames) == packets
    # the IP bytes tshark reads are those the CLI reports, of the capture and of the records,
    # and those of the session records of `cellfleet run` that start in the window
    total = sum(_ip_length(f) for f in frames)
    assert total == ip_bytes == recorded == int(records.total_bytes.sum())
    # every lost copy the records bill is in the file, seen again by tshark
    assert _retransmitted_bytes(frames) == int(records.retransmitted_bytes.sum()) > 0
    # failed set-ups: their SYNs (each sent 1 + 2 times, 1 s and 2 s apart) get no answer
    streams = _tcp_streams(frames)
    answered = {s for s, fs in streams.items()
                if any(_flag(f["tcp.flags.syn"]) and _flag(f["tcp.flags.ack"]) for f in fs)}  # fmt: skip
    unanswered_syns = [f for s, fs in streams.items() if s not in answered for f in fs]
    assert all(_flag(f["tcp.flags.syn"]) and not _flag(f["tcp.flags.ack"]) for f in unanswered_syns)
    assert len(unanswered_syns) == 3 * int(records.failed_attempts.sum())
    assert sum(1 for f in unanswered_syns if _flag(f["tcp.analysis.retransmission"])) == 2 * int(
        records.failed_attempts.sum()
    )
    expected_syns = [start + offset for row in records.itertuples() for k in range(row.failed_attempts)
                     for start in [row.start_time_s + k * RETRY_S] for offset in SYN_OFFSETS_S]  # fmt: skip
    _assert_times_s([_sim_time_s(f) for f in unanswered_syns], expected_syns)
    # one connection (TCP stream or DTLS conversation) per attempt, starting when the records say
    tcp_records = records[records.protocol.astype(str) != "coap-dtls"]
    _assert_times_s([_sim_time_s(fs[0]) for fs in streams.values()], _attempt_starts_s(tcp_records))
    assert len(answered) == int((tcp_records.reports > 0).sum())
    conversations: dict[str, Decimal] = {}
    for f in frames:
        if f["udp.stream"]:
            conversations.setdefault(f["udp.stream"], _sim_time_s(f))
    coap_records = records[records.protocol.astype(str) == "coap-dtls"]
    _assert_times_s(list(conversations.values()), _attempt_starts_s(coap_records))


def test_pcap_of_a_persistent_connection_matches_the_records(e2e, tmp_path) -> None:
    scenario, sessions = e2e
    records = sessions[sessions.device == TRACKER]
    # the connection opened at the start and again after the suspension, cut into hourly records
    connections = records.groupby("session_id").agg(
        total_bytes=("total_bytes", "sum"), start_s=("start_time_s", "min"), reports=("reports", "sum"),
        pings=("keepalive_pings", "sum"), parts=("record_sequence_number", "size"))  # fmt: skip
    assert len(connections) == 2 and (connections.parts > 24).all()
    assert (connections.reports > 0).all() and (connections.pings > 0).all()
    assert records.retransmitted_bytes.sum() > 0 and records.failed_attempts.sum() == 0
    path, packets, ip_bytes, recorded = _capture(scenario, tmp_path, TRACKER, ())
    frames = _frames(path)
    _assert_clean(path, frames)
    assert len(frames) == packets
    total = sum(_ip_length(f) for f in frames)
    # the records of the whole run cover every phase of both connections
    assert total == ip_bytes == recorded == int(records.total_bytes.sum())
    assert _retransmitted_bytes(frames) == int(records.retransmitted_bytes.sum())
    # one TCP stream (one client port) per connection, opened when the connection's first record
    # starts and carrying that connection's bytes
    streams = _tcp_streams(frames)
    assert all(f["tcp.stream"] for f in frames)
    assert len(streams) == len(connections)
    ports = {int(f["tcp.srcport"]) for fs in streams.values() for f in fs if f["tcp.dstport"] == "8883"}
    assert len(ports) == len(connections)
    by_start = sorted(streams.values(), key=lambda fs: _sim_time_s(fs[0]))
    for fs, conn in zip(by_start, connections.sort_values("start_s").itertuples(), strict=True):
        assert _flag(fs[0]["tcp.flags.syn"]) and not _flag(fs[0]["tcp.flags.ack"])
        assert abs(float(_sim_time_s(fs[0])) - conn.start_s) <= 2e-6
        assert sum(1 for f in fs if _flag(f["tcp.flags.syn"])) == 2  # SYN and SYN-ACK, once
        assert sum(_ip_length(f) for f in fs) == conn.total_bytes


def test_pcap_of_a_persistent_connection_in_a_window(e2e, tmp_path) -> None:
    """29 h to 37 h: the last phases of the first connection (released by the suspension at 30 h,
    its opening left out of the window) and the second connection, opened at 36 h."""
    scenario, sessions = e2e
    path, packets, ip_bytes, recorded = _capture(scenario, tmp_path, TRACKER, ("--from", "29h", "--to", "37h"))
    frames = _frames(path)
    _assert_clean(path, frames)
    assert len(frames) == packets > 0
    assert sum(_ip_length(f) for f in frames) == ip_bytes == recorded
    times = [_sim_time_s(f) for f in frames]
    assert min(times) >= 29 * 3600 and not any(30 * 3600 <= t < 36 * 3600 for t in times)  # suspended
    streams = _tcp_streams(frames)
    assert len(streams) == 2
    first, second = sorted(streams.values(), key=lambda fs: _sim_time_s(fs[0]))
    assert not any(_flag(f["tcp.flags.syn"]) for f in first)  # continued, not opened, in the window
    syns = [f for f in second if _flag(f["tcp.flags.syn"]) and not _flag(f["tcp.flags.ack"])]
    assert len(syns) == 1 and syns[0] is second[0]
    opened = sessions[(sessions.device == TRACKER) & (sessions.record_sequence_number == 0)].start_time_s
    assert sorted(opened) == [0.0, 36 * 3600.0]  # unsuspended at 36 h: the connection opens again
    _assert_times_s([_sim_time_s(second[0])], [36 * 3600.0])


def test_pcap_of_tls12_sessions_is_clean(e2e, tmp_path) -> None:
    """TLS 1.2 sends the Certificate message in the clear: tshark dissects it too."""
    scenario, sessions = e2e
    records = sessions[sessions.device == GATEWAY]
    assert len(records) == 12 and (records.profile == "https-tls12").all()
    path, packets, ip_bytes, recorded = _capture(scenario, tmp_path, GATEWAY, ())
    frames = _frames(path)
    assert len(frames) == packets
    assert sum(_ip_length(f) for f in frames) == ip_bytes == recorded == int(records.total_bytes.sum())
    versions = _tshark(path, "-Y", "tls.handshake.type == 2", "-T", "fields", "-e", "tls.handshake.version")
    assert set(versions.split()) == {"0x0303"}  # ServerHello: TLS 1.2
    _assert_clean(path, frames)


def test_run_writes_pcaps_of_sampled_recorded_devices(tmp_path: Path) -> None:
    """``outputs.pcap``: ``cellfleet run`` writes a capture of a seeded sample of recorded devices
    over the window; tshark's IP bytes equal the device's session records starting in it (the
    first half day of quickstart is per-report HTTPS factory tests), and the summary lists them."""
    import json

    import yaml

    from cellfleet.scenarios.loader import builtin_text

    data = yaml.safe_load(builtin_text("quickstart"))
    data["outputs"]["pcap"] = {"devices": 2, "from_day": 0, "to_day": 0.5}
    scenario = tmp_path / "with-pcap.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    proc = cellfleet("run", str(scenario), "--devices", "150", "--days", "1", "--seed", "3", "-o", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    pcaps = json.loads((out / "summary.json").read_text())["pcaps"]
    assert len(pcaps) == 2 and len({p["device"] for p in pcaps}) == 2
    sessions = pq.read_table(out / "sessions.parquet")
    for entry in pcaps:
        path = out / entry["file"]
        assert path.name == f"device-{entry['device']}.pcap" and oct(path.stat().st_mode & 0o777) == "0o644"
        lengths = tshark_ip_lengths(path)
        records = sessions.filter((pc.field("device") == entry["device"]) & (pc.field("start_time_s") < 43200.0))
        assert records.num_rows == entry["exchanges"] > 0
        assert sum(lengths) == entry["ip_bytes"] == pc.sum(records["total_bytes"]).as_py()
        assert len(lengths) == entry["packets"]
    again = tmp_path / "again"
    assert cellfleet("run", str(scenario), "--devices", "150", "--days", "1", "--seed", "3", "-o", str(again), "-q").returncode == 0
    for entry in pcaps:  # same seed, byte-identical captures
        assert (again / entry["file"]).read_bytes() == (out / entry["file"]).read_bytes()


@pytest.mark.parametrize("name", ["mqtt-tls", "https", "https-download", "coap-dtls"])
@pytest.mark.parametrize("tls_version", ["1.2", "1.3"])
def test_captures_are_byte_identical_across_writes(tmp_path: Path, name: str, tls_version: str) -> None:
    """No field of a capture is drawn at random (scapy fills some TLS fields from os.urandom
    unless told otherwise): writing the same exchanges twice gives the same bytes."""
    from cellfleet.emulator.pcap import SessionOnWire, write_pcap
    from cellfleet.emulator.session import named_session

    session = named_session(name, tls_version=tls_version)
    files = []
    for k in range(2):
        path = tmp_path / f"{k}.pcap"
        write_pcap(path, [SessionOnWire(1.0, session, 300, 0), SessionOnWire(9.0, session, 40, 1)],
                   start_epoch_s=1_704_067_200.0, device_address_v4="10.0.0.4", device_address_v6="2001:db8::4")
        files.append(path.read_bytes())
    assert files[0] == files[1]
