"""Everything a virtual modem remembers, and which of it survives what.

Three lifetimes, as on real modules (reference §8.7):

* :class:`TaSettings` — the V.250 §6.1 "profile" of the terminal adaptor: echo, verbose, quiet,
  +CMEE, +CxREG ``<n>``, +COPS format, +CMGF, +CSCS, +CSMP, +CNMI, +CGEREP and the S-registers.
  ``ATZ`` (V.250 §6.1.1) restores the stored profile, ``AT&F`` (§6.1.2) the factory one,
  ``AT&W`` stores the current one; a reboot also restores the stored profile. These persist
  across client sessions: the next client of the port sees what the last one set (§6.2 of the
  reference: gammu leaves ``+CREG=2`` behind).
* Non-volatile and SIM data (:class:`ModemState` fields above the "volatile" marker): PDP
  contexts (+CGDCONT), PSM/eDRX requests, the SMS service centre, preferred SMS storages, stored
  messages, the clock and the +COPS selection mode. ATZ and reboots keep them.
* Volatile run state: power, +CFUN, SIM unlock, PS attach, context activation. A reboot resets it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: V.250 §6.2 S-register defaults: S0 auto-answer rings, S3 CR, S4 LF, S5 backspace, S6 dial
#: pause, S7 connection timeout, S8 comma pause, S10 carrier-loss delay.
S_REGISTER_DEFAULTS = {0: 0, 3: 13, 4: 10, 5: 8, 6: 2, 7: 50, 8: 2, 10: 2}
#: SIM retry counters: 3 PIN attempts, then 10 PUK attempts (TS 31.101 / ETSI TS 102 221 §9.5)
PIN_ATTEMPTS = 3
PUK_ATTEMPTS = 10


@dataclass
class TaSettings:
    """The terminal adaptor profile (V.250 §6.1; ATZ / AT&F / AT&W)."""

    echo: bool = True  # V.250 §6.2.4 E1 is the power-on default
    verbose: bool = True  # V.250 §6.2.6 V1
    quiet: bool = False  # V.250 §6.2.5 Q0
    x_level: int = 4  # V.250 §6.2.7 result code selection
    dcd_mode: int = 1  # V.250 §6.2.8 &C1
    dtr_mode: int = 2  # V.250 §6.2.9 &D2
    s_registers: dict[int, int] = field(default_factory=lambda: dict(S_REGISTER_DEFAULTS))
    cmee: int = 0  # 27.007 §9.1
    creg_n: int = 0  # 27.007 §7.2
    cgreg_n: int = 0  # 27.007 §10.1.20
    cereg_n: int = 0  # 27.007 §10.1.22
    cops_format: int = 0  # 27.007 §7.3: 0 long, 1 short, 2 numeric
    cmgf: int = 0  # 27.005 §3.2.3: 0 PDU, 1 text
    cscs: str = "GSM"  # 27.007 §5.5 (factory GSM as Quectel/SIMCom/u-blox modules ship)
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)  # 27.005 §3.3.2 fo, vp, pid, dcs
    cnmi: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)  # 27.005 §3.4.1 mode, mt, bm, ds, bfr
    cgerep: tuple[int, int] = (0, 0)  # 27.007 §10.1.19 mode, bfr

    def copy(self) -> TaSettings:
        return copy.deepcopy(self)


@dataclass
class PdpContext:
    """One +CGDCONT context (27.007 §10.1.1) and its activation (+CGACT, §10.1.10)."""

    cid: int
    pdp_type: str = "IP"
    apn: str = ""
    active: bool = False


@dataclass(frozen=True)
class PsmRequest:
    """The +CPSMS request (27.007 §7.38): mode and the requested timer octets (bit strings)."""

    mode: int = 0
    periodic_rau: str | None = None
    gprs_ready_timer: str | None = None
    periodic_tau: str | None = None
    active_time: str | None = None


@dataclass(frozen=True)
class EdrxRequest:
    """The +CEDRXS request of one access technology type (27.007 §7.40)."""

    mode: int  # 1 enabled, 2 enabled with +CEDRXP URCs
    value: str  # 4-bit string (TS 24.008 §10.5.5.32)


@dataclass
class StoredSms:
    """A received message in an SMS storage (27.005 §3.1 <stat> 0 REC UNREAD / 1 REC READ)."""

    status: int
    sender: str
    text: str
    scts: datetime
    pdu_hex: str  # SMSC address + SMS-DELIVER TPDU, upper-case hex (27.005 §3.1 <pdu>)
    tpdu_length: int  # octets of the TPDU (27.005 §3.1 <length> in PDU mode)


class SmsStore:
    """Message storages ("SM", "ME", ...) with fixed capacities; indexes count from 0 within a
    storage, as Quectel modules number them (27.005 §3.1 <index> is manufacturer specific)."""

    def __init__(self, capacity: dict[str, int]) -> None:
        self.capacity = dict(capacity)
        self.slots: dict[str, list[StoredSms | None]] = {m: [None] * n for m, n in capacity.items()}

    def used(self, memory: str) -> int:
        return sum(1 for m in self.slots[memory] if m is not None)

    def store(self, memory: str, sms: StoredSms) -> int | None:
        """Put ``sms`` in the first free slot of ``memory``; its index, None if full."""
        slots = self.slots[memory]
        for index, slot in enumerate(slots):
            if slot is None:
                slots[index] = sms
                return index
        return None

    def valid_index(self, memory: str, index: int) -> bool:
        return 0 <= index < self.capacity[memory]

    def get(self, memory: str, index: int) -> StoredSms | None:
        return self.slots[memory][index]

    def delete(self, memory: str, index: int) -> None:
        self.slots[memory][index] = None

    def items(self, memory: str) -> list[tuple[int, StoredSms]]:
        return [(i, m) for i, m in enumerate(self.slots[memory]) if m is not None]


@dataclass
class ModemState:
    """Settings and data of one virtual modem (lifetimes in the module docstring)."""

    settings: TaSettings = field(default_factory=TaSettings)
    stored: TaSettings = field(default_factory=TaSettings)  # the AT&W profile
    # -- non-volatile / SIM data
    contexts: dict[int, PdpContext] = field(default_factory=lambda: {1: PdpContext(1)})
    psm_request: PsmRequest = field(default_factory=PsmRequest)
    edrx_requests: dict[int, EdrxRequest] = field(default_factory=dict)  # by AcT-type 4/5
    csca: tuple[str, int] = ("+10000000000", 145)  # 27.005 §3.3.1 SMSC address, type
    cpms: tuple[str, str, str] = ("ME", "ME", "ME")  # 27.005 §3.2.2 mem1, mem2, mem3
    sms: SmsStore = field(default_factory=lambda: SmsStore({"SM": 50, "ME": 255}))
    next_message_reference: int = 0  # TP-MR of the next MO SMS (TS 23.040 §9.2.3.6), mod 256
    clock_offset_s: float = 0.0  # +CCLK set minus simulated clock
    tz_quarters: int = 0  # +CCLK time zone in quarter hours
    cops_mode: int = 0  # 27.007 §7.3: 0 auto, 1 manual, 2 deregistered, 4 manual/auto
    cops_plmn: str | None = None  # the manually selected PLMN
    vendor: dict[str, Any] = field(default_factory=dict)  # vendor settings (+QCFG, %XSYSTEMMODE)
    # -- volatile (reset at boot)
    powered: bool = False
    cfun: int = 1
    sim_unlocked: bool = False
    #: SIM retry counters (they live on the SIM, so a reboot keeps them): 3 PIN attempts, then
    #: 10 PUK attempts (TS 31.101 / ETSI TS 102 221 §9.5); with none left the SIM is blocked
    pin_attempts_left: int = PIN_ATTEMPTS
    puk_attempts_left: int = PUK_ATTEMPTS
    ps_detached: bool = False  # +CGATT=0 (27.007 §10.1.9)
    last_line: str | None = None  # for A/ (V.250 §6.2.2)
    #: modules registered by other files (sockets) keep their state here, by name
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def verbose(self) -> bool:
        """V1 (True) or V0: how responses are formatted right now."""
        return self.settings.verbose

    def reboot(self) -> None:
        """Volatile state back to power-on values, TA settings to the stored profile."""
        self.settings = self.stored.copy()
        self.cfun = 1
        self.sim_unlocked = False
        self.ps_detached = False
        self.last_line = None
        for context in self.contexts.values():
            context.active = False
        self.extensions.clear()

    def next_mr(self) -> int:
        """The message reference for the next MO SMS (incrementing mod 256)."""
        mr = self.next_message_reference
        self.next_message_reference = (mr + 1) % 256
        return mr
