"""Packets of one device: run a scenario recording only that device, then write its pcap.

The sessions come from the same engine run as ``cellfleet run`` (same scenario, seed and
overrides give the same sessions); each session's packets are built by scapy from its traffic
profile's exchange (``cellfleet.emulator.pcap``), so the IP bytes in the file equal the bytes of
the device's session records in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from cellfleet.emulator.session import session_for_profile
from cellfleet.sim.engine import FleetEngine
from cellfleet.sim.records import start_epoch_s


class CaptureError(ValueError):
    """The capture cannot be made as asked (device out of range, raw profiles in the window)."""


class _SessionsOnly:
    """A record sink keeping only the ``sessions`` table (one device's, so it stays small)."""

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        if table == "sessions":
            self.batches.append(batch)


@dataclass(frozen=True)
class Capture:
    """What a capture wrote: packets and IP bytes in the file, and the session records it covers."""

    path: Path
    sessions: int
    packets: int
    ip_bytes: int
    session_record_bytes: int


def capture_device(scenario, device: int, path: Path, from_s: float = 0.0, to_s: float | None = None) -> Capture:
    """Write the packets of ``device``'s sessions that start in ``[from_s, to_s)`` to ``path``."""
    from cellfleet.emulator.pcap import (  # scapy: lazy
        SessionOnWire,
        device_addresses,
        write_pcap,
    )

    if not 0 <= device < scenario.total_devices:
        raise CaptureError(f"--device must be in 0..{scenario.total_devices - 1}, got {device}")
    end_s = scenario.duration_days * 86400.0 if to_s is None else to_s
    if end_s <= from_s:
        raise CaptureError(f"--to must be after --from ({from_s:g} s), got {end_s:g} s")
    sink = _SessionsOnly()
    FleetEngine(scenario, sink, record_devices=np.array([device])).run()
    records = pa.Table.from_batches(sink.batches).to_pylist() if sink.batches else []
    window = [r for r in records if from_s <= r["start_time_s"] < end_s]
    profiles = {p.name: p for p in scenario.traffic_profiles}
    raw = sorted({r["profile"] for r in window if profiles[r["profile"]].protocol == "raw"})
    if raw:
        raise CaptureError(
            f"traffic profile(s) {', '.join(raw)} of device {device} have protocol 'raw' (a volume, not "
            "packets); give them a protocol to export packets"
        )
    sessions = [
        SessionOnWire(r["start_time_s"], session_for_profile(profiles[r["profile"]]), r["payload_bytes"], k)
        for k, r in enumerate(window)
    ]
    v4, v6 = device_addresses(device)
    summary = write_pcap(path, sessions, start_epoch_s=start_epoch_s(scenario.start_date), device_address_v4=v4, device_address_v6=v6)
    return Capture(path, len(window), summary.packets, summary.ip_bytes, sum(r["total_bytes"] for r in window))
