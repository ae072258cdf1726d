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
from cellfleet.sim.traffic import (
    REC_DEVICE,
    REC_DOWNLINK,
    REC_DURATION_S,
    REC_PAYLOAD,
    REC_PROFILE,
    REC_START_S,
    REC_STATE,
    REC_UPLINK,
)


class Recorder:
    """Writes the record tables of one run to ``sink``."""

    def __init__(self, sink: rec.RecordSink, start_date: dt.date, profiles=()) -> None:
        self.sink = sink
        self._profile_names = [p.name for p in profiles]
        self._protocols = sorted({p.protocol for p in profiles})
        self._protocol_of_profile = np.array([self._protocols.index(p.protocol) for p in profiles], dtype=np.int32)
        self.start_date = start_date
        self.start_epoch_us = rec.start_epoch_s(start_date) * 10**6
        self._reasons: list[str] = []
        self._reason_index: dict[str, int] = {}
        self._errors: list[str] = []
        self._error_index: dict[str, int] = {}
        self._next_record_id = 0

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

    def usage_day(self, day: int, rows, day_bytes, sessions, sms, states) -> None:
        """One simulated day's usage of the devices ``rows`` (those with activity)."""
        n = rows.size
        date = np.datetime64(self.start_date, "D") + day
        self.sink.write(
            "usage_daily",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(rows, pa.int64()),
                    pa.array(np.full(n, day, np.int32)),
                    pa.array(np.full(n, date), pa.date32()),
                    pa.array(day_bytes),
                    pa.array(sessions),
                    pa.array(sms),
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

    def sessions(self, buffer: np.ndarray) -> int:
        """Session records from the kernel's buffer (``REC_*`` columns); returns how many."""
        n = buffer.shape[0]
        # the kernel fills the buffer device by device; a stable sort on time keeps device order
        # for equal times, which makes the record order (and record ids) deterministic
        buffer = buffer[np.argsort(buffer[:, REC_START_S], kind="stable")]
        up = buffer[:, REC_UPLINK].astype(np.int64)
        down = buffer[:, REC_DOWNLINK].astype(np.int64)
        payload = buffer[:, REC_PAYLOAD].astype(np.int64)
        profile = buffer[:, REC_PROFILE].astype(np.int32)
        start = buffer[:, REC_START_S]
        ids = np.arange(self._next_record_id, self._next_record_id + n, dtype=np.int64)
        self._next_record_id += n
        self.sink.write(
            "sessions",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(ids),
                    pa.array(buffer[:, REC_DEVICE].astype(np.int64)),
                    pa.array(start),
                    rec.timestamps_us(self.start_epoch_us, start),
                    pa.array(buffer[:, REC_DURATION_S]),
                    rec.labels(buffer[:, REC_STATE].astype(np.int8), rec.STATE_DICT),
                    rec.names(profile, self._profile_names),
                    rec.names(self._protocol_of_profile[profile], self._protocols),
                    pa.array(up),
                    pa.array(down),
                    pa.array(up + down),
                    pa.array(payload),
                    pa.array(up + down - payload),
                ],
                schema=rec.SCHEMAS["sessions"],
            ),
        )
        return n

    def devices(self, cols: FleetColumns, groups, accounts, report_groups, rate_plans) -> None:
        """Identities and assignment of every device, with its final state."""
        iccid, imsi = identities(cols.size)
        self.sink.write(
            "devices",
            pa.RecordBatch.from_arrays(
                [
                    pa.array(np.arange(cols.size, dtype=np.int64)),
                    iccid,
                    imsi,
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
