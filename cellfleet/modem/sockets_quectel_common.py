"""State and error reporting shared by the Quectel TCP/IP commands of the virtual modem (BG96
TCP/IP Application Note V1.2, "the note"; the commands are in ``sockets_quectel_pdp.py`` and
``sockets_quectel.py``).

Every TCP/IP command leaves its result for ``AT+QIGETERROR`` (the note's §4 error codes): 0 on
success, 552 for a malformed parameter (answered through the 27.007 §9.2 ``+CME ERROR: 50`` path),
otherwise the code the command failed with; failures answer ``ERROR`` as in the note's response
tables. The socket table is volatile (``state.extensions``): a reboot closes every socket.
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
    error,
    ok,
    register,
)
from cellfleet.modem.sockets_net import Connection, Endpoint

STATE_KEY = "quectel_sockets"
CONTEXT_IDS = range(1, 17)  # note §2.2.1 <contextID> 1-16
CONNECT_IDS = range(12)  # note §2.2.4 <connectID> 0-11
PORTS = range(65536)
MAX_SEND_BYTES = 1460  # note §2.2.7 <send_length>
MAX_SENDEX_BYTES = 512  # note §2.2.9 <hex_string> length in bytes
MAX_READ_BYTES = 1500  # note §2.2.8 <read_length>
#: note §2.2.1 <context_type>: 1 IPv4, 2 IPv6, 3 IPv4v6, as 27.007 <PDP_type>
CONTEXT_TYPES = {1: "IP", 2: "IPV6", 3: "IPV4V6"}
PDP_TYPE_NUMBERS = {name: number for number, name in CONTEXT_TYPES.items()}
#: note §2.2.6 <socket_state>
SOCKET_STATES = {"opening": 1, "open": 2, "remote_closed": 4, "closed": 4}
AT_PORT = "usbmodem"  # note §2.2.6 <AT_port>: the port the socket's URCs go to

#: note §4: error codes and their descriptions (+QIGETERROR)
OPERATION_SUCCESSFUL = 0
UNKNOWN_ERROR = 550
INVALID_PARAMETERS = 552
OPERATION_NOT_SUPPORTED = 555
OPEN_PDP_CONTEXT_FAILED = 561
SOCKET_IDENTITY_USED = 563
DNS_PARSE_FAILED = 565
SOCKET_CONNECT_FAILED = 566
SOCKET_CLOSED = 567
OPERATION_BUSY = 568
OPERATION_NOT_ALLOWED = 572
ERROR_TEXTS = {
    0: "operation successful",
    550: "unknown error",
    551: "operation blocked",
    552: "invalid parameters",
    553: "memory not enough",
    554: "create socket failed",
    555: "operation not supported",
    556: "socket bind failed",
    557: "socket listen failed",
    558: "socket write failed",
    559: "socket read failed",
    560: "socket accept failed",
    561: "open PDP context failed",
    562: "close PDP context failed",
    563: "socket identity has been used",
    564: "DNS busy",
    565: "DNS parse failed",
    566: "socket connect failed",
    567: "socket has been closed",
    568: "operation busy",
    569: "operation timeout",
    570: "PDP context broken down",
    571: "cancel send",
    572: "operation not allowed",
    573: "APN not configured",
    574: "port busy",
}


@dataclass
class QuectelSocket:
    """One socket service (note §2.2.4 / §2.2.6 fields)."""

    connect_id: int
    context_id: int
    service: str  # "TCP" or "UDP"
    endpoint: Endpoint
    local_port: int
    access_mode: int  # 0 buffer, 1 direct push (note §1.2)
    conn: Connection
    recv_reported: bool = False  # buffer mode: "recv" URC sent, not yet drained (note §2.3.2)


@dataclass
class QuectelState:
    sockets: dict[int, QuectelSocket] = field(default_factory=dict)
    last_error: int = OPERATION_SUCCESSFUL
    activated: set[int] = field(default_factory=set)  # contexts activated with +QIACT


def quectel_state(modem) -> QuectelState:
    """The modem's Quectel socket state."""
    return modem.state.extensions.setdefault(STATE_KEY, QuectelState())


def tcpip_command(handler: Callable[[CommandContext, QuectelState], Reply]) -> Handler:
    """Run ``handler`` with the socket state; the command's result is what +QIGETERROR reports
    (0 unless the handler sets an error; a parameter error is 552)."""

    @functools.wraps(handler)
    def run(ctx: CommandContext) -> Reply:
        st = quectel_state(ctx.modem)
        st.last_error = OPERATION_SUCCESSFUL
        try:
            return handler(ctx, st)
        except CommandError:
            st.last_error = INVALID_PARAMETERS
            raise

    return run


def fail(st: QuectelState, code: int) -> Reply:
    """``ERROR``, with ``code`` left for +QIGETERROR."""
    st.last_error = code
    return error()


def required_int(ctx: CommandContext, index: int, allowed: range) -> int:
    """Integer parameter ``index``, which must be present and in ``allowed``."""
    value = ctx.int_arg(index, allowed=allowed)
    if value is None:
        raise CommandError(ctx.bad_parameter())
    return value



@register("+QIGETERROR", "action")
def qigeterror(ctx: CommandContext) -> Reply:
    """``+QIGETERROR: <err>,<description>``: the result of the last TCP/IP command (note §4)."""
    code = quectel_state(ctx.modem).last_error
    return ok(f"+QIGETERROR: {code},{ERROR_TEXTS.get(code, ERROR_TEXTS[UNKNOWN_ERROR])}")

