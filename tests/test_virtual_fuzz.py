"""Hypothesis: arbitrary bytes in arbitrary chunks never make the virtual modem raise, and
afterwards ESC CR (cancelling a pending prompt, aborting a long command) then ``AT`` CR still
gets its OK, in whatever result format (V0/V1, Q1) the bytes left behind."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellfleet.modem.codec import format_final
from cellfleet.modem.profiles import PROFILE_NAMES
from cellfleet.modem.virtual import VirtualModem

#: Fragments that reach deep states (prompts, latency, settings, resets) mixed with noise.
FRAGMENTS = [
    b"AT", b"at", b"\r", b"\n", b"\r\n", b"\x1a", b"\x1b", b"\x08", b"A/", b";", b",", b'"', b"=?", b"?", b"=",
    b"AT+CMGS=20\r", b'AT+CMGF=1;+CMGS="+1555"\r', b"AT+COPS=?\r", b"AT+CFUN=1,1\r", b"AT+CFUN=0\r", b"ATE0\r",
    b"ATV0\r", b"ATQ1\r", b"AT&F\r", b"ATZ\r", b"AT&W\r", b"AT+CEREG=5\r", b"AT+CGACT=1,1\r", b"AT+CGATT=0\r",
    b'AT+CSCS="UCS2"\r', b"AT+CNMI=0,2\r", b"AT+CMGL=4\r", b"AT+CMGD=0,4\r", b"AT+CPSMS=1\r", b'AT+COPS=1,2,"00102"\r',
    b'AT+CPIN="0000"\r', b'AT+QCFG="band",1,2,3\r', b"AT%XSYSTEMMODE=1,1,0,0\r", b"AT+CCLK?\r", b"ATS3=7\r",
]  # fmt: skip
#: Besides bytes: an MT SMS arrives, or the client closes the port.
SMS, DETACH = "sms", "detach"
STEPS = st.lists(
    st.one_of(st.binary(max_size=12), st.sampled_from(FRAGMENTS), st.sampled_from([SMS, DETACH])),
    max_size=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PROFILE_NAMES), STEPS, st.lists(st.floats(0, 5), min_size=25, max_size=25))
def test_garbage_never_breaks_the_modem(profile: str, steps: list[bytes | str], gaps_s: list[float]) -> None:
    modem = VirtualModem(profile)
    now_s = 0.0
    modem.power_on(now_s)
    for step, gap_s in zip(steps, gaps_s, strict=False):
        now_s += gap_s
        if step == SMS:
            modem.inject_sms("+15557654321", "fuzz", now_s)
        elif step == DETACH:
            modem.host_detached(now_s)
        else:
            modem.receive(bytes(step), now_s)  # type: ignore[arg-type]
        modem.take_output()
    # let every pending command, reboot and URC run out
    while (due := modem.next_due_s()) is not None and due < now_s + 100:
        now_s = max(now_s, due)
        modem.advance(now_s)
    modem.take_output()
    # the fuzz may have set S3 (ATS3=7): the host ends its lines with the terminator in force
    # (V.250 §6.2.1), and frames are S3/S4 (§6.2.1, §6.2.2)
    registers = modem.state.settings.s_registers
    s3 = bytes([registers[3]])
    modem.receive(b"\x1b" + s3 + b"AT" + s3, now_s)
    modem.advance(now_s + 20)  # the ESC may have aborted a command (answered at once)
    out = modem.take_output()
    settings_now = modem.state.settings
    ok = format_final("OK", verbose=settings_now.verbose, s3=registers[3], s4=registers[4])
    if settings_now.quiet:
        assert not out.endswith(ok)
        # V.250 §6.2.5: Q0 is in force by the time ATQ0's own result is issued
        modem.receive(b"ATQ0" + s3, now_s + 20)
        modem.advance(now_s + 40)
        out = modem.take_output()
        assert not modem.state.settings.quiet
    assert out.endswith(ok), out


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_esc_cr_at_recovers_from_a_prompt_and_a_long_command(profile: str) -> None:
    modem = VirtualModem(profile)
    modem.power_on(0.0)
    modem.receive(b"ATE0\rAT+CMGS=5\r", 0.0)
    assert modem.take_output().endswith(b"\r\n> ")
    modem.receive(b"\x1b\rAT\r", 1.0)
    assert modem.take_output() == b"\r\nOK\r\n\r\nOK\r\n"  # the cancelled prompt, then AT
    modem.receive(b"AT+COPS=?\r", 2.0)
    modem.receive(b"\x1b\rAT\r", 3.0)
    assert modem.take_output() == b"\r\nERROR\r\n\r\nOK\r\n"  # the aborted COPS=?, then AT
