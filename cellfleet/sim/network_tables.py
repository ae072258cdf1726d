"""The scenario's networks compiled into arrays for the registration kernel, and the per-device
registration columns.

Operators are indexed in file order (at most 64, so a device's forbidden-PLMN list is one
``uint64`` bit mask, TS 24.301 §5.5.1.2.5). Areas are bits of a mask too: an operator without
``areas`` covers every bit, and devices without an area sit on bit 63, which only such operators
cover. Each fleet group gets its network-selection order once (TS 23.122 §4.4.3.1.1: home PLMN,
then the operator-controlled preferences, then the others in file order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellfleet.scenarios.networks import MAX_AREAS, RAT_KEYS, PowerOn
from cellfleet.sim.lifecycle import State
from cellfleet.sim.power_on import power_on_times
from cellfleet.sim.rand import stream
from cellfleet.sim.registration import R_ATTEMPTING, R_STOPPED

#: The area bit of devices without an area (the schema allows 63 areas: bits 0-62).
NO_AREA_BIT = MAX_AREAS
ALL_AREAS = np.int64(-1).astype(np.uint64)  # every bit set
#: Mixed into a device's stream key for its registration draws, so they never shift its traffic.
REG_KEY_SALT = np.uint64(0x5EED_0F_A77AC4)


@dataclass
class NetworkTables:
    """Operators, groups' selection orders and core stations as arrays."""

    plmns: list[str]
    zones: list[str]
    areas: list[str]
    homes: list[str]
    order: np.ndarray  # int16 [group, j]: operator indices in selection order, -1 padded
    op_rat_mask: np.ndarray  # int64
    op_area_mask: np.ndarray  # uint64
    op_down_mask: np.ndarray  # uint64: areas where the operator's cells are down now
    op_core: np.ndarray  # int64, -1 = unlimited
    op_t3412_s: np.ndarray  # float64 (0 = deactivated)
    op_t3402_s: np.ndarray  # float64, NaN = the device's default
    op_t3346_s: np.ndarray  # float64, NaN = drawn 15-30 min
    op_reject_p: np.ndarray
    op_reject_cause: np.ndarray  # int64
    op_zone: np.ndarray  # int32
    partner_ok: np.ndarray  # bool [operator, home]
    t3410_s: float
    t3411_s: float
    t3402_s: float
    op_psm: np.ndarray  # bool: grants PSM
    group_t3324_s: np.ndarray  # float64 per fleet group: requested active time (NaN: no PSM request)
    group_t3412_ext_s: np.ndarray  # float64: requested T3412 extended value
    op_edrx: np.ndarray  # bool: grants eDRX
    op_edrx_cycle_s: np.ndarray  # float64: network-provided eDRX cycle (NaN: the requested)
    op_ptw_s: np.ndarray  # float64: network-provided paging time window (NaN: the requested)
    op_paging_cycle_s: np.ndarray  # float64: default paging cycle of the cells
    group_edrx_cycle_s: np.ndarray  # float64 per fleet group: requested eDRX cycle (NaN: none)
    group_ptw_s: np.ndarray  # float64: requested paging time window
    core_names: list[str]
    core_dialogs: np.ndarray  # int64
    core_service_s: np.ndarray
    core_queue_limit: np.ndarray  # int64
    core_max_registered: np.ndarray  # int64, -1 = no limit

    @classmethod
    def build(cls, scenario) -> "NetworkTables":
        net = scenario.network
        ops = net.operators
        plmns = [o.plmn for o in ops]
        areas = net.areas()
        groups = [g.network for g in scenario.fleet]
        homes = list(dict.fromkeys((g.home_plmn if g and g.home_plmn else plmns[0]) for g in groups))
        order = np.full((len(groups), len(ops)), -1, np.int16)
        for gi, g in enumerate(groups):
            home = g.home_plmn if g and g.home_plmn else plmns[0]
            wanted = [home, *(g.preferred if g else []), *plmns]
            seq = [plmns.index(p) for p in dict.fromkeys(wanted) if p in plmns]
            order[gi, : len(seq)] = seq
        area_mask = np.array(
            [ALL_AREAS if o.areas is None else np.uint64(sum(1 << areas.index(a) for a in o.areas)) for o in ops],
            np.uint64,
        )
        cores = [c.name for c in net.cores]
        zones = list(dict.fromkeys(o.zone for o in ops))
        nan = float("nan")
        return cls(
            plmns=plmns,
            zones=zones,
            areas=areas,
            homes=homes,
            order=order,
            op_rat_mask=np.array([sum(1 << RAT_KEYS.index(r) for r in o.rats) for o in ops], np.int64),
            op_area_mask=area_mask,
            op_down_mask=np.zeros(len(ops), np.uint64),
            op_core=np.array([cores.index(o.core) if o.core else -1 for o in ops], np.int64),
            op_t3412_s=np.array([o.t3412_s for o in ops], np.float64),
            op_t3402_s=np.array([nan if o.t3402_s is None else o.t3402_s for o in ops], np.float64),
            op_t3346_s=np.array([nan if o.t3346_s is None else o.t3346_s for o in ops], np.float64),
            op_reject_p=np.array([o.reject_probability for o in ops], np.float64),
            op_reject_cause=np.array([o.reject_cause for o in ops], np.int64),
            op_zone=np.array([zones.index(o.zone) for o in ops], np.int32),
            partner_ok=np.array(
                [[o.roaming_partners is None or h == o.plmn or h in o.roaming_partners for h in homes] for o in ops],
                np.bool_,
            ).reshape(len(ops), len(homes)),
            t3410_s=net.ue_timers.t3410_s,
            t3411_s=net.ue_timers.t3411_s,
            t3402_s=net.ue_timers.t3402_s,
            op_psm=np.array([o.psm for o in ops], np.bool_),
            group_t3324_s=np.array([g.psm.t3324_s if g and g.psm else nan for g in groups], np.float64),
            group_t3412_ext_s=np.array([g.psm.t3412_ext_s if g and g.psm else nan for g in groups], np.float64),
            op_edrx=np.array([o.edrx for o in ops], np.bool_),
            op_edrx_cycle_s=np.array([nan if o.edrx_cycle_s is None else o.edrx_cycle_s for o in ops], np.float64),
            op_ptw_s=np.array([nan if o.ptw_s is None else o.ptw_s for o in ops], np.float64),
            op_paging_cycle_s=np.array([o.paging_cycle_s for o in ops], np.float64),
            group_edrx_cycle_s=np.array([g.edrx.cycle_s if g and g.edrx else nan for g in groups], np.float64),
            group_ptw_s=np.array([g.edrx.ptw_s if g and g.edrx else nan for g in groups], np.float64),
            core_names=cores,
            core_dialogs=np.array([c.dialogs for c in net.cores], np.int64),
            core_service_s=np.array([c.service_time_s for c in net.cores], np.float64),
            core_queue_limit=np.array([c.queue_limit for c in net.cores], np.int64),
            core_max_registered=np.array([-1 if c.max_registered is None else c.max_registered for c in net.cores], np.int64),
        )

    def kernel_args(self) -> tuple:
        return (
            self.order, self.op_rat_mask, self.op_area_mask, self.op_down_mask, self.op_core, self.op_t3412_s,
            self.op_t3402_s, self.op_t3346_s, self.op_reject_p, self.op_reject_cause, self.partner_ok,
            self.t3410_s, self.t3411_s, self.t3402_s, self.op_psm, self.group_t3324_s, self.group_t3412_ext_s,
        )  # fmt: skip

    def edrx_grant(self, op: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """eDRX cycle and paging time window granted to devices of ``group`` registered on ``op``
        (NaN: no eDRX): the requested values, or the network's own where it sets them (TS 24.301
        §5.3.12: the network may provide values different from the requested ones)."""
        op = np.asarray(op, np.int64)
        asked = self.group_edrx_cycle_s[group]
        granted = self.op_edrx[op] & (op >= 0) & (asked == asked)
        cycle = np.where(np.isnan(self.op_edrx_cycle_s[op]), asked, self.op_edrx_cycle_s[op])
        ptw = np.where(np.isnan(self.op_ptw_s[op]), self.group_ptw_s[group], self.op_ptw_s[op])
        return np.where(granted, cycle, np.nan), np.where(granted, ptw, np.nan)

    def paging_of(self, reg: "RegColumns", devices: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per device: granted eDRX cycle and PTW on its serving network (NaN: none), the cells'
        paging cycle and the hashed UE identity (:func:`cellfleet.sim.mt_delivery.next_paging_s`)."""
        op = reg.serving[devices].astype(np.int64)
        cycle, ptw = self.edrx_grant(op, reg.group[devices])
        return cycle, ptw, self.op_paging_cycle_s[np.maximum(op, 0)], reg.ue_id_h[devices].astype(np.int64)

    def covered(self, op: np.ndarray, area: np.ndarray) -> np.ndarray:
        """Whether operator ``op`` (per device, -1 = none) has working cells in ``area``."""
        bit = np.left_shift(np.uint64(1), area.astype(np.uint64))
        safe = np.maximum(op, 0)
        up = ((self.op_area_mask[safe] & bit) != 0) & ((self.op_down_mask[safe] & bit) == 0)
        return up & (op >= 0)


@dataclass
class CoreState:
    """The stations' dialogs (end time of each dialog's last request), FIFO queues of start times
    and registered-device counts."""

    down: np.ndarray  # bool
    ring_off: np.ndarray
    ring: np.ndarray
    served: np.ndarray
    queue_off: np.ndarray
    queue: np.ndarray
    q_head: np.ndarray
    q_len: np.ndarray
    registered: np.ndarray

    @classmethod
    def build(cls, tables: NetworkTables) -> "CoreState":
        n = len(tables.core_names)
        qcap = tables.core_queue_limit + 1
        return cls(
            down=np.zeros(n, np.bool_),
            ring_off=np.concatenate([[0], np.cumsum(tables.core_dialogs)[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64),
            ring=np.full(int(tables.core_dialogs.sum()), -np.inf),
            served=np.zeros(n, np.int64),
            queue_off=np.concatenate([[0], np.cumsum(qcap)[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64),
            queue=np.zeros(int(qcap.sum()), np.float64),
            q_head=np.zeros(n, np.int64),
            q_len=np.zeros(n, np.int64),
            registered=np.zeros(n, np.int64),
        )

    def kernel_args(self, tables: NetworkTables) -> tuple:
        return (
            tables.core_dialogs, tables.core_service_s, tables.core_queue_limit, tables.core_max_registered,
            self.down, self.ring_off, self.ring, self.served, self.queue_off, self.queue, self.q_head, self.q_len,
            self.registered,
        )  # fmt: skip


@dataclass
class RegColumns:
    """Per-device registration state (``reg_from_s`` and ``t3412_s`` are shared with the traffic
    kernel's columns)."""

    reg_state: np.ndarray  # int8: R_*
    serving: np.ndarray  # int16: registered operator, -1 none
    camp: np.ndarray  # int16: operator selected for attempts, -1 none
    counter: np.ndarray  # int8: attach attempt counter
    next_reg_s: np.ndarray  # float64: next attach attempt (inf: none)
    reg_from_s: np.ndarray  # float64: registered since (inf: not registered)
    forbidden: np.ndarray  # uint64: forbidden PLMNs (#11, #14), bit per operator
    forbidden_ta: np.ndarray  # uint64: networks with forbidden TAs in the area (#12, #13, #15)
    blocked: np.ndarray  # uint64: networks the platform blocks for the SIM (answered with #11)
    area: np.ndarray  # int8: area bit
    rat: np.ndarray  # int8: index into RAT_KEYS
    group: np.ndarray  # int16
    home: np.ndarray  # int16: index into NetworkTables.homes
    key: np.ndarray  # uint64: registration stream key
    ctr: np.ndarray  # uint64
    t3412_s: np.ndarray  # float64
    first_accept_s: np.ndarray  # float64: first accept since the last loss of registration (inf: none)
    why_lost: np.ndarray  # int8: why the device last left its network (reason of the next switch)
    t3324_s: np.ndarray  # float64: active time granted with the registration (NaN: no PSM)
    pending: np.ndarray  # int16: the answer a waiting device gets (registration.PENDING_*, or a cause)
    ue_id_h: np.ndarray  # int16: 10-bit hashed UE identity that places its paging (TS 36.304 §7.3)

    @classmethod
    def build(cls, scenario, tables: NetworkTables, cols) -> "RegColumns":
        """Columns of ``cols`` (``FleetColumns``); power-on times from each group's process."""
        counts = [g.count for g in scenario.fleet]
        n = cols.size
        settings = [g.network for g in scenario.fleet]
        rep = lambda values, dtype: np.repeat(np.asarray(values, dtype=dtype), counts)  # noqa: E731
        area = rep([tables.areas.index(s.area) if s and s.area else NO_AREA_BIT for s in settings], np.int8)
        rat = rep([RAT_KEYS.index(s.rat if s else "lte-m") for s in settings], np.int8)
        home = rep(
            [tables.homes.index(s.home_plmn if s and s.home_plmn else tables.plmns[0]) for s in settings], np.int16
        )
        power_on = []
        for g in scenario.fleet:
            spec = g.network.power_on if g.network else PowerOn()
            rng = stream(scenario.seed, f"network/power-on/{g.name}")
            power_on.append(
                power_on_times(spec.process, g.count, spec.start_s, rng, rate_per_s=spec.rate_per_s,
                               window_s=spec.window_s, jitter_s=spec.jitter_s)  # fmt: skip
            )
        next_reg = np.concatenate(power_on) if power_on else np.zeros(0)
        state = np.full(n, R_ATTEMPTING, np.int8)
        stopped = cols.state == State.CANCELLED
        state[stopped] = R_STOPPED
        next_reg[stopped] = np.inf
        cols.reg_from_s[:] = np.inf
        return cls(
            reg_state=state,
            serving=np.full(n, -1, np.int16),
            camp=np.full(n, -1, np.int16),
            counter=np.zeros(n, np.int8),
            next_reg_s=next_reg,
            reg_from_s=cols.reg_from_s,
            forbidden=np.zeros(n, np.uint64),
            forbidden_ta=np.zeros(n, np.uint64),
            blocked=np.zeros(n, np.uint64),
            area=area,
            rat=rat,
            group=cols.group,
            home=home,
            key=cols.rng_key ^ REG_KEY_SALT,
            ctr=np.zeros(n, np.uint64),
            t3412_s=cols.t3412_s,
            first_accept_s=np.full(n, np.inf),
            why_lost=np.zeros(n, np.int8),
            t3324_s=np.full(n, np.nan),
            pending=np.zeros(n, np.int16),
            # The 10 most significant bits of the hashed S-TMSI: uniform over 0..1023.
            ue_id_h=stream(scenario.seed, "network/paging-ue-id").integers(0, 1024, n).astype(np.int16),
        )

    def kernel_columns(self) -> tuple:
        return (
            self.reg_state, self.serving, self.camp, self.counter, self.next_reg_s, self.reg_from_s, self.forbidden,
            self.forbidden_ta, self.blocked, self.area, self.rat, self.group, self.home, self.key, self.ctr, self.t3412_s, self.first_accept_s,
            self.why_lost, self.t3324_s, self.pending,
        )  # fmt: skip

