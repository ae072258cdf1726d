"""Traffic profiles compiled to arrays, and the vectorized traffic kernel.

Between two control-plane happenings nothing but traffic changes, so the engine hands the whole
window ``[now, t_end)`` to :func:`advance_window`. For every device it walks the device's data
sessions and SMS in time order, counts them into the day's accumulators and, for devices in a
test-allowance state, finds the exact session (or SMS) whose usage exceeds the allowance: the SIM
defaults to Active-Billed at that session's start time (seed 003: "Upon exceeding any of these
thresholds, the device is automatically moved to the Active-Billed state"), and every later session
of the window is counted in the new state. No other happening lies inside a window, so committing
those crossings when the window ends, stamped with their exact times, is the same as scheduling
each one on the event heap at its time.

Session volume: every session draws one size from its profile's distribution. For a ``raw``
profile that size is the session's total packet bytes (uplink + downlink, the seed's "Total
Packet Data Traffic"), split by ``uplink_fraction``. For a protocol profile it is the application
payload, and the uplink and downlink bytes are those of every IP packet of the exchange, looked up
in tables built from the wire model (``cellfleet.emulator.session``, see :func:`_wire_tables`).

Arrival schedules: ``poisson`` (exponential gaps, rate ``sessions_per_day``) and ``periodic`` (gaps
of ``86400 / sessions_per_day`` seconds, each jittered by U(-jitter_s, +jitter_s); a (re)start
draws a uniform phase inside one period).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from cellfleet.emulator.session import session_for_profile
from cellfleet.sim.lifecycle import DefaultReason, State
from cellfleet.sim.rand import exponential1, uniform01

SECONDS_PER_DAY = 86400.0
NO_PROFILE = -1

# module constants are frozen into the compiled kernels
_ACTIVE_BILLED = np.int8(State.ACTIVE_BILLED)
_DATA_EXCEEDED = int(DefaultReason.DATA)
_SMS_EXCEEDED = int(DefaultReason.SMS)

SCHEDULE_POISSON = 0
SCHEDULE_PERIODIC = 1
BYTES_FIXED = 0
BYTES_UNIFORM = 1

#: Columns of the session-record buffer returned by :func:`advance_window`.
REC_DEVICE, REC_START_S, REC_DURATION_S, REC_STATE, REC_UPLINK, REC_DOWNLINK, REC_PAYLOAD, REC_PROFILE = range(8)
REC_COLUMNS = 8


@dataclass(frozen=True)
class ProfileTable:
    """Traffic profiles as parallel arrays (one entry per profile), ready for the kernel."""

    names: tuple[str, ...]
    schedule: np.ndarray  # int8: SCHEDULE_*
    period_s: np.ndarray  # float64: mean gap between sessions (inf when none)
    jitter_s: np.ndarray  # float64
    bytes_kind: np.ndarray  # int8: BYTES_*
    bytes_a: np.ndarray  # int64: fixed size, or uniform minimum
    bytes_b: np.ndarray  # int64: uniform maximum (inclusive)
    uplink_fraction: np.ndarray  # float64
    duration_s: np.ndarray  # float64
    sms_gap_s: np.ndarray  # float64: mean gap between SMS (inf when none)
    wire_offset: np.ndarray  # int64: start of the profile's rows in wire_*_bytes, -1 for raw
    wire_uplink_bytes: np.ndarray  # int64: IP bytes per session, by payload (see from_profiles)
    wire_downlink_bytes: np.ndarray  # int64

    @classmethod
    def from_profiles(cls, profiles) -> "ProfileTable":
        """Compile scenario ``TrafficProfile`` models."""
        rate = np.array([p.sessions_per_day / SECONDS_PER_DAY for p in profiles], dtype=np.float64)
        with np.errstate(divide="ignore"):
            period = np.where(rate > 0, 1.0 / np.where(rate > 0, rate, 1.0), np.inf)
        sb = [p.session_bytes for p in profiles]
        offsets, up_tables, down_tables = _wire_tables(profiles)
        return cls(
            names=tuple(p.name for p in profiles),
            schedule=np.array(
                [SCHEDULE_PERIODIC if p.schedule == "periodic" else SCHEDULE_POISSON for p in profiles],
                dtype=np.int8,
            ),
            period_s=period.astype(np.float64),
            jitter_s=np.array([p.jitter_s for p in profiles], dtype=np.float64),
            bytes_kind=np.array(
                [BYTES_UNIFORM if s.distribution == "uniform" else BYTES_FIXED for s in sb], dtype=np.int8
            ),
            bytes_a=np.array([s.min_bytes if s.distribution == "uniform" else s.bytes for s in sb], dtype=np.int64),
            bytes_b=np.array([s.max_bytes if s.distribution == "uniform" else s.bytes for s in sb], dtype=np.int64),
            uplink_fraction=np.array([p.uplink_share for p in profiles], dtype=np.float64),
            duration_s=np.array([p.session_duration_s for p in profiles], dtype=np.float64),
            sms_gap_s=np.array(
                [SECONDS_PER_DAY / p.sms_per_day if p.sms_per_day > 0 else np.inf for p in profiles], dtype=np.float64
            ),
            wire_offset=offsets,
            wire_uplink_bytes=up_tables,
            wire_downlink_bytes=down_tables,
        )

    def kernel_args(self) -> tuple:
        return (
            self.schedule,
            self.period_s,
            self.jitter_s,
            self.bytes_kind,
            self.bytes_a,
            self.bytes_b,
            self.uplink_fraction,
            self.duration_s,
            self.sms_gap_s,
            self.wire_offset,
            self.wire_uplink_bytes,
            self.wire_downlink_bytes,
        )


def _wire_tables(profiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uplink and downlink IP bytes of one session for every payload a profile can draw.

    Protocol profiles (not ``raw``) draw an application payload in ``[min, max]``; the bytes on
    the wire are a deterministic function of it (``cellfleet.emulator.session``), so they are
    computed once for the whole range and the kernel looks them up: row ``offset + payload - min``.
    """
    offsets = np.full(len(profiles), -1, dtype=np.int64)
    ups: list[np.ndarray] = [np.zeros(0, np.int64)]
    downs: list[np.ndarray] = [np.zeros(0, np.int64)]
    next_row = 0
    for k, profile in enumerate(profiles):
        if profile.protocol == "raw":
            continue
        low, high = profile.session_bytes.range_bytes
        up, down = session_for_profile(profile).totals(np.arange(low, high + 1, dtype=np.int64))
        offsets[k] = next_row
        next_row += up.size
        ups.append(up)
        downs.append(down)
    return offsets, np.concatenate(ups), np.concatenate(downs)


@nb.njit(cache=True, inline="always")
def session_size_bytes(kind, a, b, u):
    """The drawn size of one session (billed bytes of ``raw``, else payload), from one uniform
    draw ``u``."""
    if kind == BYTES_FIXED:
        return a
    return a + np.int64(u * (b - a + 1))


@nb.njit(cache=True)
def restart_arrivals(rows, t_s, state, traffic_map, map_table, key, ctr, next_sess, next_sms, p_sched, p_period, p_sms_gap):
    """(Re)start the arrival processes of ``rows`` at time ``t_s`` for their current profile.

    Called when a device's profile changes (state change or ``set_traffic``): Poisson arrivals are
    memoryless, periodic ones get a fresh uniform phase. Devices without traffic get ``inf``.
    """
    for j in range(rows.shape[0]):
        _restart_one(rows[j], t_s, state, traffic_map, map_table, key, ctr, next_sess, next_sms, p_sched, p_period, p_sms_gap)


@nb.njit(cache=True, inline="always")
def _restart_one(i, t_s, state, traffic_map, map_table, key, ctr, next_sess, next_sms, p_sched, p_period, p_sms_gap):
    prof = map_table[traffic_map[i], state[i]]
    if prof < 0:
        next_sess[i] = np.inf
        next_sms[i] = np.inf
        return
    gap = p_period[prof]
    if gap < np.inf:
        if p_sched[prof] == SCHEDULE_POISSON:
            next_sess[i] = t_s + exponential1(key[i], ctr[i]) * gap
        else:
            next_sess[i] = t_s + uniform01(key[i], ctr[i]) * gap
        ctr[i] += np.uint64(1)
    else:
        next_sess[i] = np.inf
    sms_gap = p_sms_gap[prof]
    if sms_gap < np.inf:
        next_sms[i] = t_s + exponential1(key[i], ctr[i]) * sms_gap
        ctr[i] += np.uint64(1)
    else:
        next_sms[i] = np.inf


def record_capacity(recorded_devices: int, window_s: float, min_period_s: float) -> int:
    """A record-buffer size no window can exceed in practice.

    A periodic device has at most ``2 * window / period + 1`` sessions in a window (gaps are
    longer than half a period); a profile switch adds at most one more. Poisson counts above
    twice their mean plus 1024 have negligible probability (a 0.5 sqrt(mean) sigma event at the
    very least).
    """
    expected = recorded_devices * window_s / min_period_s if np.isfinite(min_period_s) else 0.0
    return int(2.0 * expected) + 2 * recorded_devices + 1024


@nb.njit(cache=True)
def advance_window(
    rows, t_end_s, record_flag, rec_capacity,
    state, traffic_map, map_table, rate_plan, limit_bytes, limit_sms,
    key, ctr, next_sess, next_sms, used_bytes, used_sms, test_entry_s,
    day_bytes, day_sessions, day_sms, tot_bytes, tot_sessions, tot_sms,
    p_sched, p_period, p_jitter, p_bkind, p_ba, p_bb, p_up, p_dur, p_sms_gap,
    p_wire_off, wire_up, wire_down,
):  # fmt: skip
    """Walk every device of ``rows`` up to ``t_end_s``; see the module docstring.

    Returns ``(def_dev, def_time_s, def_from_state, def_reason, records, n_records)``: the
    defaulted devices with their exact crossing times, the test state they left and the reason
    code (``DefaultReason``), and the session records (``REC_*`` columns) of devices with
    ``record_flag``. The record buffer has a fixed ``rec_capacity`` (see
    :func:`record_capacity`); ``n_records`` counts every record, so the caller can detect an
    overflow. Growing the buffer inside the loop would make numba treat it as a reassigned
    array and slow the walk of every device about 1.7x.
    """
    n = rows.shape[0]
    def_dev = np.empty(n, np.int64)
    def_time = np.empty(n, np.float64)
    def_from = np.empty(n, np.int8)
    def_reason = np.empty(n, np.int8)
    n_def = 0
    rec = np.empty((rec_capacity, REC_COLUMNS), np.float64)
    n_rec = 0
    for j in range(n):
        i = rows[j]
        st = state[i]
        prof = map_table[traffic_map[i], st]
        if prof < 0:
            continue
        rp = rate_plan[i]
        lim_b = limit_bytes[rp, st]
        lim_s = limit_sms[rp, st]
        # the walk keeps the device's columns in locals and writes them back once
        k = key[i]
        c = ctr[i]
        ts = next_sess[i]
        tm = next_sms[i]
        ub = used_bytes[i]
        us = used_sms[i]
        n_s = 0
        n_m = 0
        nb_ = np.int64(0)
        recording = record_flag[i]
        while True:
            if ts <= tm:
                if ts >= t_end_s:
                    break
                size = session_size_bytes(p_bkind[prof], p_ba[prof], p_bb[prof], uniform01(k, c))
                c += np.uint64(1)
                row = p_wire_off[prof]
                if row >= 0:  # a protocol: the bytes of every packet of the exchange
                    row += size - p_ba[prof]
                    up = wire_up[row]
                    b = up + wire_down[row]
                else:  # raw: the drawn size is the billed volume
                    b = size
                    up = np.int64(b * p_up[prof] + 0.5)
                nb_ += b
                n_s += 1
                if recording:
                    if n_rec < rec_capacity:  # never reassign ``rec`` here: see the docstring
                        rec[n_rec, REC_DEVICE] = i
                        rec[n_rec, REC_START_S] = ts
                        rec[n_rec, REC_DURATION_S] = p_dur[prof]
                        rec[n_rec, REC_STATE] = st
                        rec[n_rec, REC_UPLINK] = up
                        rec[n_rec, REC_DOWNLINK] = b - up
                        rec[n_rec, REC_PAYLOAD] = size
                        rec[n_rec, REC_PROFILE] = prof
                    n_rec += 1
                t_event = ts
                if p_sched[prof] == SCHEDULE_POISSON:
                    ts = ts + exponential1(k, c) * p_period[prof]
                else:
                    ts = ts + p_period[prof] + (2.0 * uniform01(k, c) - 1.0) * p_jitter[prof]
                c += np.uint64(1)
                crossed = 0
                if lim_b >= 0:
                    ub += b
                    if ub > lim_b:
                        crossed = _DATA_EXCEEDED
            else:
                if tm >= t_end_s:
                    break
                n_m += 1
                t_event = tm
                tm = tm + exponential1(k, c) * p_sms_gap[prof]
                c += np.uint64(1)
                crossed = 0
                if lim_s >= 0:
                    us += 1
                    if us > lim_s:
                        crossed = _SMS_EXCEEDED
            if crossed:
                def_dev[n_def] = i
                def_time[n_def] = t_event
                def_from[n_def] = st
                def_reason[n_def] = crossed
                n_def += 1
                st = _ACTIVE_BILLED  # no allowance there
                state[i] = st
                test_entry_s[i] = np.nan
                lim_b = limit_bytes[rp, st]
                lim_s = limit_sms[rp, st]
                new_prof = map_table[traffic_map[i], st]
                if new_prof != prof:
                    prof = new_prof
                    ctr[i] = c
                    _restart_one(i, t_event, state, traffic_map, map_table, key, ctr, next_sess, next_sms, p_sched, p_period, p_sms_gap)
                    c = ctr[i]
                    ts = next_sess[i]
                    tm = next_sms[i]
                    if prof < 0:
                        break
        ctr[i] = c
        next_sess[i] = ts
        next_sms[i] = tm
        used_bytes[i] = ub
        used_sms[i] = us
        day_bytes[i] += nb_
        day_sessions[i] += n_s
        day_sms[i] += n_m
        tot_bytes[i] += nb_
        tot_sessions[i] += n_s
        tot_sms[i] += n_m
    return def_dev[:n_def], def_time[:n_def], def_from[:n_def], def_reason[:n_def], rec[: min(n_rec, rec_capacity)], n_rec

