"""SMS TPDUs of the virtual modem: SMS-DELIVER for received messages, SMS-SUBMIT parsing for sent
ones (3GPP TS 23.040 §9.2.2.1 / §9.2.2.2, 27.005 §3.1 <pdu>).

GSM 7-bit packing, UCS2 and semi-octets come from python-gsmmodem-new's :mod:`gsmmodem.pdu`
(its helpers are well used; it has no SMS-DELIVER encoder, so the DELIVER layout is built here
and checked in the tests by decoding it with ``gsmmodem.pdu.decodeSmsPdu``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gsmmodem import pdu as gsmpdu

#: TS 23.040 §9.2.3.1 TP-MTI 00 = SMS-DELIVER; §9.2.3.2 TP-MMS bit 2 set = no more messages.
DELIVER_FIRST_OCTET = 0x04
#: TS 23.040 §9.2.3.23 TP-UDHI: the user data starts with a header.
UDHI_BIT = 0x40
#: TS 23.038 §4 data coding: 0x00 GSM 7-bit default alphabet, 0x08 UCS2.
DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
#: TS 24.008 §10.5.4.7 type of number/numbering plan: 0x91 international ISDN, 0x81 unknown
#: ISDN, TS 23.040 §9.1.2.5 0xD0 alphanumeric (GSM 7-bit).
TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
#: Single-part capacities (TS 23.040 §9.2.3.24: 140 octets of user data) and per part with the
#: 6-octet concatenation header (§9.2.3.24.1, 8-bit reference).
SINGLE_GSM7_SEPTETS = 160
SINGLE_UCS2_CHARS = 70


@dataclass(frozen=True)
class DeliverPdu:
    """One SMS-DELIVER with the service centre address in front, as +CMGR shows it in PDU mode."""

    pdu_hex: str  # SMSC address field + TPDU, upper-case hex
    tpdu_length: int  # octets of the TPDU alone (27.005 §3.1 <length>)
    text: str  # the text this part carries


@dataclass(frozen=True)
class Submit:
    """What a host's SMS-SUBMIT asks for."""

    destination: str
    text: str


def gsm7_septets(text: str) -> bytearray | None:
    """GSM 7-bit default alphabet codes of ``text`` (escape + code for the extension table,
    TS 23.038 §6.2.1.1), None if some character has none."""
    try:
        return gsmpdu.encodeGsm7(text)
    except ValueError:
        return None


def address_field(address: str) -> bytes:
    """TS 23.040 §9.1.2.5 address: length in semi-octets, type of address, value."""
    if address.startswith("+") and address[1:].isdigit():
        digits = address[1:]
        return bytes([len(digits), TOA_INTERNATIONAL]) + bytes(gsmpdu.encodeSemiOctets(digits))
    if address.isdigit():
        return bytes([len(address), TOA_UNKNOWN]) + bytes(gsmpdu.encodeSemiOctets(address))
    septets = gsm7_septets(address) or gsm7_septets("?" * len(address)) or bytearray()
    packed = bytes(gsmpdu.packSeptets(septets))
    useful_semi_octets = (len(septets) * 7 + 3) // 4
    return bytes([useful_semi_octets, TOA_ALPHANUMERIC]) + packed


def smsc_field(smsc: str) -> bytes:
    """The SMSC address in front of a 27.005 <pdu> (TS 24.011 §8.2.5.1): its length counts octets
    (type of address included), 0 = no address."""
    if not smsc:
        return b"\x00"
    toa = TOA_INTERNATIONAL if smsc.startswith("+") else TOA_UNKNOWN
    value = bytes(gsmpdu.encodeSemiOctets(smsc.lstrip("+")))
    return bytes([len(value) + 1, toa]) + value


def timestamp_field(scts: datetime, tz_quarters: int) -> bytes:
    """TS 23.040 §9.2.3.11 TP-SCTS: year..second and the time zone in quarter hours, each as two
    swapped semi-octets; bit 3 of the zone octet is its sign."""
    digits = scts.strftime("%y%m%d%H%M%S") + f"{abs(tz_quarters):02d}"
    octets = bytearray(gsmpdu.encodeSemiOctets(digits))
    if tz_quarters < 0:
        octets[6] |= 0x08
    return bytes(octets)


def _split(text: str, gsm7: bool) -> list[str]:
    if gsm7:
        if len(gsm7_septets(text) or b"") <= SINGLE_GSM7_SEPTETS:
            return [text]
        return list(gsmpdu.divideTextGsm7(text))
    if len(text) <= SINGLE_UCS2_CHARS:
        return [text]
    return list(gsmpdu.divideTextUcs2(text))


def deliver_pdus(
    sender: str, text: str, scts: datetime, *, smsc: str, tz_quarters: int = 0, reference: int = 0
) -> list[DeliverPdu]:
    """SMS-DELIVER PDUs carrying ``text`` from ``sender`` (TS 23.040 §9.2.2.1): GSM 7-bit if
    every character is in the default alphabet, UCS2 otherwise (TS 23.038 §4); texts longer
    than one message are cut into parts with a concatenation header (§9.2.3.24.1, ``reference``
    as its 8-bit reference number)."""
    gsm7 = gsm7_septets(text) is not None
    parts = _split(text, gsm7)
    out = []
    for number, part in enumerate(parts, start=1):
        first = DELIVER_FIRST_OCTET
        udh = b""
        if len(parts) > 1:
            first |= UDHI_BIT
            udh = bytes([5, 0x00, 3, reference % 256, len(parts), number])
        if gsm7:
            septets = gsm7_septets(part) or bytearray()
            # the header is padded with fill bits to a septet boundary (TS 23.040 §9.2.3.24);
            # gsmmodem's packSeptets takes the header's bit count mod 7 as ``padBits`` for that
            fill_bits = (7 - (len(udh) * 8) % 7) % 7 if udh else 0
            user_data = bytes(gsmpdu.packSeptets(septets, padBits=(len(udh) * 8) % 7))
            udl = len(septets) + (len(udh) * 8 + fill_bits) // 7
        else:
            user_data = bytes(gsmpdu.encodeUcs2(part))
            udl = len(user_data) + len(udh)
        tpdu = (
            bytes([first])
            + address_field(sender)
            + bytes([0x00, DCS_GSM7 if gsm7 else DCS_UCS2])  # TP-PID, TP-DCS
            + timestamp_field(scts, tz_quarters)
            + bytes([udl])
            + udh
            + user_data
        )
        full = smsc_field(smsc) + tpdu
        out.append(DeliverPdu(full.hex().upper(), len(tpdu), part))
    return out


def decode_submit(pdu_hex: str, tpdu_length: int) -> Submit:
    """Destination and text of a host's SMS-SUBMIT (+CMGS in PDU mode, 27.005 §3.5.1): the hex
    PDU may start with an SMSC address; ``tpdu_length`` must be the TPDU's octet count.
    ValueError on anything malformed (the caller answers +CMS ERROR: 304)."""
    text = pdu_hex.strip()
    try:
        decoded = gsmpdu.decodeSmsPdu(text)
    except Exception as exc:  # the library raises EncodingError, ValueError, StopIteration, ...
        raise ValueError(f"undecodable PDU: {exc}") from exc
    if decoded.get("type") != "SMS-SUBMIT":
        raise ValueError(f"not an SMS-SUBMIT: {decoded.get('type')}")
    if decoded["tpdu_length"] != tpdu_length:
        raise ValueError(f"<length> {tpdu_length} but the TPDU has {decoded['tpdu_length']} octets")
    number = decoded.get("number") or ""
    return Submit(destination=number, text=decoded.get("text") or "")
