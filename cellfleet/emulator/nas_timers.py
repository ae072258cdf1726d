"""NAS timer values on the air and in AT commands: GPRS Timer, GPRS Timer 2 and GPRS Timer 3
(3GPP TS 24.008 §10.5.7.3, §10.5.7.4, §10.5.7.4a), and the eDRX cycle and paging time window of
the Extended DRX parameters IE (TS 24.008 §10.5.5.32, E-UTRAN).

A timer is one octet: bits 8-6 the unit, bits 5-1 a value 0..31. AT commands (``+CPSMS``,
``+CEREG``, ``+CEDRXS``) carry the octet as a string of bits, e.g. ``"00100001"``. Unit ``111``
means the timer is deactivated (``None`` here). Units a timer type does not define are read as
1 minute, as the spec says for GPRS Timer and GPRS Timer 2.
"""

from __future__ import annotations

from typing import Literal

TimerType = Literal["gprs_timer", "gprs_timer_2", "gprs_timer_3"]

_MIN = 60
_HOUR = 3600
#: Seconds per unit (bits 8-6) of each timer type; ``None`` = deactivated.
UNIT_S: dict[TimerType, tuple[int | None, ...]] = {
    # TS 24.008 Table 10.5.163 (GPRS Timer: T3412, T3402): 2 s, 1 min, decihours, others = 1 min
    "gprs_timer": (2, _MIN, 6 * _MIN, _MIN, _MIN, _MIN, _MIN, None),
    # TS 24.008 Table 10.5.163a (GPRS Timer 2: T3324, T3346): same units
    "gprs_timer_2": (2, _MIN, 6 * _MIN, _MIN, _MIN, _MIN, _MIN, None),
    # TS 24.008 Table 10.5.163b (GPRS Timer 3: T3412 extended, T3396)
    "gprs_timer_3": (10 * _MIN, _HOUR, 10 * _HOUR, 2, 30, _MIN, 320 * _HOUR, None),
}
MAX_VALUE = 31
DEACTIVATED_UNIT = 0b111

#: eDRX cycle lengths in seconds by the 4-bit value (TS 24.008 Table 10.5.5.32, E-UTRAN).
EDRX_CYCLE_S = (5.12, 10.24, 20.48, 40.96, 61.44, 81.92, 102.4, 122.88, 143.36, 163.84, 327.68, 655.36,
                1310.72, 2621.44, 5242.88, 10485.76)  # fmt: skip
#: Paging time window step: WB-S1 (LTE-M) 1.28 s, NB-S1 (NB-IoT) 2.56 s; PTW = step * (n + 1).
PTW_STEP_S = {"lte-m": 1.28, "nb-iot": 2.56}


def _bits(octet: str) -> int:
    if len(octet) != 8 or set(octet) - {"0", "1"}:
        raise ValueError(f"a timer octet is 8 characters of 0 and 1, got {octet!r}")
    return int(octet, 2)


def decode_timer(octet: str | int, timer: TimerType) -> int | None:
    """Seconds of a timer octet (a bit string or its integer), ``None`` if deactivated."""
    value = _bits(octet) if isinstance(octet, str) else int(octet)
    if not 0 <= value <= 0xFF:
        raise ValueError(f"a timer octet is 0..255, got {value}")
    unit = UNIT_S[timer][value >> 5]
    return None if unit is None else unit * (value & MAX_VALUE)


def encode_timer(seconds: int | None, timer: TimerType) -> str:
    """The bit string of ``seconds`` (``None`` = deactivated), exact, with the finest unit that
    can hold it; ValueError if no unit of ``timer`` represents it exactly."""
    if seconds is None:
        return f"{DEACTIVATED_UNIT << 5:08b}"
    units = UNIT_S[timer]
    # candidate units, finest first, defined ones only (the "read as 1 minute" codes are not sent)
    defined = sorted({(u, code) for code, u in enumerate(units) if u is not None and _is_defined(timer, code)})
    for unit, code in defined:
        if seconds % unit == 0 and seconds // unit <= MAX_VALUE:
            return f"{(code << 5) | (seconds // unit):08b}"
    raise ValueError(f"{seconds} s cannot be encoded exactly as a {timer.replace('_', ' ')}")


def _is_defined(timer: TimerType, code: int) -> bool:
    return timer == "gprs_timer_3" or code <= 2


def decode_edrx(cycle_bits: str) -> float:
    """eDRX cycle in seconds of a 4-bit string (``+CEDRXS``/``+CEDRXP``)."""
    if len(cycle_bits) != 4 or set(cycle_bits) - {"0", "1"}:
        raise ValueError(f"an eDRX value is 4 characters of 0 and 1, got {cycle_bits!r}")
    return EDRX_CYCLE_S[int(cycle_bits, 2)]


def decode_ptw(ptw_bits: str, rat: Literal["lte-m", "nb-iot"]) -> float:
    """Paging time window in seconds of a 4-bit string for the RAT."""
    if len(ptw_bits) != 4 or set(ptw_bits) - {"0", "1"}:
        raise ValueError(f"a paging time window is 4 characters of 0 and 1, got {ptw_bits!r}")
    return round(PTW_STEP_S[rat] * (int(ptw_bits, 2) + 1), 2)
