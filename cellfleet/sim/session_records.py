"""Session records (3GPP-style, TS 32.298 PGW-CDR fields) cut from the kernel's exchange events.

A per-report session (and a one-off session, and a connection set-up whose every attempt failed)
is one PDP/PDN context from set-up to release: one record, closed by ``normal_release``
(``abnormal_release`` when the set-up failed). A persistent connection holds its context open; its
record accumulates the open phase, the reports and the keep-alive pings, and is cut into partial
records (same session, next ``record_sequence_number``) when:

* it has been open ``interim_time_s`` (``time_limit``), or counted ``interim_volume_bytes``
  (``volume_limit``): the platform's interim records (``shared/reference/platforms.md`` §6.1);
* the SIM changes state while the connection stays up (``management_intervention``: the
  platform's change of the subscription closes the record, and the state at usage of every record
  is one state).

A connection released by a profile change (the network tears the context down when the SIM
changes state or traffic) closes with ``management_intervention``; records still open when the run
ends close with ``run_end`` (cellfleet's own cause: the context is still up). Cause labels map to
TS 32.298 causeForRecClosing values: normalRelease 0, abnormalRelease 4, volumeLimit 16,
timeLimit 17, managementIntervention 20.

Only recorded devices have events; :class:`RecordCutter` keeps the open record of each of them
across windows (one slot per recorded device).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.traffic import (
    EV_COUNT,
    EV_DEVICE,
    EV_DOWN,
    EV_FAILED_ATTEMPTS,
    EV_FAILED_BYTES,
    EV_KIND,
    EV_PAYLOAD,
    EV_PROFILE,
    EV_RETX,
    EV_SPAN_S,
    EV_STATE,
    EV_TIME_S,
    EV_UP,
    KIND_OPEN,
    KIND_OPEN_FAILED,
    KIND_PINGS,
    KIND_RELEASE,
    KIND_REPORT,
    KIND_SMS_MO,
    KIND_SMS_MT,
    KIND_STATE,
    KIND_TAU,
)

CAUSES = ("normal_release", "abnormal_release", "volume_limit", "time_limit", "management_intervention", "run_end")
CAUSE_NORMAL, CAUSE_ABNORMAL, CAUSE_VOLUME, CAUSE_TIME, CAUSE_MANAGEMENT, CAUSE_RUN_END = range(6)

#: Columns of a record buffer.
(R_DEVICE, R_SESSION_SEQ, R_RECORD_SEQ, R_START_S, R_END_S, R_STATE, R_PROFILE, R_UP, R_DOWN, R_PAYLOAD, R_RETX,
 R_FAILED_BYTES, R_FAILED_ATTEMPTS, R_CAUSE, R_REPORTS, R_PINGS) = range(16)  # fmt: skip
R_COLUMNS = 16
#: Slot columns: the open record of a recorded device (``open_s`` NaN when none).
(S_OPEN_S, S_SESSION, S_RECORD_SEQ, S_STATE, S_PROFILE, S_UP, S_DOWN, S_PAYLOAD, S_RETX, S_FAILED_BYTES,
 S_FAILED_ATTEMPTS, S_REPORTS, S_PINGS, S_NEXT_SESSION) = range(14)  # fmt: skip
S_COLUMNS = 14


class RecordCutter:
    """Cuts session records of the recorded devices, window after window."""

    def __init__(self, recorded_rows: np.ndarray, size: int, interim_time_s: float | None, interim_volume_bytes: int | None) -> None:
        self.slot_of = np.full(size, -1, np.int64)
        self.slot_of[recorded_rows] = np.arange(recorded_rows.size)
        self.slot_device = np.asarray(recorded_rows, dtype=np.int64)
        self.slots = np.zeros((recorded_rows.size, S_COLUMNS), np.float64)
        self.slots[:, S_OPEN_S] = np.nan
        self.interim_time_s = np.inf if interim_time_s is None else float(interim_time_s)
        self.interim_volume_bytes = np.inf if interim_volume_bytes is None else float(interim_volume_bytes)

    def cut(self, events: np.ndarray, t_end_s: float, final: bool = False) -> np.ndarray:
        """Records closed by ``events`` (one window's, in kernel order) up to ``t_end_s``; with
        ``final`` every open record closes at ``t_end_s`` (``run_end``)."""
        open_slots = int(np.count_nonzero(~np.isnan(self.slots[:, S_OPEN_S])))
        cuts = 0.0
        if np.isfinite(self.interim_time_s):
            # A device has one open record at a time, cut every interim_time_s from its opening:
            # bound the cuts of every record open now or (re)opened in this window (a connection
            # set up, or a state change) by the time from the earliest opening to t_end_s.
            opening = np.isin(events[:, EV_KIND], (KIND_OPEN, KIND_STATE))
            active = open_slots + int(np.count_nonzero(opening))
            if active:
                earliest = min(np.nanmin(self.slots[:, S_OPEN_S]) if open_slots else np.inf,
                               events[opening, EV_TIME_S].min(initial=np.inf))  # fmt: skip
                cuts = ((t_end_s - earliest) / self.interim_time_s + 2) * active
        pings = float(events[events[:, EV_KIND] == KIND_PINGS, EV_COUNT].sum()) if np.isfinite(self.interim_volume_bytes) else 0.0
        capacity = int(2 * events.shape[0] + cuts + pings + open_slots + 16)
        out, n = _cut(events, t_end_s, final, self.slot_of, self.slot_device, self.slots, self.interim_time_s, self.interim_volume_bytes, capacity)
        return out[:n]


@nb.njit(cache=True)
def _cut(events, t_end_s, final, slot_of, slot_device, slots, interim_time_s, interim_volume_bytes, capacity):
    out = np.empty((capacity, R_COLUMNS), np.float64)
    scratch = np.empty((1, S_COLUMNS), np.float64)
    n = 0
    for e in range(events.shape[0]):
        kind = int(events[e, EV_KIND])
        if kind == KIND_SMS_MO or kind == KIND_SMS_MT or kind == KIND_TAU:  # no data session
            continue
        device = int(events[e, EV_DEVICE])
        s = slot_of[device]
        t = events[e, EV_TIME_S]
        if kind == KIND_OPEN:
            n = _close_time_cuts(out, n, device, slots, s, t, interim_time_s)
            if slots[s, S_OPEN_S] == slots[s, S_OPEN_S]:  # an unreleased earlier connection
                n = _emit(out, n, device, slots, s, t, CAUSE_MANAGEMENT)
            slots[s, S_SESSION] = slots[s, S_NEXT_SESSION]
            slots[s, S_NEXT_SESSION] += 1
            slots[s, S_RECORD_SEQ] = 0
            _open(slots, s, t, events[e, EV_STATE], events[e, EV_PROFILE])
            _add(slots, s, events, e)
            n = _volume_cut(out, n, device, slots, s, t, interim_volume_bytes)
        elif kind == KIND_REPORT:
            n = _close_time_cuts(out, n, device, slots, s, t, interim_time_s)
            _add(slots, s, events, e)
            slots[s, S_REPORTS] += 1
            n = _volume_cut(out, n, device, slots, s, t, interim_volume_bytes)
        elif kind == KIND_PINGS:
            n = _pings(out, n, device, slots, s, events, e, interim_time_s, interim_volume_bytes)
        elif kind == KIND_STATE or kind == KIND_RELEASE:
            n = _close_time_cuts(out, n, device, slots, s, t, interim_time_s)
            if slots[s, S_OPEN_S] == slots[s, S_OPEN_S]:
                profile = slots[s, S_PROFILE]
                n = _emit(out, n, device, slots, s, t, CAUSE_MANAGEMENT)
                if kind == KIND_STATE:
                    slots[s, S_RECORD_SEQ] += 1
                    _open(slots, s, t, events[e, EV_STATE], profile)
                else:
                    slots[s, S_OPEN_S] = np.nan
        else:  # a session of its own: per report, one-off, or a failed connection set-up
            seq = slots[s, S_NEXT_SESSION]
            slots[s, S_NEXT_SESSION] += 1
            delivered = events[e, EV_COUNT] > 0 and kind != KIND_OPEN_FAILED
            # built in a scratch slot so it is written like any other record
            _open(scratch, 0, t, events[e, EV_STATE], events[e, EV_PROFILE])
            _add(scratch, 0, events, e)
            scratch[0, S_SESSION] = seq
            scratch[0, S_RECORD_SEQ] = 0
            scratch[0, S_REPORTS] = 1 if delivered else 0
            n = _emit(out, n, device, scratch, 0, t + events[e, EV_SPAN_S], CAUSE_NORMAL if delivered else CAUSE_ABNORMAL)
    for s in range(slots.shape[0]):  # time limits that fell inside the window, and the run's end
        if slots[s, S_OPEN_S] == slots[s, S_OPEN_S]:
            device = slot_device[s]
            # records are [open, close): a limit at the window's end is cut by the next window (or,
            # at the run's end, the record closes with run_end instead)
            n = _close_time_cuts(out, n, device, slots, s, np.nextafter(t_end_s, -np.inf), interim_time_s)
            if final:
                n = _emit(out, n, device, slots, s, t_end_s, CAUSE_RUN_END)
                slots[s, S_OPEN_S] = np.nan
    return out, n


@nb.njit(cache=True, inline="always")
def _open(slots, s, t, state, profile):
    slots[s, S_OPEN_S] = t
    slots[s, S_STATE] = state
    slots[s, S_PROFILE] = profile
    for col in (S_UP, S_DOWN, S_PAYLOAD, S_RETX, S_FAILED_BYTES, S_FAILED_ATTEMPTS, S_REPORTS, S_PINGS):
        slots[s, col] = 0.0


@nb.njit(cache=True, inline="always")
def _add(slots, s, events, e):
    slots[s, S_UP] += events[e, EV_UP]
    slots[s, S_DOWN] += events[e, EV_DOWN]
    slots[s, S_PAYLOAD] += events[e, EV_PAYLOAD]
    slots[s, S_RETX] += events[e, EV_RETX]
    slots[s, S_FAILED_BYTES] += events[e, EV_FAILED_BYTES]
    slots[s, S_FAILED_ATTEMPTS] += events[e, EV_FAILED_ATTEMPTS]


@nb.njit(cache=True, inline="always")
def _emit(out, n, device, slots, s, t_close, cause):
    """Write the open record of slot ``s`` closing at ``t_close``."""
    if n >= out.shape[0]:  # never write past the buffer (RecordCutter.cut sizes it)
        raise IndexError("session record buffer overflow")
    out[n, R_DEVICE] = device
    out[n, R_SESSION_SEQ] = slots[s, S_SESSION]
    out[n, R_RECORD_SEQ] = slots[s, S_RECORD_SEQ]
    out[n, R_START_S] = slots[s, S_OPEN_S]
    out[n, R_END_S] = t_close
    out[n, R_STATE] = slots[s, S_STATE]
    out[n, R_PROFILE] = slots[s, S_PROFILE]
    out[n, R_UP] = slots[s, S_UP]
    out[n, R_DOWN] = slots[s, S_DOWN]
    out[n, R_PAYLOAD] = slots[s, S_PAYLOAD]
    out[n, R_RETX] = slots[s, S_RETX]
    out[n, R_FAILED_BYTES] = slots[s, S_FAILED_BYTES]
    out[n, R_FAILED_ATTEMPTS] = slots[s, S_FAILED_ATTEMPTS]
    out[n, R_CAUSE] = cause
    out[n, R_REPORTS] = slots[s, S_REPORTS]
    out[n, R_PINGS] = slots[s, S_PINGS]
    return n + 1


@nb.njit(cache=True, inline="always")
def _reopen(slots, s, t):
    """The next partial record of the same session, from ``t``."""
    slots[s, S_RECORD_SEQ] += 1
    _open(slots, s, t, slots[s, S_STATE], slots[s, S_PROFILE])


@nb.njit(cache=True)
def _close_time_cuts(out, n, device, slots, s, t, interim_time_s):
    """Close the partial records whose time limit falls at or before ``t``."""
    while slots[s, S_OPEN_S] == slots[s, S_OPEN_S] and slots[s, S_OPEN_S] + interim_time_s <= t:
        boundary = slots[s, S_OPEN_S] + interim_time_s
        n = _emit(out, n, device, slots, s, boundary, CAUSE_TIME)
        _reopen(slots, s, boundary)
    return n


@nb.njit(cache=True, inline="always")
def _volume_cut(out, n, device, slots, s, t, interim_volume_bytes):
    if slots[s, S_UP] + slots[s, S_DOWN] >= interim_volume_bytes:
        n = _emit(out, n, device, slots, s, t, CAUSE_VOLUME)
        _reopen(slots, s, t)
    return n


@nb.njit(cache=True)
def _pings(out, n, device, slots, s, events, e, interim_time_s, interim_volume_bytes):
    """A batch of keep-alive pings, split at the time and volume limits they cross."""
    remaining = int(events[e, EV_COUNT])
    interval = events[e, EV_SPAN_S]
    ping_up = events[e, EV_UP] / remaining
    ping_down = events[e, EV_DOWN] / remaining
    per_ping = ping_up + ping_down
    t = events[e, EV_TIME_S]
    while remaining > 0:
        n = _close_time_cuts(out, n, device, slots, s, t, interim_time_s)
        take = remaining
        boundary = slots[s, S_OPEN_S] + interim_time_s
        if boundary < np.inf:
            take = min(take, int(np.ceil((boundary - t) / interval)))
        room = interim_volume_bytes - (slots[s, S_UP] + slots[s, S_DOWN])
        by_volume = False
        if room < np.inf:
            need = int(np.ceil(room / per_ping))
            if need <= take:
                take = need
                by_volume = True
        slots[s, S_UP] += take * ping_up
        slots[s, S_DOWN] += take * ping_down
        slots[s, S_PINGS] += take
        last = t + (take - 1) * interval
        remaining -= take
        t = t + take * interval
        if by_volume:
            n = _emit(out, n, device, slots, s, last, CAUSE_VOLUME)
            _reopen(slots, s, last)
    return n
