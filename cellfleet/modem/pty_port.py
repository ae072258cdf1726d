"""What :class:`~cellfleet.modem.pty_server.ModemServer` keeps for each served modem.

* ``Endpoint``: one way to the host (a pty master or a TCP connection) with a non-blocking write
  backlog, bounded so a client that holds the port open without reading cannot exhaust memory.
* ``SessionTracker``: follows the conversation on one port, so the modem's output can be told
  apart: answers of the host's command lines versus URCs (review B3).
* ``Port``: one modem's pty, optional TCP connection, fault state and the URCs kept while no
  client is attached (``keep_unread`` / ``send_held``: rules 1 and 2 of the ``pty_server``
  docstring).

No selector and no loop here: the server decides when these are called.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from cellfleet.modem.codec import format_line
from cellfleet.modem.command_line import (
    BS,
    CR,
    MAX_LINE_BYTES,
    CommandLineReader,
    LineEvent,
    LineOverflow,
    PayloadEvent,
    RepeatEvent,
    parse_command_line,
    split_args,
)
from cellfleet.modem.errors import AtSyntaxError
from cellfleet.modem.responses import Final, Prompt, ResponseReader, Urc

if TYPE_CHECKING:
    from cellfleet.modem.virtual import VirtualModem

#: Wall seconds after a client's open after which kept URCs are written even if the client has
#: neither flushed its input nor written (a listen-only client such as ``cat``; ``pty_server``
#: rule 2).
ATTACH_GRACE_S = 1.0
#: Bytes one read of a pty master or TCP connection takes at most.
READ_BYTES = 4096
#: Bytes kept per endpoint for a client that holds the port open but does not read; beyond it the
#: oldest unsent output is dropped (a real UART would overrun as well).
MAX_BACKLOG_BYTES = 1 << 20
#: URCs kept per modem while no client is attached; the oldest go first beyond it.
MAX_HELD_URCS = 1000
#: Counted payloads after a prompt: command -> index of its ``<length>`` parameter. Quectel
#: ``AT+QISEND=<id>,<len>`` (BG96 TCP/IP AT Commands Manual §2.2.7, ``> `` then exactly ``len``
#: bytes); u-blox ``AT+USOWR=<s>,<len>`` and ``AT+USOST=<s>,<ip>,<port>,<len>`` (SARA AT Commands
#: Manual, socket write / send-to: ``@`` then exactly ``len`` bytes). Any other prompt (27.005
#: §3.5.1 +CMGS/+CMGW, Quectel ``+QISEND=<id>``) takes text up to Ctrl-Z or ESC.
COUNTED_PAYLOAD_LENGTH_ARG = {"+QISEND": 1, "+USOWR": 1, "+USOST": 3}


class Endpoint:
    """One way to the host: a pty master or a TCP connection, with a non-blocking write backlog."""

    def __init__(self, fd: int, fileobj: object = None) -> None:
        self.fd = fd
        self.fileobj = fileobj if fileobj is not None else fd  # what the selector knows it by
        self.backlog = bytearray()
        self.live = False  # output flows; before that it is held (pty_server doc, rule 2)
        self.live_at_wall: float | None = None  # when to go live at the latest
        self.stream_bytes = 0  # bytes handed to ``write`` so far: positions in the host's stream

    def write(self, data: bytes) -> None:
        self.stream_bytes += len(data)
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


class SessionTracker:
    """Follows one port's conversation to tell the answers of the host's command lines from URCs.

    The server sees both directions. The host's bytes go through a ``CommandLineReader`` of its
    own (V.250 §5.2.1: a line starts with ``AT`` and ends with S3; §5.2.4 ``A/`` repeats the last
    one), and its complete lines are queued in order. Every byte the modem writes goes through a
    ``ResponseReader``, which is told the oldest queued line (``command_sent``) whenever no line
    is pending: at once when the host ends a line while the modem is idle, else right after the
    previous line's final result code (V.250 §5.7.1: each command line gets exactly one, and the
    modem starts the next line only after it). So an answer with a URC's shape (27.007 §7.2
    ``+CREG: 0,1`` to ``AT+CREG?``) is an answer, and a URC keeps being a URC. A prompt
    (27.005 §3.5.1 ``> ``, u-blox ``@``) switches the host side to payload bytes, ended by Ctrl-Z
    or ESC, or counted (``COUNTED_PAYLOAD_LENGTH_ARG``). This is the host driver's own model; a
    URC the modem writes between one line's final result and the next line's echo can be taken
    for that next line's answer when both share a prefix (a real host faces the same ambiguity).
    """

    def __init__(self) -> None:
        self.responses = ResponseReader()
        self.lines = CommandLineReader()
        self._queued: deque[str] = deque(maxlen=MAX_HELD_URCS)

    def host_input(self, data: bytes, *, terminator: int = CR, backspace: int = BS) -> None:
        """Bytes the host wrote (``terminator`` / ``backspace``: the modem's S3 / S5, V.250
        §6.2.1 / §6.2.3)."""
        self.lines.terminator, self.lines.backspace = terminator, backspace
        for event in self.lines.feed(data):
            if isinstance(event, LineEvent | RepeatEvent | LineOverflow) and event.text is not None:
                self._queued.append(event.text)  # an overflowed line is answered too (ERROR)
            elif isinstance(event, PayloadEvent):
                self.responses.payload_sent(event.data)  # echoed with E1 (27.005 §3.5.1)
        self._next_line()

    def host_detached(self) -> None:
        """The client left: its half-typed line is dropped, a pending payload stays pending (as
        ``VirtualModem.host_detached`` does)."""
        if not self.lines.in_payload:
            self.lines = CommandLineReader()

    def output(self, data: bytes) -> list[tuple[int, Urc]]:
        """Parse bytes the modem wrote; the URCs they complete, each with the index in ``data``
        just after its last byte."""
        urcs: list[tuple[int, Urc]] = []
        start = 0
        while start < len(data):  # line by line, so the next line is sent right after a final
            ends = [i for i in (data.find(b"\r", start), data.find(b"\n", start)) if i >= 0]
            stop = min(ends) + 1 if ends else len(data)
            finished = False
            for event in self.responses.feed(data[start:stop]):
                if isinstance(event, Urc) and event.known:
                    urcs.append((stop, event))
                elif isinstance(event, Prompt) and not self.lines.in_payload:
                    self.lines.expect_payload(count=_payload_count(self.responses.pending))
                elif isinstance(event, Final):
                    finished = True
            if finished:
                self._next_line()
            start = stop
        return urcs

    def _next_line(self) -> None:
        if self.responses.pending is None and self._queued:
            self.responses.command_sent(self._queued.popleft())


def _payload_count(line: str | None) -> int | None:
    """The byte count of the payload ``line`` asks for, ``None`` for one ended by Ctrl-Z."""
    body = (line or "").strip()
    try:
        commands = parse_command_line(body[2:]) if body[:2].upper() == "AT" else []
        args = split_args(commands[-1].args) if commands and commands[-1].form == "set" else []
    except AtSyntaxError:
        return None
    index = COUNTED_PAYLOAD_LENGTH_ARG.get(commands[-1].name) if commands else None
    if index is None or index >= len(args) or not (args[index] or "").isdigit():
        return None
    count = int(args[index] or "0")
    return count if 0 < count <= MAX_LINE_BYTES else None


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
        self.tracker = SessionTracker()
        self.held: list[Urc] = []
        #: URCs written to the pty, each with its end position in ``pty.stream_bytes``
        self.sent_urcs: deque[tuple[int, Urc]] = deque(maxlen=MAX_HELD_URCS)
        self.muted = False
        self.reappear_at_wall: float | None = None
        self.due_s: float | None = None
        #: the modem's ``boot_count`` the port has followed so far (a higher one: the module reset)
        self.boot_seen = 0
        #: from a reset until its new pty appears: host input is dropped, the modem's URCs are
        #: kept for the new pty (``pty_faults``)
        self.resetting = False
        #: while the old pty waits for its client to read the reset's answer: hang up by then
        self.hangup_by_wall: float | None = None
        self.drained_polls = 0  # consecutive polls that found the reset's answer read

    @property
    def attached(self) -> bool:
        return (self.pty is not None and self.opens != 0) or self.tcp is not None

    def endpoints(self) -> list[Endpoint]:
        return [e for e in (self.pty, self.tcp) if e is not None]

    def send(self, endpoint: Endpoint, data: bytes, urcs: list[tuple[int, Urc]]) -> None:
        """Write ``data`` to a live endpoint; ``urcs``: the URCs in it (``SessionTracker.output``)."""
        if endpoint is self.pty:
            self.sent_urcs.extend((endpoint.stream_bytes + end, urc) for end, urc in urcs)
        endpoint.write(data)

    def hold(self, urcs: list[tuple[int, Urc]]) -> None:
        """Keep the URCs of output that no client can receive now (rule 1, pty_server doc)."""
        self.held.extend(urc for _end, urc in urcs)
        del self.held[:-MAX_HELD_URCS]

    def keep_unread(self, unread_bytes: int) -> None:
        """The pty's client left with the last ``unread_bytes`` of its stream unread: keep the
        URCs among them (rule 1), those it read are delivered."""
        assert self.pty is not None
        read_to = self.pty.stream_bytes - unread_bytes
        self.hold([(end, urc) for end, urc in self.sent_urcs if end > read_to])
        self.sent_urcs.clear()

    def send_held(self, endpoint: Endpoint) -> None:
        """Write the kept URCs to ``endpoint``, framed for the modem's current ``ATV`` setting,
        and forget them."""
        held, self.held = self.held, []
        verbose = bool(getattr(self.modem.state, "verbose", True))
        data, urcs = bytearray(), []
        for urc in held:
            data += _urc_bytes(urc, verbose)
            urcs.append((len(data), urc))
        if data:
            self.send(endpoint, bytes(data), urcs)

    def output_read(self) -> bool:
        """Whether the client has read everything written to it, on two polls in a row (bytes
        written to a pty master reach the slave's line discipline through a kernel work queue,
        so one empty look can come too early). Counted: the endpoints' backlogs and, while a
        client holds the pty (or attachment is unknown), the slave's input queue (``FIONREAD``
        on the server's own slave fd). Bytes in a TCP socket's kernel buffer still go out after
        ``close``."""
        unread = sum(len(e.backlog) for e in self.endpoints())
        if self.pty is not None and self.slave_fd is not None and self.opens != 0:
            try:
                buf = fcntl.ioctl(self.slave_fd, termios.FIONREAD, struct.pack("i", 0))
                unread += struct.unpack("i", buf)[0]
            except OSError:
                pass
        self.drained_polls = self.drained_polls + 1 if unread == 0 else 0
        return self.drained_polls >= 2

    def forget_held(self) -> None:
        """Drop the kept URCs and what was parsed for them (the port's device vanished)."""
        self.held = []
        self.sent_urcs.clear()
        self.tracker = SessionTracker()


def _urc_bytes(urc: Urc, verbose: bool) -> bytes:
    """A kept URC as the modem frames it (V.250 §5.7.1), with its data line (+CMT PDU, 27.005
    §3.4.1) or counted data (Quectel ``+QIURC: "recv"``) after it."""
    data = b"" if urc.data is None else urc.data + b"\r\n"
    return format_line(urc.text, verbose=verbose) + data
