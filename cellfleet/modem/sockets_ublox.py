"""u-blox socket commands of the virtual modem (SARA-R4 series AT Commands Manual UBX-17003787,
"the manual", §18 "Internet protocol transport layer"; R16 numbers it §19).

``+USOCR`` creates a socket (TCP 6 / UDP 17, ids 0-6), ``+USOCO`` connects it (§18.9; a TCP
connect takes the peer's ``connect_s``, ``<async_connect>`` 1 answers at once and reports
``+UUSOCO: <socket>,<socket_error>``), ``+USOCL`` closes, ``+USOER`` tells the last socket error,
``+UDCONF=1`` switches HEX mode; the data commands ``+USOWR`` (§18.10) / ``+USOST`` (§18.11, UDP)
and ``+USORD`` (§18.12) / ``+USORF`` (§18.13, UDP) are in ``sockets_ublox_io.py``. This module
keeps the socket table and the URC rules both share. The far end is the simulated network of
:mod:`cellfleet.modem.sockets_net`.

Rules from the manual, as encoded:

* Failures answer ``+CME ERROR: 3`` "operation not allowed" (27.007 §9.2; plain ``ERROR`` with
  the factory ``+CMEE=0``) and set the ``+USOER`` code, a BSD errno (manual Appendix A.5, Linux
  numbering: the constants below); malformed parameters are ``+CME ERROR: 50``.
* ``+UUSORD: <socket>,<length>`` (TCP; ``<length>`` unread bytes) when data arrives in an empty
  buffer and after a partial read (R16 §19.12.1); UDP sockets say ``+UUSORF: <socket>,<length>``
  when a datagram arrives in an empty buffer and after a read leaves data (``<length>``: what is
  left of the next datagram). ``+USORF`` reads one datagram (or part of it) at a time (§18.13.4).
* A read with nothing to read answers ``+USORD: <socket>,""`` (R16 §19.12.4, SARA-R4 note;
  ``+USORF`` likewise); ``<length>`` 0 answers the unread total.
* When the peer closes (or the network goes away), ``+UUSOCL: <socket>`` is reported once the
  received data has been read (R16 §19.10.1) and the socket is released then; writes meanwhile
  fail with ``EPIPE``. ``+USOCL`` by the host answers OK (with ``<async_close>`` 1 also
  ``+UUSOCL``).
* Losing registration closes every socket this way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from cellfleet.modem.cmd_registry import (
    CommandContext,
    CommandError,
    Handler,
    Reply,
    cme,
    ok,
    on_network_change,
    register,
)
from cellfleet.modem.device import Registration
from cellfleet.modem.errors import CmeError
from cellfleet.modem.sockets_net import (
    Connection,
    Endpoint,
    after,
    allocate_local_port,
    peer_for,
    resolve_host,
)

STATE_KEY = "ublox_sockets"
SOCKET_IDS = range(7)  # manual §18: <socket> 0-6 on SARA-R4
PROTOCOLS = {6: "TCP", 17: "UDP"}  # +USOCR <protocol>: IANA protocol numbers
PORTS = range(65536)
REMOTE_PORTS = range(1, 65536)  # §18.11.3 <remote_port> 1-65535
MAX_DATA_BYTES = 1024  # §18.10.3: string and binary syntax
MAX_HEX_BYTES = 512  # §18.10.3: HEX mode
MAX_READ_BYTES = 1024  # §18.13.3

#: +USOER codes (manual Appendix A.5: BSD errno values as Linux numbers them)
NO_ERROR = 0
EBADF = 9
EPIPE = 32
EDESTADDRREQ = 89
EOPNOTSUPP = 95
ENETUNREACH = 101
ENOBUFS = 105
EISCONN = 106
ENOTCONN = 107
ECONNREFUSED = 111
EHOSTUNREACH = 113


@dataclass
class UbloxSocket:
    socket_id: int
    transport: str  # "TCP" or "UDP"
    local_port: int
    conn: Connection | None = None  # TCP: from +USOCO on; UDP: from creation
    close_pending: bool = False  # peer closed: +UUSOCL once the data is read


@dataclass
class UbloxState:
    sockets: dict[int, UbloxSocket] = field(default_factory=dict)
    last_errno: int = NO_ERROR
    hex_mode: bool = False  # +UDCONF=1


def ublox_state(modem) -> UbloxState:
    """The modem's u-blox socket state (volatile: a reboot closes every socket)."""
    return modem.state.extensions.setdefault(STATE_KEY, UbloxState())


def ublox_command(handler: Callable[[CommandContext, UbloxState], Reply]) -> Handler:
    """A command handler that also gets the modem's socket state."""

    @functools.wraps(handler)
    def run(ctx: CommandContext) -> Reply:
        return handler(ctx, ublox_state(ctx.modem))

    return run


def fail(st: UbloxState, errno: int) -> Reply:
    """``+CME ERROR: 3`` with ``errno`` left for +USOER (module docstring)."""
    st.last_errno = errno
    return cme(CmeError.OPERATION_NOT_ALLOWED)


def required_int(ctx: CommandContext, index: int, allowed: range | tuple[int, ...]) -> int:
    """Integer parameter ``index``, which must be present and in ``allowed``."""
    value = ctx.int_arg(index, allowed=allowed)
    if value is None:
        raise CommandError(ctx.bad_parameter())
    return value


def registered(ctx: CommandContext) -> bool:
    """The device has network service now (what a send or connect needs)."""
    return ctx.modem.network_view(ctx.now_s).registered


# ----------------------------------------------------------------------- create / connect / close
@register("+USOCR", "set")
@ublox_command
def usocr(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USOCR=6|17[,<local_port>]`` -> ``+USOCR: <socket>``, the lowest free id; all seven
    in use: ``ENOBUFS``."""
    ctx.max_args(2)
    transport = PROTOCOLS[required_int(ctx, 0, tuple(PROTOCOLS))]
    local_port = ctx.int_arg(1, 0, allowed=PORTS) or allocate_local_port(ctx.modem)
    socket_id = next((i for i in SOCKET_IDS if i not in st.sockets), None)
    if socket_id is None:
        return fail(st, ENOBUFS)
    sock = UbloxSocket(socket_id, transport, local_port)
    if transport == "UDP":
        sock.conn = _connection(ctx, st, sock, None)
        sock.conn.establish(ctx.now_s)
    st.sockets[socket_id] = sock
    return ok(f"+USOCR: {socket_id}")


def _connection(ctx: CommandContext, st: UbloxState, sock: UbloxSocket, target: Endpoint | None) -> Connection:
    return Connection(
        ctx.modem,
        "TCP" if sock.transport == "TCP" else "UDP",
        local_port=sock.local_port,
        target=target,
        on_receive=lambda conn, at_s: _received(sock, conn),
        on_remote_close=lambda conn, at_s: _remote_closed(st, sock, conn),
    )


@register("+USOCO", "set")
@ublox_command
def usoco(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USOCO=<socket>,"<host>",<port>[,<async_connect>]`` (§18.9): a TCP connect answers
    after the peer's ``connect_s`` (``ECONNREFUSED`` if it refuses); on a UDP socket it only sets
    the destination of +USOWR."""
    ctx.max_args(4)
    socket_id = required_int(ctx, 0, SOCKET_IDS)
    host = ctx.str_arg(1)
    port = required_int(ctx, 2, REMOTE_PORTS)
    asynchronous = ctx.int_arg(3, 0, allowed=(0, 1)) == 1
    if not host:
        raise CommandError(ctx.bad_parameter())
    sock = st.sockets.get(socket_id)
    if sock is None:
        return fail(st, EBADF)
    ip = resolve_host(host)
    if sock.transport == "UDP":
        if ip is None:
            return fail(st, EHOSTUNREACH)
        assert sock.conn is not None
        sock.conn.target = Endpoint(host, ip, port)
        return ok()
    if sock.conn is not None:
        return fail(st, EISCONN)
    if not registered(ctx):
        return fail(st, ENETUNREACH)
    if ip is None:
        return fail(st, EHOSTUNREACH)
    peer = peer_for(ctx.modem, host)
    conn = sock.conn = _connection(ctx, st, sock, Endpoint(host, ip, port))

    def connected(at_s: float) -> list[str]:
        if st.sockets.get(socket_id) is not sock or sock.conn is not conn:
            return []
        if peer.behaviour == "refuse" or conn.state != "opening":
            sock.conn = None
            st.last_errno = ECONNREFUSED
            return [f"+UUSOCO: {socket_id},{ECONNREFUSED}"] if asynchronous else []
        conn.establish(at_s)
        return [f"+UUSOCO: {socket_id},0"] if asynchronous else []

    after(ctx.modem, ctx.now_s, peer.connect_s, connected)
    if asynchronous:
        return ok()
    if peer.behaviour == "refuse":
        st.last_errno = ECONNREFUSED
        return Reply(final="CME", code=CmeError.OPERATION_NOT_ALLOWED, latency_s=peer.connect_s)
    return Reply(latency_s=peer.connect_s)


@register("+USOCL", "set")
@ublox_command
def usocl(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+USOCL=<socket>[,<async_close>]`` closes and releases the socket."""
    ctx.max_args(2)
    socket_id = required_int(ctx, 0, SOCKET_IDS)
    asynchronous = ctx.int_arg(1, 0, allowed=(0, 1)) == 1
    sock = st.sockets.pop(socket_id, None)
    if sock is None:
        return fail(st, EBADF)
    if sock.conn is not None:
        sock.conn.close(ctx.now_s)
    if asynchronous:
        ctx.urc(f"+UUSOCL: {socket_id}")
    return ok()


@register("+USOER", "action")
@ublox_command
def usoer(ctx: CommandContext, st: UbloxState) -> Reply:
    """``+USOER: <socket_error>``: the last error of a socket command (0 if none yet)."""
    return ok(f"+USOER: {st.last_errno}")


@register("+UDCONF", "set")
@ublox_command
def udconf(ctx: CommandContext, st: UbloxState) -> Reply:
    """``AT+UDCONF=1[,<hex_mode>]``: HEX mode of the socket data (0 off, 1 on); other items are
    not simulated (parameter error)."""
    ctx.max_args(2)
    if required_int(ctx, 0, (1,)) != 1:
        raise CommandError(ctx.bad_parameter())
    if len(ctx.args) == 1:
        return ok(f"+UDCONF: 1,{int(st.hex_mode)}")
    st.hex_mode = required_int(ctx, 1, (0, 1)) == 1
    return ok()


# ----------------------------------------------------------------------- URCs
def data_available_urc(sock: UbloxSocket, conn: Connection) -> str:
    """``+UUSORD: <socket>,<unread>`` (TCP) / ``+UUSORF: <socket>,<next datagram's bytes>``."""
    if sock.transport == "TCP":
        return f"+UUSORD: {sock.socket_id},{conn.unread_bytes}"
    return f"+UUSORF: {sock.socket_id},{len(conn.rx[0].data)}"


def _received(sock: UbloxSocket, conn: Connection) -> list[str]:
    """Data arrived: a URC if the buffer was empty before (the arrival is its only piece)."""
    return [data_available_urc(sock, conn)] if len(conn.rx) == 1 else []


def _remote_closed(st: UbloxState, sock: UbloxSocket, conn: Connection) -> list[str]:
    if conn.unread_bytes:
        sock.close_pending = True
        return []
    release(st, sock)
    return [f"+UUSOCL: {sock.socket_id}"]


def release(st: UbloxState, sock: UbloxSocket) -> None:
    """Free ``sock``'s id (if it still holds it)."""
    if st.sockets.get(sock.socket_id) is sock:
        del st.sockets[sock.socket_id]


@on_network_change
def sockets_lost(modem, old: Registration, new: Registration, me_initiated: bool, now_s: float) -> list[str]:
    """Losing registration ends every socket: ``+UUSOCL`` as for a peer close (module doc)."""
    st = modem.state.extensions.get(STATE_KEY)
    if st is None or not old.registered or new.registered:
        return []
    urcs: list[str] = []
    for sock in sorted(st.sockets.values(), key=lambda s: s.socket_id):
        if sock.conn is None:
            release(st, sock)
            urcs.append(f"+UUSOCL: {sock.socket_id}")
            continue
        sock.conn.lose_network(now_s)
        urcs += _remote_closed(st, sock, sock.conn)
    return urcs

