"""Traffic of a device that is not registered, and the periodic TAUs of one that is.

The registration kernel (``cellfleet.sim.registration``) decides from when each device is
registered; deregistration happens only at control-plane happenings, so inside one traffic window
a device has a single boundary ``reg_from_s``: not registered before it, registered from it on
(``-inf``: registered all along, the default without a ``network`` section; ``+inf``: not
registered in the whole window).

Traffic due while not registered is not carried (3GPP TS 24.301 §5.2.2: a UE in EMM-DEREGISTERED
has no EMM context and no EPS bearer, so neither data nor SMS over NAS, §5.6.3, can pass):

* a data report (a per-report session, a report on a persistent connection, each session of a
  burst) is dropped (``unregistered_reports: drop``, counted in ``day/total_reports_dropped``) or
  queued by the application (``queue``: ``queued_reports`` up to ``queue_limit_reports``, reports
  beyond it are dropped and counted). Either way the arrival schedule advances exactly as if it had
  been sent: the report's payload draw is not made, but its slot in the device's counter-based
  stream (``cellfleet.sim.rand``) is skipped, so for a profile whose reports make one draw (no
  losses, no set-up failures) every later arrival is the one the device would have had if it had
  been registered all along;
* an SMS, MO or MT, is not sent or delivered (counted in ``day/total_sms_dropped``, both
  directions); its Poisson stream advances as usual;
* a pending connection set-up (``persistent`` profile) or one-off session (``send_once``) is
  postponed to ``reg_from_s`` (kept as it is while ``reg_from_s`` is ``+inf``);
* keep-alive pings: a connection is never open while not registered (the engine releases it at the
  deregistration), so there are none.

Queued reports are sent once the device is registered: the queue drains from ``reg_from_s``, one
report every ``burst_spacing_s`` of the profile (all at ``reg_from_s`` when that is 0), each a
normal report (a fresh payload draw, billed, counted in the allowance, recorded). The queue is a
stream of its own beside the regular schedule, which goes on undisturbed: a regular report that
falls due while the queue drains is sent at its time (first, at equal times). A drain that a
window end interrupts goes on in the next window (``queue_next_s``: the next queued report's time).
A queued report whose connection set-up fails entirely is lost like any report (not counted as
dropped: that counter is for the registration alone).

Periodic tracking area updating (TS 24.301 §5.3.5, T3412 of Table 10.2.1): a registered UE starts
T3412 when it enters EMM-IDLE, i.e. after the ATTACH ACCEPT and after every connected episode;
every traffic event (a session, a one-off session, a connection set-up, a report, a keep-alive
ping, an SMS) is such an episode at its event time, and so is a periodic TAU itself. (T3412 is
restarted at the exchange's start, not when its connected mode ends: the few seconds an exchange
lasts are not added, which matters only for exchanges that last a sizeable part of T3412.) With ``ref``
the last (re)start, the TAUs before the next episode at ``t`` are at ``ref + k T3412`` for every
``k >= 1`` with ``ref + k T3412 < t`` (a TAU due exactly at ``t`` is replaced by the episode).
They are counted, never scheduled. T3412 is taken as started at ``reg_from_s`` when the stored
``tau_ref_s`` is NaN or older than it (a new registration); a device registered all along with no
known start counts no TAU before its first episode. ``t3412_s`` inf: T3412 deactivated, no TAU.
At a window's end the TAUs before it are counted and ``tau_ref_s`` is the last of them (or the
last episode). Each TAU at ``t`` counts in ``tau_minute_bins[int(t // 60)]``, clamped to the bins.

The kernel gets the run-wide settings in ``ctx = (map_table, limit_bytes, limit_sms,
unregistered_mode, queue_limit_reports, tau_minute_bins)``: the mode is ``UNREGISTERED_DROP`` or
``UNREGISTERED_QUEUE``, the bins one int64 per simulated minute.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from cellfleet.sim.arrivals import diurnal_next_s, next_burst_s
from cellfleet.sim.rand import exponential1

UNREGISTERED_DROP, UNREGISTERED_QUEUE = 0, 1
SECONDS_PER_MINUTE = 60.0


@nb.njit(cache=True, inline="always")
def tau_start_s(tau_ref_s, reg_from_s):
    """When the running T3412 was started: ``tau_ref_s``, or the accept at ``reg_from_s`` when
    that is newer (or ``tau_ref_s`` is NaN); NaN when unknown (registered all along, no episode)."""
    ref = tau_ref_s if tau_ref_s >= reg_from_s else reg_from_s
    return np.nan if ref == -np.inf else ref


@nb.njit(cache=True, inline="always")
def taus_before(ref_s, t_s, t3412_s):
    """How many periodic TAUs ``ref + k T3412`` (``k >= 1``) fall strictly before ``t_s``."""
    if not (ref_s + t3412_s < t_s and t3412_s > 0.0):  # also NaN ref, and T3412 inf (or not a timer)
        return np.int64(0)
    n = np.int64(np.floor((t_s - ref_s) / t3412_s))
    while n > 0 and ref_s + n * t3412_s >= t_s:  # exactly at t_s, or the division rounded up
        n -= 1
    while ref_s + (n + 1) * t3412_s < t_s:  # the division rounded down
        n += 1
    return n


@nb.njit(cache=True, inline="always")
def _minute(t_s, last):
    """The minute bin of ``t_s``: ``int(t // 60)`` within ``[0, last]``."""
    m = np.floor(t_s / SECONDS_PER_MINUTE)  # t // 60 exactly, without its slow float floor division
    if m * SECONDS_PER_MINUTE > t_s:
        m -= 1.0
    return max(np.int64(0), min(np.int64(m), last))


@nb.njit(cache=True, inline="always")
def count_taus(minute_bins, ref_s, t_s, t3412_s):
    """The periodic TAUs between an episode at ``ref_s`` and the next at ``t_s``, added to their
    minute bins (``int(t // 60)``, clamped to the bins): per TAU, or per minute when TAUs are
    denser than minutes (so the work is bounded by the bins either way)."""
    n = taus_before(ref_s, t_s, t3412_s)
    if n == 0:
        return n
    last = minute_bins.shape[0] - 1
    if t3412_s >= SECONDS_PER_MINUTE and n <= last + 1:  # at most one a minute, as many as the bins
        for k in range(1, n + 1):
            minute_bins[_minute(ref_s + k * t3412_s, last)] += 1
        return n
    first_m = _minute(ref_s + t3412_s, last)
    last_m = _minute(ref_s + n * t3412_s, last)
    done = np.int64(0)
    for m in range(first_m, last_m):  # TAUs before the end of minute m, capped at n
        upto = min(taus_before(ref_s, (m + 1) * SECONDS_PER_MINUTE, t3412_s), n)
        minute_bins[m] += upto - done
        done = upto
    minute_bins[last_m] += n - done
    return n


@nb.njit(cache=True, inline="always")
def queue_resume_s(queued, reg_from_s, t_end_s, queue_next_s):
    """When the next queued report goes: at the registration, or where an interrupted drain
    stopped; inf while there is none or the device is not registered by ``t_end_s`` (or has no
    known registration time)."""
    if queued == 0 or not reg_from_s < t_end_s:
        return np.inf
    t = max(queue_next_s, reg_from_s)
    return np.inf if t == -np.inf else t


@nb.njit(cache=True)
def unregistered_stretch(i, reg_from_s, t_end_s, ts, bl, tmo, tmt, to, topen, k, c, queued_reports, queue_mode,
                         queue_limit, prof, p_sched, p_period, p_jitter, p_burst, p_spacing, p_hourly, sms_mo_gap,
                         sms_mt_gap, day_reports_dropped, total_reports_dropped, day_sms_dropped,
                         total_sms_dropped):  # fmt: skip
    """Walk device ``i``'s events due before ``min(reg_from_s, t_end_s)``, in the kernel's order
    (at equal times reports, then SMS MO, then MT), carrying none of them (module docstring): count
    the dropped ones and the queued reports. Returns ``(ts, bl, tmo, tmt, to, topen, c)``.
    """
    queued = queued_reports[i]
    stop = min(reg_from_s, t_end_s)
    dropped = np.int64(0)
    sms_dropped = np.int64(0)
    while True:
        t = min(ts, min(tmo, tmt))
        if t >= stop:
            break
        if ts == t:
            c += np.uint64(1)  # the payload draw's slot, left unused
            if queue_mode == UNREGISTERED_QUEUE and queued < queue_limit:
                queued += 1
            else:
                dropped += 1
            ts, bl, c = next_burst_s(t, bl, k, c, p_sched[prof], p_period[prof], p_jitter[prof], p_burst[prof],
                                     p_spacing[prof])  # fmt: skip
            if ts != ts:  # diurnal
                ts = diurnal_next_s(t, exponential1(k, c), 1.0 / p_period[prof], p_hourly, prof)
                c += np.uint64(1)
        elif tmo == t:
            sms_dropped += 1
            tmo = t + exponential1(k, c) * sms_mo_gap[prof]
            c += np.uint64(1)
        else:
            sms_dropped += 1
            tmt = t + exponential1(k, c) * sms_mt_gap[prof]
            c += np.uint64(1)
    if reg_from_s < np.inf:  # postponed to the registration
        to = max(to, reg_from_s)
        topen = max(topen, reg_from_s)
    queued_reports[i] = queued
    day_reports_dropped[i] += dropped
    total_reports_dropped[i] += dropped
    day_sms_dropped[i] += sms_dropped
    total_sms_dropped[i] += sms_dropped
    return ts, bl, tmo, tmt, to, topen, c
