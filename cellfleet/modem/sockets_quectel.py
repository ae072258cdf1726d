"""Quectel socket commands of the virtual modem (BG96 TCP/IP Application Note V1.2, "the note").

``+QIOPEN`` (§2.2.4), ``+QICLOSE`` (§2.2.5), ``+QISTATE`` (§2.2.6), ``+QISEND`` (§2.2.7),
``+QIRD`` (§2.2.8) and ``+QISENDEX`` (§2.2.9) on the contexts of ``sockets_quectel_pdp.py``
(``+QICSGP`` / ``+QIACT`` / ``+QIDEACT``), with the
state and ``+QIGETERROR`` of ``sockets_quectel_common.py``. Sockets talk to the simulated far end
of :mod:`cellfleet.modem.sockets_net`; their URCs are those of §2.3: ``+QIOPEN: <id>,<err>``,
``+QIURC: "recv",<id>[,<len><CR><LF><data>]``, ``+QIURC: "closed",<id>`` (and ``"pdpdeact"``).

Choices where the note leaves room (tested, so a client sees them consistently):

* Errors answer ``ERROR`` as in the note's response tables; the reason is kept for
  ``AT+QIGETERROR`` (§4 error codes). Parameter errors go through the 27.007 §9.2 ``+CME ERROR:
  50`` path (plain ``ERROR`` with the factory ``+CMEE=0``), as does ``+QIACT`` without network
  service (``+CME ERROR: 30``).
* ``+QIOPEN`` answers ``OK`` for any well-formed request and reports failures in the URC (and
  to ``+QIGETERROR``): 563 socket identity used, 561 the context is not active (which also
  covers no registration: losing it deactivates every context), 565 the host does not resolve,
  566 the peer refused. A failed socket is released at once (its ``connectID`` is free again).
* Only ``"TCP"`` and ``"UDP"`` clients are simulated; ``"TCP LISTENER"``, ``"UDP SERVICE"`` and
  access mode 2 (transparent, §1.2.3) answer ``ERROR`` with 555 "operation not supported".
* ``+QISEND`` on a socket that is not connected answers ``ERROR`` (567 closed / 568 still
  opening); ``SEND FAIL`` is the answer when the connection went away while the host was typing
  the data after the prompt.
* After ``+QIURC: "closed"`` (peer closed, socket state 4 "closing") unread data stays readable
  until ``+QICLOSE``; after ``"pdpdeact"`` the sockets of that context are dead the same way.
"""

from __future__ import annotations

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    PromptRequest,
    Reply,
    ok,
    register,
)
from cellfleet.modem.sockets_net import (
    Connection,
    Endpoint,
    after,
    allocate_local_port,
    peer_for,
    resolve_host,
)
from cellfleet.modem.sockets_quectel_common import (
    AT_PORT,
    CONNECT_IDS,
    CONTEXT_IDS,
    DNS_PARSE_FAILED,
    INVALID_PARAMETERS,
    MAX_READ_BYTES,
    MAX_SEND_BYTES,
    MAX_SENDEX_BYTES,
    OPEN_PDP_CONTEXT_FAILED,
    OPERATION_BUSY,
    OPERATION_NOT_ALLOWED,
    OPERATION_NOT_SUPPORTED,
    PORTS,
    SOCKET_CLOSED,
    SOCKET_CONNECT_FAILED,
    SOCKET_IDENTITY_USED,
    SOCKET_STATES,
    QuectelSocket,
    QuectelState,
    fail,
    required_int,
    tcpip_command,
)


# ----------------------------------------------------------------------- open / close / state
@register("+QIOPEN", "set")
@tcpip_command
def qiopen(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QIOPEN=<ctx>,<id>,"TCP"|"UDP","<host>",<rport>[,<lport>[,<mode>]]`` -> ``OK``, then
    ``+QIOPEN: <id>,<err>`` (note §2.2.4; failures in the module docstring). A TCP connect takes
    the peer's ``connect_s``."""
    ctx.max_args(7)
    cid = required_int(ctx, 0, CONTEXT_IDS)
    connect_id = required_int(ctx, 1, CONNECT_IDS)
    service = (ctx.str_arg(2) or "").upper()
    host = ctx.str_arg(3)
    remote_port = required_int(ctx, 4, PORTS)
    local_port = ctx.int_arg(5, 0, allowed=PORTS) or 0
    mode = ctx.int_arg(6, 0, allowed=(0, 1, 2)) or 0
    if not host or service not in ("TCP", "UDP", "TCP LISTENER", "UDP SERVICE"):
        raise CommandError(ctx.bad_parameter())
    if service not in ("TCP", "UDP") or mode == 2:
        return fail(st, OPERATION_NOT_SUPPORTED)
    context = ctx.state.contexts.get(cid)
    ip = resolve_host(host)
    failure = (
        SOCKET_IDENTITY_USED if connect_id in st.sockets
        else OPEN_PDP_CONTEXT_FAILED if context is None or not context.active
        else DNS_PARSE_FAILED if ip is None
        else None
    )  # fmt: skip
    if failure is not None:
        st.last_error = failure
        ctx.urc(f"+QIOPEN: {connect_id},{failure}")
        return ok()
    assert ip is not None
    sock = _new_socket(ctx, st, cid, connect_id, service, Endpoint(host, ip, remote_port), local_port, mode)
    if service == "UDP":
        sock.conn.establish(ctx.now_s)
        ctx.urc(f"+QIOPEN: {connect_id},0")
        return ok()
    peer = peer_for(ctx.modem, host)

    def connected(at_s: float) -> list[str]:
        if st.sockets.get(connect_id) is not sock:
            return []  # closed by the host meanwhile
        if peer.behaviour == "refuse" or sock.conn.state != "opening":
            del st.sockets[connect_id]
            st.last_error = SOCKET_CONNECT_FAILED
            return [f"+QIOPEN: {connect_id},{SOCKET_CONNECT_FAILED}"]
        sock.conn.establish(at_s)
        return [f"+QIOPEN: {connect_id},0"]

    after(ctx.modem, ctx.now_s, peer.connect_s, connected)
    return ok()


def _new_socket(ctx, st, cid, connect_id, service, endpoint, local_port, mode) -> QuectelSocket:
    conn = Connection(
        ctx.modem,
        service,
        local_port=local_port or allocate_local_port(ctx.modem),
        target=endpoint,
        on_receive=lambda c, at_s: _received(sock, at_s),
        on_remote_close=lambda c, at_s: [f'+QIURC: "closed",{connect_id}'],
    )
    sock = QuectelSocket(connect_id, cid, service, endpoint, conn.local_port, mode, conn)
    st.sockets[connect_id] = sock
    return sock


def _received(sock: QuectelSocket, at_s: float) -> list[str | bytes]:
    """Data arrived (note §2.3.2): buffer mode says ``"recv",<id>`` once until the buffer is
    drained by +QIRD; direct push mode pushes ``"recv",<id>,<len>`` and the data."""
    if sock.access_mode == 1:
        pushed = []
        while (chunk := sock.conn.read(MAX_READ_BYTES)) is not None:
            pushed.append(f'+QIURC: "recv",{sock.connect_id},{len(chunk.data)}\r\n'.encode("latin-1") + chunk.data)
        return pushed
    if sock.recv_reported:
        return []
    sock.recv_reported = True
    return [f'+QIURC: "recv",{sock.connect_id}']


@register("+QIOPEN", "test")
def qiopen_test(ctx: CommandContext) -> Reply:
    return ok(
        '+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE","<IP_address>/<domain_name>",'
        "<remote_port>,<local_port>,(0-2)"
    )


@register("+QICLOSE", "set")
@tcpip_command
def qiclose(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QICLOSE=<id>[,<timeout>]`` closes the socket (note §2.2.5); a free ``connectID``
    answers OK too."""
    ctx.max_args(2)
    connect_id = required_int(ctx, 0, CONNECT_IDS)
    ctx.int_arg(1, 10, allowed=PORTS)
    sock = st.sockets.pop(connect_id, None)
    if sock is not None:
        sock.conn.close(ctx.now_s)
    return ok()


@register("+QICLOSE", "test")
def qiclose_test(ctx: CommandContext) -> Reply:
    return ok("+QICLOSE: (0-11),(0-65535)")


@register("+QISTATE", "action", "read", "set")
@tcpip_command
def qistate(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QISTATE?`` / ``AT+QISTATE`` every socket, ``=0,<ctx>`` those of a context, ``=1,<id>``
    one: ``+QISTATE: <id>,"<type>","<ip>",<rport>,<lport>,<state>,<ctx>,<serverID>,<mode>,
    "<AT_port>"`` (note §2.2.6)."""
    sockets = sorted(st.sockets.values(), key=lambda s: s.connect_id)
    if ctx.command.form == "set":
        ctx.max_args(2)
        query_type = required_int(ctx, 0, range(2))
        key = required_int(ctx, 1, CONTEXT_IDS if query_type == 0 else CONNECT_IDS)
        sockets = [s for s in sockets if (s.context_id if query_type == 0 else s.connect_id) == key]
    return ok(*(_state_line(s) for s in sockets))


def _state_line(sock: QuectelSocket) -> str:
    return (
        f'+QISTATE: {sock.connect_id},"{sock.service}","{sock.endpoint.ip}",{sock.endpoint.port},'
        f'{sock.local_port},{SOCKET_STATES[sock.conn.state]},{sock.context_id},0,{sock.access_mode},"{AT_PORT}"'
    )


# ----------------------------------------------------------------------- data
@register("+QISEND", "set")
@tcpip_command
def qisend(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QISEND=<id>[,<len>]`` -> ``> ``, the data (exactly ``len`` bytes, or up to Ctrl-Z)
    -> ``SEND OK``; ``AT+QISEND=<id>,0`` -> ``+QISEND: <total>,<acked>,<unacked>`` (note §2.2.7).
    The UDP SERVICE form with a remote address is not simulated (ERROR, 555)."""
    connect_id = required_int(ctx, 0, CONNECT_IDS)
    length = ctx.int_arg(1, allowed=range(MAX_SEND_BYTES + 1))
    if len(ctx.args) > 2:
        return fail(st, OPERATION_NOT_SUPPORTED)
    sock = st.sockets.get(connect_id)
    if sock is None:
        return fail(st, SOCKET_CLOSED)
    if length == 0:
        acked = sock.conn.acked_bytes(ctx.now_s)
        return ok(f"+QISEND: {sock.conn.sent_bytes},{acked},{sock.conn.sent_bytes - acked}")
    refusal = _unsendable(sock, st)
    if refusal is not None:
        return refusal
    return Reply(prompt=PromptRequest(lambda c, data: _send(c, st, sock, data), char=">", count=length))


@register("+QISENDEX", "set")
@tcpip_command
def qisendex(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QISENDEX=<id>,"<hex>"`` sends the bytes a hex string spells (note §2.2.9)."""
    ctx.max_args(2)
    connect_id = required_int(ctx, 0, CONNECT_IDS)
    try:
        data = bytes.fromhex(ctx.str_arg(1) or "")
    except ValueError:
        raise CommandError(ctx.bad_parameter()) from None
    if not 0 < len(data) <= MAX_SENDEX_BYTES:
        raise CommandError(ctx.bad_parameter())
    sock = st.sockets.get(connect_id)
    if sock is None:
        return fail(st, SOCKET_CLOSED)
    return _unsendable(sock, st) or _send(ctx, st, sock, data)


def _unsendable(sock: QuectelSocket, st: QuectelState) -> Reply | None:
    if sock.conn.state == "opening":
        return fail(st, OPERATION_BUSY)
    if sock.conn.state != "open":
        return fail(st, SOCKET_CLOSED)
    return None


def _send(ctx: CommandContext, st: QuectelState, sock: QuectelSocket, data: bytes) -> Reply:
    if len(data) > MAX_SEND_BYTES:
        return fail(st, INVALID_PARAMETERS)
    if st.sockets.get(sock.connect_id) is not sock or sock.conn.state != "open":
        st.last_error = SOCKET_CLOSED
        return Reply(final="SEND FAIL")
    sock.conn.send(data, ctx.now_s)
    return Reply(final="SEND OK")


@register("+QISEND", "test")
def qisend_test(ctx: CommandContext) -> Reply:
    return ok(f"+QISEND: (0-11),(0-{MAX_SEND_BYTES})")


@register("+QIRD", "set")
@tcpip_command
def qird(ctx: CommandContext, st: QuectelState) -> Reply:
    """``AT+QIRD=<id>[,<len>]`` -> ``+QIRD: <n>`` and the data line (``+QIRD: 0`` when empty);
    ``AT+QIRD=<id>,0`` -> ``+QIRD: <total>,<read>,<unread>`` (note §2.2.8). Buffer mode only:
    a direct-push socket answers ERROR (572)."""
    ctx.max_args(2)
    connect_id = required_int(ctx, 0, CONNECT_IDS)
    length = ctx.int_arg(1, MAX_READ_BYTES, allowed=range(MAX_READ_BYTES + 1))
    sock = st.sockets.get(connect_id)
    if sock is None:
        return fail(st, SOCKET_CLOSED)
    if sock.access_mode != 0:
        return fail(st, OPERATION_NOT_ALLOWED)
    conn = sock.conn
    if length == 0:
        return ok(f"+QIRD: {conn.received_bytes},{conn.read_bytes},{conn.unread_bytes}")
    chunk = conn.read(length or MAX_READ_BYTES)
    if conn.unread_bytes == 0:
        sock.recv_reported = False
    if chunk is None:
        return ok("+QIRD: 0")
    return ok(f"+QIRD: {len(chunk.data)}", chunk.data)


@register("+QIRD", "test")
def qird_test(ctx: CommandContext) -> Reply:
    return ok(f"+QIRD: (0-11),(0-{MAX_READ_BYTES})")

