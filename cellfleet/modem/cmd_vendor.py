"""Vendor commands of the profiles (reference §4): Quectel BG96 ``+QCFG`` items, ``+QNWINFO`` and
``+QGMR`` (Quectel BG96 AT Commands Manual); Nordic nRF91 ``%XSYSTEMMODE`` (nRF91 AT Commands
reference). Their settings are kept in ``state.vendor`` (non-volatile, as on the modules) and do
not steer the simulated device: the device decides its RAT and bands.
"""

from __future__ import annotations

import re

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    ok,
    register,
)
from cellfleet.modem.device import ACT_NB_IOT

# ----------------------------------------------------------------------- Quectel +QCFG
#: item -> (factory value, validator of the set value); formats as in the reference §4.
_HEX = re.compile(r"(0[xX])?[0-9A-Fa-f]{1,16}")
QCFG_ITEMS = {
    "iotopmode": ("2", lambda v: v in ("0", "1", "2")),  # 0 eMTC, 1 NB-IoT, 2 both
    "nwscanseq": ("020301", lambda v: re.fullmatch(r"(0[1-3]){1,3}", v) is not None),  # 01 GSM 02 eMTC 03 NB
    "nwscanmode": ("0", lambda v: v in ("0", "1", "3")),  # 0 auto, 1 GSM only, 3 LTE only
}
QCFG_BAND_FACTORY = ("0xf", "0x400a0e189f", "0xa0e189f")  # GSM, Cat-M1, Cat-NB1 band masks


def _qcfg(ctx: CommandContext) -> dict[str, tuple[str, ...]]:
    stored = ctx.state.vendor.setdefault("qcfg", {})
    for item, (factory, _) in QCFG_ITEMS.items():
        stored.setdefault(item, (factory,))
    stored.setdefault("band", QCFG_BAND_FACTORY)
    return stored


@register("+QCFG", "set")
def qcfg(ctx: CommandContext) -> Reply:
    """``AT+QCFG="<item>"`` reads ``+QCFG: "<item>",<values>``; ``AT+QCFG="<item>",<values>
    [,<effect>]`` sets it. Items: iotopmode, nwscanseq, nwscanmode, band (three hex masks)."""
    item = (ctx.str_arg(0) or "").lower()
    stored = _qcfg(ctx)
    if item not in stored:
        raise CommandError(ctx.bad_parameter())
    values = [a.value or "" for a in ctx.args[1:]]
    if not values:
        return ok(f'+QCFG: "{item}",' + ",".join(stored[item]))
    if item == "band":
        masks, effect = values[:3], values[3:]
        if len(masks) != 3 or not all(_HEX.fullmatch(m) for m in masks):
            raise CommandError(ctx.bad_parameter())
        new = tuple(m if m.lower().startswith("0x") else "0x" + m for m in masks)
    else:
        (value, *effect) = values
        if not QCFG_ITEMS[item][1](value):
            raise CommandError(ctx.bad_parameter())
        new = (value,)
    if effect and effect != ["0"] and effect != ["1"]:
        raise CommandError(ctx.bad_parameter())
    stored[item] = new
    return ok()


@register("+QCFG", "test")
def qcfg_test(ctx: CommandContext) -> Reply:
    return ok(
        '+QCFG: "iotopmode",(0-2),(0,1)',
        '+QCFG: "nwscanseq",(00-03),(0,1)',
        '+QCFG: "nwscanmode",(0,1,3),(0,1)',
        '+QCFG: "band",(0-f),(0-400a0e189f),(0-a0e189f),(0,1)',
    )


#: The static network's serving carrier as +QNWINFO reports it (the device has no band model).
SERVING_BAND = "LTE BAND 3"
SERVING_EARFCN = 1650


@register("+QNWINFO", "action")
def qnwinfo(ctx: CommandContext) -> Reply:
    """``+QNWINFO: "<act>","<oper>","<band>",<channel>`` (reference §4), ``No Service`` when
    not registered; BG96 names its RATs "CAT-M1" and "CAT-NB1"."""
    reg = ctx.modem.network_view(ctx.now_s)
    if not reg.registered:
        return ok("+QNWINFO: No Service")
    act = "CAT-NB1" if reg.act == ACT_NB_IOT else "CAT-M1"
    return ok(f'+QNWINFO: "{act}","{reg.plmn}","{SERVING_BAND}",{SERVING_EARFCN}')


@register("+QGMR", "action")
def qgmr(ctx: CommandContext) -> Reply:
    """Quectel's full firmware version (``+CGMR`` plus the build)."""
    return ok(ctx.profile.vendor_revision)


# ----------------------------------------------------------------------- Nordic %XSYSTEMMODE
XSYSTEMMODE_FACTORY = (1, 0, 0, 0)  # LTE-M, NB-IoT, GNSS, LTE preference


@register("%XSYSTEMMODE", "set")
def xsystemmode_set(ctx: CommandContext) -> Reply:
    """``AT%XSYSTEMMODE=<LTE-M>,<NB-IoT>,<GNSS>,<preference>`` (0/1 each, preference 0-4)."""
    ctx.max_args(4)
    values = tuple(ctx.int_arg(i, allowed=range(5) if i == 3 else (0, 1)) for i in range(4))
    if any(v is None for v in values):
        raise CommandError(ctx.bad_parameter())
    ctx.state.vendor["xsystemmode"] = values
    return ok()


@register("%XSYSTEMMODE", "read")
def xsystemmode_read(ctx: CommandContext) -> Reply:
    values = ctx.state.vendor.get("xsystemmode", XSYSTEMMODE_FACTORY)
    return ok("%XSYSTEMMODE: " + ",".join(str(v) for v in values))


@register("%XSYSTEMMODE", "test")
def xsystemmode_test(ctx: CommandContext) -> Reply:
    return ok("%XSYSTEMMODE: (0,1),(0,1),(0,1),(0-4)")
