"""Named random streams derived from the scenario seed.

Two kinds, both reproducible from ``(seed, name)`` alone:

* :func:`stream` gives a ``numpy.random.Generator`` for a named concern (an operator action's
  selection, the session sample). Names, not call order, decide the draws, so adding a group or an
  action does not move anybody else's draws.
* Per-device counter-based draws for the traffic kernel: each device has a 64-bit key (derived
  from its group's name and its index inside the group) and a counter; draw ``k`` of a device is
  ``splitmix64(key + k * GOLDEN)``. The sequence of a device's draws therefore does not depend on
  how the simulated time is cut into batches, nor on the other devices in the fleet.
"""

from __future__ import annotations

import hashlib

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


def _name_words(name: str) -> tuple[int, ...]:
    """A stable (platform- and run-independent) hash of a stream name as 32-bit words."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stream(seed: int, name: str) -> np.random.Generator:
    """The numpy generator for the concern ``name`` under the scenario ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=_name_words(name))))


def device_keys(seed: int, group_name: str, count: int) -> np.ndarray:
    """Per-device RNG keys (``uint64``) for the ``count`` devices of group ``group_name``."""
    base = np.random.SeedSequence(seed, spawn_key=_name_words("traffic/" + group_name))
    group_key = np.uint64(base.generate_state(1, dtype=np.uint64)[0])
    with np.errstate(over="ignore"):
        return _mix64(group_key + np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN)


def _mix64(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always")
def _bits53(key: np.uint64, counter: np.uint64) -> np.uint64:
    """Draw number ``counter`` of the device with ``key``: 53 random bits (splitmix64)."""
    z = key + (counter + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z >> np.uint64(11)


@nb.njit(cache=True, inline="always")
def uniform01(key: np.uint64, counter: np.uint64) -> float:
    """Draw number ``counter`` of the device with ``key``: a float in the open interval (0, 1)."""
    return (_bits53(key, counter) + 0.5) * _TWO_POW_MINUS_53


# Standard exponential draws, -log(u), without a libm log on the fast path. With u = (m + 0.5)
# / 2**53 and hi = the top 12 of the 53 bits, u = hi/4096 * (1 + x) with x = frac/hi < 1/64 when
# hi >= 64, so -log(u) = -log(hi/4096) - log1p(x); log1p by its series to x**5 is exact to
# 1e-10 relative (1e-15 absolute for the tiny variates near u = 1). The other 1/64 of the draws
# take the libm path. About 3x faster than np.log.
_EXP_TABLE_BITS = 12
_EXP_FAST_MIN_HI = 64
_NEG_LOG_HI = -np.log(np.maximum(np.arange(1 << _EXP_TABLE_BITS), 1) / float(1 << _EXP_TABLE_BITS))
_INV_HI = 1.0 / np.maximum(np.arange(1 << _EXP_TABLE_BITS), 1).astype(np.float64)
_LOW_BITS = 53 - _EXP_TABLE_BITS
_TWO_POW_MINUS_LOW = 1.0 / float(1 << _LOW_BITS)


@nb.njit(cache=True, inline="always")
def exponential1(key: np.uint64, counter: np.uint64) -> float:
    """Draw number ``counter`` of the device with ``key`` as a standard exponential variate."""
    m = _bits53(key, counter)
    hi = np.int64(m >> np.uint64(_LOW_BITS))
    if hi < _EXP_FAST_MIN_HI:
        return -np.log((m + 0.5) * _TWO_POW_MINUS_53)
    frac = ((m & np.uint64((1 << _LOW_BITS) - 1)) + 0.5) * _TWO_POW_MINUS_LOW
    x = frac * _INV_HI[hi]
    log1p = x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * 0.2))))
    return _NEG_LOG_HI[hi] - log1p
