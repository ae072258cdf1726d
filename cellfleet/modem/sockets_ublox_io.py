"""u-blox socket data commands of the virtual modem (SARA-R4 series AT Commands Manual
UBX-17003787, "the manual", §18.10-§18.13): ``+USOWR`` / ``+USOST`` write in string, HEX
(``AT+UDCONF=1,1``) or binary form (``@`` prompt, exactly ``<length>`` raw bytes), ``+USORD`` /
``+USORF`` read; the sockets, errors and URC rules are those of ``sockets_ublox.py``.
"""

from __future__ import annotations

import re

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    PromptRequest,
    Reply,
    ok,
    register,
)
from cellfleet.modem.sockets_net import Endpoint, resolve_host
from cellfleet.modem.sockets_ublox import (
    EBADF,
    EDESTADDRREQ,
    EHOSTUNREACH,
    ENETUNREACH,
    ENOTCONN,
    EOPNOTSUPP,
    EPIPE,
    MAX_DATA_BYTES,
    MAX_HEX_BYTES,
    MAX_READ_BYTES,
    REMOTE_PORTS,
    SOCKET_IDS,
    UbloxSocket,
    UbloxState,
    data_available_urc,
    fail,
    registered,
    release,
    required_int,
    ublox_command,
)

_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]*")


# ----------------------------------------------------------------------- write
@register("+USOWR", "set")
@ublox_command
def usowr(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USOWR=<socket>,<length>[,"<data>"]`` -> ``+USOWR: <socket>,<length>`` (§18.10);
    without data an ``@`` prompt takes exactly ``<length>`` raw bytes."""
    ctx.max_args(3)
    socket_id = required_int(ctx, 0, SOCKET_IDS)
    length = required_int(ctx, 1, range(1, MAX_DATA_BYTES + 1))
    sock = st.sockets.get(socket_id)
    if sock is None:
        return fail(st, EBADF)
    answer = f"+USOWR: {socket_id},{length}"

    def write(c: CommandContext, data: bytes) -> Reply:
        refusal = _unwritable(c, st, sock)
        if refusal is not None:
            return refusal
        assert sock.conn is not None
        sock.conn.send(data, c.now_s)
        return ok(answer)

    if len(ctx.args) == 3:
        data = _data(ctx, st, 2, length)
        return write(ctx, data)
    return _unwritable(ctx, st, sock) or Reply(prompt=PromptRequest(write, char="@", count=length))


def _unwritable(ctx: CommandContext, st: UbloxState, sock: UbloxSocket) -> Reply | None:
    """Why ``sock`` cannot be written now (also checked after the ``@`` prompt: the peer may
    have closed meanwhile, R16 §19.10.1), None if it can."""
    conn = sock.conn
    if conn is not None and conn.state == "remote_closed":
        return fail(st, EPIPE)
    if st.sockets.get(sock.socket_id) is not sock:
        return fail(st, EBADF)
    if conn is None or conn.state == "opening":
        return fail(st, ENOTCONN)
    if conn.target is None:
        return fail(st, EDESTADDRREQ)
    if sock.transport == "UDP" and not registered(ctx):
        return fail(st, ENETUNREACH)
    return None


def _data(ctx: CommandContext, st: UbloxState, index: int, length: int) -> bytes:
    """The ``<data>`` parameter as bytes: ``<length>`` characters, or in HEX mode 2 × ``<length>``
    hex digits (at most 512 bytes) — §18.10.4."""
    text = ctx.str_arg(index) or ""
    if st.hex_mode:
        if length > MAX_HEX_BYTES or len(text) != 2 * length or not _HEX_DIGITS.fullmatch(text):
            raise CommandError(ctx.bad_parameter())
        return bytes.fromhex(text)
    data = text.encode("latin-1")
    if len(data) != length:
        raise CommandError(ctx.bad_parameter())
    return data


@register("+USOWR", "test")
def usowr_test(ctx: CommandContext) -> Reply:
    return ok('+USOWR: (0-6),(0-512),"HEX data"', '+USOWR: (0-6),(0-1024),"data"', "+USOWR: (0-6),(0-1024)")


@register("+USOST", "set")
@ublox_command
def usost(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USOST=<socket>,"<host>",<port>,<length>[,"<data>"]`` sends one datagram (UDP only)
    -> ``+USOST: <socket>,<length>`` (§18.11); without data the ``@`` prompt as for +USOWR."""
    ctx.max_args(5)
    socket_id = required_int(ctx, 0, SOCKET_IDS)
    host = ctx.str_arg(1)
    port = required_int(ctx, 2, REMOTE_PORTS)
    length = required_int(ctx, 3, range(1, MAX_DATA_BYTES + 1))
    if not host:
        raise CommandError(ctx.bad_parameter())
    sock = st.sockets.get(socket_id)
    if sock is None:
        return fail(st, EBADF)
    if sock.transport != "UDP":
        return fail(st, EOPNOTSUPP)
    if not registered(ctx):
        return fail(st, ENETUNREACH)
    ip = resolve_host(host)
    if ip is None:
        return fail(st, EHOSTUNREACH)
    destination = Endpoint(host, ip, port)

    def send(c: CommandContext, data: bytes) -> Reply:
        if st.sockets.get(socket_id) is not sock or sock.conn is None or sock.conn.state != "open":
            return fail(st, EBADF)
        sock.conn.send(data, c.now_s, to=destination)
        return ok(f"+USOST: {socket_id},{length}")

    if len(ctx.args) == 5:
        return send(ctx, _data(ctx, st, 4, length))
    return Reply(prompt=PromptRequest(send, char="@", count=length))


# ----------------------------------------------------------------------- read
@register("+USORD", "set")
@ublox_command
def usord(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USORD=<socket>,<length>`` -> ``+USORD: <socket>,<length>,"<data>"``; ``<length>`` 0
    -> ``+USORD: <socket>,<unread>`` (§18.12)."""
    return _read(ctx, st, "+USORD")


@register("+USORF", "set")
@ublox_command
def usorf(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USORF=<socket>,<length>`` -> ``+USORF: <socket>,"<ip>",<port>,<length>,"<data>"``
    (UDP only, one datagram at a time); ``<length>`` 0 -> ``+USORF: <socket>,<unread>`` (§18.13)."""
    return _read(ctx, st, "+USORF")


def _read(ctx: CommandContext, st: UbloxState, name: str) -> Reply:
    ctx.max_args(2)
    socket_id = required_int(ctx, 0, SOCKET_IDS)
    length = required_int(ctx, 1, range(MAX_READ_BYTES + 1))
    sock = st.sockets.get(socket_id)
    if sock is None:
        return fail(st, EBADF)
    if name == "+USORF" and sock.transport != "UDP":
        return fail(st, EOPNOTSUPP)
    conn = sock.conn
    if length == 0:
        return ok(f"{name}: {socket_id},{conn.unread_bytes if conn else 0}")
    chunk = conn.read(length) if conn is not None else None
    if chunk is None:
        return ok(f'{name}: {socket_id},""')
    data = chunk.data.hex().upper().encode("ascii") if st.hex_mode else chunk.data
    source = f'"{chunk.source.ip}",{chunk.source.port},' if name == "+USORF" else ""
    line = f'{name}: {socket_id},{source}{len(chunk.data)},"'.encode("latin-1") + data + b'"'
    _after_read(ctx, st, sock)
    return ok(line)


def _after_read(ctx: CommandContext, st: UbloxState, sock: UbloxSocket) -> None:
    conn = sock.conn
    assert conn is not None
    if conn.unread_bytes:
        ctx.urc(data_available_urc(sock, conn))
    elif sock.close_pending:
        release(st, sock)
        ctx.urc(f"+UUSOCL: {sock.socket_id}")


@register("+USORF", "test")
def usorf_test(ctx: CommandContext) -> Reply:
    return ok("+USORF: (0-6),(0-1024)")


