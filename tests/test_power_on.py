"""Registration arrival processes (TR 37.868 §6.1; network-timers.md §6): exact slots for a
constant rate, and the distributions' moments for the random ones, from a named seeded stream."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellfleet.sim.power_on import power_on_times
from cellfleet.sim.rand import stream


def test_constant_rate_gives_every_slot_once():
    times = power_on_times("constant", 500, 100.0, stream(1, "p"), rate_per_s=100.0)
    assert np.array_equal(np.sort(times), 100.0 + np.arange(500) / 100.0)
    assert not np.array_equal(times, np.sort(times))  # which device gets which slot is shuffled


def test_beta_3_4_model_2_has_its_mean_and_peak():
    """TR 37.868 model 2 over T = 10 s: mean 3T/7 = 4.29 s; the density 60 t^2 (T-t)^3 / T^6
    peaks at 0.4 T; the share before 0.4 T matches the exact CDF (200k devices)."""
    n, t = 200_000, 10.0
    x = power_on_times("beta", n, 0.0, stream(2, "p"), window_s=t)
    assert ((x >= 0) & (x <= t)).all()
    assert abs(x.mean() - 3 * t / 7) < 0.02
    u = 0.4  # CDF of Beta(3, 4) at u: sum_{j=3}^{6} C(6, j) u^j (1-u)^(6-j)
    cdf = sum(math.comb(6, j) * u**j * (1 - u) ** (6 - j) for j in range(3, 7))
    assert abs((x < u * t).mean() - cdf) < 0.005
    hist, _ = np.histogram(x, bins=50, range=(0, t))
    assert abs(np.argmax(hist) / 50 - 0.4) <= 0.04


def test_poisson_uniform_and_storm():
    p = np.sort(power_on_times("poisson", 100_000, 0.0, stream(3, "p"), rate_per_s=50.0))
    gaps = np.diff(p)
    assert abs(gaps.mean() - 0.02) < 0.0005 and abs(gaps.std() - 0.02) < 0.0005  # Exp: mean = sd
    u = power_on_times("uniform", 100_000, 5.0, stream(4, "p"), window_s=60.0)
    assert ((u >= 5.0) & (u < 65.0)).all() and abs(u.mean() - 35.0) < 0.2
    s = power_on_times("storm", 1000, 7200.0, stream(5, "p"))
    assert (s == 7200.0).all()
    sj = power_on_times("storm", 1000, 7200.0, stream(5, "p"), jitter_s=2.0)
    assert ((sj >= 7200.0) & (sj < 7202.0)).all()


def test_same_seed_same_arrivals_and_clear_errors():
    a = power_on_times("beta", 10, 0.0, stream(9, "cohort-a"), window_s=10.0)
    b = power_on_times("beta", 10, 0.0, stream(9, "cohort-a"), window_s=10.0)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="needs rate_per_s"):
        power_on_times("poisson", 10, 0.0, stream(9, "x"))
    with pytest.raises(ValueError, match="needs window_s"):
        power_on_times("beta", 10, 0.0, stream(9, "x"))
    with pytest.raises(ValueError, match="unknown process"):
        power_on_times("gaussian", 10, 0.0, stream(9, "x"))
