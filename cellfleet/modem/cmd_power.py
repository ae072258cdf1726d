"""Power saving requests and the clock: +CPSMS (27.007 §7.38), +CEDRXS / +CEDRXP (§7.40/§7.41)
and +CCLK (§8.15).

The requests are kept as the host set them; what the network granted comes from the device's
registration (+CEREG n=4/5 for PSM, +CEDRXP for eDRX). Timer and eDRX encodings are TS 24.008
§10.5.7.4/§10.5.7.4a and §10.5.5.32 (``cellfleet.emulator.nas_timers``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from cellfleet.emulator import nas_timers
from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    ok,
    on_network_change,
    register,
)
from cellfleet.modem.device import ACT_EUTRAN, ACT_NB_IOT, Registration
from cellfleet.modem.state import EdrxRequest, PsmRequest

_OCTET = re.compile(r"[01]{8}")
_NIBBLE = re.compile(r"[01]{4}")


# ----------------------------------------------------------------------- +CPSMS
def _octet_arg(ctx: CommandContext, index: int, keep: str | None) -> str | None:
    value = ctx.str_arg(index)
    if value is None:
        return keep
    if not _OCTET.fullmatch(value):
        raise CommandError(ctx.bad_parameter())
    return value


@register("+CPSMS", "set")
def cpsms_set(ctx: CommandContext) -> Reply:
    """``+CPSMS=[<mode>[,<RAU>[,<GPRS-READY>[,<TAU>[,<Active-Time>]]]]]``: mode 0 disable,
    1 enable, 2 disable and forget the values (``AT+CPSMS=`` too, 27.007 §7.38); a given timer
    replaces the stored one, an omitted one is kept."""
    ctx.max_args(5)
    mode = ctx.int_arg(0, 2, allowed=(0, 1, 2))
    if mode == 2:
        ctx.state.psm_request = PsmRequest()
        return ok()
    old = ctx.state.psm_request
    ctx.state.psm_request = PsmRequest(
        mode=mode or 0,
        periodic_rau=_octet_arg(ctx, 1, old.periodic_rau),
        gprs_ready_timer=_octet_arg(ctx, 2, old.gprs_ready_timer),
        periodic_tau=_octet_arg(ctx, 3, old.periodic_tau),
        active_time=_octet_arg(ctx, 4, old.active_time),
    )
    return ok()


@register("+CPSMS", "read")
def cpsms_read(ctx: CommandContext) -> Reply:
    """``+CPSMS: <mode>,[<RAU>],[<GPRS-READY>],[<TAU>],[<Active-Time>]`` (the request)."""
    r = ctx.state.psm_request
    values = [r.periodic_rau, r.gprs_ready_timer, r.periodic_tau, r.active_time]
    return ok(f"+CPSMS: {r.mode}," + ",".join(f'"{v}"' if v else "" for v in values))


@register("+CPSMS", "test")
def cpsms_test(ctx: CommandContext) -> Reply:
    return ok('+CPSMS: (0,1,2),,,("00000000"-"11111111"),("00000000"-"11111111")')


# ----------------------------------------------------------------------- +CEDRXS / +CEDRXP
#: 27.007 §7.40 <AcT-type>: 4 E-UTRAN (WB-S1 mode, LTE-M), 5 E-UTRAN (NB-S1 mode).
ACT_TYPE_WB_S1 = 4
ACT_TYPE_NB_S1 = 5
ACT_TYPE_OF_ACT = {ACT_EUTRAN: ACT_TYPE_WB_S1, ACT_NB_IOT: ACT_TYPE_NB_S1}
RAT_OF_ACT_TYPE = {ACT_TYPE_WB_S1: "lte-m", ACT_TYPE_NB_S1: "nb-iot"}
#: requested eDRX value when the host enables eDRX without one (20.48 s)
DEFAULT_EDRX_VALUE = "0010"


def edrx_bits(cycle_s: float) -> str:
    """4-bit eDRX value of the nearest cycle length (TS 24.008 Table 10.5.5.32)."""
    index = min(range(16), key=lambda i: abs(nas_timers.EDRX_CYCLE_S[i] - cycle_s))
    return f"{index:04b}"


def ptw_bits(ptw_s: float, act_type: int) -> str:
    """4-bit paging time window: step 1.28 s (WB-S1) or 2.56 s (NB-S1) times (n + 1)."""
    step_s = nas_timers.PTW_STEP_S[RAT_OF_ACT_TYPE[act_type]]
    return f"{min(15, max(0, round(ptw_s / step_s) - 1)):04b}"


@register("+CEDRXS", "set")
def cedrxs_set(ctx: CommandContext) -> Reply:
    """``+CEDRXS=[<mode>,[<AcT-type>[,<eDRX>]]]``: 0 disable, 1 enable, 2 enable with +CEDRXP
    URCs, 3 disable and reset every AcT-type (``AT+CEDRXS=`` too)."""
    ctx.max_args(3)
    mode = ctx.int_arg(0, 3, allowed=(0, 1, 2, 3))
    requests = ctx.state.edrx_requests
    if mode == 3:
        requests.clear()
        return ok()
    act_type = ctx.int_arg(1, allowed=(ACT_TYPE_WB_S1, ACT_TYPE_NB_S1))
    if act_type is None:
        raise CommandError(ctx.bad_parameter())
    value = ctx.str_arg(2)
    if value is not None and not _NIBBLE.fullmatch(value):
        raise CommandError(ctx.bad_parameter())
    if mode == 0:
        requests.pop(act_type, None)
        return ok()
    previous = requests.get(act_type)
    value = value or (previous.value if previous else DEFAULT_EDRX_VALUE)
    requests[act_type] = EdrxRequest(mode=mode or 1, value=value)
    if mode == 2:
        urc = edrxp_urc(ctx.state.edrx_requests, ctx.modem.network_view(ctx.now_s))
        if urc is not None:
            ctx.urc(urc)
    return ok()


@register("+CEDRXS", "read")
def cedrxs_read(ctx: CommandContext) -> Reply:
    """One ``+CEDRXS: <AcT-type>,"<eDRX>"`` line per enabled AcT-type."""
    return ok(*(f'+CEDRXS: {act},"{r.value}"' for act, r in sorted(ctx.state.edrx_requests.items())))


@register("+CEDRXS", "test")
def cedrxs_test(ctx: CommandContext) -> Reply:
    return ok('+CEDRXS: (0-3),(4,5),("0000"-"1111")')


def edrxp_urc(requests: dict[int, EdrxRequest], reg: Registration) -> str | None:
    """``+CEDRXP: <AcT-type>,"<requested>","<provided>","<PTW>"`` (27.007 §7.41) for the RAT the
    device is registered on, if the host asked for URCs (mode 2) and the network grants eDRX."""
    act_type = ACT_TYPE_OF_ACT.get(reg.act)
    request = requests.get(act_type) if act_type is not None else None
    if request is None or request.mode != 2 or not reg.registered or reg.edrx_cycle_s is None:
        return None
    assert act_type is not None
    ptw = ptw_bits(reg.ptw_s, act_type) if reg.ptw_s is not None else None
    tail = f',"{ptw}"' if ptw is not None else ""
    return f'+CEDRXP: {act_type},"{request.value}","{edrx_bits(reg.edrx_cycle_s)}"{tail}'


@on_network_change
def edrx_urcs(modem, old: Registration, new: Registration, me_initiated: bool, now_s: float) -> list[str]:
    """+CEDRXP when the network-provided eDRX parameters change (27.007 §7.41)."""
    requests = modem.state.edrx_requests
    after = edrxp_urc(requests, new)
    return [after] if after is not None and after != edrxp_urc(requests, old) else []


# ----------------------------------------------------------------------- +CBC
@register("+CBC", "action")
def cbc(ctx: CommandContext) -> Reply:
    """27.007 §8.4 ``+CBC: <bcs>,<bcl>``: 0 = powered by the battery, its charge in percent;
    Quectel and SIMCom add the voltage in mV. Devices without a battery model report a full
    3.8 V cell."""
    level = getattr(ctx.device, "battery_percent", 100)
    voltage = f",{getattr(ctx.device, 'battery_mv', 3800)}" if ctx.profile.cbc_voltage else ""
    return ok(f"+CBC: 0,{level}{voltage}")


@register("+CBC", "test")
def cbc_test(ctx: CommandContext) -> Reply:
    return ok("+CBC: (0-3),(0-100)")


# ----------------------------------------------------------------------- +CCLK
_CCLK = re.compile(r"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-])(\d\d)")


def cclk_text(local: datetime, tz_quarters: int) -> str:
    """27.007 §8.15 ``"yy/MM/dd,hh:mm:ss±zz"``, zz in quarters of an hour."""
    sign = "-" if tz_quarters < 0 else "+"
    return f'"{local:%y/%m/%d,%H:%M:%S}{sign}{abs(tz_quarters):02d}"'


@register("+CCLK", "read")
def cclk_read(ctx: CommandContext) -> Reply:
    tz = ctx.state.tz_quarters
    local = ctx.modem.clock(ctx.now_s) + timedelta(minutes=15 * tz)
    return ok(f"+CCLK: {cclk_text(local, tz)}")


@register("+CCLK", "set")
def cclk_set(ctx: CommandContext) -> Reply:
    """``+CCLK="yy/MM/dd,hh:mm:ss±zz"`` sets the clock (years 2000-2099) and time zone."""
    ctx.max_args(1)
    match = _CCLK.fullmatch(ctx.str_arg(0) or "")
    if match is None:
        raise CommandError(ctx.bad_parameter())
    yy, mo, dd, hh, mi, ss, sign, zz = match.groups()
    tz = int(zz) * (-1 if sign == "-" else 1)
    try:
        local = datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss), tzinfo=ctx.modem.clock_epoch.tzinfo)
    except ValueError as exc:
        raise CommandError(ctx.bad_parameter()) from exc
    if abs(tz) > 96:
        raise CommandError(ctx.bad_parameter())
    utc = local - timedelta(minutes=15 * tz)
    ctx.state.clock_offset_s = (utc - ctx.modem.clock(ctx.now_s)).total_seconds() + ctx.state.clock_offset_s
    ctx.state.tz_quarters = tz
    return ok()
