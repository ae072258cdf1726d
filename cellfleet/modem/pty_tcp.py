"""TCP clients of :class:`~cellfleet.modem.pty_server.ModemServer` (``tcp=(host, port)``).

Modem ``i`` listens on ``port + i`` (0: any free port); pyserial opens it as ``socket://host:port``.
One client at a time per modem, none while its USB device is away (``vanish``, a reset:
:mod:`cellfleet.modem.pty_faults`). A connection is attached at once and goes live (kept URCs,
then live output: rules 1 and 2 of the ``pty_server`` docstring) at its first byte or
``ATTACH_GRACE_S`` wall seconds after the connect, as pyserial's ``socket://`` open drains the
socket. When the last client (pty or TCP) leaves, the modem is told (``host_detached``).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from typing import TYPE_CHECKING

from cellfleet.modem.pty_port import ATTACH_GRACE_S, READ_BYTES, Endpoint, Port


class TcpMixin:
    """Listening, accepting, reading and dropping TCP clients (module docstring)."""

    _sel: selectors.BaseSelector | None
    tcp_addresses: list[tuple[str, int]]

    if TYPE_CHECKING:  # provided by ModemServer

        def now_s(self) -> float: ...
        def _go_live(self, port: Port, endpoint: Endpoint) -> None: ...
        def _receive(self, port: Port, data: bytes) -> None: ...
        def _after_modem_call(self, port: Port) -> None: ...
        def _update_write_interest(self, endpoint: Endpoint) -> None: ...

    def _listen_tcp(self, port: Port, host: str, tcp_port: int) -> None:
        listener = socket.create_server((host, tcp_port), reuse_port=False)
        listener.setblocking(False)
        port.listener = listener
        self.tcp_addresses.append(listener.getsockname()[:2])
        assert self._sel is not None
        self._sel.register(listener, selectors.EVENT_READ, (2, lambda mask: self._on_accept(port)))

    def _on_accept(self, port: Port) -> None:
        assert port.listener is not None and self._sel is not None
        try:
            conn, _addr = port.listener.accept()
        except BlockingIOError:
            return
        if port.conn is not None or port.pty is None or port.resetting:  # one at a time; none while away
            conn.close()
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port.conn, port.tcp = conn, Endpoint(conn.fileno(), conn)
        port.tcp.live_at_wall = time.monotonic() + ATTACH_GRACE_S  # pyserial's open drains the socket
        endpoint = port.tcp
        self._sel.register(conn, selectors.EVENT_READ, (2, lambda mask: self._on_tcp(port, endpoint, mask)))

    def _on_tcp(self, port: Port, endpoint: Endpoint, mask: int) -> None:
        if port.tcp is not endpoint or port.conn is None:
            return  # dropped by an earlier event of the same batch (vanish)
        if mask & selectors.EVENT_WRITE:
            port.tcp.flush_backlog()
            self._update_write_interest(port.tcp)
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = port.conn.recv(READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            if not endpoint.live:
                self._go_live(port, endpoint)
            self._receive(port, data)
            return
        self._drop_tcp(port)
        if not port.attached:
            port.modem.host_detached(self.now_s())
            port.tracker.host_detached()
            self._after_modem_call(port)

    def _drop_tcp(self, port: Port) -> None:
        if port.conn is None:
            return
        if self._sel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(port.conn)
        port.conn.close()
        port.conn = port.tcp = None
