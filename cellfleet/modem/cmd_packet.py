"""Packet domain commands: +CGDCONT (27.007 §10.1.1), +CGATT (§10.1.9), +CGACT (§10.1.10),
+CGPADDR (§10.1.14), +CGEREP and the +CGEV URCs (§10.1.19).

A context is active only after +CGACT (the attach-time default bearer is not shown as an active
context); it is deactivated when the device detaches. Addresses are deterministic: IPv4
``10.<cid>.<a>.<b>`` with ``a.b`` from the last digits of the IMSI, so every device and context
has its own.
"""

from __future__ import annotations

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Reply,
    cme,
    ok,
    on_network_change,
    register,
)
from cellfleet.modem.device import Registration
from cellfleet.modem.errors import CmeError
from cellfleet.modem.state import PdpContext

#: 27.007 §10.1.1 <PDP_type> values this modem takes (canonical spelling by upper-case key).
PDP_TYPES = {"IP": "IP", "IPV6": "IPV6", "IPV4V6": "IPV4V6", "NON-IP": "Non-IP"}
CID_RANGE = range(1, 16)


def pdp_address(imsi: str, cid: int, pdp_type: str) -> str | None:
    """The address the network gives context ``cid`` (None for Non-IP). IPv6 contexts get
    ``fd00::<cid>:<a>:<b>`` in 27.007's dotted form (16 decimal octets, §10.1.14 without
    +CGPIAF)."""
    number = int(imsi[-5:]) if imsi[-5:].isdigit() else 0
    high, low = (number >> 8) & 0xFF, number & 0xFF
    if pdp_type in ("IP", "IPV4V6"):
        return f"10.{cid}.{high}.{low}"
    if pdp_type == "IPV6":
        octets = [0xFD] + [0] * 11 + [0, cid, high, low]
        return ".".join(str(o) for o in octets)
    return None


def _cgev(ctx_or_modem, text: str) -> list[str]:
    """+CGEV URCs are reported with +CGEREP mode 1 or 2 (mode 0 buffers them; here: dropped)."""
    state = ctx_or_modem.state
    return [f"+CGEV: {text}"] if state.settings.cgerep[0] in (1, 2) else []


# ----------------------------------------------------------------------- +CGDCONT
@register("+CGDCONT", "set")
def cgdcont_set(ctx: CommandContext) -> Reply:
    """``+CGDCONT=<cid>[,<PDP_type>[,<APN>[,...]]]`` defines a context; ``+CGDCONT=<cid>`` alone
    makes it undefined. An active context cannot be changed (CME 3)."""
    cid = ctx.int_arg(0, allowed=CID_RANGE)
    if cid is None:
        raise CommandError(ctx.bad_parameter())
    contexts = ctx.state.contexts
    if cid in contexts and contexts[cid].active:
        return cme(CmeError.OPERATION_NOT_ALLOWED)
    if len(ctx.args) == 1:
        contexts.pop(cid, None)
        return ok()
    pdp_type = PDP_TYPES.get((ctx.str_arg(1) or "IP").upper())
    if pdp_type is None:
        raise CommandError(ctx.bad_parameter())
    contexts[cid] = PdpContext(cid, pdp_type, ctx.str_arg(2) or "")
    return ok()


@register("+CGDCONT", "read")
def cgdcont_read(ctx: CommandContext) -> Reply:
    """One ``+CGDCONT: <cid>,"<type>","<APN>","<PDP_addr>",0,0,0,0`` per defined context (the
    requested static address: none, shown as 0.0.0.0 for IPv4 types)."""
    lines = []
    for cid, c in sorted(ctx.state.contexts.items()):
        requested = "0.0.0.0" if c.pdp_type in ("IP", "IPV4V6") else ""
        lines.append(f'+CGDCONT: {cid},"{c.pdp_type}","{c.apn}","{requested}",0,0,0,0')
    return ok(*lines)


@register("+CGDCONT", "test")
def cgdcont_test(ctx: CommandContext) -> Reply:
    return ok(*(f'+CGDCONT: (1-15),"{t}",,,(0),(0),(0),(0)' for t in PDP_TYPES.values()))


# ----------------------------------------------------------------------- +CGATT
@register("+CGATT", "set")
def cgatt_set(ctx: CommandContext) -> Reply:
    """``+CGATT=1`` attach (the device attaches when its radio is on), ``=0`` detach: the modem
    deregisters (``+CGEV: ME DETACH``) until ``+CGATT=1``."""
    ctx.max_args(1)
    attach = ctx.int_arg(0, allowed=(0, 1))
    if attach is None:
        raise CommandError(ctx.bad_parameter())
    if attach:
        ctx.require_sim()
    ctx.state.ps_detached = not attach
    return ok()


@register("+CGATT", "read")
def cgatt_read(ctx: CommandContext) -> Reply:
    return ok(f"+CGATT: {1 if ctx.modem.network_view(ctx.now_s).registered else 0}")


@register("+CGATT", "test")
def cgatt_test(ctx: CommandContext) -> Reply:
    return ok("+CGATT: (0,1)")


# ----------------------------------------------------------------------- +CGACT
@register("+CGACT", "set")
def cgact_set(ctx: CommandContext) -> Reply:
    """``+CGACT=<state>[,<cid>[,...]]`` (no cid: every defined context). Activation needs
    network service (CME 30) and attaches first if the host detached (§10.1.10); each change is
    reported as ``+CGEV: ME PDN ACT <cid>`` / ``ME PDN DEACT <cid>``."""
    activate = ctx.int_arg(0, allowed=(0, 1))
    if activate is None:
        raise CommandError(ctx.bad_parameter())
    contexts = ctx.state.contexts
    cids = [ctx.int_arg(i, allowed=CID_RANGE) for i in range(1, len(ctx.args))]
    chosen = [c for c in cids if c is not None] or sorted(contexts)
    if any(cid not in contexts for cid in chosen):
        raise CommandError(ctx.bad_parameter())
    if activate:
        ctx.require_sim()
        if ctx.state.ps_detached:
            ctx.state.ps_detached = False
            ctx.modem.sync_network(ctx.now_s)  # attach now (an attach delay means no service yet)
        if not ctx.modem.network_view(ctx.now_s).registered:
            return cme(CmeError.NO_NETWORK_SERVICE)
    for cid in chosen:
        if contexts[cid].active != bool(activate):
            contexts[cid].active = bool(activate)
            for text in _cgev(ctx, f"ME PDN {'ACT' if activate else 'DEACT'} {cid}"):
                ctx.urc(text)
    return ok()


@register("+CGACT", "read")
def cgact_read(ctx: CommandContext) -> Reply:
    return ok(*(f"+CGACT: {cid},{int(c.active)}" for cid, c in sorted(ctx.state.contexts.items())))


@register("+CGACT", "test")
def cgact_test(ctx: CommandContext) -> Reply:
    return ok("+CGACT: (0,1)")


# ----------------------------------------------------------------------- +CGPADDR
@register("+CGPADDR", "action", "set")
def cgpaddr(ctx: CommandContext) -> Reply:
    """``+CGPADDR[=<cid>[,...]]``: ``+CGPADDR: <cid>,"<address>"`` for active contexts,
    ``+CGPADDR: <cid>`` for inactive ones; no cid: every defined context."""
    contexts = ctx.state.contexts
    cids = [ctx.int_arg(i, allowed=CID_RANGE) for i in range(len(ctx.args))]
    chosen = [c for c in cids if c is not None] or sorted(contexts)
    lines = []
    for cid in chosen:
        context = contexts.get(cid)
        if context is None:
            raise CommandError(ctx.bad_parameter())
        address = pdp_address(ctx.device.imsi, cid, context.pdp_type) if context.active else None
        lines.append(f'+CGPADDR: {cid},"{address}"' if address else f"+CGPADDR: {cid}")
    return ok(*lines)


@register("+CGPADDR", "test")
def cgpaddr_test(ctx: CommandContext) -> Reply:
    return ok("+CGPADDR: (" + ",".join(str(c) for c in sorted(ctx.state.contexts)) + ")")


# ----------------------------------------------------------------------- +CGEREP / +CGEV
@register("+CGEREP", "set")
def cgerep_set(ctx: CommandContext) -> Reply:
    """``+CGEREP=[<mode>[,<bfr>]]``: 0 no +CGEV URCs, 1/2 forward them."""
    ctx.max_args(2)
    mode = ctx.int_arg(0, 0, allowed=(0, 1, 2))
    bfr = ctx.int_arg(1, ctx.state.settings.cgerep[1], allowed=(0, 1))
    ctx.state.settings.cgerep = (mode or 0, bfr or 0)
    return ok()


@register("+CGEREP", "read")
def cgerep_read(ctx: CommandContext) -> Reply:
    mode, bfr = ctx.state.settings.cgerep
    return ok(f"+CGEREP: {mode},{bfr}")


@register("+CGEREP", "test")
def cgerep_test(ctx: CommandContext) -> Reply:
    return ok("+CGEREP: (0-2),(0,1)")


@on_network_change
def detach_events(modem, old: Registration, new: Registration, me_initiated: bool, now_s: float) -> list[str]:
    """Losing registration deactivates every context and reports ``+CGEV: NW DETACH`` (the
    network's doing) or ``+CGEV: ME DETACH`` (+CFUN, +CGATT=0, +COPS=2) — 27.007 §10.1.19."""
    if not old.registered or new.registered:
        return []
    for context in modem.state.contexts.values():
        context.active = False
    return _cgev(modem, "ME DETACH" if me_initiated else "NW DETACH")
