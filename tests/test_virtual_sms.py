"""SMS: SMS-DELIVER PDUs (checked by decoding with gsmmodem.pdu), +CMGS in both modes, +CMGR /
+CMGL / +CMGD, +CNMI routing and buffering, +CPMS counts (27.005 §3, TS 23.040 §9.2)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from golden.transcript import Session
from gsmmodem.pdu import decodeGsm7, decodeSmsPdu, encodeSmsSubmitPdu
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cellfleet.modem.device import NOT_REGISTERED, StaticDevice
from cellfleet.modem.profiles import get_profile
from cellfleet.modem.sms_pdu import decode_submit, deliver_pdus

OK = b"\r\nOK\r\n"
WHEN = datetime(2026, 1, 1, 0, 0, 5)


def test_deliver_pdu_bytes() -> None:
    """TS 23.040 §9.2.2.1 by hand: SMSC 07 91 0100000000F0 (+10000000000), first octet 04
    (SMS-DELIVER, no more messages), OA 0B 91 5155674523F1 (+15557654321), PID 00, DCS 00,
    SCTS 62 10 10 00 00 50 00 (26-01-01 00:00:05 +00), UDL 0A, "hellohello" packed in GSM 7-bit
    (TS 23.038 §6.1.2.1.1) E8 32 9B FD 46 97 D9 EC 37."""
    (pdu,) = deliver_pdus("+15557654321", "hellohello", WHEN, smsc="+10000000000")
    assert pdu.pdu_hex == "07910100000000F0" "040B915155674523F1" "0000" "62101000005000" "0A" "E8329BFD4697D9EC37"
    assert pdu.tpdu_length == 28  # 1 + 8 (OA) + 2 + 7 + 1 + 9


def test_deliver_decodes_with_gsmmodem_incl_negative_time_zone_and_alphanumeric_sender() -> None:
    (pdu,) = deliver_pdus("Cellfleet", "Grüße €", WHEN, smsc="+10000000000", tz_quarters=-8)
    decoded = decodeSmsPdu(pdu.pdu_hex)
    assert decoded["type"] == "SMS-DELIVER"
    assert decoded["number"] == "Cellfleet"
    assert decoded["text"] == "Grüße €"  # ü ß in the GSM 7-bit basic table, € in its extension
    assert decoded["time"].utcoffset() == timedelta(hours=-2)
    assert decoded["tpdu_length"] == pdu.tpdu_length


def test_ucs2_when_the_text_needs_it() -> None:
    (pdu,) = deliver_pdus("+1555", "✓ done", WHEN, smsc="")
    assert pdu.pdu_hex.startswith("00")  # no SMSC address
    # DCS 08 after the 4-digit OA (04 91 5155) and PID 00
    assert pdu.pdu_hex[2:].startswith("0404915155" "0008")
    assert decodeSmsPdu(pdu.pdu_hex)["text"] == "✓ done"


def test_long_texts_are_concatenated() -> None:
    text = "x" * 200
    parts = deliver_pdus("+15557654321", text, WHEN, smsc="+10000000000", reference=42)
    assert [len(p.text) for p in parts] == [153, 47]  # 160 septets alone, 153 with the header
    decoded = [decodeSmsPdu(p.pdu_hex) for p in parts]
    assert "".join(d["text"] for d in decoded) == text
    assert [(d["udh"][0].reference, d["udh"][0].parts, d["udh"][0].number) for d in decoded] == [(42, 2, 1), (42, 2, 2)]


_TEXT = st.text(st.sampled_from("abcXYZ 019@£$¥èéΔ_ΦΓ^{}[]~|€ä✓ЖΩ\n"), min_size=0, max_size=400)


def _user_data_text(pdu_hex: str) -> str:
    """The text of an SMS-DELIVER, decoded independently of gsmmodem (whose unpacker drops a
    final '@' when the septet count is a multiple of 8: it ignores TP-UDL). TS 23.040 §9.2.2.1
    layout; TS 23.038 §6.1.2.1.1 packing: septets least significant bit first."""
    data = bytes.fromhex(pdu_hex)
    pos = 1 + data[0]  # SMSC address
    first = data[pos]
    pos += 1 + 2 + (data[pos + 1] + 1) // 2  # first octet, OA length + type, OA digits
    dcs = data[pos + 1]
    pos += 2 + 7  # PID, DCS, SCTS
    udl, ud = data[pos], data[pos + 1 :]
    header_bytes = ud[0] + 1 if first & 0x40 else 0
    if dcs == 0x08:
        return ud[header_bytes:].decode("utf-16-be")
    skip_bits = -(-header_bytes * 8 // 7) * 7  # the header and its fill bits, in whole septets
    bits = int.from_bytes(ud, "little")
    codes = [(bits >> (7 * i)) & 0x7F for i in range(skip_bits // 7, udl)]
    return decodeGsm7(bytearray(codes))


@settings(max_examples=60, deadline=None)
@given(_TEXT, st.integers(-48, 48))
@example("0000000@", 0)  # 8 septets, the last one @ (code 0)
def test_any_text_round_trips_through_the_deliver_pdus(text: str, tz: int) -> None:
    parts = deliver_pdus("+4915100000000", text, WHEN, smsc="+10000000000", tz_quarters=tz)
    assert "".join(_user_data_text(p.pdu_hex) for p in parts) == text
    decoded = [decodeSmsPdu(p.pdu_hex) for p in parts]
    assert all(d["tpdu_length"] == p.tpdu_length for d, p in zip(decoded, parts, strict=True))
    assert all(d["number"] == "+4915100000000" for d in decoded)
    assert all(p.tpdu_length <= 164 for p in parts)


def test_decode_submit() -> None:
    pdu = encodeSmsSubmitPdu("+15551234567", "hi there")[0]
    assert decode_submit(str(pdu), pdu.tpduLength).destination == "+15551234567"
    with pytest.raises(ValueError, match="<length>"):
        decode_submit(str(pdu), pdu.tpduLength + 1)
    with pytest.raises(ValueError):
        decode_submit("ZZ", 1)
    (deliver,) = deliver_pdus("+1", "x", WHEN, smsc="")
    with pytest.raises(ValueError, match="not an SMS-SUBMIT"):
        decode_submit(deliver.pdu_hex, deliver.tpdu_length)


def test_cmgs_pdu_mode_hands_the_sms_to_the_device_with_incrementing_references() -> None:
    device = StaticDevice()
    s = Session(device=device)
    s.quiet()
    s.modem.state.next_message_reference = 255
    for mr, text in ((255, "first"), (0, "second")):
        pdu = encodeSmsSubmitPdu("+15551234567", text)[0]
        assert s.at(f"AT+CMGS={pdu.tpduLength}") == b"\r\n> "
        assert s.send(str(pdu).encode() + b"\x1a") == b""
        assert s.wait(s.now_s + 2.0) == f"\r\n+CMGS: {mr}\r\n".encode() + OK
    assert [(r.destination, r.text) for r in device.sms_sent] == [("+15551234567", "first"), ("+15551234567", "second")]


def test_cmgs_errors() -> None:
    s = Session()
    s.quiet()
    pdu = encodeSmsSubmitPdu("+15551234567", "x")[0]
    assert s.at("AT+CMGS=0") == b"\r\n+CMS ERROR: 304\r\n"
    s.at(f"AT+CMGS={pdu.tpduLength + 1}")
    assert s.send(str(pdu).encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"  # <length> mismatch
    s.at("AT+CMGF=1")
    assert s.at("AT+CMGS") == b"\r\nERROR\r\n"  # no action form
    assert s.at("AT+CMGS=") == b"\r\n+CMS ERROR: 305\r\n"
    s.at("AT+CFUN=4")
    s.wait(1.0)
    s.at('AT+CMGS="+1555"')
    assert s.send("no service\x1a") == b"\r\n+CMS ERROR: 331\r\n"


def test_esc_cancels_and_a_new_client_can_cancel_a_dangling_prompt() -> None:
    device = StaticDevice()
    s = Session(device=device)
    s.quiet()
    s.at("AT+CMGF=1")
    assert s.at('AT+CMGS="+1555"') == b"\r\n> "
    s.send("half a mess")
    s.modem.host_detached(5.0)  # the client died at the prompt
    assert s.send("\x1b\r", 6.0) == OK  # gammu's ESC CR
    assert s.at("AT") == OK
    assert device.sms_sent == []


def test_echo_during_the_prompt() -> None:
    s = Session()
    s.at("AT+CMGF=1")
    assert s.at('AT+CMGS="+1"') == b'AT+CMGS="+1"\r\r\n> '
    assert s.send("ab\x1a") == b"ab\x1a"


def test_text_mode_cr_lf_line_ends_prompt_per_line_and_the_lf_is_not_text() -> None:
    """Review S3. 27.005 §3.5.1 text mode: after every CR of the text the TA sends the prompt
    again; the LF of a CR LF line end (with the CR or in a later read) is not part of the text."""
    device = StaticDevice()
    s = Session(device=device)
    s.quiet()
    s.at("AT+CMGF=1")
    assert s.at('AT+CMGS="+15551234567"') == b"\r\n> "
    assert s.send("line1\r\n") == b"\r\n> "
    assert s.send("line2\r") == b"\r\n> "
    assert s.send("\n") == b""
    assert s.send("line3\x1a") == b""
    assert s.wait(s.now_s + 2.0) == b"\r\n+CMGS: 0\r\n" + OK
    assert [(r.destination, r.text) for r in device.sms_sent] == [("+15551234567", "line1\rline2\rline3")]


def test_text_mode_line_ends_are_echoed_before_the_next_prompt() -> None:
    s = Session()
    s.at("AT+CMGF=1")
    assert s.at('AT+CMGS="+1"') == b'AT+CMGS="+1"\r\r\n> '
    assert s.send("a\r\nb\x1a") == b"a\r\n\r\n> b\x1a"


def test_cnmi_mode_0_buffers_indications_until_mode_changes() -> None:
    s = Session()
    s.quiet()
    s.at("AT+CNMI=0,1,0,0,0")
    s.modem.inject_sms("+1555", "one", 1.0)
    assert s.modem.take_output() == b""
    assert s.at("AT+CNMI=2,1,0,0,0") == OK + b'\r\n+CMTI: "ME",0\r\n'
    s.at("AT+CNMI=0,1,0,0,0")
    s.modem.inject_sms("+1555", "two", 2.0)
    assert s.at("AT+CNMI=2,1,0,0,1") == OK  # bfr 1: the buffer is cleared
    assert s.at('AT+CPMS="ME"') == b"\r\n+CPMS: 2,255,2,255,2,255\r\n" + OK  # both stored


def test_cnmi_mt_2_pdu_mode_routes_directly() -> None:
    s = Session()
    s.quiet()
    s.at("AT+CNMI=2,2,0,0,0")
    s.modem.inject_sms("+15557654321", "hellohello", 5.0)
    expected = "07910100000000F0040B915155674523F1000062101000005000" "0A" "E8329BFD4697D9EC37"
    assert s.modem.take_output() == f"\r\n+CMT: ,28\r\n{expected}\r\n".encode()
    assert s.at("AT+CPMS?") == b'\r\n+CPMS: "ME",0,255,"ME",0,255,"ME",0,255\r\n' + OK


def test_sms_waits_for_service_and_a_full_storage_drops_it() -> None:
    tiny = dataclasses.replace(get_profile("generic"), sms_capacity={"SM": 1, "ME": 1})
    s = Session(tiny, StaticDevice(timeline=[(0.0, NOT_REGISTERED), (10.0, StaticDevice().home)]))
    s.quiet()
    s.modem.inject_sms("+1555", "waiting", 1.0)
    assert s.modem.take_output() == b""
    assert s.wait(10.0) == b'\r\n+CMTI: "ME",0\r\n'
    s.modem.inject_sms("+1555", "no room", 11.0)
    assert s.modem.take_output() == b""
    assert s.at("AT+CMGL=4") != OK and s.at("AT+CPMS?") == b'\r\n+CPMS: "ME",1,1,"ME",1,1,"ME",1,1\r\n' + OK


def test_cmgl_and_cmgd_flags() -> None:
    s = Session()
    s.quiet()
    for text in ("a", "b", "c"):
        s.modem.inject_sms("+1555", text, 1.0)
    s.modem.take_output()
    s.at("AT+CMGR=1")  # b becomes read
    listing = s.at("AT+CMGL=0")  # unread only: a and c, which become read
    assert listing.count(b"+CMGL: ") == 2 and b"+CMGL: 0,0,,16" in listing and b"+CMGL: 2,0,,16" in listing
    assert s.at("AT+CMGL=0") == OK
    assert s.at("AT+CMGD=?") == b"\r\n+CMGD: (0,1,2),(0-4)\r\n" + OK
    s.at("AT+CMGD=9,1")  # all read: the index is ignored
    assert s.at("AT+CMGD=?") == b"\r\n+CMGD: (),(0-4)\r\n" + OK
    assert s.at("AT+CMGD=255") == b"\r\n+CMS ERROR: 321\r\n"
    assert s.at("AT+CMGL=5") == b"\r\n+CMS ERROR: 304\r\n"


def test_cpms_errors_and_counts() -> None:
    s = Session()
    s.quiet()
    assert s.at('AT+CPMS="SR"') == b"\r\n+CMS ERROR: 303\r\n"
    assert s.at('AT+CPMS="SM"') == b"\r\n+CPMS: 0,50,0,255,0,255\r\n" + OK
    assert s.at("AT+CPMS?") == b'\r\n+CPMS: "SM",0,50,"ME",0,255,"ME",0,255\r\n' + OK


def test_sms_time_stamps_use_the_clock_and_zone() -> None:
    s = Session()
    s.quiet()
    s.at('AT+CCLK="26/07/01,10:00:00-16";+CMGF=1')  # -16 quarters: UTC-4
    s.modem.inject_sms("+1555", "tz", 0.0)
    s.modem.take_output()
    expected = b'\r\n+CMGR: "REC UNREAD","+1555",,"26/07/01,10:00:00-16"\r\ntz\r\n' + OK
    assert s.at("AT+CMGR=0") == expected
    stamp = decodeSmsPdu(s.modem.state.sms.get("ME", 0).pdu_hex)["time"]
    assert stamp == datetime(2026, 7, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=-4)))
