"""The simulated device behind a virtual modem: what the network thinks of it, and where its
traffic and SMS go.

A :class:`~cellfleet.modem.virtual.VirtualModem` is the AT front end only; registration state,
signal, the operators in reach, PSM sleep and the session records come from a
:class:`DeviceBackend`. :class:`StaticDevice` is the default backend: registered at home on
"Test Network" (PLMN 00101), LTE-M, CSQ 20, no PSM, every field configurable, with an optional
timeline of registration changes so that URC behaviour can be exercised without the network
model. Codes follow 3GPP TS 27.007 (``<stat>`` §7.2 / §10.1.22, ``<AcT>`` §7.3) and TS 24.301
(EMM causes §9.9.3.9).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cellfleet.emulator.wire import (
    DOWN,
    UP,
    Write,
    tcp_exchange_sizes,
    udp_exchange_sizes,
)

#: 27.007 §7.2 / §10.1.22 <stat> values used by the modem layer.
STAT_NOT_SEARCHING = 0
STAT_HOME = 1
STAT_SEARCHING = 2
STAT_DENIED = 3
STAT_UNKNOWN = 4
STAT_ROAMING = 5
REGISTERED_STATS = (STAT_HOME, STAT_ROAMING)

#: 27.007 §7.3 <AcT> values of the radios cellfleet models.
ACT_GSM = 0
ACT_EUTRAN = 7  # LTE and LTE-M (Cat-M1) both report 7
ACT_NB_IOT = 9  # E-UTRAN NB-S1


@dataclass(frozen=True)
class Registration:
    """The network's view of the device (27.007 +CxREG / +COPS fields), while the radio is on."""

    stat: int
    plmn: str | None = None
    operator_long: str | None = None
    operator_short: str | None = None
    act: int = ACT_EUTRAN
    tac: int | None = None  # 16 bits (TS 24.301 §9.9.3.32)
    ci: int | None = None  # 28 bits E-UTRAN cell identity (TS 36.413 §9.2.1.38)
    reject_cause: int | None = None  # EMM cause of the last reject (TS 24.301 §9.9.3.9)
    active_time_s: float | None = None  # granted T3324 (PSM on) — TS 24.301 §10.2
    periodic_tau_s: float | None = None  # granted T3412 extended
    edrx_cycle_s: float | None = None  # granted eDRX cycle (TS 24.008 §10.5.5.32)
    ptw_s: float | None = None  # granted paging time window

    @property
    def registered(self) -> bool:
        """Registered, home or roaming (27.007 <stat> 1 or 5)."""
        return self.stat in REGISTERED_STATS


#: What the modem reports while its radio is off or it is deregistered (27.007 <stat> 0).
NOT_REGISTERED = Registration(stat=STAT_NOT_SEARCHING)


@dataclass(frozen=True)
class Signal:
    """Received signal: RSSI (27.007 §8.5 +CSQ) and LTE RSRP/RSRQ (§8.69 +CESQ); None = unknown."""

    rssi_dbm: float | None = None
    rsrp_dbm: float | None = None
    rsrq_db: float | None = None


@dataclass(frozen=True)
class NetworkEntry:
    """One operator of a +COPS=? list (27.007 §7.3): stat 0 unknown, 1 available, 2 current,
    3 forbidden."""

    stat: int
    long_name: str
    short_name: str
    plmn: str
    act: int = ACT_EUTRAN


@dataclass(frozen=True)
class SessionRecord:
    """One socket exchange as the platform bills it: payload bytes and IP bytes both ways."""

    protocol: str
    remote: str
    uplink_payload_bytes: int
    downlink_payload_bytes: int
    uplink_ip_bytes: int
    downlink_ip_bytes: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class SmsRecord:
    """One mobile-originated SMS handed to the network (+CMGS)."""

    destination: str
    text: str
    at_s: float


@runtime_checkable
class DeviceBackend(Protocol):
    """What a virtual modem needs from the simulated device (module docstring)."""

    imei: str
    imsi: str
    iccid: str
    msisdn: str
    #: SIM PIN; None = PIN check disabled (27.007 §8.3 +CPIN). ``sim_puk`` unblocks it.
    sim_pin: str | None
    sim_puk: str | None

    def registration(self, now_s: float) -> Registration: ...
    def next_change_s(self, now_s: float) -> float | None: ...
    def networks(self, now_s: float) -> list[NetworkEntry]: ...
    def signal(self, now_s: float) -> Signal: ...
    def asleep(self, now_s: float) -> bool: ...
    def radio(self, on: bool, now_s: float) -> None: ...
    def select(self, plmn: str | None, now_s: float) -> bool: ...
    def record_exchange(
        self,
        *,
        protocol: str,
        remote: str,
        uplink_payload_bytes: int,
        downlink_payload_bytes: int,
        start_s: float,
        end_s: float,
    ) -> None: ...
    def record_sms(self, destination: str, text: str, now_s: float) -> None: ...


HOME_NETWORK = NetworkEntry(stat=2, long_name="Test Network", short_name="TestNet", plmn="00101")


def _default_registration() -> Registration:
    return Registration(
        stat=STAT_HOME,
        plmn=HOME_NETWORK.plmn,
        operator_long=HOME_NETWORK.long_name,
        operator_short=HOME_NETWORK.short_name,
        act=ACT_EUTRAN,
        tac=0x002F,
        ci=0x0012BEEF,
    )


@dataclass
class StaticDevice:
    """A device whose network view is configured, not simulated (the default backend).

    ``home`` is what the device reports while attached in automatic mode; ``timeline`` optionally
    replaces it from given simulated times on (sorted ``(at_s, Registration)`` pairs), which is
    how tests make registration change under the modem. After the radio comes on the device is
    "searching" (stat 2) for ``attach_s`` seconds before it reports its registration.
    ``sleep_windows`` are ``(start_s, end_s)`` intervals in which the device sleeps in PSM.
    Manual selection (``select``) moves it to another entry of ``network_list`` that is not
    forbidden (stat 3), roaming (stat 5) unless it is the home PLMN.
    """

    imei: str = "866425030000017"
    imsi: str = "001010123456789"
    iccid: str = "89001012012345678901"
    msisdn: str = "+15550100001"
    sim_pin: str | None = None
    sim_puk: str | None = "12345678"
    home: Registration = field(default_factory=_default_registration)
    timeline: Sequence[tuple[float, Registration]] = ()
    network_list: Sequence[NetworkEntry] = (
        HOME_NETWORK,
        NetworkEntry(stat=1, long_name="Roam Partner", short_name="Roam", plmn="00102"),
        NetworkEntry(stat=3, long_name="Forbidden Net", short_name="Forbid", plmn="00103"),
    )
    signal_now: Signal = Signal(rssi_dbm=-73.0, rsrp_dbm=-100.0, rsrq_db=-10.0)
    battery_percent: int = 100  # +CBC (27.007 §8.4)
    battery_mv: int = 3800
    attach_s: float = 0.0
    sleep_windows: Sequence[tuple[float, float]] = ()
    sessions: list[SessionRecord] = field(default_factory=list)
    sms_sent: list[SmsRecord] = field(default_factory=list)
    radio_on: bool = True
    radio_changed_s: float = float("-inf")
    selected_plmn: str | None = None

    # ------------------------------------------------------------------------ network view
    def registration(self, now_s: float) -> Registration:
        """The configured registration at ``now_s`` (timeline, manual selection, attach delay)."""
        if not self.radio_on:
            return NOT_REGISTERED
        if now_s < self.radio_changed_s + self.attach_s:
            return Registration(stat=STAT_SEARCHING, act=self._base(now_s).act)
        base = self._base(now_s)
        if self.selected_plmn is None or not base.registered:
            return base
        entry = self._entry(self.selected_plmn)
        roaming = entry.plmn != self.imsi[:5] and entry.plmn != self.home.plmn
        return dataclasses.replace(
            base,
            stat=STAT_ROAMING if roaming else STAT_HOME,
            plmn=entry.plmn,
            operator_long=entry.long_name,
            operator_short=entry.short_name,
            act=entry.act,
        )

    def _base(self, now_s: float) -> Registration:
        times = [at_s for at_s, _ in self.timeline]
        i = bisect.bisect_right(times, now_s)
        return self.timeline[i - 1][1] if i else self.home

    def _entry(self, plmn: str) -> NetworkEntry:
        return next(e for e in self.network_list if e.plmn == plmn)

    def next_change_s(self, now_s: float) -> float | None:
        """The next timeline step or end of the attach delay after ``now_s``."""
        candidates = [at_s for at_s, _ in self.timeline if at_s > now_s]
        attached_s = self.radio_changed_s + self.attach_s
        if self.radio_on and attached_s > now_s:
            candidates.append(attached_s)
        candidates += [t for window in self.sleep_windows for t in window if t > now_s]
        return min(candidates, default=None)

    def networks(self, now_s: float) -> list[NetworkEntry]:
        """The +COPS=? list: the configured entries, the one in use marked current (stat 2)."""
        current = self.registration(now_s)
        in_use = current.plmn if current.registered else None
        out = []
        for entry in self.network_list:
            stat = entry.stat
            if stat != 3:
                stat = 2 if entry.plmn == in_use else 1
            out.append(dataclasses.replace(entry, stat=stat))
        return out

    def signal(self, now_s: float) -> Signal:
        return self.signal_now if self.radio_on else Signal()

    def asleep(self, now_s: float) -> bool:
        return any(start_s <= now_s < end_s for start_s, end_s in self.sleep_windows)

    # ------------------------------------------------------------------------ commands
    def radio(self, on: bool, now_s: float) -> None:
        """Radio on (attach again after ``attach_s``) or off (detach at once)."""
        if on != self.radio_on:
            self.radio_on = on
            self.radio_changed_s = now_s

    def select(self, plmn: str | None, now_s: float) -> bool:
        """Manual selection of ``plmn`` (False if not in the list or forbidden), None = automatic."""
        if plmn is None:
            self.selected_plmn = None
            return True
        entry = next((e for e in self.network_list if e.plmn == plmn), None)
        if entry is None or entry.stat == 3:
            return False
        self.selected_plmn = None if plmn == self.home.plmn else plmn
        return True

    def record_exchange(
        self,
        *,
        protocol: str,
        remote: str,
        uplink_payload_bytes: int,
        downlink_payload_bytes: int,
        start_s: float,
        end_s: float,
    ) -> None:
        """Bill one socket exchange at the IP layer through the wire model
        (:mod:`cellfleet.emulator.wire`: TCP with handshake and teardown, UDP one datagram per
        direction), and keep it in ``sessions``."""
        writes = [
            Write(UP, uplink_payload_bytes, "uplink"),
            Write(DOWN, downlink_payload_bytes, "downlink"),
        ]
        if protocol.upper().startswith("TCP"):
            packets = tcp_exchange_sizes(writes)
        else:
            packets = udp_exchange_sizes([w for w in writes if w.size_bytes > 0])
        self.sessions.append(
            SessionRecord(
                protocol=protocol,
                remote=remote,
                uplink_payload_bytes=uplink_payload_bytes,
                downlink_payload_bytes=downlink_payload_bytes,
                uplink_ip_bytes=sum(p.ip_bytes for p in packets if p.direction == UP),
                downlink_ip_bytes=sum(p.ip_bytes for p in packets if p.direction == DOWN),
                start_s=start_s,
                end_s=end_s,
            )
        )

    def record_sms(self, destination: str, text: str, now_s: float) -> None:
        """Keep a mobile-originated SMS in ``sms_sent``."""
        self.sms_sent.append(SmsRecord(destination, text, now_s))
