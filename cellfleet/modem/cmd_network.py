"""Network service commands backed by the simulated device: +CFUN (27.007 §8.2), +CREG (§7.2),
+CGREG (§10.1.20), +CEREG (§10.1.22) with their URCs, +COPS (§7.3), +CSQ (§8.5), +CESQ (§8.69).

The modem mirrors the device's EPS registration in all three of +CREG/+CGREG/+CEREG, as LTE-only
IoT modules with a combined attach do (so that +CREG-based hosts such as python-gsmmodem and
gammu see the registration). Location fields (tac, ci, AcT) are shown only when the device
reports a cell; reject causes (n=3/5) only when there is one; PSM timers (n=4/5) only when the
network granted them, as GPRS Timer 2 / GPRS Timer 3 octets (TS 24.008 §10.5.7.4/§10.5.7.4a).
"""

from __future__ import annotations

import math

from cellfleet.emulator import nas_timers
from cellfleet.modem.cmd_charset import te_arg, te_string
from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    cme,
    ok,
    on_network_change,
    register,
)
from cellfleet.modem.device import NetworkEntry, Registration, Signal
from cellfleet.modem.errors import CmeError

# ----------------------------------------------------------------------- +CFUN
#: nRF91 +CFUN values that map onto 27.007 ones (Nordic AT reference: 20/21 deactivate/activate
#: LTE; 30/31 GNSS and 40/41 UICC leave the LTE radio as it is).
_CFUN_ALIASES = {20: 4, 21: 1}
_CFUN_NO_RADIO_EFFECT = (30, 31, 40, 41)


@register("+CFUN", "read")
def cfun_read(ctx: CommandContext) -> Reply:
    """``+CFUN: <fun>`` (python-gsmmodem crashes on a bare OK, reference §3)."""
    return ok(f"+CFUN: {ctx.state.cfun}")


@register("+CFUN", "set")
def cfun_set(ctx: CommandContext) -> Reply:
    """27.007 §8.2 ``+CFUN=<fun>[,<rst>]``: 0 minimum, 1 full, 4 RF off (the radio detaches and
    the registration URCs report stat 0); the profile's reset forms (``1,1``; u-blox 15/16)
    answer OK and reboot the modem with its boot URCs."""
    ctx.max_args(2)
    fun = ctx.int_arg(0, allowed=ctx.profile.cfun_values)
    rst = ctx.int_arg(1, 0, allowed=(0, 1))
    if fun is None:
        raise CommandError(ctx.bad_parameter())
    if (fun, rst) in ctx.profile.cfun_resets:
        ctx.modem.request_reboot()
        return ok()
    if rst:
        raise CommandError(ctx.bad_parameter())
    if fun not in _CFUN_NO_RADIO_EFFECT:
        ctx.state.cfun = _CFUN_ALIASES.get(fun, fun)
    return ok()


@register("+CFUN", "test")
def cfun_test(ctx: CommandContext) -> Reply:
    values = ",".join(str(v) for v in sorted(ctx.profile.cfun_values))
    resets = "(0,1)" if any(rst for _, rst in ctx.profile.cfun_resets) else "(0)"
    return ok(f"+CFUN: ({values}),{resets}")


# ----------------------------------------------------------------------- +CREG/+CGREG/+CEREG
#: command -> (TaSettings field, highest n): 27.007 §7.2 defines n 0..3 for +CREG, §10.1.20 and
#: §10.1.22 add 4 (PSM timers) and 5 (timers and cause) for +CGREG and +CEREG.
REGISTRATION_COMMANDS = {"+CREG": ("creg_n", 3), "+CGREG": ("cgreg_n", 5), "+CEREG": ("cereg_n", 5)}
#: <cause_type> 0: <reject_cause> is an EMM cause (TS 24.301 Annex A).
CAUSE_TYPE_EMM = "0"


def timer_octet(seconds: float, timer: nas_timers.TimerType) -> str:
    """The 8-bit string of a granted timer: exact if the timer type can hold it, else the
    nearest value it can (TS 24.008 §10.5.7.4 / §10.5.7.4a)."""
    whole = round(seconds)
    try:
        return nas_timers.encode_timer(whole, timer)
    except ValueError:
        units = range(7) if timer == "gprs_timer_3" else range(3)  # the units each type defines
        candidates = [
            (abs(value - whole), code)
            for code in range(0xE0)
            if code >> 5 in units and (value := nas_timers.decode_timer(code, timer)) is not None
        ]
        return f"{min(candidates)[1]:08b}"


def registration_fields(name: str, n: int, reg: Registration) -> str:
    """The fields after ``+CxREG: `` for result code mode ``n`` (URC layout; the read form puts
    ``<n>,`` in front). Trailing omitted parameters are left out, inner ones left empty."""
    fields: list[str | None] = [str(reg.stat)]
    if n >= 2:
        if reg.tac is not None and reg.ci is not None:
            fields += [f'"{reg.tac & 0xFFFF:04X}"', f'"{reg.ci & 0xFFFFFFF:08X}"', str(reg.act)]
        else:
            fields += [None, None, None]
        if name == "+CGREG":
            fields.append(None)  # <rac>: no routing area on E-UTRAN
    if n in (3, 4, 5):
        has_cause = n in (3, 5) and reg.reject_cause is not None
        fields += [CAUSE_TYPE_EMM, str(reg.reject_cause)] if has_cause else [None, None]
    if n in (4, 5):
        granted = reg.registered and reg.active_time_s is not None and reg.periodic_tau_s is not None
        if granted:
            assert reg.active_time_s is not None and reg.periodic_tau_s is not None
            fields += [f'"{timer_octet(reg.active_time_s, "gprs_timer_2")}"',
                       f'"{timer_octet(reg.periodic_tau_s, "gprs_timer_3")}"']  # fmt: skip
        else:
            fields += [None, None]
        if name == "+CGREG":
            fields.append(None)  # <GPRS-READY-timer>: GERAN only
    while fields and fields[-1] is None:
        fields.pop()
    return ",".join(f or "" for f in fields)


def _registration_set(ctx: CommandContext) -> Reply:
    field, highest = REGISTRATION_COMMANDS[ctx.command.name]
    ctx.max_args(1)
    setattr(ctx.state.settings, field, ctx.int_arg(0, 0, allowed=range(highest + 1)))
    return ok()


def _registration_read(ctx: CommandContext) -> Reply:
    name = ctx.command.name
    n = getattr(ctx.state.settings, REGISTRATION_COMMANDS[name][0])
    return ok(f"{name}: {n},{registration_fields(name, n, ctx.modem.network_view(ctx.now_s))}")


def _registration_test(ctx: CommandContext) -> Reply:
    return ok(f"{ctx.command.name}: (0-{REGISTRATION_COMMANDS[ctx.command.name][1]})")


for _name in REGISTRATION_COMMANDS:
    register(_name, "set")(_registration_set)
    register(_name, "read")(_registration_read)
    register(_name, "test")(_registration_test)


@on_network_change
def registration_urcs(modem, old: Registration, new: Registration, me_initiated: bool, now_s: float) -> list[str]:
    """27.007 §7.2/§10.1.20/§10.1.22: a +CxREG URC whenever what mode ``n`` shows changed."""
    settings = modem.state.settings
    out = []
    for name, (field, _) in REGISTRATION_COMMANDS.items():
        n = getattr(settings, field)
        if n and registration_fields(name, n, old) != registration_fields(name, n, new):
            out.append(f"{name}: {registration_fields(name, n, new)}")
    return out


# ----------------------------------------------------------------------- +COPS
COPS_MODES = (0, 1, 2, 3, 4)


def operator_name(ctx: CommandContext, fmt: int, long_name: str | None, short_name: str | None, plmn: str) -> str:
    """``<oper>`` in format 0 long, 1 short, 2 numeric (27.007 §7.3), in the TE character set."""
    name = {0: long_name, 1: short_name}.get(fmt) or plmn
    return te_string(ctx, name) if fmt != 2 else f'"{plmn}"'


@register("+COPS", "read")
def cops_read(ctx: CommandContext) -> Reply:
    """``+COPS: <mode>[,<format>,<oper>,<AcT>]``: the operator only while registered."""
    reg = ctx.modem.network_view(ctx.now_s)
    mode, fmt = ctx.state.cops_mode, ctx.state.settings.cops_format
    if not reg.registered or reg.plmn is None:
        return ok(f"+COPS: {mode}")
    oper = operator_name(ctx, fmt, reg.operator_long, reg.operator_short, reg.plmn)
    return ok(f"+COPS: {mode},{fmt},{oper},{reg.act}")


@register("+COPS", "test")
def cops_test(ctx: CommandContext) -> Reply:
    """The operators in reach (``device.networks``) then ``,,(modes),(formats)``; the radio must
    be on (CME 3 otherwise)."""
    ctx.require_sim()
    if ctx.state.cfun != 1:
        return cme(CmeError.OPERATION_NOT_ALLOWED)
    entries = [
        f"({e.stat},{te_string(ctx, e.long_name)},{te_string(ctx, e.short_name)},\"{e.plmn}\",{e.act})"
        for e in ctx.device.networks(ctx.now_s)
    ]
    return ok("+COPS: " + ",".join(entries) + ",,(0,1,2,3,4),(0,1,2)")


def _find_operator(ctx: CommandContext, fmt: int, oper: str) -> NetworkEntry | None:
    for entry in ctx.device.networks(ctx.now_s):
        if oper == {0: entry.long_name, 1: entry.short_name, 2: entry.plmn}[fmt]:
            return entry
    return None


@register("+COPS", "set")
def cops_set(ctx: CommandContext) -> Reply:
    """27.007 §7.3 ``+COPS=<mode>[,<format>[,<oper>[,<AcT>]]]``: 0 automatic, 1 manual (not in
    reach: CME 30; forbidden: CME 111; refused by the device: CME 32), 2 deregister, 3 format
    only, 4 manual falling back to automatic (the manual selection in force reads as mode 1)."""
    ctx.max_args(4)
    mode = ctx.int_arg(0, allowed=COPS_MODES)
    fmt = ctx.int_arg(1, allowed=(0, 1, 2))
    ctx.int_arg(3, allowed=range(14))  # <AcT> accepted, the device decides the RAT
    state = ctx.state
    if mode is None or (mode == 3 and fmt is None):
        raise CommandError(ctx.bad_parameter())
    if fmt is not None:
        state.settings.cops_format = fmt
    if mode == 3:
        return ok()
    if mode == 2:
        state.cops_mode = 2
        return ok()
    ctx.require_sim()
    if mode == 0:
        ctx.device.select(None, ctx.now_s)
        state.cops_mode, state.cops_plmn = 0, None
        return ok()
    oper = te_arg(ctx, 2)
    if oper is None:
        raise CommandError(ctx.bad_parameter())
    entry = _find_operator(ctx, state.settings.cops_format, oper)
    if entry is not None and entry.stat != 3 and ctx.device.select(entry.plmn, ctx.now_s):
        state.cops_mode, state.cops_plmn = 1, entry.plmn
        return ok()
    if mode == 4:
        ctx.device.select(None, ctx.now_s)
        state.cops_mode, state.cops_plmn = 0, None
        return ok()
    # the network search failed: that takes the command's latency too
    code = CmeError.NO_NETWORK_SERVICE if entry is None else (
        CmeError.PLMN_NOT_ALLOWED if entry.stat == 3 else CmeError.NETWORK_NOT_ALLOWED
    )
    return Reply(final="CME", code=code, latency_s=ctx.profile.latency_for(ctx.command) * ctx.modem.latency_scale)


# ----------------------------------------------------------------------- signal
def csq_rssi(rssi_dbm: float | None) -> int:
    """27.007 §8.5 <rssi>: 0 = -113 dBm or less, 1 = -111, 2..30 = -109..-53, 31 = -51 or more
    (2 dB steps, rounded down), 99 unknown."""
    if rssi_dbm is None:
        return 99
    return min(31, max(0, math.floor((rssi_dbm + 113) / 2)))


def cesq_rsrq(rsrq_db: float | None) -> int:
    """27.007 §8.69 <rsrq>: 0 below -19.5 dB, n in [-20 + n/2, -19.5 + n/2), 34 at -3 dB or
    more, 255 unknown."""
    if rsrq_db is None:
        return 255
    return min(34, max(0, math.floor((rsrq_db + 20) * 2)))


def cesq_rsrp(rsrp_dbm: float | None) -> int:
    """27.007 §8.69 <rsrp>: 0 below -140 dBm, n in [-141 + n, -140 + n), 97 at -44 dBm or more,
    255 unknown."""
    if rsrp_dbm is None:
        return 255
    return min(97, max(0, math.floor(rsrp_dbm + 141)))


def _signal(ctx: CommandContext) -> Signal | None:
    """The device's signal, None (unknown) while not registered nor searching (<stat> 0)."""
    return ctx.device.signal(ctx.now_s) if ctx.modem.network_view(ctx.now_s).stat != 0 else None


@register("+CSQ", "action")
def csq(ctx: CommandContext) -> Reply:
    """``+CSQ: <rssi>,<ber>`` from the device's signal (ber is not modelled: 99)."""
    signal = _signal(ctx)
    return ok(f"+CSQ: {csq_rssi(signal.rssi_dbm if signal else None)},99")


@register("+CSQ", "test")
def csq_test(ctx: CommandContext) -> Reply:
    return ok("+CSQ: (0-31,99),(0-7,99)")


@register("+CESQ", "action")
def cesq(ctx: CommandContext) -> Reply:
    """``+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>``: GERAN/UTRAN unknown (99,99,255,255),
    E-UTRAN from the device."""
    signal = _signal(ctx)
    rsrq = cesq_rsrq(signal.rsrq_db if signal else None)
    rsrp = cesq_rsrp(signal.rsrp_dbm if signal else None)
    return ok(f"+CESQ: 99,99,255,255,{rsrq},{rsrp}")


@register("+CESQ", "test")
def cesq_test(ctx: CommandContext) -> Reply:
    return ok("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)")
