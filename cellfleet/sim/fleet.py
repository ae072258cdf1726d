"""Fleet state in columns: one numpy array per attribute, one row per device.

Nothing here is per-device Python: a fleet of a million devices is a few dozen megabytes of
arrays. Devices are numbered ``0 .. N-1`` in the order of the scenario's fleet groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cellfleet.scenarios.schema import traffic_by_state
from cellfleet.sim.lifecycle import TEST_ALLOWANCE_STATES, State
from cellfleet.sim.rand import device_keys
from cellfleet.sim.traffic import NO_PROFILE

#: Identity plan for emulated SIMs. MCC 001 / MNC 01 is the 3GPP test network (TS 23.003 §2.2,
#: TS 36.508 §4.4.2), so emulated IMSIs can never collide with a live network's subscribers.
TEST_PLMN_MCC_MNC = "00101"
#: ICCID = "89" (telecom, ITU-T E.118) + "882" (international) + issuer "01" + 11-digit serial +
#: Luhn check digit: 19 digits.
ICCID_PREFIX = "8988201"
#: IMEI = 8-digit Type Allocation Code + 6-digit serial + Luhn check digit (TS 23.003 §6.2.1,
#: check digit per Annex B). TAC "00101000" is not allocated to a real model; the serial is the
#: device row modulo 10^6 (emulated modules, no uniqueness claim beyond a million devices).
IMEI_TAC = "00101000"


@dataclass
class TrafficMaps:
    """Rows of ``state -> profile index`` maps; a device points at one row (``traffic_map``)."""

    profile_index: dict[str, int]
    rows: list[tuple[int, ...]] = field(default_factory=list)

    def row_for(self, traffic: str | dict[str, str]) -> int:
        """The row index of a scenario ``traffic`` value (a profile name or a state mapping)."""
        per_state = [NO_PROFILE] * len(State)
        for state_key, name in traffic_by_state(traffic).items():
            per_state[State[state_key.upper()]] = self._index(name)
        row = tuple(per_state)
        if row not in self.rows:
            self.rows.append(row)
        return self.rows.index(row)

    def _index(self, name: str) -> int:
        return NO_PROFILE if name == "none" else self.profile_index[name]

    def table(self) -> np.ndarray:
        return np.array(self.rows, dtype=np.int16).reshape(-1, len(State))


@dataclass
class FleetColumns:
    """The columnar fleet state the engine and the traffic kernel work on."""

    size: int
    group: np.ndarray  # int16: index into scenario.fleet
    rate_plan: np.ndarray  # int16
    account: np.ndarray  # int32: index into account names
    report_group: np.ndarray  # int32
    initial_state: np.ndarray  # int8
    state: np.ndarray  # int8: State
    ever_active: np.ndarray  # bool: has been in Active-Billed (First Bill vs Reactivation fee)
    traffic_map: np.ndarray  # int16: row of TrafficMaps
    rng_key: np.ndarray  # uint64
    rng_counter: np.ndarray  # uint64
    next_session_s: np.ndarray  # float64
    burst_left: np.ndarray  # int64: sessions still to come in the current burst
    next_sms_mo_s: np.ndarray  # float64
    next_sms_mt_s: np.ndarray  # float64
    open_at_s: np.ndarray  # float64: pending set-up of a persistent connection (inf: none)
    last_tx_s: np.ndarray  # float64: last report on the open connection (NaN: not connected)
    next_once_s: np.ndarray  # float64: pending one-off session (inf: none)
    once_profile: np.ndarray  # int16: its profile
    test_entry_s: np.ndarray  # float64: start of the current test-allowance period, NaN if none
    allowance_used_bytes: np.ndarray  # int64
    allowance_used_sms: np.ndarray  # int64
    day_bytes: np.ndarray  # int64
    day_sessions: np.ndarray  # int32
    day_sms_mo: np.ndarray  # int32
    day_sms_mt: np.ndarray  # int32
    total_bytes: np.ndarray  # int64
    total_sessions: np.ndarray  # int64
    total_sms_mo: np.ndarray  # int64
    total_sms_mt: np.ndarray  # int64
    # registration (3GPP TS 24.301; the traffic kernel's gating, ``cellfleet.sim.gating``)
    reg_from_s: np.ndarray  # float64: registered from then on in the current window (-inf: all along, +inf: not)
    t3412_s: np.ndarray  # float64: periodic TAU timer of the current registration (inf: no periodic TAU)
    tau_ref_s: np.ndarray  # float64: when T3412 was last (re)started (NaN: not yet)
    queued_reports: np.ndarray  # int64: reports held while not registered (unregistered_reports: queue)
    queue_next_s: np.ndarray  # float64: next queued report of a drain a window end interrupted (-inf: none)
    day_reports_dropped: np.ndarray  # int32: reports not sent for want of registration
    total_reports_dropped: np.ndarray  # int64
    day_sms_dropped: np.ndarray  # int32: SMS MO and MT not sent or delivered for want of registration
    total_sms_dropped: np.ndarray  # int64
    day_tau: np.ndarray  # int32: periodic tracking area updates
    total_tau: np.ndarray  # int64

    @classmethod
    def build(cls, scenario, maps: TrafficMaps, accounts: list[str], report_groups: list[str]) -> "FleetColumns":
        counts = [g.count for g in scenario.fleet]
        n = int(sum(counts))
        plan_index = {p.name: i for i, p in enumerate(scenario.rate_plans)}
        rep = lambda values, dtype: np.repeat(np.asarray(values, dtype=dtype), counts)  # noqa: E731
        initial = rep([State[g.initial_state.upper()] for g in scenario.fleet], np.int8)
        in_test = np.isin(initial, np.array(TEST_ALLOWANCE_STATES, dtype=np.int8))
        return cls(
            size=n,
            group=rep(range(len(counts)), np.int16),
            rate_plan=rep([plan_index[g.rate_plan] for g in scenario.fleet], np.int16),
            account=rep([accounts.index(g.account) for g in scenario.fleet], np.int32),
            report_group=rep([report_groups.index(g.report_group) for g in scenario.fleet], np.int32),
            initial_state=initial,
            state=initial.copy(),
            # A SIM that starts Suspended or Cancelled has a billing history: its next activation
            # is not "for the first time" (seed 003, Activation Fees), so it pays Reactivation.
            ever_active=np.isin(initial, [State.ACTIVE_BILLED, State.SUSPENDED, State.CANCELLED]),
            traffic_map=rep([maps.row_for(g.traffic) for g in scenario.fleet], np.int16),
            rng_key=np.concatenate([device_keys(scenario.seed, g.name, g.count) for g in scenario.fleet]),
            rng_counter=np.zeros(n, np.uint64),
            next_session_s=np.full(n, np.inf),
            burst_left=np.zeros(n, np.int64),
            next_sms_mo_s=np.full(n, np.inf),
            next_sms_mt_s=np.full(n, np.inf),
            open_at_s=np.full(n, np.inf),
            last_tx_s=np.full(n, np.nan),
            next_once_s=np.full(n, np.inf),
            once_profile=np.full(n, NO_PROFILE, np.int16),
            test_entry_s=np.where(in_test, 0.0, np.nan),
            allowance_used_bytes=np.zeros(n, np.int64),
            allowance_used_sms=np.zeros(n, np.int64),
            day_bytes=np.zeros(n, np.int64),
            day_sessions=np.zeros(n, np.int32),
            day_sms_mo=np.zeros(n, np.int32),
            day_sms_mt=np.zeros(n, np.int32),
            total_bytes=np.zeros(n, np.int64),
            total_sessions=np.zeros(n, np.int64),
            total_sms_mo=np.zeros(n, np.int64),
            total_sms_mt=np.zeros(n, np.int64),
            reg_from_s=np.full(n, -np.inf),
            t3412_s=np.full(n, np.inf),
            tau_ref_s=np.full(n, np.nan),
            queued_reports=np.zeros(n, np.int64),
            queue_next_s=np.full(n, -np.inf),
            day_reports_dropped=np.zeros(n, np.int32),
            total_reports_dropped=np.zeros(n, np.int64),
            day_sms_dropped=np.zeros(n, np.int32),
            total_sms_dropped=np.zeros(n, np.int64),
            day_tau=np.zeros(n, np.int32),
            total_tau=np.zeros(n, np.int64),
        )

    def kernel_columns(self) -> tuple[np.ndarray, ...]:
        """The columns the traffic kernel reads and writes, in its unpacking order."""
        return (
            self.state, self.traffic_map, self.rng_key, self.rng_counter, self.next_session_s, self.burst_left,
            self.next_sms_mo_s, self.next_sms_mt_s, self.open_at_s, self.last_tx_s, self.next_once_s,
            self.once_profile, self.rate_plan, self.allowance_used_bytes, self.allowance_used_sms, self.test_entry_s,
            self.day_bytes, self.day_sessions, self.day_sms_mo, self.day_sms_mt,
            self.total_bytes, self.total_sessions, self.total_sms_mo, self.total_sms_mt,
            self.reg_from_s, self.t3412_s, self.tau_ref_s, self.queued_reports, self.queue_next_s,
            self.day_reports_dropped, self.total_reports_dropped, self.day_sms_dropped, self.total_sms_dropped,
            self.day_tau, self.total_tau,
        )  # fmt: skip

    def day_columns(self) -> tuple[np.ndarray, ...]:
        """The per-day accumulators (``day_*``), which the engine zeroes when a day's records
        are out; in the order of the ``usage_daily`` table's columns (bytes, sessions, sms_mo,
        sms_mt, reports_dropped, sms_dropped, periodic_taus)."""
        return (
            self.day_bytes, self.day_sessions, self.day_sms_mo, self.day_sms_mt, self.day_reports_dropped,
            self.day_sms_dropped, self.day_tau,
        )  # fmt: skip


def luhn_check_digits(body: np.ndarray, digits: int) -> np.ndarray:
    """Luhn check digit (ISO/IEC 7812-1, used by ICCIDs per ITU-T E.118) of integer bodies."""
    total = np.zeros(body.shape, np.int64)
    rest = body.copy()
    for pos in range(digits):  # pos 0 is the rightmost digit of the body, which is doubled
        d = rest % 10
        rest //= 10
        if pos % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    return (10 - total % 10) % 10


def _digits(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")


def identities(devices: np.ndarray | int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """ICCIDs, IMSIs and IMEIs (string arrays) of device rows (or of ``0 .. n-1`` for an int);
    see the identity plan above."""
    serial = np.arange(devices, dtype=np.int64) if isinstance(devices, int) else np.asarray(devices, dtype=np.int64)
    body = np.int64(int(ICCID_PREFIX)) * np.int64(10**11) + serial
    iccid_num = body * 10 + luhn_check_digits(body, len(ICCID_PREFIX) + 11)
    imsi_num = np.int64(int(TEST_PLMN_MCC_MNC)) * np.int64(10**10) + serial
    imei_body = np.int64(int(IMEI_TAC)) * np.int64(10**6) + serial % 10**6
    imei_num = imei_body * 10 + luhn_check_digits(imei_body, 14)
    return _digits(iccid_num, 19), _digits(imsi_num, 15), _digits(imei_num, 15)
