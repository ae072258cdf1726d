"""The random draws of failed connection set-ups and lost copies, for the traffic kernel
(``cellfleet.sim.traffic``) and, replayed, for packet captures (``cellfleet.sim.capture``).

Each draw is one uniform from the device's counter-based stream (``cellfleet.sim.rand``), made
in a fixed order, so a capture can replay which segments were lost from the counter an event
recorded. Draws are only made for profiles whose probability is not 0.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.profile_table import COAP_MAX_RETRANSMIT, LOSS_COAP, LOSS_TCP
from cellfleet.sim.rand import uniform01


@nb.njit(cache=True, inline="always")
def setup_attempts(k, c, q, max_attempts):
    """Failed set-up attempts before one succeeds: ``(failed, all_failed, counter)``."""
    if q <= 0.0:
        return 0, False, c
    failed = 0
    while failed < max_attempts:
        u = uniform01(k, c)
        c += np.uint64(1)
        if u >= q:
            return failed, False, c
        failed += 1
    return failed, True, c


@nb.njit(cache=True)
def tcp_lost_bytes(k, c, q, base, writes, run_up, run_full, run_full_bytes, run_last_bytes):
    """Bytes of lost copies of data segments, in the wire model's segment order (every write's
    full segments, then its short last one): each transmission is lost with ``q`` and sent
    again. Returns ``(uplink, downlink, counter)``."""
    up = np.int64(0)
    down = np.int64(0)
    for w in range(writes):
        r = base + w
        n_full = run_full[r]
        n_seg = n_full + (1 if run_last_bytes[r] > 0 else 0)
        for s in range(n_seg):
            size = run_full_bytes[r] if s < n_full else run_last_bytes[r]
            while True:
                u = uniform01(k, c)
                c += np.uint64(1)
                if u >= q:
                    break
                if run_up[r]:
                    up += size
                else:
                    down += size
    return up, down, c


@nb.njit(cache=True, inline="always")
def coap_lost_copies(k, c, q):
    """Lost copies of a CoAP CON before the one answered (at most MAX_RETRANSMIT)."""
    lost = 0
    while lost < COAP_MAX_RETRANSMIT:
        u = uniform01(k, c)
        c += np.uint64(1)
        if u >= q:
            break
        lost += 1
    return lost, c


@nb.njit(cache=True)
def lost_bytes(k, c, kind, q, row, run_base, run_writes, run_up, run_full, run_full_bytes, run_last_bytes, con_bytes):
    """Bytes of the lost copies of one exchange at payload ``row`` (-1: no payload):
    ``(uplink, downlink, counter)``."""
    if kind == LOSS_TCP:
        return tcp_lost_bytes(k, c, q, run_base, run_writes, run_up, run_full, run_full_bytes, run_last_bytes)
    if kind == LOSS_COAP and row >= 0:
        lost, c = coap_lost_copies(k, c, q)
        return lost * con_bytes[row], np.int64(0), c
    return np.int64(0), np.int64(0), c
