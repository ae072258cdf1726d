"""The UE side of the EPS attach procedure: when a device tries again after a reject, a missing
answer or a lower-layer failure (3GPP TS 24.301 §5.5.1.2; timers Table 10.2.1).

:func:`attach_trace` plays one device's attempts against a given sequence of network answers and
returns every happening with its exact time: the reference for the fleet engine's vectorized
registrations (issue 4) and the source of its timer-exact tests.

Rules encoded:

* An ATTACH REQUEST starts T3410 (15 s; 85 s in WB-S1 CE mode). ATTACH ACCEPT stops it: the
  device is registered and the attach attempt counter is reset (§5.5.1.1).
* Abnormal cases (§5.5.1.2.6): T3410 expiry, a lower-layer failure, or a reject with a cause
  without special handling (e.g. #17 network failure, #95-#111 protocol errors) add 1 to the
  attempt counter; below 5 the device retries when T3411 (10 s) expires; at 5 it starts T3402
  (12 min, or the network's value), retries when T3402 expires, and the counter is reset then
  (§5.5.1.1: "T3402 expires").
* Rejects with special handling (§5.5.1.2.5): #3, #6, #7, #8 make the USIM invalid for EPS until
  power-off: no more attempts. #11, #13, #14, #15 (PLMN or TA forbidden) reset the counter and
  send the device to PLMN or TA selection; #12 leaves it in limited service; with a single
  network, none of them retries on this network. #22 (congestion) resets the counter and starts
  T3346 with the network's value (or, if the reject was not integrity protected, a value from the
  default range 15-30 min, TS 24.008 §4.7.13.4, which the caller draws); the device retries when
  T3346 expires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

#: Attempts before the long back-off (TS 24.301 §5.5.1.2.6).
MAX_ATTEMPTS = 5
#: Causes that make the USIM invalid for EPS services (§5.5.1.2.5).
USIM_INVALID_CAUSES = frozenset({3, 6, 7, 8})
#: Causes that send the device to PLMN or tracking-area selection, counter reset (§5.5.1.2.5).
SELECTION_CAUSES = frozenset({11, 13, 14, 15})
LIMITED_SERVICE_CAUSES = frozenset({12})
CONGESTION_CAUSE = 22


@dataclass(frozen=True)
class AttachTimers:
    """UE timer values in seconds (TS 24.301 Table 10.2.1 defaults)."""

    t3410_s: float = 15.0
    t3411_s: float = 10.0
    t3402_s: float = 12 * 60.0


@dataclass(frozen=True)
class Answer:
    """What happens to one ATTACH REQUEST.

    ``kind``: ``accept`` or ``reject`` (after ``delay_s``), ``no_answer`` (T3410 expires) or
    ``lower_layer_failure`` (after ``delay_s``). A reject carries its EMM ``cause``, and may carry
    the network's ``t3346_s`` (#22) or ``t3402_s``.
    """

    kind: Literal["accept", "reject", "no_answer", "lower_layer_failure"]
    delay_s: float = 0.0
    cause: int | None = None
    t3346_s: float | None = None
    t3402_s: float | None = None


@dataclass(frozen=True)
class Happening:
    """One step of the trace: when, what, and the attempt counter after it."""

    time_s: float
    what: str  # attempt, accept, reject, t3410_expiry, lower_layer_failure, start_T3411, ... stop
    attempt_counter: int
    cause: int | None = None


def attach_trace(start_s: float, answers: Iterable[Answer], until_s: float,
                 timers: AttachTimers = AttachTimers()) -> list[Happening]:  # fmt: skip
    """The device's attach happenings from power-on at ``start_s`` up to ``until_s``; the n-th
    attempt gets the n-th answer (the last one repeats when they run out)."""
    answers = list(answers)
    if not answers:
        raise ValueError("give at least one answer")
    out: list[Happening] = []
    counter = 0
    t = start_s
    n = 0
    while t < until_s:
        answer = answers[min(n, len(answers) - 1)]
        n += 1
        out.append(Happening(t, "attempt", counter))
        if answer.kind == "accept":
            out.append(Happening(t + answer.delay_s, "accept", 0))
            return out
        if answer.kind == "no_answer":
            t_end = t + timers.t3410_s
            counter += 1
            out.append(Happening(t_end, "t3410_expiry", counter))
        elif answer.kind == "lower_layer_failure":
            t_end = t + answer.delay_s
            counter += 1
            out.append(Happening(t_end, "lower_layer_failure", counter))
        else:
            t_end = t + answer.delay_s
            cause = answer.cause
            if cause in USIM_INVALID_CAUSES:
                out.append(Happening(t_end, "reject", counter, cause))
                out.append(Happening(t_end, "stop_usim_invalid", counter, cause))
                return out
            if cause in SELECTION_CAUSES or cause in LIMITED_SERVICE_CAUSES:
                out.append(Happening(t_end, "reject", 0, cause))
                what = "stop_limited_service" if cause in LIMITED_SERVICE_CAUSES else "stop_network_selection"
                out.append(Happening(t_end, what, 0, cause))
                return out
            if cause == CONGESTION_CAUSE:
                if answer.t3346_s is None:
                    raise ValueError("a #22 reject needs t3346_s (the network's value, or one drawn from 15-30 min)")
                counter = 0  # §5.5.1.1: reset when T3346 is started
                out.append(Happening(t_end, "reject", counter, cause))
                out.append(Happening(t_end, "start_T3346", counter, cause))
                t = t_end + answer.t3346_s
                continue
            counter += 1
            out.append(Happening(t_end, "reject", counter, cause))
        if counter < MAX_ATTEMPTS:
            out.append(Happening(t_end, "start_T3411", counter))
            t = t_end + timers.t3411_s
        else:
            t3402_s = answer.t3402_s if answer.t3402_s is not None else timers.t3402_s
            out.append(Happening(t_end, "start_T3402", counter))
            t = t_end + t3402_s
            counter = 0  # reset when T3402 expires (§5.5.1.1)
    return out
