"""The fleet engine: a SimPy control plane over columnar fleet state.

Only happenings that change state go on the SimPy event heap, batched per due time: the end of
each simulated day (records), scheduled operator actions, and the expiry of test-allowance periods
by days. Before any happening is handled, :meth:`FleetEngine.advance_to` computes the traffic of the
whole fleet since the previous happening in one vectorized window (``cellfleet.sim.traffic``),
including the exact data/SMS allowance crossings inside it. A per-device process is never created.

With a ``network`` section, :class:`cellfleet.sim.network_control.NetworkControl` makes every
attach attempt of the window first (so the traffic kernel knows from when each device is
registered), and outages start and end as happenings.

Ordering at equal times, by fixed priority class: day ends first (a day's records show the state
at the end of that day, before anything scheduled at the next midnight), then test-period expiries
(a period covers ``[entry, entry + days)``, so at its end the SIM has defaulted before an operator
action at that same instant sees it), then operator actions in scenario order, then outage ends,
then outage starts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from cellfleet.sim import records as rec
from cellfleet.sim.fleet import FleetColumns, TrafficMaps
from cellfleet.sim.lifecycle import (
    DEFAULTING_ACTION,
    FEE_AGAIN,
    FEE_FIRST,
    NEXT_STATE,
    STATE_LABELS,
    TEST_ALLOWANCE_STATES,
    Action,
    DefaultReason,
    State,
    default_reason_key,
)
from cellfleet.sim.rand import stream
from cellfleet.sim.happenings import RunCounts, ScheduledAction, At
from cellfleet.scenarios.schema import NETWORK_ACTIONS
from cellfleet.sim.network_control import NetworkControl
from cellfleet.sim.recorder import Recorder
from cellfleet.sim.select import select_devices
from cellfleet.sim.setup_tables import allowance_tables, session_sample
from cellfleet.sim.profile_table import ProfileTable
from cellfleet.sim.session_records import RecordCutter
from cellfleet.sim.traffic import (
    EV_COLUMNS,
    EV_DEVICE,
    EV_KIND,
    EV_PROFILE,
    EV_STATE,
    EV_TIME_S,
    KIND_RELEASE,
    KIND_STATE,
    advance_window,
    event_capacity,
    restart_arrivals,
)

SECONDS_PER_DAY = 86400.0

ProgressCallback = Callable[[int, int], None]
#: SimPy priorities (lower runs first at equal times); see the module docstring.
PRIORITY_DAY_END, PRIORITY_EXPIRY, PRIORITY_ACTION, PRIORITY_OUTAGE_END, PRIORITY_OUTAGE = 0, 1, 2, 3, 4
_TEST_STATES = np.array(TEST_ALLOWANCE_STATES, dtype=np.int8)


class FleetEngine:
    """Runs one scenario; records go to ``sink``. Build, then call :meth:`run` once."""

    def __init__(
        self,
        scenario,
        sink: rec.RecordSink,
        progress: ProgressCallback | None = None,
        stop_requested: Callable[[], bool] | None = None,
        record_devices: np.ndarray | None = None,
        on_events: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        """``record_devices`` (device rows) replaces ``outputs.sessions`` when given: only these
        devices get session records (``cellfleet pcap`` records one device). ``on_events`` gets
        every window's exchange events of the recorded devices (``cellfleet.sim.traffic`` ``EV_*``
        columns), from which ``cellfleet.sim.capture`` rebuilds their packets."""
        self.scenario = scenario
        self.sink = sink
        self.progress = progress
        self.stop_requested = stop_requested
        self.on_events = on_events
        self.env = simpy.Environment()
        self.days = int(scenario.duration_days)
        self.end_s = self.days * SECONDS_PER_DAY

        self.profiles = ProfileTable.from_profiles(scenario.traffic_profiles)
        maps = TrafficMaps({name: i for i, name in enumerate(scenario.profile_names())})
        self.accounts = list(dict.fromkeys(g.account for g in scenario.fleet))
        self.report_groups = list(dict.fromkeys(g.report_group for g in scenario.fleet))
        self.cols = FleetColumns.build(scenario, maps, self.accounts, self.report_groups)
        self.actions = self._expand_actions(maps)
        self.map_table = maps.table()
        self._limits_bytes, self._limits_sms, self._allowance_days = allowance_tables(scenario.rate_plans)

        if record_devices is None:
            self.record_flag = session_sample(scenario, self.cols.size)
        else:
            self.record_flag = np.zeros(self.cols.size, dtype=np.bool_)
            self.record_flag[np.asarray(record_devices, dtype=np.int64)] = True
        recorded_rows = np.flatnonzero(self.record_flag)
        self._recorded_devices = recorded_rows.size
        self._min_gap_s = self.profiles.min_session_gap_s
        self._max_burst = int(self.profiles.burst_size.max(initial=1))
        self.counts = RunCounts(devices=self.cols.size, days=self.days)
        self.recorder = Recorder(sink, scenario.start_date, scenario.traffic_profiles)
        self.recorder.bind_fleet(self.cols, recorded_rows, self.accounts, self.report_groups, [p.name for p in scenario.rate_plans])
        interim = scenario.outputs.sessions
        self.cutter = RecordCutter(recorded_rows, self.cols.size, interim.interim_time_s, interim.interim_volume_bytes)
        self.net = (
            NetworkControl(scenario, self.cols, self.record_flag, sink, self.recorder.start_epoch_us)
            if scenario.network is not None
            else None
        )
        if self.net is not None:
            t = self.net.tables
            self.recorder.bind_network(self.net.reg.camp, self.net.reg.rat, t.plmns, t.op_zone, t.zones)
        self._ctx = (
            self.map_table, self._limits_bytes, self._limits_sms,
            self.net.unregistered_mode if self.net else 0,
            scenario.network.queue_limit_reports if self.net else 0,
            self.net.tau_bins if self.net else np.zeros(1, np.int64),
        )  # fmt: skip
        self._profile_args = self.profiles.kernel_args()
        # defaulting lookups by [from_state, DefaultReason]: reason vocabulary codes and counts
        self._defaulting_action = np.zeros(len(State), np.int8)
        self._default_reason_codes = np.zeros((len(State), len(DefaultReason)), np.int32)
        for state, action in DEFAULTING_ACTION.items():
            self._defaulting_action[state] = action
            for reason in DefaultReason:
                if reason is not DefaultReason.NONE:
                    self._default_reason_codes[state, reason] = self.recorder.reason_code(default_reason_key(state, reason))
        self._default_counts = np.zeros((len(State), len(DefaultReason)), np.int64)
        self._t_now = 0.0
        self._defaults_today = 0
        self._fleet_daily = np.zeros((self.days, len(State) + 1), np.int64)  # states + defaulted
        self._expiries: dict[float, list[tuple[float, int, np.ndarray]]] = {}
        self._all_rows = np.arange(self.cols.size, dtype=np.int64)

    # ----------------------------------------------------------------- set-up
    def _expand_actions(self, maps: TrafficMaps) -> list[ScheduledAction]:
        out = []
        for index, spec in enumerate(self.scenario.actions):
            row = maps.row_for(spec.traffic) if spec.action == "set_traffic" else -1
            profile = maps.profile_index[spec.profile] if spec.action == "send_once" else -1
            for k, day in enumerate(spec.occurrence_days()):
                if day * SECONDS_PER_DAY < self.end_s:
                    out.append(ScheduledAction(index, k, day * SECONDS_PER_DAY, spec, row, profile))
        return out

    # ------------------------------------------------------------------- run
    def run(self) -> RunCounts:
        """Simulate the whole scenario and emit every record; returns the run's counts."""
        cols = self.cols
        self._restart(self._all_rows, 0.0)
        for state in TEST_ALLOWANCE_STATES:
            rows = self._all_rows[cols.state == state]
            self._schedule_expiries(rows, state, 0.0)
        for day in range(self.days):
            At(self.env, (day + 1) * SECONDS_PER_DAY, PRIORITY_DAY_END, self._day_end_callback(day))
        for action in self.actions:
            At(self.env, action.time_s, PRIORITY_ACTION, self._action_callback(action))
        for k, outage in enumerate(self.scenario.network.outages if self.net else ()):
            start_s = outage.at_day * SECONDS_PER_DAY
            if start_s < self.end_s:
                At(self.env, start_s, PRIORITY_OUTAGE, self._outage_callback(k, True))
                if start_s + outage.duration_s < self.end_s:
                    At(self.env, start_s + outage.duration_s, PRIORITY_OUTAGE_END, self._outage_callback(k, False))
        self.env.run()
        self._emit_records(self.cutter.cut(np.zeros((0, EV_COLUMNS)), self.end_s, final=True))
        self.recorder.fleet_daily(self._fleet_daily)
        self._emit_devices()
        self._final_counts()
        if self.net is not None:
            held = self.net.mt.still_held()
            self.counts.recorded_sms += self.recorder.sms(held, np.full(held.shape[0], np.nan))
            self.counts.network = self.net.finish()
        return self.counts

    def advance_to(self, t_s: float) -> None:
        """Compute all traffic in ``[now, t_s)`` and commit the allowance crossings inside it.

        Every happening starts here, so this is also where a requested stop (Ctrl-C) takes effect:
        between two vectorized windows, never inside one.
        """
        if self.stop_requested is not None and self.stop_requested():
            raise KeyboardInterrupt
        if t_s <= self._t_now:
            return
        if self.net is not None:
            self.net.advance(t_s)
        capacity = event_capacity(self._recorded_devices, t_s - self._t_now, self._min_gap_s, self._max_burst)
        def_dev, def_time, def_from, def_reason, events, n_events = advance_window(
            self._all_rows, t_s, self.record_flag, capacity, self.cols.kernel_columns(), self._ctx, self._profile_args
        )
        if n_events > capacity:
            raise RuntimeError(
                f"event-record buffer overflow ({n_events} > {capacity}) in the window ending at "
                f"{t_s:.0f} s; record fewer devices (outputs.sessions)"
            )
        self._t_now = t_s
        if def_dev.size:
            order = np.lexsort((def_dev, def_time))
            self._record_defaults(def_dev[order], def_time[order], def_from[order], def_reason[order])
        if self._recorded_devices:
            if self.on_events is not None:
                self.on_events(events)
            if self.net is None:
                self.counts.recorded_sms += self.recorder.sms(events)
            else:
                self.counts.recorded_sms += self.recorder.sms(*self.net.sms_deliveries(events))
                self.net.traffic_events(events)
            self._emit_records(self.cutter.cut(events, t_s))

    # --------------------------------------------------------------- happenings
    def _day_end_callback(self, day: int):
        def on_day_end(_event) -> None:
            self.counts.control_events += 1
            self.advance_to(self.env.now)
            self._emit_day(day)
            if self.net is not None and self.env.now < self.end_s:
                self.net.day_end(self.env.now)
            if self.progress is not None:
                self.progress(day + 1, self.days)

        return on_day_end

    def _outage_callback(self, k: int, starts: bool):
        def on_outage(_event) -> None:
            self.counts.control_events += 1
            self.advance_to(self.env.now)
            if not starts:
                self.net.outage_end(k, self.env.now)
                return
            self._unregistered(self.net.outage_start(k, self.env.now))

        return on_outage

    def _network_action(self, spec, rows: np.ndarray, rng: np.random.Generator) -> None:
        t = self.env.now
        if spec.action == "move":
            self._unregistered(self.net.move(rows, spec.area, t))
        elif spec.action in ("block_network", "unblock_network"):
            self._unregistered(self.net.block(rows, spec.plmn, spec.action == "block_network", t))
        elif spec.action == "power_off":
            self._unregistered(self.net.power_off(rows, t))
        else:
            self.net.power_on(rows, t, spec.spread_s or 0.0, rng)

    def _unregistered(self, lost: np.ndarray) -> None:
        """``lost`` devices left their network now: their connections are released, and a
        persistent profile re-opens its connection once the device is registered again."""
        cols = self.cols
        profile = self.map_table[cols.traffic_map[lost], cols.state[lost]]
        self._release(lost, profile)
        if self.profiles.persistent.size:
            cols.open_at_s[lost[(profile >= 0) & self.profiles.persistent[np.maximum(profile, 0)]]] = self.env.now

    def _action_callback(self, action: ScheduledAction):
        def on_action(_event) -> None:
            self.counts.control_events += 1
            self.advance_to(self.env.now)
            self._apply_scheduled(action)

        return on_action

    def _apply_scheduled(self, action: ScheduledAction) -> None:
        cols = self.cols
        rng = stream(self.scenario.seed, f"actions/{action.index}/{action.occurrence}")
        rows = select_devices(
            action.spec.select,
            rng,
            group=cols.group,
            state=cols.state,
            account=cols.account,
            report_group=cols.report_group,
            group_names=[g.name for g in self.scenario.fleet],
            accounts=self.accounts,
            report_groups=self.report_groups,
        )
        if action.spec.action == "set_traffic":
            old_profile = self.map_table[cols.traffic_map[rows], cols.state[rows]]
            cols.traffic_map[rows] = action.traffic_row
            changed = self.map_table[cols.traffic_map[rows], cols.state[rows]] != old_profile
            self._release(rows[changed], old_profile[changed])
            self._restart(rows[changed], self.env.now)
            return
        if action.spec.action == "send_once":
            # each device's session at a uniform time in [now, now + spread_s), from the action's stream
            spread_s = action.spec.spread_s or 0.0
            cols.next_once_s[rows] = self.env.now + rng.random(rows.size) * spread_s
            cols.once_profile[rows] = action.profile
            return
        if action.spec.action in NETWORK_ACTIONS:
            self._network_action(action.spec, rows, rng)
            return
        self.apply_action(rows, Action[action.spec.action.upper()], action.operation)

    def apply_action(self, rows: np.ndarray, action: Action, operation: str) -> None:
        """An operator action on ``rows`` now: legal moves are made, illegal ones recorded."""
        cols = self.cols
        t = self.env.now
        from_state = cols.state[rows]
        target = NEXT_STATE[from_state, action]
        legal = target >= 0
        if not legal.all():
            self._emit_rejected(rows[~legal], from_state[~legal], action, operation, t)
        rows, from_state, target = rows[legal], from_state[legal], target[legal]
        if rows.size == 0:
            return
        self._emit_changes(
            rows, np.full(rows.size, t), from_state, target, np.full(rows.size, action, np.int8),
            rec.ACTOR_SCENARIO, self.recorder.reason_code(operation), self._fees(rows, from_state, action),
        )  # fmt: skip
        self._enter(rows, target, t)

    def _fees(self, rows: np.ndarray, from_state: np.ndarray, action: np.ndarray | int) -> np.ndarray:
        """Fee event per move: First Bill Activation only for a device never in Active-Billed."""
        return np.where(self.cols.ever_active[rows], FEE_AGAIN[from_state, action], FEE_FIRST[from_state, action])

    def _enter(self, rows: np.ndarray, target: np.ndarray, t: float) -> None:
        """Move ``rows`` into ``target`` states at ``t``: allowance periods, arrivals."""
        cols = self.cols
        old_profile = self.map_table[cols.traffic_map[rows], cols.state[rows]]
        if self.net is not None:  # a cancelled SIM detaches; a SIM leaving Cancelled attaches again
            self.net.detach(rows[target == State.CANCELLED], t)
            self.net.reactivate(rows[(cols.state[rows] == State.CANCELLED) & (target != State.CANCELLED)], t)
        cols.state[rows] = target
        cols.ever_active[rows] |= target == State.ACTIVE_BILLED
        in_test = np.isin(target, _TEST_STATES)
        cols.test_entry_s[rows] = np.where(in_test, t, np.nan)
        cols.allowance_used_bytes[rows[in_test]] = 0
        cols.allowance_used_sms[rows[in_test]] = 0
        for state in TEST_ALLOWANCE_STATES:
            self._schedule_expiries(rows[target == state], state, t)
        changed = self.map_table[cols.traffic_map[rows], target] != old_profile
        self._release(rows[changed], old_profile[changed])
        stays_up = ~changed & self._connected(rows)  # same connection, new state: cut its record
        self._mark(rows[stays_up], KIND_STATE, target[stays_up], t)
        self._restart(rows[changed], t)

    def _connected(self, rows: np.ndarray) -> np.ndarray:
        return ~np.isnan(self.cols.last_tx_s[rows])

    def _release(self, rows: np.ndarray, old_profile: np.ndarray) -> None:
        """The network releases the persistent connections of ``rows`` (their profile changed)."""
        connected = self._connected(rows)
        self._mark(rows[connected], KIND_RELEASE, self.cols.state[rows[connected]], self.env.now, old_profile[connected])
        self.cols.last_tx_s[rows] = np.nan
        self.cols.open_at_s[rows] = np.inf

    def _mark(self, rows: np.ndarray, kind: int, states: np.ndarray, t: float, profiles: np.ndarray | None = None) -> None:
        """Tell the record cutter about connection changes of recorded devices at ``t``."""
        rows_rec = self.record_flag[rows]
        if not rows_rec.any():
            return
        marks = np.zeros((int(rows_rec.sum()), EV_COLUMNS))
        marks[:, EV_DEVICE] = rows[rows_rec]
        marks[:, EV_TIME_S] = t
        marks[:, EV_KIND] = kind
        marks[:, EV_STATE] = states[rows_rec]
        marks[:, EV_PROFILE] = -1 if profiles is None else profiles[rows_rec]
        self._emit_records(self.cutter.cut(marks, t))

    def _restart(self, rows: np.ndarray, t: float) -> None:
        restart_arrivals(rows, t, self.cols.kernel_columns(), self._ctx, self._profile_args)

    def _schedule_expiries(self, rows: np.ndarray, state: State, entry_s: float) -> None:
        """Schedule the days-limit of the test periods that ``rows`` start at ``entry_s``.

        One event per distinct due time (devices entering together expire together).
        """
        if rows.size == 0:
            return
        days = self._allowance_days[self.cols.rate_plan[rows], state]
        for value in np.unique(days[~np.isnan(days)]):
            due = entry_s + float(value) * SECONDS_PER_DAY
            if due >= self.end_s:
                continue
            batch = (entry_s, int(state), rows[days == value])
            if due in self._expiries:
                self._expiries[due].append(batch)
            else:
                self._expiries[due] = [batch]
                At(self.env, due - self.env.now, PRIORITY_EXPIRY, self._expiry_callback(due))

    def _expiry_callback(self, due: float):
        def on_expiry(_event) -> None:
            self.counts.control_events += 1
            self.advance_to(self.env.now)
            cols = self.cols
            for entry_s, state, rows in self._expiries.pop(due):
                still = rows[(cols.state[rows] == state) & (cols.test_entry_s[rows] == entry_s)]
                if still.size:
                    self._default(still, np.full(still.size, due), np.full(still.size, state, np.int8),
                                  np.full(still.size, DefaultReason.DAYS, np.int8))  # fmt: skip
                    self._enter(still, np.full(still.size, State.ACTIVE_BILLED, np.int8), due)

        return on_expiry

    # ------------------------------------------------------------- defaulting
    def _record_defaults(self, rows, times, from_state, reasons) -> None:
        """Crossings found by the kernel (state already moved to Active-Billed there)."""
        self._default(rows, times, from_state, reasons)
        self.cols.ever_active[rows] = True

    def _default(self, rows, times, from_state, reasons) -> None:
        """Record defaulting moves: the system's Activate (from Provisioned) or Unsuspend."""
        actions = self._defaulting_action[from_state]
        fees = self._fees(rows, from_state, actions)
        np.add.at(self._default_counts, (from_state, reasons), 1)
        self._defaults_today += rows.size
        self._emit_changes(
            rows, times, from_state, np.full(rows.size, State.ACTIVE_BILLED, np.int8), actions,
            rec.ACTOR_SYSTEM, self._default_reason_codes[from_state, reasons], fees,
        )  # fmt: skip

    # ---------------------------------------------------------------- records
    def _emit_changes(self, rows, times, from_state, to_state, actions, actor, reason, fees) -> None:
        self.counts.state_changes += rows.size
        self.recorder.state_changes(rows, times, from_state, to_state, actions, actor, reason, fees)

    def _emit_rejected(self, rows, states, action: Action, operation: str, t: float) -> None:
        self.counts.rejected_operations += rows.size
        self.recorder.rejected(rows, states, action, operation, t)

    def _emit_day(self, day: int) -> None:
        cols = self.cols
        day_columns = cols.day_columns()
        active = np.flatnonzero(np.logical_or.reduce([column > 0 for column in day_columns]))
        self.recorder.usage_day(day, active, [column[active] for column in day_columns], cols.state[active])
        for column in day_columns:
            column[active] = 0
        self._fleet_daily[day, : len(State)] = np.bincount(cols.state, minlength=len(State))
        self._fleet_daily[day, len(State)] = self._defaults_today
        self._defaults_today = 0

    def _emit_records(self, records: np.ndarray) -> None:
        if records.shape[0]:
            self.counts.recorded_sessions += self.recorder.sessions(records)

    def _emit_devices(self) -> None:
        cols = self.cols
        self.recorder.devices(
            cols, [g.name for g in self.scenario.fleet], self.accounts, self.report_groups,
            [p.name for p in self.scenario.rate_plans],
        )  # fmt: skip

    def _final_counts(self) -> None:
        cols = self.cols
        per_state = np.bincount(cols.state, minlength=len(State))
        self.counts.final_states = {STATE_LABELS[s]: int(per_state[s]) for s in State}
        self.counts.sessions = int(cols.total_sessions.sum())
        self.counts.total_bytes = int(cols.total_bytes.sum())
        self.counts.sms_mo = int(cols.total_sms_mo.sum())
        self.counts.sms_mt = int(cols.total_sms_mt.sum())
        self.counts.recorded_devices = int(np.count_nonzero(self.record_flag))
        self.counts.defaulted_by_reason = {
            default_reason_key(State(s), DefaultReason(r)): int(self._default_counts[s, r])
            for s, r in zip(*np.nonzero(self._default_counts))
        }
