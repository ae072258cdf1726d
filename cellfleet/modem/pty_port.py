"""What :class:`~cellfleet.modem.pty_server.ModemServer` keeps for each served modem.

* ``Endpoint``: one way to the host (a pty master or a TCP connection) with a non-blocking write
  backlog, bounded so a client that holds the port open without reading cannot exhaust memory.
* ``Port``: one modem's pty, optional TCP connection, fault state and the URCs kept while no
  client is attached (``hold`` / ``take_held``: rules 1 and 2 of the ``pty_server`` docstring).

No selector and no loop here: the server decides when these are called.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from cellfleet.modem.codec import format_line
from cellfleet.modem.responses import ResponseReader, Urc

if TYPE_CHECKING:
    from cellfleet.modem.virtual import VirtualModem

#: Bytes kept per endpoint for a client that holds the port open but does not read; beyond it the
#: oldest unsent output is dropped (a real UART would overrun as well).
MAX_BACKLOG_BYTES = 1 << 20
#: URCs kept per modem while no client is attached; the oldest go first beyond it.
MAX_HELD_URCS = 1000


class Endpoint:
    """One way to the host: a pty master or a TCP connection, with a non-blocking write backlog."""

    def __init__(self, fd: int, fileobj: object = None) -> None:
        self.fd = fd
        self.fileobj = fileobj if fileobj is not None else fd  # what the selector knows it by
        self.backlog = bytearray()
        self.live = False  # output flows; before that it is held (pty_server doc, rule 2)
        self.live_at_wall: float | None = None  # when to go live at the latest

    def write(self, data: bytes) -> None:
        if not self.backlog:
            try:
                data = data[os.write(self.fd, data) :]
            except BlockingIOError:
                pass
            except OSError:
                return  # the other side is gone; its close is handled as a detach
        self.backlog += data
        if len(self.backlog) > MAX_BACKLOG_BYTES:
            del self.backlog[: len(self.backlog) - MAX_BACKLOG_BYTES]

    def flush_backlog(self) -> None:
        try:
            del self.backlog[: os.write(self.fd, self.backlog)]
        except BlockingIOError:
            pass
        except OSError:
            self.backlog.clear()


class Port:
    """Everything the server keeps for one modem: its pty, optional TCP, held URCs, fault state."""

    def __init__(self, index: int, modem: VirtualModem, link: Path | None) -> None:
        self.index, self.modem, self.link = index, modem, link
        self.pty: Endpoint | None = None
        self.slave_fd: int | None = None
        self.slave_path: str | None = None
        self.watch: int | None = None
        self.opens = 0  # client opens of the slave (inotify); -1 = unknown (no inotify)
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.tcp: Endpoint | None = None
        self.held: list[Urc] = []
        self.held_reader: ResponseReader | None = None
        self.muted = False
        self.reappear_at_wall: float | None = None
        self.due_s: float | None = None

    @property
    def attached(self) -> bool:
        return (self.pty is not None and self.opens != 0) or self.tcp is not None

    def endpoints(self) -> list[Endpoint]:
        return [e for e in (self.pty, self.tcp) if e is not None]

    def hold(self, data: bytes) -> None:
        """Keep the URC lines of output that no client can receive now (rule 1, pty_server doc)."""
        if self.held_reader is None:
            self.held_reader = ResponseReader()
        self.held.extend(e for e in self.held_reader.feed(data) if isinstance(e, Urc) and e.known)
        del self.held[:-MAX_HELD_URCS]

    def take_held(self) -> bytes:
        """The kept URCs, framed for the modem's current ``ATV`` setting, and forget them."""
        held = self.held
        self.forget_held()
        if not held:
            return b""
        verbose = bool(getattr(self.modem.state, "verbose", True))
        return b"".join(_urc_bytes(urc, verbose) for urc in held)

    def forget_held(self) -> None:
        """Drop the kept URCs and the partial output parsed for them."""
        self.held, self.held_reader = [], None


def _urc_bytes(urc: Urc, verbose: bool) -> bytes:
    """A kept URC as the modem frames it (V.250 §5.7.1), with its data line (+CMT PDU, 27.005
    §3.4.1) or counted data (Quectel ``+QIURC: "recv"``) after it."""
    data = b"" if urc.data is None else urc.data + b"\r\n"
    return format_line(urc.text, verbose=verbose) + data
