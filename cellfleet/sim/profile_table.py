"""Traffic profiles compiled to flat arrays for the traffic kernel (``cellfleet.sim.traffic``).

A profile's bytes on the wire are a deterministic function of the drawn payload
(``cellfleet.emulator.session``), so they are computed here once for every payload the profile can
draw and the kernel looks them up by *payload row*: ``wire_offset[profile] + index``, where the
index is ``size - min`` (uniform), 0 (fixed) or the value's position (empirical). Per row the
tables hold the session's uplink/downlink IP bytes (a per-report session, or one report on an
open connection for ``persistent`` profiles) and what a loss costs: the data segments of every
write (TCP), or one copy of the CoAP CON request (UDP). Per profile they hold the fixed exchanges:
a connection's open phase and one keep-alive ping (persistent), and one failed set-up attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellfleet.emulator.session import (
    FAILED_ATTEMPT_SYN_RETRIES,
    session_for_profile,
)
from cellfleet.sim.arrivals import (
    BYTES_EMPIRICAL,
    BYTES_FIXED,
    BYTES_UNIFORM,
    SCHEDULE_DIURNAL,
    SCHEDULE_PERIODIC,
    SCHEDULE_POISSON,
    SECONDS_PER_DAY,
)

SCHEDULES = {"poisson": SCHEDULE_POISSON, "periodic": SCHEDULE_PERIODIC, "diurnal": SCHEDULE_DIURNAL}
BYTES_KINDS = {"fixed": BYTES_FIXED, "uniform": BYTES_UNIFORM, "empirical": BYTES_EMPIRICAL}
LOSS_NONE, LOSS_TCP, LOSS_COAP = 0, 1, 2
#: RFC 7252 §4.8: a CON is retransmitted at most MAX_RETRANSMIT = 4 times.
COAP_MAX_RETRANSMIT = 4


def _payload_values(profile) -> np.ndarray:
    """Every payload a profile can draw, in payload-index order."""
    sb = profile.session_bytes
    if sb.distribution == "empirical":
        return np.asarray(sb.values, dtype=np.int64)
    low, high = sb.range_bytes
    return np.arange(low, high + 1, dtype=np.int64)


@dataclass(frozen=True)
class ProfileTable:
    """Traffic profiles as parallel arrays (one entry per profile, or flat tables), for the kernel.

    The field order is the kernel's argument order (:meth:`kernel_args`).
    """

    # schedule
    schedule: np.ndarray  # int8 SCHEDULE_*
    burst_period_s: np.ndarray  # float64: mean gap between burst starts (inf when none)
    jitter_s: np.ndarray  # float64
    burst_size: np.ndarray  # int64
    burst_spacing_s: np.ndarray  # float64
    hourly_share: np.ndarray  # float64 (profiles, 24)
    # payload draw
    bytes_kind: np.ndarray  # int8 BYTES_*
    bytes_a: np.ndarray  # int64: fixed size, or minimum
    bytes_b: np.ndarray  # int64: maximum (inclusive)
    emp_offset: np.ndarray  # int64: start in emp_values/emp_cum
    emp_count: np.ndarray  # int64
    emp_values: np.ndarray  # int64 (flat)
    emp_cum: np.ndarray  # float64 (flat): cumulative probabilities
    uplink_fraction: np.ndarray  # float64 (raw)
    duration_s: np.ndarray  # float64
    # SMS
    sms_mo_gap_s: np.ndarray  # float64: mean gap (inf when none)
    sms_mt_gap_s: np.ndarray  # float64
    # wire: per payload row
    wire_offset: np.ndarray  # int64: first payload row of the profile, -1 for raw
    wire_up: np.ndarray  # int64 (rows): session (per_report) or report (persistent) uplink bytes
    wire_down: np.ndarray  # int64 (rows)
    # persistent connections
    persistent: np.ndarray  # bool
    keepalive_s: np.ndarray  # float64 (inf when not persistent)
    open_up: np.ndarray  # int64
    open_down: np.ndarray  # int64
    ping_up: np.ndarray  # int64
    ping_down: np.ndarray  # int64
    # loss
    loss_kind: np.ndarray  # int8 LOSS_*
    loss_q: np.ndarray  # float64
    run_writes: np.ndarray  # int64: writes per exchange (TCP)
    run_offset: np.ndarray  # int64: first run of payload row 0 (TCP)
    open_run_writes: np.ndarray  # int64: writes of the open phase (persistent TCP)
    open_run_offset: np.ndarray  # int64: runs of the open phase (persistent TCP)
    run_up: np.ndarray  # bool (flat runs): the write goes uplink
    run_full: np.ndarray  # int64: full-MSS segments of the write
    run_full_bytes: np.ndarray  # int64: IP bytes of one full segment
    run_last_bytes: np.ndarray  # int64: IP bytes of the short last segment (0: none)
    con_bytes: np.ndarray  # int64 (rows): one copy of the CoAP CON request
    # set-up failures
    fail_p: np.ndarray  # float64
    max_attempts: np.ndarray  # int64
    retry_interval_s: np.ndarray  # float64
    failed_up: np.ndarray  # int64: one failed attempt
    failed_down: np.ndarray  # int64
    plain: np.ndarray  # bool: per-report sessions without losses or failures (the kernel's fast loop)

    @classmethod
    def from_profiles(cls, profiles) -> "ProfileTable":
        """Compile scenario ``TrafficProfile`` models."""
        b = _Builder()
        for profile in profiles:
            b.add(profile)
        return b.table()

    def kernel_args(self) -> tuple:
        """All arrays, in field order: the kernel's profile tuple (the arrays themselves, not
        copies as ``dataclasses.astuple`` would make)."""
        return tuple(getattr(self, name) for name in _FIELDS)

    @property
    def min_session_gap_s(self) -> float:
        """The shortest mean gap between two sessions of any profile (sizes record buffers)."""
        gaps = self.burst_period_s / self.burst_size  # a window holds at most one partial burst
        gaps = np.minimum(gaps, np.minimum(self.sms_mo_gap_s, self.sms_mt_gap_s))
        gaps = np.minimum(gaps, self.keepalive_s)
        return float(np.min(gaps, initial=np.inf))


#: Positions in :meth:`ProfileTable.kernel_args` of the arrays the kernel reads one by one.
_FIELDS = list(ProfileTable.__dataclass_fields__)
(P_PLAIN, P_SMS_MO_GAP, P_SMS_MT_GAP, P_WIRE_UP, P_WIRE_DOWN, P_PERSISTENT, P_LOSS_KIND, P_LOSS_Q,
 P_RUN_UP, P_RUN_FULL, P_RUN_FULL_BYTES, P_RUN_LAST_BYTES, P_CON_BYTES, P_FAIL_P, P_MAX_ATTEMPTS, P_RETRY_INTERVAL,
 P_FAILED_UP, P_FAILED_DOWN) = (_FIELDS.index(name) for name in (
    "plain", "sms_mo_gap_s", "sms_mt_gap_s", "wire_up", "wire_down", "persistent", "loss_kind", "loss_q", "run_up", "run_full", "run_full_bytes", "run_last_bytes", "con_bytes", "fail_p", "max_attempts",
    "retry_interval_s", "failed_up", "failed_down"))  # fmt: skip
#: The kernel unpacks the first ``P_HEAD`` arrays at once, in this order.
P_HEAD_FIELDS = (
    "schedule", "burst_period_s", "jitter_s", "burst_size", "burst_spacing_s", "hourly_share", "bytes_kind", "bytes_a",
    "bytes_b", "emp_offset", "emp_count", "emp_values", "emp_cum", "uplink_fraction", "duration_s", "sms_mo_gap_s",
    "sms_mt_gap_s", "wire_offset", "wire_up", "wire_down", "persistent", "keepalive_s", "open_up", "open_down",
    "ping_up", "ping_down", "loss_kind", "loss_q", "run_writes", "run_offset", "open_run_writes", "open_run_offset",
)  # fmt: skip
P_HEAD = len(P_HEAD_FIELDS)
assert tuple(_FIELDS[:P_HEAD]) == P_HEAD_FIELDS, "the kernel's unpacking order changed"


class _Builder:
    """Accumulates per-profile entries and flat tables."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {name: [] for name in ProfileTable.__dataclass_fields__}
        self.flat: dict[str, list[np.ndarray]] = {
            name: [] for name in ("emp_values", "emp_cum", "wire_up", "wire_down", "run_up", "run_full",
                                  "run_full_bytes", "run_last_bytes", "con_bytes")
        }  # fmt: skip
        self.sizes = {"emp": 0, "rows": 0, "runs": 0}

    def _append_flat(self, counter: str, **arrays: np.ndarray) -> int:
        """Append equal-length arrays to flat tables; returns their start offset."""
        start = self.sizes[counter]
        for name, values in arrays.items():
            self.flat[name].append(np.asarray(values))
        self.sizes[counter] += len(next(iter(arrays.values())))
        return start

    def _runs(self, runs) -> int:
        """Append segment runs (payloads x writes, flattened row-major); returns their offset."""
        return self._append_flat(
            "runs",
            run_up=runs.direction_up.ravel(), run_full=runs.full_segments.ravel(),
            run_full_bytes=runs.full_segment_ip_bytes.ravel(), run_last_bytes=runs.last_segment_ip_bytes.ravel(),
        )  # fmt: skip

    def add(self, p) -> None:
        c = self.cols
        per_day = p.sessions_per_day
        c["schedule"].append(SCHEDULES[p.schedule])
        c["burst_period_s"].append(SECONDS_PER_DAY * p.burst_size / per_day if per_day > 0 else np.inf)
        c["jitter_s"].append(p.jitter_s)
        c["burst_size"].append(p.burst_size)
        c["burst_spacing_s"].append(p.burst_spacing_s)
        c["hourly_share"].append(p.hourly_rate_share)
        sb = p.session_bytes
        values = _payload_values(p)
        c["bytes_kind"].append(BYTES_KINDS[sb.distribution])
        c["bytes_a"].append(int(values[0]) if sb.distribution != "empirical" else 0)
        c["bytes_b"].append(int(values[-1]) if sb.distribution != "empirical" else 0)
        if sb.distribution == "empirical":
            _, probabilities = sb.choices
            cum = np.cumsum(np.asarray(probabilities, dtype=np.float64))
            cum[-1] = np.inf  # every u < 1 lands on a value despite rounding
            c["emp_offset"].append(self._append_flat("emp", emp_values=values, emp_cum=cum))
            c["emp_count"].append(values.size)
        else:
            c["emp_offset"].append(0)
            c["emp_count"].append(0)
        c["uplink_fraction"].append(p.uplink_share)
        c["duration_s"].append(p.session_duration_s)
        c["sms_mo_gap_s"].append(SECONDS_PER_DAY / p.sms_mo_per_day if p.sms_mo_per_day > 0 else np.inf)
        c["sms_mt_gap_s"].append(SECONDS_PER_DAY / p.sms_mt_per_day if p.sms_mt_per_day > 0 else np.inf)
        self._add_wire(p, values)

    def _add_wire(self, p, values: np.ndarray) -> None:
        c = self.cols
        persistent = p.connection == "persistent"
        c["persistent"].append(persistent)
        c["keepalive_s"].append(float(p.keepalive_s) if persistent else np.inf)
        c["loss_q"].append(p.loss_probability or 0.0)
        if p.protocol == "raw":
            c["wire_offset"].append(-1)
            for name in ("open_up", "open_down", "ping_up", "ping_down", "run_writes", "run_offset",
                         "open_run_writes", "open_run_offset", "failed_up", "failed_down"):  # fmt: skip
                c[name].append(0)
            c["loss_kind"].append(LOSS_NONE)
            c["fail_p"].append(0.0)
            c["max_attempts"].append(1)
            c["retry_interval_s"].append(0.0)
            return
        session = session_for_profile(p)
        up, down = session.report_totals(values) if persistent else session.totals(values)
        c["wire_offset"].append(self._append_flat("rows", wire_up=up, wire_down=down, con_bytes=self._con_bytes(session, values, p)))
        if persistent:
            (ou, od), (pu, pd) = session.open_totals(), session.ping_totals()
        else:
            ou = od = pu = pd = 0
        c["open_up"].append(ou)
        c["open_down"].append(od)
        c["ping_up"].append(pu)
        c["ping_down"].append(pd)
        self._add_loss(p, session, values, persistent)
        fail_p = p.establishment_failure_probability or 0.0
        c["fail_p"].append(fail_p)
        c["max_attempts"].append(p.max_attempts or 1)
        c["retry_interval_s"].append(p.retry_interval_s or 0.0)
        if fail_p > 0:
            fu, fd = session.failed_attempt_totals(FAILED_ATTEMPT_SYN_RETRIES)
        else:
            fu = fd = 0
        c["failed_up"].append(fu)
        c["failed_down"].append(fd)

    @staticmethod
    def _con_bytes(session, values: np.ndarray, p) -> np.ndarray:
        if (p.loss_probability or 0.0) > 0 and session.transport == "udp":
            return np.asarray(session.con_datagram_ip_bytes(values), dtype=np.int64)
        return np.zeros(values.size, np.int64)

    def _add_loss(self, p, session, values: np.ndarray, persistent: bool) -> None:
        c = self.cols
        if not p.loss_probability:
            kind = LOSS_NONE
        else:
            kind = LOSS_TCP if session.transport == "tcp" else LOSS_COAP
        c["loss_kind"].append(kind)
        if kind != LOSS_TCP:
            for name in ("run_writes", "run_offset", "open_run_writes", "open_run_offset"):
                c[name].append(0)
            return
        runs = session.segment_runs(values, phase="report" if persistent else "session")
        c["run_writes"].append(runs.full_segments.shape[1])
        c["run_offset"].append(self._runs(runs))
        if persistent:
            open_runs = session.segment_runs(np.zeros(1, np.int64), phase="open")
            c["open_run_writes"].append(open_runs.full_segments.shape[1])
            c["open_run_offset"].append(self._runs(open_runs))
        else:
            c["open_run_writes"].append(0)
            c["open_run_offset"].append(0)

    def table(self) -> ProfileTable:
        dtypes = {f: ProfileTable.__dataclass_fields__[f] for f in self.cols}
        out = {}
        for name in dtypes:
            if name in self.flat:
                parts = self.flat[name]
                out[name] = np.concatenate(parts) if parts else np.zeros(0)
            else:
                out[name] = np.asarray(self.cols[name])
        casts = {
            "schedule": np.int8, "bytes_kind": np.int8, "loss_kind": np.int8, "persistent": np.bool_, "run_up": np.bool_,
            "burst_size": np.int64, "bytes_a": np.int64, "bytes_b": np.int64, "emp_offset": np.int64, "emp_count": np.int64,
            "emp_values": np.int64, "wire_offset": np.int64, "wire_up": np.int64, "wire_down": np.int64,
            "open_up": np.int64, "open_down": np.int64, "ping_up": np.int64, "ping_down": np.int64,
            "run_writes": np.int64, "run_offset": np.int64, "open_run_writes": np.int64, "open_run_offset": np.int64, "run_full": np.int64,
            "run_full_bytes": np.int64, "run_last_bytes": np.int64, "con_bytes": np.int64, "max_attempts": np.int64,
            "failed_up": np.int64, "failed_down": np.int64,
        }  # fmt: skip
        for name, value in out.items():
            out[name] = np.ascontiguousarray(value, dtype=casts.get(name, np.float64))
        out["hourly_share"] = out["hourly_share"].reshape(-1, 24)
        out["plain"] = ~out["persistent"] & (out["loss_q"] == 0) & (out["fail_p"] == 0)
        return ProfileTable(**out)

