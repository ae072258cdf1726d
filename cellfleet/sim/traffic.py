"""The vectorized traffic kernel: every device's traffic between two control-plane happenings.

Between two happenings nothing but traffic changes, so the engine hands the whole window
``[now, t_end)`` to :func:`advance_window`. For every device it walks, in time order, the device's
arrival streams (``cellfleet.sim.arrivals``):

* data sessions of its profile: a per-report session (its own connection), or a report on the
  device's long-lived connection (``persistent``), which is opened when the profile starts and
  re-opened by the next report after a failed set-up;
* MQTT keep-alive pings on an idle persistent connection, every ``keepalive_s`` after the last
  report (MQTT 3.1.1 §3.1.2.10), counted in batches up to the next other event;
* mobile-originated and mobile-terminated SMS (Poisson);
* a pending one-off session (``send_once`` action), dropped if the state then passes no traffic.

Each event counts into the day's accumulators and, for devices in a test-allowance state, into
the allowance: the event that exceeds it is where the SIM defaults to Active-Billed (seed 003:
"Upon exceeding any of these thresholds, the device is automatically moved to the Active-Billed
state"), at the event's time; later events count in the new state. No other happening lies
inside a window, so committing the crossings when the window ends, stamped with their exact
times, is the same as scheduling each on the event heap at its time.

Bytes are those the platform bills as "Total Packet Data Traffic" (seed 003): every IP packet of
the exchange (``cellfleet.sim.profile_table``), plus lost copies that were sent again (each data
segment, or CoAP CON, lost with ``loss_probability``) and failed set-up attempts (each attempt
fails with ``establishment_failure_probability``; the application retries up to ``max_attempts``).
Random draws for loss and failures are only made when the probability is not 0, so profiles
without them keep their streams.

Registration (3GPP TS 24.301, ``cellfleet.sim.gating``): events due before ``reg_from_s`` are
dropped, queued or postponed in a pass of their own, and periodic TAUs (§5.3.5) are counted.

For devices whose exchanges are recorded, every event is written to a fixed-capacity buffer
(``EV_*`` columns) from which ``cellfleet.sim.session_records`` cuts the session records and
``cellfleet.sim.capture`` rebuilds the packets (both skip ``KIND_TAU``: a batch of TAUs).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.arrivals import (BYTES_EMPIRICAL, BYTES_UNIFORM, diurnal_next_s, empirical_index, first_burst_s,
                                    next_burst_s)  # fmt: skip
from cellfleet.sim.gating import count_taus, queue_resume_s, tau_start_s, taus_before, unregistered_stretch
from cellfleet.sim.lifecycle import DefaultReason, State
from cellfleet.sim.losses import lost_bytes, setup_attempts
from cellfleet.sim.profile_table import (LOSS_NONE, P_CON_BYTES, P_FAIL_P, P_FAILED_DOWN, P_FAILED_UP, P_HEAD,
                                         P_LOSS_KIND, P_LOSS_Q, P_MAX_ATTEMPTS, P_PERSISTENT, P_PLAIN, P_RETRY_INTERVAL,
                                         P_RUN_FULL, P_RUN_FULL_BYTES, P_RUN_LAST_BYTES, P_RUN_UP, P_SMS_MO_GAP,
                                         P_SMS_MT_GAP, P_WIRE_DOWN, P_WIRE_UP)  # fmt: skip
from cellfleet.sim.rand import exponential1, uniform01

NO_PROFILE = -1
_ACTIVE_BILLED = np.int8(State.ACTIVE_BILLED)
_DATA_EXCEEDED = int(DefaultReason.DATA)
_SMS_EXCEEDED = int(DefaultReason.SMS)
#: Times closer than this are the same instant (records have microsecond timestamps): a keep-alive
#: ping that float rounding puts a hair before the next report is not sent.
_SAME_TIME_S = 1e-6

#: Event kinds of the record buffer.
KIND_SESSION, KIND_ONCE, KIND_OPEN, KIND_REPORT, KIND_PINGS, KIND_SMS_MO, KIND_SMS_MT = range(7)
KIND_STATE, KIND_RELEASE, KIND_OPEN_FAILED, KIND_TAU = 7, 8, 9, 10

#: Columns of the event buffer. ``EV_COUNT``: pings in a batch, or 1 if a session delivered its
#: payload (0 when every set-up attempt failed), or the TAUs of a batch. ``EV_SPAN_S``: the ping
#: interval of a batch, a session's duration, or T3412. ``EV_CTR``: the device's stream counter
#: before the event's loss draws.
(EV_DEVICE, EV_TIME_S, EV_KIND, EV_STATE, EV_PROFILE, EV_UP, EV_DOWN, EV_PAYLOAD, EV_RETX, EV_FAILED_BYTES,
 EV_FAILED_ATTEMPTS, EV_COUNT, EV_SPAN_S, EV_CTR) = range(14)  # fmt: skip
EV_COLUMNS = 14


def event_capacity(recorded_devices: int, window_s: float, min_gap_s: float, max_burst: int) -> int:
    """An event-buffer size no window exceeds in practice.

    With the shortest mean gap between events of any kind, a device has about ``window / gap``
    events and as many TAU batches at most; twice both plus a full burst and a few extra events
    (opens, releases, one-offs, a TAU batch) per device, plus 1024, is exceeded with negligible
    probability (Poisson tails). Untouched pages of the buffer cost no memory.
    """
    expected = recorded_devices * window_s / min_gap_s if np.isfinite(min_gap_s) else 0.0
    return int(4.0 * expected) + (max_burst + 8) * recorded_devices + 1024


@nb.njit(cache=True)
def restart_arrivals(rows, t_s, dev, ctx, P):
    """(Re)start the arrival processes of ``rows`` at ``t_s`` for their current profile.

    Called when a device's profile changes (state change or ``set_traffic``); its connection, if
    any, was released by the caller. A persistent profile opens its connection at ``t_s``.
    """
    for j in range(rows.shape[0]):
        _restart_one(rows[j], t_s, dev, ctx, P)


@nb.njit(cache=True, inline="always")
def _restart_one(i, t_s, dev, ctx, P):
    state, traffic_map, key, ctr, next_sess, burst_left, next_mo, next_mt, open_at, last_tx = dev[:10]
    map_table = ctx[0]
    p_sched, p_period, p_jitter, p_burst, p_spacing, p_hourly = P[:6]
    sms_mo_gap, sms_mt_gap, persistent = P[P_SMS_MO_GAP], P[P_SMS_MT_GAP], P[P_PERSISTENT]
    prof = map_table[traffic_map[i], state[i]]
    last_tx[i] = np.nan
    if prof < 0:
        next_sess[i] = np.inf
        next_mo[i] = np.inf
        next_mt[i] = np.inf
        open_at[i] = np.inf
        return
    k = key[i]
    c = ctr[i]
    if p_period[prof] < np.inf:
        next_sess[i] = first_burst_s(t_s, k, c, prof, p_sched, p_period, p_hourly)
        c += np.uint64(1)
        burst_left[i] = p_burst[prof] - 1
    else:
        next_sess[i] = np.inf
    if sms_mo_gap[prof] < np.inf:
        next_mo[i] = t_s + exponential1(k, c) * sms_mo_gap[prof]
        c += np.uint64(1)
    else:
        next_mo[i] = np.inf
    if sms_mt_gap[prof] < np.inf:
        next_mt[i] = t_s + exponential1(k, c) * sms_mt_gap[prof]
        c += np.uint64(1)
    else:
        next_mt[i] = np.inf
    open_at[i] = t_s if persistent[prof] else np.inf
    ctr[i] = c


@nb.njit(cache=True)
def advance_window(rows, t_end_s, record_flag, ev_capacity, dev, ctx, P):
    """Walk every device of ``rows`` up to ``t_end_s``; see the module docstring.

    ``dev``: the device columns (see ``FleetColumns.kernel_columns``), ``ctx``: ``(map_table,
    limit_bytes, limit_sms, unregistered_mode, queue_limit_reports, tau_minute_bins)`` (see
    ``cellfleet.sim.gating``), ``P``: ``ProfileTable.kernel_args()``. Returns ``(def_dev,
    def_time_s, def_from_state, def_reason, events, n_events)``: the defaulted devices with their
    exact crossing times, the test state they left and the reason code (``DefaultReason``), and
    the events of devices with ``record_flag``. The buffer has a fixed ``ev_capacity``;
    ``n_events`` counts every event, so the caller detects an overflow (growing the buffer inside
    the loop would make numba treat it as a reassigned array and slow every device's walk).
    """
    (state, traffic_map, key, ctr, next_sess, burst_left, next_mo, next_mt, open_at, last_tx, next_once, once_prof,
     rate_plan, used_bytes, used_sms, test_entry_s, day_bytes, day_sessions, day_mo, day_mt,
     tot_bytes, tot_sessions, tot_mo, tot_mt, reg_from, t3412, tau_ref, queued, queue_next, day_rdrop,
     tot_rdrop, day_sdrop, tot_sdrop, day_tau, tot_tau) = dev  # fmt: skip
    map_table, limit_bytes, limit_sms, queue_mode, queue_limit, tau_bins = ctx
    (p_sched, p_period, p_jitter, p_burst, p_spacing, p_hourly, p_bkind, p_ba, p_bb, emp_off, emp_cnt, emp_val,
     emp_cum, p_up, p_dur, sms_mo_gap, sms_mt_gap, wire_off, _wu, _wd, persistent, keepalive, open_up, open_down,
     ping_up, ping_down, _lk, _lq, run_writes, run_off, open_run_writes, open_run_off) = P[:P_HEAD]  # fmt: skip
    retry_interval, failed_up, failed_down = P[P_RETRY_INTERVAL], P[P_FAILED_UP], P[P_FAILED_DOWN]
    fail_p, max_attempts, plain = P[P_FAIL_P], P[P_MAX_ATTEMPTS], P[P_PLAIN]
    wire_up, wire_down, loss_kind, loss_q = P[P_WIRE_UP], P[P_WIRE_DOWN], P[P_LOSS_KIND], P[P_LOSS_Q]
    run_up, run_full, run_full_bytes, run_last_bytes = P[P_RUN_UP], P[P_RUN_FULL], P[P_RUN_FULL_BYTES], P[P_RUN_LAST_BYTES]
    con_bytes = P[P_CON_BYTES]
    n = rows.shape[0]
    def_dev = np.empty(n, np.int64)
    def_time = np.empty(n, np.float64)
    def_from = np.empty(n, np.int8)
    def_reason = np.empty(n, np.int8)
    n_def = 0
    ev = np.empty((ev_capacity, EV_COLUMNS), np.float64)
    n_ev = 0
    for j in range(rows.shape[0]):
        i = rows[j]
        st = state[i]
        prof = map_table[traffic_map[i], st]
        rf = reg_from[i]  # registered from (gating)
        tT = t3412[i]
        if prof < 0:
            if next_once[i] < t_end_s:  # offline: the one-off session is not sent
                next_once[i] = np.inf
            if not (tT < np.inf and rf < t_end_s):  # else: no traffic, but periodic TAUs
                continue
        rp = rate_plan[i]
        lim_b = limit_bytes[rp, st]
        lim_s = limit_sms[rp, st]
        k = key[i]
        c = ctr[i]
        ub = used_bytes[i]
        us = used_sms[i]
        n_s = 0
        n_mo = 0
        n_mt = 0
        nb_ = np.int64(0)
        recording = record_flag[i]
        # the walk keeps the device's stream times in locals (stores to the columns would force
        # reloads on every event) and writes them back when it ends or restarts the device
        ts = next_sess[i]
        tmo = next_mo[i]
        tmt = next_mt[i]
        to = next_once[i]
        topen = open_at[i]
        ltx = last_tx[i]
        bl = burst_left[i]
        tq, tref = np.inf, np.nan  # the next queued report; when T3412 was (re)started (gating)
        if rf != -np.inf or tT < np.inf:
            if rf > min(min(min(ts, tmo), min(tmt, to)), topen):  # events before the registration
                ts, bl, tmo, tmt, to, topen, c = unregistered_stretch(
                    i, rf, t_end_s, ts, bl, tmo, tmt, to, topen, k, c, queued, queue_mode, queue_limit, prof, p_sched,
                    p_period, p_jitter, p_burst, p_spacing, p_hourly, sms_mo_gap, sms_mt_gap, day_rdrop, tot_rdrop,
                    day_sdrop, tot_sdrop)  # fmt: skip
            tq = queue_resume_s(queued[i], rf, t_end_s, queue_next[i])
            tref = tau_start_s(tau_ref[i], rf)
        walking = prof >= 0 and rf < t_end_s
        while walking:
            crossed = 0
            if plain[prof]:
                # The common case in a tight loop: per-report sessions of a profile without losses
                # or failures, up to the next event of another kind (ties go to the general
                # dispatch below, which takes sessions first, so the order of events and draws
                # is the same). Few live variables keep it in registers: about 3x faster.
                t_other = min(min(min(tmo, tmt), min(to, topen)), min(tq, t_end_s))
                t_fast = tref + tT if tref + tT < t_other else t_other  # past it a TAU may precede a session
                # the profile's parameters, hoisted: the compiler cannot prove the column stores
                # below leave the profile tables alone, so it would reload them every session
                f_kind, f_a, f_span, f_row = p_bkind[prof], p_ba[prof], p_bb[prof] - p_ba[prof] + 1, wire_off[prof]
                f_up, f_dur, f_sched, f_period = p_up[prof], p_dur[prof], p_sched[prof], p_period[prof]
                f_jitter, f_burst, f_spacing = p_jitter[prof], p_burst[prof], p_spacing[prof]
                while ts < t_fast:
                    t = ts
                    tref = t
                    c0 = c
                    u = uniform01(k, c)
                    c += np.uint64(1)
                    if f_kind == BYTES_EMPIRICAL:
                        idx = empirical_index(emp_off[prof], emp_cnt[prof], emp_cum, u)
                        size = emp_val[emp_off[prof] + idx]
                    else:
                        idx = np.int64(u * f_span) if f_kind == BYTES_UNIFORM else np.int64(0)
                        size = f_a + idx
                    if f_row < 0:  # raw: the drawn size is the billed volume
                        up = np.int64(size * f_up + 0.5)
                        b = size
                    else:
                        up = wire_up[f_row + idx]
                        b = up + wire_down[f_row + idx]
                    nb_ += b
                    n_s += 1
                    if recording:
                        n_ev = _put(ev, n_ev, i, t, KIND_SESSION, st, prof, up, b - up, size, 0, 0, 0, 1, f_dur, c0)
                    ts, bl, c = next_burst_s(t, bl, k, c, f_sched, f_period, f_jitter, f_burst, f_spacing)
                    if ts != ts:  # diurnal
                        ts = diurnal_next_s(t, exponential1(k, c), 1.0 / f_period, p_hourly, prof)
                        c += np.uint64(1)
                    if lim_b >= 0:
                        ub += b
                        if ub > lim_b:
                            break
                if lim_b >= 0 and ub > lim_b:  # the session at t exceeded the data allowance
                    crossed = _DATA_EXCEEDED
                elif tref + tT < ts < t_other:  # periodic TAUs before the session at ts: count them, go on
                    n_ev = _taus(ev, n_ev, tau_bins, recording, i, st, prof, tref, ts, tT, day_tau, tot_tau)
                    tref = ts
                    continue
            if not crossed:  # the general dispatch: one event of any kind
                tp = ltx + keepalive[prof] if persistent[prof] and ltx == ltx else np.inf
                if tp > min(ts, tq) - _SAME_TIME_S:  # a report due then resets the keep-alive timer instead
                    tp = np.inf
                t = min(min(min(ts, tq), tmo), min(min(tmt, to), min(topen, tp)))
                if t >= t_end_s:
                    break
                if tref + tT < t:
                    n_ev = _taus(ev, n_ev, tau_bins, recording, i, st, prof, tref, t, tT, day_tau, tot_tau)
                tref = t
                b = np.int64(0)  # bytes of this event (data)
                if topen == t or ((ts == t or tq == t) and persistent[prof] and ltx != ltx):
                    # a connection set-up: at the profile start, or by a report while disconnected
                    topen = np.inf
                    c0 = c
                    failed, all_failed, c = setup_attempts(k, c, fail_p[prof], max_attempts[prof])
                    fu = failed * failed_up[prof]
                    fd = failed * failed_down[prof]
                    if all_failed:
                        up, down, retx = fu, fd, np.int64(0)
                        kind = KIND_OPEN_FAILED
                        if ts == t:  # the report that wanted the connection is dropped
                            ts, bl, c = next_burst_s(t, bl, k, c, p_sched[prof], p_period[prof], p_jitter[prof],
                                                     p_burst[prof], p_spacing[prof])  # fmt: skip
                            if ts != ts:  # diurnal
                                ts = diurnal_next_s(t, exponential1(k, c), 1.0 / p_period[prof], p_hourly, prof)
                                c += np.uint64(1)
                        elif tq == t:  # so is a queued one
                            queued[i] -= 1
                            tq = t + p_spacing[prof] if queued[i] > 0 else np.inf
                    else:
                        up = open_up[prof] + fu
                        down = open_down[prof] + fd
                        retx = np.int64(0)
                        if loss_kind[prof] != LOSS_NONE:
                            lu, ld, c = lost_bytes(k, c, loss_kind[prof], loss_q[prof], -1, open_run_off[prof],
                                                    open_run_writes[prof], run_up, run_full, run_full_bytes, run_last_bytes,
                                                    con_bytes)  # fmt: skip
                            up += lu
                            down += ld
                            retx = lu + ld
                        ltx = t + failed * retry_interval[prof]
                        kind = KIND_OPEN
                    b = up + down
                    n_s += 1
                    if recording:
                        n_ev = _put(ev, n_ev, i, t, kind, st, prof, up, down, 0, retx, fu + fd, failed, 0 if all_failed else 1,
                                    failed * retry_interval[prof], c0)  # fmt: skip
                elif ts == t or to == t or tq == t:
                    once = to == t and ts != t
                    from_queue = tq == t and ts != t and to != t
                    sp = once_prof[i] if once else prof
                    if once:
                        to = np.inf
                    c0 = c
                    u = uniform01(k, c)
                    c += np.uint64(1)
                    bkind = p_bkind[sp]
                    if bkind == BYTES_EMPIRICAL:
                        idx = empirical_index(emp_off[sp], emp_cnt[sp], emp_cum, u)
                        size = emp_val[emp_off[sp] + idx]
                    else:
                        idx = np.int64(u * (p_bb[sp] - p_ba[sp] + 1)) if bkind == BYTES_UNIFORM else np.int64(0)
                        size = p_ba[sp] + idx
                    on_connection = persistent[sp] and not once
                    failed = 0
                    all_failed = False
                    if not on_connection:
                        failed, all_failed, c = setup_attempts(k, c, fail_p[sp], max_attempts[sp])
                    fu = failed * failed_up[sp]
                    fd = failed * failed_down[sp]
                    row = wire_off[sp]
                    if row < 0:  # raw: the drawn size is the billed volume
                        up = np.int64(size * p_up[sp] + 0.5)
                        down = size - up
                        retx = np.int64(0)
                    elif all_failed:
                        up, down, retx = fu, fd, np.int64(0)
                    else:
                        row += idx
                        up = wire_up[row] + fu
                        down = wire_down[row] + fd
                        retx = np.int64(0)
                        if loss_kind[sp] != LOSS_NONE:
                            lu, ld, c = lost_bytes(k, c, loss_kind[sp], loss_q[sp], row, run_off[sp] + idx * run_writes[sp],
                                                    run_writes[sp], run_up, run_full, run_full_bytes, run_last_bytes,
                                                    con_bytes)  # fmt: skip
                            up += lu
                            down += ld
                            retx = lu + ld
                    b = up + down
                    if on_connection:
                        ltx = t
                        kind = KIND_REPORT
                    else:
                        n_s += 1
                        kind = KIND_ONCE if once else KIND_SESSION
                    if recording:
                        n_ev = _put(ev, n_ev, i, t, kind, st, sp, up, down, 0 if all_failed else size, retx, fu + fd,
                                    failed, 0 if all_failed else 1, p_dur[sp] + failed * retry_interval[sp], c0)  # fmt: skip
                    if from_queue:
                        queued[i] -= 1
                        tq = t + p_spacing[prof] if queued[i] > 0 else np.inf
                    elif not once:
                        ts, bl, c = next_burst_s(t, bl, k, c, p_sched[prof], p_period[prof], p_jitter[prof], p_burst[prof],
                                                  p_spacing[prof])  # fmt: skip
                        if ts != ts:  # diurnal
                            ts = diurnal_next_s(t, exponential1(k, c), 1.0 / p_period[prof], p_hourly, prof)
                            c += np.uint64(1)
                elif tp == t:
                    # pings at tp, tp + K, ... before the next other event
                    t_stop = min(min(min(ts, tmo), min(tmt, to)), min(tq, t_end_s))
                    per_ping = ping_up[prof] + ping_down[prof]
                    count = np.int64(np.ceil((t_stop - _SAME_TIME_S - tp) / keepalive[prof]))
                    if count < 1:
                        count = 1
                    if lim_b >= 0 and ub + count * per_ping > lim_b:
                        count = (lim_b - ub) // per_ping + 1  # the batch ends with the crossing ping
                    b = count * per_ping
                    ltx = tp + (count - 1) * keepalive[prof]
                    for p in range(1, count if keepalive[prof] > tT else 0):  # T3412 expires between pings
                        n_ev = _taus(ev, n_ev, tau_bins, recording, i, st, prof, tp + (p - 1) * keepalive[prof],
                                     tp + p * keepalive[prof], tT, day_tau, tot_tau)  # fmt: skip
                    t = ltx
                    tref = ltx
                    if recording:
                        n_ev = _put(ev, n_ev, i, tp, KIND_PINGS, st, prof, count * ping_up[prof], count * ping_down[prof],
                                    0, 0, 0, 0, count, keepalive[prof], c)  # fmt: skip
                else:
                    mo = tmo == t
                    if mo:
                        n_mo += 1
                        tmo = t + exponential1(k, c) * sms_mo_gap[prof]
                    else:
                        n_mt += 1
                        tmt = t + exponential1(k, c) * sms_mt_gap[prof]
                    c += np.uint64(1)
                    if recording:
                        n_ev = _put(ev, n_ev, i, t, KIND_SMS_MO if mo else KIND_SMS_MT, st, prof, 0, 0, 0, 0, 0, 0, 1, 0.0, c)
                    if lim_s >= 0:
                        us += 1
                        if us > lim_s:
                            crossed = _SMS_EXCEEDED
                if b > 0:
                    nb_ += b
                    if lim_b >= 0:
                        ub += b
                        if ub > lim_b:
                            crossed = _DATA_EXCEEDED
            if crossed:
                def_dev[n_def] = i
                def_time[n_def] = t
                def_from[n_def] = st
                def_reason[n_def] = crossed
                n_def += 1
                st = _ACTIVE_BILLED  # no allowance there
                state[i] = st
                test_entry_s[i] = np.nan
                lim_b = limit_bytes[rp, st]
                lim_s = limit_sms[rp, st]
                new_prof = map_table[traffic_map[i], st]
                connected = ltx == ltx
                if new_prof != prof:
                    if recording and connected:
                        n_ev = _put(ev, n_ev, i, t, KIND_RELEASE, st, prof, 0, 0, 0, 0, 0, 0, 0, 0.0, c)
                    prof = new_prof
                    ctr[i] = c
                    next_once[i] = to
                    _restart_one(i, t, dev, ctx, P)
                    c = ctr[i]
                    ts = next_sess[i]
                    tmo = next_mo[i]
                    tmt = next_mt[i]
                    topen = open_at[i]
                    ltx = last_tx[i]
                    bl = burst_left[i]
                    if prof < 0:
                        break
                elif recording and connected:
                    n_ev = _put(ev, n_ev, i, t, KIND_STATE, st, prof, 0, 0, 0, 0, 0, 0, 0, 0.0, c)
        if reg_from[i] != -np.inf or tT < np.inf:
            if tT < np.inf and reg_from[i] < t_end_s:  # the TAUs after the last episode; the last restarts T3412
                n_last = taus_before(tref, t_end_s, tT)
                n_ev = _taus(ev, n_ev, tau_bins, recording, i, st, prof, tref, t_end_s, tT, day_tau, tot_tau)
                tau_ref[i] = tref + n_last * tT if n_last > 0 else tref
            queue_next[i] = tq if queued[i] > 0 and tq < np.inf else -np.inf  # a drain under way
        ctr[i] = c
        next_sess[i] = ts
        next_mo[i] = tmo
        next_mt[i] = tmt
        next_once[i] = to
        open_at[i] = topen
        last_tx[i] = ltx
        burst_left[i] = bl
        used_bytes[i] = ub
        used_sms[i] = us
        day_bytes[i] += nb_
        day_sessions[i] += n_s
        day_mo[i] += n_mo
        day_mt[i] += n_mt
        tot_bytes[i] += nb_
        tot_sessions[i] += n_s
        tot_mo[i] += n_mo
        tot_mt[i] += n_mt
    return def_dev[:n_def], def_time[:n_def], def_from[:n_def], def_reason[:n_def], ev[: min(n_ev, ev_capacity)], n_ev


@nb.njit(cache=True)
def _taus(ev, n_ev, tau_bins, recording, i, st, prof, ref_s, t_s, t3412_s, day_tau, total_tau):
    """Count the periodic TAUs between an episode at ``ref_s`` and the next at ``t_s`` into the
    device's and the minute bins and, for a recorded device, one ``KIND_TAU`` event."""
    n = count_taus(tau_bins, ref_s, t_s, t3412_s)
    if n > 0:
        day_tau[i] += n
        total_tau[i] += n
        if recording:
            n_ev = _put(ev, n_ev, i, ref_s + t3412_s, KIND_TAU, st, prof, 0, 0, 0, 0, 0, 0, n, t3412_s, 0)
    return n_ev


@nb.njit(cache=True)
def _put(ev, n_ev, i, t, kind, st, prof, up, down, payload, retx, failed_bytes, failed, count, span_s, ctr):
    """Append one event row if it fits (``n_ev`` counts all, see :func:`advance_window`)."""
    if n_ev < ev.shape[0]:
        ev[n_ev, EV_DEVICE] = i
        ev[n_ev, EV_TIME_S] = t
        ev[n_ev, EV_KIND] = kind
        ev[n_ev, EV_STATE] = st
        ev[n_ev, EV_PROFILE] = prof
        ev[n_ev, EV_UP] = up
        ev[n_ev, EV_DOWN] = down
        ev[n_ev, EV_PAYLOAD] = payload
        ev[n_ev, EV_RETX] = retx
        ev[n_ev, EV_FAILED_BYTES] = failed_bytes
        ev[n_ev, EV_FAILED_ATTEMPTS] = failed
        ev[n_ev, EV_COUNT] = count
        ev[n_ev, EV_SPAN_S] = span_s
        ev[n_ev, EV_CTR] = ctr
    return n_ev + 1
