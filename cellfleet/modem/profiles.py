"""Module profiles: what makes a virtual modem look like a given cellular module.

A :class:`Profile` holds the identity strings (27.007 §5.1-§5.4 +CGMI/+CGMM/+CGMR, V.250 §6.1.3
``ATI``, +GCAP), the ICCID command spellings the module has (reference §3 "ICCID"), the boot
and SIM-ready URCs (reference §5), how it answers commands it does not know (V.250 §5.6.1 says
ERROR; some modules answer ``+CME ERROR: 4``, reference §8.16) and test forms (27.007 §4.1 gives
every extended command a ``=?`` form, some modules answer ERROR, reference §1), the vendor
commands it supports, the +CFUN values and reset forms (27.007 §8.2 and the vendor manuals) and a
per-command simulated latency table (reference §8.3).

Profiles: ``generic`` (permissive 27.007 modem: every ICCID spelling), ``bg96`` (Quectel BG96),
``sara-r410m`` (u-blox SARA-R410M-02B), ``sim7000`` (SIMCom SIM7000E), ``nrf9160`` (Nordic
nRF9160 with the Serial LTE Modem application's ``Ready`` banner).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cellfleet.modem.codec import Command, split_args

#: V.250 and 27.007/27.005 commands every profile has unless it excludes them.
STANDARD_COMMANDS = frozenset(
    {
        # V.250 §6.1-§6.2 basic commands (names as the codec spells them)
        # (no "&V": it is not a V.250 command — "display configuration" is a vendor extension)
        "E", "V", "Q", "Z", "&F", "&W", "I", "X", "&C", "&D", "H",
        "S0", "S3", "S4", "S5", "S6", "S7", "S8", "S10",
        # 27.007 §5 identification, V.250 §6.1.4 aliases
        "+GCAP", "+CGMI", "+CGMM", "+CGMR", "+CGSN", "+GMI", "+GMM", "+GMR", "+GSN", "+CIMI",
        "+CNUM", "+CLAC",
        # 27.007 §8 mobile termination control, §9.1 errors
        "+CPIN", "+CFUN", "+CMEE", "+CRSM", "+CSQ", "+CESQ", "+CCLK", "+CBC",
        # 27.007 §7 network service, §10 packet domain
        "+CREG", "+CGREG", "+CEREG", "+COPS", "+CPSMS", "+CEDRXS",
        "+CGDCONT", "+CGACT", "+CGATT", "+CGPADDR", "+CGEREP",
        # 27.007 §5.5 character set, 27.005 §3 SMS
        "+CSCS", "+CMGF", "+CSCA", "+CSMP", "+CPMS", "+CNMI", "+CMGS", "+CMGR", "+CMGL", "+CMGD",
    }
)  # fmt: skip

#: Every ICCID spelling of the reference §3 (the generic profile accepts them all).
ICCID_COMMANDS = frozenset({"+QCCID", "+CCID", "+ICCID", "%XICCID", "#CCID"})

#: Simulated latency in seconds by command key (reference §8.3; ModemManager allows 315 s for
#: COPS=? and 120 s for COPS=0, real answers take seconds). Keys: ``NAME=?`` test, ``NAME?``
#: read, ``NAME=<first arg>`` or ``NAME=`` set, ``NAME`` any form; the most specific key wins.
#: For commands with a prompt (+CMGS) the latency delays the final result after the payload.
DEFAULT_LATENCY_S: Mapping[str, float] = MappingProxyType(
    {
        "+COPS=?": 8.0,
        "+COPS=0": 2.0,
        "+COPS=1": 2.0,
        "+COPS=4": 2.0,
        "+CGACT=": 1.0,
        "+QIACT=": 1.0,  # Quectel: up to 150 s by the manual; a second in good coverage
        "+CMGS=": 2.0,
        "+CFUN=": 0.5,
    }
)

#: Commands the host may abort while they run, by latency table key (``latency_keys``).
#: V.250 §5.6.1: only action commands "explicitly noted in the description of the command" can
#: be aborted, by any character from the DTE; TS 27.007 notes it for +COPS (test and set, §7.3),
#: +CGATT (§10.1.9) and +CGACT (§10.1.10); the u-blox SARA-R4 AT manual marks +USOCO "can be
#: aborted". Input that arrives while any other command runs waits for its final result.
ABORTABLE_COMMANDS = frozenset({"+COPS=?", "+COPS=", "+CGATT=", "+CGACT=", "+USOCO="})

#: Quectel TCP/IP commands (BG96 TCP/IP application note); handlers live in ``sockets.py``.
QUECTEL_SOCKET_COMMANDS = frozenset(
    {"+QICSGP", "+QIACT", "+QIDEACT", "+QIOPEN", "+QISEND", "+QISENDEX", "+QIRD", "+QICLOSE",
     "+QISTATE", "+QIGETERROR"}
)  # fmt: skip
#: u-blox socket commands (SARA-R4 AT manual §25); handlers live in ``sockets.py``.
UBLOX_SOCKET_COMMANDS = frozenset(
    {"+USOCR", "+USOCO", "+USOWR", "+USOST", "+USORD", "+USORF", "+USOCL", "+USOER",
     "+UDCONF"}
)  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """Everything that differs between module models (see the module docstring)."""

    name: str
    manufacturer: str
    model: str
    revision: str
    #: ``ATI`` lines (V.250 §6.1.3); the command is unsupported if "I" is excluded
    ati_lines: tuple[str, ...]
    gcap: str
    #: ICCID spellings this module answers (reference §3); +CRSM is standard and always there
    iccid_commands: frozenset[str]
    #: URCs after power-on before the SIM is read, then once the SIM is ready (reference §5)
    boot_urcs: tuple[str, ...] = ()
    sim_ready_urcs: tuple[str, ...] = ()
    #: URCs at boot when the SIM waits for its PIN (instead of ``sim_ready_urcs``)
    sim_locked_urcs: tuple[str, ...] = ()
    #: final result for unknown commands: ("ERROR", None) per V.250 §5.6.1 or ("CME", 4)
    unknown_final: tuple[str, int | None] = ("ERROR", None)
    #: "answer": ``=?`` answers per 27.007 §4.1; "error": ERROR to every test form (lpac #300)
    test_form_policy: str = "answer"
    vendor_commands: frozenset[str] = frozenset()
    excluded_commands: frozenset[str] = frozenset()
    #: accepted +CFUN=<fun> values (27.007 §8.2: 0 minimum, 1 full, 4 RF off; vendors add more)
    cfun_values: frozenset[int] = frozenset({0, 1, 4})
    #: +CBC adds the battery voltage in mV (Quectel BG96, SIMCom: ``+CBC: <bcs>,<bcl>,<voltage>``)
    cbc_voltage: bool = False
    #: (fun, rst) pairs that reset the module (Quectel/SIMCom +CFUN=1,1; u-blox +CFUN=15/16)
    cfun_resets: frozenset[tuple[int, int]] = frozenset({(1, 1)})
    #: +CGSN/+CGMR style strings of vendor identity commands, e.g. Quectel +QGMR
    vendor_revision: str = ""
    latency_s: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LATENCY_S)
    #: latency table keys of the commands a character from the host aborts (ABORTABLE_COMMANDS)
    abortable_commands: frozenset[str] = ABORTABLE_COMMANDS
    #: SMS storages and their capacities in messages (27.005 §3.2.2 +CPMS <mem>)
    sms_capacity: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"SM": 50, "ME": 255})
    )

    @property
    def commands(self) -> frozenset[str]:
        """Names of every command this module knows (handlers may still be missing)."""
        return (STANDARD_COMMANDS | self.iccid_commands | self.vendor_commands) - (
            self.excluded_commands
        )

    def supports(self, name: str) -> bool:
        return name in self.commands

    def latency_for(self, command: Command) -> float:
        """Simulated seconds ``command`` takes (0 if the table has no key for it)."""
        for key in latency_keys(command):
            if key in self.latency_s:
                return self.latency_s[key]
        return 0.0

    def abortable(self, command: Command) -> bool:
        """Whether a character from the host aborts ``command`` while it runs (V.250 §5.6.1)."""
        return any(key in self.abortable_commands for key in latency_keys(command))


def latency_keys(command: Command) -> list[str]:
    """Latency table keys of ``command``, most specific first (see DEFAULT_LATENCY_S)."""
    name = command.name
    if command.form == "test":
        return [name + "=?", name]
    if command.form == "read":
        return [name + "?", name]
    if command.form == "set":
        args = split_args(command.args) if command.args else []
        first = (args[0] or "") if args else ""
        return [f"{name}={first.strip()}", name + "=", name]
    return [name]


_QUECTEL_SIM_READY = ("+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE")

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "generic": Profile(
            name="generic",
            manufacturer="Cellfleet",
            model="Generic-27007",
            revision="CF-GEN-1.0",
            ati_lines=("Cellfleet", "Generic-27007", "Revision: CF-GEN-1.0"),
            gcap="+GCAP: +CGSM",
            iccid_commands=ICCID_COMMANDS,
        ),
        "bg96": Profile(
            name="bg96",
            manufacturer="Quectel",
            model="BG96",
            revision="BG96MAR02A07M1G",
            ati_lines=("Quectel", "BG96", "Revision: BG96MAR02A07M1G"),
            gcap="+GCAP: +CGSM",
            iccid_commands=frozenset({"+QCCID"}),
            boot_urcs=("RDY", "+CFUN: 1"),
            sim_ready_urcs=_QUECTEL_SIM_READY,
            sim_locked_urcs=("+CPIN: SIM PIN",),
            vendor_commands=frozenset({"+QCFG", "+QNWINFO", "+QGMR"}) | QUECTEL_SOCKET_COMMANDS,
            vendor_revision="BG96MAR02A07M1G_01.016.01.016",
            cbc_voltage=True,
        ),
        "sara-r410m": Profile(
            name="sara-r410m",
            manufacturer="u-blox",
            model="SARA-R410M-02B",
            revision="L0.0.00.00.05.08,A.02.04",
            ati_lines=("SARA-R410M-02B",),
            gcap="+GCAP: +CGSM",
            iccid_commands=frozenset({"+CCID"}),
            unknown_final=("CME", 4),
            vendor_commands=UBLOX_SOCKET_COMMANDS,
            cfun_values=frozenset({0, 1, 4, 15, 16}),
            cfun_resets=frozenset({(15, 0), (16, 0)}),
        ),
        "sim7000": Profile(
            name="sim7000",
            manufacturer="SIMCOM INCORPORATED",
            model="SIMCOM_SIM7000E",
            revision="Revision:1351B04SIM7000E",
            ati_lines=("SIM7000E R1351",),
            gcap="+GCAP: +CGSM",
            iccid_commands=frozenset({"+CCID"}),
            boot_urcs=("RDY",),
            sim_ready_urcs=("+CPIN: READY", "SMS Ready", "PB DONE"),
            sim_locked_urcs=("+CPIN: SIM PIN",),
            cbc_voltage=True,
        ),
        "nrf9160": Profile(
            name="nrf9160",
            manufacturer="Nordic Semiconductor ASA",
            model="nRF9160-SICA",
            revision="mfw_nrf9160_1.3.5",
            ati_lines=(),
            gcap="",
            iccid_commands=frozenset({"%XICCID"}),
            boot_urcs=("Ready",),
            vendor_commands=frozenset({"%XSYSTEMMODE"}),
            # not in the nRF91 AT command reference (it reads the battery with %XVBAT)
            excluded_commands=frozenset({"I", "+GCAP", "+CBC"}),
            # nRF91 +CFUN: 20/21 LTE off/on, 30/31 GNSS off/on, 40/41 UICC off/on; no reset form
            cfun_values=frozenset({0, 1, 4, 20, 21, 30, 31, 40, 41}),
            cfun_resets=frozenset(),
        ),
    }
)

PROFILE_NAMES = ("generic", "bg96", "sara-r410m", "sim7000", "nrf9160")


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (case-insensitive); ValueError naming the choices."""
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(f"unknown modem profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    return PROFILES[key]
