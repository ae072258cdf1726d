"""The reference model "written the usual way": one SimPy generator process per device.

This is what cellfleet's engine is compared against in ``bench/fleet_bench.py``. It simulates the
same scenario (one fleet group, one rate plan, the group's traffic profile(s), operator actions with
``state`` + ``fraction`` selectors) doing the same work per device-day as the engine:

* Poisson session arrivals at the profile's ``sessions_per_day``, each session's bytes drawn from
  the profile's fixed/uniform size distribution (one SimPy timeout per session: the engine's
  sessions are instantaneous, so this is the cheapest faithful per-event model, i.e. the fairest
  baseline; ``performance.md`` §1b uses 7 events per session);
* Poisson SMS arrivals at ``sms_mo_per_day`` (no MT SMS);
* allowance accounting in Provisioned/Suspended with the data, SMS and days limits of the rate
  plan, defaulting to Active-Billed at the exact crossing session/SMS/expiry (the session that
  crosses is counted, later ones are in Active-Billed), with the state-change record and fee event;
* the scenario's operator actions (e.g. suspend 30 % of Active-Billed at day 10, unsuspend half of
  the Suspended at day 20), with state-change records, allowance restart on entering a test state;
* per-device daily usage records (device, day, date, bytes, sessions, SMS, state at the day's end)
  for every device-day with activity, a ``fleet_daily`` record per day, per-session records for a
  sample of devices, and a ``devices`` table; all accumulated in Python lists and written to Parquet
  (zstd, the engine's schemas) at the end, so it does the same output work.

It is *not* byte-identical to the engine (Python's ``random`` instead of the engine's per-device
counter streams) but statistically the same model; the bench checks its totals against the
engine's on the same scenario.

Usage (library): ``run_reference(scenario, out_dir) -> dict`` of counts.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import simpy

from cellfleet.sim.lifecycle import (
    DEFAULTING_ACTION,
    STATE_LABELS,
    TEST_ALLOWANCE_STATES,
    Action,
    DefaultReason,
    FeeEvent,
    State,
    default_reason_key,
    transition,
)
from cellfleet.sim.fleet import identities
from cellfleet.sim.records import SCHEMAS

DAY = 86400.0
INF = float("inf")
AB = int(State.ACTIVE_BILLED)
TEST_STATES = frozenset(int(s) for s in TEST_ALLOWANCE_STATES)


class ReferenceModel:
    """One SimPy process per device; shared per-device state in Python lists."""

    def __init__(self, scenario, seed: int | None = None) -> None:
        if len(scenario.fleet) != 1:
            raise ValueError("the reference model supports exactly one fleet group")
        self.scenario = scenario
        group = scenario.fleet[0]
        plan = scenario.rate_plan(group.rate_plan)
        self.n = n = group.count
        self.days = int(scenario.duration_days)
        self.end_s = self.days * DAY
        self.start_date = scenario.start_date
        self.rng = random.Random(scenario.seed if seed is None else seed)

        # Per-state traffic profile -> (session rate /s, kind, a, b, sms rate /s, up fraction, duration)
        self.profile = {}
        self.profile_name = ""
        for key, name in group.traffic_by_state().items():
            prof = scenario.traffic_profile(name)
            self.profile_name = self.profile_name or (prof.name if prof is not None else "")
            if prof is None:
                self.profile[int(State[key.upper()])] = None
                continue
            if prof.schedule != "poisson":
                raise ValueError("the reference model supports poisson schedules only")
            sb = prof.session_bytes
            a, b = (sb.min_bytes, sb.max_bytes) if sb.distribution == "uniform" else (sb.bytes, sb.bytes)
            self.profile[int(State[key.upper()])] = (
                prof.sessions_per_day / DAY, a, b, prof.sms_mo_per_day / DAY,
                prof.uplink_fraction, prof.session_duration_s,
            )  # fmt: skip
        if len({p for p in self.profile.values()}) != 1:
            # The engine restarts arrivals on a profile change; keep the reference simple.
            raise ValueError("the reference model supports one traffic profile for all traffic states")

        # Allowances per test state: (data bytes or -1, sms or -1, days or inf)
        self.allow = {}
        for state, allowance in ((State.PROVISIONED, plan.provisioned_allowance),
                                 (State.SUSPENDED, plan.suspended_allowance)):  # fmt: skip
            if allowance is None:
                continue
            self.allow[int(state)] = (
                -1 if allowance.data_bytes is None else allowance.data_bytes,
                -1 if allowance.sms_count is None else allowance.sms_count,
                INF if allowance.days is None else allowance.days * DAY,
            )

        initial = int(State[group.initial_state.upper()])
        self.state = [initial] * n
        self.ever_active = [initial in (AB, int(State.SUSPENDED))] * n
        self.used_bytes = [0] * n
        self.used_sms = [0] * n
        self.entry = [0.0 if initial in TEST_STATES else None] * n
        self.expiry = [self._expiry_time(initial, 0.0)] * n
        self.wake = [0.0] * n  # when each device process next wakes (to know whether to interrupt)
        self.procs: list[simpy.Process] = []

        # Session sample (same size as the engine's outputs.sessions)
        cfg = scenario.outputs.sessions
        mode = cfg.mode
        if mode == "auto":
            mode = "all" if n <= cfg.all_max_devices else "sample"
        if mode == "all":
            self.sampled = [True] * n
        elif mode == "sample":
            self.sampled = [False] * n
            for i in self.rng.sample(range(n), min(cfg.sample_devices, n)):
                self.sampled[i] = True
        else:
            self.sampled = [False] * n
        self.session_table = mode != "off"

        # Output rows (Python lists, columnar)
        self.daily = {k: [] for k in ("device", "day", "bytes", "sessions", "sms", "state")}
        self.changes = {k: [] for k in ("device", "time_s", "from", "to", "action", "actor", "reason", "fee")}
        self.sess = {k: [] for k in ("device", "start", "duration", "state", "up", "down")}
        self.sms = {k: [] for k in ("device", "time", "state")}
        self.fleet_daily: list[dict] = []
        self.defaults_today = 0
        self.defaulted = Counter()
        self.totals = {"sessions": 0, "bytes": 0, "sms": 0}

    def _expiry_time(self, state: int, t: float) -> float:
        allowance = self.allow.get(state)
        if allowance is None:
            return INF
        due = t + allowance[2]
        return due if due < self.end_s else INF

    # ------------------------------------------------------------------ device process
    def device(self, env: simpy.Environment, i: int):
        """One device: sessions, SMS, allowance checks, day ends, days-limit expiry."""
        rng = self.rng
        rnd = rng.random
        expo = rng.expovariate
        state, used_b, used_s, expiry, wake = self.state, self.used_bytes, self.used_sms, self.expiry, self.wake
        allow, sampled = self.allow, self.sampled[i]
        sess = self.sess
        d_dev, d_day, d_bytes, d_sess, d_sms, d_state = (self.daily[k] for k in
                                                          ("device", "day", "bytes", "sessions", "sms", "state"))
        end_s = self.end_s
        rate, a, b, sms_rate, up_frac, duration = self.profile[state[i]]
        span = b - a + 1
        timeout = env.timeout

        next_sess = expo(rate) if rate > 0 else INF
        next_sms = expo(sms_rate) if sms_rate > 0 else INF
        day = 0
        day_end = DAY
        day_bytes = day_sessions = day_sms = 0
        tot_bytes = tot_sessions = tot_sms = 0
        while True:
            t = min(next_sess, next_sms, day_end, expiry[i])
            wake[i] = t
            try:
                yield timeout(t - env.now)
            except simpy.Interrupt:
                continue  # the operator changed this device's expiry: re-plan
            crossed = 0
            if t == day_end:
                if day_sessions or day_sms:
                    d_dev.append(i)
                    d_day.append(day)
                    d_bytes.append(day_bytes)
                    d_sess.append(day_sessions)
                    d_sms.append(day_sms)
                    d_state.append(state[i])
                    day_bytes = day_sessions = day_sms = 0
                day += 1
                day_end += DAY
                if day_end > end_s:
                    break
                continue
            st = state[i]
            if t == next_sess:
                nbytes = a + int(rnd() * span)
                day_bytes += nbytes
                day_sessions += 1
                tot_bytes += nbytes
                tot_sessions += 1
                if sampled:
                    up = int(nbytes * up_frac + 0.5)
                    sess["device"].append(i)
                    sess["start"].append(t)
                    sess["duration"].append(duration)
                    sess["state"].append(st)
                    sess["up"].append(up)
                    sess["down"].append(nbytes - up)
                next_sess = t + expo(rate)
                if st in TEST_STATES:
                    lim = allow[st][0]
                    if lim >= 0:
                        used_b[i] += nbytes
                        if used_b[i] > lim:
                            crossed = DefaultReason.DATA
            elif t == next_sms:
                day_sms += 1
                tot_sms += 1
                if sampled:
                    self.sms["device"].append(i)
                    self.sms["time"].append(t)
                    self.sms["state"].append(st)
                next_sms = t + expo(sms_rate)
                if st in TEST_STATES:
                    lim = allow[st][1]
                    if lim >= 0:
                        used_s[i] += 1
                        if used_s[i] > lim:
                            crossed = DefaultReason.SMS
            elif t == expiry[i]:  # days-limit expiry (a stale wake-up finds expiry moved: no-op)
                expiry[i] = INF
                if st in TEST_STATES:
                    crossed = DefaultReason.DAYS
            if crossed:
                self.default(i, t, st, crossed)
        self.totals["sessions"] += tot_sessions
        self.totals["bytes"] += tot_bytes
        self.totals["sms"] += tot_sms

    def default(self, i: int, t: float, from_state: int, reason: DefaultReason) -> None:
        """The system moves device ``i`` from a test state to Active-Billed at ``t``."""
        action = DEFAULTING_ACTION[State(from_state)]
        tr = transition(State(from_state), action)
        self.record_change(i, t, from_state, AB, action, 1, default_reason_key(State(from_state), reason), tr)
        self.defaulted[default_reason_key(State(from_state), reason)] += 1
        self.defaults_today += 1
        self.state[i] = AB
        self.entry[i] = None
        self.expiry[i] = INF

    def record_change(self, i, t, from_state, to_state, action, actor, reason, tr) -> None:
        c = self.changes
        c["device"].append(i)
        c["time_s"].append(t)
        c["from"].append(from_state)
        c["to"].append(int(to_state))
        c["action"].append(int(action))
        c["actor"].append(actor)
        c["reason"].append(reason)
        fee = tr.fee_again if self.ever_active[i] else tr.fee_first
        c["fee"].append(int(fee))
        if to_state == AB:
            self.ever_active[i] = True

    # ------------------------------------------------------------------ control processes
    def operator(self, env: simpy.Environment, spec, t: float, label: str):
        """One scheduled operator action (``state`` + ``fraction``/``count`` selectors)."""
        yield env.timeout(t)
        yield env.timeout(0)  # after the day-end records due at the same instant
        sel = spec.select
        if sel.group is not None or sel.account is not None or sel.report_group is not None:
            raise ValueError("the reference model supports state/fraction/count selectors only")
        want = None if sel.state is None else int(State[sel.state.upper()])
        rows = [i for i, s in enumerate(self.state) if want is None or s == want]
        if sel.fraction is not None:
            k = int(sel.fraction * len(rows) + 0.5)
        elif sel.count is not None:
            k = min(sel.count, len(rows))
        else:
            k = len(rows)
        if k < len(rows):
            rows = sorted(self.rng.sample(rows, k))
        action = Action[spec.action.upper()]
        for i in rows:
            st = self.state[i]
            tr = transition(State(st), action)  # selectors by state: always legal in the bench
            self.record_change(i, env.now, st, tr.target, action, 0, label, tr)
            target = int(tr.target)
            self.state[i] = target
            if target in TEST_STATES:
                self.entry[i] = env.now
                self.used_bytes[i] = 0
                self.used_sms[i] = 0
                self.expiry[i] = self._expiry_time(target, env.now)
                if self.expiry[i] < self.wake[i]:
                    self.procs[i].interrupt()
            else:
                self.entry[i] = None
                self.expiry[i] = INF

    def day_ends(self, env: simpy.Environment):
        """Fleet-level ``fleet_daily`` record at the end of each day."""
        for day in range(self.days):
            yield env.timeout((day + 1) * DAY - env.now)
            per_state = Counter(self.state)
            date = self.start_date + dt.timedelta(days=day)
            self.fleet_daily.append({"day": day, "date": date, **{s.key: per_state.get(int(s), 0) for s in State},
                                     "defaulted": self.defaults_today})  # fmt: skip
            self.defaults_today = 0

    # ------------------------------------------------------------------ run + outputs
    def run(self, out_dir: Path) -> dict:
        env = simpy.Environment()
        for spec in self.scenario.actions:
            times = [spec.at_day] if spec.repeat is None else spec.occurrence_days()
            for k, day in enumerate(times):
                label = (spec.name or "action") + ("" if k == 0 else f"#{k + 1}")
                env.process(self.operator(env, spec, day * DAY, label))
        env.process(self.day_ends(env))
        self.procs = [env.process(self.device(env, i)) for i in range(self.n)]
        env.run()
        events = next(env._eid)  # SimPy's event counter (internal, for the report only)
        self.write(Path(out_dir))
        states = Counter(self.state)
        return {
            "devices": self.n,
            "days": self.days,
            "sessions": self.totals["sessions"],
            "total_bytes": self.totals["bytes"],
            "sms": self.totals["sms"],
            "state_changes": len(self.changes["device"]),
            "daily_records": len(self.daily["device"]),
            "recorded_sessions": len(self.sess["device"]),
            "defaulted_by_reason": dict(self.defaulted),
            "defaulted": sum(self.defaulted.values()),
            "final_states": {STATE_LABELS[s]: states.get(int(s), 0) for s in State},
            "simpy_events": events,
        }

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        state_dict = pa.array([STATE_LABELS[s] for s in State])
        action_dict = pa.array([a.key for a in Action])
        fee_dict = pa.array([f.key for f in FeeEvent])
        label = lambda codes, d: pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), d)  # noqa: E731
        t0 = dt.datetime.combine(self.start_date, dt.time(), tzinfo=dt.timezone.utc)
        epoch_us = int(t0.timestamp() * 1_000_000)
        ts = lambda secs: pa.array([epoch_us + round(s * 1e6) for s in secs], pa.timestamp("us", tz="UTC"))  # noqa: E731

        def names(values: list[str]) -> pa.DictionaryArray:
            return pa.array(values, pa.string()).dictionary_encode().cast(pa.dictionary(pa.int32(), pa.string()))

        d = self.daily
        dates = [self.start_date + dt.timedelta(days=day) for day in d["day"]]
        tables = {
            "usage_daily": [pa.array(d["device"], pa.int64()), pa.array(d["day"], pa.int32()),
                            pa.array(dates, pa.date32()), pa.array(d["bytes"], pa.int64()),
                            pa.array(d["sessions"], pa.int32()), pa.array(d["sms"], pa.int32()),
                            pa.array([0] * len(d["sms"]), pa.int32()),
                            *[pa.array([0] * len(d["sms"]), pa.int32()) for _ in range(3)],  # no registrations
                            label(d["state"], state_dict)],
        }  # fmt: skip
        c = self.changes
        tables["state_changes"] = [
            pa.array(c["device"], pa.int64()), pa.array(c["time_s"], pa.float64()), ts(c["time_s"]),
            label(c["from"], state_dict), label(c["to"], state_dict), label(c["action"], action_dict),
            label(c["actor"], pa.array(["scenario", "system"])), names(c["reason"]), label(c["fee"], fee_dict),
        ]  # fmt: skip
        s = self.sess
        group = self.scenario.fleet[0]
        if self.session_table:
            order = sorted(range(len(s["device"])), key=lambda k: (s["start"][k], s["device"][k]))
            col = lambda key: [s[key][k] for k in order]  # noqa: E731
            up, down, dev, start = col("up"), col("down"), col("device"), col("start")
            total = [u + w for u, w in zip(up, down)]
            seq: Counter = Counter()
            session_id = []
            for d in dev:
                session_id.append((d << 32) + seq[d])
                seq[d] += 1
            n = len(order)
            end = [a + b for a, b in zip(start, col("duration"))]
            iccid, imsi, imei = identities(dev)
            zeros = pa.array([0] * n, pa.int64())
            tables["sessions"] = [
                pa.array(range(n), pa.int64()), pa.array(session_id, pa.int64()), pa.array([0] * n, pa.int32()),
                pa.array(dev, pa.int64()), *(names(x.to_pylist()) for x in (iccid, imsi, imei)),
                names([group.account] * n), names([group.report_group] * n), names([group.rate_plan] * n),
                label(col("state"), state_dict), pa.array(start, pa.float64()), ts(start), ts(end),
                pa.array(col("duration"), pa.float64()), names([self.profile_name] * n), label([0] * n, pa.array(["IPv4"])),
                label([0] * n, pa.array(["LTE-M"])), names(["00101"] * n), names(["home"] * n),
                names([self.profile_name] * n),
                names(["raw"] * n), pa.array(up, pa.int64()), pa.array(down, pa.int64()), pa.array(total, pa.int64()),
                pa.array(total, pa.int64()), zeros, zeros, zeros, pa.array([0] * n, pa.int32()),
                pa.array([1] * n, pa.int32()), pa.array([0] * n, pa.int32()), label([0] * n, pa.array(["normal_release"])),
            ]  # fmt: skip
            m = self.sms
            n = len(m["device"])
            sms_iccid, sms_imsi, _ = identities(m["device"])
            tables["sms"] = [
                pa.array(range(n), pa.int64()), pa.array(m["device"], pa.int64()), names(sms_iccid.to_pylist()),
                names(sms_imsi.to_pylist()), pa.array(m["time"], pa.float64()), ts(m["time"]),
                label([0] * n, pa.array(["MO", "MT"])), label(m["state"], state_dict), label([0] * n, pa.array(["delivered"])),
            ]  # fmt: skip
        iccid = [_iccid(i) for i in range(self.n)]
        imsi = [f"00101{i:010d}" for i in range(self.n)]
        imei = identities(self.n)[2]
        tables["devices"] = [
            pa.array(range(self.n), pa.int64()), pa.array(iccid), pa.array(imsi), imei,
            names([group.name] * self.n), names([group.account] * self.n), names([group.report_group] * self.n),
            names([group.rate_plan] * self.n), label([int(State[group.initial_state.upper()])] * self.n, state_dict),
            label(self.state, state_dict),
        ]  # fmt: skip
        for name, arrays in tables.items():
            pq.write_table(pa.Table.from_arrays(arrays, schema=SCHEMAS[name]), out / f"{name}.parquet",
                           compression="zstd")  # fmt: skip
        pq.write_table(pa.Table.from_pylist(self.fleet_daily, schema=SCHEMAS["fleet_daily"]),
                       out / "fleet_daily.parquet", compression="zstd")  # fmt: skip


def _iccid(serial: int) -> str:
    body = f"8988201{serial:011d}"
    total = 0
    for pos, ch in enumerate(reversed(body)):
        v = int(ch)
        if pos % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return body + str((10 - total % 10) % 10)


def run_reference(scenario, out_dir: Path) -> dict:
    """Build and run the per-process reference model for ``scenario``; returns its counts."""
    return ReferenceModel(scenario).run(out_dir)
