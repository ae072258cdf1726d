"""Timer-exact single-device attach traces (TS 24.301 §5.5.1.2) and NAS timer encodings
(TS 24.008 §10.5.7.x, §10.5.5.32), every expected time computed by hand from the spec values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cellfleet.emulator.nas_timers import decode_edrx, decode_ptw, decode_timer, encode_timer
from cellfleet.sim.attach import Answer, AttachTimers, attach_trace


def attempts(trace) -> list[float]:
    return [round(h.time_s, 6) for h in trace if h.what == "attempt"]


def test_persistent_network_failure_bursts_of_five_then_t3402():
    """#17 answered after 0.5 s: attempts T3411 (10 s) apart, 5 in a burst, then T3402 (720 s)
    from the 5th reject; the counter resets when T3402 expires, so the pattern repeats."""
    trace = attach_trace(100.0, [Answer("reject", 0.5, cause=17)], until_s=2000.0)
    burst = [100.0, 110.5, 121.0, 131.5, 142.0]
    second = [t + 142.5 + 720.0 - 100.0 for t in burst]  # from 862.5
    assert attempts(trace)[:10] == burst + second
    assert [h.attempt_counter for h in trace if h.what == "reject"][:6] == [1, 2, 3, 4, 5, 1]
    starts = [(h.what, h.time_s) for h in trace if h.what.startswith("start_")][:5]
    assert starts == [("start_T3411", 100.5), ("start_T3411", 111.0), ("start_T3411", 121.5),
                      ("start_T3411", 132.0), ("start_T3402", 142.5)]  # fmt: skip


def test_no_answer_waits_for_t3410_each_time():
    """No answer: T3410 (15 s) expires, then T3411 (10 s): attempts 25 s apart; the 5th expiry
    at 115 s starts T3402; in WB-S1 CE mode T3410 is 85 s."""
    trace = attach_trace(0.0, [Answer("no_answer")], until_s=900.0)
    assert attempts(trace) == [0.0, 25.0, 50.0, 75.0, 100.0, 835.0, 860.0, 885.0]
    ce = attach_trace(0.0, [Answer("no_answer")], until_s=300.0, timers=AttachTimers(t3410_s=85.0))
    assert attempts(ce) == [0.0, 95.0, 190.0, 285.0]


def test_congestion_waits_t3346_with_the_counter_reset():
    """Two lower-layer failures, then #22 with T3346 = 1800 s: the counter (2) resets when T3346
    starts, the retry comes at its expiry, and an accept there ends the procedure."""
    answers = [Answer("lower_layer_failure", 2.0), Answer("lower_layer_failure", 2.0),
               Answer("reject", 0.25, cause=22, t3346_s=1800.0), Answer("accept", 0.3)]  # fmt: skip
    trace = attach_trace(0.0, answers, until_s=10_000.0)
    assert attempts(trace) == [0.0, 12.0, 24.0, 1824.25]
    congestion = [h for h in trace if h.cause == 22]
    assert [(h.what, h.time_s, h.attempt_counter) for h in congestion] == [
        ("reject", 24.25, 0), ("start_T3346", 24.25, 0)]
    assert (trace[-1].what, round(trace[-1].time_s, 6), trace[-1].attempt_counter) == ("accept", 1824.55, 0)
    with pytest.raises(ValueError, match="t3346_s"):
        attach_trace(0.0, [Answer("reject", 0.1, cause=22)], until_s=100.0)


@pytest.mark.parametrize(("cause", "end"), [(3, "stop_usim_invalid"), (7, "stop_usim_invalid"),
                                            (11, "stop_network_selection"), (13, "stop_network_selection"),
                                            (15, "stop_network_selection"), (12, "stop_limited_service")])  # fmt: skip
def test_rejects_with_special_handling_stop_attempts_on_this_network(cause, end):
    trace = attach_trace(5.0, [Answer("reject", 0.4, cause=cause)], until_s=100_000.0)
    assert attempts(trace) == [5.0]
    assert (trace[-1].what, trace[-1].time_s, trace[-1].cause) == (end, 5.4, cause)


def test_network_t3402_value_from_the_reject_is_used():
    trace = attach_trace(0.0, [Answer("reject", 1.0, cause=17, t3402_s=60.0)], until_s=200.0)
    assert attempts(trace) == [0.0, 11.0, 22.0, 33.0, 44.0, 105.0, 116.0, 127.0, 138.0, 149.0]


@given(st.lists(st.sampled_from([Answer("no_answer"), Answer("lower_layer_failure", 1.0),
                                 Answer("reject", 0.2, cause=17), Answer("reject", 0.2, cause=111)]),
                min_size=1, max_size=12))  # fmt: skip
def test_never_more_than_five_attempts_between_long_back_offs(answers):
    """Abnormal answers only: attempts come in bursts of at most 5, T3411 apart after each
    failure, and a T3402 (720 s) wait follows every 5th failure."""
    trace = attach_trace(0.0, answers, until_s=5000.0)
    counters = [h.attempt_counter for h in trace if h.what not in ("attempt",) and not h.what.startswith("start_")]
    assert max(counters) <= 5
    starts = [h for h in trace if h.what.startswith("start_")]
    for k, h in enumerate(starts):
        assert h.what == ("start_T3402" if (k + 1) % 5 == 0 else "start_T3411")


# -------------------------------------------------------------------------------- encodings
@pytest.mark.parametrize(("octet", "timer", "seconds"), [
    ("00100001", "gprs_timer_3", 3600),  # 001 = 1 h, x 1 (network-timers.md §5)
    ("00000101", "gprs_timer_2", 10),  # 000 = 2 s, x 5
    ("00100100", "gprs_timer_2", 240),  # 001 = 1 min, x 4
    ("01001001", "gprs_timer", 54 * 60),  # 010 = decihours, x 9: the T3412 default of 54 min
    ("00101100", "gprs_timer", 12 * 60),  # 001 = 1 min, x 12: the T3402 default
    ("11000001", "gprs_timer_3", 320 * 3600),  # 110 = 320 h
    ("01100011", "gprs_timer_3", 6),  # 011 = 2 s, x 3
    ("11100000", "gprs_timer_2", None),  # 111 = deactivated
    ("10000011", "gprs_timer", 180),  # 100 is not defined for GPRS Timer: read as 1 min
])  # fmt: skip
def test_timer_octets_by_hand(octet, timer, seconds):
    assert decode_timer(octet, timer) == seconds


@pytest.mark.parametrize("timer", ["gprs_timer", "gprs_timer_2", "gprs_timer_3"])
@pytest.mark.parametrize("octet", range(256))
def test_encode_decode_round_trip(timer, octet):
    seconds = decode_timer(octet, timer)
    if timer != "gprs_timer_3" and 3 <= octet >> 5 <= 6:
        return  # "read as 1 minute" codes are never sent; their value is sent with unit 001
    assert decode_timer(encode_timer(seconds, timer), timer) == seconds


def test_encode_picks_an_exact_unit_or_refuses():
    assert encode_timer(3600, "gprs_timer_3") == "00000110"  # the finest exact unit: 6 x 10 min
    assert encode_timer(30, "gprs_timer_2") == "00001111"  # 15 x 2 s
    assert encode_timer(None, "gprs_timer") == "11100000"
    with pytest.raises(ValueError, match="cannot be encoded exactly"):
        encode_timer(7, "gprs_timer_2")
    with pytest.raises(ValueError, match="8 characters"):
        decode_timer("0101", "gprs_timer")


def test_edrx_and_paging_time_window():
    """+CEDRXP: 4,"0101","0101","0011": eDRX 81.92 s, PTW (LTE-M) 1.28 s x 4 = 5.12 s."""
    assert decode_edrx("0101") == 81.92 and decode_edrx("1111") == 10485.76
    assert decode_ptw("0011", "lte-m") == 5.12 and decode_ptw("0011", "nb-iot") == 10.24
    with pytest.raises(ValueError):
        decode_edrx("101")
