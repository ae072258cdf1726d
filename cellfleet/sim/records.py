"""Typed records and the sinks they go to.

The engine never prints and never writes files itself: it emits ``pyarrow.RecordBatch`` es of the
record tables below to a :class:`RecordSink`. :class:`MemorySink` keeps them (tests, notebooks);
``cellfleet.sim.outputs.ParquetSink`` streams them to files that appear atomically.

Tables (one schema each, in :data:`SCHEMAS`):

* ``state_changes``: every lifecycle move (operator action or defaulting) with the fee event the
  seed names for it.
* ``rejected_operations``: operator actions the lifecycle table does not allow.
* ``usage_daily``: per device and day with activity: bytes, sessions, SMS sent (MO) and received
  (MT), reports and SMS lost for want of registration, periodic TAUs, state at the day's end.
* ``fleet_daily``: devices per state at the end of each day.
* ``sessions``: the session records of the recorded devices (3GPP TS 32.298 PGW-CDR fields, see
  ``cellfleet.sim.session_records`` for when records are cut): identities, commercial context,
  state at usage, times, APN/PDP type/RAT/serving PLMN/rating zone, uplink/downlink/total IP bytes and within
  them the application payload, the overhead, retransmitted copies and failed set-up attempts
  (a ``raw`` profile knows only its total, so its payload is the total and its overhead 0).
  ``session_id`` is ``device * 2**32 + n`` for the device's n-th session (0-based), so it is the
  same whichever devices are recorded. Without a ``network`` section every device is in LTE-M on
  the test network 001-01, rated in zone ``home``.
* ``sms``: one record per SMS of the recorded devices: direction MO (sent by the device) or MT
  (received), state at usage, when it was delivered (``delivered_time_s``, ``delivery_delay_s``;
  an MT SMS waits for a device in PSM or eDRX, :mod:`cellfleet.sim.mt_delivery`, and is written
  when delivered) and status ``delivered``, or ``held`` if the run ended first.
* ``devices``: identities and assignment of every device.
* ``registrations`` (scenarios with ``network``): the registration happenings of the recorded
  devices (TS 24.301): power-on attempts, accepts (with the T3412 granted), rejects with their
  EMM cause, T3410 expiries, timers started (T3411, T3402, T3346), PSM granted (T3324), eDRX
  granted (the cycle in ``timer_s``, the paging time window in ``ptw_s``), PSM entries and exits, periodic TAUs, network switches (from/to PLMN, reason), deregistrations by
  outages, detaches, no service.
* ``fleet_timeseries``: per simulated minute, the whole fleet's attach requests offered and
  accepted, T3410 expiries, rejects by EMM cause, periodic TAUs and registered devices.
* ``network_timeseries``: registered devices per network at the end of each minute.
* ``core_timeseries``: per core station and minute, the longest attach queue an arriving request
  found (minutes without arrivals read 0) and the requests it admitted.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import numpy as np
import pyarrow as pa

from cellfleet.sim.lifecycle import STATE_LABELS, Action, FeeEvent, State
from cellfleet.sim.registration import COUNTED_CAUSES

STATE_DICT = pa.array([STATE_LABELS[s] for s in State], pa.string())
ACTION_DICT = pa.array([a.key for a in Action], pa.string())
FEE_DICT = pa.array([f.key for f in FeeEvent], pa.string())
ACTOR_DICT = pa.array(["scenario", "system"], pa.string())
ACTOR_SCENARIO, ACTOR_SYSTEM = 0, 1

#: Tables written only by scenarios with a ``network`` section.
NETWORK_TABLES = ("registrations", "fleet_timeseries", "network_timeseries", "core_timeseries")

_label = pa.dictionary(pa.int8(), pa.string())
_name = pa.dictionary(pa.int32(), pa.string())
_ts = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "state_changes": pa.schema(
        [
            ("device", pa.int64()),
            ("time_s", pa.float64()),
            ("time", _ts),
            ("from_state", _label),
            ("to_state", _label),
            ("action", _label),
            ("actor", _label),
            ("reason", _name),
            ("fee_event", _label),
        ]
    ),
    "rejected_operations": pa.schema(
        [
            ("device", pa.int64()),
            ("time_s", pa.float64()),
            ("time", _ts),
            ("state", _label),
            ("action", _label),
            ("operation", _name),
            ("error", _name),
        ]
    ),
    "usage_daily": pa.schema(
        [
            ("device", pa.int64()),
            ("day", pa.int32()),
            ("date", pa.date32()),
            ("bytes", pa.int64()),
            ("sessions", pa.int32()),
            ("sms_mo", pa.int32()),
            ("sms_mt", pa.int32()),
            ("reports_dropped", pa.int32()),
            ("sms_dropped", pa.int32()),
            ("periodic_taus", pa.int32()),
            ("state", _label),
        ]
    ),
    "fleet_daily": pa.schema(
        [("day", pa.int32()), ("date", pa.date32())]
        + [(s.key, pa.int64()) for s in State]
        + [("defaulted", pa.int64())]
    ),
    "sessions": pa.schema(
        [
            ("record_id", pa.int64()),
            ("session_id", pa.int64()),
            ("record_sequence_number", pa.int32()),
            ("device", pa.int64()),
            ("iccid", _name),
            ("imsi", _name),
            ("imei", _name),
            ("account", _name),
            ("report_group", _name),
            ("rate_plan", _name),
            ("state_at_usage", _label),
            ("start_time_s", pa.float64()),
            ("start_time", _ts),
            ("end_time", _ts),
            ("duration_s", pa.float64()),
            ("apn", _name),
            ("pdp_type", _label),
            ("rat_type", _label),
            ("serving_plmn", _name),
            ("rating_zone", _name),
            ("profile", _name),
            ("protocol", _name),
            ("uplink_bytes", pa.int64()),
            ("downlink_bytes", pa.int64()),
            ("total_bytes", pa.int64()),
            ("payload_bytes", pa.int64()),
            ("overhead_bytes", pa.int64()),
            ("retransmitted_bytes", pa.int64()),
            ("failed_attempt_bytes", pa.int64()),
            ("failed_attempts", pa.int32()),
            ("reports", pa.int32()),
            ("keepalive_pings", pa.int32()),
            ("cause_for_record_closing", _label),
        ]
    ),
    "sms": pa.schema(
        [
            ("record_id", pa.int64()),
            ("device", pa.int64()),
            ("iccid", _name),
            ("imsi", _name),
            ("time_s", pa.float64()),
            ("time", _ts),
            ("direction", _label),
            ("state_at_usage", _label),
            ("status", _label),
            ("delivered_time_s", pa.float64()),
            ("delivery_delay_s", pa.float64()),
        ]
    ),
    "registrations": pa.schema(
        [
            ("device", pa.int64()),
            ("time_s", pa.float64()),
            ("time", _ts),
            ("event", _label),
            ("plmn", _name),
            ("zone", _name),
            ("cause", pa.int16()),
            ("timer", _label),
            ("timer_s", pa.float64()),
            ("attempt_counter", pa.int8()),
            ("from_plmn", _name),
            ("reason", _label),
            ("ptw_s", pa.float64()),
        ]
    ),
    "fleet_timeseries": pa.schema(
        [
            ("minute", pa.int32()),
            ("time", _ts),
            ("attach_requests", pa.int64()),
            ("attach_accepts", pa.int64()),
            ("t3410_expiries", pa.int64()),
            ("rejects", pa.int64()),
        ]
        + [(f"reject_cause_{c}", pa.int64()) for c in COUNTED_CAUSES]
        + [("reject_cause_other", pa.int64()), ("periodic_taus", pa.int64()), ("registered", pa.int64())]
    ),
    "network_timeseries": pa.schema(
        [("minute", pa.int32()), ("time", _ts), ("plmn", _name), ("zone", _name), ("registered", pa.int64())]
    ),
    "core_timeseries": pa.schema(
        [("minute", pa.int32()), ("time", _ts), ("core", _name), ("queue_max", pa.int64()), ("admitted", pa.int64())]
    ),
    "devices": pa.schema(
        [
            ("device", pa.int64()),
            ("iccid", pa.string()),
            ("imsi", pa.string()),
            ("imei", pa.string()),
            ("group", _name),
            ("account", _name),
            ("report_group", _name),
            ("rate_plan", _name),
            ("initial_state", _label),
            ("final_state", _label),
        ]
    ),
}


def labels(codes: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """A dictionary-encoded string column from integer codes (no per-row Python objects)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int8)), dictionary)


def names(codes: np.ndarray, vocabulary: list[str]) -> pa.DictionaryArray:
    """Like :func:`labels` for open vocabularies (group names, reasons)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(vocabulary, pa.string())
    )


def start_epoch_s(start_date: dt.date) -> int:
    """Unix time of midnight UTC on the scenario's start date: simulated time 0."""
    return int(dt.datetime.combine(start_date, dt.time(), tzinfo=dt.timezone.utc).timestamp())


def timestamps_us(start_epoch_us: int, time_s: np.ndarray) -> pa.Array:
    """UTC timestamps for simulated offsets (seconds from the scenario start)."""
    us = start_epoch_us + np.round(np.asarray(time_s, dtype=np.float64) * 1e6).astype(np.int64)
    return pa.array(us, _ts)


class RecordSink(Protocol):
    """Where the engine's records go."""

    def write(self, table: str, batch: pa.RecordBatch) -> None: ...


class MemorySink:
    """Keeps every batch in memory; :meth:`table` concatenates one record table."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.RecordBatch]] = {name: [] for name in SCHEMAS}

    def write(self, table: str, batch: pa.RecordBatch) -> None:
        self.batches[table].append(batch)

    def table(self, name: str) -> pa.Table:
        return pa.Table.from_batches(self.batches[name], schema=SCHEMAS[name])
