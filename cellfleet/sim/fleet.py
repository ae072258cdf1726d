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
    next_sms_s: np.ndarray  # float64
    test_entry_s: np.ndarray  # float64: start of the current test-allowance period, NaN if none
    allowance_used_bytes: np.ndarray  # int64
    allowance_used_sms: np.ndarray  # int64
    day_bytes: np.ndarray  # int64
    day_sessions: np.ndarray  # int32
    day_sms: np.ndarray  # int32
    total_bytes: np.ndarray  # int64
    total_sessions: np.ndarray  # int64
    total_sms: np.ndarray  # int64

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
            next_sms_s=np.full(n, np.inf),
            test_entry_s=np.where(in_test, 0.0, np.nan),
            allowance_used_bytes=np.zeros(n, np.int64),
            allowance_used_sms=np.zeros(n, np.int64),
            day_bytes=np.zeros(n, np.int64),
            day_sessions=np.zeros(n, np.int32),
            day_sms=np.zeros(n, np.int32),
            total_bytes=np.zeros(n, np.int64),
            total_sessions=np.zeros(n, np.int64),
            total_sms=np.zeros(n, np.int64),
        )


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


def identities(size: int) -> tuple[pa.Array, pa.Array]:
    """ICCIDs and IMSIs (string arrays) for devices ``0 .. size-1``; see the identity plan above."""
    serial = np.arange(size, dtype=np.int64)
    body = np.int64(int(ICCID_PREFIX)) * np.int64(10**11) + serial
    iccid_num = body * 10 + luhn_check_digits(body, len(ICCID_PREFIX) + 11)
    imsi_num = np.int64(int(TEST_PLMN_MCC_MNC)) * np.int64(10**10) + serial
    iccid = pc.utf8_lpad(pa.array(iccid_num).cast(pa.string()), width=19, padding="0")
    imsi = pc.utf8_lpad(pa.array(imsi_num).cast(pa.string()), width=15, padding="0")
    return iccid, imsi
