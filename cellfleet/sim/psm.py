"""Power saving mode of the recorded devices: when each enters and leaves PSM (TS 24.301 §5.3.11).

A device granted PSM at its registration (``psm_granted``: the active time T3324 it asked for)
stays reachable for T3324 after each connected episode ends, then enters PSM (radio off, still
registered) until its next episode it starts itself: an exchange, an MO SMS or a periodic TAU
(which T3412 extended brings). MT SMS do not wake it (they are counted at their arrival times: the
network's holding them until the device wakes is not modelled). So for two consecutive episodes, the first ending at ``e`` and the next starting at
``s``, the device is in PSM from ``e + T3324`` to ``s`` when ``s - e > T3324``. The registration
(ATTACH ACCEPT) is an episode too, so the first PSM of a registration starts ``T3324`` after it.

Episodes come from the traffic kernel's event records of the recorded devices (sessions last
their duration; pings and TAUs, recorded in batches, are instants), so PSM entries and exits are
written when the episode that ends the PSM is seen; at the end of the run a device still in PSM
gets its entry only. A deregistration ends the tracking: the next registration starts afresh.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.traffic import (
    EV_COUNT,
    EV_DEVICE,
    EV_KIND,
    EV_SPAN_S,
    EV_TIME_S,
    KIND_PINGS,
    KIND_RELEASE,
    KIND_SMS_MT,
    KIND_STATE,
    KIND_TAU,
)

#: Event kinds that are instants repeated ``EV_COUNT`` times, ``EV_SPAN_S`` apart.
_BATCHES = (KIND_PINGS, KIND_TAU)
#: Event kinds that are not episodes: connection bookkeeping of the record cutter, and MT SMS,
#: which the network holds while the device is in PSM (downlink waits for the device, §5.3.11).
_NOT_EPISODES = (KIND_STATE, KIND_RELEASE, KIND_SMS_MT)


def batch_instants(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For batches of ``counts`` instants (pings, TAUs: ``EV_COUNT`` of them ``EV_SPAN_S`` apart),
    the batch of every instant and its index ``k`` within the batch."""
    reps = np.asarray(counts, dtype=np.int64)
    rows = np.repeat(np.arange(reps.size), reps)
    return rows, np.arange(rows.size) - np.repeat(np.cumsum(reps) - reps, reps)


def episodes(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(device, start_s, end_s)`` of every connected episode in ``events``, sorted by device
    and start."""
    kind = events[:, EV_KIND]
    events = events[~np.isin(kind, _NOT_EPISODES)]
    kind = events[:, EV_KIND]
    batch = np.isin(kind, _BATCHES)
    rows, k = batch_instants(np.where(batch, events[:, EV_COUNT], 1))
    ev = events[rows]
    start = ev[:, EV_TIME_S] + np.where(batch[rows], k * ev[:, EV_SPAN_S], 0.0)
    end = np.where(batch[rows], start, start + ev[:, EV_SPAN_S])
    device = ev[:, EV_DEVICE].astype(np.int64)
    order = np.lexsort((start, device))
    return device[order], start[order], end[order]


@nb.njit(cache=True)
def _gaps(device, start, end, t3324, last_end):
    """Entries and exits between consecutive episodes (see the module docstring); updates
    ``last_end`` (latest episode end per device). Returns ``(device, entry_s, exit_s)``."""
    n = device.shape[0]
    out_dev = np.empty(n, np.int64)
    out_in = np.empty(n, np.float64)
    out_out = np.empty(n, np.float64)
    m = 0
    for i in range(n):
        d = device[i]
        active = t3324[d]
        prev = last_end[d]
        if active == active and prev == prev and start[i] - prev > active:
            out_dev[m] = d
            out_in[m] = prev + active
            out_out[m] = start[i]
            m += 1
        if not (prev >= end[i]):
            last_end[d] = end[i]
    return out_dev[:m], out_in[:m], out_out[:m]


class PsmTracker:
    """Latest episode end of every recorded device granted PSM."""

    def __init__(self, size: int) -> None:
        self.last_end_s = np.full(size, np.nan)

    def registered(self, devices: np.ndarray, accept_s: np.ndarray) -> None:
        """A (new) registration is an episode that starts the tracking afresh."""
        self.last_end_s[devices] = accept_s

    def deregistered(self, devices: np.ndarray) -> None:
        self.last_end_s[devices] = np.nan

    def window(self, events: np.ndarray, t3324_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PSM periods ended by the episodes of one window: ``(device, entry_s, exit_s)``."""
        device, start, end = episodes(events)
        return _gaps(device, start, end, t3324_s, self.last_end_s)

    def still_in_psm(self, devices: np.ndarray, t3324_s: np.ndarray, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """At the end of the run: the devices of ``devices`` in PSM, with their entry times."""
        entry = self.last_end_s[devices] + t3324_s[devices]
        inside = entry < end_s  # NaN (not tracked, no PSM) compares False
        return devices[inside], entry[inside]
