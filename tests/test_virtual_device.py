"""StaticDevice, the default backend of a virtual modem: network view, selection, sleep, and the
session records its socket traffic lands in (billed through the wire model)."""

from __future__ import annotations

import dataclasses

from cellfleet.modem.device import (
    NOT_REGISTERED,
    DeviceBackend,
    Registration,
    StaticDevice,
    _default_registration,
)


def test_static_device_is_a_device_backend() -> None:
    assert isinstance(StaticDevice(), DeviceBackend)


def test_default_view() -> None:
    device = StaticDevice()
    reg = device.registration(0.0)
    assert (reg.stat, reg.plmn, reg.operator_long, reg.act, reg.tac, reg.ci) == (1, "00101", "Test Network", 7, 0x2F, 0x12BEEF)
    assert device.signal(0.0).rssi_dbm == -73.0  # CSQ 20 = (-73 + 113) / 2
    assert device.next_change_s(0.0) is None and not device.asleep(0.0)


def test_timeline_and_attach_delay() -> None:
    later = dataclasses.replace(_default_registration(), tac=0x99)
    device = StaticDevice(timeline=[(10.0, later)], attach_s=3.0)
    assert device.next_change_s(0.0) == 10.0
    assert device.registration(10.0).tac == 0x99
    device.radio(False, 20.0)
    assert device.registration(20.0) == NOT_REGISTERED and device.signal(20.0).rssi_dbm is None
    device.radio(True, 21.0)
    assert device.registration(22.0) == Registration(stat=2, act=7)
    assert device.next_change_s(22.0) == 24.0
    assert device.registration(24.0).tac == 0x99


def test_manual_selection() -> None:
    device = StaticDevice()
    assert device.select("00103", 0.0) is False  # forbidden
    assert device.select("99999", 0.0) is False  # not in reach
    assert device.select("00102", 0.0) is True
    reg = device.registration(0.0)
    assert (reg.stat, reg.plmn, reg.operator_short) == (5, "00102", "Roam")
    assert [(e.plmn, e.stat) for e in device.networks(0.0)] == [("00101", 1), ("00102", 2), ("00103", 3)]
    device.select(None, 1.0)
    assert device.registration(1.0).stat == 1


def test_sleep_windows() -> None:
    device = StaticDevice(sleep_windows=[(5.0, 8.0)])
    assert [device.asleep(t) for t in (4.9, 5.0, 7.9, 8.0)] == [False, True, True, False]
    assert device.next_change_s(0.0) == 5.0 and device.next_change_s(5.0) == 8.0


def test_record_exchange_bills_ip_bytes() -> None:
    """Default wire options (IPv4, Linux TCP options): SYN/SYN-ACK 60 bytes (20 IP + 20 TCP + 20
    options), other segments 52 (12 bytes of timestamps). TCP 100 up / 200 down: up = SYN 60 +
    ACK 52 + data 152 + delayed ACK 52 + FIN 52 + last ACK 52 = 420; down = SYN-ACK 60 + data 252
    + ACK 52 + FIN 52 = 416. UDP: 20 + 8 + payload per datagram."""
    device = StaticDevice()
    device.record_exchange(protocol="TCP", remote="198.51.100.7:443", uplink_payload_bytes=100,
                           downlink_payload_bytes=200, start_s=1.0, end_s=2.0)  # fmt: skip
    device.record_exchange(protocol="UDP", remote="198.51.100.7:5683", uplink_payload_bytes=100,
                           downlink_payload_bytes=0, start_s=3.0, end_s=3.5)  # fmt: skip
    tcp, udp = device.sessions
    assert (tcp.uplink_ip_bytes, tcp.downlink_ip_bytes) == (420, 416)
    assert (udp.uplink_ip_bytes, udp.downlink_ip_bytes) == (128, 0)


def test_record_sms() -> None:
    device = StaticDevice()
    device.record_sms("+15551234567", "hi", 4.0)
    assert [(s.destination, s.text, s.at_s) for s in device.sms_sent] == [("+15551234567", "hi", 4.0)]
