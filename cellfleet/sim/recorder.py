"""Turns the engine's column slices into typed record batches (``records.SCHEMAS``) for a sink.

The engine decides what happened; the recorder only spells it: UTC timestamps from simulated
seconds, dictionary-encoded labels, the open vocabularies of reasons and errors, record ids.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from cellfleet.sim import records as rec
from cellfleet.sim.fleet import FleetColumns, identities
from cellfleet.sim.lifecycle import Action, IllegalTransition, State
from cellfleet.sim.session_records import (
    CAUSES,
    R_CAUSE,
    R_DEVICE,
    R_DOWN,
    R_END_S,
    R_FAILED_ATTEMPTS,
    R_FAILED_BYTES,
    R_PAYLOAD,
    R_PINGS,
    R_PROFILE,
    R_RECORD_SEQ,
    R_REPORTS,
    R_RETX,
    R_SESSION_SEQ,
    R_START_S,
    R_STATE,
    R_UP,
)
from cellfleet.sim.traffic import EV_DEVICE, EV_KIND, EV_STATE, EV_TIME_S, KIND_SMS_MO, KIND_SMS_MT

CAUSE_DICT = pa.array(CAUSES, pa.string())
PDP_TYPE_DICT = pa.array(["IPv4", "IPv6"], pa.string())
#: RAT names of the records, in ``cellfleet.scenarios.networks.RAT_KEYS`` order (3GPP TS 32.298
#: RAT Type spellings).
RAT_DICT = pa.array(["LTE-M", "NB-IoT", "LTE", "GSM", "UMTS", "NR"], pa.string())
#: Without a ``network`` section every device is on the test network 001-01 (TS 23.003 §2.2) in
#: LTE-M, rated in the home zone.
DEFAULT_PLMNS, DEFAULT_ZONES = ["00101"], ["home"]
SMS_DIRECTION_DICT = pa.array(["MO", "MT"], pa.string())
SMS_STATUS_DICT = pa.array(["delivered", "held"], pa.string())


class Recorder:
    """Writes the record tables of one run to ``sink``."""

    def __init__(self, sink: rec.RecordSink, start_date: dt.date, profiles=()) -> None:
        self.sink = sink
        self._profile_names = [p.name for p in profiles]
        self._protocols = sorted({p.protocol for p in profiles})
        self._protocol_of_profile = np.array([self._protocols.index(p.protocol) for p in profiles], dtype=np.int32)
        self._apns = sorted({p.apn for p in profiles})
        self._apn_of_profile = np.array([self._apns.index(p.apn) for p in profiles], dtype=np.int32)
        self._pdp_of_profile = np.array([1 if p.ip_version == 6 else 0 for p in profiles], dtype=np.int8)
        self.start_date = start_date
        self.start_epoch_us = rec.start_epoch_s(start_date) * 10**6
        self._reasons: list[str] = []
        self._reason_index: dict[str, int] = {}
        self._errors: list[str] = []
        self._error_index: dict[str, int] = {}
        self._next_record_id = 0
        self._next_sms_id = 0
        self._recorded: dict | None = None
        self._network: tuple | None = None

    def bind_network(self, operator: np.ndarray, rat: np.ndarray, plmns: list[str], zone_of_op: np.ndarray,
                     zones: list[str]) -> None:  # fmt: skip
        """Serving network of each device, read when its records are written: ``operator`` is
        the network it last selected (-1: none), which served every exchange since it was last
        cut (exchanges only happen while registered, and records are cut when it leaves)."""
        self._network = (operator, rat, pa.array([*plmns, ""], pa.string()), np.append(zone_of_op, len(zones)),
                         pa.array([*zones, ""], pa.string()))  # fmt: skip

    def _serving(self, device: np.ndarray) -> tuple:
        """RAT, serving PLMN and rating zone columns of records of ``device``."""
        if self._network is None:
            zeros = np.zeros(device.size, np.int32)
            return (rec.labels(zeros, RAT_DICT), rec.names(zeros, DEFAULT_PLMNS), rec.names(zeros, DEFAULT_ZONES))
        operator, rat, plmns, zone_of_op, zones = self._network
        op = operator[device].astype(np.int32)
        op = np.where(op < 0, len(plmns) - 1, op)
        return (
            rec.labels(rat[device], RAT_DICT),
            pa.DictionaryArray.from_arrays(pa.array(op), plmns),
            pa.DictionaryArray.from_arrays(pa.array(zone_of_op[op].astype(np.int32)), zones),
        )

    def bind_fleet(self, cols: FleetColumns, recorded_rows: np.ndarray, accounts, report_groups, rate_plans) -> None:
        """Identities and commercial context of the recorded devices, joined into their records
        (dictionary-encoded: one string per recorded device, an index per record)."""
        iccid, imsi, imei = identities(recorded_rows)
        slot_of = np.full(cols.size, -1, np.int32)
        slot_of[recorded_rows] = np.arange(recorded_rows.size, dtype=np.int32)
        self._recorded = {"slot_of": slot_of, "iccid": iccid, "imsi": imsi, "imei": imei, "cols": cols,
                          "accounts": pa.array(accounts, pa.string()), "report_groups": pa.array(report_groups, pa.string()),
                          "rate_plans": pa.array(rate_plans, pa.string())}  # fmt: skip

    def _joined(self, devices: np.ndarray, name: str, codes: np.ndarray | None = None) -> pa.DictionaryArray:
        r = self._recorded
        indices = r["slot_of"][devices] if codes is None else codes
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), r[name])

    @staticmethod
    def _code(text: str, vocabulary: list[str], index: dict[str, int]) -> int:
        if text not in index:
            index[text] = len(vocabulary)
            vocabulary.append(text)
        return index[text]

    def reason_code(self, text: str) -> int:
        """The code of a ``state_changes.reason`` text (operation name or defaulting reason)."""
        return self._code(text, self._reasons, self._reason_index)

    def state_changes(self, rows, times, from_state, to_state, actions, actor: int, reason, fees) -> None:
        """Lifecycle moves; ``reason`` is one code or one per row (see :meth:`reason_code`)."""
        n = rows.size
        self.sink.write(
            "state_changes",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(rows, pa.int64()),
                    pa.array(times, pa.float64()),
                    rec.timestamps_us(self.start_epoch_us, times),
                    rec.labels(from_state, rec.STATE_DICT),
                    rec.labels(to_state, rec.STATE_DICT),
                    rec.labels(actions, rec.ACTION_DICT),
                    rec.labels(np.full(n, actor), rec.ACTOR_DICT),
                    rec.names(np.broadcast_to(reason, n), self._reasons),
                    rec.labels(fees, rec.FEE_DICT),
                ],
                schema=rec.SCHEMAS["state_changes"],
            ),
        )

    def rejected(self, rows, states, action: Action, operation: str, t: float) -> None:
        """Operator actions the lifecycle table refused, with the error naming state and action."""
        n = rows.size
        codes = np.empty(n, np.int32)
        for s in np.unique(states):
            text = str(IllegalTransition(State(int(s)), action))
            codes[states == s] = self._code(text, self._errors, self._error_index)
        times = np.full(n, t)
        self.sink.write(
            "rejected_operations",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(rows, pa.int64()),
                    pa.array(times),
                    rec.timestamps_us(self.start_epoch_us, times),
                    rec.labels(states, rec.STATE_DICT),
                    rec.labels(np.full(n, action, np.int8), rec.ACTION_DICT),
                    rec.names(np.zeros(n, np.int32), [operation]),
                    rec.names(codes, self._errors),
                ],
                schema=rec.SCHEMAS["rejected_operations"],
            ),
        )

    def usage_day(self, day: int, rows, day_columns: list[np.ndarray], states) -> None:
        """One simulated day's usage of the devices ``rows`` (those with activity); ``day_columns``
        in ``FleetColumns.day_columns`` order, which is the table's column order."""
        n = rows.size
        date = np.datetime64(self.start_date, "D") + day
        self.sink.write(
            "usage_daily",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(rows, pa.int64()),
                    pa.array(np.full(n, day, np.int32)),
                    pa.array(np.full(n, date), pa.date32()),
                    *[pa.array(column) for column in day_columns],
                    rec.labels(states, rec.STATE_DICT),
                ],
                schema=rec.SCHEMAS["usage_daily"],
            ),
        )

    def fleet_daily(self, counts: np.ndarray) -> None:
        """Devices per state (columns in ``State`` order) and defaulted devices, one row a day.

        Written once at the end: a batch per day would cost more than its one row.
        """
        days = np.arange(counts.shape[0], dtype=np.int32)
        dates = np.datetime64(self.start_date, "D") + days
        self.sink.write(
            "fleet_daily",
            pa.RecordBatch.from_arrays(
                [pa.array(days), pa.array(dates, pa.date32()), *(pa.array(counts[:, k]) for k in range(counts.shape[1]))],
                schema=rec.SCHEMAS["fleet_daily"],
            ),
        )

    def sessions(self, records: np.ndarray) -> int:
        """Session records (``R_*`` columns, ``cellfleet.sim.session_records``); returns how many.

        Records are sorted by start time (stable: the cutter's order for equal times), which makes
        the record order, and so the record ids, deterministic.
        """
        n = records.shape[0]
        records = records[np.argsort(records[:, R_START_S], kind="stable")]
        col = lambda c, dtype=np.int64: records[:, c].astype(dtype)  # noqa: E731
        device = col(R_DEVICE)
        up, down, payload = col(R_UP), col(R_DOWN), col(R_PAYLOAD)
        profile = col(R_PROFILE, np.int32)
        start, end = records[:, R_START_S], records[:, R_END_S]
        cols = self._recorded["cols"]
        ids = np.arange(self._next_record_id, self._next_record_id + n, dtype=np.int64)
        self._next_record_id += n
        self.sink.write(
            "sessions",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(ids),
                    pa.array((device << 32) + col(R_SESSION_SEQ)),
                    pa.array(col(R_RECORD_SEQ, np.int32)),
                    pa.array(device),
                    self._joined(device, "iccid"),
                    self._joined(device, "imsi"),
                    self._joined(device, "imei"),
                    self._joined(device, "accounts", cols.account[device]),
                    self._joined(device, "report_groups", cols.report_group[device]),
                    self._joined(device, "rate_plans", cols.rate_plan[device]),
                    rec.labels(col(R_STATE, np.int8), rec.STATE_DICT),
                    pa.array(start),
                    rec.timestamps_us(self.start_epoch_us, start),
                    rec.timestamps_us(self.start_epoch_us, end),
                    pa.array(end - start),
                    rec.names(self._apn_of_profile[profile], self._apns),
                    rec.labels(self._pdp_of_profile[profile], PDP_TYPE_DICT),
                    *self._serving(device),
                    rec.names(profile, self._profile_names),
                    rec.names(self._protocol_of_profile[profile], self._protocols),
                    pa.array(up),
                    pa.array(down),
                    pa.array(up + down),
                    pa.array(payload),
                    pa.array(up + down - payload),
                    pa.array(col(R_RETX)),
                    pa.array(col(R_FAILED_BYTES)),
                    pa.array(col(R_FAILED_ATTEMPTS, np.int32)),
                    pa.array(col(R_REPORTS, np.int32)),
                    pa.array(col(R_PINGS, np.int32)),
                    rec.labels(col(R_CAUSE, np.int8), CAUSE_DICT),
                ],
                schema=rec.SCHEMAS["sessions"],
            ),
        )
        return n

    def sms(self, events: np.ndarray, delivered_s: np.ndarray | None = None) -> int:
        """SMS records from kernel events (others are ignored), delivered at ``delivered_s`` (per
        event row; NaN: held; ``None``: at their time); returns how many."""
        kind = events[:, EV_KIND]
        sms = (kind == KIND_SMS_MO) | (kind == KIND_SMS_MT)
        events = events[sms]
        delivered = events[:, EV_TIME_S] if delivered_s is None else np.asarray(delivered_s)[sms]
        n = events.shape[0]
        if n == 0:
            return 0
        order = np.argsort(events[:, EV_TIME_S], kind="stable")
        events, delivered = events[order], delivered[order]
        device = events[:, EV_DEVICE].astype(np.int64)
        times = events[:, EV_TIME_S]
        ids = np.arange(self._next_sms_id, self._next_sms_id + n, dtype=np.int64)
        self._next_sms_id += n
        self.sink.write(
            "sms",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(ids),
                    pa.array(device),
                    self._joined(device, "iccid"),
                    self._joined(device, "imsi"),
                    pa.array(times),
                    rec.timestamps_us(self.start_epoch_us, times),
                    rec.labels((events[:, EV_KIND] == KIND_SMS_MT).astype(np.int8), SMS_DIRECTION_DICT),
                    rec.labels(events[:, EV_STATE].astype(np.int8), rec.STATE_DICT),
                    rec.labels(np.isnan(delivered).astype(np.int8), SMS_STATUS_DICT),
                    pa.array(delivered, from_pandas=True),
                    pa.array(delivered - times, from_pandas=True),
                ],
                schema=rec.SCHEMAS["sms"],
            ),
        )
        return n

    def devices(self, cols: FleetColumns, groups, accounts, report_groups, rate_plans) -> None:
        """Identities and assignment of every device, with its final state."""
        iccid, imsi, imei = identities(cols.size)
        self.sink.write(
            "devices",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(np.arange(cols.size, dtype=np.int64)),
                    iccid,
                    imsi,
                    imei,
                    rec.names(cols.group, groups),
                    rec.names(cols.account, accounts),
                    rec.names(cols.report_group, report_groups),
                    rec.names(cols.rate_plan, rate_plans),
                    rec.labels(cols.initial_state, rec.STATE_DICT),
                    rec.labels(cols.state, rec.STATE_DICT),
                ],
                schema=rec.SCHEMAS["devices"],
            ),
        )
