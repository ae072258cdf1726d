"""When a mobile-terminated SMS reaches a recorded device: at once, at its next paging occasion
in eDRX, or when it wakes from PSM (TS 24.301 §5.3.11, §5.3.12; TS 36.304 §7).

An MT SMS arrives at the network at its record time. The device receives it:

* **at once** while it is connected (inside an episode: an exchange, an SMS it sends, a TAU);
* in **PSM** (more than T3324 after its last episode ended: not pageable, TS 24.301 §5.3.11) the
  network holds it until the device starts an episode itself or registers again: at that start;
* in idle mode with **eDRX** granted: at the first paging occasion of a paging time window at or
  after the arrival (or at the device's own next episode if that comes first);
* otherwise (idle with normal DRX) at once: a paging cycle of at most 2.56 s is below the
  resolution of the records.

Paging time windows follow TS 36.304 §7.3: the paging hyperframes of a device are the H-SFNs
with ``H-SFN mod T_eDRX,H = UE_ID_H mod T_eDRX,H`` (``T_eDRX,H`` the cycle in hyperframes of
10.24 s, H-SFN counting 0..1023 from simulated time 0); the window starts at
``SFN = 256 * i_eDRX`` (2.56 s per 256 frames) with ``i_eDRX = floor(UE_ID_H / T_eDRX,H) mod 4``
and lasts the granted PTW, with paging occasions one default paging cycle apart from its start
(the paging frame offset inside the cycle, under one cycle, is not modelled). The 5.12 s cycle
has no hyperframes: it pages once per 512 frames at ``SFN mod 512 = UE_ID mod 512`` (§7.1).

Held SMS can wait beyond a traffic window: :class:`MtDelivery` keeps them and hands them back
with the episode or registration that delivers them; still held at the end of the run, they are
recorded undelivered (status ``held``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from cellfleet.sim.psm import episodes
from cellfleet.sim.traffic import EV_COLUMNS, EV_DEVICE, EV_KIND, EV_TIME_S, KIND_SMS_MO, KIND_SMS_MT

HYPERFRAME_S = 10.24  # 1024 radio frames of 10 ms (TS 36.304 §7.3)
H_SFN_WRAP = 1024
PTW_START_STEP_S = 2.56  # 256 radio frames
FRAME_S = 0.01


@nb.njit(cache=True)
def next_paging_s(t, cycle_s, ptw_s, paging_cycle_s, ue_id_h):
    """First paging occasion at or after ``t`` of a device in eDRX (see the module docstring)."""
    if cycle_s < HYPERFRAME_S:  # 5.12 s: 512 frames, one paging frame per cycle (§7.1)
        offset = (ue_id_h % 512) * FRAME_S
        return offset + math.ceil((t - offset) / cycle_s - 1e-9) * cycle_s
    t_h = np.int64(round(cycle_s / HYPERFRAME_S))
    i_edrx = (ue_id_h // t_h) % 4
    want = ue_id_h % t_h
    h = np.int64(math.floor((t - ptw_s - 4 * PTW_START_STEP_S) / HYPERFRAME_S))
    while True:
        if h >= 0 and (h % H_SFN_WRAP) % t_h == want:
            start = h * HYPERFRAME_S + i_edrx * PTW_START_STEP_S
            if t <= start:
                return start
            po = start + math.ceil((t - start) / paging_cycle_s - 1e-9) * paging_cycle_s
            if po < start + ptw_s - 1e-9:
                return po
        h += 1


@nb.njit(cache=True)
def _deliver(mt_dev, mt_t, ep_dev, ep_start, ep_end, last_end, t3324, cycle, ptw, paging, ue_id):
    """Delivery time of each MT SMS (rows sorted by device and time; NaN: held beyond the
    window). ``cycle``/``ptw``/``paging``/``ue_id`` are per SMS row; ``last_end`` per device."""
    n = mt_dev.shape[0]
    out = np.empty(n)
    j = 0
    n_ep = ep_dev.shape[0]
    current = -1
    last = np.nan
    for i in range(n):
        d = mt_dev[i]
        t = mt_t[i]
        if d != current:
            current = d
            last = last_end[d]
        while j < n_ep and (ep_dev[j] < d or (ep_dev[j] == d and ep_start[j] <= t)):
            if ep_dev[j] == d and not (last >= ep_end[j]):
                last = ep_end[j]
            j += 1
        next_start = ep_start[j] if j < n_ep and ep_dev[j] == d else np.nan
        active = t3324[d]
        if last >= t:  # connected
            out[i] = t
        elif active == active and t - last > active:  # in PSM: held until the device wakes
            out[i] = next_start
        elif cycle[i] == cycle[i]:
            po = next_paging_s(t, cycle[i], ptw[i], paging[i], ue_id[i])
            out[i] = po if not (next_start < po) else next_start
        else:
            out[i] = t
    return out


def _first_at(dev: np.ndarray, by_dev: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each of ``dev``, the first ``at`` of its rows in ``by_dev`` (sorted), NaN if none."""
    out = np.full(dev.size, np.nan)
    i = np.searchsorted(by_dev, dev)
    ok = i < by_dev.size
    ok[ok] = by_dev[i[ok]] == dev[ok]
    out[ok] = at[i[ok]]
    return out


class MtDelivery:
    """Delivery of the recorded devices' SMS, holding MT SMS across traffic windows."""

    def __init__(self) -> None:
        self._held = np.zeros((0, EV_COLUMNS))
        self._wakes: list[tuple[np.ndarray, np.ndarray]] = []

    def registered(self, devices: np.ndarray, accept_s: np.ndarray) -> None:
        """Registrations (ATTACH ACCEPT) deliver what is held for these devices."""
        if self._held.size:
            self._wakes.append((devices, accept_s))

    def window(self, events: np.ndarray, last_end_s: np.ndarray, t3324_s: np.ndarray, edrx) -> tuple[np.ndarray, np.ndarray]:
        """The SMS events to record now and their delivery times: this window's SMS, MO at their
        time and MT as the module docstring says, plus earlier held MT SMS delivered now; MT SMS
        still held are kept. ``last_end_s`` is the PSM tracker's state before this window,
        ``edrx(devices) -> (cycle_s, ptw_s, paging_cycle_s, ue_id_h)`` per device."""
        kind = events[:, EV_KIND]
        sms = events[(kind == KIND_SMS_MO) | (kind == KIND_SMS_MT)]
        delivered = sms[:, EV_TIME_S].copy()
        ep_dev, ep_start, ep_end = episodes(events)
        mt = np.flatnonzero(sms[:, EV_KIND] == KIND_SMS_MT)
        if mt.size:
            dev = sms[mt, EV_DEVICE].astype(np.int64)
            order = np.lexsort((sms[mt, EV_TIME_S], dev))
            rows = mt[order]
            cycle, ptw, paging, ue_id = edrx(dev[order])
            delivered[rows] = _deliver(dev[order], sms[rows, EV_TIME_S], ep_dev, ep_start, ep_end, last_end_s,
                                       t3324_s, cycle, ptw, paging, ue_id)  # fmt: skip
        earlier, earlier_at = self._release(ep_dev, ep_start)
        held = np.isnan(delivered)
        self._held = np.concatenate([self._held, sms[held]])
        return np.concatenate([earlier, sms[~held]]), np.concatenate([earlier_at, delivered[~held]])

    def _release(self, ep_dev: np.ndarray, ep_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Held SMS whose device woke (its first episode or registration since): at that time."""
        wakes, self._wakes = self._wakes, []
        held = self._held
        if held.size == 0:
            return np.zeros((0, EV_COLUMNS)), np.zeros(0)
        dev = held[:, EV_DEVICE].astype(np.int64)
        at = _first_at(dev, ep_dev, ep_start)  # episodes are sorted by device, then start
        if wakes:
            w_dev = np.concatenate([d for d, _ in wakes]).astype(np.int64)
            w_at = np.concatenate([t for _, t in wakes])
            order = np.lexsort((w_at, w_dev))
            at = np.fmin(at, _first_at(dev, w_dev[order], w_at[order]))
        out = ~np.isnan(at)
        self._held = held[~out]
        return held[out], at[out]

    def still_held(self) -> np.ndarray:
        """At the end of the run: the MT SMS never delivered."""
        held, self._held = self._held, np.zeros((0, EV_COLUMNS))
        return held
