"""Named streams and the per-device counter-based draws."""

from __future__ import annotations

import numba as nb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.sim.rand import device_keys, exponential1, stream, uniform01


@nb.njit
def _draws(key, first, n):
    out = np.empty((n, 2))
    for j in range(n):
        c = np.uint64(first + j)
        out[j, 0] = uniform01(key, c)
        out[j, 1] = exponential1(key, c)
    return out


@settings(max_examples=30, deadline=None)
@given(key=st.integers(0, 2**64 - 1), first=st.integers(0, 2**40))
def test_fast_exponential_equals_minus_log_of_the_same_uniform(key: int, first: int) -> None:
    d = _draws(np.uint64(key), first, 20_000)
    assert ((d[:, 0] > 0) & (d[:, 0] < 1)).all()
    exact = -np.log(d[:, 0])
    # relative 1e-10; near u = 1 the variate is tiny and a 1e-15 absolute error is what remains
    np.testing.assert_allclose(d[:, 1], exact, rtol=1e-10, atol=1e-15)


def test_exponential_moments_and_tail() -> None:
    d = _draws(np.uint64(12345), 0, 1_000_000)[:, 1]
    # mean 1 and variance 1 within 5 standard errors of 10^6 draws
    assert abs(d.mean() - 1.0) < 5 * 1e-3
    assert abs(d.var() - 1.0) < 5 * 2.2e-3
    # the slow-path tail (u < 1/64, i.e. draws above log(64)) has its share, 1/64
    assert abs((d > np.log(64)).mean() - 1 / 64) < 5 * np.sqrt(1 / 64 / 1e6)


def test_streams_are_named_not_ordered() -> None:
    a = stream(7, "actions/0/0").random(5)
    assert np.array_equal(a, stream(7, "actions/0/0").random(5))
    assert not np.array_equal(a, stream(7, "actions/1/0").random(5))
    assert not np.array_equal(a, stream(8, "actions/0/0").random(5))


def test_device_keys_depend_on_group_name_and_index_only() -> None:
    keys = device_keys(1, "trackers", 1000)
    assert np.array_equal(keys[:10], device_keys(1, "trackers", 10))
    assert len(np.unique(keys)) == 1000
    assert not np.array_equal(keys[:10], device_keys(1, "meters", 10))
    assert not np.array_equal(keys[:10], device_keys(2, "trackers", 10))
