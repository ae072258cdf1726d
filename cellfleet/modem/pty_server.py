"""Serve virtual modems on real pseudo-terminals (and optionally TCP), many modems in one thread.

Each :class:`~cellfleet.modem.virtual.VirtualModem` gets its own pty (``os.openpty``, slave in raw
mode) and, if asked, a stable symlink to the slave, so unmodified client software opens it like
a USB serial port (reference ``at-commands.md`` §7). One thread runs a ``selectors`` loop
(:mod:`cellfleet.modem.pty_loop`) over the pty masters, the TCP listeners and connections, the
control socket and a wake-up pipe; its timeout is the wall time until the earliest
``modem.next_due_s()``, so an idle server sleeps.
Simulated time is ``start_s + speed * wall seconds since start()``.

pty facts this module is built on (reference §7, §8.21, Linux ``drivers/tty/pty.c``; the
device-level ones are detailed in :mod:`cellfleet.modem.pty_device`):

* With no process holding the slave, the master polls readable and ``read`` fails with EIO:
  the server therefore keeps its own slave fd open, so master reads never EIO-loop.
* Bytes written to the master while no client is attached are buffered in the slave and would
  reach the *next* client (stale echo). So the server counts the slave's opens with inotify
  (``OpenCounter``) and reads the master in packet mode, where a client's open-time
  ``tcflush(TCIFLUSH)`` shows up as ``TIOCPKT_FLUSHREAD``. Without inotify (non-Linux) a pty
  counts as always attached.

Output rule while no client is attached (reference §7 "pending output is flushed or marked when a
client detaches"; chosen here, tested in ``tests/test_pty_server.py``):

1. When the last client detaches, what it left unread (drained from the pty through the server's
   own slave fd, plus the server's unsent backlog) and everything the modem writes until a client
   attaches again is sorted: **URC lines are kept, in order; echo, information lines, final
   result codes, prompts and partial lines are discarded** (they answer commands of a session
   that ended). The sorting is done all along, not at detach: every byte the modem writes goes
   through the port's ``pty_port.SessionTracker``, which also reads the host's bytes and so
   knows which command line each answer belongs to (an answer shaped like a URC, ``+CREG: 0,1``
   to ``AT+CREG?``, is an answer); each URC written to the pty is remembered with its position
   in the stream, and those past what the client read are kept. ``modem.host_detached`` is
   called.
2. When a client attaches, the kept URCs are written to it once, at the first of: its input flush
   (``TIOCPKT_FLUSHREAD``), its first byte written, or ``ATTACH_GRACE_S`` wall seconds after the
   open; so pyserial's open-time flush cannot eat them. From then on output flows live.

So no URC is lost or duplicated across reconnects and no stale echo or response reaches a new
client. Host bytes the modem does not take (``VirtualModem.takes_input``: booting, asleep) are not
given to the tracker. A reset command re-enumerates the pty (reference §8.5; the tracker starts
afresh), and TCP clients are handled, in :mod:`~cellfleet.modem.pty_faults` and
:mod:`~cellfleet.modem.pty_tcp`. What the leaving client wrote last is still run, as its session's
(its answer is discarded). TCP clients (pyserial ``socket://``) attach on connect and go live at
their first byte or after ``ATTACH_GRACE_S`` (pyserial's ``socket://`` open drains the socket).
Limit: a new client that opens the port before the server has seen the previous one close (well
under a millisecond on an idle machine) can be taken for the same session.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cellfleet.modem.command_line import BS, CR
from cellfleet.modem.pty_device import (
    PACKET_MODE,
    OpenCounter,
    open_raw_pty,
    publish_link,
    remove_link,
)
from cellfleet.modem.pty_faults import REBOOT_DOWN_S, REBOOT_HANGUP_WAIT_S, FaultsMixin
from cellfleet.modem.pty_loop import LOOP_CALL_TIMEOUT_S, SelectorLoop
from cellfleet.modem.pty_port import (
    ATTACH_GRACE_S,
    MAX_BACKLOG_BYTES,
    MAX_HELD_URCS,
    READ_BYTES,
    Endpoint,
    Port,
)
from cellfleet.modem.pty_tcp import TcpMixin
from cellfleet.modem.responses import ResponseReader, Urc

if TYPE_CHECKING:
    from cellfleet.modem.virtual import VirtualModem

#: Wall seconds ``stop()`` waits for the loop thread to end.
STOP_JOIN_TIMEOUT_S = 10.0
#: This module's public names; ``ATTACH_GRACE_S`` / ``MAX_BACKLOG_BYTES`` / ``MAX_HELD_URCS`` (from ``pty_port``),
#: ``LOOP_CALL_TIMEOUT_S`` (from ``pty_loop``), ``REBOOT_DOWN_S`` / ``REBOOT_HANGUP_WAIT_S`` (from
#: ``pty_faults``) and ``publish_link`` (from ``pty_device``) are
#: re-exported for code that imports them from here.
__all__ = [
    "ATTACH_GRACE_S",
    "LOOP_CALL_TIMEOUT_S",
    "MAX_BACKLOG_BYTES",
    "MAX_HELD_URCS",
    "REBOOT_DOWN_S",
    "REBOOT_HANGUP_WAIT_S",
    "STOP_JOIN_TIMEOUT_S",
    "ModemServer",
    "publish_link",
]  # fmt: skip


class ModemServer(FaultsMixin, TcpMixin, SelectorLoop):
    """Serves ``modems`` on one pty each (symlinked to ``links`` when given), optionally on TCP.

    ``start()`` runs the loop in a background thread; ``serve_forever()`` in the caller's thread.
    The fault-injection methods (``inject``, ``mute``, ``vanish``, in :mod:`~cellfleet.modem.pty_faults`)
    and ``inject_sms`` may be called from any thread: they run inside the loop and return once
    applied. A modem's reset command re-enumerates its pty (``reboot_hangup``; the new pty
    appears ``reboot_down_s`` wall seconds after the hang-up), as ``pty_faults`` describes.
    """

    def __init__(
        self,
        modems: Sequence[VirtualModem],
        links: Sequence[str | os.PathLike] | None = None,
        *,
        speed: float = 1.0,
        start_s: float = 0.0,
        tcp: tuple[str, int] | None = None,
        control: str | os.PathLike | None = None,
        reboot_hangup: bool = True,
        reboot_down_s: float = REBOOT_DOWN_S,
    ) -> None:
        if not modems:
            raise ValueError("ModemServer needs at least one modem")
        if links is not None and len(links) != len(modems):
            raise ValueError(f"{len(links)} links given for {len(modems)} modems")
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (simulated seconds per wall second), got {speed}")
        if not reboot_down_s >= 0:
            raise ValueError(f"reboot_down_s must be >= 0 (wall seconds), got {reboot_down_s}")
        super().__init__()
        self.modems = list(modems)
        self.speed, self.start_s = float(speed), float(start_s)
        self._ports = [Port(i, m, Path(links[i]) if links else None) for i, m in enumerate(self.modems)]
        self._tcp_request = tcp
        self.reboot_hangup, self.reboot_down_s = bool(reboot_hangup), float(reboot_down_s)
        self.tcp_addresses: list[tuple[str, int]] = []
        if control is None and links:
            control = f"{os.fspath(links[0])}.ctl"
        self.control_path: Path | None = Path(control) if control is not None else None
        self._control = None
        self._counter: OpenCounter | None = None
        self._t0_wall: float | None = None
        self._opened = False

    # ----------------------------------------------------------------------------- public API
    @property
    def paths(self) -> list[str]:
        """The links when given, else the slave device paths (``/dev/pts/N``)."""
        return [str(p.link) if p.link is not None else (p.slave_path or "") for p in self._ports]

    @property
    def slave_paths(self) -> list[str | None]:
        """The current pty slave of each modem (None while vanished)."""
        return [p.slave_path for p in self._ports]

    def now_s(self) -> float:
        """Current simulated time: ``start_s + speed * wall seconds since start()``."""
        if self._t0_wall is None:
            return self.start_s
        return self.start_s + self.speed * (time.monotonic() - self._t0_wall)

    def open(self) -> None:
        """Open the ptys, links, sockets and power the modems on (``start``/``serve_forever`` call
        it when needed); raises OSError / FileExistsError naming what could not be created."""
        if not self._opened:
            self._open()

    def start(self) -> None:
        """Open the ptys, links and sockets, then serve in a background thread."""
        self.open()
        self._thread = threading.Thread(target=self._run, name="cellfleet-modem-server", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``request_stop()`` (signal-handler safe) or ``stop()``."""
        self.open()
        self._run()

    def stop(self) -> None:
        """Stop serving, close the ptys and sockets, remove the links and the control socket."""
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=STOP_JOIN_TIMEOUT_S)
            self._thread = None
        self._close()

    def inject_sms(self, index: int, sender: str, text: str) -> None:
        """Deliver a mobile-terminated SMS to modem ``index`` (it stores it and emits +CMTI/+CMT)."""

        def deliver() -> None:
            port = self._ports[index]
            port.modem.inject_sms(sender, text, self.now_s())
            self._after_modem_call(port)

        self._in_loop(deliver)

    def attached(self, index: int) -> bool:
        """Whether a client currently holds modem ``index``'s pty or TCP connection."""
        return self._ports[index].attached

    # ------------------------------------------------------------------------- setup / teardown
    def _open(self) -> None:
        from cellfleet.modem.control import ControlServer

        sel = self._open_loop()
        self._counter = OpenCounter.create()
        if self._counter is not None:
            sel.register(self._counter.fd, selectors.EVENT_READ, (1, self._on_inotify))
        self._t0_wall = time.monotonic()
        self._opened = True
        try:
            now = self.now_s()
            for port in self._ports:
                self._open_pty(port)
                port.modem.power_on(now)
                port.boot_seen = port.modem.boot_count  # this boot is no reset
                self._after_modem_call(port)
            if self._tcp_request is not None:
                host, first_port = self._tcp_request
                for port in self._ports:
                    self._listen_tcp(port, host, first_port + port.index if first_port else 0)
            if self.control_path is not None:
                self._control = ControlServer(self.control_path, self, [p.link for p in self._ports])
                self._control.register(sel)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        now_s = self.now_s()
        for port in self._ports:
            port.modem.power_off(now_s)  # bills the sockets still open (device session records)
            self._close_pty(port)
            if port.conn is not None:
                port.conn.close()
            if port.listener is not None:
                port.listener.close()
            port.conn = port.tcp = port.listener = None
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._counter is not None:
            self._counter.close()
            self._counter = None
        self._close_loop()

    def _open_pty(self, port: Port) -> None:
        master, port.slave_fd, port.slave_path = open_raw_pty()
        port.pty = Endpoint(master)
        port.opens = 0 if self._counter is not None else -1
        port.pty.live = self._counter is None  # without inotify: always attached
        if self._counter is not None:
            port.watch = self._counter.watch(port.slave_path)
        assert self._sel is not None
        endpoint = port.pty
        self._sel.register(master, selectors.EVENT_READ, (2, lambda mask: self._on_pty(port, endpoint, mask)))
        if port.link is not None:
            publish_link(port.link, port.slave_path)

    def _close_pty(self, port: Port) -> None:
        if port.pty is None:
            return
        if self._sel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(port.pty.fd)
        if port.watch is not None and self._counter is not None:
            self._counter.unwatch(port.watch)
        port.watch = None
        os.close(port.pty.fd)
        if port.slave_fd is not None:
            os.close(port.slave_fd)
        if port.link is not None:
            remove_link(port.link, port.slave_path)
        port.pty, port.slave_fd, port.slave_path, port.opens = None, None, None, 0

    # ------------------------------------------------------------------------------ the loop
    def _timeout_s(self) -> float | None:
        now_s, now_wall = self.now_s(), time.monotonic()
        waits = [(p.due_s - now_s) / self.speed for p in self._ports if p.due_s is not None]
        waits += self._fault_waits(now_wall)
        waits += [e.live_at_wall - now_wall for p in self._ports for e in p.endpoints() if e.live_at_wall is not None]
        return max(0.0, min(waits)) if waits else None

    def _run_timers(self) -> None:
        now_s, now_wall = self.now_s(), time.monotonic()
        for port in self._ports:
            self._run_fault_timers(port, now_wall)
            for endpoint in port.endpoints():
                if endpoint.live_at_wall is not None and endpoint.live_at_wall <= now_wall:
                    self._go_live(port, endpoint)
            if port.due_s is not None and port.due_s <= now_s:
                port.modem.advance(now_s)
                self._after_modem_call(port)

    def _after_modem_call(self, port: Port) -> None:
        """Write what the modem produced (following its resets) and note when it next wants time."""
        self._take_modem_output(port)
        port.due_s = port.modem.next_due_s()

    # ------------------------------------------------------------------ pty and TCP events
    def _on_inotify(self, _mask: int) -> None:
        assert self._counter is not None
        by_watch = {p.watch: p for p in self._ports if p.watch is not None}
        for wd, delta in self._counter.read_changes():
            port = by_watch.get(wd)
            if port is None:
                continue
            before, port.opens = port.opens, max(0, port.opens + delta)
            assert port.pty is not None
            if port.opens and not before:  # attached: output flows after its flush / input / grace
                port.pty.live_at_wall = time.monotonic() + ATTACH_GRACE_S
            elif before and not port.opens:
                port.pty.live, port.pty.live_at_wall = False, None
                self._pty_detached(port)

    def _pty_detached(self, port: Port) -> None:
        """The last client closed the slave: keep the URCs it did not read, drop the rest; then
        run what it wrote last (still in the master) as commands of the session that ended."""
        assert port.pty is not None and port.slave_fd is not None
        unread_bytes = 0
        with contextlib.suppress(OSError):  # a read with nothing queued waits for in-flight bytes
            while chunk := os.read(port.slave_fd, READ_BYTES):
                unread_bytes += len(chunk)
        unread_bytes += len(port.pty.backlog)
        port.pty.backlog.clear()
        if port.tcp is not None:
            return
        port.keep_unread(unread_bytes)
        while self._read_pty(port):
            pass
        port.modem.host_detached(self.now_s())
        port.tracker.host_detached()
        self._after_modem_call(port)

    def _on_pty(self, port: Port, endpoint: Endpoint, mask: int) -> None:
        if port.pty is not endpoint:
            return  # closed by an earlier event of the same batch (vanish)
        if mask & selectors.EVENT_WRITE:
            port.pty.flush_backlog()
            self._update_write_interest(port.pty)
        if mask & selectors.EVENT_READ:
            self._read_pty(port)

    def _read_pty(self, port: Port) -> bool:
        """Handle one read from the master; False when there was nothing to read."""
        assert port.pty is not None
        try:
            data = os.read(port.pty.fd, READ_BYTES)
        except OSError as exc:  # EIO cannot happen while the server holds the slave; be safe anyway
            if exc.errno not in (errno.EIO, errno.EAGAIN):
                raise
            return False
        if not data:
            return False
        if not PACKET_MODE:
            self._receive(port, data)
        elif data[0] == 0:  # TIOCPKT_DATA
            if port.opens and not port.pty.live:
                self._go_live(port, port.pty)
            self._receive(port, data[1:])
        elif data[0] & termios.TIOCPKT_FLUSHREAD and port.opens and not port.pty.live:
            self._go_live(port, port.pty)
        return True

    def _receive(self, port: Port, data: bytes) -> None:
        now = self.now_s()
        port.modem.advance(now)  # what fell due before these bytes is written before them
        self._after_modem_call(port)
        if port.resetting:
            return  # written after a reset's OK: the module is resetting (pty_faults)
        if port.modem.takes_input(now):  # else the modem drops the bytes (booting, asleep, off)
            registers = port.modem.state.settings.s_registers  # S3 / S5: V.250 §6.2.1 / §6.2.3
            port.tracker.host_input(data, terminator=registers.get(3, CR), backspace=registers.get(5, BS))
        port.modem.receive(data, now)
        due = port.modem.next_due_s()
        if due is not None and due <= now:
            port.modem.advance(now)
        self._after_modem_call(port)

    # ----------------------------------------------------------------------------- output
    def _emit(self, port: Port, data: bytes, *, raw: bool = False) -> None:
        """Write ``data`` to the live endpoints, or keep its URCs while none is live. The modem's
        output always goes through the port's tracker (muted too: it stays in step with the
        modem); ``raw`` bytes do not come from the modem and bypass it."""
        urcs = ResponseReader().feed(data) if raw else port.tracker.output(data)
        if raw:
            urcs = [(len(data), e) for e in urcs if isinstance(e, Urc) and e.known]
        if port.muted and not raw:
            return
        if port.resetting:  # the old port is going and the new one not there yet (pty_faults)
            port.hold(urcs)
            return
        live = [e for e in port.endpoints() if e.live]
        for endpoint in live:
            port.send(endpoint, data, urcs)
            self._update_write_interest(endpoint)
        if not live and port.reappear_at_wall is None:  # while vanished, output is lost
            port.hold(urcs)

    def _go_live(self, port: Port, endpoint: Endpoint) -> None:
        """Output flows to ``endpoint`` from now on, starting with the URCs kept for it."""
        endpoint.live, endpoint.live_at_wall = True, None
        port.send_held(endpoint)
        self._update_write_interest(endpoint)

    def _update_write_interest(self, endpoint: Endpoint) -> None:
        if self._sel is None:
            return
        key = self._sel.get_key(endpoint.fileobj)
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if endpoint.backlog else 0)
        if key.events != wanted:
            self._sel.modify(endpoint.fileobj, wanted, key.data)
