"""When the devices of a cohort power on (and so first try to attach): the arrival processes of
registrations (``shared/reference/network-timers.md`` §6; 3GPP TR 37.868 §6.1 traffic models).

Every process draws from the numpy generator it is given (a named stream of the scenario seed,
``cellfleet.sim.rand.stream``), so the same seed gives the same arrivals. Times are seconds of
simulated time, sorted.

* ``constant``: device k at ``t0 + k / rate`` (which device gets which slot is shuffled);
* ``poisson``: gaps ``Exp(rate)`` from ``t0``;
* ``uniform``: N independent uniform times in ``[t0, t0 + window)`` (TR 37.868 traffic model 1,
  a 60 s window there);
* ``beta``: ``t0 + window * X`` with ``X ~ Beta(3, 4)`` (TR 37.868 traffic model 2, a 10 s window
  there): density ``60 t^2 (T - t)^3 / T^6``, mean ``3T/7``, peak at ``0.4 T``;
* ``storm``: all at ``t0`` plus ``U(0, jitter)`` (everyone at once, e.g. when an outage ends).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Process = Literal["constant", "poisson", "uniform", "beta", "storm"]
#: TR 37.868 §6.1.1 traffic model 2: Beta distribution parameters.
BETA_A, BETA_B = 3.0, 4.0


def power_on_times(process: Process, count: int, start_s: float, rng: np.random.Generator, *,
                   rate_per_s: float | None = None, window_s: float | None = None,
                   jitter_s: float = 0.0) -> np.ndarray:  # fmt: skip
    """Power-on times of ``count`` devices (one per device, in device order: the k-th entry is
    device k's time; ``np.sort`` gives the arrival order)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if process in ("constant", "poisson"):
        if rate_per_s is None or rate_per_s <= 0:
            raise ValueError(f"process '{process}' needs rate_per_s > 0")
        if process == "constant":
            return start_s + rng.permutation(count) / rate_per_s
        return start_s + rng.permutation(np.cumsum(rng.exponential(1.0 / rate_per_s, count)))
    if process in ("uniform", "beta"):
        if window_s is None or window_s <= 0:
            raise ValueError(f"process '{process}' needs window_s > 0")
        x = rng.random(count) if process == "uniform" else rng.beta(BETA_A, BETA_B, count)
        return start_s + window_s * x
    if process == "storm":
        if jitter_s < 0:
            raise ValueError(f"jitter_s must be >= 0, got {jitter_s}")
        return start_s + (rng.random(count) * jitter_s if jitter_s > 0 else np.zeros(count))
    raise ValueError(f"unknown process {process!r} (constant, poisson, uniform, beta, storm)")
