"""Quectel PDP context commands of the virtual modem (BG96 TCP/IP Application Note V1.2, "the
note", §2.2.1-§2.2.3) and the loss of the context with the registration (§2.3).

The contexts are the 27.007 contexts of :mod:`cellfleet.modem.cmd_packet` (``state.contexts``):
``+QICSGP`` configures one (type and APN there; user, password and authentication in
``state.vendor["qicsgp"]``, non-volatile like the rest of the context), ``+QIACT`` activates it
with an address from ``cmd_packet.pdp_address`` after the profile's ``+QIACT=`` latency (1 s by
default; the note allows 150 s) or answers ``+CME ERROR: 30`` without network service (27.007 §9.2), and
``+QIDEACT`` deactivates it and closes its sockets. When the device loses registration every
socket dies and each context in use reports ``+QIURC: "pdpdeact",<ctx>``.
"""

from __future__ import annotations

from cellfleet.modem.cmd_packet import pdp_address
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
from cellfleet.modem.sockets_quectel_common import (
    CONTEXT_IDS,
    CONTEXT_TYPES,
    OPEN_PDP_CONTEXT_FAILED,
    OPERATION_NOT_ALLOWED,
    PDP_TYPE_NUMBERS,
    STATE_KEY,
    QuectelState,
    fail,
    required_int,
    tcpip_command,
)
from cellfleet.modem.state import PdpContext


@register("+QICSGP", "set")
@tcpip_command
def qicsgp(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QICSGP=<ctx>`` answers ``+QICSGP: <type>,"<APN>","<user>","<password>",<auth>``;
    ``AT+QICSGP=<ctx>,<type>,"<APN>"[,"<user>","<password>"[,<auth>]]`` configures (note
    §2.2.1; auth 0 none, 1 PAP, 2 CHAP, 3 PAP or CHAP). An active context cannot be changed
    (as 27.007 §10.1.1 +CGDCONT)."""
    ctx.max_args(6)
    cid = required_int(ctx, 0, CONTEXT_IDS)
    credentials = ctx.state.vendor.setdefault("qicsgp", {})
    context = ctx.state.contexts.get(cid)
    if len(ctx.args) == 1:
        number = PDP_TYPE_NUMBERS.get(context.pdp_type, 1) if context else 1
        user, password, auth = credentials.get(cid, ("", "", 0))
        return ok(f'+QICSGP: {number},"{context.apn if context else ""}","{user}","{password}",{auth}')
    context_type = required_int(ctx, 1, range(1, 4))
    if len(ctx.args) < 3 or len(ctx.args) == 4:
        raise CommandError(ctx.bad_parameter())
    auth = ctx.int_arg(5, 0, allowed=range(4)) or 0
    if context is not None and context.active:
        return fail(st, OPERATION_NOT_ALLOWED)
    ctx.state.contexts[cid] = PdpContext(cid, CONTEXT_TYPES[context_type], ctx.str_arg(2) or "")
    credentials[cid] = (ctx.str_arg(3) or "", ctx.str_arg(4) or "", auth)
    return ok()


@register("+QICSGP", "test")
def qicsgp_test(ctx: CommandContext) -> Reply:
    return ok('+QICSGP: (1-16),(1-3),"<APN>","<username>","<password>",(0-3)')


@register("+QIACT", "set")
@tcpip_command
def qiact(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QIACT=<ctx>`` activates the context (note §2.2.2; answered after the profile's
    latency). Without network service ``+CME ERROR: 30`` (27.007 §9.2); an active context
    answers ``ERROR`` (561)."""
    ctx.max_args(1)
    cid = required_int(ctx, 0, CONTEXT_IDS)
    ctx.require_sim()
    context = ctx.state.contexts.setdefault(cid, PdpContext(cid))
    if context.active:
        return fail(st, OPEN_PDP_CONTEXT_FAILED)
    if not ctx.modem.network_view(ctx.now_s).registered:
        st.last_error = OPEN_PDP_CONTEXT_FAILED
        return cme(CmeError.NO_NETWORK_SERVICE)
    context.active = True
    st.activated.add(cid)
    return Reply()  # the profile's +QIACT= latency (profiles.DEFAULT_LATENCY_S)


@register("+QIACT", "read")
def qiact_read(ctx: CommandContext) -> Reply:
    """``+QIACT: <ctx>,<state>,<type>,"<address>"`` per active IP context (note §2.2.2)."""
    lines = []
    for cid, context in sorted(ctx.state.contexts.items()):
        address = pdp_address(ctx.device.imsi, cid, context.pdp_type)
        if context.active and address is not None:
            lines.append(f'+QIACT: {cid},1,{PDP_TYPE_NUMBERS[context.pdp_type]},"{address}"')
    return ok(*lines)


@register("+QIACT", "test")
def qiact_test(ctx: CommandContext) -> Reply:
    return ok("+QIACT: (1-16)")


@register("+QIDEACT", "set")
@tcpip_command
def qideact(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QIDEACT=<ctx>`` closes the context's sockets and deactivates it (note §2.2.3); an
    inactive context answers OK."""
    ctx.max_args(1)
    cid = required_int(ctx, 0, CONTEXT_IDS)
    for connect_id, sock in sorted(st.sockets.items()):
        if sock.context_id == cid:
            sock.conn.close(ctx.now_s)
            del st.sockets[connect_id]
    context = ctx.state.contexts.get(cid)
    if context is not None:
        context.active = False
    st.activated.discard(cid)
    return ok()


@register("+QIDEACT", "test")
def qideact_test(ctx: CommandContext) -> Reply:
    return ok("+QIDEACT: (1-16)")



@on_network_change
def pdp_deactivated(modem, old: Registration, new: Registration, me_initiated: bool, now_s: float) -> list[str]:
    """Losing registration deactivates the contexts (``cmd_packet.detach_events``): every socket
    dies and each context that was in use says ``+QIURC: "pdpdeact",<ctx>`` (note §2.3)."""
    st = modem.state.extensions.get(STATE_KEY)
    if st is None or not old.registered or new.registered:
        return []
    lost = st.activated | {sock.context_id for sock in st.sockets.values()}
    for sock in st.sockets.values():
        sock.conn.lose_network(now_s)
    st.activated = set()
    return [f'+QIURC: "pdpdeact",{cid}' for cid in sorted(lost)]

