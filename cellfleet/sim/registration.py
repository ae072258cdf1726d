"""The registration kernel: every attach attempt of the fleet between two control-plane happenings.

Attach attempts couple devices through the core stations (a request waits for a free dialog),
so unlike traffic they are walked in global time order: a binary heap holds each attempting
device once, at its next attempt. Each attempt is decided when it is made, because a station
serves first come, first served with a fixed service time: with ``c`` dialogs the k-th admitted
request starts at ``max(arrival, end of request k - c)`` (M/D/c FIFO), so its answer time is known
on arrival. Everything else (outages, power-off, SIM state) happens at SimPy happenings, outside.

UE rules (3GPP TS 24.301; the single-device reference is ``cellfleet.sim.attach.attach_trace``):

* network selection in automatic mode (TS 23.122 §4.4.3.1.1): the home PLMN, then the group's
  operator-controlled preferences, then the other networks in file order; a network must cover
  the device's area, offer its RAT, be up, and not be in the device's forbidden list;
  selecting a new PLMN resets the attempt counter (TS 24.301 §5.5.1.1);
* ATTACH REQUEST starts T3410; no answer within it (a core that is down, or a queue longer than
  T3410) is an abnormal case (§5.5.1.2.6): counter + 1, then T3411 below 5, T3402 at 5
  (the network's value if its reject carried one), and the counter is reset when T3402 expires;
* REJECT #3/#6/#7/#8: USIM invalid for EPS until power-off, no more attempts; #11/#14: the PLMN
  goes on the forbidden list, #12/#13/#15: the network is forbidden in the area (tracking areas are
  not modelled below the area; these lists are cleared on a move and once a day, §5.3.2), counter
  reset, and for #11/#13/#14/#15 another network is selected at once, while #12 leaves the device
  in limited service (EMM-DEREGISTERED.LIMITED-SERVICE) until then; #22: counter reset, T3346 (the
  network's value, or a random 15-30 min when the reject is not integrity protected, TS 24.008
  §4.7.13.4); #17/#111: abnormal case (§5.5.1.2.5);
* the answer (or the T3410 expiry) is applied when it arrives, so a happening before it (an outage,
  a move) finds the device waiting (``R_WAITING``);
* ATTACH ACCEPT: registered, counter reset; the periodic TAU timer T3412 is the network's, or,
  when the device requested power saving mode and the network grants it (§5.3.11), the T3412
  extended value and the active time T3324 the device asked for.

A request rejected at the station's door (queue full, or the registered-device limit reached)
uses no dialog and is answered at once with #22 (TS 23.401 §4.3.7.4.2, MME overload control).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.rand import uniform01

#: Registration states of a device (``RegColumns.reg_state``).
R_OFF, R_SEARCHING, R_ATTEMPTING, R_REGISTERED, R_STOPPED, R_WAITING = 0, 1, 2, 3, 4, 5
#: ``RegColumns.pending`` of a device waiting for its answer (``R_WAITING``): accept, a reject
#: cause (> 0), or no answer (T3410 expires at the pending time).
PENDING_ACCEPT, PENDING_TIMEOUT = 0, -1
#: Events of the registrations table.
(E_ATTEMPT, E_ACCEPT, E_REJECT, E_T3410_EXPIRY, E_TIMER, E_NO_SERVICE, E_SWITCH, E_DETACH, E_DEREGISTERED,
 E_USIM_INVALID, E_TAU, E_PSM_GRANTED, E_PSM_ENTRY, E_PSM_EXIT, E_EDRX_GRANTED) = range(15)  # fmt: skip
EVENT_NAMES = ("attempt", "accept", "reject", "t3410_expiry", "timer_start", "no_service", "network_switch",
               "detach", "deregistered", "usim_invalid", "tau", "psm_granted", "psm_entry", "psm_exit", "edrx_granted")  # fmt: skip
#: Timers named in records.
T_NONE, T_T3411, T_T3402, T_T3346, T_T3412, T_T3324, T_EDRX = 0, 1, 2, 3, 4, 5, 6
TIMER_NAMES = ("", "T3411", "T3402", "T3346", "T3412", "T3324", "eDRX")
#: Reasons of network switches and deregistrations.
(WHY_NONE, WHY_SELECTION, WHY_REJECT, WHY_OUTAGE, WHY_CORE_OUTAGE, WHY_MOVE, WHY_POWER_OFF, WHY_CANCELLED,
 WHY_BLOCKED) = range(9)  # fmt: skip
REASON_NAMES = ("", "network_selection", "reject", "outage", "core_outage", "moved", "power_off", "cancelled",
                "blocked")  # fmt: skip

#: Reject causes counted apart in the time series (others go to the last column).
COUNTED_CAUSES = (3, 6, 7, 8, 11, 12, 13, 14, 15, 17, 22, 111)
CAUSE_SLOT = np.full(256, len(COUNTED_CAUSES), np.int64)
CAUSE_SLOT[list(COUNTED_CAUSES)] = np.arange(len(COUNTED_CAUSES))
MAX_ATTEMPTS = 5  # TS 24.301 §5.5.1.2.6
CONGESTION = 22
#: Default T3346 range when the #22 reject is not integrity protected (TS 24.008 §4.7.13.4).
T3346_RANDOM_MIN_S, T3346_RANDOM_MAX_S = 15 * 60.0, 30 * 60.0

#: Columns of the registration record buffer.
(G_TIME_S, G_DEVICE, G_EVENT, G_OPERATOR, G_CAUSE, G_TIMER, G_TIMER_S, G_COUNTER, G_FROM_OPERATOR,
 G_REASON) = range(10)  # fmt: skip
G_COLUMNS = 10
#: Time-series columns per minute (``bins[0]``); per-operator and per-core tables follow.
S_ATTEMPTS, S_ACCEPTS, S_TIMEOUTS = 0, 1, 2
S_REJECT0 = 3
S_COLUMNS = S_REJECT0 + len(COUNTED_CAUSES) + 1


@nb.njit(cache=True)
def _less(ta, da, tb, db):
    return ta < tb or (ta == tb and da < db)


@nb.njit(cache=True)
def _push(ht, hd, n, t, d):
    i = n
    ht[i] = t
    hd[i] = d
    while i > 0:
        p = (i - 1) >> 1
        if _less(ht[i], hd[i], ht[p], hd[p]):
            ht[i], ht[p] = ht[p], ht[i]
            hd[i], hd[p] = hd[p], hd[i]
            i = p
        else:
            break
    return n + 1


@nb.njit(cache=True)
def _pop(ht, hd, n):
    n -= 1
    ht[0] = ht[n]
    hd[0] = hd[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        m = left
        if left + 1 < n and _less(ht[left + 1], hd[left + 1], ht[left], hd[left]):
            m = left + 1
        if _less(ht[m], hd[m], ht[i], hd[i]):
            ht[i], ht[m] = ht[m], ht[i]
            hd[i], hd[m] = hd[m], hd[i]
            i = m
        else:
            break
    return n


@nb.njit(cache=True)
def select_operator(d, group, area, rat, forbidden, order, op_rat_mask, op_area_mask, op_down_mask):
    """The network device ``d`` selects now (-1: none available); see the module docstring.
    ``forbidden``: its forbidden PLMNs and forbidden TAs together (one bit mask)."""
    g = group[d]
    a_bit = np.uint64(1) << np.uint64(area[d])
    r_bit = np.int64(1) << np.int64(rat[d])
    for j in range(order.shape[1]):
        op = order[g, j]
        if op < 0:
            break
        if (forbidden >> np.uint64(op)) & np.uint64(1):
            continue
        if (op_rat_mask[op] & r_bit) == 0:
            continue
        if (op_area_mask[op] & a_bit) == 0 or (op_down_mask[op] & a_bit) != 0:
            continue
        return op
    return -1


@nb.njit(cache=True)
def _record(buf, n, t, d, event, op, cause, timer, timer_s, counter, from_op, reason):
    if n < buf.shape[0]:
        buf[n, G_TIME_S] = t
        buf[n, G_DEVICE] = d
        buf[n, G_EVENT] = event
        buf[n, G_OPERATOR] = op
        buf[n, G_CAUSE] = cause
        buf[n, G_TIMER] = timer
        buf[n, G_TIMER_S] = timer_s
        buf[n, G_COUNTER] = counter
        buf[n, G_FROM_OPERATOR] = from_op
        buf[n, G_REASON] = reason
    return n + 1


@nb.njit(cache=True)
def register_window(t_end_s, record_flag, buf, R, N, C, B):
    """Make every attach attempt due before ``t_end_s``, in time order.

    ``R``: device columns (see ``RegColumns.kernel_columns``), ``N``: network tables
    (``NetworkTables.kernel_args``), ``C``: core station state, ``B``: time-series bins. Attempts of
    devices with ``record_flag`` write records to ``buf``; when it is full the walk stops before
    the attempt that would not fit and returns ``(n_records, t_stopped)``: the caller empties the
    buffer and calls again (the heap is rebuilt from ``next_reg_s``). ``t_stopped`` is
    ``t_end_s`` when the window is done.
    """
    (reg_state, serving, camp, counter, next_reg, reg_from, forbidden, forbidden_ta, blocked, area, rat, group, home,
     key, ctr, t3412_col, first_accept, why_lost, t3324_col, pending) = R  # fmt: skip
    (order, op_rat_mask, op_area_mask, op_down_mask, op_core, op_t3412, op_t3402, op_t3346, op_reject_p,
     op_reject_cause, partner_ok, t3410_s, t3411_s, t3402_s, op_psm, group_t3324, group_t3412_ext) = N  # fmt: skip
    (core_dialogs, core_service_s, core_queue_limit, core_max_registered, core_down, ring_off, ring, served,
     queue_off, queue, q_head, q_len, registered) = C  # fmt: skip
    minute_bins, attached_delta, queue_max, core_admitted = B
    n_dev = reg_state.shape[0]
    ht = np.empty(n_dev, np.float64)
    hd = np.empty(n_dev, np.int64)
    n_heap = 0
    for d in range(n_dev):
        if (reg_state[d] == R_ATTEMPTING or reg_state[d] == R_WAITING) and next_reg[d] < t_end_s:
            n_heap = _push(ht, hd, n_heap, next_reg[d], d)
    n_rec = 0
    cap = buf.shape[0]
    n_minutes = minute_bins.shape[0]
    while n_heap > 0:
        t = ht[0]
        d = hd[0]
        rec = record_flag[d]
        if rec and n_rec + 4 > cap:
            return n_rec, t
        n_heap = _pop(ht, hd, n_heap)
        m = min(np.int64(t // 60.0), n_minutes - 1)
        if reg_state[d] == R_WAITING:  # the answer arrives (or T3410 expires) now
            n_rec, next_t = _answer(d, t, pending[d], rec, buf, n_rec, R, N, C, B)
            if next_t < t_end_s:
                n_heap = _push(ht, hd, n_heap, next_t, d)
            continue
        if counter[d] >= MAX_ATTEMPTS:  # T3402 has expired: counter reset (§5.5.1.1)
            counter[d] = 0
        op = select_operator(d, group, area, rat, forbidden[d] | forbidden_ta[d], order, op_rat_mask, op_area_mask,
                             op_down_mask)  # fmt: skip
        if op < 0:
            reg_state[d] = R_SEARCHING
            next_reg[d] = np.inf
            if rec:
                n_rec = _record(buf, n_rec, t, d, E_NO_SERVICE, -1, 0, T_NONE, 0.0, counter[d], camp[d], WHY_NONE)
            continue
        if op != camp[d]:
            if camp[d] >= 0 and rec:
                why = why_lost[d] if why_lost[d] != WHY_NONE else WHY_SELECTION
                n_rec = _record(buf, n_rec, t, d, E_SWITCH, op, 0, T_NONE, 0.0, 0, camp[d], why)
            why_lost[d] = WHY_NONE
            camp[d] = op
            counter[d] = 0  # a new PLMN is selected (§5.5.1.1)
        if rec:
            n_rec = _record(buf, n_rec, t, d, E_ATTEMPT, op, 0, T_NONE, 0.0, counter[d], -1, WHY_NONE)
        minute_bins[m, S_ATTEMPTS] += 1
        # --- the core: when is the request answered?
        core = op_core[op]
        answered = True
        answer_t = t
        door_reject = False
        if core >= 0:
            if core_down[core]:
                answered = False
            else:
                ql = q_len[core]
                qh = q_head[core]
                qcap = core_queue_limit[core] + 1
                while ql > 0 and queue[queue_off[core] + qh] <= t:  # started by now: left the queue
                    qh = (qh + 1) % qcap
                    ql -= 1
                slot = ring_off[core] + served[core] % core_dialogs[core]
                start = max(t, ring[slot])
                full = core_max_registered[core] >= 0 and registered[core] >= core_max_registered[core]
                if full or (start > t and ql >= core_queue_limit[core]):
                    door_reject = True
                else:
                    ring[slot] = start + core_service_s[core]
                    served[core] += 1
                    core_admitted[m, core] += 1
                    answer_t = start + core_service_s[core]
                    if start > t:
                        queue[queue_off[core] + (qh + ql) % qcap] = start
                        ql += 1
                        if ql > queue_max[m, core]:
                            queue_max[m, core] = ql
                q_head[core] = qh
                q_len[core] = ql
        if answered and answer_t - t > t3410_s:
            answered = False
        # the answer is applied when it arrives: happenings before it (an outage, a move) see a
        # device still waiting
        if not answered:
            cause = PENDING_TIMEOUT
            answer_t = t + t3410_s
        else:
            cause = PENDING_ACCEPT
            if door_reject:
                cause = CONGESTION
            elif op_reject_p[op] > 0.0:
                u = uniform01(key[d], ctr[d])
                ctr[d] += np.uint64(1)
                if u < op_reject_p[op]:
                    cause = op_reject_cause[op]
            if cause == 0 and (not partner_ok[op, home[d]] or (blocked[d] >> np.uint64(op)) & np.uint64(1)):
                cause = 11  # no roaming agreement, or the platform blocks this network for the SIM
        reg_state[d] = R_WAITING
        pending[d] = cause
        next_reg[d] = answer_t
        if answer_t < t_end_s:
            n_heap = _push(ht, hd, n_heap, answer_t, d)
    return n_rec, t_end_s


@nb.njit(cache=True)
def _answer(d, ta, cause, rec, buf, n_rec, R, N, C, B):
    """Apply the answer to device ``d``'s attach request at ``ta`` (``cause``: 0 accept, > 0 a
    reject cause, -1 T3410 expired); returns ``(n_rec, next attempt time or inf)``."""
    (reg_state, serving, camp, counter, next_reg, reg_from, forbidden, forbidden_ta, blocked, area, rat, group, home,
     key, ctr, t3412_col, first_accept, why_lost, t3324_col, pending) = R  # fmt: skip
    (order, op_rat_mask, op_area_mask, op_down_mask, op_core, op_t3412, op_t3402, op_t3346, op_reject_p,
     op_reject_cause, partner_ok, t3410_s, t3411_s, t3402_s, op_psm, group_t3324, group_t3412_ext) = N  # fmt: skip
    registered = C[12]
    minute_bins, attached_delta, queue_max, core_admitted = B
    n_minutes = minute_bins.shape[0]
    op = camp[d]
    core = op_core[op]
    if cause == PENDING_TIMEOUT:
        minute_bins[min(np.int64(ta // 60.0), n_minutes - 1), S_TIMEOUTS] += 1
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_T3410_EXPIRY, op, 0, T_NONE, 0.0, counter[d] + 1, -1, WHY_NONE)
    ma = min(np.int64(ta // 60.0), n_minutes - 1)
    if cause == 0:  # ATTACH ACCEPT
        reg_state[d] = R_REGISTERED
        serving[d] = op
        counter[d] = 0
        reg_from[d] = ta
        next_reg[d] = np.inf
        g = group[d]
        psm = op_psm[op] and group_t3324[g] == group_t3324[g]
        t3412 = group_t3412_ext[g] if psm else op_t3412[op]
        t3412_col[d] = t3412 if t3412 > 0.0 else np.inf
        t3324_col[d] = group_t3324[g] if psm else np.nan
        if first_accept[d] == np.inf:
            first_accept[d] = ta
        if core >= 0:
            registered[core] += 1
        attached_delta[ma, op] += 1
        minute_bins[ma, S_ACCEPTS] += 1
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_ACCEPT, op, 0, T_T3412, t3412, 0, -1, WHY_NONE)
            if psm:
                n_rec = _record(buf, n_rec, ta, d, E_PSM_GRANTED, op, 0, T_T3324, group_t3324[g], 0, -1, WHY_NONE)
        return n_rec, np.inf
    if cause > 0:
        minute_bins[ma, S_REJECT0 + CAUSE_SLOT[cause]] += 1
    if cause == CONGESTION:
        counter[d] = 0  # reset when T3346 starts (§5.5.1.1)
        t3346 = op_t3346[op]
        if t3346 != t3346:
            u = uniform01(key[d], ctr[d])
            ctr[d] += np.uint64(1)
            t3346 = T3346_RANDOM_MIN_S + u * (T3346_RANDOM_MAX_S - T3346_RANDOM_MIN_S)
        next_t = ta + t3346
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_REJECT, op, cause, T_NONE, 0.0, 0, -1, WHY_NONE)
            n_rec = _record(buf, n_rec, ta, d, E_TIMER, op, cause, T_T3346, t3346, 0, -1, WHY_NONE)
    elif cause == 3 or cause == 6 or cause == 7 or cause == 8:
        reg_state[d] = R_STOPPED
        next_reg[d] = np.inf
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_REJECT, op, cause, T_NONE, 0.0, counter[d], -1, WHY_NONE)
            n_rec = _record(buf, n_rec, ta, d, E_USIM_INVALID, op, cause, T_NONE, 0.0, counter[d], -1, WHY_NONE)
        return n_rec, np.inf
    elif cause >= 11 and cause <= 15:
        if cause == 11 or cause == 14:
            forbidden[d] |= np.uint64(1) << np.uint64(op)
        else:  # forbidden tracking areas: cleared on a move to another area and once a day
            forbidden_ta[d] |= np.uint64(1) << np.uint64(op)
        counter[d] = 0
        why_lost[d] = WHY_REJECT
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_REJECT, op, cause, T_NONE, 0.0, 0, -1, WHY_NONE)
        if cause == 12:  # EMM-DEREGISTERED.LIMITED-SERVICE: no other PLMN is selected
            reg_state[d] = R_SEARCHING
            next_reg[d] = np.inf
            if rec:
                n_rec = _record(buf, n_rec, ta, d, E_NO_SERVICE, op, cause, T_NONE, 0.0, 0, -1, WHY_REJECT)
            return n_rec, np.inf
        next_t = ta  # PLMN (or TA) selection at once
    else:  # abnormal case: #17, #111, T3410 expiry (§5.5.1.2.6)
        counter[d] += 1
        if cause > 0 and rec:
            n_rec = _record(buf, n_rec, ta, d, E_REJECT, op, cause, T_NONE, 0.0, counter[d], -1, WHY_NONE)
        if counter[d] < MAX_ATTEMPTS:
            wait = t3411_s
            timer = T_T3411
        else:
            # the network's T3402 comes in a reject; after a T3410 expiry no message came
            wait = op_t3402[op] if cause > 0 and op_t3402[op] == op_t3402[op] else t3402_s
            timer = T_T3402
        next_t = ta + wait
        if rec:
            n_rec = _record(buf, n_rec, ta, d, E_TIMER, op, cause if cause > 0 else 0, timer, wait, counter[d], -1,
                            WHY_NONE)  # fmt: skip
    reg_state[d] = R_ATTEMPTING
    next_reg[d] = next_t
    return n_rec, next_t

