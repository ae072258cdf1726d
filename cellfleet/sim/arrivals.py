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

Inside a burst the sessions are ``burst_spacing_s`` apart.

Functions the kernel inlines take scalars only: numba's inlining of a call that takes arrays adds
reference-count updates on every call, which multiplied the cost of a session by about ten. For ``poisson`` and ``diurnal`` the gap
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
def diurnal_next_s(t_s, unit_exponential, bursts_per_s, hourly_share, prof):
    """The first arrival after ``t_s`` of a Poisson process whose rate in UTC hour ``h`` is
    ``bursts_per_s * 24 * hourly_share[prof, h]``, given one unit-exponential draw."""
    need = unit_exponential
    t = t_s
    while True:
        hour_index = np.floor(t / SECONDS_PER_HOUR)
        hour_end = (hour_index + 1.0) * SECONDS_PER_HOUR
        rate = bursts_per_s * 24.0 * hourly_share[prof, int(hour_index) % 24]
        mass = rate * (hour_end - t)
        if mass >= need and rate > 0.0:
            return t + need / rate
        need -= mass
        t = hour_end


@nb.njit(cache=True, inline="always")
def next_burst_s(t_last_s, burst_left, k, c, sched, period_s, jitter_s, burst_size, spacing_s):
    """The session after one at ``t_last_s``: the next of its burst, or the first of the next
    burst (one draw). Returns ``(time, sessions left in the burst, counter)``; the time is NaN for
    a diurnal schedule, whose draw the caller makes with :func:`diurnal_next_s`.

    Scalars only: an inlined call that takes arrays costs reference-count updates per session.
    """
    if burst_left > 0:
        return t_last_s + spacing_s, burst_left - 1, c
    left = burst_size - 1
    if sched == SCHEDULE_PERIODIC:  # periods run from burst start to burst start
        base = t_last_s - left * spacing_s
        return base + period_s + (2.0 * uniform01(k, c) - 1.0) * jitter_s, left, c + np.uint64(1)
    if sched == SCHEDULE_POISSON:
        return t_last_s + exponential1(k, c) * period_s, left, c + np.uint64(1)
    return np.nan, left, c


@nb.njit(cache=True, inline="always")
def first_burst_s(t_s, k, c, prof, p_sched, p_period, p_hourly):
    """First burst after a (re)start at ``t_s`` (one draw): memoryless for Poisson and diurnal,
    a uniform phase inside one period for periodic."""
    sched = p_sched[prof]
    if sched == SCHEDULE_POISSON:
        return t_s + exponential1(k, c) * p_period[prof]
    if sched == SCHEDULE_PERIODIC:
        return t_s + uniform01(k, c) * p_period[prof]
    return diurnal_next_s(t_s, exponential1(k, c), 1.0 / p_period[prof], p_hourly, prof)


@nb.njit(cache=True)
def empirical_index(emp_offset, emp_count, emp_cum, u):
    """Position of the empirical value drawn by ``u`` (binary search of the cumulative
    probabilities)."""
    lo = emp_offset
    hi = emp_offset + emp_count - 1
    while lo < hi:  # first cumulative probability above u
        mid = (lo + hi) // 2
        if emp_cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo - emp_offset


