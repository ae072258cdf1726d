"""The network's per-minute tables (``fleet_timeseries``, ``network_timeseries``,
``core_timeseries``; see :mod:`cellfleet.sim.records`) from the counters the registration
kernel keeps (:mod:`cellfleet.sim.registration` ``S_*`` minute bins)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cellfleet.sim import records as rec
from cellfleet.sim.registration import S_ACCEPTS, S_ATTEMPTS, S_REJECT0, S_TIMEOUTS


def write_timeseries(sink, start_epoch_us: int, tables, minute_bins: np.ndarray, tau_bins: np.ndarray,
                     attached_delta: np.ndarray, queue_max: np.ndarray, core_admitted: np.ndarray) -> None:  # fmt: skip
    """Write the three tables; ``attached_delta`` holds per minute and network the change in
    registered devices, ``queue_max``/``core_admitted`` per minute and core station."""
    n_minutes = minute_bins.shape[0]
    minutes = np.arange(n_minutes, dtype=np.int32)
    times = rec.timestamps_us(start_epoch_us, minutes * 60.0)
    attached = np.cumsum(attached_delta, axis=0)
    b = minute_bins
    rejects = b[:, S_REJECT0:]
    cols = [pa.array(minutes), times, pa.array(b[:, S_ATTEMPTS]), pa.array(b[:, S_ACCEPTS]),
            pa.array(b[:, S_TIMEOUTS]), pa.array(rejects.sum(axis=1))]  # fmt: skip
    cols += [pa.array(rejects[:, j]) for j in range(rejects.shape[1])]
    cols += [pa.array(tau_bins), pa.array(attached.sum(axis=1))]
    sink.write("fleet_timeseries", pa.RecordBatch.from_arrays(cols, schema=rec.SCHEMAS["fleet_timeseries"]))
    n_ops = attached.shape[1]
    sink.write(
        "network_timeseries",
        pa.RecordBatch.from_arrays(
            [pa.array(np.repeat(minutes, n_ops)), rec.timestamps_us(start_epoch_us, np.repeat(minutes, n_ops) * 60.0),
             rec.names(np.tile(np.arange(n_ops), n_minutes), tables.plmns),
             rec.names(np.tile(tables.op_zone, n_minutes), tables.zones),
             pa.array(attached.reshape(-1))],  # fmt: skip
            schema=rec.SCHEMAS["network_timeseries"],
        ),
    )
    n_cores = queue_max.shape[1]
    if n_cores:
        sink.write(
            "core_timeseries",
            pa.RecordBatch.from_arrays(
                [pa.array(np.repeat(minutes, n_cores)),
                 rec.timestamps_us(start_epoch_us, np.repeat(minutes, n_cores) * 60.0),
                 rec.names(np.tile(np.arange(n_cores), n_minutes), tables.core_names),
                 pa.array(queue_max.reshape(-1)), pa.array(core_admitted.reshape(-1))],  # fmt: skip
                schema=rec.SCHEMAS["core_timeseries"],
            ),
        )
