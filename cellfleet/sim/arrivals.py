"""When a device's next session, SMS or connection happens: the arrival draws of the kernel.

Every draw comes from the device's counter-based stream (``cellfleet.sim.rand``): a draw is a
function of (device key, counter), so a device's traffic does not depend on how the run is cut
into windows, nor on the other devices.

Schedules (``TrafficProfile.schedule``), for the start of each burst (one session when
``burst_size`` is 1):

* ``poisson``: exponential gaps of mean ``burst_period_s``;
* ``periodic``: gaps of ``burst_period_s`` from burst start to burst start, each changed by
  ``U(-jitter_s, +jitter_s)``; a (re)start draws a uniform phase inside one period;
* ``diurnal``: a non-homogeneous Poisson process whose rate is constant within each UTC hour of
  simulated time and proportional to ``hourly_weights``; drawn exactly by inverting the
  cumulative intensity (one unit exponential, consumed hour by hour).

Inside a burst the sessions are ``burst_spacing_s`` apart. For ``poisson`` and ``diurnal`` the gap
to the next burst is drawn after the burst's last session (a burst never overlaps the next).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.rand import exponential1, uniform01

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0

SCHEDULE_POISSON, SCHEDULE_PERIODIC, SCHEDULE_DIURNAL = 0, 1, 2
BYTES_FIXED, BYTES_UNIFORM, BYTES_EMPIRICAL = 0, 1, 2


@nb.njit(cache=True)
def diurnal_next_s(t_s, unit_exponential, bursts_per_s, hourly_share):
    """The first arrival after ``t_s`` of a Poisson process whose rate in UTC hour ``h`` is
    ``bursts_per_s * 24 * hourly_share[h]``, given one unit-exponential draw."""
    need = unit_exponential
    t = t_s
    while True:
        hour_index = np.floor(t / SECONDS_PER_HOUR)
        hour_end = (hour_index + 1.0) * SECONDS_PER_HOUR
        rate = bursts_per_s * 24.0 * hourly_share[int(hour_index) % 24]
        mass = rate * (hour_end - t)
        if mass >= need and rate > 0.0:
            return t + need / rate
        need -= mass
        t = hour_end


@nb.njit(cache=True, inline="always")
def burst_gap_s(t_s, k, c, prof, p_sched, p_period, p_jitter, p_hourly):
    """Start of the next burst after a burst's last session at ``t_s`` (one draw)."""
    sched = p_sched[prof]
    if sched == SCHEDULE_POISSON:
        return t_s + exponential1(k, c) * p_period[prof]
    if sched == SCHEDULE_PERIODIC:
        return t_s + p_period[prof] + (2.0 * uniform01(k, c) - 1.0) * p_jitter[prof]
    return diurnal_next_s(t_s, exponential1(k, c), 1.0 / p_period[prof], p_hourly[prof])


@nb.njit(cache=True, inline="always")
def first_burst_s(t_s, k, c, prof, p_sched, p_period, p_hourly):
    """First burst after a (re)start at ``t_s`` (one draw): memoryless for Poisson and diurnal,
    a uniform phase inside one period for periodic."""
    sched = p_sched[prof]
    if sched == SCHEDULE_POISSON:
        return t_s + exponential1(k, c) * p_period[prof]
    if sched == SCHEDULE_PERIODIC:
        return t_s + uniform01(k, c) * p_period[prof]
    return diurnal_next_s(t_s, exponential1(k, c), 1.0 / p_period[prof], p_hourly[prof])


@nb.njit(cache=True, inline="always")
def payload_index(kind, a, b, emp_offset, emp_count, emp_cum, u):
    """Index of the drawn payload among the profile's possible sizes, from one uniform ``u``:
    ``size - min`` for uniform, 0 for fixed, the value's position for empirical."""
    if kind == BYTES_FIXED:
        return 0
    if kind == BYTES_UNIFORM:
        return np.int64(u * (b - a + 1))
    lo = emp_offset
    hi = emp_offset + emp_count - 1
    while lo < hi:  # first cumulative probability above u
        mid = (lo + hi) // 2
        if emp_cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo - emp_offset


@nb.njit(cache=True, inline="always")
def payload_bytes(kind, a, index, emp_offset, emp_values):
    """The payload (or ``raw`` volume) of a drawn index (see :func:`payload_index`)."""
    if kind == BYTES_EMPIRICAL:
        return emp_values[emp_offset + index]
    return a + index
