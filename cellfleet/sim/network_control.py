"""The network side of a run: registrations between happenings, outages, detaches, and the
network records and time series.

:class:`NetworkControl` is driven by the fleet engine: :meth:`advance` before each traffic window
(so the traffic kernel knows from when each device is registered), :meth:`outage_start` and
:meth:`outage_end` at the scenario's outage times, :meth:`detach` when SIMs are cancelled.

An outage takes cells (operators, areas, or both) or core stations away. Devices registered on a
lost cell are deregistered and select a network at once (another PLMN if one covers them, else no
service); devices of a core that goes down lose their registration (the MME's contexts are gone)
and their attaches time out (T3410) until it returns; a device waiting for the answer to an
attach on a lost cell gets none and selects again at once. When cells return, devices without
service find them after ``reselect_s`` (uniform) and attach: the restoration storm, shaped only
by the UE timers and the core's capacity. Devices waiting on T3411/T3402/T3346 keep waiting
(TS 24.301 §5.5.1.2.6: no attach while T3346 runs).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cellfleet.sim import records as rec
from cellfleet.sim.lifecycle import State
from cellfleet.sim.network_tables import CoreState, NetworkTables, RegColumns
from cellfleet.sim.mt_delivery import MtDelivery
from cellfleet.sim.network_timeseries import write_timeseries
from cellfleet.sim.psm import PsmTracker, batch_instants
from cellfleet.sim.traffic import EV_COUNT, EV_DEVICE, EV_KIND, EV_SPAN_S, EV_TIME_S, KIND_TAU
from cellfleet.sim.rand import stream
from cellfleet.sim.registration import (
    COUNTED_CAUSES,
    E_ACCEPT,
    E_DEREGISTERED,
    E_DETACH,
    E_PSM_ENTRY,
    E_EDRX_GRANTED,
    E_PSM_EXIT,
    E_TAU,
    EVENT_NAMES,
    G_CAUSE,
    G_COLUMNS,
    G_COUNTER,
    G_DEVICE,
    G_EVENT,
    G_FROM_OPERATOR,
    G_OPERATOR,
    G_REASON,
    G_TIME_S,
    G_TIMER,
    G_TIMER_S,
    R_ATTEMPTING,
    R_OFF,
    R_REGISTERED,
    R_SEARCHING,
    R_STOPPED,
    R_WAITING,
    REASON_NAMES,
    S_ACCEPTS,
    S_ATTEMPTS,
    S_COLUMNS,
    S_REJECT0,
    S_TIMEOUTS,
    T_NONE,
    T_EDRX,
    T_T3324,
    T_T3412,
    TIMER_NAMES,
    WHY_BLOCKED,
    WHY_CANCELLED,
    WHY_CORE_OUTAGE,
    WHY_MOVE,
    WHY_OUTAGE,
    WHY_POWER_OFF,
    register_window,
)

EVENT_DICT = pa.array(EVENT_NAMES, pa.string())
TIMER_DICT = pa.array(TIMER_NAMES, pa.string())
REASON_DICT = pa.array(REASON_NAMES, pa.string())
#: Registration records buffered per kernel call for recorded devices.
RECORD_BUFFER_ROWS = 1 << 16  # at least the 4 records one attempt may write


class NetworkControl:
    """Registration state and happenings of one run (see the module docstring)."""

    def __init__(self, scenario, cols, record_flag: np.ndarray, sink: rec.RecordSink, start_epoch_us: int) -> None:
        self.scenario = scenario
        self.tables = NetworkTables.build(scenario)
        self.core = CoreState.build(self.tables)
        self.reg = RegColumns.build(scenario, self.tables, cols)
        self.record_flag = record_flag
        self.sink = sink
        self.start_epoch_us = start_epoch_us
        self.minutes = max(1, int(scenario.duration_days) * 1440)
        n_ops, n_cores = len(self.tables.plmns), len(self.tables.core_names)
        self.minute_bins = np.zeros((self.minutes, S_COLUMNS), np.int64)
        self.attached_delta = np.zeros((self.minutes, n_ops), np.int64)
        self.queue_max = np.zeros((self.minutes, n_cores), np.int64)
        self.core_admitted = np.zeros((self.minutes, n_cores), np.int64)
        self.tau_bins = np.zeros(self.minutes, np.int64)
        self._buf = np.empty((RECORD_BUFFER_ROWS, G_COLUMNS), np.float64)
        self._active_outages: set[int] = set()
        self._outage_end_s: dict[int, float] = {}
        # re-attach times owed to outages: the outage that deregistered a device (-1: none) and its
        # slot in that outage's array of first accepts after the loss (inf: not yet)
        self._lost_by = np.full(cols.size, -1, np.int32)
        self._lost_slot = np.zeros(cols.size, np.int64)
        self._reattach: dict[int, np.ndarray] = {}
        self._plmn_vocab = [*self.tables.plmns, ""]
        self._zone_of_op = np.append(self.tables.op_zone, len(self.tables.zones))
        self._zone_vocab = [*self.tables.zones, ""]
        self._all = np.arange(cols.size, dtype=np.int64)
        self._sim_state = cols.state
        self.psm = PsmTracker(cols.size)
        self.mt = MtDelivery()

    @property
    def unregistered_mode(self) -> int:
        return 1 if self.scenario.network.unregistered_reports == "queue" else 0

    # ------------------------------------------------------------ between happenings
    def advance(self, t_end_s: float) -> None:
        """Every attach attempt due before ``t_end_s``."""
        args = (self.reg.kernel_columns(), self.tables.kernel_args(), self.core.kernel_args(self.tables),
                (self.minute_bins, self.attached_delta, self.queue_max, self.core_admitted))  # fmt: skip
        while True:
            n, t_stopped = register_window(t_end_s, self.record_flag, self._buf, *args)
            self._emit(self._buf[:n])
            if t_stopped >= t_end_s:
                return

    # ------------------------------------------------------------------- outages
    def _apply_masks(self) -> None:
        """Cells and cores down now, from the outages in progress."""
        t = self.tables
        t.op_down_mask[:] = 0
        self.core.down[:] = False
        for k in sorted(self._active_outages):
            o = self.scenario.network.outages[k]
            if o.cores is not None:
                for name in o.cores:
                    self.core.down[t.core_names.index(name)] = True
                continue
            ops = range(len(t.plmns)) if o.operators is None else [t.plmns.index(p) for p in o.operators]
            bits = np.uint64(0)
            if o.areas is None:
                bits = ~np.uint64(0)
            else:
                for a in o.areas:
                    bits |= np.uint64(1) << np.uint64(t.areas.index(a))
            for op in ops:
                t.op_down_mask[op] |= bits

    def outage_start(self, k: int, t_s: float) -> np.ndarray:
        """Outage ``k`` begins: returns the devices that lost their registration (the engine
        releases their connections)."""
        self._active_outages.add(k)
        self._apply_masks()
        reg = self.reg
        o = self.scenario.network.outages[k]
        if o.cores is None:
            rows = self._lose_uncovered(self._all[reg.reg_state != R_OFF], t_s, WHY_OUTAGE, new_area=False)
        else:  # the core's contexts are lost: attaches time out until it is back
            cores = [self.tables.core_names.index(c) for c in o.cores]
            op_core = self.tables.op_core[np.maximum(reg.serving, 0)]
            rows = self._all[(reg.reg_state == R_REGISTERED) & np.isin(op_core, cores)]
            self._deregister(rows, t_s, E_DEREGISTERED, WHY_CORE_OUTAGE)
            reg.reg_state[rows] = R_ATTEMPTING
            reg.next_reg_s[rows] = t_s
        self._lost_by[rows] = k
        self._lost_slot[rows] = np.arange(rows.size)
        self._reattach[k] = np.full(rows.size, np.inf)
        return rows

    def outage_end(self, k: int, t_s: float) -> None:
        """Outage ``k`` ends: devices without service find the cells back after ``reselect_s``."""
        self._active_outages.discard(k)
        self._apply_masks()
        reg = self.reg
        searching = self._all[reg.reg_state == R_SEARCHING]
        if searching.size:
            spread_s = self.scenario.network.outages[k].reselect_s
            rng = stream(self.scenario.seed, f"network/outages/{k}/reselect")
            reg.reg_state[searching] = R_ATTEMPTING
            reg.next_reg_s[searching] = t_s + (rng.random(searching.size) * spread_s if spread_s > 0 else 0.0)
        self._outage_end_s[k] = t_s

    def _settle(self, rows: np.ndarray) -> None:
        """The devices of ``rows`` that owe an outage their re-attach time pay it now (their first
        accept since the loss, inf if none) before a new loss resets it."""
        owed = rows[self._lost_by[rows] >= 0]
        for k in np.unique(self._lost_by[owed]).tolist():
            mine = owed[self._lost_by[owed] == k]
            self._reattach[k][self._lost_slot[mine]] = self.reg.first_accept_s[mine]
        self._lost_by[owed] = -1

    # ----------------------------------------------------------- operator actions
    def detach(self, rows: np.ndarray, t_s: float, why: int = WHY_CANCELLED) -> None:
        """Detach (the SIM is cancelled): no more attempts (TS 24.301 §5.5.2.2)."""
        reg = self.reg
        rows = rows[reg.reg_state[rows] != R_STOPPED]
        self._deregister(rows[reg.reg_state[rows] == R_REGISTERED], t_s, E_DETACH, why)
        reg.reg_state[rows] = R_STOPPED
        reg.next_reg_s[rows] = np.inf

    def power_off(self, rows: np.ndarray, t_s: float) -> np.ndarray:
        """Detach on power-off (TS 24.301 §5.5.2.2); the forbidden lists and a USIM marked
        invalid are forgotten (§5.5.1.2.5: "until switching off"). Returns the devices that
        were registered."""
        reg = self.reg
        lost = rows[reg.reg_state[rows] == R_REGISTERED]
        self._deregister(lost, t_s, E_DETACH, WHY_POWER_OFF)
        off = rows[self._sim_state[rows] != State.CANCELLED]
        self._forget(off)
        reg.reg_state[off] = R_OFF
        reg.next_reg_s[off] = np.inf
        return lost

    def _forget(self, rows: np.ndarray) -> None:
        """What a power cycle clears: forbidden lists, attempt counter, selected network."""
        reg = self.reg
        reg.forbidden[rows] = 0
        reg.forbidden_ta[rows] = 0
        reg.counter[rows] = 0
        reg.camp[rows] = -1

    def reactivate(self, rows: np.ndarray, t_s: float) -> None:
        """SIMs leaving Cancelled: their devices attach again (as after a power cycle)."""
        rows = rows[self.reg.reg_state[rows] == R_STOPPED]
        self._forget(rows)
        self.reg.reg_state[rows] = R_ATTEMPTING
        self.reg.next_reg_s[rows] = t_s

    def day_end(self, t_s: float) -> None:
        """The forbidden-TA lists are deleted (TS 24.301 §5.3.2: periodically, here once a day); a
        device they kept without service looks again."""
        reg = self.reg
        had = reg.forbidden_ta != 0
        reg.forbidden_ta[:] = 0
        wake = self._all[had & (reg.reg_state == R_SEARCHING)]
        reg.reg_state[wake] = R_ATTEMPTING
        reg.next_reg_s[wake] = t_s

    def power_on(self, rows: np.ndarray, t_s: float, spread_s: float, rng: np.random.Generator) -> None:
        """Devices that are off power on within ``[t, t + spread_s)`` and attach."""
        rows = rows[self.reg.reg_state[rows] == R_OFF]
        self.reg.reg_state[rows] = R_ATTEMPTING
        self.reg.next_reg_s[rows] = t_s + (rng.random(rows.size) * spread_s if spread_s > 0 else 0.0)

    def move(self, rows: np.ndarray, area: str, t_s: float) -> np.ndarray:
        """Devices enter ``area``: new tracking areas (the forbidden-TA list no longer applies);
        a network that does not cover it is lost and another one selected at once. Returns the
        devices that lost their registration."""
        reg = self.reg
        reg.area[rows] = self.tables.areas.index(area)
        reg.forbidden_ta[rows] = 0
        return self._lose_uncovered(rows, t_s, WHY_MOVE, new_area=True)

    def block(self, rows: np.ndarray, plmn: str, blocked: bool, t_s: float) -> np.ndarray:
        """The platform blocks (or unblocks) network ``plmn`` for the SIMs of ``rows``: the HSS
        refuses them there, so attaches get #11 and devices registered there are detached with
        re-attach required (TS 24.301 §5.5.2.3.2) and move to another network. Unblocking does
        not clear a device's forbidden-PLMN list: it tries the network again after a power
        cycle (``shared/seeds`` 001: network blocking)."""
        reg = self.reg
        op = self.tables.plmns.index(plmn)
        bit = np.uint64(1) << np.uint64(op)
        if not blocked:
            reg.blocked[rows] &= ~bit
            return rows[:0]
        reg.blocked[rows] |= bit
        lost = rows[(reg.reg_state[rows] == R_REGISTERED) & (reg.serving[rows] == op)]
        self._deregister(lost, t_s, E_DETACH, WHY_BLOCKED)
        reg.reg_state[lost] = R_ATTEMPTING
        reg.next_reg_s[lost] = t_s
        return lost

    def _lose_uncovered(self, rows: np.ndarray, t_s: float, why: int, new_area: bool) -> np.ndarray:
        """Registered devices of ``rows`` whose network has no working cell where they are now are
        deregistered and select a network at once, and so do devices waiting for an answer from
        such a network (it cannot come). In a ``new_area`` (new tracking areas) devices that are
        trying to attach reset their attempt counter and try at once, and devices without service
        look again (TS 24.301 §5.5.1.1, §5.2.2.3.3). Returns the devices that were registered."""
        reg = self.reg
        state = reg.reg_state[rows]
        camp_ok = self.tables.covered(reg.camp[rows].astype(np.int64), reg.area[rows])
        lost = rows[(state == R_REGISTERED) & ~camp_ok]
        self._deregister(lost, t_s, E_DEREGISTERED, why)
        retry = (state == R_WAITING) & ~camp_ok
        if new_area:
            retry |= (state == R_ATTEMPTING) | (state == R_SEARCHING)
            reg.counter[rows[state == R_ATTEMPTING]] = 0
        again = np.concatenate([lost, rows[retry]])
        reg.reg_state[again] = R_ATTEMPTING
        reg.next_reg_s[again] = t_s
        return lost

    def _deregister(self, rows: np.ndarray, t_s: float, event: int, why: int) -> None:
        reg = self.reg
        if rows.size == 0:
            return
        self._settle(rows)
        ops = reg.serving[rows].astype(np.int64)
        m = min(int(t_s // 60), self.minutes - 1)
        np.subtract.at(self.attached_delta[m], ops, 1)
        cores = self.tables.op_core[ops]
        has_core = cores >= 0
        np.subtract.at(self.core.registered, cores[has_core], 1)
        recorded = rows[self.record_flag[rows]]
        if recorded.size:
            # a device asleep in PSM leaves it with the registration: its period is complete now
            asleep, entry_s = self.psm.still_in_psm(recorded, reg.t3324_s, t_s)
            self._psm_records(asleep, entry_s, E_PSM_ENTRY)
            self._psm_records(asleep, np.full(asleep.size, t_s), E_PSM_EXIT)
            out = np.zeros((recorded.size, G_COLUMNS))
            out[:, G_TIME_S] = t_s
            out[:, G_DEVICE] = recorded
            out[:, G_EVENT] = event
            out[:, G_OPERATOR] = reg.serving[recorded]
            out[:, G_FROM_OPERATOR] = -1
            out[:, G_REASON] = why
            self._emit(out)
        self.psm.deregistered(rows)
        reg.serving[rows] = -1
        reg.reg_from_s[rows] = np.inf
        reg.t3412_s[rows] = np.inf
        reg.first_accept_s[rows] = np.inf
        reg.why_lost[rows] = why

    # ------------------------------------------------------------------- records
    def sms_deliveries(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The SMS events of the recorded devices to record now and their delivery times
        (:mod:`cellfleet.sim.mt_delivery`). Call before :meth:`traffic_events` of the same window."""
        return self.mt.window(events, self.psm.last_end_s, self.reg.t3324_s,
                              lambda devices: self.tables.paging_of(self.reg, devices))

    def traffic_events(self, events: np.ndarray) -> None:
        """A window's exchange events of the recorded devices: their periodic TAUs (batches from
        the traffic kernel) as records, and the PSM periods their episodes end."""
        tau = events[events[:, EV_KIND] == KIND_TAU]
        rows, k = batch_instants(tau[:, EV_COUNT])
        tau = tau[rows]
        dev = tau[:, EV_DEVICE].astype(np.int64)
        out = np.zeros((dev.size, G_COLUMNS))
        out[:, G_DEVICE] = dev
        out[:, G_TIME_S] = tau[:, EV_TIME_S] + k * tau[:, EV_SPAN_S]
        out[:, G_EVENT] = E_TAU
        out[:, G_OPERATOR] = self.reg.serving[dev]
        out[:, G_TIMER] = T_T3412
        out[:, G_TIMER_S] = tau[:, EV_SPAN_S]
        out[:, G_FROM_OPERATOR] = -1
        self._emit(out)
        device, entry_s, exit_s = self.psm.window(events, self.reg.t3324_s)
        self._psm_records(device, entry_s, E_PSM_ENTRY)
        self._psm_records(device, exit_s, E_PSM_EXIT)

    def _psm_records(self, device: np.ndarray, time_s: np.ndarray, event: int) -> None:
        out = np.zeros((device.size, G_COLUMNS))
        out[:, G_DEVICE] = device
        out[:, G_TIME_S] = time_s
        out[:, G_EVENT] = event
        out[:, G_OPERATOR] = self.reg.serving[device]
        out[:, G_TIMER] = T_T3324
        out[:, G_TIMER_S] = self.reg.t3324_s[device]
        out[:, G_FROM_OPERATOR] = -1
        self._emit(out)

    def _edrx_granted(self, accepts: np.ndarray) -> np.ndarray:
        """``edrx_granted`` records of the accepts that grant eDRX (TS 24.301 §5.3.12): the cycle
        in ``timer_s``, the paging time window in ``ptw_s``."""
        dev = accepts[:, G_DEVICE].astype(np.int64)
        op = accepts[:, G_OPERATOR].astype(np.int64)
        cycle, _ = self.tables.edrx_grant(op, self.reg.group[dev])
        out = accepts[~np.isnan(cycle)].copy()
        out[:, G_EVENT] = E_EDRX_GRANTED
        out[:, G_TIMER] = T_EDRX
        out[:, G_TIMER_S] = cycle[~np.isnan(cycle)]
        return out

    def _emit(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        accepts = rows[rows[:, G_EVENT] == E_ACCEPT]
        if accepts.shape[0]:
            accepted = accepts[:, G_DEVICE].astype(np.int64)
            self.psm.registered(accepted, accepts[:, G_TIME_S])
            self.mt.registered(accepted, accepts[:, G_TIME_S])
            rows = np.concatenate([rows, self._edrx_granted(accepts)])
        rows = rows[np.lexsort((rows[:, G_DEVICE], rows[:, G_TIME_S]))] if rows.shape[0] > 1 else rows
        n_ops = len(self.tables.plmns)
        op = rows[:, G_OPERATOR].astype(np.int64)
        op = np.where(op < 0, n_ops, op)
        from_op = rows[:, G_FROM_OPERATOR].astype(np.int64)
        from_op = np.where(from_op < 0, n_ops, from_op)
        cause = rows[:, G_CAUSE].astype(np.int16)
        timer = rows[:, G_TIMER].astype(np.int8)
        edrx = rows[:, G_EVENT] == E_EDRX_GRANTED
        ptw = np.full(rows.shape[0], np.nan)
        ptw[edrx] = self.tables.edrx_grant(op[edrx], self.reg.group[rows[edrx, G_DEVICE].astype(np.int64)])[1]
        self.sink.write(
            "registrations",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(rows[:, G_DEVICE].astype(np.int64)),
                    pa.array(rows[:, G_TIME_S]),
                    rec.timestamps_us(self.start_epoch_us, rows[:, G_TIME_S]),
                    rec.labels(rows[:, G_EVENT], EVENT_DICT),
                    rec.names(op, self._plmn_vocab),
                    rec.names(self._zone_of_op[op], self._zone_vocab),
                    pa.array(cause, pa.int16(), mask=cause <= 0),
                    rec.labels(timer, TIMER_DICT),
                    pa.array(rows[:, G_TIMER_S], mask=timer == T_NONE),
                    pa.array(rows[:, G_COUNTER].astype(np.int8)),
                    rec.names(from_op, self._plmn_vocab),
                    rec.labels(rows[:, G_REASON], REASON_DICT),
                    pa.array(ptw, mask=~edrx),
                ],
                schema=rec.SCHEMAS["registrations"],
            ),
        )

    def finish(self) -> dict:
        """Write the time series; return the network part of the run summary."""
        self._settle(self._all)
        recorded = np.flatnonzero(self.record_flag & (self.reg.reg_state == R_REGISTERED))
        self._psm_records(*self.psm.still_in_psm(recorded, self.reg.t3324_s, self.minutes * 60.0), E_PSM_ENTRY)
        write_timeseries(self.sink, self.start_epoch_us, self.tables, self.minute_bins, self.tau_bins,
                         self.attached_delta, self.queue_max, self.core_admitted)  # fmt: skip
        return self.summary()

    def summary(self) -> dict:
        """Peak signalling rate, final registration states, re-attach times per outage."""
        b = self.minute_bins
        signalling = b[:, S_ATTEMPTS] + self.tau_bins
        peak_m = int(np.argmax(signalling)) if signalling.size else 0
        reg = self.reg
        states = {"registered": R_REGISTERED, "attempting": R_ATTEMPTING, "waiting_for_answer": R_WAITING,
                  "no_service": R_SEARCHING, "powered_off": R_OFF, "stopped": R_STOPPED}  # fmt: skip
        out = {
            "attach_requests": int(b[:, S_ATTEMPTS].sum()),
            "attach_accepts": int(b[:, S_ACCEPTS].sum()),
            "t3410_expiries": int(b[:, S_TIMEOUTS].sum()),
            "rejects_by_cause": {
                (str(COUNTED_CAUSES[j]) if j < len(COUNTED_CAUSES) else "other"): int(v)
                for j, v in enumerate(b[:, S_REJECT0:].sum(axis=0)) if v
            },
            "periodic_taus": int(self.tau_bins.sum()),
            "peak_signalling_per_s": round(float(signalling[peak_m]) / 60.0, 3),
            "peak_signalling_minute": peak_m,
            "final_registration": {k: int(np.count_nonzero(reg.reg_state == v)) for k, v in states.items()},
            "outages": [],
        }
        ends = self._outage_end_s
        for k, o in enumerate(self.scenario.network.outages):
            if k not in self._reattach:
                continue
            first = self._reattach[k]
            entry = {"name": o.name or f"outages[{k}]", "devices_lost": int(first.size)}
            if k in ends:
                after = np.maximum(first - ends[k], 0.0)
                done = np.isfinite(after)
                entry["reattached"] = int(done.sum())
                for q in (50, 95, 100):
                    need = int(np.ceil(first.size * q / 100))
                    entry[f"time_to_reattach_{q}_s"] = (
                        round(float(np.sort(after[done])[need - 1]), 3) if first.size and done.sum() >= need else None
                    )
            out["outages"].append(entry)
        return out

