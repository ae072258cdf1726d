"""Packets of one device: run a scenario recording only that device, then write its pcap.

The exchanges come from the same engine run as ``cellfleet run`` (same scenario, seed and overrides
give the same traffic): the kernel's exchange events of the device (``cellfleet.sim.traffic``) say
what happened when, and each becomes the scapy-built packets of its exchange
(``cellfleet.emulator.pcap``): whole sessions, the open/report/keep-alive phases of a persistent
connection (one TCP stream until it is released), failed set-up attempts, and the lost copies of
data segments or CoAP requests. Which segments were lost is replayed from the device's random
stream at the event's recorded counter, in the kernel's draw order, so the IP bytes in the file
equal the bytes the records count for the same exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellfleet.emulator.session import session_for_profile
from cellfleet.sim.engine import FleetEngine
from cellfleet.sim.losses import coap_lost_copies
from cellfleet.sim.rand import device_keys, uniform01
from cellfleet.sim.records import start_epoch_s
from cellfleet.sim.traffic import (
    EV_COLUMNS,
    EV_COUNT,
    EV_CTR,
    EV_DEVICE,
    EV_DOWN,
    EV_FAILED_ATTEMPTS,
    EV_KIND,
    EV_PAYLOAD,
    EV_PROFILE,
    EV_SPAN_S,
    EV_TIME_S,
    EV_UP,
    KIND_ONCE,
    KIND_OPEN,
    KIND_OPEN_FAILED,
    KIND_PINGS,
    KIND_RELEASE,
    KIND_REPORT,
    KIND_SESSION,
)

DATA_KINDS = (KIND_SESSION, KIND_ONCE, KIND_OPEN, KIND_OPEN_FAILED, KIND_REPORT, KIND_PINGS)


class CaptureError(ValueError):
    """The capture cannot be made as asked (device out of range, raw profiles in the window)."""


#: Packet captures of ``outputs.pcap`` go to this folder of the run directory.
PCAP_DIR = "pcap"


@dataclass(frozen=True)
class Capture:
    """What a capture wrote: exchanges, packets and IP bytes in the file, and the bytes the
    device's records count for the same exchanges."""

    path: Path
    exchanges: int
    packets: int
    ip_bytes: int
    recorded_bytes: int


def lost_segments(key: int, counter: int, q: float, segments: list[tuple[bool, int]]) -> tuple[int, ...]:
    """Indices of the lost data-segment copies, drawn as ``cellfleet.sim.losses.tcp_lost_bytes``
    draws them (one uniform per transmission, from ``counter``)."""
    lost: list[int] = []
    c = counter
    for index in range(len(segments)):
        while True:
            u = uniform01(np.uint64(key), np.uint64(c))
            c += 1
            if u >= q:
                break
            lost.append(index)
    return tuple(lost)


class _Exchanges:
    """Turns one device's events into ``ExchangeOnWire`` values, numbering its connections."""

    def __init__(self, scenario, device: int) -> None:
        from cellfleet.emulator.pcap import ExchangeOnWire  # scapy: lazy

        self.on_wire = ExchangeOnWire
        self.profiles = scenario.traffic_profiles
        self.sessions = {}
        group_start = 0
        for group in scenario.fleet:
            if device < group_start + group.count:
                self.key = int(device_keys(scenario.seed, group.name, group.count)[device - group_start])
                break
            group_start += group.count
        self.next_connection = 0
        self.open_connection: int | None = None

    def session(self, prof: int):
        if prof not in self.sessions:
            self.sessions[prof] = session_for_profile(self.profiles[prof])
        return self.sessions[prof]

    def _connection(self) -> int:
        self.next_connection += 1
        return self.next_connection - 1

    def _losses(self, prof: int, session, counter: int, phase: str, payload: int) -> dict:
        q = self.profiles[prof].loss_probability or 0.0
        if q == 0:
            return {}
        if session.transport == "tcp":
            runs = session.segment_runs(np.array([payload]), phase=phase)
            return {"lost_segments": lost_segments(self.key, counter, q, runs.segments(0))}
        lost, _ = coap_lost_copies(np.uint64(self.key), np.uint64(counter), q)  # the kernel's own draw
        return {"lost_con_copies": int(lost)}

    def of_event(self, ev: np.ndarray) -> list:
        kind = int(ev[EV_KIND])
        if kind == KIND_RELEASE:
            self.open_connection = None
        if kind not in DATA_KINDS:
            return []
        prof = int(ev[EV_PROFILE])
        profile = self.profiles[prof]
        session = self.session(prof)
        t = float(ev[EV_TIME_S])
        failed = int(ev[EV_FAILED_ATTEMPTS])
        retry_s = profile.retry_interval_s or 0.0
        out = [self.on_wire(t + k * retry_s, "failed", session, connection_index=self._connection()) for k in range(failed)]
        counter = int(ev[EV_CTR])
        fail_p = profile.establishment_failure_probability or 0.0
        setup_draws = (failed + (0 if failed == profile.max_attempts and ev[EV_COUNT] == 0 else 1)) if fail_p > 0 else 0
        payload = int(ev[EV_PAYLOAD])
        t_ok = t + failed * retry_s
        if kind in (KIND_SESSION, KIND_ONCE) and ev[EV_COUNT] > 0:
            losses = self._losses(prof, session, counter + 1 + setup_draws, "session", payload)
            out.append(self.on_wire(t_ok, "session", session, payload, self._connection(), **losses))
        elif kind == KIND_OPEN:
            self.open_connection = self._connection()
            losses = self._losses(prof, session, counter + setup_draws, "open", 0)
            out.append(self.on_wire(t_ok, "open", session, 0, self.open_connection, **losses))
        elif kind == KIND_REPORT:
            losses = self._losses(prof, session, counter + 1, "report", payload)
            out.append(self.on_wire(t, "report", session, payload, self.open_connection, **losses))
        elif kind == KIND_PINGS:
            out.append(self.on_wire(t, "ping", session, 0, self.open_connection, ping_count=int(ev[EV_COUNT]),
                                    ping_interval_s=float(ev[EV_SPAN_S])))  # fmt: skip
        return out


def write_device_pcap(scenario, device: int, events: np.ndarray, path: Path, from_s: float, to_s: float,
                      raw: str = "error") -> Capture:  # fmt: skip
    """Write ``device``'s exchanges that start in ``[from_s, to_s)`` from its kernel ``events``
    (every event of the run, in order). Exchanges of ``raw`` profiles have no packets: ``raw``
    says whether they raise :class:`CaptureError` (``error``) or are left out (``skip``)."""
    from cellfleet.emulator.pcap import device_addresses, write_pcap  # scapy: lazy

    profiles = scenario.traffic_profiles
    in_window = (events[:, EV_TIME_S] >= from_s) & (events[:, EV_TIME_S] < to_s)
    exchange = np.isin(events[:, EV_KIND], DATA_KINDS)
    data = in_window & exchange
    raw_profile = np.array([p.protocol == "raw" for p in profiles], dtype=bool)
    is_raw = exchange & raw_profile[np.where(exchange, events[:, EV_PROFILE], 0).astype(np.int64)]
    if raw == "error" and (data & is_raw).any():
        names = sorted({profiles[int(p)].name for p in events[data & is_raw, EV_PROFILE]})
        raise CaptureError(
            f"traffic profile(s) {', '.join(names)} of device {device} have protocol 'raw' (a volume, not "
            "packets); give them a protocol to export packets"
        )
    data &= ~is_raw
    builder = _Exchanges(scenario, device)
    exchanges = []
    for k in range(events.shape[0]):  # every event, so connections are numbered as they happen
        built = builder.of_event(events[k]) if not is_raw[k] else []
        if data[k]:
            exchanges += built
    v4, v6 = device_addresses(device)
    summary = write_pcap(path, exchanges, start_epoch_s=start_epoch_s(scenario.start_date), device_address_v4=v4,
                         device_address_v6=v6)  # fmt: skip
    recorded = int(events[data, EV_UP].sum() + events[data, EV_DOWN].sum())
    return Capture(path, len(exchanges), summary.packets, summary.ip_bytes, recorded)


def capture_device(scenario, device: int, path: Path, from_s: float = 0.0, to_s: float | None = None) -> Capture:
    """Run ``scenario`` recording only ``device`` and write the packets of its exchanges that start
    in ``[from_s, to_s)`` to ``path``."""
    if not 0 <= device < scenario.total_devices:
        raise CaptureError(f"--device must be in 0..{scenario.total_devices - 1}, got {device}")
    end_s = scenario.duration_days * 86400.0 if to_s is None else to_s
    if end_s <= from_s:
        raise CaptureError(f"--to must be after --from ({from_s:g} s), got {end_s:g} s")
    batches: list[np.ndarray] = []
    FleetEngine(scenario, _NoRecords(), record_devices=np.array([device]), on_events=batches.append).run()
    events = np.concatenate(batches) if batches else np.zeros((0, EV_COLUMNS))
    return write_device_pcap(scenario, device, events, path, from_s, end_s)


class EventCollector:
    """Keeps the kernel events of a few devices during a run (``FleetEngine(on_events=...)``)."""

    def __init__(self, devices: np.ndarray) -> None:
        self.devices = np.asarray(devices, dtype=np.int64)
        self.batches: list[np.ndarray] = []

    def __call__(self, events: np.ndarray) -> None:
        keep = np.isin(events[:, EV_DEVICE].astype(np.int64), self.devices)
        if keep.any():
            self.batches.append(events[keep])

    def of(self, device: int) -> np.ndarray:
        """The events of ``device``, in kernel order."""
        if not self.batches:
            return np.zeros((0, EV_COLUMNS))
        events = np.concatenate(self.batches)
        return events[events[:, EV_DEVICE] == device]


class _NoRecords:
    """A record sink that drops everything: the capture needs only the events."""

    def write(self, table: str, batch) -> None:
        pass
